"""``POST /v1/check/sms`` and ``/v1/check/call``: one event in, the verdict out.

Direction defaults as in ``spamgw check``: ``in`` for SMS (A2P to subscribers),
``out`` for calls (a subscriber dialling).
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from aiohttp import web

from gateway.admin.http import ApiError, fields, read_json
from gateway.admin.keys import CORE
from gateway.engine.examples import event_from_fields
from gateway.numbers import NumberMemo

__all__ = ["MEMO", "routes"]


MEMO = web.AppKey("number_memo", NumberMemo)

_SMS = ("text", "direction", "route", "src_ton", "dst_ton")
_CALL = ("direction", "route", "phase", "duration", "billsec", "dialstatus")


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
    return body


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
    return _verdict(core.engine.evaluate(ev).to_json())


async def check_call(request: web.Request) -> web.Response:
    body = _event_fields(await read_json(request), _CALL)
    core = request.app[CORE]
    ev = event_from_fields(body, request.app[MEMO], channel="call",
                           direction=body.get("direction", "out"))
    # the trunk's class ([[agi.trunks]]), as the FastAGI screener gives it
    ev = dataclasses.replace(ev, details={**ev.details,
                                          "trunk_class": core.trunk_class(ev.route)})
    return _verdict(core.engine.evaluate(ev).to_json())


def _verdict(data: dict[str, Any]) -> web.Response:
    return web.Response(body=json.dumps(data).encode(), content_type="application/json")


routes = [
    web.post("/v1/check/sms", check_sms),
    web.post("/v1/check/call", check_call),
]
