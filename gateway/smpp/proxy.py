"""The SMPP proxy: asyncio adapter between ESMEs (downstream) and the SMSC (upstream).

Transparent mode: every downstream bind opens its own upstream connection and
passes the bind on as received; the SMSC's bind_resp goes back as is, and the two
legs (a ``Pair``) live and die together. The sans-IO ``Session`` frames and checks
each leg; this module only moves bytes and asks the engine:

- messages (submit_sm, submit_multi per destination, data_sm, replace_sm;
  deliver_sm/data_sm MO coming back) become an ``Event``; ALLOW/WARN forward the
  received bytes (only the sequence number is rewritten, and only on a collision);
  BLOCK answers the sender itself;
- concatenated parts are held until complete (or ``concat_timeout``) and judged once;
- responses are routed back by sequence number; enquire_link is answered per leg;
- a window of outstanding requests per pair, and backpressure both ways;
- a request the SMSC leaves unanswered for ``upstream.response_timeout`` gets the
  temporary error, and so does (towards the SMSC) a deliver_sm/data_sm the ESME
  leaves unanswered for ``esme_response_timeout``; when the upstream drops, every
  outstanding request gets it and the downstream is unbound; on shutdown the
  windows drain first.

Spam reports (an SMS to 7726, MO or submit_sm) are judged and forwarded like any
other message; the admin app picks them up from the engine's observer.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from typing import Any

import structlog

from gateway.config import SmppConfig, hostport
from gateway.model import Direction, Verdict
from gateway.numbers import Numbering, NumberMemo
from gateway.observe import LogLimiter
from gateway.peers import PeerCounts
from gateway.smpp import teardown
from gateway.smpp.leg import Leg
from gateway.smpp.limits import ClientLimits
from gateway.smpp.pair import Pair
from gateway.smpp.pdu import DestAddress
from gateway.smpp.translate import Judge, MessagePdu, build_event
from gateway.tls import client_context, server_context

__all__ = ["Proxy", "ProxyCounters", "service"]

log = structlog.get_logger("spamgw.smpp")


@dataclass(slots=True)
class ProxyCounters:
    forwarded: int = 0
    rejected: int = 0
    dropped: int = 0
    throttled: int = 0
    temp_errors: int = 0
    receipts: int = 0
    held_parts: int = 0
    binds: int = 0
    bind_refused: int = 0
    bad_pdus: int = 0
    orphan_responses: int = 0
    timeouts: int = 0  # requests the SMSC did not answer in upstream.response_timeout
    late_responses: int = 0  # their responses, when they came after all: dropped
    esme_timeouts: int = 0  # deliver_sm/data_sm/unbind the ESME left unanswered
    esme_late_responses: int = 0  # its responses to them, when they came after all: dropped
    connections_refused: int = 0  # over max_connections or max_connections_per_ip
    bind_timeouts: int = 0  # connections closed for not binding in bind_timeout
    idle_closed: int = 0  # bound ESMEs closed for silence (idle_timeout, enquire_link)


class Proxy:
    """The listening side. ``engine`` is anything with ``evaluate(event) -> Verdict``."""

    def __init__(self, config: SmppConfig, engine: Judge, numbering: Numbering) -> None:
        self.config = config
        self.engine = engine
        self.numbering = numbering
        self.numbers = NumberMemo(numbering)
        self.upstream = hostport(config.upstream.address)
        self.temp_status = config.upstream.temporary_error_status
        self.limits = ClientLimits.from_config(config.clients, time.monotonic())
        self.counters = ProxyCounters()
        self.pairs: set[Pair] = set()
        self.draining = False
        self._server: asyncio.AbstractServer | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()
        self._msgid = 0
        self.per_ip = PeerCounts()  # open connections by peer address
        #: TLS on the listener, and towards the SMSC (None: plain TCP)
        self.tls = server_context(config.tls_cert, config.tls_key, "smpp")
        self.upstream_tls = (client_context(config.upstream.tls_ca, "smpp.upstream")
                             if config.upstream.tls else None)
        self._quiet = LogLimiter(10.0)

    @property
    def port(self) -> int:
        assert self._server is not None
        sockets: list[Any] = list(getattr(self._server, "sockets", []))
        return int(sockets[0].getsockname()[1])

    def message_id(self) -> str:
        self._msgid += 1
        return f"gw{self._msgid:08x}"

    def wake(self) -> None:
        self._changed.set()

    def admit(self, peer_ip: str) -> str | None:
        """Why a new connection must be closed at once (a cap reached), or ``None``:
        then it is counted in ``per_ip`` until it closes."""
        config = self.config
        if config.max_connections and len(self.pairs) >= config.max_connections:
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

    def judge(self, pdu: MessagePdu, text: str | None, direction: Direction, route: str,
              parts: int, udh: bool, destination: DestAddress | None = None) -> Verdict:
        event = build_event(pdu, text, numbering=self.numbers, direction=direction,
                            route=route, parts=parts, udh=udh, now=time.time(),
                            destination=destination)
        return self.engine.evaluate(event)

    async def start(self) -> None:
        host, port = hostport(self.config.listen)
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: Leg(Pair(self), False), host, port,
                                                reuse_address=True, ssl=self.tls)
        self._ticker = loop.create_task(self._tick())
        log.info("smpp proxy listening", listen=f"{host}:{self.port}",
                 upstream=self.config.upstream.address, tls=self.tls is not None,
                 upstream_tls=self.upstream_tls is not None)

    async def _tick(self) -> None:
        period = min(0.25, self.config.concat_timeout / 4)
        while True:
            await asyncio.sleep(period)
            now = time.monotonic()
            for pair in list(self.pairs):
                pair.tick(now)

    async def stop(self) -> None:
        """Stop accepting, drain in-flight windows, unbind every pair, close."""
        if self._server is None:
            return
        self._server.close()
        self.draining = True
        deadline = time.monotonic() + self.config.drain_timeout
        while any(p.up_pending or p.waiting for p in self.pairs) and time.monotonic() < deadline:
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), deadline - time.monotonic())
        for pair in list(self.pairs):
            teardown.shutdown(pair)
        deadline = time.monotonic() + 1.5
        while self.pairs and time.monotonic() < deadline:
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), deadline - time.monotonic())
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        self._server = None
        log.info("smpp proxy stopped", **{k: getattr(self.counters, k)
                                          for k in ProxyCounters.__slots__})


@contextlib.asynccontextmanager
async def service(core: Any) -> AsyncIterator[Proxy]:
    """``gateway.app`` service: listen on ``smpp.listen``; on exit drain and stop."""
    proxy = Proxy(core.config.smpp, core.engine, core.numbering)
    await proxy.start()
    sources = getattr(core, "sources", None)
    if sources is not None:
        sources["smpp"] = lambda: asdict(proxy.counters)
    try:
        yield proxy
    finally:
        if sources is not None:
            sources.pop("smpp", None)
        await proxy.stop()
