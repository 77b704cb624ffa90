"""``Pair`` without sockets: bytes fed to both legs, a clock the test moves, the bytes
each leg was sent asserted. Requests forwarded down to the ESME (deliver_sm,
data_sm, unbind) that it leaves unanswered past ``esme_response_timeout``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from gateway.config import SmppConfig, UpstreamConfig
from gateway.model import Action, Event, Verdict
from gateway.numbers import Numbering
from gateway.smpp.codec import decode, encode
from gateway.smpp.pair import Pair
from gateway.smpp.pdu import (
    BindTransceiver,
    BindTransceiverResp,
    CommandId,
    DataSm,
    DataSmResp,
    DeliverSm,
    DeliverSmResp,
    Pdu,
    Unbind,
    UnbindResp,
)
from gateway.smpp.proxy import Proxy
from gateway.smpp.session import PduReceived

C = CommandId
TIMEOUT = 5.0
RECEIPT = 0x04  # esm_class: SMSC delivery receipt


class Clock:
    """The pair's ``time``: ``monotonic()`` is what the test says."""

    def __init__(self) -> None:
        self.t = 1000.0

    def monotonic(self) -> float:
        return self.t

    def at(self, t: float) -> float:
        self.t = t
        return t


@pytest.fixture(autouse=True)
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    c = Clock()
    monkeypatch.setattr("gateway.smpp.pair.time", c)
    yield c


class Allow:
    def evaluate(self, event: Event) -> Verdict:
        return Verdict(Action.ALLOW)


