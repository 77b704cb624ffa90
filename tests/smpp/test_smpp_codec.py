"""Codec: bytes in, PDUs out (and back), on recordings and other implementations' vectors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway.smpp import pdu as P
from gateway.smpp.codec import RemoteProtocolError, decode, encode, response_for
from gateway.smpp.pdu import Status

DATA = Path(__file__).resolve().parents[1] / "data"
KANNEL = [json.loads(line) for line in (DATA / "kannel_pdus.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("rec", KANNEL, ids=[r["what"][:40] for r in KANNEL])
def test_kannel_recordings_decode_and_reencode_byte_identical(rec: dict[str, str]) -> None:
    raw = bytes.fromhex(rec["pdu"])
    pdu = decode(raw)
    assert type(pdu).__name__.lower().replace("resp", "_resp").replace("sm", "_sm").replace(
        "bindtransceiver", "bind_transceiver").replace("__", "_") == rec["command"]
    assert encode(pdu) == raw


def test_kannel_submit_fields() -> None:
    bind = decode(bytes.fromhex(KANNEL[0]["pdu"]))
    assert bind == P.BindTransceiver(sequence_number=1, system_id="acme", password="secret",
                                     interface_version=0x34)
    sm = decode(bytes.fromhex(KANNEL[1]["pdu"]))
    assert isinstance(sm, P.SubmitSm)
    assert (sm.source_addr, sm.source_addr_ton, sm.destination_addr) == (
        "447700900123", 1, "447700900456")
    assert sm.registered_delivery == 0x11 and sm.esm_class == 0x03
    assert sm.short_message == b"hello from kannel DLR"
    part1 = decode(bytes.fromhex(KANNEL[4]["pdu"]))
    assert isinstance(part1, P.SubmitSm)
    assert part1.esm_class == 0x43 and part1.tlvs == ((0x0426, b"\x01"),)


def test_smpplib_deliver_sm_receipt_vector() -> None:
    # python-smpplib tests/test_command.py::test_parse_deliver_sm
    raw = (
        b"\x00\x00\x00\xcb\x00\x00\x00\x05\x00\x00\x00\x00\x00\x00\x00\x01\x00"
        b"\x01\x0131600000000\x00\x05\x00XXX YYYY\x00\x04\x00\x00\x00\x00\x00"
        b"\x00\x00\x00\x00\x00\x0e\x00\x01\x01\x00\x06\x00\x01\x01\x00\x1e\x00"
        b"\t1d305b4c\x00\x04'\x00\x01\x02\x04$\x00rid:0489708364 sub:001"
        b" dlvrd:001 submit date:1810151907 done date:1810151907 stat:DELIVRD"
        b" err:000 text:\x04\x1f\x04@\x048\x042\x045\x04B\x04&\x00\x01\x01"
    )
    pdu = decode(raw)
    assert isinstance(pdu, P.DeliverSm)
    assert (pdu.source_addr_ton, pdu.source_addr_npi, pdu.source_addr) == (1, 1, "31600000000")
    assert (pdu.dest_addr_ton, pdu.destination_addr) == (5, "XXX YYYY")
    assert pdu.esm_class == 0x04 and pdu.short_message == b""
    tags = dict(pdu.tlvs)
    assert tags[0x001E] == b"1d305b4c\x00"
    assert tags[0x0427] == b"\x02"
    assert tags[0x0424].startswith(b"id:0489708364")
    assert tags[0x0426] == b"\x01"  # kept although no field knows it
    assert encode(pdu) == raw


def test_unknown_tlvs_pass_through() -> None:
    # python-smpplib test_unrecognised_optional_parameters: vendor TLVs 0x1403, 0x1402
    raw = (b"\x00\x00\x00\xa8\x00\x00\x00\x05\x00\x00\x00\x00/p\xc6"
           b"\x9a\x00\x00\x0022549909028\x00\x01\x00\x00\x04\x00\x00"
           b"\x00\x00\x00\x00\x00\x00iid:795920026 sub:001 dlvrd:001 "
           b"submit date:200319131913 done date:200319131913 stat:DELIVRD err:000 text:"
           b"\x14\x03\x00\x07(null)\x00\x14\x02\x00\x04612\x00")
    pdu = decode(raw)
    assert isinstance(pdu, P.DeliverSm)
    assert pdu.tlvs == ((0x1403, b"(null)\x00"), (0x1402, b"612\x00"))
    assert encode(pdu) == raw


@pytest.mark.parametrize(("hexpdu", "expected"), [
    # cloudhopper-smpp PduDecoderTest vectors
    ("0000001000000015000000007fffffff", P.EnquireLink(sequence_number=0x7FFFFFFF)),
    ("0000001080000015000000000a342eed", P.EnquireLinkResp(sequence_number=171192045)),
    ("0000001c80000004000000000a342ee1393432353834333135393400",
     P.SubmitSmResp(sequence_number=171192033, message_id="94258431594")),
    ("0000001080000004000000000a342ee1", P.SubmitSmResp(sequence_number=171192033)),
    ("0000001180000004000000000a342ee100", P.SubmitSmResp(sequence_number=171192033)),
    ("0000001c800000050000000000116ac7393432353834333135393400",
     P.DeliverSmResp(sequence_number=1141447, message_id="94258431594")),
    ("00000010800000050000000000116ac7", P.DeliverSmResp(sequence_number=1141447)),
    ("0000001c800001030000000000116ac7393432353834333135393400",
     P.DataSmResp(sequence_number=1141447, message_id="94258431594")),
])
def test_cloudhopper_vectors(hexpdu: str, expected: P.Pdu) -> None:
    assert decode(bytes.fromhex(hexpdu)) == expected


def test_unknown_command_is_typed_error_with_status_and_bytes() -> None:
    raw = bytes.fromhex("0000001000000110000000000a342ee7")
    with pytest.raises(RemoteProtocolError) as e:
        decode(raw)
    assert e.value.command_status == Status.ESME_RINVCMDID
    assert e.value.data == raw and not e.value.fatal


@pytest.mark.parametrize(("hexpdu", "status"), [
    # submit_sm cut inside source_addr, destination_addr, short_message
    ("0000001a00000004000000000000000100010134343737", Status.ESME_RINVSRCADR),
    ("000000200000000400000000000000010001013400010134343737", Status.ESME_RINVDSTADR),
    ("00000000000000040000000000000001000101340001013400" "000000000000000000" "05616263",
     Status.ESME_RINVMSGLEN),
])
def test_truncated_fields_give_field_status(hexpdu: str, status: int) -> None:
    raw = bytes.fromhex(hexpdu)
    raw = len(raw).to_bytes(4, "big") + raw[4:]
    with pytest.raises(RemoteProtocolError) as e:
        decode(raw)
    assert e.value.command_status == status


def test_bad_length_is_fatal() -> None:
    with pytest.raises(RemoteProtocolError) as e:
        decode(bytes.fromhex("F000001100000110000000000a342ee7"))
    assert e.value.fatal and e.value.command_status == Status.ESME_RINVCMDLEN


ROUNDTRIP = [
    P.BindTransmitter(sequence_number=1, system_id="a", password="b", system_type="VMA",
                      addr_ton=1, addr_npi=1, address_range="44*"),
    P.BindReceiverResp(sequence_number=2, system_id="smsc", tlvs=((0x0210, b"\x34"),)),
    P.Outbind(sequence_number=3, system_id="smsc", password="pw"),
    P.Unbind(sequence_number=4), P.UnbindResp(sequence_number=4),
    P.GenericNack(sequence_number=5, command_status=Status.ESME_RINVCMDID),
    P.SubmitMulti(sequence_number=6, source_addr="x", dest_addresses=(
        P.DestAddress(1, 1, 1, "447700900456"), P.DestAddress(2, 0, 0, "friends")),
        short_message=b"hi", tlvs=((0x0204, b"\x00\x01"),)),
    P.SubmitMultiResp(sequence_number=6, message_id="m1", unsuccess_smes=(
        P.UnsuccessSme(1, 1, "447700900457", 0x0B),)),
    P.DataSm(sequence_number=7, source_addr="1", destination_addr="2", esm_class=0x40,
             tlvs=((0x0424, b"\x05\x00\x03\x01\x02\x01abc"),)),
    P.QuerySm(sequence_number=8, message_id="m1", source_addr="1"),
    P.QuerySmResp(sequence_number=8, message_id="m1", final_date="", message_state=2),
    P.CancelSm(sequence_number=9, message_id="m1", source_addr="1", destination_addr="2"),
    P.CancelSmResp(sequence_number=9),
    P.ReplaceSm(sequence_number=10, message_id="m1", source_addr="1", short_message=b"new"),
    P.ReplaceSmResp(sequence_number=10),
    P.AlertNotification(sequence_number=11, source_addr="1", esme_addr="2",
                        tlvs=((0x0422, b"\x00"),)),
]


@pytest.mark.parametrize("pdu", ROUNDTRIP, ids=lambda p: type(p).__name__)
def test_every_pdu_roundtrips(pdu: P.Pdu) -> None:
    assert decode(encode(pdu)) == pdu


def test_response_for_shapes() -> None:
    assert decode(response_for(0x04, 7, 0x65)) == P.SubmitSmResp(sequence_number=7,
                                                                  command_status=0x65)
    assert decode(response_for(0x21, 7, 0x58)) == P.SubmitMultiResp(sequence_number=7,
                                                                     command_status=0x58)
    assert decode(response_for(0x80000004, 7, 3)) == P.GenericNack(sequence_number=7,
                                                                    command_status=3)


def test_cross_check_with_smpplib_and_aiosmpp_encoders() -> None:
    """Two independent encoders produce bytes our decoder reads as the same PDU."""
    import aiosmpp.smpp
    import smpplib.client
    import smpplib.smpp

    kwargs = dict(source_addr_ton=1, source_addr="447700900123", dest_addr_ton=1,
                  destination_addr="447700900456", short_message=b"hello", registered_delivery=1)
    client = smpplib.client.Client("127.0.0.1", 1, allow_unknown_opt_params=True)
    ours = P.SubmitSm(sequence_number=9, source_addr_ton=1, source_addr="447700900123",
                      dest_addr_ton=1, destination_addr="447700900456",
                      short_message=b"hello", registered_delivery=1)
    a = smpplib.smpp.make_pdu("submit_sm", client=client, **kwargs)
    a.sequence = 9
    import aiosmpp.client

    b = aiosmpp.smpp.make_pdu("submit_sm", client=aiosmpp.client.Client("127.0.0.1", 1),
                              **kwargs)
    b.sequence = 9
    for raw in (a.generate(), b.generate()):
        got = decode(raw)
        assert isinstance(got, P.SubmitSm)
        assert (got.source_addr, got.destination_addr, got.short_message,
                got.registered_delivery) == ("447700900123", "447700900456", b"hello", 1)
    assert encode(ours) == a.generate()
