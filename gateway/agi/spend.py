"""Outbound spend: reserved when a call is screened, settled at ``/ended``.

Counting cost at hangup lets a burst of long calls run far past a daily cap before
the first one ends (a hacked PBX opens thirty lines to Somalia at once). So each
outbound call that is let through reserves what it may cost: the longest call the
caller's remaining budget allows (today's settled spend and every open reservation
taken off the cap), at most ``max_call_seconds``. The screening hands that length to
the dialplan as ``SPAMGW_MAXDURATION`` (``Dial(...,L(ms))`` cuts the call there), so
the cap holds while calls are still up. ``/ended`` settles the reservation with the
real billsec; a reservation whose ``/ended`` never comes expires once the call
could no longer be up.

Budgets: per calling subscriber (caller ID), or for trunks with a ``daily_cap``
(``[[agi.trunks]]``: PBXs, call centres) per trunk instead: a busy PBX gets the
budget its operator gave it, not one subscriber's, and a hacked one spends its
trunk's money whatever caller IDs it sends. Settled spend lives in the counters
backend (shared by every worker through Redis); open reservations are this
process's own, like the call memory that ``/ended`` is matched against.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from gateway.config import SpendConfig
from gateway.lists.rates import RateTable
from gateway.numbers import Number
from gateway.state import Counters

__all__ = ["Reservation", "SpendLedger", "SpendRefusal"]

DAY = 86400.0
#: a reservation lives this long past its longest possible call
_GRACE = 600.0
#: a free call (no price, no limit) is forgotten after this, like the call memory
_UNPRICED_TTL = 12 * 3600.0
#: open calls are checked for expiry at most this often (event time, seconds)
_SWEEP_EVERY = 60.0


@dataclass(frozen=True, slots=True)
class Reservation:
    """A call let through: ``seconds`` is SPAMGW_MAXDURATION (None: no limit, the
    destination costs less than ``cap_from_per_minute`` or spend caps are off)."""

    seconds: int | None
    amount: float = 0.0
    per_minute: float = 0.0


@dataclass(frozen=True, slots=True)
class SpendRefusal:
    """The call must not be placed: ``rule`` and ``reason`` go into the verdict."""

    rule: str
    reason: str


@dataclass(slots=True)
class _Open:
    subscriber: object
    route: str
    amount: float
    expensive: bool
    expires: float


class SpendLedger:
    def __init__(
        self,
        config: SpendConfig,
        state: Counters,
        rates: Callable[[], RateTable | None],
        trunk_caps: Mapping[str, float] | None = None,
    ) -> None:
        self.config = config
        self.state = state
        self.rates = rates
        self.trunk_caps = dict(trunk_caps or {})
        self._open: dict[str, _Open] = {}
        self._reserved: dict[object, float] = {}
        self._reserved_trunk: dict[str, float] = {}
        self._expensive: dict[object, int] = {}
        #: open calls per subscriber and per trunk (what is up right now)
        self.concurrent: dict[object, int] = {}
        self.concurrent_trunk: dict[str, int] = {}
        self.refused = 0
        self._next_sweep = 0.0
        self.settled = 0
        self.expired = 0

    # -- what is spent ----------------------------------------------------------------

    @staticmethod
    def _day(now: float) -> int:
        return int(now // DAY)

    def spent(self, subscriber: object, now: float) -> float:
        return self.state.peek("spend.subscriber", (subscriber, self._day(now)), now, DAY)

    def spent_trunk(self, route: str, now: float) -> float:
        return self.state.peek("spend.trunk", (route, self._day(now)), now, DAY)

    def remaining(self, subscriber: object, route: str, now: float) -> float:
        """Budget left for one more call: the trunk's when it has a cap of its own (a
        PBX or call centre spends from its trunk's budget whatever caller IDs it
        presents), else the calling subscriber's."""
        cap = self.trunk_caps.get(route, 0.0)
        if cap > 0:
            left = cap - self.spent_trunk(route, now) - self._reserved_trunk.get(route, 0.0)
        else:
            left = self.config.daily_cap - self.spent(subscriber, now) \
                - self._reserved.get(subscriber, 0.0)
        return max(0.0, left)

    # -- reserve and settle -------------------------------------------------------------

    def reserve(self, uniqueid: str, src: Number, dst: Number, route: str, now: float
                ) -> Reservation | SpendRefusal:
        self._expire(now)
        config = self.config
        rates = self.rates()
        if not config.enabled or rates is None:
            return Reservation(None)
        per_minute = rates.price_per_minute(dst)
        subscriber = src.key or src.text
        if per_minute < config.cap_from_per_minute or per_minute <= 0:
            self._track(uniqueid, subscriber, route, 0.0, False, now + _UNPRICED_TTL)
            return Reservation(None)
        expensive = per_minute >= config.expensive_per_minute
        if expensive and config.max_concurrent_expensive and \
                self._expensive.get(subscriber, 0) >= config.max_concurrent_expensive:
            self.refused += 1
            return SpendRefusal(
                "irsf.concurrent_expensive",
                f"{self._expensive[subscriber]} calls to expensive destinations already up "
                f"for this caller (limit {config.max_concurrent_expensive})")
        left = self.remaining(subscriber, route, now)
        seconds = min(config.max_call_seconds, math.floor(left / per_minute * 60.0))
        if seconds < config.min_call_seconds:
            self.refused += 1
            return SpendRefusal(
                "irsf.spend_cap",
                f"daily spend cap reached: {left:.2f} left, a minute here costs "
                f"{per_minute:.2f}")
        amount = per_minute * seconds / 60.0
        self._track(uniqueid, subscriber, route, amount, expensive, now + seconds + _GRACE)
        return Reservation(seconds, amount, per_minute)

    def _track(self, uniqueid: str, subscriber: object, route: str, amount: float,
               expensive: bool, expires: float) -> None:
        if not uniqueid:
            return
        if uniqueid in self._open:  # screened twice on one channel: the newer counts
            self._release(self._open.pop(uniqueid))
        self._open[uniqueid] = _Open(subscriber, route, amount, expensive, expires)
        self.concurrent[subscriber] = self.concurrent.get(subscriber, 0) + 1
        self.concurrent_trunk[route] = self.concurrent_trunk.get(route, 0) + 1
        if amount:
            self._reserved[subscriber] = self._reserved.get(subscriber, 0.0) + amount
            self._reserved_trunk[route] = self._reserved_trunk.get(route, 0.0) + amount
        if expensive:
            self._expensive[subscriber] = self._expensive.get(subscriber, 0) + 1

    def release(self, uniqueid: str) -> None:
        """The call was not placed after all (a BLOCK verdict): nothing to settle."""
        found = self._open.pop(uniqueid, None)
        if found is not None:
            self._release(found)

    def settle(self, uniqueid: str, dst: Number, billsec: float, now: float) -> float:
        """The call ended after ``billsec`` answered seconds: its reservation goes, its
        real cost is added to the day's spend. Returns the cost."""
        found = self._open.pop(uniqueid, None)
        if found is None:
            return 0.0
        self._release(found)
        rates = self.rates()
        cost = rates.cost(dst, billsec) if rates is not None and billsec > 0 else 0.0
        if cost > 0:
            day = self._day(now)
            self.state.hit("spend.subscriber", (found.subscriber, day), now, DAY, cost)
            if found.route in self.trunk_caps:
                self.state.hit("spend.trunk", (found.route, day), now, DAY, cost)
        self.settled += 1
        return cost

    def _release(self, found: _Open) -> None:
        sub, route = found.subscriber, found.route
        _dec(self.concurrent, sub, 1)
        _dec(self.concurrent_trunk, route, 1)
        if found.amount:
            _dec(self._reserved, sub, found.amount)
            _dec(self._reserved_trunk, route, found.amount)
        if found.expensive:
            _dec(self._expensive, sub, 1)

    def _expire(self, now: float) -> None:
        if now < self._next_sweep:
            return
        self._next_sweep = now + _SWEEP_EVERY
        for uid in [uid for uid, o in self._open.items() if o.expires <= now]:
            self._release(self._open.pop(uid))
            self.expired += 1

    def __len__(self) -> int:
        return len(self._open)

    @property
    def reserved(self) -> float:
        """Everything reserved by calls that are up."""
        return sum(self._reserved.values())


def _dec(table: dict[Any, Any], key: object, amount: float) -> None:
    value = table.get(key, 0) - amount
    if value <= 1e-9:
        table.pop(key, None)
    else:
        table[key] = value
