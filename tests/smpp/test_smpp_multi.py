"""submit_multi per destination, sans-IO: the splice of the received bytes and the
merged response."""

from __future__ import annotations

import dataclasses

from hypothesis import given
from hypothesis import strategies as st

from gateway.smpp.codec import decode, encode
from gateway.smpp.multi import add_unsuccess, rejection, without_dests
from gateway.smpp.pdu import DestAddress, SubmitMulti, SubmitMultiResp, UnsuccessSme

_addr = st.text(alphabet="0123456789+ABCxyz", max_size=20)
_dest = st.one_of(  # a distribution list (flag 2) has a name only, no TON/NPI
    st.builds(DestAddress, st.just(1), st.integers(0, 6), st.integers(0, 18), _addr),
    st.builds(DestAddress, st.just(2), st.just(0), st.just(0), _addr))
_tlv = st.tuples(st.integers(0x1400, 0x3FFF), st.binary(max_size=30))


@given(dests=st.lists(_dest, min_size=1, max_size=12), drop=st.sets(st.integers(0, 11)),
       sm=st.binary(max_size=140), tlvs=st.lists(_tlv, max_size=3),
       service=st.text(alphabet="ABC", max_size=5), seq=st.integers(1, 0x7FFFFFFF))
def test_without_dests_removes_exactly_those_and_keeps_every_other_byte(
        dests: list[DestAddress], drop: set[int], sm: bytes, tlvs: list[tuple[int, bytes]],
        service: str, seq: int) -> None:
    pdu = SubmitMulti(sequence_number=seq, service_type=service, source_addr="447700900123",
                      dest_addresses=tuple(dests), esm_class=0x40, data_coding=8,
                      short_message=sm, tlvs=tuple(tlvs))
    raw = encode(pdu)
    drop = {i for i in drop if i < len(dests)}
    got = without_dests(memoryview(raw), drop)
    kept = tuple(d for i, d in enumerate(dests) if i not in drop)
    assert decode(got) == dataclasses.replace(pdu, dest_addresses=kept)
    assert got == encode(dataclasses.replace(pdu, dest_addresses=kept))


def test_response_merge_and_own_rejection() -> None:
    theirs = UnsuccessSme(1, 1, "447700900999", 0x0B)
    ours = (UnsuccessSme(1, 1, "447700900666", 0x65),)
    resp = encode(SubmitMultiResp(sequence_number=9, message_id="abc", unsuccess_smes=(theirs,)))
    merged = decode(add_unsuccess(resp, ours))
    assert isinstance(merged, SubmitMultiResp)
    assert merged.message_id == "abc" and merged.unsuccess_smes == (theirs, *ours)
    own = decode(rejection(4, 0x65, ours))
    assert isinstance(own, SubmitMultiResp)
    assert (own.sequence_number, own.command_status, own.unsuccess_smes) == (4, 0x65, ours)
