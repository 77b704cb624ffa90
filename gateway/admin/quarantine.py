"""Quarantine over HTTP: search, one message, and release to an allowlist. The store
is the core's (``gateway.quarantine``)."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from gateway.admin.http import ApiError, audit, fields, read_json
from gateway.admin.keys import CORE, QUARANTINE
from gateway.quarantine import Quarantine
from gateway.services import apply_change

__all__ = ["get_item", "release_allowlist", "search"]


def _store(request: web.Request) -> Quarantine:
    q = request.app[QUARANTINE]
    if q is None:
        raise ApiError(404, "quarantine is disabled ([quarantine] enabled = false)")
    return q


async def search(request: web.Request) -> web.Response:
    store = _store(request)
    qs = request.query
    unknown = set(qs) - {"q", "src", "dst", "rule", "since", "limit", "before_id"}
    if unknown:
        raise ApiError(400, f"unknown parameters: {', '.join(sorted(unknown))}")
    try:
        since = float(qs.get("since", 0))
        limit = min(500, max(1, int(qs.get("limit", 50))))
        before = int(qs.get("before_id", 0))
    except ValueError as e:
        raise ApiError(400, f"since, limit and before_id are numbers: {e}") from None
    rows = await asyncio.to_thread(store.search, q=qs.get("q", ""), src=qs.get("src", ""),
                                   dst=qs.get("dst", ""), rule=qs.get("rule", ""),
                                   since=since, limit=limit, before_id=before)
    return web.json_response({"items": rows, "kept": store.kept, "dropped": store.dropped})


async def _item(request: web.Request) -> dict[str, Any]:
    store = _store(request)
    try:
        qid = int(request.match_info["id"])
    except ValueError:
        raise ApiError(400, "id must be an integer") from None
    row = await asyncio.to_thread(store.get, qid)
    if row is None:
        raise ApiError(404, f"no quarantined message {qid}")
    return row


async def get_item(request: web.Request) -> web.Response:
    return web.json_response(await _item(request))


async def release_allowlist(request: web.Request) -> web.Response:
    """A false positive: put its sender on an allowlist (journaled like any change)."""
    store = _store(request)
    body = await read_json(request)
    fields(body, required=(), optional=("list",))
    item = await _item(request)
    if item.get("released"):
        raise ApiError(409, f"already released: {item['released']}")
    core = request.app[CORE]
    default = "allowed_senders" if item["src_kind"] == "alphanumeric" else "allowed_numbers"
    name = body.get("list", default)
    if not isinstance(name, str) or core.changes.kind(name) not in ("numbers", "sender"):
        raise ApiError(400, f"list must be a number or sender list, got {name!r}")
    entries, errors = core.changes.parse(name, [item["src"]])
    if errors:
        raise ApiError(422, f"sender {item['src']!r} cannot go on {name}: {errors[0]}")
    result = await apply_change(request.app[CORE], name, entries, [], None)
    await asyncio.to_thread(store.mark_released, item["id"], f"{name}:{entries[0].text}")
    audit(request, "quarantine.release_allowlist", id=item["id"], list=name,
          entry=entries[0].text, seq=result["seq"])
    return web.json_response({"id": item["id"], "list": name, "entry": entries[0].text,
                              "change": result})
