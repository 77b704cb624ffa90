"""Driving the sans-IO relay in tests: no sockets, no event loop, no clock but the
``now`` a test passes. A ``Peer`` is what one socket of the relay would carry: the
bytes the relay sent to that side (decoded), and whether the relay reads it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gateway.config import SmppConfig
from gateway.model import Action, Direction, SmsBlock, Verdict
from gateway.smpp.actions import (
    DOWN,
    UP,
    Close,
    ConnectUpstream,
    PauseReading,
    Resubmitted,
    ResumeReading,
    Send,
)
from gateway.smpp.codec import decode, encode
from gateway.smpp.pdu import BindTransceiver, BindTransceiverResp, Pdu
from gateway.smpp.relay import Relay, Shared

T0 = 1000.0


def allow(pdu: Any, text: str | None, *rest: Any) -> Verdict:
    return Verdict(Action.ALLOW)


def block_marked(pdu: Any, text: str | None, direction: Direction, *rest: Any) -> Verdict:
    """BLOCK (reject, 0x65) a message whose text says BLOCK, else ALLOW."""
    if text is not None and "BLOCK" in text:
        return Verdict(Action.BLOCK, sms_block=SmsBlock.REJECT, sms_status=0x65)
    return Verdict(Action.ALLOW)


@dataclass
class Peer:
    data: bytearray = field(default_factory=bytearray)
    paused: bool = False
    closed: bool = False

    def take(self) -> list[Pdu]:
        """The PDUs the relay sent this side since the last call."""
        return [decode(raw) for raw in self.take_raw()]

    def take_raw(self) -> list[bytes]:
        out, data = [], bytes(self.data)
        self.data.clear()
        while data:
            n = int.from_bytes(data[:4], "big")
            out.append(data[:n])
            data = data[n:]
        return out


@dataclass
class Harness:
    """A relay and what its actions did to the two sides."""

    relay: Relay
    down: Peer = field(default_factory=Peer)
    up: Peer = field(default_factory=Peer)
    connects: int = 0
    resubmitted: list[Resubmitted] = field(default_factory=list)

    def act(self) -> None:
        for a in self.relay.actions():
            if isinstance(a, Send):
                self.side(a.to).data += a.data
            elif isinstance(a, PauseReading):
                self.side(a.side).paused = True
            elif isinstance(a, ResumeReading):
                self.side(a.side).paused = False
            elif isinstance(a, Close):
                self.side(a.side).closed = True
            elif isinstance(a, ConnectUpstream):
                self.connects += 1
            elif isinstance(a, Resubmitted):
                self.resubmitted.append(a)

    def side(self, name: str) -> Peer:
        return self.down if name == DOWN else self.up

    def from_esme(self, data: bytes | Pdu, now: float = T0) -> None:
        self.relay.receive_down(data if isinstance(data, bytes) else encode(data), now)
        self.act()

    def from_smsc(self, data: bytes | Pdu, now: float = T0) -> None:
        self.relay.receive_up(data if isinstance(data, bytes) else encode(data), now)
        self.act()

    def timer(self, now: float) -> None:
        self.relay.handle_timer(now)
        self.act()


def bound(judge: Any = allow, now: float = T0, **config: Any) -> Harness:
    """A relay whose ESME bound (transceiver) and whose SMSC accepted the bind, driven
    through the relay's own interface. The keepalive and the idle check are off
    unless a test sets them."""
    config = {"enquire_link_interval": 1e6, "idle_timeout": 1e6, **config}
    relay = Relay(Shared(SmppConfig(**config), judge), now, "127.0.0.1")
    h = Harness(relay)
    h.from_esme(BindTransceiver(sequence_number=1, system_id="acme", password="secret"), now)
    assert h.connects == 1 and h.down.paused  # the ESME waits for the upstream
    relay.up_connected(now)
    h.act()
    (bind,) = h.up.take()
    assert isinstance(bind, BindTransceiver) and bind.password == "secret"
    h.from_smsc(BindTransceiverResp(sequence_number=1, system_id="smsc"), now)
    (resp,) = h.down.take()
    assert isinstance(resp, BindTransceiverResp) and resp.command_status == 0
    assert not h.down.paused and relay.down.session.bound and relay.up.session.bound
    return h


__all__ = ["DOWN", "T0", "UP", "Harness", "Peer", "allow", "block_marked", "bound"]
