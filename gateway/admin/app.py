"""The admin HTTP application: factory, cleanup contexts, and the ``service``.

``make_app(core)`` builds the aiohttp app; state lives under typed keys
(``gateway.admin.keys``); the quarantine writer, the expiry sweeper and the engine
observer that feeds reports and quarantine are owned by cleanup contexts.
``service(core)`` listens on ``[admin] listen`` (``gateway.app.running``).
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import structlog
from aiohttp import web

from gateway.admin import checks, lists, quarantine, reports, rules, stats
from gateway.admin.http import guard
from gateway.admin.keys import CORE, LIST_LOCK, QUARANTINE, REPORTS, RULES_LOCK
from gateway.admin.openapi import spec
from gateway.admin.quarantine import Quarantine
from gateway.admin.reports import Reports
from gateway.config import bearer_tokens, hostport
from gateway.lists.journal import Entry
from gateway.model import Action, Channel, Event, Verdict
from gateway.numbers import NumberMemo
from gateway.observe import LogLimiter
from gateway.tls import server_context

__all__ = ["make_app", "service"]

log = structlog.get_logger("spamgw.admin")

DASHBOARD = Path(__file__).with_name("dashboard")
SPAWNED: web.AppKey[set[asyncio.Task[Any]]] = web.AppKey("spawned")


def _spawn(app: web.Application, coro: Any) -> None:
    task = asyncio.get_running_loop().create_task(coro)
    app[SPAWNED].add(task)
    task.add_done_callback(app[SPAWNED].discard)


def _observer(app: web.Application) -> Callable[[Event, Verdict], None]:
    """The engine's per-event observer: statistics, then quarantine of blocked SMS,
    then short-code spam reports. A few comparisons on top of ``Stats.record``."""
    core = app[CORE]
    record = core.stats.record
    q = app[QUARANTINE]
    keep = q.add if q is not None else None
    rep = app[REPORTS]
    srs = rep.shortcode_key
    block, sms = Action.BLOCK, Channel.SMS

    def observe(ev: Event, v: Verdict) -> None:
        record(ev, v)
        if ev.channel is sms:
            if keep is not None and v.action is block:
                keep(ev, v)
            if ev.dst.key == srs:
                rep.from_sms(ev)

    return observe


async def _engine_hooks(app: web.Application) -> AsyncIterator[None]:
    core = app[CORE]
    before = core.engine.observer
    core.engine.observer = _observer(app)
    yield
    core.engine.observer = before
    core.engine.shadow = None


async def _quarantine(app: web.Application) -> AsyncIterator[None]:
    q = app[QUARANTINE]
    if q is None:
        yield
        return
    await asyncio.to_thread(q.open)

    async def flush() -> None:
        rows = q.take()
        try:
            await asyncio.to_thread(q.write, rows)
        except sqlite3.Error as e:  # a lock, a full disk: kept for the next round
            q.failed(rows, e)

    async def writer() -> None:
        while True:
            await asyncio.sleep(0.5)
            await flush()

    task = asyncio.get_running_loop().create_task(writer())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await flush()
    await asyncio.to_thread(q.close)


async def _expiry(app: web.Application) -> AsyncIterator[None]:
    changes = app[CORE].changes

    async def sweep() -> None:
        while True:
            await asyncio.sleep(1.0)
            changes.expire(time.time())

    task = asyncio.get_running_loop().create_task(sweep())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    spawned = app[SPAWNED]
    for t in [*spawned]:  # journal writes of reports in flight finish first
        with contextlib.suppress(Exception):
            await t


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
    app = web.Application(middlewares=[guard(bearer_tokens(cfg.admin))],
                          client_max_size=cfg.admin.max_body)
    app[CORE] = core
    app[checks.MEMO] = NumberMemo(core.numbering)
    app[LIST_LOCK] = asyncio.Lock()
    app[RULES_LOCK] = asyncio.Lock()
    spawned: set[asyncio.Task[Any]] = set()
    app[SPAWNED] = spawned
    app[QUARANTINE] = Quarantine(cfg.quarantine) if cfg.quarantine.enabled else None

    def listed(entry: Entry, expires: float) -> None:  # journal an SRS listing
        ttl = max(1.0, expires - time.time())
        _spawn(app, lists.apply_change(app, cfg.reports.listed_list, [entry], [], ttl))

    app[REPORTS] = Reports(core, on_listed=listed)
    app[stats.METRICS] = stats.metrics_registry(app)
    app.cleanup_ctx.extend([_quarantine, _engine_hooks, _expiry])
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
