"""The rate table: what a call costs, for spend caps and the ``dst_price_min`` and
``dst_risk`` predicates.

``rates.txt`` in the lists dir, one entry a line, ``#`` comments; the longest
matching prefix prices a destination, ``*`` prices anything else::

    # prefix   per-minute  risk   reviewed    source
    *          0.30
    +44        0.02
    +449       1.50        high   2026-11-25  Ofcom: UK 09 premium rate
    +252       1.80        high   2026-11-25  ITU-T E.164 CC 252 (Somalia); IRSF lists

A ``high`` entry must carry the date it was last reviewed (``YYYY-MM-DD``) and a
source (the rest of the line): a price nobody can trace is a price nobody can
maintain. A ``normal`` entry (or one with just a price) needs neither. Every
mistake is reported with its line (``rates.txt:12: ...``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from gateway.lists.files import ListFileError, entry_lines
from gateway.numbers import Number, NumberKind

__all__ = ["RateEntry", "RateTable", "read_rates"]

RISKS = ("normal", "high")

#: number heads a rate table remembers (``RateTable._match``)
_MEMO_SIZE = 1 << 16


@dataclass(frozen=True, slots=True)
class RateEntry:
    prefix: str  # digits, no "+"; "" for the default
    per_minute: float
    risk: str = "normal"
    reviewed: str = ""
    source: str = ""
    line: int = 0


class RateTable:
    def __init__(self, prices: dict[str, float], default: float = 0.0,
                 entries: tuple[RateEntry, ...] = ()) -> None:
        self._prices = prices
        self._maxlen = max(map(len, prices), default=0)
        self.default = default
        self.entries = entries
        self._high = frozenset(e.prefix for e in entries if e.risk == "high")
        #: a number's first ``_maxlen`` digits -> its longest listed prefix: the rules
        #: ask for every SMS and call (``dst_risk``, ``dst_price_min``, cost sums), and
        #: destinations share their first digits; cleared whole when full
        self._memo: dict[str, str | None] = {}

    def _match(self, dst: Number) -> str | None:
        if dst.kind is not NumberKind.E164:
            return None
        head = dst.digits[: self._maxlen]
        memo = self._memo
        try:
            return memo[head]
        except KeyError:
            pass
        if len(memo) >= _MEMO_SIZE:
            memo.clear()
        prefix = memo[head] = self._longest(head)
        return prefix

    def _longest(self, digits: str) -> str | None:
        """The longest listed prefix of ``digits`` (the table's own walk)."""
        prices = self._prices
        for n in range(min(self._maxlen, len(digits)), 0, -1):
            if digits[:n] in prices:
                return digits[:n]
        return None

    def price_per_minute(self, dst: Number) -> float:
        """Longest prefix's price; the default for other E.164 numbers; 0 for short
        codes and anything else that is no international number."""
        if dst.kind is not NumberKind.E164:
            return 0.0
        prefix = self._match(dst)
        return self.default if prefix is None else self._prices[prefix]

    def high_risk(self, dst: Number) -> bool:
        """Whether the entry that prices ``dst`` is marked ``high``."""
        prefix = self._match(dst)
        return prefix is not None and prefix in self._high

    def cost(self, dst: Number, billsec: float) -> float:
        return self.price_per_minute(dst) * billsec / 60.0

    def __len__(self) -> int:
        return len(self._prices)


def _entry(fields: list[str], lineno: int) -> RateEntry:
    """One line's fields; raises ``ValueError`` with the reason."""
    if len(fields) < 2:
        raise ValueError("expected '+PREFIX PRICE_PER_MINUTE [RISK REVIEWED SOURCE...]'")
    prefix, price = fields[0], fields[1]
    try:
        value = float(price)
    except ValueError:
        raise ValueError(f"price {price!r} is not a number") from None
    if not value >= 0:
        raise ValueError("price must not be negative")
    if prefix == "*":
        digits = ""
    elif prefix.startswith("+") and prefix[1:].isascii() and prefix[1:].isdigit() \
            and prefix[1] != "0":
        digits = prefix[1:]
    else:
        raise ValueError(f"prefix {prefix!r} must be +DIGITS or *")
    risk = fields[2] if len(fields) > 2 else "normal"
    if risk not in RISKS:
        raise ValueError(f"risk {risk!r} must be one of {', '.join(RISKS)}")
    reviewed, source = "", ""
    if len(fields) > 3:
        reviewed = fields[3]
        try:
            dt.date.fromisoformat(reviewed)
        except ValueError:
            raise ValueError(f"reviewed date {reviewed!r} must be YYYY-MM-DD") from None
        source = " ".join(fields[4:])
    if risk == "high" and not (reviewed and source):
        raise ValueError("a high-risk entry needs the date it was reviewed (YYYY-MM-DD) "
                         "and its source")
    return RateEntry(digits, value, risk, reviewed, source, lineno)


def read_rates(path: Path) -> RateTable:
    prices: dict[str, float] = {}
    entries: list[RateEntry] = []
    errors: list[str] = []
    default = 0.0
    seen: dict[str, int] = {}
    try:
        for lineno, line in entry_lines(path):
            fields = line.split()
            try:
                entry = _entry(fields, lineno)
            except ValueError as e:
                errors.append(f"{path}:{lineno}: {e}")
                continue
            if entry.prefix in seen:
                errors.append(f"{path}:{lineno}: {fields[0]} is priced twice "
                              f"(first on line {seen[entry.prefix]})")
                continue
            seen[entry.prefix] = lineno
            entries.append(entry)
            if entry.prefix:
                prices[entry.prefix] = entry.per_minute
            else:
                default = entry.per_minute
    except UnicodeDecodeError as e:
        errors.append(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})")
    if errors:
        raise ListFileError(errors)
    return RateTable(prices, default, tuple(entries))
