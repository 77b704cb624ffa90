"""Cluster counters: answered from a local view, synchronised with Redis in the background.

The engine calls the counters synchronously for every event, so no call waits on the
network: each one is answered from process memory in a few hundred nanoseconds. A
task started with the gateway (``start``/``stop``) runs a sync every
``interval`` (100 ms): one pipelined round trip pushes what this process added since
the last sync (sum increments, distinct members, flag changes) and reads back the
cluster-wide values of every key this process used in the last ``linger`` seconds,
which are merged into the local view. Counts therefore converge across processes
within about one interval; between syncs a process sees its own traffic at once and
the others' as of the last sync.

Sums use fixed windows aligned on the epoch (``floor(ts / window)``), so every process
agrees on the buckets, and the same two-window estimate as ``MemoryCounters``
(current bucket plus the overlapping share of the previous one). Distinct counts
are the members seen here (exact, expiring as in ``MemoryCounters``) plus the members
only other processes had at the last sync; a member first seen here that another
process had already pushed is counted twice until the next sync. Flags live in Redis
(a sorted set per list, by expiry) and are loaded at start, so they survive a
restart; changes reach other processes through a stream they follow.

If Redis is unreachable nothing stops: the local view keeps answering (fail-open),
the failure is logged once and counted (``sync_errors``), unpushed work is kept while
it still matters, and the sync retries with a backoff; when Redis is back the flags
are reloaded, and if Redis lost its data (``epoch`` changed) the live local flags are
written back.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections import OrderedDict
from collections.abc import Hashable, Iterator
from typing import Any

import redis.asyncio
import redis.exceptions
import structlog

from gateway.state.memory import MemoryCounters
from gateway.state.wire import DISTINCT_SYNC, SUM_SYNC, decode_key, encode_key

__all__ = ["RedisCounters"]

log = structlog.get_logger("spamgw.state")

_ERRORS = (redis.exceptions.RedisError, OSError, TimeoutError)
_FLOG_MAXLEN = 100_000
_SLACK = 60.0  # seconds a key outlives its window in Redis


class _Sum:
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


class _Set:
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


SumKey = tuple[str, Hashable]


class RedisCounters:
    def __init__(self, url: str = "redis://127.0.0.1:6379/0", *, prefix: str = "spamgw:",
                 interval: float = 0.1, linger: float = 1.0, max_members: int = 4096,
                 max_batch: int = 2000, timeout: float = 1.0) -> None:
        self.url = url
        self.prefix = prefix
        self.interval = interval
        self.max_members = max_members
        self.max_batch = max_batch  # keys of each kind pushed/pulled by one sync
        self.timeout = timeout
        self._linger_cycles = max(1, round(linger / interval))
        self._local = MemoryCounters(max_members=max_members)  # the flags
        self._sums: dict[SumKey, _Sum] = {}
        self._sets: dict[SumKey, _Set] = {}
        self._touched_s: dict[SumKey, _Sum] = {}
        self._touched_d: dict[SumKey, _Set] = {}
        self._spill: list[tuple[SumKey, float, int, float]] = []  # pushes of past buckets
        self._flag_ops: dict[tuple[str, Hashable], float | None] = {}
        self._pull_s: dict[SumKey, int] = {}
        self._pull_d: dict[SumKey, int] = {}
        self._record = False  # nothing is queued for Redis until start()
        self._now = 0.0  # latest event time seen, for the idle sweep
        self._cycle = 0
        self._cursor: Iterator[tuple[str, SumKey]] = iter(())
        self._origin = uuid.uuid4().hex[:12]
        self._epoch: str | None = None
        self._flog_id = "0-0"
        self._need_load = True
        self._client: redis.asyncio.Redis | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._lock = asyncio.Lock()
        self._hash_names: dict[tuple[str, float, int], str] = {}
        self._down = False
        self._failures = 0
        # for metrics
        self.syncs = 0
        self.sync_errors = 0
        self.last_sync = 0.0  # wall time of the last successful sync (0: never)
        self.last_sync_seconds = 0.0  # how long it took
        self.last_batch = 0  # keys pushed or pulled by it
        self.connected = False

    @classmethod
    def from_config(cls, config: Any) -> RedisCounters:
        return cls(config.redis_url, prefix=config.redis_prefix, interval=config.sync_interval)

    # -- sums (hot path) ----------------------------------------------------------

    def hit(self, name: str, key: Hashable, now: float, window: float, amount: float = 1.0
            ) -> float:
        k = (name, key)
        b = int(now // window)
        e = self._sums.get(k)
        if e is None:
            e = self._sums[k] = _Sum(window, b)
        elif b != e.b:
            b = self._roll(k, e, b)
        e.cur += amount
        if self._record:
            e.pend += amount
            self._touched_s[k] = e
        self._now = now
        overlap = 1.0 - (now - b * window) / window
        return e.cur + e.prev * overlap if overlap < 1.0 else e.cur + e.prev

    def peek(self, name: str, key: Hashable, now: float, window: float) -> float:
        k = (name, key)
        b = int(now // window)
        e = self._sums.get(k)
        if e is None:
            if not self._record:
                return 0.0
            e = self._sums[k] = _Sum(window, b)  # so the next sync reads the cluster's
        elif b != e.b:
            b = self._roll(k, e, b)
        if self._record:
            self._touched_s[k] = e
        overlap = 1.0 - (now - b * window) / window
        return e.cur + e.prev * overlap if overlap < 1.0 else e.cur + e.prev

    def _roll(self, k: SumKey, e: _Sum, b: int) -> int:
        if b < e.b:  # a late event counts in the current bucket
            return e.b
        if e.pend:
            self._spill.append((k, e.window, e.b, e.pend))
            e.pend = 0.0
        e.prev = e.cur if b == e.b + 1 else 0.0
        e.cur = 0.0
        e.b = b
        return b

    # -- distinct counts (hot path) -----------------------------------------------

    def distinct(self, name: str, key: Hashable, member: Hashable, now: float, window: float
                 ) -> int:
        k = (name, key)
        e = self._sets.get(k)
        if e is None:
            e = self._sets[k] = _Set(window)
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
        if self._record:
            e.pend[member] = now
            e.now = now
            self._touched_d[k] = e
        self._now = now
        if e.others:
            if now - e.pulled < window:
                n = len(members) + e.others
                return n if n < self.max_members else self.max_members
            e.others = 0  # nobody here used it for a window: what we knew has expired
        return len(members)

    # -- expiring flags (hot path) --------------------------------------------------

    def flag(self, name: str, key: Hashable, now: float, ttl: float) -> None:
        self._local.flag(name, key, now, ttl)
        if self._record:
            self._flag_ops[(name, key)] = now + ttl

    def unflag(self, name: str, key: Hashable) -> bool:
        if self._record:
            self._flag_ops[(name, key)] = None
        return self._local.unflag(name, key)

    def flagged(self, name: str, key: Hashable, now: float) -> bool:
        return self._local.flagged(name, key, now)

    def flags(self, name: str, now: float) -> dict[Hashable, float]:
        return self._local.flags(name, now)

    # -- housekeeping ---------------------------------------------------------------

    def _idle_sum(self, e: _Sum, now: float) -> bool:
        return not e.pend and now - e.b * e.window >= 2 * e.window

    def _idle_set(self, e: _Set, now: float) -> bool:
        m = e.members
        return not e.pend and (not m or next(reversed(m.values())) <= now - e.window) and (
            now - e.pulled >= e.window)

    def _sweep_some(self, now: float, budget: int) -> None:
        """Examine the next ``budget`` keys of a rolling snapshot (called by the sync)."""
        for n, (kind, k) in enumerate(self._cursor, 1):
            if kind == "s":
                s = self._sums.get(k)
                if s is not None and self._idle_sum(s, now):
                    del self._sums[k]
            else:
                d = self._sets.get(k)
                if d is not None and self._idle_set(d, now):
                    del self._sets[k]
            if n >= budget:
                return
        self._cursor = iter([("s", k) for k in self._sums] + [("d", k) for k in self._sets])
        self._local.sweep(now)

    def sweep(self, now: float) -> int:
        gone = self._local.sweep(now)
        for k in [k for k, s in self._sums.items() if self._idle_sum(s, now)]:
            del self._sums[k]
            gone += 1
        for k in [k for k, d in self._sets.items() if self._idle_set(d, now)]:
            del self._sets[k]
            gone += 1
        return gone

    def __len__(self) -> int:
        return len(self._sums) + len(self._sets) + len(self._local)

    def metrics(self) -> dict[str, float]:
        """Figures for /metrics: sync health and the size of the local view."""
        return {
            "syncs": self.syncs,
            "sync_errors": self.sync_errors,
            "last_sync": self.last_sync,
            "last_sync_seconds": self.last_sync_seconds,
            "last_batch": self.last_batch,
            "connected": float(self.connected),
            "keys": len(self),
        }

    # -- lifecycle ------------------------------------------------------------------

    async def start(self) -> None:
        """Load the live flags and start syncing. Never fails for want of Redis: the
        first load is retried by the sync task."""
        if self._task is not None:
            return
        self._client = redis.asyncio.Redis.from_url(
            self.url, decode_responses=True, socket_timeout=self.timeout,
            socket_connect_timeout=self.timeout)
        self._record = True
        self._stopping = asyncio.Event()
        try:
            await self._attempt()
        except _ERRORS as e:
            self._failed(e)
        self._task = asyncio.create_task(self._run(), name="spamgw-state-sync")

    async def stop(self) -> None:
        """Stop syncing after one last push of what is pending: the task does it and
        ends; it is cancelled only if that takes longer than the timeout allows."""
        task, self._task = self._task, None
        if task is not None:
            self._stopping.set()
            try:
                await asyncio.wait_for(asyncio.shield(task), 3 * self.timeout)
            except TimeoutError:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._record = False
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    async def sync(self) -> None:
        """One sync now (tests, benchmarks); raises what the connection raises."""
        if self._client is None:
            raise RuntimeError("RedisCounters.sync() before start()")
        await self._attempt()

    async def _attempt(self) -> None:
        """One sync (after a load of the flags, if one is due), bounded in time; one
        at a time."""
        client = self._client
        assert client is not None
        async with self._lock, asyncio.timeout(2 * self.timeout):
            if self._need_load:
                await self._load()
            await self._sync(client)

    def preload(self) -> None:
        """For one-shot tools that run no event loop (``spamgw check``): load the live
        flags once, synchronously; counters start empty and nothing is pushed."""
        import redis as sync_redis

        client = sync_redis.Redis.from_url(self.url, decode_responses=True,
                                           socket_timeout=self.timeout,
                                           socket_connect_timeout=self.timeout)
        try:
            names = sorted(str(n) for n in client.smembers(self.prefix + "flists"))
            pipe = client.pipeline(transaction=False)
            wall = time.time()
            for name in names:
                pipe.zrangebyscore(self.prefix + "f:" + name, f"({wall!r}", "+inf",
                                   withscores=True)
            self._apply_flag_lists(names, pipe.execute(), full=False)
        except _ERRORS as e:
            self.sync_errors += 1
            log.error("redis unreachable: flags not loaded, answering from the local view",
                      url=self.url, error=str(e))
        finally:
            client.close()

    # -- the sync task ----------------------------------------------------------------

    def _failed(self, e: BaseException) -> None:
        self.sync_errors += 1
        self._failures += 1
        self._need_load = True
        self.connected = False
        if not self._down:
            self._down = True
            log.warning("redis sync failed: serving from the local view until it is back",
                        url=self.url, error=repr(e))

    async def _run(self) -> None:
        while not self._stopping.is_set():
            delay = await self._step()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)
        await self._step()  # the last push, of what came in since the one before

    async def _step(self) -> float:
        """One sync attempt that never raises; returns the delay before the next."""
        try:
            await self._attempt()
        except _ERRORS as e:
            self._failed(e)
            return min(self.interval * 2 ** min(self._failures, 6), 2.0)
        except Exception as e:  # a bug here must not end sharing silently
            self.sync_errors += 1
            log.error("redis sync error", error=repr(e), exc_info=e)
            return 1.0
        return self.interval

    async def _load(self) -> None:
        """Load every live flag; after an outage, reconcile (or write back if Redis
        lost its data)."""
        client = self._client
        assert client is not None
        p = self.prefix
        pipe = client.pipeline(transaction=False)
        pipe.set(p + "epoch", uuid.uuid4().hex, nx=True)
        pipe.get(p + "epoch")
        pipe.xrevrange(p + "flog", count=1)
        pipe.smembers(p + "flists")
        _, epoch, last, names = await pipe.execute()
        lost = self._epoch is not None and epoch != self._epoch
        first = self._epoch is None
        wall = time.time()
        names = sorted(names)
        pipe = client.pipeline(transaction=False)
        for name in names:
            pipe.zremrangebyscore(p + "f:" + name, "-inf", wall)
            pipe.zrangebyscore(p + "f:" + name, f"({wall!r}", "+inf", withscores=True)
        results = (await pipe.execute())[1::2] if names else []
        if lost:  # Redis came back empty: what this process knows goes back in
            for name in self._local.flag_names():
                for key, exp in self._local.flags(name, wall).items():
                    self._flag_ops.setdefault((name, key), exp)
            log.warning("redis lost its data: writing back the live flags known here",
                        flags=len(self._flag_ops))
        else:
            self._apply_flag_lists(names, results, full=not first)
        self._epoch = epoch
        self._flog_id = last[0][0] if last else "0-0"
        self._need_load = False

    def _apply_flag_lists(self, names: list[str], results: list[Any], *, full: bool) -> None:
        """Merge whole flag lists read from Redis; ``full``: also drop local entries
        Redis no longer has (unflagged elsewhere while we were apart)."""
        local = self._local
        pending = self._flag_ops
        for name, rows in zip(names, results, strict=True):
            remote = {decode_key(member): exp for member, exp in rows}
            for key, exp in remote.items():
                if (name, key) not in pending:
                    local.flag(name, key, exp, 0.0)
            if full:
                for key in list(local.flags(name, 0.0)):
                    if key not in remote and (name, key) not in pending:
                        local.unflag(name, key)

    async def _sync(self, client: redis.asyncio.Redis) -> None:
        t0 = time.perf_counter()
        self._cycle += 1
        cycle = self._cycle
        p = self.prefix

        # what to push and pull: snapshot, and reset what the hot path accumulates
        flag_ops, self._flag_ops = self._flag_ops, {}
        spill, self._spill = self._spill, []
        touched_s, self._touched_s = self._touched_s, {}
        touched_d, self._touched_d = self._touched_d, {}
        pull_s, pull_d = self._pull_s, self._pull_d
        for k in touched_s:
            pull_s[k] = cycle
        for k in touched_d:
            pull_d[k] = cycle
        oldest = cycle - self._linger_cycles

        hashes: dict[str, int] = {}
        names = self._hash_names
        if len(names) > 4 * self.max_batch:
            names.clear()

        def hidx(name: str, window: float, b: int) -> int:
            h = names.get((name, window, b))
            if h is None:
                h = names[(name, window, b)] = f"{p}s:{name}:{window:g}:{b}"
            i = hashes.get(h)
            if i is None:
                i = hashes[h] = len(hashes) + 1
            return i

        budget = self.max_batch
        sum_json: list[list[Any]] = []
        sum_items: list[tuple[_Sum, int]] = []  # read back, in order
        sum_pushed: list[tuple[SumKey, _Sum | None, float, int, float]] = []
        for k, window, b, amount in spill[:budget]:
            sum_json.append([hidx(k[0], window, b), 0, encode_key(k[1]), repr(amount),
                             int((2 * window + _SLACK) * 1000)])
            sum_pushed.append((k, None, window, b, amount))
        self._spill[:0] = spill[budget:]
        for k, _seen in self._rotate(pull_s, oldest, budget):
            e = self._sums.get(k)
            if e is None:
                del pull_s[k]
                continue
            amount, e.pend = e.pend, 0.0
            if not e.field:
                e.field = encode_key(k[1])
            sum_json.append([hidx(k[0], e.window, e.b), hidx(k[0], e.window, e.b - 1),
                             e.field, repr(amount) if amount else "0",
                             int((2 * e.window + _SLACK) * 1000)])
            sum_items.append((e, e.b))
            if amount:
                sum_pushed.append((k, e, e.window, e.b, amount))

        set_json: list[list[Any]] = []
        set_items: list[tuple[SumKey, _Set, dict[Hashable, float], int, float]] = []
        # (key, set, pushed sightings, members here at the snapshot, its event time)
        for k, _seen in self._rotate(pull_d, oldest, budget):
            d = self._sets.get(k)
            if d is None:
                del pull_d[k]
                continue
            pend, d.pend = d.pend, {}
            if len(pend) > self.max_members:  # only the newest can still count
                pend = dict(sorted(pend.items(), key=lambda kv: kv[1])[-self.max_members:])
            flat: list[str] = []
            for member, ts in pend.items():
                flat += (repr(ts), encode_key(member))
            if not d.rkey:
                d.rkey = f"{p}d:{k[0]}:{d.window:g}:{encode_key(k[1])}"
            set_json.append([d.rkey,
                             repr(d.now - d.window), self.max_members,
                             int((d.window + _SLACK) * 1000), flat])
            set_items.append((k, d, pend, len(d.members), d.now))

        pipe = client.pipeline(transaction=False)
        for (name, key), exp in flag_ops.items():
            ek = encode_key(key)
            if exp is None:
                pipe.zrem(f"{p}f:{name}", ek)
            else:
                pipe.zadd(f"{p}f:{name}", {ek: exp})
                pipe.sadd(p + "flists", name)
            pipe.xadd(p + "flog", {"n": name, "k": ek, "e": "" if exp is None else repr(exp),
                                   "o": self._origin}, maxlen=_FLOG_MAXLEN, approximate=True)
        if sum_json:
            pipe.eval(SUM_SYNC, 0, json.dumps(list(hashes)), json.dumps(sum_json))
        if set_json:
            pipe.eval(DISTINCT_SYNC, 0, json.dumps(set_json))
        pipe.xread({p + "flog": self._flog_id}, count=10_000)
        if cycle % 100 == 0:
            wall = time.time()
            for name in self._local.flag_names():
                pipe.zremrangebyscore(f"{p}f:{name}", "-inf", wall)
        try:
            results = await pipe.execute()
        except BaseException:
            self._requeue(flag_ops, sum_pushed, set_items)
            raise

        # merge what came back
        i = sum(2 if exp is None else 3 for exp in flag_ops.values())  # replies of flag ops
        if sum_json:
            values = json.loads(results[i])
            i += 1
            for n, (e, b) in enumerate(sum_items):
                cur, prev = float(values[2 * n]), float(values[2 * n + 1])
                if e.b == b:
                    if cur + e.pend > e.cur:
                        e.cur = cur + e.pend
                    if prev > e.prev:
                        e.prev = prev
                elif e.b == b + 1 and cur > e.prev:
                    e.prev = cur
        if set_json:
            counts = json.loads(results[i])
            i += 1
            for (_, d, _, here, now), count in zip(set_items, counts, strict=True):
                d.others = max(0, int(count) - here)
                d.pulled = now
        self._follow(results[i])

        self._sweep_some(self._now, 2048)
        self.syncs += 1
        self._failures = 0
        self.connected = True
        if self._down:
            self._down = False
            log.warning("redis sync resumed", url=self.url, errors=self.sync_errors)
        self.last_sync = time.time()
        self.last_sync_seconds = time.perf_counter() - t0
        self.last_batch = len(flag_ops) + len(sum_json) + len(set_json)

    @staticmethod
    def _rotate(pull: dict[SumKey, int], oldest: int, budget: int
                ) -> list[tuple[SumKey, int]]:
        """Up to ``budget`` keys used since cycle ``oldest``, oldest served first; those
        taken go to the back (round robin when there are more than a batch)."""
        taken: list[tuple[SumKey, int]] = []
        stale: list[SumKey] = []
        for k, seen in pull.items():
            if seen < oldest:
                stale.append(k)
            else:
                taken.append((k, seen))
                if len(taken) >= budget:
                    break
        for k in stale:
            del pull[k]
        for k, seen in taken:
            del pull[k]
            pull[k] = seen
        return taken

    def _follow(self, reply: Any) -> None:
        """Apply the flag changes other processes made (the stream since our last id)."""
        if not reply:
            return
        local, pending, origin = self._local, self._flag_ops, self._origin
        for _stream, entries in reply:
            for entry_id, fields in entries:
                self._flog_id = entry_id
                if fields.get("o") == origin:
                    continue
                name, key = fields["n"], decode_key(fields["k"])
                if (name, key) in pending:  # changed here since: ours is newer
                    continue
                if fields["e"]:
                    local.flag(name, key, float(fields["e"]), 0.0)
                else:
                    local.unflag(name, key)

    def _requeue(self, flag_ops: dict[tuple[str, Hashable], float | None],
                 sums: list[tuple[SumKey, _Sum | None, float, int, float]],
                 sets: list[tuple[SumKey, _Set, dict[Hashable, float], int, float]]) -> None:
        """A failed sync keeps its pushes for the next one, as long as they matter."""
        for op, exp in flag_ops.items():
            self._flag_ops.setdefault(op, exp)
        now = self._now
        for k, e, window, b, amount in sums:
            if e is not None and e.b == b:
                e.pend += amount
                self._touched_s[k] = e
            elif b >= int(now // window) - 1:
                self._spill.append((k, window, b, amount))
        for k, d, pend, _, _ in sets:
            self._touched_d[k] = d
            horizon = now - d.window
            for member, ts in pend.items():
                if ts > horizon and d.pend.get(member, horizon) < ts:
                    d.pend[member] = ts
