"""The SMPP benchmark's stream: what it sends must not make the gateway wait.

A bind's slice that ended inside a concatenated message left parts held for the
concatenation timeout, and the throughput figure measured that wait; these tests
keep the slices and the fixed-rate steps on whole messages.
"""

from __future__ import annotations

import bench_smpp

from gateway.smpp.codec import decode
from gateway.smpp.pdu import SubmitSm

TRAFFIC = bench_smpp.traffic(4000)


def _later(pdu: bytes) -> bool:
    sm = decode(pdu)
    assert isinstance(sm, SubmitSm)
    return bool(sm.esm_class & 0x40) and sm.short_message[:3] == b"\x05\x00\x03" \
        and sm.short_message[5] > 1


def test_later_parts_are_told_apart_as_the_codec_reads_them() -> None:
    assert [bench_smpp._later_part(p) for p in TRAFFIC] == [_later(p) for p in TRAFFIC]
    assert 0 < sum(map(_later, TRAFFIC)) < len(TRAFFIC) // 5  # the stream has some


def test_every_slice_is_whole_messages() -> None:
    n = len(TRAFFIC)
    later = [_later(p) for p in TRAFFIC]
    cut = 0
    for per in range(900, 1000):  # slice edges at many places, some inside messages
        cut += any(later[(i * per + 1) % n] for i in range(4))
        for seq0, count in bench_smpp._slices(TRAFFIC, 4, per):
            # _pump sends TRAFFIC[seq0 + 1] ... TRAFFIC[seq0 + count]
            assert count >= per
            assert not later[(seq0 + 1) % n]  # starts with a first part or a single message
            assert not later[(seq0 + count + 1) % n]  # what follows starts a message
    assert cut  # the plain slices would have cut messages
