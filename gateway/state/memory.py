"""In-process counters: O(1) per event, bounded memory, no scanning.

Sums use the two-window estimate (the previous fixed window weighted by how much of
it still overlaps the sliding window, plus the current one): three numbers a key,
no per-event timestamps. Distinct counts keep each member's last-seen time in
insertion order (a member seen again moves to the end), so expiry pops from the
front, and only when the oldest may have expired; a key holds at most
``max_members`` members (the count saturates there, far above any threshold).

Idle keys go by generations: each counter name keeps a ``cur`` and a ``prev``
dict, rotated once per window. A key used in this window or the last one is
found (and moved to ``cur``); one idle for a whole window is dropped with its
generation, all at once, with no scan on the event path.
"""

from __future__ import annotations

import contextlib
from collections.abc import Hashable, Iterator
from typing import Any

__all__ = ["MemoryCounters"]


class _Sum:
    __slots__ = ("cur", "prev", "start")

    def __init__(self, start: float) -> None:
        self.start = start
        self.cur = 0.0
        self.prev = 0.0


class _Members:
    """One key's distinct members: member -> last seen, in last-seen order, and a lower
    bound of the oldest time (the front is read only when something may expire).

    A plain dict of numbers and strings, which the cyclic garbage collector does not
    track, rather than an ``OrderedDict``, which it does: walking every member of
    every key made a full collection of a busy gateway three times longer."""

    __slots__ = ("members", "oldest")

    def __init__(self, now: float) -> None:
        self.members: dict[Hashable, float] = {}
        self.oldest = now


class _Gen:
    """Two generations of one counter's keys."""

    __slots__ = ("cur", "prev", "rotate_at", "window")

    def __init__(self, window: float, now: float) -> None:
        self.window = window
        self.cur: dict[Hashable, Any] = {}
        self.prev: dict[Hashable, Any] = {}
        self.rotate_at = now + window

    def get(self, key: Hashable, now: float) -> Any:
        if now >= self.rotate_at:
            self.rotate(now)
        entry = self.cur.get(key)
        if entry is None and self.prev:
            entry = self.prev.pop(key, None)
            if entry is not None:
                self.cur[key] = entry
        return entry

    def rotate(self, now: float) -> None:
        # two windows idle: both generations are stale
        self.prev = self.cur if now < self.rotate_at + self.window else {}
        self.cur = {}
        self.rotate_at = now + self.window

    def __len__(self) -> int:
        return len(self.cur) + len(self.prev)


