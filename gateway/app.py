"""Wiring: build the decision core from a ``Config`` and run the services around it.

``Core`` is what every adapter receives: the normaliser to build ``Event``s, the
engine to judge them, and the lists, counters and statistics behind it. Each
service (SMPP proxy, FastAGI server, admin HTTP) is an async context manager
``service(core)``: entering it starts listening, leaving it drains and stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any

import structlog

from gateway.config import Config
from gateway.content.compiled import content_path
from gateway.engine import Engine, Ruleset
from gateway.engine.loader import load_ruleset
from gateway.engine.plugins import load_plugins
from gateway.engine.schema import RuleErrors
from gateway.lists.journal import ListChanges
from gateway.lists.registry import ListRegistry, load_lists
from gateway.model import Event, Verdict
from gateway.numbers import Numbering
from gateway.observe import Stats, configure_logging
from gateway.preflight import preflight
from gateway.quarantine import Quarantine
from gateway.reports import Reports
from gateway.state import Counters, make_counters, running_state

__all__ = ["Core", "build_core", "run", "settle_heap"]

log = structlog.get_logger("spamgw.app")


@dataclass(slots=True)
class Core:
    config: Config
    numbering: Numbering
    lists: ListRegistry
    state: Counters
    stats: Stats
    engine: Engine
    #: live list changes and their journals (replayed by ``build_core``)
    changes: ListChanges
    #: service counters for /metrics: a running service registers a snapshot function
    #: under its name (``smpp``, ``agi``); exported as ``spamgw_<name>_<counter>``
    sources: dict[str, Callable[[], Mapping[str, float]]] = field(default_factory=dict)
    #: the rules dir reloads read: ``[rules] dir``, or the dir of a promoted shadow
    #: ruleset (so the next SIGHUP or reload keeps what was promoted)
    rules_dir: str = ""
    #: domain services (``gateway.services``): spam reports, the quarantine (None:
    #: ``[quarantine] enabled = false``), one list change at a time
    reports: Reports = field(init=False)
    quarantine: Quarantine | None = None
    list_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    #: ``gateway.services.service`` is running for this core
    serving: bool = False
    #: called with (list name, journal records) after a list change is journaled and
    #: applied here, so other workers and nodes apply it too (``gateway.fanout``)
    on_list_change: Callable[[str, list[dict[str, Any]]], None] | None = None
    #: extra aiohttp middlewares for the admin app (after the token guard): with
    #: several workers, the host-wide statistics and the fan-out of rule reloads
    admin_middlewares: list[Any] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.reports = Reports(self)
        if self.quarantine is None and self.config.quarantine.enabled:
            self.quarantine = Quarantine(self.config.quarantine)

    def trunk_class(self, route: str) -> str:
        """The class of a trunk (``[[agi.trunks]]``), for adapters that build call
        events (the ``trunk_class`` rule predicate reads ``details["trunk_class"]``)."""
        agi = self.config.agi
        for trunk in agi.trunks:
            if trunk.name == route:
                return trunk.trunk_class
        return agi.default_trunk_class

    def build_ruleset(self, directory: str | None = None,
                      lists: ListRegistry | None = None) -> Ruleset:
        """Compile the rules dir against the live lists (or ``lists``, a reload's) and
        counters (call it off the event loop: ``await asyncio.to_thread(...)``)."""
        return load_ruleset(
            directory or self.rules_dir or self.config.rules.dir,
            lists=lists or self.lists,
            state=self.state,
            plugins=self.engine.plugins,
            home_region=self.numbering.home_region,
            missing_symbols=self.config.plugins.missing_symbols,
        )

    def candidate(self, directory: str | None = None) -> Ruleset:
        """A ruleset to reload or promote: ``build_ruleset``, then ``check_examples``
        (so a reload never swaps in rules that contradict their own examples). Off
        the event loop."""
        ruleset = self.build_ruleset(directory)
        self.check_examples(directory)
        return ruleset

    def check_examples(self, directory: str | None = None,
                       lists: ListRegistry | None = None) -> None:
        """Run the rules dir's inline examples with fresh counters and plugins
        (nothing live is touched); raises ``RuleErrors`` naming the failing ones.
        A core without plugins skips them: examples are written for the plugins'
        symbols, which it cannot judge."""
        from gateway.engine.examples import run_examples
        from gateway.state.memory import MemoryCounters

        if not self.engine.plugins:
            return
        d = directory or self.rules_dir or self.config.rules.dir
        lists = lists or self.lists
        plugins = load_plugins(self.config.plugins, lists=lists, state=MemoryCounters(),
                               numbering=self.numbering)
        _count, failures = run_examples(d, lists=lists, numbering=self.numbering,
                                        plugins=plugins,
                                        missing_symbols=self.config.plugins.missing_symbols)
        if failures:
            raise RuleErrors(failures)

    def dry_run(self, ev: Event) -> Verdict:
        """The verdict ``ev`` would get now, changing nothing: the counters answer what
        they would count without counting (``Counters.dry_run``), no flag is set, and
        no observer sees it (statistics, audit log, quarantine, spam reports, a shadow
        ruleset). Synchronous, so nothing else is judged meanwhile."""
        engine = self.engine
        observer, shadow = engine.observer, engine.shadow
        engine.observer = engine.shadow = None
        try:
            with self.state.dry_run():
                return engine.evaluate(ev)
        finally:
            engine.observer, engine.shadow = observer, shadow

    def reload_rules(self) -> Ruleset:
        """Build a new ruleset and swap it in; raises ``RuleErrors`` and leaves the
        running ruleset in place if it is broken."""
        return self.activate(self.build_ruleset())

    def activate(self, ruleset: Ruleset) -> Ruleset:
        """Swap ``ruleset`` in (the previous one goes to ``engine.history``)."""
        self.engine.swap(ruleset)
        self.changes.dynamic.update(ruleset.dynamic)
        return ruleset


def build_core(config: Config, *, with_plugins: bool = True,
               state: Counters | None = None) -> Core:
    """Raises ``ConfigError``-like errors (``ListFileError``, ``RuleErrors``,
    ``PluginError``) that name what is wrong."""
    numbering = Numbering(config.gateway.home_country)
    lists = load_lists(config.lists.dir, numbering, config.gateway.protected_numbers)
    state = state if state is not None else make_counters(config.state)
    stats = Stats(config.log.audit)
    plugins = (
        load_plugins(config.plugins, lists=lists, state=state, numbering=numbering)
        if with_plugins
        else ()
    )
    ruleset = load_ruleset(config.rules.dir, lists=lists, state=state, plugins=plugins,
                           home_region=numbering.home_region,
                           missing_symbols=config.plugins.missing_symbols)
    engine = Engine(
        ruleset,
        emergency=lists.emergency,
        numbering=numbering,
        fail_mode=config.gateway.fail_mode,
        observer=stats.record,
    )
    changes = ListChanges(lists, state, config.lists.dir, dynamic=ruleset.dynamic)
    replayed = changes.replay()
    if replayed:
        log.info("list journals replayed", entries=replayed)
    return Core(config, numbering, lists, state, stats, engine, changes)


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
async def running(core: Core, around: ServiceFactory | None = None) -> AsyncIterator[Core]:
    """Start every enabled service; on exit stop them in reverse order. The counters'
    background work (the redis backend's sync) starts first and stops last; the
    domain services (reports, quarantine, list expiry) run before the adapters, and so
    does ``around`` (a worker's part in a multi-process host: ``gateway.workers``)."""
    from gateway.services import service as domain_service

    async with contextlib.AsyncExitStack() as stack:
        await stack.enter_async_context(running_state(core.state))
        stack.enter_context(_audit_flusher(core))
        await stack.enter_async_context(domain_service(core))
        if around is not None:
            await stack.enter_async_context(around(core))
        for factory in _services(core.config):
            await stack.enter_async_context(factory(core))
        yield core


@contextlib.contextmanager
def _audit_flusher(core: Core, every: float = 0.5) -> Iterator[None]:
    """The audit log is written in batches; this writes out what waits when traffic
    goes quiet, and everything on the way out."""

    async def loop() -> None:
        while True:
            await asyncio.sleep(every)
            core.stats.flush()

    task = asyncio.get_running_loop().create_task(loop(), name="audit-flush")
    try:
        yield
    finally:
        task.cancel()
        core.stats.flush()


#: gen0 threshold while serving (CPython's default is 700): fewer young collections,
#: and so far fewer full ones, which rescan every long-lived object (counter state)
GC_GEN0_THRESHOLD = 10_000


def settle_heap() -> None:
    """After start-up: what was built so far (the core's tables: premium-rate ranges,
    numbering metadata, lists, rulesets; the services and imported modules) lives
    until exit, so ``gc.freeze`` takes it out of every later collection (a full
    collection would otherwise pause the loop for tens of milliseconds while
    messages and calls wait), and the gen0 threshold goes up (``GC_GEN0_THRESHOLD``).

    Measured on the SMPP path (100k varied submit_sm, shipped rules): time in the
    collector went from 8.9 to 1.6 us a message, and the full collections (each a
    65-100 ms pause, 7 per 100k messages) from 7 to none.
    """
    gc.collect()
    gc.freeze()
    _gen0, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GC_GEN0_THRESHOLD, gen1, gen2)


async def serve(config: Config, around: ServiceFactory | None = None) -> None:
    core = build_core(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    async def _reload() -> None:
        from gateway.lists.reload import reload_lists

        try:  # changed list files and the rules, built off the loop, swapped on it
            await reload_lists(core, trigger="SIGHUP")
        except Exception as e:  # broken lists or rules never replace good ones
            log.error("reload refused: the running lists and rules stay", trigger="SIGHUP",
                      error=str(e))

    tasks: set[asyncio.Task[None]] = set()

    def _hup() -> None:
        task = loop.create_task(_reload())
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    loop.add_signal_handler(signal.SIGHUP, _hup)
    try:
        async with running(core, around):
            settle_heap()  # once every service is up: their start-up objects too
            path = content_path()
            log.info("spamgw running", config=config.source, rules=core.engine.ruleset.version,
                     content_path=path)
            if core.engine.ruleset.plugins and path != "compiled":
                log.warning("the compiled content path (gateway/content/_native.c) is not in "
                            "use: the content models and campaign keys are computed in Python, "
                            "several times slower; install with a C compiler to build it",
                            content_path=path)
            await stop.wait()
            log.info("spamgw stopping: draining")
    finally:
        core.stats.close()


def raise_fd_limit(config: Config) -> tuple[int, int]:
    """Raise the soft limit on open files to the hard one (a shell's 1024 is less than
    the connection caps allow: at the limit, accept fails for SMPP, FastAGI and admin
    together); warn when even that is below what the caps can open. Returns (before,
    after)."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not on POSIX
        return (0, 0)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 1 << 20
    if soft != resource.RLIM_INFINITY and soft < want:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    now = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    smpp, agi = config.smpp, config.agi
    admin = config.admin
    need = ((2 * smpp.max_connections if smpp.enabled else 0)
            + (agi.max_connections if agi.enabled else 0)
            + (admin.max_connections if admin.enabled else 0) + 256)
    if now != resource.RLIM_INFINITY and now < need:
        log.warning("open files limit below what the connection caps allow", limit=now,
                    needed=need, hint="raise the hard limit (ulimit -Hn, LimitNOFILE) or "
                    "lower [smpp] / [agi] max_connections")
    return soft, now


def run(config: Config, around: ServiceFactory | None = None,
        loop_factory: Callable[[], Any] | None = None) -> int:
    """Run the gateway in this process; ``around`` and ``loop_factory`` are a
    worker's (``gateway.workers``): its part in the host, and a loop that opens the
    shared listeners with SO_REUSEPORT."""
    preflight(config)  # a ConfigError naming the key, before anything listens
    configure_logging(config.log)
    raise_fd_limit(config)
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a hard dependency off Windows
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            runner.run(serve(config, around))
    else:
        uvloop.run(serve(config, around), loop_factory=loop_factory or uvloop.new_event_loop)
    return 0
