"""Hypothesis: no exception escapes the codec or the session, every output decodes."""

from __future__ import annotations

import struct
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.smpp import pdu as P
from gateway.smpp.codec import LAYOUTS, RemoteProtocolError, decode, encode
from gateway.smpp.concat import message_parts
from gateway.smpp.session import BadPdu, PduReceived, Role, Session
from gateway.smpp.text import decode_text

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

cstr = st.text(st.characters(min_codepoint=1, max_codepoint=255), max_size=24)
octet = st.integers(0, 255)
tlvs = st.lists(st.tuples(st.integers(0, 0xFFFF), st.binary(max_size=40)), max_size=4).map(tuple)
seq = st.integers(1, 0x7FFFFFFF)

submit_sm = st.builds(
    P.SubmitSm, sequence_number=seq, service_type=cstr, source_addr_ton=octet,
    source_addr_npi=octet, source_addr=cstr, dest_addr_ton=octet, dest_addr_npi=octet,
    destination_addr=cstr, esm_class=octet, protocol_id=octet, priority_flag=octet,
    schedule_delivery_time=cstr, validity_period=cstr, registered_delivery=octet,
    replace_if_present_flag=octet, data_coding=octet, sm_default_msg_id=octet,
    short_message=st.binary(max_size=255), tlvs=tlvs)
deliver_sm = submit_sm.map(lambda p: P.DeliverSm(**_fields(p)))


def _fields(p: P.Pdu) -> dict[str, object]:
    import dataclasses
    return {f.name: getattr(p, f.name) for f in dataclasses.fields(p)}


any_pdu = st.one_of(
    submit_sm, deliver_sm,
    st.builds(P.SubmitSmResp, sequence_number=seq, command_status=st.integers(0, 0xFFFF),
              message_id=cstr, tlvs=tlvs),
    st.builds(P.BindTransceiver, sequence_number=seq, system_id=cstr, password=cstr,
              system_type=cstr, interface_version=octet, addr_ton=octet, addr_npi=octet,
              address_range=cstr),
    st.builds(P.DataSm, sequence_number=seq, source_addr=cstr, destination_addr=cstr,
              esm_class=octet, data_coding=octet, tlvs=tlvs),
    st.builds(P.SubmitMulti, sequence_number=seq, source_addr=cstr, dest_addresses=st.lists(
        st.one_of(st.builds(P.DestAddress, st.just(1), octet, octet, cstr),
                  st.builds(P.DestAddress, st.just(2), st.just(0), st.just(0), cstr)),
        max_size=5).map(tuple), short_message=st.binary(max_size=100), tlvs=tlvs),
    st.builds(P.EnquireLink, sequence_number=seq),
    st.builds(P.Unbind, sequence_number=seq),
    st.builds(P.GenericNack, sequence_number=seq, command_status=octet),
)


@FAST
@given(any_pdu)
def test_encode_then_decode_is_identity(pdu: P.Pdu) -> None:
    raw = encode(pdu)
    assert decode(raw) == pdu
    assert encode(decode(raw)) == raw


@FAST
@given(st.sampled_from(sorted(LAYOUTS)), st.integers(0, 0xFFFFFFFF), seq,
       st.binary(max_size=300))
def test_decode_raises_only_typed_errors(cid: int, status: int, sq: int, body: bytes) -> None:
    raw = struct.pack(">IIII", 16 + len(body), cid, status, sq) + body
    try:
        pdu = decode(raw)
    except RemoteProtocolError as e:
        assert e.command_status > 0 and e.data
    else:
        assert pdu.sequence_number == sq


def _feed(session: Session, data: bytes, cuts: list[int]) -> list[PduReceived | BadPdu]:
    events: list[PduReceived | BadPdu] = []
    pos = 0
    for c in [*sorted(set(cuts)), len(data)]:
        events += session.receive_data(data[pos:c])
        pos = max(pos, c)
    return events


@FAST
@given(st.lists(st.one_of(any_pdu.map(encode), st.binary(max_size=40)), max_size=8),
       st.lists(st.integers(0, 2000), max_size=10), st.sampled_from(list(Role)))
def test_session_survives_garbage_and_replies_decode(parts: list[bytes], cuts: list[int],
                                                     role: Role) -> None:
    data = b"".join(parts)
    s = Session(role)
    for ev in _feed(s, data, cuts):
        if isinstance(ev, BadPdu):
            assert ev.error.command_status > 0
            if ev.reply is not None:
                decode(ev.reply)
        else:
            assert encode(ev.pdu) == bytes(ev.raw) or ev.pdu.is_response


@FAST
@given(st.lists(any_pdu.map(encode), min_size=1, max_size=6),
       st.lists(st.integers(0, 3000), max_size=12))
def test_chunking_does_not_change_events(pdus: list[bytes], cuts: list[int]) -> None:
    data = b"".join(pdus)
    whole = Session(Role.SMSC).receive_data(data)
    split = _feed(Session(Role.SMSC), data, cuts)
    assert [type(e) for e in whole] == [type(e) for e in split]
    assert [bytes(e.raw) for e in whole if isinstance(e, PduReceived)] == \
        [bytes(e.raw) for e in split if isinstance(e, PduReceived)]


@FAST
@given(octet, st.binary(max_size=200), tlvs)
def test_text_and_udh_never_raise(dc: int, sm: bytes, t: tuple[tuple[int, bytes], ...]) -> None:
    concat, _udh, data = message_parts(0x40, sm, t)
    if concat is not None:
        assert 1 <= concat.seq <= concat.total
    decode_text(data, dc)
    decode_text(sm, dc)


