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

The calls run for every event, so each does as little as it can: entries are found by
name, then key (no (name, key) tuple built and hashed per call), an entry is queued
for the sync once per sync rather than once per call (the sync does the per-key
bookkeeping), and a distinct count's members are a plain dict whose front is read only
when something may expire (loadtest/bench_state.py).
"""

from __future__ import annotations

import contextlib
import heapq
from collections.abc import Callable, Hashable, Iterator

from gateway.state.memory import MemoryCounters

__all__ = ["Distinct", "Key", "LocalView", "Sum"]

#: (counter name, key)
Key = tuple[str, Hashable]

_UNKNOWN = float("-inf")


class Sum:
    """One key's sum: the cluster's best-known totals for bucket ``b`` and ``b - 1``,
    and what this process added to ``b`` since the last push."""

    __slots__ = ("b", "cur", "field", "k", "pend", "prev", "synced", "touched", "window")

    def __init__(self, k: Key, window: float, b: int) -> None:
        self.k = k
        self.touched = False  # queued in ``touched_sums`` for the next sync
        self.field = ""  # the key as Redis has it, encoded at its first sync
        #: the bucket whose cluster totals were last read from Redis (-1: none yet); a
        #: sync reads the key back when it differs from ``b``, and otherwise learns of
        #: the others' changes from their change records
        self.synced = -1
        self.window = window
        self.b = b
        self.cur = 0.0
        self.prev = 0.0
        self.pend = 0.0


class Distinct:
    """One key's distinct count: members seen here (insertion order = last-seen order),
    how many members only other processes had at the last pull, unpushed sightings.

    ``members`` is a plain dict (a member seen again is popped and put back at the
    end), which the cyclic garbage collector does not track, as in ``MemoryCounters``;
    ``front`` is the last-seen time of its first member when known (``-inf`` when it
    may have changed), so the front is read only when something may expire."""

    __slots__ = ("field", "front", "k", "members", "now", "others", "pend", "pulled",
                 "rkey", "touched", "window")

    def __init__(self, k: Key, window: float) -> None:
        self.k = k
        self.touched = False  # queued in ``touched_sets`` for the next sync
        self.rkey = ""  # its sorted set's name, made at its first sync
        self.field = ""  # the key's part of it (the key encoded), made then too
        self.window = window
        self.members: dict[Hashable, float] = {}
        self.front = _UNKNOWN
        self.pend: dict[Hashable, float] = {}
        self.others = 0
        self.pulled = 0.0
        self.now = 0.0


class LocalView:
    """The counters as this process knows them. The sync reads ``sums``, ``sets`` and
    the queues (``touched_sums``, ``touched_sets``, ``spill``, ``flag_ops``), and merges
    what Redis answers back into the entries and into ``local``.

    An entry used while recording is queued once per sync, not once per call: its
    ``touched`` mark says it is in the queue already (the sync clears it)."""

    def __init__(self, max_members: int) -> None:
        self.max_members = max_members
        self.local = MemoryCounters(max_members=max_members)  # the flags
        #: answered by the flags' own method: no call through this one on the hot path
        self.flagged: Callable[[str, Hashable, float], bool] = self.local.flagged
        #: counter name -> key -> entry (two lookups cost less than building and
        #: hashing a (name, key) tuple on every call)
        self._sums: dict[str, dict[Hashable, Sum]] = {}
        self._sets: dict[str, dict[Hashable, Distinct]] = {}
        self.touched_sums: list[Sum] = []
        self.touched_sets: list[Distinct] = []
        #: entries by their Redis names, for the other processes' change records
        self._fields: dict[str, dict[str, Sum]] = {}
        self._rkeys: dict[str, Distinct] = {}
        self.spill: list[tuple[Key, float, int, float]] = []  # pushes of past buckets
        self.flag_ops: dict[tuple[str, Hashable], float | None] = {}
        self.recording = False  # nothing is queued for Redis until start()
        self.latest = 0.0  # latest event time seen, for the idle sweep
        #: idle-sweep schedule: second -> entries to look at then (a heap of the seconds)
        self._wheel: dict[int, list[Sum | Distinct]] = {}
        self._slots: list[int] = []
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

    @property
    def sums(self) -> dict[Key, Sum]:
        """Every sum entry by (name, key): a copy, for the sync's bookkeeping and tests."""
        return {(n, key): e for n, by in self._sums.items() for key, e in by.items()}

    @property
    def sets(self) -> dict[Key, Distinct]:
        """Every distinct entry by (name, key): a copy."""
        return {(n, key): e for n, by in self._sets.items() for key, e in by.items()}

    def index_sums(self, fresh: list[Sum]) -> None:
        """Index entries by their ``field`` (just set by the sync, at their first push
        or read) and schedule their idle sweep."""
        fields, schedule = self._fields, self._schedule
        for e in fresh:
            by = fields.get(e.k[0])
            if by is None:
                by = fields[e.k[0]] = {}
            by[e.field] = e
            schedule(e, (e.b + 2) * e.window)

    def index_set(self, d: Distinct, field: str, rkey: str) -> None:
        """Name a set entry at its first sync, index it by that name and schedule its
        idle sweep (no sooner than a window after its last call: the sweep looks again
        then)."""
        d.field = field
        d.rkey = rkey
        self._rkeys[rkey] = d
        self._schedule(d, d.now + d.window)

    def sum_by_field(self, name: str, field: str) -> Sum | None:
        by = self._fields.get(name)
        return by.get(field) if by is not None else None

    def set_by_rkey(self, rkey: str) -> Distinct | None:
        return self._rkeys.get(rkey)

    def reread(self) -> None:
        """Queue every entry to be read from Redis again (the sync does it when changes
        of other processes may have been missed)."""
        for by in self._sums.values():
            for e in by.values():
                e.synced = -1
                if not e.touched:
                    e.touched = True
                    self.touched_sums.append(e)
        for byd in self._sets.values():
            for d in byd.values():
                if not d.touched:
                    d.touched = True
                    self.touched_sets.append(d)

    def sum_entry(self, k: Key) -> Sum | None:
        by = self._sums.get(k[0])
        return by.get(k[1]) if by is not None else None

    def set_entry(self, k: Key) -> Distinct | None:
        by = self._sets.get(k[0])
        return by.get(k[1]) if by is not None else None

    # -- sums (hot path) ----------------------------------------------------------

    def hit(self, name: str, key: Hashable, now: float, window: float, amount: float = 1.0
            ) -> float:
        if self.dry:
            return self.peek(name, key, now, window) + amount
        b = int(now // window)
        by = self._sums.get(name)
        if by is None:
            by = self._sums[name] = {}
        e = by.get(key)
        if e is None:
            e = by[key] = Sum((name, key), window, b)
        elif b != e.b:
            b = self._roll(e, b)
        e.cur += amount
        if self.recording:
            e.pend += amount
            if not e.touched:
                e.touched = True
                self.touched_sums.append(e)
        self.latest = now
        overlap = 1.0 - (now - b * window) / window
        return e.cur + e.prev * overlap if overlap < 1.0 else e.cur + e.prev

    def peek(self, name: str, key: Hashable, now: float, window: float) -> float:
        b = int(now // window)
        by = self._sums.get(name)
        e = by.get(key) if by is not None else None
        if e is None:
            if not self.recording:
                return 0.0
            if by is None:
                by = self._sums[name] = {}
            e = by[key] = Sum((name, key), window, b)  # so the next sync reads the cluster's
        elif b != e.b:
            b = self._roll(e, b)
        if self.recording and e.synced != b and not e.touched:  # to be read once
            e.touched = True
            self.touched_sums.append(e)
        overlap = 1.0 - (now - b * window) / window
        return e.cur + e.prev * overlap if overlap < 1.0 else e.cur + e.prev

    def _roll(self, e: Sum, b: int) -> int:
        if b < e.b:  # a late event counts in the current bucket
            return e.b
        if e.pend:
            self.spill.append((e.k, e.window, e.b, e.pend))
            e.pend = 0.0
        e.prev = e.cur if b == e.b + 1 else 0.0
        e.cur = 0.0
        e.b = b
        return b

    # -- distinct counts (hot path) -----------------------------------------------

    def distinct(self, name: str, key: Hashable, member: Hashable, now: float, window: float
                 ) -> int:
        by = self._sets.get(name)
        e = by.get(key) if by is not None else None
        if self.dry:  # what it would answer, storing nothing
            if e is None:
                return 1
            horizon = now - window
            n = 1 + sum(1 for m, seen in e.members.items() if seen > horizon and m != member)
            if e.others and now - e.pulled < window:
                n += e.others
            return min(n, self.max_members)
        if e is None:
            if by is None:
                by = self._sets[name] = {}
            e = by[key] = Distinct((name, key), window)
        members = e.members
        prev = members.pop(member, None)  # to the end: the dict stays in last-seen order
        members[member] = now
        front = e.front
        if prev is not None and prev <= front:  # it may have been the first
            front = _UNKNOWN
        horizon = now - window
        if front <= horizon:  # expire from the front (and learn which it is)
            e.front = _expire_front(members, horizon)
        if len(members) > self.max_members:
            del members[next(iter(members))]
            e.front = _UNKNOWN
        if self.recording:
            e.pend[member] = now
            e.now = now
            if not e.touched:
                e.touched = True
                self.touched_sets.append(e)
        self.latest = now
        if e.others:
            if now - e.pulled < window:
                n = len(members) + e.others
                return n if n < self.max_members else self.max_members
            e.others = 0  # nobody here used it for a window: what we knew has expired
        return len(members)

    def distinct_max(self, name: str, keys: tuple[Hashable, ...], member: Hashable,
                     now: float, window: float) -> int:
        """``distinct`` for each of ``keys`` in turn; the largest count (as
        ``MemoryCounters.distinct_max``: the campaign plugin's band keys in one call,
        the counter's keys looked up once)."""
        if self.dry:
            return max([self.distinct(name, k, member, now, window) for k in keys],
                       default=0)
        by = self._sets.get(name)
        if by is None:
            by = self._sets[name] = {}
        horizon = now - window
        cap = self.max_members
        recording = self.recording
        touched = self.touched_sets
        best = 0
        for key in keys:  # the body of ``distinct``, inlined
            e = by.get(key)
            if e is None:
                e = by[key] = Distinct((name, key), window)
            members = e.members
            prev = members.pop(member, None)
            members[member] = now
            front = e.front
            if prev is not None and prev <= front:
                front = _UNKNOWN
            if front <= horizon:
                e.front = _expire_front(members, horizon)
            if len(members) > cap:
                del members[next(iter(members))]
                e.front = _UNKNOWN
            if recording:
                e.pend[member] = now
                e.now = now
                if not e.touched:
                    e.touched = True
                    touched.append(e)
            n = len(members)
            if e.others:
                if now - e.pulled < window:
                    n += e.others
                    if n > cap:
                        n = cap
                else:
                    e.others = 0
            if n > best:
                best = n
        self.latest = now
        return best

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

    def flags(self, name: str, now: float) -> dict[Hashable, float]:
        return self.local.flags(name, now)

    # -- housekeeping ---------------------------------------------------------------

    def _idle_sum(self, e: Sum, now: float) -> bool:
        return not e.pend and now - e.b * e.window >= 2 * e.window

    @staticmethod
    def _set_idle_at(d: Distinct) -> float:
        m = d.members
        return max(next(reversed(m.values())) if m else 0.0, d.pulled) + d.window

    def _idle_set(self, e: Distinct, now: float) -> bool:
        return not e.pend and now >= self._set_idle_at(e)

    def _schedule(self, e: Sum | Distinct, at: float) -> None:
        slot = int(at) + 1
        entries = self._wheel.get(slot)
        if entries is None:
            entries = self._wheel[slot] = []
            heapq.heappush(self._slots, slot)
        entries.append(e)

    def sweep_due(self, now: float) -> int:
        """Forget the entries idle by ``now`` (called by the sync). Each entry the sync
        named is scheduled for the time it could go idle and looked at then (again
        later if it was used meanwhile): no scan of every key."""
        slots, wheel = self._slots, self._wheel
        gone = 0
        while slots and slots[0] <= now:
            for e in wheel.pop(heapq.heappop(slots)):
                if type(e) is Sum:
                    if self.sum_entry(e.k) is not e:  # forgotten by a full sweep
                        continue
                    if e.touched or e.pend:
                        self._schedule(e, now + 1.0)
                    elif self._idle_sum(e, now):
                        self._forget_sum(e)
                        gone += 1
                    else:
                        self._schedule(e, (e.b + 2) * e.window)
                else:
                    assert isinstance(e, Distinct)
                    if self.set_entry(e.k) is not e:
                        continue
                    if e.touched or e.pend:
                        self._schedule(e, now + 1.0)
                    elif self._idle_set(e, now):
                        self._forget_set(e)
                        gone += 1
                    else:
                        self._schedule(e, self._set_idle_at(e))
        return gone

    def _forget_sum(self, s: Sum) -> None:
        del self._sums[s.k[0]][s.k[1]]
        if s.field:
            self._fields[s.k[0]].pop(s.field, None)

    def _forget_set(self, d: Distinct) -> None:
        del self._sets[d.k[0]][d.k[1]]
        if d.rkey:
            self._rkeys.pop(d.rkey, None)

    def sweep(self, now: float) -> int:
        gone = self.local.sweep(now)
        for by in self._sums.values():
            for s in [s for s in by.values() if self._idle_sum(s, now)]:
                self._forget_sum(s)
                gone += 1
        for byd in self._sets.values():
            for d in [d for d in byd.values() if self._idle_set(d, now)]:
                self._forget_set(d)
                gone += 1
        return gone

    def __len__(self) -> int:
        return (sum(map(len, self._sums.values())) + sum(map(len, self._sets.values()))
                + len(self.local))


def _expire_front(members: dict[Hashable, float], horizon: float) -> float:
    """Drop the members last seen at or before ``horizon`` (they are in the order they
    were last seen) and return when the oldest one left was seen (``_UNKNOWN`` if
    none is)."""
    front = _UNKNOWN
    gone = []
    for m, seen in members.items():
        if seen > horizon:
            front = seen
            break
        gone.append(m)
    for m in gone:
        del members[m]
    return front
