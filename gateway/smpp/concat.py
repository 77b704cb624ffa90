"""Concatenated messages: parts held until the whole text can be judged once.

Sans-IO: the caller passes the clock. ``message_parts(esm_class, short_message,
tlvs)`` finds the concatenation info (UDH IEI 0x00 / 0x08 or the SAR TLVs) and
the user data; ``Reassembler`` collects parts per key until all have arrived
(``add`` returns the ``Group``) or the timeout passes (``expire`` returns the
incomplete groups, judged on what arrived). A verdict is remembered per key for a
while (``settle`` / ``settled``) so a late straggler gets the same verdict as its
siblings instead of being judged alone.
"""

from __future__ import annotations

import struct
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from gateway.smpp.text import ESM_UDHI, Concat, Udh, decode_text, split_udh

__all__ = ["Group", "Reassembler", "message_parts"]

T = TypeVar("T")

TAG_SAR_MSG_REF_NUM = 0x020C
TAG_SAR_TOTAL_SEGMENTS = 0x020E
TAG_SAR_SEGMENT_SEQNUM = 0x020F
TAG_MESSAGE_PAYLOAD = 0x0424


def message_parts(
    esm_class: int, short_message: bytes, tlvs: tuple[tuple[int, bytes], ...]
) -> tuple[Concat | None, Udh | None, bytes]:
    """(concatenation info, UDH, user data) of a message PDU.

    The text is in message_payload when short_message is empty (SMPP 3.4 5.3.2.32).
    """
    if not tlvs and not esm_class & ESM_UDHI:  # most messages: one part, text as is
        return None, None, short_message
    data = short_message
    sar: dict[int, bytes] = {}
    for tag, value in tlvs:
        if tag == TAG_MESSAGE_PAYLOAD and not short_message:
            data = value
        elif tag in (TAG_SAR_MSG_REF_NUM, TAG_SAR_TOTAL_SEGMENTS, TAG_SAR_SEGMENT_SEQNUM):
            sar[tag] = value
    udh: Udh | None = None
    if esm_class & ESM_UDHI:
        udh, data = split_udh(data)
    concat = udh.concat if udh is not None else None
    if concat is None and len(sar) == 3:
        ref, total, seq = (sar[TAG_SAR_MSG_REF_NUM], sar[TAG_SAR_TOTAL_SEGMENTS],
                           sar[TAG_SAR_SEGMENT_SEQNUM])
        if len(ref) == 2 and len(total) == 1 and len(seq) == 1 and 1 <= seq[0] <= total[0]:
            concat = Concat(struct.unpack(">H", ref)[0], total[0], seq[0])
    return concat, udh, data


@dataclass(slots=True)
class Group(Generic[T]):
    key: Hashable
    total: int
    started: float
    items: list[tuple[int, T]] = field(default_factory=list)  # (part number, item)
    texts: dict[int, str | None] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return len(self.texts) >= self.total

    @property
    def text(self) -> str | None:
        """The joined text of the parts that arrived, in order; ``None`` if all binary."""
        parts = [self.texts[i] for i in sorted(self.texts)]
        if all(p is None for p in parts):
            return None
        return "".join(p or "" for p in parts)

    def ordered(self) -> list[T]:
        return [item for _n, item in sorted(self.items, key=lambda x: x[0])]


class Reassembler(Generic[T]):
    def __init__(self, timeout: float = 2.0, remember: float = 60.0) -> None:
        self.timeout = timeout
        self.remember = remember
        self._groups: dict[Hashable, Group[T]] = {}
        self._settled: dict[Hashable, tuple[float, Any]] = {}

    def __len__(self) -> int:
        return len(self._groups)

    def add(self, key: Hashable, concat: Concat, text: str | None, item: T,
            now: float) -> Group[T] | None:
        """Hold a part; returns its group once every part has arrived."""
        group = self._groups.get(key)
        if group is None:
            group = self._groups[key] = Group(key, concat.total, now)
        group.items.append((concat.seq, item))
        group.texts.setdefault(concat.seq, text)
        if group.complete:
            del self._groups[key]
            return group
        return None

    def next_deadline(self) -> float | None:
        """When the oldest group times out (groups are kept in the order they began)."""
        for group in self._groups.values():
            return group.started + self.timeout
        return None

    def expire(self, now: float) -> list[Group[T]]:
        """Groups held as long as the timeout (judged on the parts that arrived)."""
        timeout = self.timeout
        late = []
        for g in self._groups.values():  # in the order they began
            if g.started + timeout > now:
                break
            late.append(g)
        for g in late:
            del self._groups[g.key]
        # settled verdicts are kept in time order (see settle): expire from the front
        settled = self._settled
        while settled:
            k = next(iter(settled))
            if settled[k][0] + self.remember > now:
                break
            del settled[k]
        return late

    def drain(self) -> list[Group[T]]:
        """Every held group, now (shutdown, connection loss)."""
        groups = list(self._groups.values())
        self._groups.clear()
        return groups

    def settle(self, key: Hashable, verdict: Any, now: float) -> None:
        self._settled.pop(key, None)  # re-inserted at the end: the dict stays in time order
        self._settled[key] = (now, verdict)

    def settled(self, key: Hashable) -> Any:
        hit = self._settled.get(key)
        return None if hit is None else hit[1]


def part_text(data: bytes, data_coding: int) -> str | None:
    return decode_text(data, data_coding)
