"""submit_multi judged per destination (SMPP 3.4 sections 4.5.1, 4.5.2).

Each destination gets its own verdict. The operator-sensible outcome, and the one
the spec provides for, is per destination: the SMSC receives the submit_multi with
only the allowed destinations, and the ESME's submit_multi_resp lists every
rejected destination in ``unsuccess_smes`` with the rule's command_status, next to
whatever the SMSC itself refused. When every destination is rejected the proxy
answers alone (``command_status`` of the first rejecting verdict, every destination
listed); a destination the rules say to *drop* is left out silently (the sender is
told nothing, as for a dropped submit_sm).

Leaving destinations out is a splice of the received bytes: ``number_of_dests`` and
the removed ``dest_address`` entries change, and ``command_length``; every other
byte (unknown TLVs, odd encodings) reaches the SMSC as sent.
"""

from __future__ import annotations

import dataclasses
import struct

from gateway.smpp.codec import decode, encode
from gateway.smpp.pdu import DestAddress, SubmitMultiResp, UnsuccessSme

__all__ = ["add_unsuccess", "dests_offset", "rejection", "without_dests"]

_LEN = struct.Struct(">I")


def _cstr_end(raw: bytes | memoryview, pos: int) -> int:
    end = bytes(raw[pos:pos + 66]).index(b"\x00")  # C-octet strings are short
    return pos + end + 1


def dests_offset(raw: bytes | memoryview) -> int:
    """Offset of ``number_of_dests`` in a submit_multi that already decoded cleanly."""
    pos = _cstr_end(raw, 16)  # service_type
    return _cstr_end(raw, pos + 2)  # source_addr_ton, source_addr_npi, source_addr


def without_dests(raw: bytes | memoryview, drop: set[int]) -> bytes:
    """The submit_multi bytes with the destinations at indexes ``drop`` removed."""
    start = dests_offset(raw)
    count = raw[start]
    pos = start + 1
    kept: list[bytes | memoryview] = []
    for i in range(count):
        end = pos + 1
        end = _cstr_end(raw, end + 2) if raw[pos] == 1 else _cstr_end(raw, end)
        if i not in drop:
            kept.append(raw[pos:end])
        pos = end
    body = b"".join((raw[4:start], bytes((len(kept),)), *kept, raw[pos:]))
    return _LEN.pack(len(body) + 4) + body


def unsuccess(dest: DestAddress, status: int) -> UnsuccessSme:
    return UnsuccessSme(dest.dest_addr_ton, dest.dest_addr_npi, dest.destination_addr, status)


def rejection(seq: int, status: int, failed: tuple[UnsuccessSme, ...]) -> bytes:
    """The proxy's own submit_multi_resp when no destination may go on."""
    return encode(SubmitMultiResp(sequence_number=seq, command_status=status,
                                  unsuccess_smes=failed))


def add_unsuccess(raw: bytes | memoryview, failed: tuple[UnsuccessSme, ...]) -> bytes:
    """The SMSC's submit_multi_resp with the destinations the proxy rejected added to
    ``unsuccess_smes`` (only the response is re-encoded, never a forwarded request)."""
    resp = decode(bytes(raw))
    assert isinstance(resp, SubmitMultiResp)
    return encode(dataclasses.replace(resp, unsuccess_smes=resp.unsuccess_smes + failed))