class MemoryCounters:
    def __init__(self, max_members: int = 4096) -> None:
        self.max_members = max_members
        self._sums: dict[str, _Gen] = {}
        self._sets: dict[str, _Gen] = {}
        self._flags: dict[str, dict[Hashable, float]] = {}
        self._flag_ops = 0
        #: inside ``dry_run``: writes answer what they would count and store nothing
        self.dry = False

    def clear(self) -> None:
        """Forget every count, set and flag (a ruleset compiled against these counters
        stays bound to them: the inline examples run one after another on one ruleset)."""
        self._sums.clear()
        self._sets.clear()
        self._flags.clear()
        self._flag_ops = 0

    @contextlib.contextmanager
    def dry_run(self) -> Iterator[None]:
        """Judge without counting: inside, ``hit``, ``distinct``, ``distinct_max`` and
        ``flag`` answer as if they had counted and change nothing (``/v1/check`` with
        ``dry_run``). The engine judges on one thread, the event loop's."""
        self.dry = True
        try:
            yield
        finally:
            self.dry = False

    # -- sums ---------------------------------------------------------------------

    @staticmethod
    def _roll(s: _Sum, now: float, window: float) -> None:
        elapsed = now - s.start
        if elapsed >= window:
            periods = int(elapsed // window)
            s.prev = s.cur if periods == 1 else 0.0
            s.cur = 0.0
            s.start += periods * window

    def hit(self, name: str, key: Hashable, now: float, window: float, amount: float = 1.0
            ) -> float:
        if self.dry:
            return self.peek(name, key, now, window) + amount
        gen = self._sums.get(name)
        if gen is None:
            gen = self._sums[name] = _Gen(window, now)
        # the key's entry (gen.get, or a new one when neither generation has it), inlined
        if now >= gen.rotate_at:
            gen.rotate(now)
        s: _Sum | None = gen.cur.get(key)
        if s is None:
            if gen.prev:
                s = gen.prev.pop(key, None)
            if s is None:
                s = _Sum(now)
            gen.cur[key] = s
        self._roll(s, now, window)
        s.cur += amount
        overlap = 1.0 - (now - s.start) / window
        return s.cur + s.prev * overlap if overlap > 0 else s.cur

    def peek(self, name: str, key: Hashable, now: float, window: float) -> float:
        gen = self._sums.get(name)
        s = gen.get(key, now) if gen is not None else None
        if s is None:
            return 0.0
        self._roll(s, now, window)
        overlap = 1.0 - (now - s.start) / window
        return s.cur + s.prev * overlap if overlap > 0 else s.cur

    # -- distinct counts ----------------------------------------------------------

    def distinct(self, name: str, key: Hashable, member: Hashable, now: float, window: float
                 ) -> int:
        if self.dry:
            return self._distinct_if(name, key, member, now, window)
        gen = self._sets.get(name)
        if gen is None:
            gen = self._sets[name] = _Gen(window, now)
        # the key's entry (gen.get, or a new one), inlined: this runs for most rules of
        # every event
        if now >= gen.rotate_at:
            gen.rotate(now)
        m: _Members | None = gen.cur.get(key)
        if m is None:
            if gen.prev:
                m = gen.prev.pop(key, None)
            if m is None:
                m = _Members(now)
            gen.cur[key] = m
        members = m.members
        members.pop(member, None)  # to the end: the dict stays in last-seen order
        members[member] = now
        horizon = now - window
        if m.oldest <= horizon:  # expire from the oldest end
            gone = []
            for k, seen in members.items():
                if seen > horizon:  # the member just added ends the loop at the latest
                    m.oldest = seen
                    break
                gone.append(k)
            for k in gone:
                del members[k]
        if len(members) > self.max_members:
            del members[next(iter(members))]
        return len(members)

    def distinct_max(self, name: str, keys: tuple[Hashable, ...], member: Hashable,
                     now: float, window: float) -> int:
        """``distinct`` for each of ``keys`` in turn; the largest count. One call for
        the campaign plugin's band keys, the counter's generations looked up once
        (``tests/core/test_state.py`` holds it to the calls one by one)."""
        if self.dry:
            return max([self._distinct_if(name, k, member, now, window) for k in keys],
                       default=0)
        gen = self._sets.get(name)
        if gen is None:
            gen = self._sets[name] = _Gen(window, now)
        if now >= gen.rotate_at:
            gen.rotate(now)
        cur, prev = gen.cur, gen.prev
        horizon = now - window
        cap = self.max_members
        alone = now > horizon and cap >= 1  # a new key's one member stays: count 1
        best = 0
        for key in keys:
            m: _Members | None = cur.get(key)
            if m is None:
                if prev:
                    m = prev.pop(key, None)
                if m is None:  # a key not seen for two windows: this member alone
                    m = cur[key] = _Members(now)
                    if alone:
                        m.members[member] = now
                        if best < 1:
                            best = 1
                        continue
                else:
                    cur[key] = m
            members = m.members
            members.pop(member, None)
            members[member] = now
            if m.oldest <= horizon:
                gone = []
                for k, seen in members.items():
                    if seen > horizon:
                        m.oldest = seen
                        break
                    gone.append(k)
                for k in gone:
                    del members[k]
            if len(members) > cap:
                del members[next(iter(members))]
            n = len(members)
            if n > best:
                best = n
        return best

    def _distinct_if(self, name: str, key: Hashable, member: Hashable, now: float,
                     window: float) -> int:
        """What ``distinct`` would answer, storing nothing (a dry run)."""
        gen = self._sets.get(name)
        m: _Members | None = gen.get(key, now) if gen is not None else None
        if m is None:
            return 1
        horizon = now - window
        n = 1 + sum(1 for k, seen in m.members.items() if seen > horizon and k != member)
        return min(n, self.max_members)

    # -- expiring flags -----------------------------------------------------------

    def flag(self, name: str, key: Hashable, now: float, ttl: float) -> None:
        if self.dry:
            return
        self._flags.setdefault(name, {})[key] = now + ttl
        self._flag_ops += 1
        if self._flag_ops >= 4096:  # flags are few: an occasional full sweep is cheap
            self._flag_ops = 0
            self._sweep_flags(now)

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

    def _sweep_flags(self, now: float) -> int:
        gone = 0
        for flags in self._flags.values():
            for key in [key for key, exp in flags.items() if exp <= now]:
                del flags[key]
                gone += 1
        return gone

    # -- housekeeping -------------------------------------------------------------

    def sweep(self, now: float) -> int:
        """Drop every generation idle for a window, and expired flags."""
        before = len(self)
        for gens in (self._sums, self._sets):
            for gen in gens.values():
                if now >= gen.rotate_at:
                    gen.rotate(now)
        self._sweep_flags(now)
        return before - len(self)

    def __len__(self) -> int:
        return (sum(map(len, self._sums.values())) + sum(map(len, self._sets.values()))
                + sum(map(len, self._flags.values())))
