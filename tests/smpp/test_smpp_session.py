"""Session state machine: bytes in, events out; no sockets, no sleeps."""

from __future__ import annotations

import json
from pathlib import Path

from gateway.smpp import pdu as P
from gateway.smpp.codec import decode, encode
from gateway.smpp.pdu import Status
from gateway.smpp.session import BadPdu, PduReceived, Role, Session, State

DATA = Path(__file__).resolve().parents[1] / "data"
KANNEL = [bytes.fromhex(json.loads(line)["pdu"])
          for line in (DATA / "kannel_pdus.jsonl").read_text().splitlines()]
BIND = KANNEL[0]
SUBMITS = [KANNEL[1], KANNEL[2], KANNEL[4], KANNEL[5], KANNEL[6]]


def bound_smsc() -> Session:
    s = Session(Role.SMSC)
    (ev,) = s.receive_data(BIND)
    assert isinstance(ev, PduReceived) and isinstance(ev.pdu, P.BindTransceiver)
    s.send(P.BindTransceiverResp(sequence_number=1, system_id="smsc"))
    assert s.state is State.BOUND_TRX
    return s


def test_many_pdus_in_one_chunk_and_one_pdu_over_many_chunks() -> None:
    stream = b"".join(SUBMITS)
    whole = bound_smsc().receive_data(stream)
    s = bound_smsc()
    pieces: list[PduReceived | BadPdu] = []
    for i in range(len(stream)):
        pieces += s.receive_data(stream[i:i + 1])
    assert [type(e) for e in whole] == [PduReceived] * 5
    assert [bytes(e.raw) for e in whole if isinstance(e, PduReceived)] == SUBMITS
    assert [bytes(e.raw) for e in pieces if isinstance(e, PduReceived)] == SUBMITS


def test_submit_before_bind_gets_invalid_bind_status_and_session_lives() -> None:
    s = Session(Role.SMSC)
    (ev,) = s.receive_data(SUBMITS[0])
    assert isinstance(ev, BadPdu) and ev.reply is not None
    resp = decode(ev.reply)
    assert isinstance(resp, P.SubmitSmResp)
    assert resp.command_status == Status.ESME_RINVBNDSTS and resp.sequence_number == 2
    (ev,) = s.receive_data(BIND)
    assert isinstance(ev, PduReceived)


def test_bind_twice_gets_already_bound() -> None:
    s = bound_smsc()
    (ev,) = s.receive_data(BIND)
    assert isinstance(ev, BadPdu) and ev.reply is not None
    assert decode(ev.reply).command_status == Status.ESME_RALYBND


def test_unknown_command_gets_generic_nack_then_next_pdu_parses() -> None:
    # cloudhopper decodeBadPduButSkipAllDataInBuffer: a bad PDU, then a good one
    s = bound_smsc()
    evs = s.receive_data(bytes.fromhex(
        "0000001100000110000000000a342ee70F0000001000000015000000000a342ee7"))
    assert isinstance(evs[0], BadPdu) and evs[0].reply is not None
    nack = decode(evs[0].reply)
    assert isinstance(nack, P.GenericNack) and nack.command_status == Status.ESME_RINVCMDID
    assert isinstance(evs[1], PduReceived) and isinstance(evs[1].pdu, P.EnquireLink)


def test_deliver_sm_from_an_esme_is_invalid_command() -> None:
    s = bound_smsc()
    (ev,) = s.receive_data(encode(P.DeliverSm(sequence_number=5)))
    assert isinstance(ev, BadPdu) and ev.reply is not None
    assert decode(ev.reply).command_status == Status.ESME_RINVCMDID


def test_truncated_body_answered_with_its_response_and_status() -> None:
    s = bound_smsc()
    body = bytes.fromhex("00000004000000000000000700010134343737")
    raw = (len(body) + 4).to_bytes(4, "big") + body
    (ev,) = s.receive_data(raw)
    assert isinstance(ev, BadPdu) and ev.reply is not None
    resp = decode(ev.reply)
    assert isinstance(resp, P.SubmitSmResp) and resp.sequence_number == 7
    assert resp.command_status == Status.ESME_RINVSRCADR
    assert s.state is State.BOUND_TRX
    assert isinstance(s.receive_data(SUBMITS[0])[0], PduReceived)


def test_bad_command_length_is_fatal_and_closes() -> None:
    s = bound_smsc()
    (ev,) = s.receive_data(bytes.fromhex("0000000800000004000000000000000100"))
    assert isinstance(ev, BadPdu) and ev.error.fatal and ev.reply is not None
    assert decode(ev.reply).command_status == Status.ESME_RINVCMDLEN
    assert s.state is State.CLOSED
    assert s.receive_data(SUBMITS[0]) == []


def test_esme_side_bind_and_receipt_flow() -> None:
    s = Session(Role.ESME)
    out = s.send(P.BindTransceiver(system_id="acme", password="secret"))
    assert decode(out).sequence_number == 1
    (ev,) = s.receive_data(encode(P.DeliverSm(sequence_number=1, esm_class=4)))
    assert isinstance(ev, BadPdu)  # not bound yet
    s.receive_data(encode(P.BindTransceiverResp(sequence_number=1, system_id="smsc")))
    assert s.state is State.BOUND_TRX
    (ev,) = s.receive_data(encode(P.DeliverSm(sequence_number=2, esm_class=4)))
    assert isinstance(ev, PduReceived)
    (ev,) = s.receive_data(encode(P.SubmitSm(sequence_number=3)))
    assert isinstance(ev, BadPdu)  # an SMSC never sends submit_sm


def test_failed_bind_stays_open_and_unbind_resp_unbinds() -> None:
    s = Session(Role.ESME)
    s.send(P.BindTransmitter(system_id="acme"))
    s.receive_data(encode(P.BindTransmitterResp(sequence_number=1, command_status=0x0E)))
    assert s.state is State.OPEN
    s.send(P.BindTransmitter(system_id="acme"))
    s.receive_data(encode(P.BindTransmitterResp(sequence_number=2)))
    assert s.state is State.BOUND_TX
    s.send(P.Unbind())
    s.receive_data(encode(P.UnbindResp(sequence_number=3)))
    assert s.state is State.UNBOUND


def test_receiver_bind_cannot_submit() -> None:
    s = Session(Role.SMSC)
    s.receive_data(encode(P.BindReceiver(sequence_number=1, system_id="r")))
    s.sent(0x80000001, 0)
    assert s.state is State.BOUND_RX
    (ev,) = s.receive_data(SUBMITS[0])
    assert isinstance(ev, BadPdu) and ev.reply is not None
    assert decode(ev.reply).command_status == Status.ESME_RINVBNDSTS


def test_sequence_numbers_wrap() -> None:
    s = Session(Role.ESME, first_sequence=0x7FFFFFFF)
    assert s.next_sequence() == 0x7FFFFFFF
    assert s.next_sequence() == 1
