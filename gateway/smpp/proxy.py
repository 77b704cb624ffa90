"""The SMPP proxy: the asyncio shell around the sans-IO relay (``gateway.smpp.relay``),
between ESMEs (downstream) and the SMSC (upstream).

Transparent mode: every downstream bind opens its own upstream connection and passes
the bind on as received; the SMSC's bind_resp goes back as is, and the two legs live
and die together. The upstream connection goes to the next healthy SMSC of
``[smpp.upstream] address`` (one SMSC or a pool, ``gateway.smpp.upstreams``): a
connect that fails marks its SMSC down and the bind tries the next; a down SMSC is
probed (a TCP connect every ``health_interval``) until it answers. Per ESME
connection a ``Connection`` owns one ``Relay``, its two sockets and one timer (as
aioquic's ``asyncio/protocol.py`` owns a ``QuicConnection``): it feeds the relay
what the sockets receive and the loop's ``now``, carries out the relay's actions
(send, pause or resume reading, close, connect upstream) and re-arms the timer at
``relay.next_deadline()``. Everything the SMPP side decides (routing, window,
timeouts, concatenation, verdicts carried out) is in the relay; this module only
moves bytes, keeps the connection caps and asks the engine.

Spam reports (an SMS to 7726, MO or submit_sm) are judged and forwarded like any
other message; the core's observer picks them up from the engine.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import AsyncIterator
from dataclasses import asdict
from typing import Any, cast

import structlog

from gateway.config import SmppConfig, hostport
from gateway.model import Direction, Verdict
from gateway.numbers import Numbering, NumberMemo
from gateway.observe import LogLimiter
from gateway.peers import PeerCounts
from gateway.smpp.actions import (
    DOWN,
    Close,
    ConnectUpstream,
    PauseReading,
    Resubmitted,
    ResumeReading,
    Send,
)
from gateway.smpp.counters import ProxyCounters
from gateway.smpp.limits import ClientLimits
from gateway.smpp.pdu import DestAddress
from gateway.smpp.relay import Relay, Shared
from gateway.smpp.translate import Judge, MessagePdu, build_event
from gateway.smpp.upstreams import Pool, Upstream
from gateway.tls import client_context, server_context

__all__ = ["WRITE_BUFFER", "Connection", "Proxy", "ProxyCounters", "service"]

log = structlog.get_logger("spamgw.smpp")

#: bytes a socket may queue before its peer stops being read (the transport's default,
#: 64 KiB, is less than one flush of a 512-PDU window: every batch would pause the
#: other side)
WRITE_BUFFER = 1 << 20
#: the timer never fires sooner than this after the last time it fired
_MIN_TIMER = 0.001


class _Leg(asyncio.Protocol):
    """One socket of a ``Connection``: bytes and transport events to it."""

    __slots__ = ("conn", "upstream")

    def __init__(self, conn: Connection, upstream: bool) -> None:
        self.conn = conn
        self.upstream = upstream

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        transport.set_write_buffer_limits(high=WRITE_BUFFER)
        if self.upstream:
            self.conn.up_made(transport)
        else:
            self.conn.down_made(transport)

    def data_received(self, data: bytes) -> None:
        conn = self.conn
        if self.upstream:
            conn.relay.receive_up(data, conn.loop.time())
        else:
            conn.relay.receive_down(data, conn.loop.time())
        conn.act()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.upstream:
            self.conn.up_lost(exc)
        else:
            self.conn.down_lost()

    def pause_writing(self) -> None:  # this socket is full: stop reading the other
        conn = self.conn
        conn.relay.writing_paused("up" if self.upstream else DOWN, True, conn.loop.time())
        conn.act()

    def resume_writing(self) -> None:
        conn = self.conn
        conn.relay.writing_paused("up" if self.upstream else DOWN, False, conn.loop.time())
        conn.act()


class Connection:
    """One ESME connection: its relay, its two sockets, its timer."""

    def __init__(self, proxy: Proxy) -> None:
        self.proxy = proxy
        self.loop = asyncio.get_running_loop()
        self.relay = Relay(proxy.shared, self.loop.time())
        self.down: asyncio.Transport | None = None
        self.up: asyncio.Transport | None = None
        self.smsc: Upstream | None = None  # the pool member ``up`` is connected to
        self.connecting: asyncio.Task[None] | None = None
        self.admitted = False  # counted in the proxy's connection caps
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = math.inf
        self._released: dict[int, asyncio.Future[tuple[int, str]]] = {}

    def down_made(self, transport: asyncio.Transport) -> None:
        self.down = transport
        peer = transport.get_extra_info("peername")
        ip = peer[0] if peer else ""
        self.relay.peer_ip = ip
        proxy = self.proxy
        reason = proxy.admit(ip)
        if reason is not None:  # over a connection cap: closed before a byte is read
            self.relay.closed = True
            proxy.counters.connections_refused += 1
            proxy.warn("refused", "smpp connection refused", peer=ip, reason=reason)
            transport.abort()
            return
        self.admitted = True
        proxy.conns.add(self)
        self._arm()

    def act(self) -> None:
        """Carry out what the relay asks, then re-arm the timer."""
        for a in self.relay.actions():
            if type(a) is Send:
                transport = self.down if a.to == DOWN else self.up
                if transport is not None:
                    transport.write(a.data)
            elif isinstance(a, PauseReading | ResumeReading):
                transport = self.down if a.side == DOWN else self.up
                if transport is not None and not transport.is_closing():
                    if isinstance(a, PauseReading):
                        transport.pause_reading()
                    else:
                        transport.resume_reading()
            elif isinstance(a, Close):
                transport = self.down if a.side == DOWN else self.up
                if transport is not None:
                    transport.close()
            elif isinstance(a, ConnectUpstream):
                self.connecting = self.loop.create_task(self._connect())
            elif isinstance(a, Resubmitted):
                future = self._released.pop(a.token, None)
                if future is not None and not future.done():
                    future.set_result((a.status, a.message_id))
        self._arm()
        proxy = self.proxy
        if proxy.draining and not self.relay.busy:
            proxy.wake()

    def _arm(self) -> None:
        at = self.relay.next_deadline()
        if at is None or at >= self._timer_at:
            return  # the timer set fires sooner: it re-arms then
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = at
        self._timer = self.loop.call_at(max(at, self.loop.time() + _MIN_TIMER), self._fire)

    def _fire(self) -> None:
        self._timer = None
        self._timer_at = math.inf
        if self.down is None:
            return
        self.relay.handle_timer(self.loop.time())
        self.act()

    async def _connect(self) -> None:
        """Open the upstream connection to the pool's SMSCs in turn (``candidates``)
        until one connect succeeds; the bind fails when every one tried failed."""
        proxy = self.proxy
        errors = []
        try:
            for smsc in proxy.pool.candidates():
                self.smsc = smsc
                try:
                    await asyncio.wait_for(
                        self.loop.create_connection(
                            lambda: _Leg(self, True), smsc.host, smsc.port,
                            ssl=proxy.upstream_tls, server_hostname=(
                                smsc.host if proxy.upstream_tls is not None else None)),
                        proxy.config.upstream.connect_timeout)
                except (OSError, TimeoutError) as e:  # ssl.SSLError (a bad certificate) is one
                    error = f"{smsc.address}: {e or type(e).__name__}"
                    errors.append(error)
                    proxy.smsc_failed(smsc, error)
                else:
                    self.relay.up_connected(self.loop.time())
                    break
            else:
                self.relay.up_failed("; ".join(errors), self.loop.time())
        finally:
            self.connecting = None
        self.act()

    def up_made(self, transport: asyncio.Transport) -> None:
        self.up = transport
        if self.smsc is not None and self.proxy.pool.connected(self.smsc):
            log.info("smpp upstream up", upstream=self.smsc.address, by="bind")

    def up_lost(self, exc: Exception | None) -> None:
        self.up = None
        if self.smsc is not None:
            self.proxy.pool.closed(self.smsc)
        self.relay.up_lost(str(exc) if exc is not None else None, self.loop.time())
        self.act()

    def down_lost(self) -> None:
        relay = self.relay
        relay.down_lost(self.loop.time())
        self.act()
        self.down = None
        proxy = self.proxy
        if self.admitted:
            self.admitted = False
            proxy.per_ip.remove(relay.peer_ip)
        proxy.conns.discard(self)
        if self.connecting is not None:
            self.connecting.cancel()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        proxy.wake()

    async def resubmit(self, raws: list[bytes]) -> list[tuple[int, str]] | None:
        """Send the parts of a released message to the SMSC on this bind and wait for
        the SMSC's answers ((command_status, message_id) per part); ``None``: this
        bind cannot send now. The relay answers every part (the SMSC, a timeout or
        the connection's end), so this always returns."""
        if not self.relay.can_submit:
            return None
        now = self.loop.time()
        futures = []
        for raw in raws:
            token = self.proxy.token()
            future = self._released[token] = self.loop.create_future()
            futures.append(future)
            self.relay.resubmit(raw, token, now)
        self.act()
        return [await f for f in futures]


class Proxy:
    """The listening side. ``engine`` is anything with ``evaluate(event) -> Verdict``."""

    def __init__(self, config: SmppConfig, engine: Judge, numbering: Numbering) -> None:
        self.config = config
        self.engine = engine
        self.numbering = numbering
        self.numbers = NumberMemo(numbering)
        #: the SMSCs binds go to; a down one is probed by its task in ``_probes``
        self.pool = Pool(config.upstream.addresses)
        self._probes: dict[str, asyncio.Task[None]] = {}
        self._quiet = LogLimiter(10.0)
        self.shared = Shared(config, self.judge,
                             ClientLimits.from_config(config.clients, time.monotonic()),
                             warn=self.warn)
        self.conns: set[Connection] = set()
        self._server: asyncio.AbstractServer | None = None
        self._changed = asyncio.Event()
        self._token = 1
        self.per_ip = PeerCounts()  # open connections by peer address
        #: TLS on the listener, and towards the SMSC (None: plain TCP)
        self.tls = server_context(config.tls_cert, config.tls_key, "smpp")
        self.upstream_tls = (client_context(config.upstream.tls_ca, "smpp.upstream")
                             if config.upstream.tls else None)

    @property
    def counters(self) -> ProxyCounters:
        return self.shared.counters

    @property
    def limits(self) -> ClientLimits:
        return self.shared.limits

    @property
    def draining(self) -> bool:
        return self.shared.draining

    @property
    def port(self) -> int:
        assert self._server is not None
        sockets: list[Any] = list(getattr(self._server, "sockets", []))
        return int(sockets[0].getsockname()[1])

    def token(self) -> int:
        self._token += 1
        return self._token

    def wake(self) -> None:
        self._changed.set()

    def admit(self, peer_ip: str) -> str | None:
        """Why a new connection must be closed at once (a cap reached), or ``None``:
        then it is counted in ``per_ip`` until it closes."""
        config = self.config
        if config.max_connections and len(self.conns) >= config.max_connections:
            return f"max_connections {config.max_connections} reached"
        if not self.per_ip.add(peer_ip, config.max_connections_per_ip):
            return f"max_connections_per_ip {config.max_connections_per_ip} reached"
        return None

    def warn(self, key: str, message: str, **fields: Any) -> None:
        """A warning logged at most once every 10 s per ``key`` (floods of bad PDUs,
        refused or timed-out connections), with the count held back meanwhile."""
        held = self._quiet.allow(key)
        if held is not None:
            log.warning(message, suppressed=held, **fields)

    def smsc_failed(self, smsc: Upstream, error: str) -> None:
        """A connect to ``smsc`` failed: down, and probed until it answers."""
        if self.pool.failed(smsc):
            log.warning("smpp upstream down", upstream=smsc.address, error=error,
                        pool=len(self.pool.members))
        if smsc.address not in self._probes and not self.draining:
            self._probes[smsc.address] = asyncio.get_running_loop().create_task(
                self._probe(smsc))

    async def _probe(self, smsc: Upstream) -> None:
        """The health check of a down SMSC: a TCP connect every ``health_interval``
        (closed at once: no bind, no TLS), until one succeeds or a bind's own connect
        found the SMSC up."""
        upstream = self.config.upstream
        loop = asyncio.get_running_loop()
        try:
            while not smsc.up:
                await asyncio.sleep(upstream.health_interval)
                if smsc.up:
                    break
                try:
                    transport, _ = await asyncio.wait_for(
                        loop.create_connection(asyncio.Protocol, smsc.host, smsc.port),
                        upstream.connect_timeout)
                except (OSError, TimeoutError):
                    continue
                transport.close()
                self.pool.passed(smsc)
                log.info("smpp upstream up", upstream=smsc.address, by="health check")
        finally:
            self._probes.pop(smsc.address, None)

    def judge(self, pdu: MessagePdu, text: str | None, direction: Direction, route: str,
              parts: int, udh: bool, destination: DestAddress | None = None,
              pdus: tuple[bytes | memoryview, ...] = ()) -> Verdict:
        event = build_event(pdu, text, numbering=self.numbers, direction=direction,
                            route=route, parts=parts, udh=udh, now=time.time(),
                            destination=destination, pdus=pdus)
        return self.engine.evaluate(event)

    async def resubmit(self, system_id: str, raws: list[bytes]) -> list[tuple[int, str]] | None:
        """Send a released message (its parts as received) to the SMSC through a bound
        session of ``system_id``: the SMSC's (command_status, message_id) per part,
        consumed here (the ESME never sees them); ``None`` when no session of
        ``system_id`` is bound to send."""
        for conn in list(self.conns):
            if conn.relay.system_id == system_id and conn.relay.can_submit:
                result = await conn.resubmit(raws)
                if result is not None:
                    return result
        return None

    async def start(self) -> None:
        host, port = hostport(self.config.listen)
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Leg(Connection(self), False),
                                                host, port, reuse_address=True, ssl=self.tls)
        log.info("smpp proxy listening", listen=f"{host}:{self.port}",
                 upstream=",".join(self.config.upstream.addresses), tls=self.tls is not None,
                 upstream_tls=self.upstream_tls is not None)

    async def stop(self) -> None:
        """Stop accepting, drain in-flight windows, unbind every relay, close."""
        if self._server is None:
            return
        self._server.close()
        self.shared.draining = True  # and no more health checks
        for probe in list(self._probes.values()):
            probe.cancel()
        deadline = time.monotonic() + self.config.drain_timeout
        while any(c.relay.busy for c in self.conns) and time.monotonic() < deadline:
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), deadline - time.monotonic())
        for conn in list(self.conns):
            conn.relay.shutdown(conn.loop.time())
            conn.act()
        deadline = time.monotonic() + 1.5
        while self.conns and time.monotonic() < deadline:
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), deadline - time.monotonic())
        self._server = None
        log.info("smpp proxy stopped", **{k: getattr(self.counters, k)
                                          for k in ProxyCounters.__slots__})


@contextlib.asynccontextmanager
async def service(core: Any) -> AsyncIterator[Proxy]:
    """``gateway.app`` service: listen on ``smpp.listen``; on exit drain and stop.
    While it runs, a released quarantined message goes out through it."""
    proxy = Proxy(core.config.smpp, core.engine, core.numbering)
    await proxy.start()
    sources = getattr(core, "sources", None)
    if sources is not None:
        sources["smpp"] = lambda: asdict(proxy.counters)
        sources["smpp_upstream"] = proxy.pool  # spamgw_smpp_upstream_up{address}, ...
    quarantine = getattr(core, "quarantine", None)
    if quarantine is not None:
        quarantine.outlet = proxy.resubmit
    try:
        yield proxy
    finally:
        if quarantine is not None and quarantine.outlet == proxy.resubmit:
            quarantine.outlet = None
        if sources is not None:
            sources.pop("smpp", None)
            sources.pop("smpp_upstream", None)
        await proxy.stop()
