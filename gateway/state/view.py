"""The redis backend's local view: what the engine's synchronous calls are answered
from, and what they queue for the next sync (``gateway.state.sync``).

Sums use fixed windows aligned on the epoch (``floor(ts / window)``), so every process
agrees on the buckets, and the same two-window estimate as ``MemoryCounters``
(current bucket plus the overlapping share of the previous one). Distinct counts
are the members seen here (exact, expiring as in ``MemoryCounters``) plus the members
only other processes had at the last sync; a member first seen here that another
process had already pushed is counted twice until the next sync. Flags are kept by a
``MemoryCounters``.

Until ``recording`` is set (the backend's ``start``) nothing is queued for Redis.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from collections.abc import Hashable, Iterator

from gateway.state.memory import MemoryCounters

__all__ = ["Distinct", "Key", "LocalView", "Sum"]

#: (counter name, key)
Key = tuple[str, Hashable]


class Sum:
    """One key's sum: the cluster's best-known totals for bucket ``b`` and ``b - 1``,
    and what this process added to ``b`` since the last push."""

    __slots__ = ("b", "cur", "field", "pend", "prev", "window")

    def __init__(self, window: float, b: int) -> None:
        self.field = ""  # the key as Redis has it, encoded at its first sync
        self.window = window
        self.b = b
        self.cur = 0.0
        self.prev = 0.0
        self.pend = 0.0


class Distinct:
    """One key's distinct count: members seen here (insertion order = last-seen order),
    how many members only other processes had at the last pull, unpushed sightings."""

    __slots__ = ("members", "now", "others", "pend", "pulled", "rkey", "window")

    def __init__(self, window: float) -> None:
        self.rkey = ""  # its sorted set's name, made at its first sync
        self.window = window
        self.members: OrderedDict[Hashable, float] = OrderedDict()
        self.pend: dict[Hashable, float] = {}
        self.others = 0
        self.pulled = 0.0
        self.now = 0.0


class LocalView:
    """The counters as this process knows them. The sync reads ``sums``, ``sets`` and
    the queues (``touched_sums``, ``touched_sets``, ``spill``, ``flag_ops``), and merges
    what Redis answers back into the entries and into ``local``."""

    def __init__(self, max_members: int) -> None:
        self.max_members = max_members
        self.local = MemoryCounters(max_members=max_members)  # the flags
        self.sums: dict[Key, Sum] = {}
        self.sets: dict[Key, Distinct] = {}
        self.touched_sums: dict[Key, Sum] = {}
        self.touched_sets: dict[Key, Distinct] = {}
        self.spill: list[tuple[Key, float, int, float]] = []  # pushes of past buckets
        self.flag_ops: dict[tuple[str, Hashable], float | None] = {}
        self.recording = False  # nothing is queued for Redis until start()
        self.latest = 0.0  # latest event time seen, for the idle sweep
        self._cursor: Iterator[tuple[str, Key]] = iter(())
        #: inside ``dry_run``: writes answer what they would count, queue and store nothing
        self.dry = False

    @contextlib.contextmanager
    def dry_run(self) -> Iterator[None]:
        """Judge without counting (as ``MemoryCounters.dry_run``): nothing changes here
        and nothing is queued for Redis."""
        self.dry = True
        try:
            yield
        finally:
            self.dry = False

    # -- sums (hot path) ----------------------------------------------------------

    def hit(self, name: str, key: Hashable, now: float, window: float, amount: float = 1.0
            ) -> float:
        if self.dry:
            return self.peek(name, key, now, window) + amount
        k = (name, key)
        b = int(now // window)
        e = self.sums.get(k)
        if e is None:
            e = self.sums[k] = Sum(window, b)
        elif b != e.b:
            b = self._roll(k, e, b)
        e.cur += amount
        if self.recording:
            e.pend += amount
            self.touched_sums[k] = e
        self.latest = now
        overlap = 1.0 - (now - b * window) / window
        return e.cur + e.prev * overlap if overlap < 1.0 else e.cur + e.prev

    def peek(self, name: str, key: Hashable, now: float, window: float) -> float:
        k = (name, key)
        b = int(now // window)
        e = self.sums.get(k)
        if e is None:
            if not self.recording:
                return 0.0
            e = self.sums[k] = Sum(window, b)  # so the next sync reads the cluster's
        elif b != e.b:
            b = self._roll(k, e, b)
        if self.recording:
            self.touched_sums[k] = e
        overlap = 1.0 - (now - b * window) / window
        return e.cur + e.prev * overlap if overlap < 1.0 else e.cur + e.prev

    def _roll(self, k: Key, e: Sum, b: int) -> int:
        if b < e.b:  # a late event counts in the current bucket
            return e.b
        if e.pend:
            self.spill.append((k, e.window, e.b, e.pend))
            e.pend = 0.0
        e.prev = e.cur if b == e.b + 1 else 0.0
        e.cur = 0.0
        e.b = b
        return b

    # -- distinct counts (hot path) -----------------------------------------------

    def distinct(self, name: str, key: Hashable, member: Hashable, now: float, window: float
                 ) -> int:
        k = (name, key)
        e = self.sets.get(k)
        if self.dry:  # what it would answer, storing nothing
            if e is None:
                return 1
            horizon = now - window
            n = 1 + sum(1 for m, seen in e.members.items() if seen > horizon and m != member)
            if e.others and now - e.pulled < window:
                n += e.others
            return min(n, self.max_members)
        if e is None:
            e = self.sets[k] = Distinct(window)
        members = e.members
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
        if self.recording:
            e.pend[member] = now
            e.now = now
            self.touched_sets[k] = e
        self.latest = now
        if e.others:
            if now - e.pulled < window:
                n = len(members) + e.others
                return n if n < self.max_members else self.max_members
            e.others = 0  # nobody here used it for a window: what we knew has expired
        return len(members)

    # -- expiring flags (hot path) --------------------------------------------------

    def flag(self, name: str, key: Hashable, now: float, ttl: float) -> None:
        if self.dry:
            return
        self.local.flag(name, key, now, ttl)
        if self.recording:
            self.flag_ops[(name, key)] = now + ttl

    def unflag(self, name: str, key: Hashable) -> bool:
        if self.recording:
            self.flag_ops[(name, key)] = None
        return self.local.unflag(name, key)

    def flagged(self, name: str, key: Hashable, now: float) -> bool:
        return self.local.flagged(name, key, now)

    def flags(self, name: str, now: float) -> dict[Hashable, float]:
        return self.local.flags(name, now)

    # -- housekeeping ---------------------------------------------------------------

    def _idle_sum(self, e: Sum, now: float) -> bool:
        return not e.pend and now - e.b * e.window >= 2 * e.window

    def _idle_set(self, e: Distinct, now: float) -> bool:
        m = e.members
        return not e.pend and (not m or next(reversed(m.values())) <= now - e.window) and (
            now - e.pulled >= e.window)

    def sweep_some(self, now: float, budget: int) -> None:
        """Examine the next ``budget`` keys of a rolling snapshot (called by the sync)."""
        for n, (kind, k) in enumerate(self._cursor, 1):
            if kind == "s":
                s = self.sums.get(k)
                if s is not None and self._idle_sum(s, now):
                    del self.sums[k]
            else:
                d = self.sets.get(k)
                if d is not None and self._idle_set(d, now):
                    del self.sets[k]
            if n >= budget:
                return
        self._cursor = iter([("s", k) for k in self.sums] + [("d", k) for k in self.sets])
        self.local.sweep(now)

    def sweep(self, now: float) -> int:
        gone = self.local.sweep(now)
        for k in [k for k, s in self.sums.items() if self._idle_sum(s, now)]:
            del self.sums[k]
            gone += 1
        for k in [k for k, d in self.sets.items() if self._idle_set(d, now)]:
            del self.sets[k]
            gone += 1
        return gone

    def __len__(self) -> int:
        return len(self.sums) + len(self.sets) + len(self.local)
