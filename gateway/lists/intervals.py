"""Sorted, disjoint half-open key intervals: the home of broad prefixes.

Roaring-64 keeps one container per 2^16 keys, so a prefix such as ``+882*`` (10^12
numbers at 15 digits) cannot live in a bitmap. Broad ranges are kept here as two
sorted arrays and answered with one bisect.
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from collections.abc import Iterable

__all__ = ["Intervals", "intersect", "normalize", "subtract"]

Span = tuple[int, int]


def normalize(spans: Iterable[Span]) -> list[Span]:
    """Sort and merge overlapping or touching spans; drop empty ones."""
    out: list[Span] = []
    for lo, hi in sorted(s for s in spans if s[0] < s[1]):
        if out and lo <= out[-1][1]:
            if hi > out[-1][1]:
                out[-1] = (out[-1][0], hi)
        else:
            out.append((lo, hi))
    return out


def intersect(a: list[Span], b: list[Span]) -> list[Span]:
    """Intersection of two normalized span lists."""
    out: list[Span] = []
    i = j = 0
    while i < len(a) and j < len(b):
        lo = max(a[i][0], b[j][0])
        hi = min(a[i][1], b[j][1])
        if lo < hi:
            out.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def subtract(a: list[Span], b: list[Span]) -> list[Span]:
    """``a`` minus ``b``, both normalized."""
    out: list[Span] = []
    j = 0
    for lo, hi in a:
        while j < len(b) and b[j][1] <= lo:
            j += 1
        k = j
        cur = lo
        while k < len(b) and b[k][0] < hi:
            if b[k][0] > cur:
                out.append((cur, b[k][0]))
            cur = max(cur, b[k][1])
            k += 1
        if cur < hi:
            out.append((cur, hi))
    return out


class Intervals:
    """An immutable membership structure over normalized spans."""

    __slots__ = ("_ends", "_starts")

    def __init__(self, spans: Iterable[Span] = ()) -> None:
        spans = normalize(spans)
        self._starts = array("Q", (s[0] for s in spans))
        self._ends = array("Q", (s[1] for s in spans))

    def __contains__(self, key: int) -> bool:
        i = bisect_right(self._starts, key) - 1
        return i >= 0 and key < self._ends[i]

    def __len__(self) -> int:
        return len(self._starts)

    def __bool__(self) -> bool:
        return len(self._starts) > 0

    def spans(self) -> list[Span]:
        return list(zip(self._starts, self._ends, strict=True))

    def covered(self) -> int:
        return sum(e - s for s, e in zip(self._starts, self._ends, strict=True))

    def to_bytes(self) -> bytes:
        return self._starts.tobytes() + self._ends.tobytes()

    @classmethod
    def from_bytes(cls, data: bytes | memoryview) -> Intervals:
        if len(data) % 16:
            raise ValueError("interval table: bad length")
        obj = cls()
        half = len(data) // 2
        obj._starts = array("Q")
        obj._starts.frombytes(data[:half])
        obj._ends = array("Q")
        obj._ends.frombytes(data[half:])
        return obj
