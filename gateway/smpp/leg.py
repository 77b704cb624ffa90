"""``Leg``: the thin asyncio protocol of one socket of a ``Pair`` (the ESME's
connection or the upstream one). It moves bytes and transport events to the pair and
holds no protocol logic."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, cast

from gateway.smpp import teardown

if TYPE_CHECKING:
    from gateway.smpp.pair import Pair

__all__ = ["WRITE_BUFFER", "Leg"]

#: bytes a leg may queue before its peer stops being read (the transport's default,
#: 64 KiB, is less than one flush of a 512-PDU window: every batch would pause the
#: other side)
WRITE_BUFFER = 1 << 20


class Leg(asyncio.Protocol):
    __slots__ = ("pair", "upstream")

    def __init__(self, pair: Pair, upstream: bool) -> None:
        self.pair = pair
        self.upstream = upstream

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        transport.set_write_buffer_limits(high=WRITE_BUFFER)
        if self.upstream:
            self.pair.up = transport
        else:
            self.pair.down_made(transport)

    def data_received(self, data: bytes) -> None:
        if self.upstream:
            self.pair.on_up(data)
        else:
            self.pair.on_down(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.upstream:
            teardown.up_lost(self.pair, exc)
        else:
            teardown.down_lost(self.pair, exc)

    def pause_writing(self) -> None:  # this leg's socket is full: stop reading the other
        self.pair.hold("down_full" if not self.upstream else "up_full", True)

    def resume_writing(self) -> None:
        self.pair.hold("down_full" if not self.upstream else "up_full", False)
