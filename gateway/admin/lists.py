"""List management over HTTP: inspect, look up, change, bulk import, compact.

A change is validated whole (one bad entry: 400 naming it, nothing applied), written
to the list's journal and fsynced off the event loop, then applied in place on the
loop: the 200 comes after the fsync and the change is live when it arrives. The
journal and compaction rules are in ``gateway.lists.journal``.

Bulk import (``POST /v1/lists/{name}/import``, one entry a line as in list files,
any size, chunked or not) streams the body, parses and applies it on the event loop
in slices of a millisecond or two that yield between them and journals it; past
``[lists] compact_after`` entries the journal is compacted in the background by a
child process, so traffic keeps flowing and the answer does not wait for it.

``POST /v1/lists/reload`` (and SIGHUP) reloads the changed list files and the rules
with them (``gateway.lists.reload``).
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

from aiohttp import web

from gateway.admin.http import ApiError, audit, fields, read_json
from gateway.admin.keys import CORE, LIST_LOCK
from gateway.lists.journal import Entry, ListChanges, gc_paused, sliced
from gateway.lists.numberset import NumberSet
from gateway.lists.registry import BUILTIN
from gateway.lists.stringset import StringSet
from gateway.numbers import number_of_key
from gateway.services import apply_change

__all__ = ["routes"]

#: control characters (and the Unicode line separators) in an entry: "EVIL\nPAYPAL"
#: would be two entries once the list is compacted to its file, one a line
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
MAX_TTL = 10 * 366 * 86400.0
PARSE_BATCH = 10000
#: entries of a finished import freed between two yields to the event loop
FREE_BATCH = 5000
SHOW_ERRORS = 50
#: entries of an expiring list that GET /v1/lists shows, the newest first
SHOW_FLAGS = 200


def _changes(request: web.Request, name: str, *, edit: bool = False) -> ListChanges:
    changes = request.app[CORE].changes
    if changes.kind(name) is None:
        raise ApiError(404, f"no list named {name!r}")
    if edit and name in BUILTIN:
        raise ApiError(409, f"{name!r} is built in (generated from metadata): it cannot be "
                            "edited; add entries to an allow or block list instead")
    return changes


def _ttl(value: Any, dynamic: bool, default: float) -> float | None:
    if value is None:
        return default if dynamic else None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= MAX_TTL:
        raise ApiError(400, f"ttl must be seconds between 1 and {MAX_TTL:.0f}, got {value!r}")
    return float(value)


def _describe(changes: ListChanges, name: str, now: float) -> dict[str, Any]:
    lst = changes.lists.get(name)
    j = changes.journals.get(name)
    out: dict[str, Any] = {"name": name, "kind": changes.kind(name),
                           "editable": name not in BUILTIN,
                           "journal": {"records": j.records, "entries": j.entries}
                           if j is not None else {"records": 0, "entries": 0}}
    if isinstance(lst, NumberSet):
        out.update(exact=lst.exact_count(), prefixes=len(lst.prefixes),
                   bytes=lst.size_in_bytes(), expiring=len(changes.expiring.get(name, ())))
    elif isinstance(lst, StringSet):
        out.update(entries=len(lst), expiring=len(changes.expiring.get(name, ())))
    else:  # an expiring list: its live entries (the newest first) and their expiry
        flags = changes.state.flags(name, now)
        out.update(entries=len(flags), flags=[
            {"entry": number_of_key(k) if isinstance(k, int) else str(k), "expires": e}
            for k, e in sorted(flags.items(), key=lambda kv: -kv[1])[:SHOW_FLAGS]])
    return out


async def _parse(changes: ListChanges, name: str, texts: list[Any]
                 ) -> tuple[list[Entry], list[str]]:
    """``changes.parse`` on the event loop, in slices that yield between them."""
    entries: list[Entry] = []
    errors: list[str] = []
    async for part in sliced(texts):
        good, bad = changes.parse(name, part)
        entries.extend(good)
        errors.extend(bad)
    return entries, errors


async def get_lists(request: web.Request) -> web.Response:
    changes = request.app[CORE].changes
    now = time.time()
    names = sorted({n for n, _ in changes.lists.items()} | changes.dynamic)
    return web.json_response({"lists": [_describe(changes, n, now) for n in names]})


async def lookup(request: web.Request) -> web.Response:
    name, raw = request.match_info["name"], request.match_info["entry"]
    changes = _changes(request, name)
    core = request.app[CORE]
    lst = changes.lists.get(name)
    now = time.time()
    out: dict[str, Any] = {"list": name, "query": raw, "listed": False}
    if isinstance(lst, NumberSet) or lst is None:
        n = core.numbering.from_caller_id(raw)
        if lst is None and n.key == 0:
            n = core.numbering.alphanumeric(raw)
        ident = n.key or n.text
        out["number"] = str(n)
        if isinstance(lst, NumberSet):
            m = lst.match(n.key) if n.key else None
            if m is not None:
                expiring = changes.expiring.get(name, {})
                when = next((w for w, e in expiring.values() if e.text == m.entry), None)
                out.update(listed=True, entry=m.entry, match="prefix" if m.prefix else "exact",
                           expires=when)
        elif ident:
            expires = changes.state.flags(name, now).get(ident)
            if expires is not None:
                out.update(listed=True, entry=str(n), match="exact", expires=expires)
    else:
        hit = lst.match(raw.strip())
        if hit is not None:
            exp = changes.expiring.get(name, {}).get(hit)
            out.update(listed=True, entry=hit,
                       match="exact" if hit == raw.strip().casefold() else "parent domain",
                       expires=exp[0] if exp else None)
    return web.json_response(out)


async def change(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    changes = _changes(request, name, edit=True)
    body = await read_json(request)
    fields(body, required=(), optional=("add", "remove", "ttl"))
    add_raw, remove_raw = body.get("add", []), body.get("remove", [])
    if not isinstance(add_raw, list) or not isinstance(remove_raw, list):
        raise ApiError(400, "add and remove must be arrays of entries")
    if not add_raw and not remove_raw:
        raise ApiError(400, "nothing to change: give add and/or remove")
    dynamic = changes.kind(name) == "dynamic"
    ttl = _ttl(body.get("ttl"), dynamic, request.app[CORE].config.reports.list_ttl)
    # the request's ttl, not a dynamic list's default: a removal alone has none
    if body.get("ttl") is not None and not add_raw:
        raise ApiError(400, "ttl applies to added entries")
    bad = [f"{e!r}: control characters are not allowed in an entry"
           for e in (*add_raw, *remove_raw) if isinstance(e, str) and _CONTROL.search(e)]
    if bad:
        raise ApiError(400, "bad entries: nothing was applied", entries=bad[:SHOW_ERRORS],
                       count=len(bad))
    add, bad_add = await _parse(changes, name, add_raw)
    remove, bad_rm = await _parse(changes, name, remove_raw)
    if bad_add or bad_rm:
        raise ApiError(400, "bad entries: nothing was applied",
                       entries=(bad_add + bad_rm)[:SHOW_ERRORS], count=len(bad_add + bad_rm))
    result = await apply_change(request.app[CORE], name, add, remove, ttl)
    audit(request, "lists.change", list=name, add=[e.text for e in add[:SHOW_ERRORS]],
          remove=[e.text for e in remove[:SHOW_ERRORS]], added=result["added"],
          removed=result["removed"], ttl=ttl, seq=result["seq"])
    return web.json_response(result)


async def bulk_import(request: web.Request) -> web.Response:
    with gc_paused():  # the entries are freed by reference counting when it is done
        return await _bulk_import(request)


async def _bulk_import(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    changes = _changes(request, name, edit=True)
    mode = request.query.get("mode", "add")
    if mode not in ("add", "remove"):
        raise ApiError(400, "mode must be add or remove")
    ttl_q = request.query.get("ttl")
    try:
        ttl_v = float(ttl_q) if ttl_q is not None else None
    except ValueError:
        raise ApiError(400, f"ttl must be seconds, got {ttl_q!r}") from None
    dynamic = changes.kind(name) == "dynamic"
    ttl = _ttl(ttl_v, dynamic and mode == "add", request.app[CORE].config.reports.list_ttl)
    entries: list[Entry] = []
    errors: list[str] = []
    bad = 0
    lineno = 0
    pending: list[tuple[int, str]] = []
    tail = b""

    async def flush() -> None:
        """Parse what waits on the event loop, in slices of about a millisecond."""
        nonlocal bad
        batch = pending[:]
        pending.clear()
        async for part in sliced(batch):
            for n, text in part:
                if _CONTROL.search(text):
                    err = [f"{text!r}: control characters are not allowed"]
                else:
                    good, err = changes.parse(name, [text])
                    entries.extend(good)
                if err:
                    bad += 1
                    if len(errors) < SHOW_ERRORS:
                        errors.append(f"line {n}: {err[0]}")

    async for chunk in request.content.iter_chunked(1 << 16):
        lines = (tail + chunk).split(b"\n")
        tail = lines.pop()
        for line in lines:
            lineno += 1
            text = line.decode("utf-8", "replace").split("#", 1)[0].strip()
            if text:
                pending.append((lineno, text))
        if len(pending) >= PARSE_BATCH:
            await flush()
        await asyncio.sleep(0)  # a body already buffered is read without a pause
    if tail.strip():
        lineno += 1
        text = tail.decode("utf-8", "replace").split("#", 1)[0].strip()
        if text:
            pending.append((lineno, text))
    if pending:
        await flush()
    if bad:
        raise ApiError(400, "bad entries: nothing was applied", entries=errors, count=bad)
    if not entries:
        raise ApiError(400, "no entries in the body (one entry a line)")
    add, remove = (entries, []) if mode == "add" else ([], entries)
    result = await apply_change(request.app[CORE], name, add, remove, ttl)
    result["lines"] = lineno
    audit(request, "lists.import", list=name, mode=mode, entries=len(entries),
          added=result["added"], removed=result["removed"], ttl=ttl, seq=result["seq"])
    # a journal past [lists] compact_after is compacted in the background by a child
    # process (``gateway.services.apply_change``): the answer does not wait for it
    del add, remove
    while entries:  # freed a slice at a time: 100k at once hold the loop ~20 ms
        del entries[-FREE_BATCH:]
        await asyncio.sleep(0)
    return web.json_response(result)


async def compact(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    changes = _changes(request, name, edit=True)
    result = await changes.compact(name, request.app[LIST_LOCK])
    audit(request, "lists.compact", list=name)
    return web.json_response(result)


async def reload(request: web.Request) -> web.Response:
    """Reload the changed list files and the rules with them, as one version: 422 with
    every bad line (``file:line: reason``) or rule error, and the running lists and
    rules stay."""
    from gateway.lists.reload import ReloadRefused, reload_lists

    try:
        result = await reload_lists(request.app[CORE], trigger="admin")
    except ReloadRefused as e:
        audit(request, "lists.reload", refused=True, errors=len(e.errors))
        raise ApiError(422, "reload refused: the running lists and rules stay",
                       errors=e.errors[:SHOW_ERRORS], count=len(e.errors)) from None
    audit(request, "lists.reload", changed=result["changed"], rules=result["rules"])
    return web.json_response(result)


routes = [
    web.post("/v1/lists/reload", reload),
    web.get("/v1/lists", get_lists),
    web.get("/v1/lists/{name}/{entry}", lookup),
    web.post("/v1/lists/{name}", change),
    web.post("/v1/lists/{name}/import", bulk_import),
    web.post("/v1/lists/{name}/compact", compact),
]
