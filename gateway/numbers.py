"""Address normalisation: SMPP addresses (TON/NPI) and caller-ID strings -> ``Number``.

Every number becomes an integer key (DESIGN.md "Number keys"):
``key = (digit_count << 50) | int(digits)`` for E.164 numbers, so ``4470`` and
``44700`` differ, and a prefix is a contiguous key range per length. Short codes
and other national-only numbers (``7726``, ``112``) are keyed the same way with
``SHORT_FLAG`` set, so they never collide with an E.164 number.

The hot path makes no ``phonenumbers`` call: country calling codes, regions and
possible lengths come from tables built once from its metadata; the region of a
number in a shared calling code (+1, +44, +7, ...) is resolved once per leading
digits and cached.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import phonenumbers
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, PhoneMetadata

from gateway.frozen import constructor

__all__ = [
    "MAX_DIGITS",
    "SHORT_FLAG",
    "Number",
    "NumberKind",
    "NumberMemo",
    "Numbering",
    "key_of",
    "number_of_key",
]

MAX_DIGITS = 15
LEN_SHIFT = 50
SHORT_FLAG = 1 << 56
_NUM_MASK = (1 << LEN_SHIFT) - 1


def key_of(digits: str, short: bool = False) -> int:
    """Integer key of a digit string (no ``+``)."""
    k = (len(digits) << LEN_SHIFT) | int(digits)
    return k | SHORT_FLAG if short else k


def number_of_key(key: int) -> str:
    """Inverse of ``key_of``: ``+4477...`` for E.164 keys, bare digits for short keys."""
    length = (key & ~SHORT_FLAG) >> LEN_SHIFT
    digits = str(key & _NUM_MASK).zfill(length)
    return digits if key & SHORT_FLAG else "+" + digits


class NumberKind(StrEnum):
    E164 = "e164"  # a full international number; has a key, calling code and region
    SHORT = "short"  # short code / national service number (7726, 112); keyed with SHORT_FLAG
    ALPHANUMERIC = "alphanumeric"  # SMPP TON 5 sender ID ("MyBank")
    ANONYMOUS = "anonymous"  # withheld caller ID
    INVALID = "invalid"  # garbage: letters in a caller ID, too long, empty digits


@dataclass(frozen=True, slots=True)
class Number:
    """A normalised address. ``key`` is 0 for non-numeric kinds.

    ``international`` is relative to the configured home country; ``possible`` says
    whether the national part has a length the numbering plan allows (impossible
    caller IDs are a spoofing signal). ``text`` is the casefolded sender ID for
    alphanumeric senders (what sender-ID lists match), else the digits.
    """

    raw: str
    kind: NumberKind
    digits: str = ""
    key: int = 0
    cc: int = 0
    region: str = ""
    international: bool = False
    possible: bool = False
    text: str = ""

    @property
    def e164(self) -> str:
        return "+" + self.digits if self.kind is NumberKind.E164 else self.digits

    def __str__(self) -> str:
        if self.kind is NumberKind.E164:
            return "+" + self.digits
        return self.digits or self.raw


#: ``Number(...)`` with every field given, without the frozen ``__init__`` (hot path)
_make_number = constructor(Number)


# --- tables built once from libphonenumber metadata --------------------------------

_CC_REGIONS: dict[int, tuple[str, ...]] = {
    cc: tuple(regions) for cc, regions in COUNTRY_CODE_TO_REGION_CODE.items()
}


@functools.cache
def _possible_lengths(cc: int) -> frozenset[int]:
    lengths: set[int] = set()
    for region in _CC_REGIONS.get(cc, ()):
        md = (
            PhoneMetadata.metadata_for_nongeo_region(cc)
            if region == "001"
            else PhoneMetadata.metadata_for_region(region)
        )
        if md is not None and md.general_desc is not None:
            lengths.update(md.general_desc.possible_length or ())
    return frozenset(lengths)


#: every digit string of one to three digits that starts with a calling code ->
#: (calling code, its length, its regions, the possible national lengths). Calling
#: codes are prefix-free, so ``digits[:3]`` finds the code with one lookup.
_CC_OF: dict[str, tuple[int, int, tuple[str, ...], frozenset[int]]] = {}
for _cc, _regions in _CC_REGIONS.items():
    _s = str(_cc)
    _info = (_cc, len(_s), _regions, _possible_lengths(_cc))
    _CC_OF[_s] = _info
    for _tail in ("0123456789" if len(_s) < 3 else ""):
        _CC_OF[_s + _tail] = _info
        if len(_s) == 1:
            for _tail2 in "0123456789":
                _CC_OF[_s + _tail + _tail2] = _info

#: region of a number in a calling code shared by several regions, by its first six
#: national digits (``digits[:len(cc) + 6]``); cleared whole when full
_REGIONS: dict[str, str] = {}
_REGIONS_MAX = 1 << 18


_Desc = tuple[frozenset[int], re.Pattern[str]]  # possible lengths (empty: any), pattern
_TYPES = ("premium_rate", "toll_free", "shared_cost", "voip", "personal_number", "pager",
          "uan", "voicemail", "fixed_line", "mobile")


def _desc(d: Any) -> _Desc | None:
    if d is None or not d.national_number_pattern:
        return None
    return frozenset(d.possible_length or ()), re.compile(d.national_number_pattern)


def _matches(national: str, d: _Desc | None) -> bool:
    return d is not None and (not d[0] or len(national) in d[0]) \
        and d[1].fullmatch(national) is not None


@functools.cache
def _region_table(cc: int) -> tuple[tuple[str, re.Pattern[str] | None, _Desc | None,
                                          tuple[_Desc | None, ...]], ...]:
    """libphonenumber's test for a number in a shared calling code, compiled once:
    per region, its leading digits, or its general and per-type patterns."""
    table = []
    for region in _CC_REGIONS[cc]:
        md = PhoneMetadata.metadata_for_region(region)
        if md is None:
            continue
        leading = re.compile(md.leading_digits) if md.leading_digits is not None else None
        table.append((region, leading, _desc(md.general_desc),
                      tuple(_desc(getattr(md, t)) for t in _TYPES)))
    return tuple(table)


def _region_for(cc: int, national: str) -> str:
    """Region of a number in a calling code shared by several regions: what
    ``phonenumbers.region_code_for_number`` answers (the first region whose leading
    digits match, or for which the number has a type), with precompiled patterns;
    the code's main region if none does."""
    national = str(int(national or "0"))  # as libphonenumber reads a PhoneNumber
    for region, leading, general, types in _region_table(cc):
        if leading is not None:
            if leading.match(national):
                return region
        elif _matches(national, general) and any(_matches(national, d) for d in types):
            return region
    return _CC_REGIONS[cc][0]


