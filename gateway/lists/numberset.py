"""Number sets: exact numbers and prefixes in one ``pyroaring.BitMap64``.

A prefix ``P`` of ``p`` digits covers, for every length ``L`` from ``p`` to 15, the
key range ``[(L<<50) | P*10^(L-p), (L<<50) | (P+1)*10^(L-p))`` (DESIGN.md), so one
membership test answers for exact entries and prefixes alike. A prefix may also be
limited to given lengths (libphonenumber ranges are length-exact).

One exception, measured: roaring-64 keeps a container per 2^16 keys, so a broad
range (``+882*`` is 10^12 keys at 15 digits; Austria's premium ranges alone came to
40 MB as a bitmap) goes to a sorted interval table instead (``Intervals``), tested
with one bisect only when the set has any. Ranges of up to ``NARROW_MAX`` keys, which
is every operator prefix of 10 digits or more, stay in the bitmap.

To answer "listed by which entry" and to remove entries without punching holes,
the set also keeps the prefix entries (few) and the exact entries that a narrow
prefix covers (``_shadowed``, usually few); the bulk of exact entries lives only in
the one bitmap.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from pyroaring import BitMap64

from gateway.lists.intervals import Intervals, Span
from gateway.numbers import LEN_SHIFT, MAX_DIGITS, SHORT_FLAG, key_of, number_of_key

__all__ = ["Match", "NumberSet", "Prefix"]

_MAGIC = b"SGWNSET2"
# magic, meta length, combined length, shadowed length, broad-interval table length
_HEADER = struct.Struct("<8sIQQQ")

#: largest key range kept in the bitmap (16 containers); broader ones are intervals
NARROW_MAX = 1 << 20


@dataclass(frozen=True, slots=True, order=True)
class Prefix:
    digits: str
    short: bool = False
    #: total digit counts covered; empty: every length from len(digits) to 15
    lengths: tuple[int, ...] = ()

    def ranges(self) -> Iterator[tuple[int, int]]:
        p = len(self.digits)
        base = int(self.digits) if self.digits else 0
        flag = SHORT_FLAG if self.short else 0
        for length in self.lengths or range(max(p, 1), MAX_DIGITS + 1):
            if not p <= length <= MAX_DIGITS:  # longer would overflow into the length bits
                continue
            scale = 10 ** (length - p)
            lo = (length << LEN_SHIFT) | (base * scale)
            yield flag | lo, flag | (lo + scale)

    def covers(self, key: int) -> bool:
        return any(lo <= key < hi for lo, hi in self.ranges())

    def narrow_ranges(self) -> Iterator[tuple[int, int]]:
        return ((lo, hi) for lo, hi in self.ranges() if hi - lo <= NARROW_MAX)

    def broad_ranges(self) -> Iterator[tuple[int, int]]:
        return ((lo, hi) for lo, hi in self.ranges() if hi - lo > NARROW_MAX)

    def covers_narrow(self, key: int) -> bool:
        return any(lo <= key < hi for lo, hi in self.narrow_ranges())

    def entry(self) -> str:
        text = ("" if self.short else "+") + self.digits + "*"
        if self.lengths:
            text += "{" + ",".join(map(str, self.lengths)) + "}"
        return text


@dataclass(frozen=True, slots=True)
class Match:
    """Why a key is in a set: the entry as written and whether it is a prefix."""

    entry: str
    prefix: bool


class NumberSet:
    """A set of number keys (see ``gateway.numbers.key_of``) and prefixes."""

    __slots__ = (
        "_broad", "_combined", "_generated", "_generated_narrow", "_prefixes", "_shadowed",
        "contains", "name"
    )

    def __init__(self, name: str = "") -> None:
        self.name = name
        self._combined = BitMap64()
        self._shadowed = BitMap64()
        self._prefixes: dict[Prefix, None] = {}
        self._broad = Intervals()
        self._generated: list[Span] = []  # broad ranges added raw (not as prefixes)
        self._generated_narrow = False  # narrow raw ranges live in the bitmap
        self.contains: Callable[[int], bool] = self._combined.__contains__

    # -- the hot path ---------------------------------------------------------------
    # ``contains`` is rebound whenever the structure changes: with no broad ranges it
    # is the bitmap's own C method, with no Python frame in between.

    def _bind(self) -> None:
        combined, broad = self._combined, self._broad
        if broad:
            self.contains = lambda key: key in combined or key in broad
        else:
            self.contains = combined.__contains__

    def __contains__(self, key: int) -> bool:
        return self.contains(key)

    # -- building -------------------------------------------------------------------

    def add_key(self, key: int) -> None:
        if self._prefixes and self._covering_narrow(key) is not None:
            self._shadowed.add(key)
        self._combined.add(key)

    def add_keys(self, keys: Iterable[int]) -> None:
        """Bulk add of exact keys (list files, imports): whole-bitmap operations."""
        new = BitMap64(keys)
        for p in self._prefixes:
            for lo, hi in p.narrow_ranges():
                self._shadowed |= new.intersection(_range(lo, hi))
        self._combined |= new

    def add_number(self, digits: str, short: bool = False) -> None:
        self.add_key(key_of(digits, short))

    def add_prefix(self, prefix: Prefix) -> None:
        if prefix in self._prefixes:
            return
        if len(self._combined):
            inside = BitMap64()
            for lo, hi in prefix.narrow_ranges():
                inside.update(self._combined.intersection(_range(lo, hi)))
            for other in self._prefixes:
                for lo, hi in other.narrow_ranges():
                    inside.remove_range(lo, hi)
            self._shadowed |= inside
        self._prefixes[prefix] = None
        for lo, hi in prefix.narrow_ranges():
            self._combined.add_range(lo, hi)
        if any(True for _ in prefix.broad_ranges()):
            self._rebuild_broad()

    def add_ranges(self, ranges: Iterable[Span]) -> None:
        """Raw key ranges (generated sets such as premium-rate); not removable one by one."""
        broad: list[Span] = []
        for lo, hi in ranges:
            if hi - lo <= NARROW_MAX:
                self._combined.add_range(lo, hi)
                self._generated_narrow = True
            else:
                broad.append((lo, hi))
        if broad:
            self._generated.extend(broad)
            self._rebuild_broad()

    def _rebuild_broad(self) -> None:
        spans = list(self._generated)
        for p in self._prefixes:
            spans.extend(p.broad_ranges())
        self._broad = Intervals(spans)
        self._bind()

    def remove_key(self, key: int) -> bool:
        if key in self._shadowed:
            self._shadowed.discard(key)
            return True
        if key in self._combined and self._covering_narrow(key) is None:
            self._combined.discard(key)
            return True
        return False

    def remove_prefix(self, prefix: Prefix) -> bool:
        if prefix not in self._prefixes:
            return False
        del self._prefixes[prefix]
        for lo, hi in prefix.narrow_ranges():
            self._combined.remove_range(lo, hi)
            self._combined |= self._shadowed.intersection(_range(lo, hi))
        for other in self._prefixes:
            for lo, hi in other.narrow_ranges():
                self._combined.add_range(lo, hi)
        # exact entries no longer under any narrow prefix stop being shadowed
        for k in list(self._shadowed):
            if self._covering_narrow(k) is None:
                self._shadowed.discard(k)
        self._rebuild_broad()
        return True

    # -- explaining -----------------------------------------------------------------

    def _covering_narrow(self, key: int) -> Prefix | None:
        for p in self._prefixes:
            if p.covers_narrow(key):
                return p
        return None

    def _covering_prefix(self, key: int) -> Prefix | None:
        best: Prefix | None = None
        for p in self._prefixes:
            if p.covers(key) and (best is None or len(p.digits) > len(best.digits)):
                best = p
        return best

    def match(self, key: int) -> Match | None:
        """Why ``key`` is listed: the exact entry, or the longest prefix covering it."""
        if key in self._combined:
            if key in self._shadowed or self._covering_narrow(key) is None:
                if self._generated_narrow:
                    return Match(self.name or "generated range", prefix=True)
                return Match(number_of_key(key), prefix=False)
        elif not (self._broad and key in self._broad):
            return None
        prefix = self._covering_prefix(key)
        if prefix is None:
            return Match(self.name or "generated range", prefix=True)
        return Match(prefix.entry(), prefix=True)

    # -- facts ----------------------------------------------------------------------

    @property
    def prefixes(self) -> tuple[Prefix, ...]:
        return tuple(self._prefixes)

    def __len__(self) -> int:
        """Number of keys covered (prefix ranges count every number they cover)."""
        return len(self._combined) + self._broad.covered()

    def exact_count(self) -> int:
        n = len(self._combined)
        for p in self._prefixes:
            for lo, hi in p.narrow_ranges():
                n -= hi - lo
        return max(0, n) + len(self._shadowed)

    def size_in_bytes(self) -> int:
        return (
            len(self._combined.serialize())
            + len(self._shadowed.serialize())
            + len(self._broad.to_bytes())
        )

    def copy(self) -> NumberSet:
        other = NumberSet(self.name)
        other._combined = BitMap64(self._combined)
        other._shadowed = BitMap64(self._shadowed)
        other._prefixes = dict(self._prefixes)
        other._generated = list(self._generated)
        other._generated_narrow = self._generated_narrow
        other._broad = self._broad
        other._bind()
        return other

    def optimize(self) -> None:
        self._combined.run_optimize()
        self._combined.shrink_to_fit()

    # -- compact serialized form ----------------------------------------------------

    def serialize(self) -> bytes:
        self.optimize()
        meta = json.dumps(
            {
                "name": self.name,
                "prefixes": [[p.digits, p.short, list(p.lengths)] for p in self._prefixes],
                "generated_narrow": self._generated_narrow,
            }
        ).encode()
        combined = self._combined.serialize()
        shadowed = self._shadowed.serialize()
        broad = Intervals(self._generated).to_bytes()
        header = _HEADER.pack(_MAGIC, len(meta), len(combined), len(shadowed), len(broad))
        return b"".join((header, meta, combined, shadowed, broad))

    @classmethod
    def deserialize(cls, data: bytes) -> NumberSet:
        if len(data) < _HEADER.size:
            raise ValueError("not a spamgw number set: too short")
        magic, meta_len, comb_len, shad_len, broad_len = _HEADER.unpack_from(data)
        if magic != _MAGIC:
            raise ValueError("not a spamgw number set: bad magic")
        pos = _HEADER.size
        if len(data) != pos + meta_len + comb_len + shad_len + broad_len:
            raise ValueError("spamgw number set: truncated or trailing bytes")
        meta = json.loads(data[pos : pos + meta_len])
        pos += meta_len
        ns = cls(meta.get("name", ""))
        ns._combined = BitMap64.deserialize(data[pos : pos + comb_len])
        pos += comb_len
        ns._shadowed = BitMap64.deserialize(data[pos : pos + shad_len])
        pos += shad_len
        ns._generated = Intervals.from_bytes(data[pos : pos + broad_len]).spans()
        ns._generated_narrow = bool(meta.get("generated_narrow"))
        ns._prefixes = {Prefix(d, bool(s), tuple(ls)): None for d, s, ls in meta["prefixes"]}
        ns._rebuild_broad()  # binds contains
        return ns


def _range(lo: int, hi: int) -> BitMap64:
    bm = BitMap64()
    bm.add_range(lo, hi)
    return bm
