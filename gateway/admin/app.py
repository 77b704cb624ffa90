"""The admin HTTP application: factory, cleanup contexts, and the ``service``.

``make_app(core)`` builds the aiohttp app; state lives under typed keys
(``gateway.admin.keys``). Reports, quarantine and list changes are the core's
(``gateway.services``): the app serves them over HTTP and nothing else.
``service(core)`` listens on ``[admin] listen`` (``gateway.app.running``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import structlog
from aiohttp import web

from gateway import services
from gateway.admin import checks, lists, quarantine, reports, rules, stats
from gateway.admin.http import guard
from gateway.admin.keys import CORE, LIST_LOCK, QUARANTINE, REPORTS, RULES_LOCK
from gateway.admin.openapi import spec
from gateway.config import bearer_tokens, hostport
from gateway.numbers import NumberMemo
from gateway.observe import LogLimiter
from gateway.tls import server_context

__all__ = ["make_app", "service"]

log = structlog.get_logger("spamgw.admin")

DASHBOARD = Path(__file__).with_name("dashboard")


async def _domain(app: web.Application) -> AsyncIterator[None]:
    """The core's domain services (``gateway.services``), when nothing runs them
    already (an app made and served on its own, as tests do); the shadow ruleset
    (an admin feature) ends with the app."""
    core = app[CORE]
    async with contextlib.AsyncExitStack() as stack:
        if not core.serving:
            await stack.enter_async_context(services.service(core))
        yield
        core.engine.shadow = None


async def healthz(request: web.Request) -> web.Response:
    core = request.app[CORE]
    return web.json_response({"status": "ok", "rules": core.engine.ruleset.version})


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(spec())


async def index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(DASHBOARD / "index.html")


def make_app(core: Any) -> web.Application:
    """The admin app for ``core`` (a ``gateway.app.Core``)."""
    cfg = core.config
    app = web.Application(middlewares=[guard(bearer_tokens(cfg.admin)),
                                       *getattr(core, "admin_middlewares", ())],
                          client_max_size=cfg.admin.max_body)
    app[CORE] = core
    app[checks.MEMO] = NumberMemo(core.numbering)
    app[LIST_LOCK] = core.list_lock
    app[RULES_LOCK] = asyncio.Lock()
    app[QUARANTINE] = core.quarantine
    app[REPORTS] = core.reports
    app[stats.METRICS] = stats.metrics_registry(app)
    app.cleanup_ctx.append(_domain)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/", index)
    app.router.add_static("/static/", DASHBOARD, show_index=False)
    app.router.add_get("/openapi.json", openapi)
    app.router.add_routes(checks.routes)
    app.router.add_routes(rules.routes)
    app.router.add_routes(lists.routes)
    app.router.add_routes(stats.routes)
    app.router.add_routes([
        web.post("/v1/reports", reports.post_report),
        web.get("/v1/reports", reports.get_reports),
        web.get("/v1/quarantine", quarantine.search),
        web.get("/v1/quarantine/{id}", quarantine.get_item),
        web.post("/v1/quarantine/{id}/release", quarantine.release_message),
        web.post("/v1/quarantine/{id}/release-allowlist", quarantine.release_allowlist),
    ])
    return app


@contextlib.asynccontextmanager
async def service(core: Any) -> AsyncIterator[web.Application]:
    """``gateway.app`` service: serve the admin app on ``[admin] listen``."""
    app = make_app(core)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    host, port = hostport(core.config.admin.listen)
    handler = runner.server
    assert handler is not None
    cap = core.config.admin.max_connections
    quiet = LogLimiter(10.0)
    refused = 0

    def protocol() -> asyncio.BaseProtocol:
        """aiohttp's protocol, or past ``[admin] max_connections`` one that closes."""
        nonlocal refused
        if cap and len(handler.connections) >= cap:
            refused += 1
            held = quiet.allow("refused")
            if held is not None:
                log.warning("admin connection refused", reason=f"max_connections {cap} "
                            "reached", suppressed=held)
            return _Refuse()
        return handler()

    tls = server_context(core.config.admin.tls_cert, core.config.admin.tls_key, "admin")
    server = await asyncio.get_running_loop().create_server(protocol, host, port,
                                                            reuse_address=True, ssl=tls)
    bound = server.sockets[0].getsockname()
    log.info("admin listening", listen=f"{bound[0]}:{bound[1]}", port=bound[1],
             tls=tls is not None)
    sources = getattr(core, "sources", None)
    if sources is not None:
        sources["admin"] = lambda: {"connections": len(handler.connections),
                                    "refused": refused}
    try:
        yield app
    finally:
        if sources is not None:
            sources.pop("admin", None)
        server.close()
        await runner.cleanup()


class _Refuse(asyncio.Protocol):
    """A connection over the admin cap: closed before a byte is read."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.abort()  # type: ignore[attr-defined]
