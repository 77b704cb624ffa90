"""The admin API's HTTP conventions: JSON errors with a reason, Bearer auth.

Every error is ``{"error": reason, ...}`` with the right 4xx; unknown paths and
methods, oversize bodies and bad JSON included. Every route but ``/healthz`` and the
dashboard's static files needs ``Authorization: Bearer <[admin] token>``, compared in
constant time.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from gateway.admin.keys import CORE

__all__ = ["ApiError", "audit", "guard", "read_json"]

PUBLIC = frozenset({"/healthz", "/", "/index.html", "/favicon.ico"})
PUBLIC_PREFIX = "/static/"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiError(Exception):
    def __init__(self, status: int, reason: str, **extra: Any) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.extra = extra

    def response(self) -> web.Response:
        return web.json_response({"error": self.reason, **self.extra}, status=self.status)


#: the name of the token a request came with (the audit log's ``who``)
WHO: Any = (web.RequestKey("who", str) if hasattr(web, "RequestKey")
            else "spamgw.who")  # aiohttp before RequestKey: a plain key
#: what the ``operator`` role may POST besides reading (the ``admin`` role: anything)
OPERATOR_PATHS = ("/v1/check/", "/v1/lists/", "/v1/reports", "/v1/quarantine/")


def allowed(role: str, method: str, path: str) -> bool:
    """May ``role`` call ``method path``: read GETs, operator also changes lists,
    checks, reports and releases; admin anything (rules)."""
    if role == "admin" or method in ("GET", "HEAD", "OPTIONS"):
        return True
    return role == "operator" and path.startswith(OPERATOR_PATHS)


def guard(tokens: str | dict[str, tuple[str, str]]) -> Any:
    """Middleware: auth first (so unknown paths do not leak), then the role, then
    JSON errors. ``tokens``: token -> (name, role); a plain string is the one
    ``admin`` token. No token, no access."""
    if isinstance(tokens, str):
        tokens = {tokens: ("admin", "admin")} if tokens else {}
    expected = [(f"Bearer {t}".encode(), who) for t, who in tokens.items() if t]

    def identify(header: bytes) -> tuple[str, str] | None:
        found = None
        for want, who in expected:  # every one compared: no early exit to time
            if hmac.compare_digest(header, want):
                found = who
        return found

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        path = request.path
        if path not in PUBLIC and not path.startswith(PUBLIC_PREFIX):
            try:
                got = request.headers.get("Authorization", "").encode()
            except UnicodeError:  # undecodable bytes in the header: not our token
                got = b""
            who = identify(got)
            if who is None:
                return web.json_response(
                    {"error": "missing or wrong bearer token"}, status=401,
                    headers={"WWW-Authenticate": 'Bearer realm="spamgw"'})
            if not allowed(who[1], request.method, path):
                return web.json_response(
                    {"error": f"token {who[0]!r} has the {who[1]} role: "
                              f"{request.method} {path} needs "
                              f"{'operator' if path.startswith(OPERATOR_PATHS) else 'admin'}"},
                    status=403)
            request[WHO] = who[0]
        try:
            return await handler(request)
        except ApiError as e:
            return e.response()
        except web.HTTPException as e:
            if e.status < 400 or e.content_type == "application/json":
                raise
            return web.json_response({"error": e.reason}, status=e.status,
                                     headers={k: v for k, v in e.headers.items()
                                              if k == "Allow"})

    return middleware


async def read_json(request: web.Request) -> dict[str, Any]:
    """The body as a JSON object; 400/413 with a reason otherwise."""
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise ApiError(413, "request body over [admin] max_body bytes: stream bulk imports "
                            "to /v1/lists/{name}/import") from None
    if not raw:
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise ApiError(400, f"body is not JSON: {e}") from None
    except RecursionError:
        raise ApiError(400, "body is not JSON this gateway reads: nested too deep") from None
    if not isinstance(body, dict):
        raise ApiError(400, "body must be a JSON object")
    return body


def fields(body: dict[str, Any], *, required: tuple[str, ...], optional: tuple[str, ...] = ()
           ) -> None:
    """400 naming missing and unknown fields."""
    missing = [k for k in required if body.get(k) in (None, "")]
    unknown = sorted(set(body) - set(required) - set(optional))
    if missing or unknown:
        parts = []
        if missing:
            parts.append("missing " + ", ".join(missing))
        if unknown:
            parts.append("unknown " + ", ".join(unknown))
        raise ApiError(400, "fields: " + "; ".join(parts))


def audit(request: web.Request, action: str, **facts: Any) -> None:
    """An admin action as an audit log line: who (the bearer of the admin token, from
    which address), what, and the versions or entries it changed."""
    name = request.get(WHO, "-")
    request.app[CORE].stats.audit.info("admin", action=action,
                                       who=f"{name}@{request.remote or '-'}", **facts)
