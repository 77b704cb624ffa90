"""The rate table: what a call costs, for per-subscriber spend caps.

``rates.txt`` in the lists dir, one ``+PREFIX PRICE_PER_MINUTE`` a line, ``#``
comments; the longest matching prefix prices a destination::

    +44      0.02
    +449     1.50    # UK premium rate
    +882     4.00
"""

from __future__ import annotations

from pathlib import Path

from gateway.lists.files import ListFileError
from gateway.numbers import Number, NumberKind

__all__ = ["RateTable", "read_rates"]


class RateTable:
    def __init__(self, prices: dict[str, float], default: float = 0.0) -> None:
        self._prices = prices
        self._maxlen = max(map(len, prices), default=0)
        self.default = default

    def price_per_minute(self, dst: Number) -> float:
        if dst.kind is not NumberKind.E164:
            return self.default
        digits = dst.digits
        for n in range(min(self._maxlen, len(digits)), 0, -1):
            price = self._prices.get(digits[:n])
            if price is not None:
                return price
        return self.default

    def cost(self, dst: Number, billsec: float) -> float:
        return self.price_per_minute(dst) * billsec / 60.0

    def __len__(self) -> int:
        return len(self._prices)


def read_rates(path: Path) -> RateTable:
    prices: dict[str, float] = {}
    errors: list[str] = []
    default = 0.0
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            text = line.split("#", 1)[0].split()
            if not text:
                continue
            if len(text) != 2:
                errors.append(f"{path}:{lineno}: expected '+PREFIX PRICE_PER_MINUTE'")
                continue
            prefix, price = text
            try:
                value = float(price)
            except ValueError:
                errors.append(f"{path}:{lineno}: price {price!r} is not a number")
                continue
            if value < 0:
                errors.append(f"{path}:{lineno}: price must not be negative")
            elif prefix == "*":
                default = value
            elif prefix.startswith("+") and prefix[1:].isdigit():
                prices[prefix[1:]] = value
            else:
                errors.append(f"{path}:{lineno}: prefix {prefix!r} must be +DIGITS or *")
    if errors:
        raise ListFileError(errors)
    return RateTable(prices, default)
