"""``POST /v1/check/sms`` and ``/v1/check/call``: one event in, the verdict out.

Direction defaults as in ``spamgw check``: ``in`` for SMS (A2P to subscribers),
``out`` for calls (a subscriber dialling).

A check is live traffic by default (this is the HTTP adapter: another system asks
about a message it is about to send): it counts in the rules' counters, statistics
and audit log, and a blocked SMS is quarantined. ``"dry_run": true`` in the body (or
``?dry_run=1``) asks what the verdict would be and changes nothing
(``Core.dry_run``); the answer is the same verdict JSON.
"""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING, Any

from aiohttp import web

from gateway.admin.http import ApiError, fields, read_json
from gateway.admin.keys import CORE
from gateway.engine.examples import event_from_fields
from gateway.numbers import NumberMemo

if TYPE_CHECKING:
    from gateway.app import Core
    from gateway.model import Event

__all__ = ["MEMO", "routes"]


MEMO = web.AppKey("number_memo", NumberMemo)

_SMS = ("text", "direction", "route", "src_ton", "dst_ton", "dry_run")
_CALL = ("direction", "route", "phase", "duration", "billsec", "dialstatus", "dry_run")
_YES, _NO = ("1", "true", "yes"), ("", "0", "false", "no")


def _event_fields(body: dict[str, Any], optional: tuple[str, ...]) -> dict[str, Any]:
    fields(body, required=("src", "dst"), optional=optional)
    for k in ("src", "dst"):
        if not isinstance(body[k], str):
            raise ApiError(400, f"{k} must be a string")
    if "text" in body and body["text"] is not None and not isinstance(body["text"], str):
        raise ApiError(400, "text must be a string")
    for k in ("src", "dst", "text", "route"):
        v = body.get(k)
        if isinstance(v, str) and not _encodable(v):
            raise ApiError(400, f"{k} is not valid Unicode (a lone surrogate escape)")
    if body.get("route") is not None and not isinstance(body["route"], str):
        raise ApiError(400, "route must be a string")
    if body.get("direction", "in") not in ("in", "out"):
        raise ApiError(400, "direction must be 'in' or 'out'")
    if body.get("phase", "attempt") not in ("attempt", "ended"):
        raise ApiError(400, "phase must be 'attempt' or 'ended'")
    for k in ("duration", "billsec", "src_ton", "dst_ton"):
        v = body.get(k)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int | float)):
            raise ApiError(400, f"{k} must be a number")
    if not isinstance(body.get("dry_run", False), bool):
        raise ApiError(400, "dry_run must be true or false")
    return body


def _dry(request: web.Request, body: dict[str, Any]) -> bool:
    """``"dry_run": true`` in the body or ``?dry_run=1``."""
    query = request.query.get("dry_run", "").lower()
    if query not in _YES + _NO:
        raise ApiError(400, "dry_run must be 1 or 0 (true or false)")
    return bool(body.get("dry_run")) or query in _YES


def _judge(request: web.Request, body: dict[str, Any], core: Core, ev: Event) -> web.Response:
    verdict = core.dry_run(ev) if _dry(request, body) else core.engine.evaluate(ev)
    return web.Response(body=json.dumps(verdict.to_json()).encode(),
                        content_type="application/json")


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


async def check_sms(request: web.Request) -> web.Response:
    body = _event_fields(await read_json(request), _SMS)
    core = request.app[CORE]
    ev = event_from_fields(body, request.app[MEMO], channel="sms",
                           direction=body.get("direction", "in"))
    return _judge(request, body, core, ev)


async def check_call(request: web.Request) -> web.Response:
    body = _event_fields(await read_json(request), _CALL)
    core = request.app[CORE]
    ev = event_from_fields(body, request.app[MEMO], channel="call",
                           direction=body.get("direction", "out"))
    # the trunk's class ([[agi.trunks]]), as the FastAGI screener gives it
    ev = dataclasses.replace(ev, details={**ev.details,
                                          "trunk_class": core.trunk_class(ev.route)})
    return _judge(request, body, core, ev)


routes = [
    web.post("/v1/check/sms", check_sms),
    web.post("/v1/check/call", check_call),
]