def split_cc(digits: str) -> tuple[int, str]:
    """Split E.164 digits into (country calling code, national significant number)."""
    info = _CC_OF.get(digits[:3])
    return (0, digits) if info is None else (info[0], digits[info[1]:])


def _ascii_digits(s: str) -> bool:
    """``str.isdigit`` accepts '¹' and '٣'; a number is written in ASCII digits."""
    return s.isascii() and s.isdigit()


_NON_DIGITS = re.compile(r"[\s().\-/]")
_ANONYMOUS = frozenset(
    {"", "anonymous", "unknown", "restricted", "private", "withheld", "unavailable",
     "<unknown>", "unknown caller", "asterisk"}
)


class Numbering:
    """Normalises addresses relative to a home country.

    One instance per gateway; cheap to call on every event.
    """

    def __init__(self, home_region: str = "GB") -> None:
        home_region = home_region.upper()
        cc = phonenumbers.country_code_for_region(home_region)
        if not cc:
            raise ValueError(f"unknown home country {home_region!r}")
        md = PhoneMetadata.metadata_for_region(home_region)
        assert md is not None
        self.home_region = home_region
        self.home_cc = cc
        self._home_cc_str = str(cc)
        self.national_prefix = md.national_prefix or ""
        intl = md.preferred_international_prefix or md.international_prefix or "00"
        # "00", "011", or a pattern such as "0(?:0|1[0-9])": match it as a regex.
        self._intl_prefix = re.compile(intl if not intl.isdigit() else re.escape(intl))
        self._home_lengths = _possible_lengths(cc)
        self._max_home_national = max(self._home_lengths, default=10)

    # -- public entry points -------------------------------------------------------

    def e164(self, digits: str, raw: str | None = None) -> Number:
        """A number already known to be international (``+`` or TON international)."""
        if not digits or len(digits) > MAX_DIGITS or not _ascii_digits(digits):
            return Number(raw if raw is not None else digits, NumberKind.INVALID, digits)
        info = _CC_OF.get(digits[:3])
        if info is None:
            return Number(raw if raw is not None else "+" + digits, NumberKind.INVALID, digits)
        cc, cc_len, regions, lengths = info
        if len(regions) == 1:
            region = regions[0]
        else:
            head = digits[:cc_len + 6]
            region = _REGIONS.get(head, "")
            if not region:
                if len(_REGIONS) >= _REGIONS_MAX:
                    _REGIONS.clear()
                region = _REGIONS[head] = _region_for(cc, head[cc_len:])
        return _make_number(
            raw=raw if raw is not None else "+" + digits,
            kind=NumberKind.E164,
            digits=digits,
            key=(len(digits) << LEN_SHIFT) | int(digits),  # key_of, inlined
            cc=cc,
            region=region,
            international=region != self.home_region,
            possible=len(digits) - cc_len in lengths,
            text=digits,
        )

    def national(self, digits: str, raw: str | None = None) -> Number:
        """A number in national format (national prefix already stripped or not)."""
        raw = raw if raw is not None else digits
        if self.national_prefix and digits.startswith(self.national_prefix):
            digits = digits[len(self.national_prefix):]
        if len(digits) < 7 and len(digits) not in self._home_lengths:
            return self.short(digits, raw)
        return self.e164(self._home_cc_str + digits, raw)

    def short(self, digits: str, raw: str | None = None) -> Number:
        if not digits or not _ascii_digits(digits) or len(digits) > MAX_DIGITS:
            return Number(raw if raw is not None else digits, NumberKind.INVALID, digits)
        return _make_number(
            raw=raw if raw is not None else digits,
            kind=NumberKind.SHORT,
            digits=digits,
            key=key_of(digits, short=True),
            cc=self.home_cc,
            region=self.home_region,
            international=False,
            possible=True,
            text=digits,
        )

    def alphanumeric(self, sender: str) -> Number:
        return Number(sender, NumberKind.ALPHANUMERIC, "", 0, text=sender.strip().casefold())

    def from_smpp(self, addr: str, ton: int = 0, npi: int = 0) -> Number:
        """An SMPP address with its TON/NPI (SMPP 3.4 section 5.2.5, 5.2.6)."""
        if ton == 5:  # alphanumeric
            return self.alphanumeric(addr)
        s = addr.strip()
        if ton == 1:  # international
            digits = s.lstrip("+")
            return self.e164(digits, addr) if _ascii_digits(digits) else self._garbage(addr)
        if ton == 2:  # national
            return self.national(s, addr) if _ascii_digits(s) else self._garbage(addr)
        if ton in (3, 4, 6):  # network specific, subscriber number, abbreviated
            return self.short(s, addr) if _ascii_digits(s) and len(s) <= 8 else self.parse(addr)
        if s and not _ascii_digits(s.lstrip("+")) and any(c.isalpha() for c in s) and npi == 0:
            # TON unknown but clearly a sender ID: many ESMEs send it this way
            return self.alphanumeric(addr)
        return self.parse(addr)

    def from_caller_id(self, value: str) -> Number:
        """A caller ID or dialled string as Asterisk gives it (``+44…``, ``0044…``,
        ``0…``, ``anonymous``, garbage)."""
        if value.strip().casefold() in _ANONYMOUS:
            return Number(value, NumberKind.ANONYMOUS)
        return self.parse(value)

    def parse(self, value: str) -> Number:
        s = _NON_DIGITS.sub("", value.strip())
        if not s:
            return Number(value, NumberKind.ANONYMOUS if not value.strip() else NumberKind.INVALID)
        if s[0] == "+":
            return self.e164(s[1:], value) if _ascii_digits(s[1:]) else self._garbage(value)
        if not _ascii_digits(s):
            return self._garbage(value)
        m = self._intl_prefix.match(s)
        if m and m.end() < len(s) and len(s) - m.end() >= 7:
            return self.e164(s[m.end():], value)
        if self.national_prefix and s.startswith(self.national_prefix) and len(s) >= 7:
            return self.national(s, value)
        if len(s) <= 6:
            return self.short(s, value)
        # Bare digits: international without '+' (what many SMSCs and trunks send)
        # when longer than a home national number or led by a known calling code.
        if len(s) > self._max_home_national or (
            s.startswith(self._home_cc_str)
            and len(s) - len(self._home_cc_str) in self._home_lengths
        ):
            num = self.e164(s, value)
            if num.kind is NumberKind.E164:
                return num
        return self.national(s, value)

    @staticmethod
    def _garbage(value: str) -> Number:
        return Number(value, NumberKind.INVALID, text=value.strip().casefold())


