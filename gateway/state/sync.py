"""One sync of the redis backend: the local view's pushes and pulls in one round trip.

A ``Syncer`` belongs to one ``RedisCounters``. Each round is one pipeline: it pushes
what the hot path queued since the last one (sum increments, including those of
buckets that rolled over, distinct members, flag changes), reads back the cluster-wide
values of every key this process used in the last ``linger`` seconds (at most
``max_batch`` of each kind a round, the rest round robin) and merges them into the
local view. Flag changes of other processes arrive through the ``flog`` stream, read
from where the last round stopped. A round that fails keeps its pushes for the next
one, as long as they still matter.

``load`` reads every live flag list, at start and after an outage; if Redis lost its
data (the ``epoch`` key changed) the live flags known here are queued to be written
back instead. Key names and the scripts are in ``gateway.state.wire``.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Hashable
from typing import TYPE_CHECKING, Any

import redis.asyncio
import structlog

from gateway.state.view import Distinct, Key, Sum
from gateway.state.wire import DISTINCT_SYNC, SUM_SYNC, decode_key, encode_key

if TYPE_CHECKING:
    from gateway.state.redis import RedisCounters

__all__ = ["Syncer"]

log = structlog.get_logger("spamgw.state")

_FLOG_MAXLEN = 100_000
_SLACK = 60.0  # seconds a key outlives its window in Redis


class Syncer:
    """What one process keeps between rounds: which keys to pull, the flag log
    position, the Redis epoch it last saw."""

    def __init__(self, counters: RedisCounters, linger_cycles: int) -> None:
        self.c = counters
        self.linger_cycles = linger_cycles
        self.cycle = 0
        self.pull_s: dict[Key, int] = {}  # key -> last cycle it was used in
        self.pull_d: dict[Key, int] = {}
        self.origin = uuid.uuid4().hex[:12]
        self.epoch: str | None = None
        self.flog_id = "0-0"
        self.need_load = True
        self.hash_names: dict[tuple[str, float, int], str] = {}

    async def load(self, client: redis.asyncio.Redis) -> None:
        """Load every live flag; after an outage, reconcile (or write back if Redis
        lost its data)."""
        c = self.c
        p = c.prefix
        pipe = client.pipeline(transaction=False)
        pipe.set(p + "epoch", uuid.uuid4().hex, nx=True)
        pipe.get(p + "epoch")
        pipe.xrevrange(p + "flog", count=1)
        pipe.smembers(p + "flists")
        _, epoch, last, names = await pipe.execute()
        lost = self.epoch is not None and epoch != self.epoch
        first = self.epoch is None
        wall = time.time()
        names = sorted(names)
        pipe = client.pipeline(transaction=False)
        for name in names:
            pipe.zremrangebyscore(p + "f:" + name, "-inf", wall)
            pipe.zrangebyscore(p + "f:" + name, f"({wall!r}", "+inf", withscores=True)
        results = (await pipe.execute())[1::2] if names else []
        if lost:  # Redis came back empty: what this process knows goes back in
            for name in c.local.flag_names():
                for key, exp in c.local.flags(name, wall).items():
                    c.flag_ops.setdefault((name, key), exp)
            log.warning("redis lost its data: writing back the live flags known here",
                        flags=len(c.flag_ops))
        else:
            self.apply_flag_lists(names, results, full=not first)
        self.epoch = epoch
        self.flog_id = last[0][0] if last else "0-0"
        self.need_load = False

    def apply_flag_lists(self, names: list[str], results: list[Any], *, full: bool) -> None:
        """Merge whole flag lists read from Redis; ``full``: also drop local entries
        Redis no longer has (unflagged elsewhere while we were apart)."""
        local = self.c.local
        pending = self.c.flag_ops
        for name, rows in zip(names, results, strict=True):
            remote = {decode_key(member): exp for member, exp in rows}
            for key, exp in remote.items():
                if (name, key) not in pending:
                    local.flag(name, key, exp, 0.0)
            if full:
                for key in list(local.flags(name, 0.0)):
                    if key not in remote and (name, key) not in pending:
                        local.unflag(name, key)

    async def round(self, client: redis.asyncio.Redis) -> int:
        """One sync; returns how many keys it pushed or pulled. Raises what the
        connection raises, after putting the pushes back."""
        c = self.c
        self.cycle += 1
        cycle = self.cycle
        p = c.prefix

        # what to push and pull: snapshot, and reset what the hot path accumulates
        flag_ops, c.flag_ops = c.flag_ops, {}
        spill, c.spill = c.spill, []
        touched_s, c.touched_sums = c.touched_sums, []
        touched_d, c.touched_sets = c.touched_sets, []
        pull_s, pull_d = self.pull_s, self.pull_d
        for entry in touched_s:
            entry.touched = False
            pull_s[entry.k] = cycle
        for dset in touched_d:
            dset.touched = False
            pull_d[dset.k] = cycle
        oldest = cycle - self.linger_cycles

        hashes: dict[str, int] = {}
        names = self.hash_names
        if len(names) > 4 * c.max_batch:
            names.clear()

        def hidx(name: str, window: float, b: int) -> int:
            h = names.get((name, window, b))
            if h is None:
                h = names[(name, window, b)] = f"{p}s:{name}:{window:g}:{b}"
            i = hashes.get(h)
            if i is None:
                i = hashes[h] = len(hashes) + 1
            return i

        budget = c.max_batch
        sum_json: list[list[Any]] = []
        sum_items: list[tuple[Sum, int]] = []  # read back, in order
        sum_pushed: list[tuple[Key, Sum | None, float, int, float]] = []
        for k, window, b, amount in spill[:budget]:
            sum_json.append([hidx(k[0], window, b), 0, encode_key(k[1]), repr(amount),
                             int((2 * window + _SLACK) * 1000)])
            sum_pushed.append((k, None, window, b, amount))
        c.spill[:0] = spill[budget:]
        for k, _seen in self._rotate(pull_s, oldest, budget):
            e = c.sum_entry(k)
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
        set_items: list[tuple[Key, Distinct, dict[Hashable, float], int, float]] = []
        # (key, set, pushed sightings, members here at the snapshot, its event time)
        for k, _seen in self._rotate(pull_d, oldest, budget):
            d = c.set_entry(k)
            if d is None:
                del pull_d[k]
                continue
            pend, d.pend = d.pend, {}
            if len(pend) > c.max_members:  # only the newest can still count
                pend = dict(sorted(pend.items(), key=lambda kv: kv[1])[-c.max_members:])
            flat: list[str] = []
            for member, ts in pend.items():
                flat += (repr(ts), encode_key(member))
            if not d.rkey:
                d.rkey = f"{p}d:{k[0]}:{d.window:g}:{encode_key(k[1])}"
            set_json.append([d.rkey,
                             repr(d.now - d.window), c.max_members,
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
                                   "o": self.origin}, maxlen=_FLOG_MAXLEN, approximate=True)
        if sum_json:
            pipe.eval(SUM_SYNC, 0, json.dumps(list(hashes)), json.dumps(sum_json))
        if set_json:
            pipe.eval(DISTINCT_SYNC, 0, json.dumps(set_json))
        pipe.xread({p + "flog": self.flog_id}, count=10_000)
        if cycle % 100 == 0:
            wall = time.time()
            for name in c.local.flag_names():
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
        return len(flag_ops) + len(sum_json) + len(set_json)

    @staticmethod
    def _rotate(pull: dict[Key, int], oldest: int, budget: int) -> list[tuple[Key, int]]:
        """Up to ``budget`` keys used since cycle ``oldest``, oldest served first; those
        taken go to the back (round robin when there are more than a batch)."""
        taken: list[tuple[Key, int]] = []
        stale: list[Key] = []
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
        local, pending, origin = self.c.local, self.c.flag_ops, self.origin
        for _stream, entries in reply:
            for entry_id, fields in entries:
                self.flog_id = entry_id
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
                 sums: list[tuple[Key, Sum | None, float, int, float]],
                 sets: list[tuple[Key, Distinct, dict[Hashable, float], int, float]]) -> None:
        """A failed sync keeps its pushes for the next one, as long as they matter."""
        c = self.c
        for op, exp in flag_ops.items():
            c.flag_ops.setdefault(op, exp)
        now = c.latest
        for k, e, window, b, amount in sums:
            if e is not None and e.b == b:
                e.pend += amount
                if not e.touched:
                    e.touched = True
                    c.touched_sums.append(e)
            elif b >= int(now // window) - 1:
                c.spill.append((k, window, b, amount))
        for _k, d, pend, _, _ in sets:
            if not d.touched:
                d.touched = True
                c.touched_sets.append(d)
            horizon = now - d.window
            for member, ts in pend.items():
                if ts > horizon and d.pend.get(member, horizon) < ts:
                    d.pend[member] = ts