# the unrolled submit_sm/deliver_sm decoder checks fixed-width octets as one group and
# names the group's first field when the group is cut short (same status either way)
_GROUPED = {"source_addr_npi": "source_addr_ton", "dest_addr_npi": "dest_addr_ton",
            "protocol_id": "esm_class", "priority_flag": "esm_class",
            "replace_if_present_flag": "registered_delivery",
            "data_coding": "registered_delivery", "sm_default_msg_id": "registered_delivery"}


def _generic_decode(cid: int, status: int, sq: int, data: bytes) -> P.Pdu:
    """decode_body through the generic field table only (no fast paths)."""
    from gateway.smpp.codec import _ADDR_STATUS, _SHORT_MESSAGE, _fields, _Truncated

    cls, layout = LAYOUTS[cid]
    kw: dict[str, object] = {"sequence_number": sq, "command_status": status}
    try:
        pos = _fields(data, 16, len(data), layout, kw)
    except _Truncated as t:
        if cid & P.RESPONSE_BIT:
            return cls(**kw)
        field = _GROUPED.get(t.field, t.field) if layout is _SHORT_MESSAGE else t.field
        raise RemoteProtocolError(f"truncated {cls.__name__}.{field}",
                                  _ADDR_STATUS.get(t.field, P.Status.ESME_RINVCMDLEN),
                                  data, command_id=cid, sequence_number=sq) from None
    if pos != len(data) and not cid & P.RESPONSE_BIT:
        raise RemoteProtocolError(f"{len(data) - pos} stray bytes after {cls.__name__}",
                                  P.Status.ESME_RINVCMDLEN, data, command_id=cid,
                                  sequence_number=sq)
    return cls(**kw)


_FAST_PATHS = (P.CommandId.SUBMIT_SM, P.CommandId.DELIVER_SM, P.CommandId.SUBMIT_SM_RESP,
               P.CommandId.DELIVER_SM_RESP, P.CommandId.DATA_SM_RESP)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(_FAST_PATHS), st.integers(0, 0xFFFFFFFF), seq,
       st.one_of(any_pdu.map(lambda p: encode(p)[16:]), st.binary(max_size=60)),
       st.integers(-8, 8), st.binary(max_size=6))
def test_fast_paths_decode_as_the_field_table(cid: int, status: int, sq: int, body: bytes,
                                              cut: int, extra: bytes) -> None:
    """submit_sm/deliver_sm and message_id responses have fast decoders: they give the
    same PDU, or the same error, as the generic table, for any body."""
    from gateway.smpp.codec import decode_body

    if cut < 0:
        body = body[:cut]
    elif cut > 4:
        body += extra
    data = struct.pack(">IIII", 16 + len(body), cid, status, sq) + body
    try:
        want: P.Pdu | RemoteProtocolError = _generic_decode(cid, status, sq, data)
    except RemoteProtocolError as e:
        want = e
    try:
        got: P.Pdu | RemoteProtocolError = decode_body(cid, status, sq, data, 16, len(data))
    except RemoteProtocolError as e:
        got = e
    if isinstance(want, RemoteProtocolError):
        assert isinstance(got, RemoteProtocolError)
        assert (str(got), got.command_status, got.data, got.command_id, got.sequence_number) \
            == (str(want), want.command_status, want.data, want.command_id, want.sequence_number)
    else:
        assert got == want
        assert type(got) is type(want)


@FAST
@given(st.one_of(submit_sm, deliver_sm,
                 st.builds(P.DataSm, sequence_number=seq, source_addr=cstr,
                           source_addr_ton=octet, source_addr_npi=octet,
                           destination_addr=cstr, dest_addr_ton=octet, dest_addr_npi=octet,
                           esm_class=octet, registered_delivery=octet, data_coding=octet,
                           tlvs=tlvs)),
       st.one_of(st.none(), st.text(max_size=20)), st.integers(1, 5), st.booleans())
def test_build_event_fast_path_is_the_event_the_fields_give(
        pdu: P.Pdu, text: str | None, parts: int, udh: bool) -> None:
    from gateway.model import Channel, Direction, Event
    from gateway.numbers import Numbering
    from gateway.smpp.translate import build_event

    n = Numbering("GB")
    ev = build_event(pdu, text, numbering=n, direction=Direction.OUT,  # type: ignore[arg-type]
                     route="r1", parts=parts, udh=udh, now=12.5)
    p: Any = pdu
    want = Event(
        channel=Channel.SMS, direction=Direction.OUT,
        src=n.from_smpp(p.source_addr, p.source_addr_ton, p.source_addr_npi),
        dst=n.from_smpp(p.destination_addr, p.dest_addr_ton, p.dest_addr_npi),
        text=text, route="r1", ts=12.5, parts=parts,
        details={"command": {P.SubmitSm: "submit_sm", P.DeliverSm: "deliver_sm",
                             P.DataSm: "data_sm"}[type(p)],
                 "esm_class": p.esm_class, "data_coding": p.data_coding,
                 "source_addr_ton": p.source_addr_ton, "source_addr_npi": p.source_addr_npi,
                 "dest_addr_ton": p.dest_addr_ton, "dest_addr_npi": p.dest_addr_npi,
                 "registered_delivery": p.registered_delivery, "udh": udh, "pdus": ()})
    assert ev == want
    assert list(ev.details) == list(want.details)
