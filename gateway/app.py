"""Wiring: build the decision core from a ``Config`` and run the services around it.

``Core`` is what every adapter receives: the normaliser to build ``Event``s, the
engine to judge them, and the lists, counters and statistics behind it. Each
service (SMPP proxy, FastAGI server, admin HTTP) is an async context manager
``service(core)``: entering it starts listening, leaving it drains and stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

import structlog

from gateway.config import Config
from gateway.engine import Engine, Ruleset
from gateway.engine.loader import load_ruleset
from gateway.engine.plugins import load_plugins
from gateway.lists.registry import ListRegistry, load_lists
from gateway.numbers import Numbering
from gateway.observe import Stats, configure_logging
from gateway.state import Counters, make_counters, running_state

__all__ = ["Core", "build_core", "run"]

log = structlog.get_logger("spamgw.app")


@dataclass(slots=True)
class Core:
    config: Config
    numbering: Numbering
    lists: ListRegistry
    state: Counters
    stats: Stats
    engine: Engine

    def build_ruleset(self, directory: str | None = None) -> Ruleset:
        """Compile the rules dir against the live lists and counters (call it off the
        event loop: ``await asyncio.to_thread(core.build_ruleset)``)."""
        return load_ruleset(
            directory or self.config.rules.dir,
            lists=self.lists,
            state=self.state,
            plugins=self.engine.plugins,
            home_region=self.numbering.home_region,
        )

    def reload_rules(self) -> Ruleset:
        """Build a new ruleset and swap it in; raises ``RuleErrors`` and leaves the
        running ruleset in place if it is broken."""
        ruleset = self.build_ruleset()
        self.engine.swap(ruleset)
        return ruleset


def build_core(config: Config, *, with_plugins: bool = True,
               state: Counters | None = None) -> Core:
    """Raises ``ConfigError``-like errors (``ListFileError``, ``RuleErrors``,
    ``PluginError``) that name what is wrong."""
    numbering = Numbering(config.gateway.home_country)
    lists = load_lists(config.lists.dir, numbering, config.gateway.protected_numbers)
    state = state if state is not None else make_counters(config.state)
    stats = Stats()
    plugins = (
        load_plugins(config.plugins, lists=lists, state=state, numbering=numbering)
        if with_plugins
        else ()
    )
    ruleset = load_ruleset(config.rules.dir, lists=lists, state=state, plugins=plugins,
                           home_region=numbering.home_region)
    engine = Engine(
        ruleset,
        emergency=lists.emergency,
        numbering=numbering,
        fail_mode=config.gateway.fail_mode,
        observer=stats.record,
    )
    return Core(config, numbering, lists, state, stats, engine)


ServiceFactory = Callable[[Core], AbstractAsyncContextManager[object]]


def _services(config: Config) -> list[ServiceFactory]:
    found: list[ServiceFactory] = []
    if config.admin.enabled:
        with contextlib.suppress(ImportError):
            from gateway.admin.app import service as admin_service

            found.append(admin_service)
    if config.smpp.enabled:
        with contextlib.suppress(ImportError):
            from gateway.smpp.proxy import service as smpp_service

            found.append(smpp_service)
    if config.agi.enabled:
        with contextlib.suppress(ImportError):
            from gateway.agi.server import service as agi_service

            found.append(agi_service)
    return found


@contextlib.asynccontextmanager
async def running(core: Core) -> AsyncIterator[Core]:
    """Start every enabled service; on exit stop them in reverse order. The counters'
    background work (the redis backend's sync) starts first and stops last."""
    async with contextlib.AsyncExitStack() as stack:
        await stack.enter_async_context(running_state(core.state))
        for factory in _services(core.config):
            await stack.enter_async_context(factory(core))
        yield core


async def serve(config: Config) -> None:
    core = build_core(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    def _hup() -> None:
        try:
            core.reload_rules()
            log.info("rules reloaded", trigger="SIGHUP", version=core.engine.ruleset.version)
        except Exception as e:  # a broken ruleset never replaces a good one
            log.error("rules reload refused", trigger="SIGHUP", error=str(e))

    loop.add_signal_handler(signal.SIGHUP, _hup)
    async with running(core):
        log.info("spamgw running", config=config.source, rules=core.engine.ruleset.version)
        await stop.wait()
        log.info("spamgw stopping: draining")


def run(config: Config) -> int:
    configure_logging(config.log)
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a hard dependency off Windows
        asyncio.run(serve(config))
    else:
        uvloop.run(serve(config))
    return 0
