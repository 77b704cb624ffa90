"""Asyncio FastAGI server: moves bytes between sockets and the sans-IO codec, and
asks the screener what to answer. No policy here.

One connection is one AGI session: Asterisk writes the environment; the server
writes the screener's commands in one go and half-closes (``send_final``: the end
of stream is what lets Asterisk run commands queued behind the first), reads the
answers until Asterisk closes, which ends the AGI application with
AGISTATUS=SUCCESS. Every wait has its own timeout (Asterisk has none), so a peer
that goes silent never holds a connection for long; garbage, a ``HANGUP`` notice
or a ``511`` are counted and end the session quietly.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import asdict, dataclass
from typing import Protocol, cast

import structlog

from gateway.agi.codec import (
    NEED_DATA,
    AgiConnection,
    AgiEnvironment,
    AgiError,
    AgiResponse,
    ConnectionClosed,
    HangupNotice,
)
from gateway.agi.screening import AgiCounters, Evaluator, Screener
from gateway.config import Config, hostport
from gateway.numbers import Numbering

__all__ = ["AgiServer", "FastAgiProtocol", "ServerTimeouts", "service"]

log = structlog.get_logger("spamgw.agi")

DEFAULT_PORT = 4573


@dataclass(frozen=True, slots=True)
class ServerTimeouts:
    #: from connect to the end of the environment block (Asterisk sends it at once)
    environment: float = 5.0
    #: for each command's answer (Asterisk answers SET VARIABLE at once)
    response: float = 5.0


class FastAgiProtocol(asyncio.Protocol):
    __slots__ = (
        "_conn",
        "_server",
        "_timer",
        "_transport",
    )

    def __init__(self, server: AgiServer) -> None:
        self._server = server
        self._conn = AgiConnection()
        self._transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None

    # -- transport callbacks ------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass
        server = self._server
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
        self._server.active.discard(self)
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
                commands = server.screener.handle(event, server.screener.monotonic())
                if not commands:
                    self._close()
                    return
                self._transport.write(conn.send_final(commands))
                self._transport.write_eof()
                self._arm(server.timeouts.response)
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
    ) -> None:
        self.screener = screener
        self.counters: AgiCounters = screener.counters
        self.timeouts = timeouts or ServerTimeouts()
        self.loop = loop or asyncio.get_running_loop()
        self.active: set[FastAgiProtocol] = set()
        self._server: asyncio.Server | None = None

    @property
    def sockets(self) -> Sequence[object]:
        return self._server.sockets if self._server is not None else ()

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self, host: str, port: int) -> None:
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


class CoreLike(Protocol):
    """What the service needs of ``gateway.app.Core``."""

    @property
    def config(self) -> Config: ...
    @property
    def numbering(self) -> Numbering: ...
    @property
    def engine(self) -> Evaluator: ...


@contextlib.asynccontextmanager
async def service(core: CoreLike) -> AsyncIterator[AgiServer]:
    """The FastAGI service for ``gateway.app.running``: listens on
    ``config.agi.listen`` on entry, stops on exit."""
    config = core.config
    screener = Screener(core.numbering, core.engine, deadline_ms=config.gateway.call_deadline_ms)
    server = AgiServer(screener)
    host, port = hostport(config.agi.listen)
    await server.start(host, port)
    log.info("fastagi listening", address=f"{host}:{server.port}")
    sources = getattr(core, "sources", None)
    if sources is not None:
        sources["agi"] = lambda: asdict(server.counters)
    try:
        yield server
    finally:
        if sources is not None:
            sources.pop("agi", None)
        await server.close()