class NumberMemo:
    """``Numbering`` behind a bounded memo, for adapters on the hot path: A2P senders
    and popular destinations repeat, and a ``Number`` is immutable. Cleared whole
    when full (a flood of unique numbers costs one insert each, never memory).

    International SMPP addresses (TON 1 / NPI 1: most traffic) enter the memo on their
    second sighting: a first one only goes into a set of strings. Most recipients are
    seen once, and a ``Number`` kept for them would be an object the cyclic garbage
    collector walks until the memo is cleared, for nothing (strings it never walks).
    """

    def __init__(self, numbering: Numbering, size: int = 1 << 16) -> None:
        self.numbering = numbering
        self.home_region = numbering.home_region
        self.size = size
        self._memo: dict[tuple[str, str, int, int], Number] = {}
        self._intl: dict[str, Number] = {}  # TON 1 / NPI 1 addresses, by the address
        self._seen_once: set[str] = set()  # ... seen once so far

    def _put(self, key: tuple[str, str, int, int], number: Number) -> Number:
        if len(self._memo) >= self.size:
            self._memo.clear()
        self._memo[key] = number
        return number

    def from_smpp(self, addr: str, ton: int = 0, npi: int = 0) -> Number:
        if ton == 1 and npi == 1:
            hit = self._intl.get(addr)
            if hit is None:
                hit = self.numbering.from_smpp(addr, 1, 1)
                seen = self._seen_once
                if addr not in seen:
                    if len(seen) >= self.size:
                        seen.clear()
                    seen.add(addr)
                else:
                    seen.discard(addr)
                    if len(self._intl) >= self.size:
                        self._intl.clear()
                    self._intl[addr] = hit
            return hit
        key = ("s", addr, ton, npi)
        hit = self._memo.get(key)
        return hit if hit is not None else self._put(key, self.numbering.from_smpp(addr, ton, npi))

    def from_caller_id(self, value: str) -> Number:
        key = ("c", value, 0, 0)
        hit = self._memo.get(key)
        return hit if hit is not None else self._put(key, self.numbering.from_caller_id(value))

    def alphanumeric(self, sender: str) -> Number:
        key = ("a", sender, 0, 0)
        hit = self._memo.get(key)
        return hit if hit is not None else self._put(key, self.numbering.alphanumeric(sender))

    def e164(self, digits: str, raw: str | None = None) -> Number:
        return self.numbering.e164(digits, raw)

    def short(self, digits: str, raw: str | None = None) -> Number:
        return self.numbering.short(digits, raw)

    def parse(self, value: str) -> Number:
        return self.numbering.parse(value)
