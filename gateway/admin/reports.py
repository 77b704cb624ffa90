"""Spam reports over HTTP: ``POST /v1/reports {"reporter", "reported", "text"?}`` and
``GET /v1/reports``. The intake and counts are the core's (``gateway.reports``)."""

from __future__ import annotations

from aiohttp import web

from gateway.admin.http import ApiError, fields, read_json
from gateway.admin.keys import REPORTS

__all__ = ["get_reports", "post_report"]


async def post_report(request: web.Request) -> web.Response:
    body = await read_json(request)
    fields(body, required=("reporter", "reported"), optional=("text",))
    for k in ("reporter", "reported", "text"):
        if body.get(k) is not None and not isinstance(body[k], str):
            raise ApiError(400, f"{k} must be a string")
    try:
        res = request.app[REPORTS].report(body["reporter"], body["reported"], body.get("text"))
    except ValueError as e:
        raise ApiError(400, str(e)) from None
    return web.json_response(res.to_json())


async def get_reports(request: web.Request) -> web.Response:
    return web.json_response(request.app[REPORTS].summary())