class Wire:
    """A transport that keeps what was written to it."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.closed = False

    def write(self, data: bytes) -> None:
        self.data += data

    def close(self) -> None:
        self.closed = True

    def take(self) -> list[Pdu]:
        """The PDUs written since the last call."""
        pdus, data = [], bytes(self.data)
        self.data.clear()
        while data:
            n = int.from_bytes(data[:4], "big")
            pdus.append(decode(data[:n]))
            data = data[n:]
        return pdus

    def __getattr__(self, name: str) -> Any:  # pause_reading, resume_reading, ...
        return lambda *a: None


def bound_pair(temp_status: int = 0x58) -> tuple[Pair, Wire, Wire]:
    config = SmppConfig(esme_response_timeout=TIMEOUT,
                        upstream=UpstreamConfig(temporary_error_status=temp_status))
    proxy = Proxy(config, Allow(), Numbering("GB"))
    pair = Pair(proxy)
    down, up = Wire(), Wire()
    pair.down, pair.up = down, up  # type: ignore[assignment]
    bind = BindTransceiver(sequence_number=1, system_id="acme", password="secret")
    assert isinstance(pair.dsess.receive_data(encode(bind))[0], PduReceived)
    pair.dsess.sent(C.BIND_TRANSCEIVER_RESP)
    pair.usess.sent(C.BIND_TRANSCEIVER)
    resp = BindTransceiverResp(sequence_number=1, system_id="smsc")
    assert isinstance(pair.usess.receive_data(encode(resp))[0], PduReceived)
    assert pair.dsess.bound and pair.usess.bound
    return pair, down, up


def receipt(seq: int) -> bytes:
    return encode(DeliverSm(sequence_number=seq, source_addr="447700900456",
                            destination_addr="447700900123", esm_class=RECEIPT,
                            short_message=b"id:0000000001 stat:DELIVRD"))


def test_unanswered_receipt_is_answered_to_the_smsc_with_the_temporary_error(clock: Clock) -> None:
    pair, down, up = bound_pair()
    counters = pair.proxy.counters
    t0 = clock.t
    pair.on_up(receipt(7))
    (fwd,) = down.take()
    assert isinstance(fwd, DeliverSm) and fwd.sequence_number == 7
    pair.tick(clock.at(t0 + TIMEOUT - 0.5))
    assert up.take() == [] and counters.esme_timeouts == 0
    pair.tick(clock.at(t0 + TIMEOUT + 0.5))
    (resp,) = up.take()
    assert isinstance(resp, DeliverSmResp)
    assert (resp.sequence_number, resp.command_status) == (7, 0x58)
    assert counters.esme_timeouts == 1 and not pair.down_pending
    pair.tick(clock.at(t0 + TIMEOUT + 1.0))
    assert up.take() == [] and counters.esme_timeouts == 1  # answered once
    # the ESME's answer comes after all: dropped, counted, not a second answer
    pair.on_down(encode(DeliverSmResp(sequence_number=7)))
    assert up.take() == []
    assert (counters.esme_late_responses, counters.orphan_responses) == (1, 0)
    assert not down.closed and not up.closed


def test_timed_out_sequence_stays_reserved_then_is_forgotten(clock: Clock) -> None:
    pair, down, up = bound_pair()
    counters = pair.proxy.counters
    t0 = clock.t
    pair.on_up(receipt(7))
    down.take()
    pair.tick(clock.at(t0 + TIMEOUT + 0.5))
    up.take()
    # the SMSC uses 7 again: the ESME must not see 7 while its late answer may come
    pair.on_up(receipt(7))
    (fwd,) = down.take()
    assert fwd.sequence_number != 7
    pair.on_down(encode(DeliverSmResp(sequence_number=fwd.sequence_number)))
    (resp,) = up.take()
    assert (resp.sequence_number, resp.command_status) == (7, 0)
    assert counters.esme_timeouts == 1
    pair.tick(clock.at(t0 + 3 * TIMEOUT + 1.0))
    assert not pair.down_timed_out
    pair.on_down(encode(DeliverSmResp(sequence_number=7)))  # too late even for that
    assert (counters.esme_late_responses, counters.orphan_responses) == (0, 1)


def test_only_the_old_ones_expire_and_an_mo_data_sm_too(clock: Clock) -> None:
    pair, down, up = bound_pair()
    counters = pair.proxy.counters
    t0 = clock.t
    pair.on_up(encode(DataSm(sequence_number=20, source_addr="447700900456",
                             destination_addr="447700900123",
                             tlvs=((0x0424, b"see you at 5"),))))  # message_payload
    pair.tick(clock.at(t0 + 2.0))
    pair.on_up(receipt(21))  # sent about two seconds later
    assert [p.command_id for p in down.take()] == [C.DATA_SM, C.DELIVER_SM]
    assert counters.forwarded == 1 and counters.receipts == 1
    pair.tick(clock.at(t0 + TIMEOUT + 0.5))
    (resp,) = up.take()
    assert isinstance(resp, DataSmResp)
    assert (resp.sequence_number, resp.command_status) == (20, 0x58)
    assert list(pair.down_pending) == [21]
    pair.on_down(encode(DeliverSmResp(sequence_number=21)))  # in time: passed on
    (resp,) = up.take()
    assert isinstance(resp, DeliverSmResp) and resp.command_status == 0
    assert (counters.esme_timeouts, counters.esme_late_responses) == (1, 0)


def test_unanswered_unbind_from_the_smsc_is_confirmed_and_the_pair_closed(clock: Clock) -> None:
    pair, down, up = bound_pair()
    t0 = clock.t
    pair.on_up(encode(Unbind(sequence_number=9)))
    (fwd,) = down.take()
    assert isinstance(fwd, Unbind)
    pair.tick(clock.at(t0 + TIMEOUT + 0.5))
    (resp,) = up.take()
    assert isinstance(resp, UnbindResp)
    assert (resp.sequence_number, resp.command_status) == (9, 0)
    assert down.closed and up.closed
    assert pair.proxy.counters.esme_timeouts == 1


@pytest.mark.parametrize("status", [0x58, 0x14])  # 0x14 ESME_RMSGQFUL
def test_the_configured_temporary_error_is_used(status: int, clock: Clock) -> None:
    pair, _down, up = bound_pair(status)
    t0 = clock.t
    pair.on_up(receipt(3))
    pair.tick(clock.at(t0 + TIMEOUT + 0.5))
    (resp,) = up.take()
    assert resp.command_status == status
