"""Asyncio FastAGI server: moves bytes between sockets and the sans-IO codec, and
asks the screener what to answer. No policy here.

One connection is one AGI session: Asterisk writes the environment; the server
writes the screener's commands in one go and half-closes (``send_final``: the end
of stream is what lets Asterisk run commands queued behind the first), reads the
answers until Asterisk closes, which ends the AGI application with
AGISTATUS=SUCCESS. Every wait has its own timeout (Asterisk has none), so a peer
that goes silent never holds a connection for long; garbage, a ``HANGUP`` notice
or a ``511`` are counted and end the session quietly.

The decision deadline is enforced by a :class:`Watchdog` thread: before the engine
runs, the screener hands over the fail-open answer; if the engine (a slow plugin, a
lookup) is still running when the deadline comes, the watchdog writes that answer
and the half-close to the socket itself, and the server drops the late verdict
(counted as ``late_answered``). The engine runs on the event loop thread, so only
the watchdog can speak while it is stuck; the two agree through one lock.

A screening that needs a number lookup first (``gateway.lookup``: the screener
returns a ``Pending``) waits for it in a task, by the lookup's own deadline, while
the loop serves other connections; then the engine runs as above.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import socket
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import asdict, dataclass
from functools import partial
from typing import Any, Protocol, cast

import structlog

from gateway.agi.codec import (
    NEED_DATA,
    AgiCommand,
    AgiConnection,
    AgiEnvironment,
    AgiError,
    AgiResponse,
    ConnectionClosed,
    HangupNotice,
)
from gateway.agi.screening import AgiCounters, Evaluator, Pending, Screener
from gateway.agi.spend import SpendLedger
from gateway.config import Config, hostport
from gateway.engine.call_predicates import home_group
from gateway.lists.registry import ListRegistry
from gateway.lookup import StatusLookup, make_lookup
from gateway.model import Direction
from gateway.numbers import Numbering
from gateway.observe import LogLimiter
from gateway.peers import PeerCounts
from gateway.state import Counters

__all__ = ["AgiServer", "FastAgiProtocol", "ServerTimeouts", "Watchdog", "service"]

log = structlog.get_logger("spamgw.agi")

DEFAULT_PORT = 4573


@dataclass(frozen=True, slots=True)
class ServerTimeouts:
    #: from connect to the end of the environment block (Asterisk sends it at once)
    environment: float = 5.0
    #: for each command's answer (Asterisk answers SET VARIABLE at once)
    response: float = 5.0


class Watchdog:
    """Sends the fail-open answer of a screening still running at its deadline.

    The loop thread ``arm``s it before the engine runs (a deadline and the bytes to
    send) and ``disarm``s it after: ``disarm`` says whether the watchdog answered
    meanwhile, so the late verdict is dropped. One screening runs at a time (the
    engine runs on the loop thread), so one slot is enough. The thread wakes every
    ``poll`` seconds; it fires ``lead`` seconds before the deadline so that the
    answer is on the wire by it even when the thread waits for the GIL.
    """

    def __init__(self, deadline: float, *, clock: Callable[[], float] = time.perf_counter
                 ) -> None:
        self.deadline = deadline
        self.clock = clock
        self.poll = max(0.0005, min(0.005, deadline / 20))
        # the GIL may be held by the loop thread for a switch interval before this
        # thread runs: fire early enough for the answer to be out by the deadline
        self.lead = min(deadline * 0.2, self.poll + sys.getswitchinterval() + 0.002)
        self._lock = threading.Lock()
        self._slot: tuple[float, FastAgiProtocol, tuple[AgiCommand, ...]] | None = None
        self._fired = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.fired = 0
        self.failed = 0

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="agi-deadline", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1.0)
            self._thread = None

    def arm(self, started: float, proto: FastAgiProtocol,
            commands: tuple[AgiCommand, ...]) -> None:
        self._slot = (started + self.deadline - self.lead, proto, commands)

    def disarm(self) -> bool:
        """True if the watchdog sent the fail-open answer (the verdict is too late)."""
        with self._lock:  # the usual case: uncontended, no answer sent
            self._slot = None
            fired, self._fired = self._fired, False
        return fired

    def _run(self) -> None:
        while not self._stop.wait(self.poll):
            slot = self._slot
            if slot is None or self.clock() < slot[0]:
                continue
            with self._lock:
                if self._slot is not slot:
                    continue  # disarmed meanwhile: the engine made it
                self._slot = None
                self._fired = True
                try:
                    slot[1].send_from_thread(slot[2])
                    self.fired += 1
                except Exception:  # the socket went away: nothing to answer
                    self.failed += 1


class FastAgiProtocol(asyncio.Protocol):
    __slots__ = (
        "_conn",
        "_lookup",
        "_peer",
        "_server",
        "_timer",
        "_transport",
    )

    def __init__(self, server: AgiServer) -> None:
        self._server = server
        self._conn = AgiConnection()
        self._transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._peer = ""
        #: the screening's number lookup, while it is awaited
        self._lookup: asyncio.Task[None] | None = None

    # -- transport callbacks ------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass
        server = self._server
        peer = self._transport.get_extra_info("peername")
        self._peer = str(peer[0]) if peer else ""
        if server.refuse(self._peer):  # a peer not allowed, or a cap reached
            self._transport.abort()
            self._transport = None
            return
        server.counters.connections += 1
        server.active.add(self)
        self._arm(server.timeouts.environment)

    def data_received(self, data: bytes) -> None:
        try:
            self._conn.receive_data(data)
            self._drain()
        except AgiError as e:
            self._server.counters.protocol_errors += 1
            log.debug("agi protocol error", error=str(e), code=e.code)
            self._close()

    def eof_received(self) -> bool:
        self.data_received(b"")
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self._lookup is not None:
            self._lookup.cancel()
            self._lookup = None
        server = self._server
        if self in server.active:
            server.active.discard(self)
            server.per_ip.remove(self._peer)
        self._transport = None

    # -- session ------------------------------------------------------------------

    def _drain(self) -> None:
        conn = self._conn
        server = self._server
        while self._transport is not None:
            event = conn.next_event()
            if event is NEED_DATA:
                return
            if isinstance(event, AgiEnvironment):
                screener = server.screener
                started = screener.monotonic()
                arm = None if server.watchdog is None else partial(
                    server.watchdog.arm, started, self)
                result = screener.handle(event, started, arm)
                if isinstance(result, Pending):  # a number lookup first
                    self._lookup = server.loop.create_task(self._resume(result, started))
                    return
                if not self._answer(result):
                    return
            elif isinstance(event, AgiResponse):
                if event.dead_channel:
                    server.counters.dead_channel += 1
                    self._close()  # nothing more will work on this channel
                elif conn.pending == 0:
                    self._close()  # every answer is in
            elif isinstance(event, HangupNotice):
                server.counters.hangups += 1
            elif isinstance(event, ConnectionClosed):
                self._close()

    def _answer(self, commands: tuple[AgiCommand, ...]) -> bool:
        """Send a screening's answer and the half-close (nothing if the watchdog
        answered at the deadline meanwhile; empty: just close). False: closed."""
        server = self._server
        assert self._transport is not None
        if server.watchdog is not None and server.watchdog.disarm():
            server.counters.late_answered += 1  # the fail-open answer went out instead
            self._arm(server.timeouts.response)
            return True
        if not commands:
            self._close()
            return False
        self._transport.write(self._conn.send_final(commands))
        self._transport.write_eof()
        self._arm(server.timeouts.response)
        return True

    async def _resume(self, pending: Pending, started: float) -> None:
        """The rest of a screening that waited for a number lookup (by its own
        deadline): the engine, the answer, then whatever arrived meanwhile."""
        status = await pending.wait
        self._lookup = None
        if self._transport is None:  # the peer went away meanwhile
            return
        watchdog = self._server.watchdog
        arm = None if watchdog is None else partial(watchdog.arm, started, self)
        if self._answer(pending.resume(status, arm)):
            self._drain()

    def send_from_thread(self, commands: tuple[AgiCommand, ...]) -> None:
        """The watchdog's answer, written from its own thread while the loop thread
        is busy in the engine: straight to the socket (nothing is buffered in the
        transport before the first answer), then the half-close."""
        transport = self._transport
        if transport is None:
            raise ConnectionError("closed")
        sock = transport.get_extra_info("socket")
        data = self._conn.send_final(commands)
        fd = sock.fileno()
        sent = 0
        deadline = time.monotonic() + 0.05
        while sent < len(data):
            try:
                sent += os.write(fd, data[sent:])
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.0005)
        dup = socket.socket(fileno=os.dup(fd))
        try:
            dup.shutdown(socket.SHUT_WR)
        finally:
            dup.close()

    def _arm(self, delay: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._server.loop.call_later(delay, self._timed_out)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _timed_out(self) -> None:
        self._timer = None
        self._server.counters.timeouts += 1
        log.debug("agi peer silent, closing", state=self._conn.state.value)
        if self._transport is not None:
            self._transport.abort()

    def _close(self) -> None:
        self._disarm()
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()


class AgiServer:
    """Listening socket plus the per-connection protocol factory."""

    def __init__(
        self,
        screener: Screener,
        *,
        timeouts: ServerTimeouts | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
        watchdog: bool = True,
        max_connections: int = 0,
        allowed_peers: Sequence[str] = (),
        max_connections_per_ip: int = 0,
    ) -> None:
        self.screener = screener
        self.counters: AgiCounters = screener.counters
        self.timeouts = timeouts or ServerTimeouts()
        self.loop = loop or asyncio.get_running_loop()
        self.active: set[FastAgiProtocol] = set()
        #: enforces the screener's deadline while the engine runs (None: after the fact),
        #: on the screener's own clock: a screening's start is taken from it
        self.watchdog: Watchdog | None = Watchdog(
            screener.deadline, clock=screener.monotonic) if watchdog else None
        self._server: asyncio.Server | None = None
        #: open connections at most (0: no limit); peer networks allowed (empty: any)
        self.max_connections = max_connections
        self.max_connections_per_ip = max_connections_per_ip
        self.per_ip = PeerCounts()
        self.allowed = tuple(ipaddress.ip_network(a, strict=False) for a in allowed_peers)
        self.refused = 0
        self._quiet = LogLimiter(10.0)

    def refuse(self, host: str) -> bool:
        """True (counted, logged at most every 10 s) for a connection from ``host`` to
        close at once: from a peer outside ``allowed_peers``, or past
        ``max_connections`` or ``max_connections_per_ip``; else it is counted in
        ``per_ip`` until it closes."""
        reason = ""
        if self.max_connections and len(self.active) >= self.max_connections:
            reason = f"max_connections {self.max_connections} reached"
        if not reason and self.allowed:
            try:
                ip = ipaddress.ip_address(host)
            except ValueError:
                reason = f"unparsable peer address {host!r}"
            else:
                if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
                    ip = ip.ipv4_mapped
                if not any(ip in net for net in self.allowed):
                    reason = "peer not in [agi] allowed_peers"
        cap = self.max_connections_per_ip
        if not reason and not self.per_ip.add(host, cap):
            reason = f"max_connections_per_ip {cap} reached"
        if not reason:
            return False
        self.refused += 1
        held = self._quiet.allow(reason)
        if held is not None:
            log.warning("fastagi connection refused", peer=host, reason=reason,
                        suppressed=held)
        return True

    @property
    def sockets(self) -> Sequence[object]:
        return self._server.sockets if self._server is not None else ()

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self, host: str, port: int) -> None:
        if self.watchdog is not None:
            self.watchdog.start()
        self._server = await self.loop.create_server(
            lambda: FastAgiProtocol(self), host, port, reuse_address=True, backlog=1024
        )

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for proto in list(self.active):
            proto.abort()
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None
        if self.watchdog is not None:
            self.watchdog.stop()


class CoreLike(Protocol):
    """What the service needs of ``gateway.app.Core``."""

    @property
    def config(self) -> Config: ...
    @property
    def numbering(self) -> Numbering: ...
    @property
    def engine(self) -> Evaluator: ...
    @property
    def lists(self) -> ListRegistry: ...
    @property
    def state(self) -> Counters: ...


def make_screener(core: CoreLike, lookup: StatusLookup | None = None, **overrides: Any
                  ) -> Screener:
    """The screener a gateway runs: deadline, trunk classes, spend ledger and which
    numbers ``lookup`` is asked about from the config; prices from the live lists (a
    lists reload changes them)."""
    agi = core.config.agi
    asked = agi.lookup
    ledger = SpendLedger(agi.spend, core.state, lambda: core.lists.rates,
                         {t.name: t.daily_cap for t in agi.trunks if t.daily_cap > 0})
    options: dict[str, Any] = {
        "deadline_ms": core.config.gateway.call_deadline_ms,
        "trunk_classes": {t.name: t.trunk_class for t in agi.trunks},
        "default_trunk_class": agi.default_trunk_class,
        "ledger": ledger,
        "lookup": lookup,
        "lookup_directions": [d for d, on in ((Direction.IN, asked.inbound),
                                              (Direction.OUT, asked.outbound)) if on],
        "lookup_regions": home_group(core.numbering.home_region) if asked.home_only else (),
    }
    return Screener(core.numbering, core.engine, **{**options, **overrides})


@contextlib.asynccontextmanager
async def service(core: CoreLike) -> AsyncIterator[AgiServer]:
    """The FastAGI service for ``gateway.app.running``: listens on
    ``config.agi.listen`` on entry, stops on exit."""
    config = core.config
    lookup = make_lookup(config.agi.lookup, core.numbering, redis_url=config.state.redis_url,
                         call_deadline=config.gateway.call_deadline_ms / 1000.0)
    if lookup is not None:
        await lookup.start()
    screener = make_screener(core, lookup)
    server = AgiServer(screener, max_connections=config.agi.max_connections,
                       allowed_peers=config.agi.allowed_peers,
                       max_connections_per_ip=config.agi.max_connections_per_ip)
    host, port = hostport(config.agi.listen)
    await server.start(host, port)
    log.info("fastagi listening", address=f"{host}:{server.port}",
             lookup=config.agi.lookup.backend or None)
    sources = getattr(core, "sources", None)
    ledger = screener.ledger
    watchdog = server.watchdog
    if sources is not None:
        sources["agi"] = lambda: {**asdict(server.counters), "refused": server.refused}
        if ledger is not None:  # spamgw_agi_spend_*: what is up and reserved right now
            sources["agi_spend"] = lambda: {
                "open_calls": len(ledger),
                "reserved": round(ledger.reserved, 2),
                "settled": ledger.settled, "refused": ledger.refused,
                "expired": ledger.expired,
                "watchdog_fired": watchdog.fired if watchdog is not None else 0,
            }
        if lookup is not None:  # spamgw_agi_lookup_*: late answers, errors, cache
            sources["agi_lookup"] = lambda: {**asdict(lookup.counters),
                                             "cache_entries": len(lookup)}
    try:
        yield server
    finally:
        if sources is not None:
            sources.pop("agi", None)
            sources.pop("agi_spend", None)
            sources.pop("agi_lookup", None)
        await server.close()
        if lookup is not None:
            await lookup.close()
