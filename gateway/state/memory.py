"""In-process counters: O(1) per event, bounded memory.

Sums use the two-window estimate (the previous fixed window weighted by how much of
it still overlaps the sliding window, plus the current one): three numbers a key,
no per-event timestamps. Distinct counts keep each member's last-seen time in
insertion order, so expiry pops from the front; a key holds at most
``max_members`` members (the count saturates there, far above any threshold).
Idle keys are swept in slices: every ``sweep_every`` operations a snapshot of the
keys is taken (a C-level copy) and a few of them are checked on each later
operation, so no single call stops the event loop for a sweep of the whole state
(a full pass over a busy gateway's state took 20-80 ms, and growing).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable

__all__ = ["MemoryCounters"]


class _Sum:
    __slots__ = ("cur", "prev", "start")

    def __init__(self, start: float) -> None:
        self.start = start
        self.cur = 0.0
        self.prev = 0.0


class MemoryCounters:
    def __init__(self, max_members: int = 4096, sweep_every: int = 1 << 16) -> None:
        self.max_members = max_members
        self._sums: dict[tuple[str, Hashable], tuple[float, _Sum]] = {}
        self._sets: dict[tuple[str, Hashable], tuple[float, OrderedDict[Hashable, float]]] = {}
        self._flags: dict[str, dict[Hashable, float]] = {}
        self._ops = 0
        self._sweep_every = sweep_every
        # keys still to check in the current sweep (popped from the end)
        self._todo_sums: list[tuple[str, Hashable]] = []
        self._todo_sets: list[tuple[str, Hashable]] = []
        self._todo_flags: list[tuple[dict[Hashable, float], list[Hashable]]] = []

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

    # -- housekeeping -------------------------------------------------------------

    def _tick(self, now: float) -> None:
        self._ops += 1
        if self._ops & 63:
            return
        if self._todo_sums or self._todo_sets or self._todo_flags:
            self._sweep_slice(now, 256)
        elif self._ops >= self._sweep_every:
            self._ops = 0
            self._todo_sums = list(self._sums)
            self._todo_sets = list(self._sets)
            self._todo_flags = [(f, list(f)) for f in self._flags.values() if f]

    def _sweep_slice(self, now: float, count: int) -> None:
        """Check up to ``count`` keys of the current snapshot (what ``sweep`` checks)."""
        sums, sets = self._sums, self._sets
        todo = self._todo_sums
        while todo and count > 0:
            count -= 1
            k = todo.pop()
            entry = sums.get(k)
            if entry is not None and now - entry[1].start >= 2 * entry[0]:
                del sums[k]
        todo = self._todo_sets
        while todo and count > 0:
            count -= 1
            k = todo.pop()
            sentry = sets.get(k)
            if sentry is not None:
                window, members = sentry
                if not members or next(reversed(members.values())) <= now - window:
                    del sets[k]
        while self._todo_flags and count > 0:
            flags, keys = self._todo_flags[-1]
            while keys and count > 0:
                count -= 1
                key = keys.pop()
                exp = flags.get(key)
                if exp is not None and exp <= now:
                    del flags[key]
            if not keys:
                self._todo_flags.pop()

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
