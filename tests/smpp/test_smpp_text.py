"""Text decoding, UDH and concatenation reassembly."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from gateway.smpp.concat import Reassembler, message_parts
from gateway.smpp.text import Concat, decode_text, encode_gsm, split_udh


def test_gsm_default_alphabet_with_extension_table() -> None:
    text = "Hello @£$¥ {world} [x] ~ | \\ ^ €5 ÄÖÑÜ§¿"
    raw = encode_gsm(text)
    assert raw[0:5] == b"Hello" and raw[6] == 0x00  # '@' is septet 0
    assert b"\x1b\x28" in raw and b"\x1b\x65" in raw  # '{' and '€' via ESC
    assert decode_text(raw, 0) == text


def test_ucs2_latin1_ascii_binary() -> None:
    assert decode_text(bytes.fromhex("043f04400438043204350442"), 8) == "привет"
    assert decode_text("😀 ok".encode("utf-16-be"), 8) == "😀 ok"
    assert decode_text("café".encode("latin-1"), 3) == "café"
    assert decode_text(b"plain", 1) == "plain"
    assert decode_text(b"\x00\x01\x02", 4) is None
    assert decode_text(b"\x00\x01\x02", 2) is None
    assert decode_text(b"\x01\x02", 0xF6) is None  # 8-bit data, class 2 (SIM)
    assert decode_text(encode_gsm("flash"), 0xF0) == "flash"
    assert decode_text(b"\x04\x3f\x00", 8) == "п"  # odd length never raises


def test_udh_concat_8bit_and_16bit_refs() -> None:
    udh, rest = split_udh(bytes.fromhex("050003cc0302") + b"abc")
    assert udh is not None and udh.concat == Concat(0xCC, 3, 2) and rest == b"abc"
    udh, rest = split_udh(bytes.fromhex("06080412340201") + b"x")
    assert udh is not None and udh.concat == Concat(0x1234, 2, 1) and rest == b"x"
    # a header longer than the message: no UDH, all text
    assert split_udh(b"\x09ab") == (None, b"\x09ab")


def test_sar_tlvs_and_message_payload() -> None:
    tlvs = ((0x020C, b"\x00\x07"), (0x020E, b"\x02"), (0x020F, b"\x01"),
            (0x0424, b"payload text"))
    concat, udh, data = message_parts(0, b"", tlvs)
    assert concat == Concat(7, 2, 1) and udh is None and data == b"payload text"


def test_reassembler_complete_timeout_and_stragglers() -> None:
    r: Reassembler[str] = Reassembler(timeout=2.0)
    assert r.add("k", Concat(1, 3, 2), "b", "p2", now=0.0) is None
    assert r.add("k", Concat(1, 3, 3), "c", "p3", now=0.1) is None
    g = r.add("k", Concat(1, 3, 1), "a", "p1", now=0.2)
    assert g is not None and g.text == "abc" and g.ordered() == ["p1", "p2", "p3"]
    assert len(r) == 0
    r.add("j", Concat(2, 3, 1), "x", "q1", now=1.0)
    assert r.expire(2.9) == []
    (late,) = r.expire(3.0)
    assert late.text == "x" and not late.complete
    r.settle("j", "BLOCK", 3.0)
    assert r.settled("j") == "BLOCK"
    r.expire(100.0)
    assert r.settled("j") is None


@given(st.binary(max_size=300))
def test_gsm_octets_map_one_to_one_to_the_default_alphabet(data: bytes) -> None:
    from gateway.smpp.text import GSM_BASIC, GSM_EXTENSION

    expected, esc = [], False  # 3GPP TS 23.038: 0x1B escapes to the extension table
    for b in data:
        if esc:
            expected.append(GSM_EXTENSION.get(b & 0x7F, GSM_BASIC[b & 0x7F]))
            esc = False
        elif b == 0x1B:
            esc = True
        else:
            expected.append(GSM_BASIC[b & 0x7F])
    assert decode_text(data, 0) == "".join(expected)
