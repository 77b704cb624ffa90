"""Quarantine over HTTP: search, one message, release (the held message sent to the
SMSC) and release to an allowlist. The store and the release are the core's
(``gateway.quarantine``, ``gateway.services.release``)."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from gateway.admin.http import ApiError, audit, fields, read_json
from gateway.admin.keys import CORE, QUARANTINE
from gateway.quarantine import Quarantine
from gateway.services import apply_change, release

__all__ = ["get_item", "release_allowlist", "release_message", "search"]


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


async def release_message(request: web.Request) -> web.Response:
    """A false positive: send the held message to the SMSC as its ESME sent it,
    through a bound session of the same system_id. 200: the SMSC accepted it (its
    message_id per part); 502: the SMSC refused it or did not answer; 503: no such
    session is bound (nothing was sent; release again once it binds); 409: already
    re-submitted, or its bytes were not kept."""
    body = await read_json(request)
    fields(body, required=(), optional=())
    item = await _item(request)
    if item.get("resubmitted"):
        raise ApiError(409, f"already re-submitted: {item['resubmitted']}")
    done = await release(request.app[CORE], item)
    answer = {"id": item["id"], "outcome": done.outcome, "system_id": done.system_id,
              "parts": [{"command_status": status, "message_id": mid}
                        for status, mid in done.parts]}
    audit(request, "quarantine.release", id=item["id"], outcome=done.outcome,
          system_id=done.system_id, parts=len(done.parts))
    if done.outcome == "not_held":
        raise ApiError(409, f"quarantined message {item['id']} cannot be re-submitted: only "
                            "a submit_sm or data_sm an ESME sent is kept")
    if done.outcome == "no_session":
        raise ApiError(503, f"not re-submitted: no session of system_id {done.system_id!r} "
                            "is bound to the SMSC in this process now (with [gateway] workers:"
                            " the admin API's worker); the message stays held: release it "
                            "again once that ESME binds")
    return web.json_response(answer, status=200 if done.outcome == "resubmitted" else 502)


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
