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
import mmap
import struct
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from pyroaring import BitMap64

from gateway.lists.intervals import Intervals, Span
from gateway.numbers import LEN_SHIFT, MAX_DIGITS, SHORT_FLAG, key_of, number_of_key

__all__ = ["Match", "NumberSet", "Prefix"]

Buffer = bytes | bytearray | memoryview | mmap.mmap

_MAGIC = b"SGWNSET3"
_HEADER = struct.Struct("<8sI")  # magic, meta length
#: the earlier form: magic, meta, combined, shadowed and broad-table lengths
_MAGIC_V2 = b"SGWNSET2"
_HEADER_V2 = struct.Struct("<8sIQQQ")
#: keys a part of the compiled bitmap holds at most: about 330 KB for a national
#: list (1.25 bytes a key), deserialized in well under a millisecond
PART_KEYS = 1 << 18

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
        "_broad", "_by_digits", "_combined", "_generated", "_generated_narrow", "_narrow",
        "_prefixes", "_shadowed", "contains", "name"
    )

    def __init__(self, name: str = "") -> None:
        self.name = name
        self._combined = BitMap64()
        self._shadowed = BitMap64()
        #: the union of the prefixes' narrow ranges: "is this key under a prefix" is
        #: one membership test, whatever the number of prefixes
        self._narrow = BitMap64()
        self._prefixes: dict[Prefix, None] = {}
        #: prefixes by (digits, short): a key's covering prefixes are found with at
        #: most 15 dict lookups (one per leading-digit count)
        self._by_digits: dict[tuple[str, bool], list[Prefix]] = {}
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
        if key in self._narrow:
            self._shadowed.add(key)
        self._combined.add(key)

    def add_keys(self, keys: Iterable[int] | BitMap64) -> None:
        """Bulk add of exact keys (list files, imports): whole-bitmap operations."""
        new = keys if isinstance(keys, BitMap64) else BitMap64(keys)
        if self._narrow:
            self._shadowed |= new & self._narrow
        self._combined |= new

    def add_number(self, digits: str, short: bool = False) -> None:
        self.add_key(key_of(digits, short))

    def add_prefix(self, prefix: Prefix) -> None:
        if prefix in self._prefixes:
            return
        ranges = list(prefix.narrow_ranges())
        if ranges and len(self._combined):
            span = _ranges(ranges)
            # exact entries the new prefix covers (and no other prefix did) stay entries
            self._shadowed |= (self._combined & span) - self._narrow
        self._prefixes[prefix] = None
        self._by_digits.setdefault((prefix.digits, prefix.short), []).append(prefix)
        for lo, hi in ranges:
            self._combined.add_range(lo, hi)
            self._narrow.add_range(lo, hi)
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
        if key in self._combined and key not in self._narrow:
            self._combined.discard(key)
            return True
        return False

    def remove_prefix(self, prefix: Prefix) -> bool:
        if prefix not in self._prefixes:
            return False
        del self._prefixes[prefix]
        same = self._by_digits[(prefix.digits, prefix.short)]
        same.remove(prefix)
        if not same:
            del self._by_digits[(prefix.digits, prefix.short)]
        ranges = [(lo, hi) for lo, hi in prefix.narrow_ranges()
                  if not self._ancestor_covers(lo, len(prefix.digits))]
        if ranges:
            nested = [p for p in self._prefixes
                      if p.short == prefix.short and p.digits.startswith(prefix.digits)]
            span = _ranges(ranges)
            for lo, hi in ranges:
                self._combined.remove_range(lo, hi)
                self._narrow.remove_range(lo, hi)
            for p in nested:  # longer prefixes inside it keep their numbers
                for lo, hi in p.narrow_ranges():
                    if lo in span:
                        self._combined.add_range(lo, hi)
                        self._narrow.add_range(lo, hi)
            inside = self._shadowed & span
            self._combined |= inside
            # exact entries no longer under any prefix stop being shadowed
            self._shadowed -= inside - self._narrow
        if any(True for _ in prefix.broad_ranges()):
            self._rebuild_broad()
        return True

    # -- explaining -----------------------------------------------------------------

    def _covering(self, key: int) -> Iterator[Prefix]:
        """The prefixes covering ``key``, longest first (at most 15 dict lookups)."""
        if not self._by_digits:
            return
        short = bool(key & SHORT_FLAG)
        length = (key & ~SHORT_FLAG) >> LEN_SHIFT
        digits = number_of_key(key).lstrip("+")
        by_digits = self._by_digits
        for n in range(min(length, len(digits)), 0, -1):
            for p in by_digits.get((digits[:n], short), ()):
                if not p.lengths or length in p.lengths:
                    yield p

    def _ancestor_covers(self, key: int, digits: int) -> bool:
        """Whether a prefix shorter than ``digits`` covers ``key`` in the bitmap (then
        it covers the whole range of a longer prefix at that length too)."""
        length = (key & ~SHORT_FLAG) >> LEN_SHIFT
        return any(len(p.digits) < digits and 10 ** (length - len(p.digits)) <= NARROW_MAX
                   for p in self._covering(key))

    def _covering_prefix(self, key: int) -> Prefix | None:
        return next(self._covering(key), None)

    def match(self, key: int) -> Match | None:
        """Why ``key`` is listed: the exact entry, or the longest prefix covering it."""
        if key in self._combined:
            if key in self._shadowed or key not in self._narrow:
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
        """Exact entries: those under no prefix, and those a prefix also covers."""
        return len(self._combined) - len(self._narrow) + len(self._shadowed)

    def size_in_bytes(self) -> int:
        """Bytes the containers take (from the bitmaps' statistics: no copy)."""
        return sum(_container_bytes(bm) for bm in (self._combined, self._shadowed, self._narrow)
                   ) + len(self._broad.to_bytes())

    def copy(self) -> NumberSet:
        other = NumberSet(self.name)
        other.adopt(self)
        other._combined = BitMap64(self._combined)
        other._shadowed = BitMap64(self._shadowed)
        other._narrow = BitMap64(self._narrow)
        other._prefixes = dict(self._prefixes)
        other._by_digits = {k: list(v) for k, v in self._by_digits.items()}
        other._generated = list(self._generated)
        other._bind()
        return other

    def adopt(self, other: NumberSet) -> None:
        """Take ``other``'s content by reference (a reload swapping a new version of a
        list into the object the rules and plugins hold): a few pointer assignments,
        in one step of the event loop."""
        self._combined, self._shadowed, self._narrow = (
            other._combined, other._shadowed, other._narrow)
        self._prefixes, self._by_digits = other._prefixes, other._by_digits
        self._broad, self._generated = other._broad, other._generated
        self._generated_narrow = other._generated_narrow
        self.contains = other.contains

    def optimize(self) -> None:
        for bm in (self._combined, self._shadowed, self._narrow):
            bm.run_optimize()
            bm.shrink_to_fit()

    # -- compact serialized form ----------------------------------------------------
    # ``SGWNSET3``: header (magic, meta length), JSON meta (name, prefixes, section
    # lengths), then the keys no prefix covers cut into parts of at most ``PART_KEYS``
    # keys (consecutive key ranges), the shadowed and narrow bitmaps and the broad
    # interval table. A reload deserializes one part at a time and yields
    # to the event loop between parts (``loader``).

    def serialize_parts(self) -> Iterator[bytes]:
        """The serialized form, piece by piece (bounded memory while writing)."""
        self.optimize()
        # the parts hold what no prefix covers; the prefixes' ranges are the narrow
        # bitmap (runs: small however many numbers they cover), merged in at load
        rest = self._combined - self._narrow if self._narrow else self._combined
        parts = [rest[i : i + PART_KEYS].serialize() for i in range(0, len(rest), PART_KEYS)]
        del rest
        shadowed = self._shadowed.serialize()
        narrow = self._narrow.serialize()
        broad = Intervals(self._generated).to_bytes()
        meta = json.dumps(
            {
                "name": self.name,
                "prefixes": [[p.digits, p.short, list(p.lengths)] for p in self._prefixes],
                "generated_narrow": self._generated_narrow,
                "parts": [len(x) for x in parts],
                "shadowed": len(shadowed),
                "narrow": len(narrow),
                "broad": len(broad),
            }
        ).encode()
        yield _HEADER.pack(_MAGIC, len(meta))
        yield meta
        yield from parts
        yield shadowed
        yield narrow
        yield broad

    def serialize(self) -> bytes:
        return b"".join(self.serialize_parts())

    @classmethod
    def loader(cls, data: Buffer, name: str | None = None) -> Iterator[NumberSet | None]:
        """Deserialize step by step: each ``next`` does one bounded piece of work
        (one part of the bitmap) and yields None; the last yields the set. Raises
        ``ValueError`` for anything that is not a whole compiled list."""
        view = memoryview(data)
        if len(view) < _HEADER.size or (bytes(view[:8]) == _MAGIC_V2
                                        and len(view) < _HEADER_V2.size):
            raise ValueError("not a spamgw number set: too short")
        magic, meta_len = _HEADER.unpack_from(view)
        if magic == _MAGIC_V2:
            yield cls._deserialize_v2(view, name)
            return
        if magic != _MAGIC:
            raise ValueError("not a spamgw number set: bad magic")
        pos = _HEADER.size
        try:
            meta = json.loads(bytes(view[pos : pos + meta_len]))
            sizes = [*meta["parts"], meta["shadowed"], meta["narrow"], meta["broad"]]
        except (ValueError, KeyError, TypeError):
            raise ValueError("spamgw number set: bad header") from None
        pos += meta_len
        if len(view) != pos + sum(sizes):
            raise ValueError("spamgw number set: truncated or trailing bytes")
        ns = cls(meta.get("name", "") if name is None else name)
        combined = BitMap64()
        for size in meta["parts"]:
            combined |= _bitmap(view[pos : pos + size])
            pos += size
            yield None
        ns._combined = combined
        ns._shadowed = _bitmap(view[pos : pos + meta["shadowed"]])
        pos += meta["shadowed"]
        ns._narrow = _bitmap(view[pos : pos + meta["narrow"]])
        pos += meta["narrow"]
        combined |= ns._narrow
        ns._generated = Intervals.from_bytes(view[pos : pos + meta["broad"]]).spans()
        ns._generated_narrow = bool(meta.get("generated_narrow"))
        ns._set_prefixes(Prefix(d, bool(s), tuple(ls)) for d, s, ls in meta["prefixes"])
        ns._rebuild_broad()  # binds contains
        yield ns

    @classmethod
    def deserialize(cls, data: Buffer, name: str | None = None) -> NumberSet:
        *_, ns = cls.loader(data, name)
        assert ns is not None
        return ns

    def _set_prefixes(self, prefixes: Iterable[Prefix]) -> None:
        self._prefixes = dict.fromkeys(prefixes)
        self._by_digits = {}
        for p in self._prefixes:
            self._by_digits.setdefault((p.digits, p.short), []).append(p)

    @classmethod
    def _deserialize_v2(cls, view: memoryview, name: str | None) -> NumberSet:
        """The earlier single-bitmap form (no narrow bitmap: rebuilt from the prefixes)."""
        _magic, meta_len, comb_len, shad_len, broad_len = _HEADER_V2.unpack_from(view)
        pos = _HEADER_V2.size
        if len(view) != pos + meta_len + comb_len + shad_len + broad_len:
            raise ValueError("spamgw number set: truncated or trailing bytes")
        meta = json.loads(bytes(view[pos : pos + meta_len]))
        pos += meta_len
        ns = cls(meta.get("name", "") if name is None else name)
        ns._combined = _bitmap(view[pos : pos + comb_len])
        pos += comb_len
        ns._shadowed = _bitmap(view[pos : pos + shad_len])
        pos += shad_len
        ns._generated = Intervals.from_bytes(view[pos : pos + broad_len]).spans()
        ns._generated_narrow = bool(meta.get("generated_narrow"))
        ns._set_prefixes(Prefix(d, bool(s), tuple(ls)) for d, s, ls in meta["prefixes"])
        for p in ns._prefixes:
            for lo, hi in p.narrow_ranges():
                ns._narrow.add_range(lo, hi)
        ns._rebuild_broad()
        return ns


def _bitmap(view: memoryview) -> BitMap64:
    """Deserialize from a slice of the mapped file (the bitmap copies what it needs)."""
    return BitMap64.deserialize(view)  # type: ignore[arg-type]  # any buffer will do


def _container_bytes(bm: BitMap64) -> int:
    st = bm.get_statistics()
    return int(st["n_bytes_array_containers"] + st["n_bytes_run_containers"]
               + st["n_bytes_bitset_containers"] + 8 * st["n_containers"])


def _ranges(spans: Iterable[Span]) -> BitMap64:
    bm = BitMap64()
    for lo, hi in spans:
        bm.add_range(lo, hi)
    return bm
