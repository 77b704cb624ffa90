"""The relay without sockets: bytes and ``now`` in, actions out (``relay_support``
carries them out onto two ``Peer``s). Forwarding byte for byte, the window, the
timeouts of both sides, held parts, the upstream lost, released messages; and that
the relay's modules read no clock and import no event loop."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from relay_support import T0, block_marked, bound

from gateway.smpp.actions import Close
from gateway.smpp.codec import encode
from gateway.smpp.pdu import (
    CommandId,
    DataSm,
    DataSmResp,
    DeliverSm,
    DeliverSmResp,
    EnquireLink,
    EnquireLinkResp,
    SubmitSm,
    SubmitSmResp,
    Unbind,
    UnbindResp,
)

C = CommandId
TIMEOUT = 5.0
RECEIPT = 0x04  # esm_class: SMSC delivery receipt
SMPP = Path(__file__).resolve().parents[2] / "gateway" / "smpp"


def receipt(seq: int) -> bytes:
    return encode(DeliverSm(sequence_number=seq, source_addr="447700900456",
                            destination_addr="447700900123", esm_class=RECEIPT,
                            short_message=b"id:0000000001 stat:DELIVRD"))


def submit(seq: int, text: bytes = b"hello", **kw: object) -> SubmitSm:
    return SubmitSm(sequence_number=seq, source_addr_ton=1, source_addr="447700900123",
                    dest_addr_ton=1, destination_addr="447700900456", short_message=text,
                    **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("module", ["relay.py", "side.py", "actions.py", "judging.py",
                                    "concat.py", "session.py", "codec.py"])
def test_the_relay_reads_no_clock_and_imports_no_event_loop(module: str) -> None:
    tree = ast.parse((SMPP / module).read_text())
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import)
                for a in n.names}
    imported |= {(n.module or "").split(".")[0] for n in ast.walk(tree)
                 if isinstance(n, ast.ImportFrom)}
    assert not imported & {"asyncio", "time", "uvloop", "socket", "selectors"}


def test_a_submit_goes_on_byte_for_byte_and_its_answer_comes_back() -> None:
    h = bound()
    # an unknown TLV and an odd data_coding reach the SMSC exactly as sent
    raw = encode(submit(7, b"\xe9t\xe9", data_coding=0x03, tlvs=((0x1501, b"\x00\xff"),)))
    h.from_esme(raw)
    assert h.up.take_raw() == [raw]
    h.from_smsc(SubmitSmResp(sequence_number=7, message_id="m1"))
    (resp,) = h.down.take()
    assert isinstance(resp, SubmitSmResp) and (resp.sequence_number, resp.message_id) == (7, "m1")
    assert h.relay.next_deadline() is not None  # the keepalive and the idle check


def test_only_the_sequence_number_is_rewritten_and_only_on_a_collision() -> None:
    h = bound()
    h.from_esme(submit(7))
    first = h.up.take_raw()[0]
    h.timer(T0 + h.relay.up.timeout)  # the SMSC is silent: 0x58, 7 stays reserved
    (tmp,) = h.down.take()
    assert (tmp.sequence_number, tmp.command_status) == (7, 0x58)
    again = encode(submit(7))  # the ESME resends with the same number
    h.from_esme(again, T0 + h.relay.up.timeout)
    (sent,) = h.up.take_raw()
    assert sent != first and sent[:12] == again[:12] and sent[16:] == again[16:]
    new_seq = int.from_bytes(sent[12:16], "big")
    h.from_smsc(SubmitSmResp(sequence_number=new_seq, message_id="m2"))
    (resp,) = h.down.take()
    assert (resp.sequence_number, resp.command_status) == (7, 0)
    h.from_smsc(SubmitSmResp(sequence_number=7, message_id="m1"))  # the late one: dropped
    assert h.down.take() == []
    assert h.relay.counters.late_responses == 1


def test_the_window_counts_every_pdu_of_a_read() -> None:
    h = bound(window=2)
    h.from_esme(b"".join(encode(submit(s)) for s in range(1, 6)))
    assert [p.sequence_number for p in h.up.take()] == [1, 2]
    assert h.down.paused and len(h.relay.waiting) == 3
    h.from_smsc(SubmitSmResp(sequence_number=2, message_id="b"))
    assert [p.sequence_number for p in h.up.take()] == [3]
    assert h.down.paused
    h.from_smsc(encode(SubmitSmResp(sequence_number=1, message_id="a"))
                + encode(SubmitSmResp(sequence_number=3, message_id="c")))
    assert [p.sequence_number for p in h.up.take()] == [4, 5]
    h.from_smsc(encode(SubmitSmResp(sequence_number=4, message_id="d")))
    assert not h.down.paused  # room again, nothing waits
    assert [p.sequence_number for p in h.down.take()] == [2, 1, 3, 4]


def test_a_blocked_message_is_answered_here_and_never_reaches_the_smsc() -> None:
    h = bound(judge=block_marked)
    h.from_esme(submit(3, b"BLOCK me"))
    assert h.up.take() == []
    (resp,) = h.down.take()
    assert (resp.sequence_number, resp.command_status) == (3, 0x65)


def test_concatenated_parts_wait_for_the_group_then_go_together() -> None:
    h = bound(concat_timeout=2.0)
    parts = [encode(submit(10 + n, bytes([5, 0, 3, 9, 3, n]) + b"part", esm_class=0x40))
             for n in (1, 2, 3)]
    h.from_esme(parts[0] + parts[2])
    assert h.up.take() == []
    held_until = h.relay.next_deadline()
    assert held_until is not None and held_until <= T0 + 2.0
    h.from_esme(parts[1], T0 + 1.0)
    assert h.up.take_raw() == [parts[0], parts[1], parts[2]]  # in part order


def test_an_incomplete_group_is_judged_on_what_came_at_its_deadline() -> None:
    h = bound(judge=block_marked, concat_timeout=2.0)
    part = encode(submit(10, bytes([5, 0, 3, 9, 2, 1]) + b"BLOCK", esm_class=0x40))
    h.from_esme(part)
    h.timer(T0 + 1.9)
    assert h.down.take() == []
    h.timer(T0 + 2.0)
    (resp,) = h.down.take()
    assert (resp.sequence_number, resp.command_status) == (10, 0x65)


def test_unanswered_receipt_is_answered_to_the_smsc_with_the_temporary_error() -> None:
    h = bound(esme_response_timeout=TIMEOUT)
    counters = h.relay.counters
    h.from_smsc(receipt(7))
    (fwd,) = h.down.take()
    assert isinstance(fwd, DeliverSm) and fwd.sequence_number == 7
    h.timer(T0 + TIMEOUT - 0.5)
    assert h.up.take() == [] and counters.esme_timeouts == 0
    h.timer(T0 + TIMEOUT)
    (resp,) = h.up.take()
    assert isinstance(resp, DeliverSmResp)
    assert (resp.sequence_number, resp.command_status) == (7, 0x58)
    assert counters.esme_timeouts == 1 and not h.relay.down.pending
    h.timer(T0 + TIMEOUT + 1.0)
    assert h.up.take() == [] and counters.esme_timeouts == 1  # answered once
    # the ESME's answer comes after all: dropped, counted, not a second answer
    h.from_esme(DeliverSmResp(sequence_number=7), T0 + TIMEOUT + 1.0)
    assert h.up.take() == []
    assert (counters.esme_late_responses, counters.orphan_responses) == (1, 0)
    assert not h.down.closed and not h.up.closed


def test_timed_out_sequence_stays_reserved_then_is_forgotten() -> None:
    h = bound(esme_response_timeout=TIMEOUT)
    counters = h.relay.counters
    h.from_smsc(receipt(7))
    h.down.take()
    h.timer(T0 + TIMEOUT)
    h.up.take()
    # the SMSC uses 7 again: the ESME must not see 7 while its late answer may come
    h.from_smsc(receipt(7), T0 + TIMEOUT)
    (fwd,) = h.down.take()
    assert fwd.sequence_number != 7
    h.from_esme(DeliverSmResp(sequence_number=fwd.sequence_number), T0 + TIMEOUT)
    (resp,) = h.up.take()
    assert (resp.sequence_number, resp.command_status) == (7, 0)
    forgotten = T0 + TIMEOUT + h.relay.down.reserve
    h.timer(forgotten)
    assert not h.relay.down.timed_out
    h.from_esme(DeliverSmResp(sequence_number=7), forgotten)  # too late even for that
    assert (counters.esme_late_responses, counters.orphan_responses) == (0, 1)


def test_only_the_old_ones_expire_and_an_mo_data_sm_too() -> None:
    h = bound(esme_response_timeout=TIMEOUT)
    counters = h.relay.counters
    h.from_smsc(DataSm(sequence_number=20, source_addr="447700900456",
                       destination_addr="447700900123",
                       tlvs=((0x0424, b"see you at 5"),)))  # message_payload
    h.from_smsc(receipt(21), T0 + 2.0)  # two seconds later
    assert [p.command_id for p in h.down.take()] == [C.DATA_SM, C.DELIVER_SM]
    assert counters.forwarded == 1 and counters.receipts == 1
    assert h.relay.next_deadline() == T0 + TIMEOUT
    h.timer(T0 + TIMEOUT)
    (resp,) = h.up.take()
    assert isinstance(resp, DataSmResp)
    assert (resp.sequence_number, resp.command_status) == (20, 0x58)
    assert list(h.relay.down.pending) == [21]
    h.from_esme(DeliverSmResp(sequence_number=21), T0 + TIMEOUT)  # in time: passed on
    (resp,) = h.up.take()
    assert isinstance(resp, DeliverSmResp) and resp.command_status == 0
    assert (counters.esme_timeouts, counters.esme_late_responses) == (1, 0)


def test_unanswered_unbind_from_the_smsc_is_confirmed_and_the_relay_closed() -> None:
    h = bound(esme_response_timeout=TIMEOUT)
    h.from_smsc(Unbind(sequence_number=9))
    (fwd,) = h.down.take()
    assert isinstance(fwd, Unbind)
    h.timer(T0 + TIMEOUT)
    (resp,) = h.up.take()
    assert isinstance(resp, UnbindResp)
    assert (resp.sequence_number, resp.command_status) == (9, 0)
    assert h.down.closed and h.up.closed
    assert h.relay.counters.esme_timeouts == 1


@pytest.mark.parametrize("status", [0x58, 0x14])  # 0x14 ESME_RMSGQFUL
def test_the_configured_temporary_error_is_used(status: int) -> None:
    from gateway.config import UpstreamConfig

    h = bound(esme_response_timeout=TIMEOUT,
              upstream=UpstreamConfig(temporary_error_status=status))
    h.from_smsc(receipt(3))
    h.timer(T0 + TIMEOUT)
    (resp,) = h.up.take()
    assert resp.command_status == status


def test_the_smsc_lost_answers_everything_outstanding_and_unbinds_the_esme() -> None:
    h = bound(window=2, concat_timeout=10.0)
    part = encode(submit(9, bytes([5, 0, 3, 1, 2, 1]) + b"half", esm_class=0x40))
    h.from_esme(b"".join(encode(submit(s)) for s in (1, 2, 3)) + part)
    assert len(h.up.take()) == 2
    h.relay.up_lost("connection reset", T0 + 1)
    h.act()
    answers = h.down.take()
    assert sorted((p.sequence_number, p.command_status) for p in answers
                  if isinstance(p, SubmitSmResp)) == [(1, 0x58), (2, 0x58), (3, 0x58), (9, 0x58)]
    assert isinstance(answers[-1], Unbind)
    assert not h.down.closed
    h.timer(T0 + 3.0)  # the ESME did not confirm the unbind: closed anyway
    assert h.down.closed


def test_an_unbound_connection_is_closed_at_the_bind_timeout() -> None:
    from relay_support import Harness, allow

    from gateway.config import SmppConfig
    from gateway.smpp.relay import Relay, Shared

    relay = Relay(Shared(SmppConfig(bind_timeout=3.0), allow), T0)
    h = Harness(relay)
    h.from_esme(b"\x00\x00", T0 + 1)  # two bytes of a bind, then nothing
    assert relay.next_deadline() == T0 + 3.0
    h.timer(T0 + 2.9)
    assert not h.down.closed
    h.timer(T0 + 3.0)
    assert h.down.closed and relay.counters.bind_timeouts == 1


def test_a_silent_esme_is_probed_then_closed() -> None:
    h = bound(idle_timeout=30.0, esme_response_timeout=TIMEOUT, enquire_link_interval=1e6)
    h.timer(T0 + 30.0)
    (probe,) = h.down.take()
    assert isinstance(probe, EnquireLink) and not h.down.closed
    h.from_esme(EnquireLinkResp(sequence_number=probe.sequence_number), T0 + 31)
    assert h.down.take() == []  # the answer to the relay's own probe: not passed on
    h.timer(T0 + 61.0)
    (probe,) = h.down.take()
    h.timer(T0 + 61.0 + TIMEOUT)
    assert h.down.closed and h.relay.counters.idle_closed == 1


def test_an_esme_not_read_by_choice_is_not_silent() -> None:
    from gateway.config import UpstreamConfig

    h = bound(window=1, idle_timeout=30.0, upstream=UpstreamConfig(response_timeout=1e3))
    h.from_esme(encode(submit(1)) + encode(submit(2)))
    assert h.down.paused
    h.timer(T0 + 100.0)
    assert h.down.take() == [] and not h.down.closed  # no probe
    h.from_smsc(SubmitSmResp(sequence_number=1, message_id="a"), T0 + 100.0)
    h.from_smsc(SubmitSmResp(sequence_number=2, message_id="b"), T0 + 100.0)
    assert not h.down.paused  # read again: its silence counts from now
    assert h.relay.next_deadline() == T0 + 100.0 + 30.0


def test_the_upstream_gets_enquire_link_and_its_answer_goes_nowhere() -> None:
    h = bound(enquire_link_interval=20.0, idle_timeout=1e6)
    assert h.relay.next_deadline() == T0 + 20.0
    h.timer(T0 + 20.0)
    (probe,) = h.up.take()
    assert isinstance(probe, EnquireLink)
    h.from_smsc(EnquireLinkResp(sequence_number=probe.sequence_number), T0 + 20.0)
    assert h.down.take() == [] and h.relay.counters.orphan_responses == 0


def test_a_released_message_goes_to_the_smsc_and_its_answer_is_the_gateways() -> None:
    h = bound()
    held = encode(submit(44, b"held then released"))
    assert h.relay.resubmit(held, 2, T0)
    h.act()
    (sent,) = h.up.take_raw()
    assert sent == held  # 44 was free upstream: not even the sequence number changed
    h.from_smsc(SubmitSmResp(sequence_number=44, message_id="smsc-9"))
    assert h.down.take() == []  # the ESME never sent it: it hears nothing of it
    assert [(r.token, r.status, r.message_id) for r in h.resubmitted] == [(2, 0, "smsc-9")]


def test_a_released_message_lost_with_the_smsc_gets_the_temporary_error() -> None:
    h = bound()
    h.from_esme(submit(44))
    h.relay.resubmit(encode(submit(44, b"held")), 3, T0)
    h.act()
    sent = h.up.take()
    assert sent[0].sequence_number == 44 and sent[1].sequence_number != 44
    h.relay.up_lost(None, T0 + 1)
    h.act()
    assert [(r.token, r.status) for r in h.resubmitted] == [(3, 0x58)]
    assert [(p.sequence_number, p.command_status) for p in h.down.take()
            if isinstance(p, SubmitSmResp)] == [(44, 0x58)]
    assert not h.relay.resubmit(encode(submit(45)), 4, T0 + 1)  # no upstream now


def test_the_esme_gone_unbinds_and_closes_the_upstream() -> None:
    h = bound()
    h.relay.down_lost(T0 + 1)
    h.act()
    (unbind,) = h.up.take()
    assert isinstance(unbind, Unbind) and h.up.closed
    assert Close("down") not in h.relay.actions()
