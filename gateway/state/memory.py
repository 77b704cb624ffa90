"""In-process counters: O(1) per event, bounded memory.

Sums use the two-window estimate (the previous fixed window weighted by how much of
it still overlaps the sliding window, plus the current one): three numbers a key,
no per-event timestamps. Distinct counts keep each member's last-seen time in
insertion order, so expiry pops from the front; a key holds at most
``max_members`` members (the count saturates there, far above any threshold).
Idle keys are swept incrementally: every ``sweep_every`` operations a slice of
``sweep_batch`` keys is examined, so no single event pays for a full scan (a full
scan of a million keys would stall the event loop for a quarter of a second).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, Iterator

__all__ = ["MemoryCounters"]


class _Sum:
    __slots__ = ("cur", "prev", "start")

    def __init__(self, start: float) -> None:
        self.start = start
        self.cur = 0.0
        self.prev = 0.0


class MemoryCounters:
    def __init__(self, max_members: int = 4096, sweep_every: int = 256,
                 sweep_batch: int = 512) -> None:
        self.max_members = max_members
        self._sums: dict[tuple[str, Hashable], tuple[float, _Sum]] = {}
        self._sets: dict[tuple[str, Hashable], tuple[float, OrderedDict[Hashable, float]]] = {}
        self._flags: dict[str, dict[Hashable, float]] = {}
        self._ops = 0
        self._sweep_every = sweep_every
        self._sweep_batch = sweep_batch
        self._cursor: Iterator[tuple[str, tuple[str, Hashable]]] = iter(())

    # -- sums ---------------------------------------------------------------------

    def _roll(self, s: _Sum, now: float, window: float) -> None:
        elapsed = now - s.start
        if elapsed >= window:
            periods = int(elapsed // window)
            s.prev = s.cur if periods == 1 else 0.0
            s.cur = 0.0
            s.start += periods * window

    @staticmethod
    def _estimate(s: _Sum, now: float, window: float) -> float:
        overlap = 1.0 - (now - s.start) / window
        return s.cur + s.prev * overlap if overlap > 0 else s.cur

    def hit(self, name: str, key: Hashable, now: float, window: float, amount: float = 1.0
            ) -> float:
        self._tick(now)
        k = (name, key)
        entry = self._sums.get(k)
        if entry is None:
            s = _Sum(now)
            self._sums[k] = (window, s)
        else:
            s = entry[1]
            self._roll(s, now, window)
        s.cur += amount
        return self._estimate(s, now, window)

    def peek(self, name: str, key: Hashable, now: float, window: float) -> float:
        entry = self._sums.get((name, key))
        if entry is None:
            return 0.0
        s = entry[1]
        self._roll(s, now, window)
        return self._estimate(s, now, window)

    # -- distinct counts ----------------------------------------------------------

    def distinct(self, name: str, key: Hashable, member: Hashable, now: float, window: float
                 ) -> int:
        self._tick(now)
        k = (name, key)
        entry = self._sets.get(k)
        if entry is None:
            members: OrderedDict[Hashable, float] = OrderedDict()
            self._sets[k] = (window, members)
        else:
            members = entry[1]
            if member in members:
                members.move_to_end(member)
        members[member] = now
        horizon = now - window
        while members:
            first = next(iter(members.values()))
            if first > horizon:
                break
            members.popitem(last=False)
        if len(members) > self.max_members:
            members.popitem(last=False)
        return len(members)

    # -- expiring flags -----------------------------------------------------------

    def flag(self, name: str, key: Hashable, now: float, ttl: float) -> None:
        self._flags.setdefault(name, {})[key] = now + ttl

    def unflag(self, name: str, key: Hashable) -> bool:
        return self._flags.get(name, {}).pop(key, None) is not None

    def flagged(self, name: str, key: Hashable, now: float) -> bool:
        flags = self._flags.get(name)
        if not flags:
            return False
        exp = flags.get(key)
        return exp is not None and exp > now

    def flags(self, name: str, now: float) -> dict[Hashable, float]:
        return {k: e for k, e in self._flags.get(name, {}).items() if e > now}

    def flag_names(self) -> list[str]:
        """The names of the expiring lists that ever had an entry."""
        return list(self._flags)

    # -- housekeeping -------------------------------------------------------------

    def _tick(self, now: float) -> None:
        self._ops += 1
        if self._ops >= self._sweep_every:
            self._ops = 0
            self._sweep_some(now)

    def _sweep_some(self, now: float) -> None:
        """Examine the next ``sweep_batch`` keys of a rolling snapshot."""
        for n, (kind, k) in enumerate(self._cursor, 1):
            if kind == "s":
                entry = self._sums.get(k)
                if entry is not None and now - entry[1].start >= 2 * entry[0]:
                    del self._sums[k]
            else:
                sentry = self._sets.get(k)
                if sentry is not None:
                    members = sentry[1]
                    if not members or next(reversed(members.values())) <= now - sentry[0]:
                        del self._sets[k]
            if n >= self._sweep_batch:
                return
        # snapshot exhausted: start a new round (flags are few; swept whole here)
        self._cursor = iter([("s", k) for k in self._sums] + [("d", k) for k in self._sets])
        for flags in self._flags.values():
            for key in [key for key, exp in flags.items() if exp <= now]:
                del flags[key]

    def sweep(self, now: float) -> int:
        gone = 0
        for k, (window, s) in list(self._sums.items()):
            if now - s.start >= 2 * window:
                del self._sums[k]
                gone += 1
        for k, (window, members) in list(self._sets.items()):
            if not members or next(reversed(members.values())) <= now - window:
                del self._sets[k]
                gone += 1
        for flags in self._flags.values():
            for key, exp in list(flags.items()):
                if exp <= now:
                    del flags[key]
                    gone += 1
        return gone

    def __len__(self) -> int:
        return len(self._sums) + len(self._sets) + sum(map(len, self._flags.values()))
