"""One sync of the redis backend, in three steps: ``prepare`` and ``merge`` on the event
loop, ``exchange`` (the Redis I/O) in the backend's own thread.

A ``Syncer`` belongs to one ``RedisCounters``. ``prepare`` takes what the hot path
queued since the last sync (sum increments, including those of buckets that rolled
over, distinct members, flag changes, and entries not yet read from Redis) and turns
it into plain lists, touching nothing the hot path touches afterwards, and encodes
them as the script's JSON arguments at once (while they are in this core's cache;
``merge`` decodes the answer on the loop too, so the thread only moves bytes).
``exchange`` sends them with the ``SYNC`` script (``gateway.state.wire``): it pushes,
reads back the cluster's values of the keys new here (a key is read once, when this
process first uses it or its window rolls over), and hands every other live process
the new totals of what it pushed; and it reads this process's own inbox, the totals
the others pushed since its last sync. ``merge`` applies both to the local view:
a key this process holds is updated when another process changes it, and never
re-read when nobody does. Flag changes of other processes arrive through the
``flog`` stream, read from where the last sync stopped.

When the script says this process was not registered all along (its first sync,
after an outage, or a sync that came later than ``live``), every key it holds is read
again, ``max_batch`` a sync. A sync that fails keeps its pushes for the next one, as
long as they still matter.

``exchange`` also loads every live flag list when asked (at start and after an
outage); if Redis lost its data (the ``epoch`` key changed) ``merge`` queues the live
flags known here to be written back instead.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from zlib import crc32

import redis.exceptions
import structlog

from gateway.state.view import Distinct, Key, Sum
from gateway.state.wire import SYNC, decode_key, encode_key

if TYPE_CHECKING:
    from gateway.state.redis import RedisCounters

__all__ = ["Batch", "Reply", "Syncer"]

log = structlog.get_logger("spamgw.state")

_FLOG_MAXLEN = 100_000
_SLACK = 60.0  # seconds a key outlives its window in Redis
_INBOX_CAP = 1000  # change records an inbox holds (past it: read everything again)

#: ``json.dumps`` for the batch, whose plain lists cannot refer to themselves: no check
#: for cycles, which costs the encoder a dict entry per list
_dumps = json.JSONEncoder(check_circular=False).encode

FlagOps = dict[tuple[str, Hashable], float | None]


@dataclass(slots=True)
class Part:
    """What one sync sends to one shard (``gateway.state.wire.shard_prefixes``: one
    shard, the whole prefix, unless the keys are spread over a Redis Cluster); made on
    the loop, the thread only reads it."""

    #: the shard's key prefix
    prefix: str
    #: the ``SYNC`` script's JSON arguments (``gateway.state.wire``), encoded on the
    #: loop right after the snapshot, while what they encode is in this core's cache
    #: (the thread, woken on another core, paid for every miss): ARGV[5], the hash
    #: names; ARGV[6], the sums as columns [current hash indexes, previous hash
    #: indexes, fields, amounts, each hash's ttl]; ARGV[7], the distinct counts [base
    #: ms, heads, then a list per field of the sets]; as bytes, which the connection
    #: sends as they are
    hashes: bytes
    sum_json: bytes
    #: (entry, its bucket at the snapshot, read back?, amount pushed) per item after
    #: the spill's
    sum_items: list[tuple[Sum, int, bool, float]]
    #: (key, window, bucket, amount): the pushes of past buckets
    spilled: list[tuple[Key, float, int, float]]
    set_json: bytes
    #: (set, pushed sightings, members here at the snapshot, its event time)
    set_items: list[tuple[Distinct, dict[Hashable, float], int, float]]


@dataclass(slots=True)
class Batch:
    """What one sync sends: a part per shard, and the flag changes."""

    cycle: int
    load: bool
    flog_id: str
    flag_ops: FlagOps
    parts: list[Part]
    prune: list[str]
    started: float = field(default_factory=time.monotonic)


@dataclass(slots=True)
class Reply:
    """What Redis answered; its JSON parts are decoded by ``merge``, on the loop that
    uses them at once."""

    whole: bool = True
    #: per part of the batch: [current, previous (-1: not read), ...] per sum item,
    #: [size, ...] per distinct set, and the other processes' change records; None
    #: for a part whose shard did not answer (on a Cluster, one primary can fail
    #: while the others answer: what they took is not pushed twice)
    parts: list[tuple[str, str, list[str]] | None] = field(default_factory=list)
    #: the first error of a sync that reached some shards and not others
    error: BaseException | None = None
    #: whether the flag changes were written (they go to the first shard's primary)
    flags_written: bool = True
    #: the flag log since the last sync: [entry id, [field, value, ...]] each
    flog: str = "[]"
    #: when the sync loaded the flags: (epoch, last flog id, names, each list's rows)
    loaded: tuple[str, str, list[str], list[Any]] | None = None


class Syncer:
    """What one process keeps between syncs: the flag log position, the Redis epoch it
    last saw, its origin id and the names it made."""

    def __init__(self, counters: RedisCounters, live: float) -> None:
        self.c = counters
        self.live_ms = int(live * 1000)
        self.cycle = 0
        self.origin = uuid.uuid4().hex[:12]
        self.epoch: str | None = None
        self.flog_id = "0-0"
        self.need_load = True
        #: each shard's key prefix (one, the whole prefix, unless Redis is a Cluster);
        #: the flags, their log and the epoch live under the first
        self.prefixes = counters.prefixes
        self.cluster = counters.cluster
        self.global_prefix = self.prefixes[0]
        self.hash_names: dict[tuple[int, str, float, int], str] = {}
        #: hash name -> (counter name, window, bucket), for the records of others
        self.parsed: dict[str, tuple[str, float, int] | None] = {}
        self.sha = ""  # the SYNC script's, once loaded (thread side)
        #: the thread's connection, of that client (thread side)
        self._client: Any = None
        self._conn: Any = None
        #: on a Redis Cluster, the thread's connection to each primary, by node name
        self._node_conns: dict[str, tuple[Any, Any]] = {}
        #: change records another process's inbox holds (past it: it reads all again)
        self.inbox_cap = _INBOX_CAP
        # for metrics
        self.changes_in = 0  # totals received from other processes
        self.reads = 0  # keys read back (new here, rolled over, or read again)
        self.rereads = 0  # times every key was read again

    # -- on the loop ----------------------------------------------------------------

    def prepare(self) -> Batch:
        """Snapshot what to send, and reset what the hot path accumulates."""
        c = self.c
        self.cycle += 1
        budget = c.max_batch
        flag_ops, c.flag_ops = c.flag_ops, {}
        spill, c.spill = c.spill, []
        touched_s, c.touched_sums = c.touched_sums[:budget], c.touched_sums[budget:]
        touched_d, c.touched_sets = c.touched_sets[:budget], c.touched_sets[budget:]
        spilled: list[tuple[Key, float, int, float]] = spill[:budget]
        c.spill[:0] = spill[budget:]
        if len(self.hash_names) > 4 * budget:
            self.hash_names.clear()
        fresh: list[Sum] = []
        n = len(self.prefixes)
        if n == 1:
            parts = [self._part(0, spilled, touched_s, touched_d, fresh)]
        else:  # each key to its shard, by a hash of its encoded form: every process
            # agrees
            groups: list[tuple[list[Any], list[Sum], list[Distinct]]] = [
                ([], [], []) for _ in range(n)]
            for item in spilled:
                groups[crc32(encode_key(item[0][1]).encode()) % n][0].append(item)
            for e in touched_s:
                f = e.field
                if not f:
                    f = e.field = encode_key(e.k[1])
                    fresh.append(e)
                groups[crc32(f.encode()) % n][1].append(e)
            for d in touched_d:
                groups[crc32((d.field or encode_key(d.k[1])).encode()) % n][2].append(d)
            parts = [self._part(i, *g, fresh) for i, g in enumerate(groups)]
        if fresh:
            c.index_sums(fresh)
        prune = list(c.local.flag_names()) if self.cycle % 100 == 0 else []
        return Batch(self.cycle, self.need_load, self.flog_id, flag_ops, parts, prune)

    def _part(self, shard: int, spilled: list[tuple[Key, float, int, float]],
              touched_s: list[Sum], touched_d: list[Distinct], fresh: list[Sum]) -> Part:
        """One shard's share of the sync, as the ``SYNC`` script's arguments."""
        c = self.c
        p = self.prefixes[shard]
        hashes: dict[str, int] = {}
        ttls: list[int] = []  # each hash's ttl in ms, in the order of ``hashes``
        names = self.hash_names

        def hidx(name: str, window: float, b: int) -> int:
            h = names.get((shard, name, window, b))
            if h is None:
                h = names[(shard, name, window, b)] = f"{p}s:{name}:{window:g}:{b}"
            i = hashes.get(h)
            if i is None:
                i = hashes[h] = len(hashes) + 1
                ttls.append(int((2 * window + _SLACK) * 1000))
            return i

        # the sums as columns (``gateway.state.wire.SYNC``, ARGV[6]): a list per field
        # rather than a list per item costs the loop and the encoder a container less
        # per item
        s_cur: list[int] = []
        s_prev: list[int] = []
        s_field: list[str] = []
        s_amount: list[str] = []
        for k, window, b, amount in spilled:
            s_cur.append(hidx(k[0], window, b))
            s_prev.append(0)
            s_field.append(encode_key(k[1]))
            s_amount.append(repr(amount))
        sum_items: list[tuple[Sum, int, bool, float]] = []
        #: counter name -> (bucket, window, its hash index, the previous one's)
        per_name: dict[str, tuple[int, float, int, int]] = {}
        for e in touched_s:
            e.touched = False
            b = e.b
            read = e.synced != b
            amount = e.pend
            if not amount and not read:
                continue
            e.pend = 0.0
            f = e.field
            if not f:
                f = e.field = encode_key(e.k[1])
                fresh.append(e)
            name = e.k[0]
            at = per_name.get(name)
            if at is None or at[0] != b or at[1] != e.window:
                window = e.window
                at = per_name[name] = (b, window, hidx(name, window, b),
                                       hidx(name, window, b - 1))
            s_cur.append(at[2])
            s_prev.append(at[3] if read else 0)
            s_field.append(f)
            s_amount.append(("1" if amount == 1.0 else repr(amount)) if amount else "0")
            sum_items.append((e, b, read, amount))

        # the distinct counts as columns too (ARGV[7]): each set's head (counter name
        # and window, sent once with its window, max members and ttl in ms), encoded
        # key, latest time and number of members; then every set's members and their
        # times in a row. Times in whole ms after ``base``: a few digits each
        set_heads: dict[tuple[str, float], int] = {}
        heads: list[list[Any]] = []
        base = int(c.latest * 1000.0)
        d_head: list[int] = []
        d_field: list[str] = []
        d_now: list[int] = []
        d_count: list[int] = []
        d_times: list[int] = []
        d_members: list[str] = []
        times_append, members_append = d_times.append, d_members.append
        set_items: list[tuple[Distinct, dict[Hashable, float], int, float]] = []
        max_members = c.max_members
        for d in touched_d:
            d.touched = False
            pend = d.pend
            d.pend = {}
            if len(pend) > max_members:  # only the newest can still count
                pend = dict(sorted(pend.items(), key=lambda kv: kv[1])[-max_members:])
            name, window = d.k[0], d.window
            hi = set_heads.get((name, window))
            if hi is None:
                hi = set_heads[(name, window)] = len(heads) + 1
                heads.append([f"{name}:{window:g}", int(window * 1000.0), max_members,
                              int((window + _SLACK) * 1000)])
            f = d.field
            if not f:
                f = encode_key(d.k[1])
                c.index_set(d, f, f"{p}dm:{heads[hi - 1][0]}:{f}")
            d_head.append(hi)
            d_field.append(f)
            d_now.append(int(d.now * 1000.0) - base)
            d_count.append(len(pend))
            for m, ts in pend.items():  # most sets have a member or two: a loop costs
                # less than a comprehension's frame
                times_append(int(ts * 1000.0) - base)
                members_append(str(m) if type(m) is int else encode_key(m))
            set_items.append((d, pend, len(d.members), d.now))
        return Part(p, _dumps(list(hashes)).encode(),
                    _dumps([s_cur, s_prev, s_field, s_amount, ttls]).encode(), sum_items,
                    spilled, _dumps([base, heads, d_head, d_field, d_now, d_count, d_times,
                                     d_members]).encode(), set_items)

    def merge(self, batch: Batch, reply: Reply) -> int:
        """Apply what came back; returns how many keys the sync pushed or read."""
        c = self.c
        if reply.loaded is not None:
            self._loaded(*reply.loaded)
        loads = json.loads
        answered = [(part, got) for part, got in zip(batch.parts, reply.parts, strict=True)
                    if got is not None]
        for part, (_, _, records) in answered:
            for record in records:  # the others' changes first: ours are newer
                self._apply(loads(record), part.prefix)
        pushed = len(batch.flag_ops) if reply.flags_written else 0
        for part, (sums_json, sets_json, _) in answered:
            sums = loads(sums_json)
            base = 2 * len(part.spilled)  # the spill's replies come first
            for n, (e, b, read, _) in enumerate(part.sum_items):
                cur, prev = sums[base + 2 * n], sums[base + 2 * n + 1]
                if e.b == b:
                    if cur + e.pend > e.cur:
                        e.cur = cur + e.pend
                    if read and prev > e.prev:
                        e.prev = prev
                elif e.b == b + 1 and cur > e.prev:
                    e.prev = cur
                if read:
                    e.synced = b
            self.reads += sum(1 for _, _, read, _ in part.sum_items if read)
            for (d, _, here, now), count in zip(part.set_items, loads(sets_json),
                                                strict=True):
                d.others = max(0, int(count) - here)
                d.pulled = now
            pushed += len(part.spilled) + len(part.sum_items) + len(part.set_items)
        self._follow(loads(reply.flog))
        if not reply.whole:
            self.rereads += 1
            c.reread()
        return pushed

    def requeue(self, batch: Batch, reply: Reply | None = None) -> None:
        """A failed sync keeps its pushes for the next one, as long as they matter:
        all of them, or with ``reply`` (a sync some shards answered) those of the
        shards that did not, and the flag changes if they were not written."""
        c = self.c
        if reply is None or not reply.flags_written:
            for op, exp in batch.flag_ops.items():
                c.flag_ops.setdefault(op, exp)
        now = c.latest
        parts = batch.parts if reply is None else [
            part for part, got in zip(batch.parts, reply.parts, strict=True) if got is None]
        for part in parts:
            for k, window, b, amount in part.spilled:
                if b >= int(now // window) - 1:
                    c.spill.append((k, window, b, amount))
            for e, b, _read, amount in part.sum_items:
                if amount:
                    if e.b == b:
                        e.pend += amount
                    elif b >= int(now // e.window) - 1:
                        c.spill.append((e.k, e.window, b, amount))
                if not e.touched:
                    e.touched = True
                    c.touched_sums.append(e)
            for d, pend, _, _ in part.set_items:
                if not d.touched:
                    d.touched = True
                    c.touched_sets.append(d)
                horizon = now - d.window
                for member, ts in pend.items():
                    if ts > horizon and d.pend.get(member, horizon) < ts:
                        d.pend[member] = ts

    def _apply(self, record: dict[str, Any], prefix: str) -> None:
        """Another process's changes (to the shard of ``prefix``): the new totals of
        the keys held here."""
        c = self.c
        hashes = record.get("h") or ()
        parsed = self.parsed
        if len(parsed) > 4 * c.max_batch:
            parsed.clear()
        n = 0
        for hi, fieldname, total in record.get("s") or ():
            h = hashes[hi - 1]
            if h in parsed:
                meta = parsed[h]
            else:
                meta = parsed[h] = self._parse(h, prefix)
            if meta is None:
                continue
            name, window, b = meta
            e = c.sum_by_field(name, fieldname)
            if e is None or e.window != window:
                continue
            n += 1
            t = float(total)
            if b == e.b:
                if t + e.pend > e.cur:
                    e.cur = t + e.pend
            elif b == e.b - 1 and t > e.prev:
                e.prev = t
        latest = c.latest
        for rkey, count in record.get("d") or ():
            d = c.set_by_rkey(rkey)
            if d is None:
                continue
            n += 1
            d.others = max(0, int(count) - len(d.members))
            d.pulled = latest
        self.changes_in += n

    @staticmethod
    def _parse(h: str, prefix: str) -> tuple[str, float, int] | None:
        head = prefix + "s:"
        if not h.startswith(head):
            return None
        try:
            name, window, b = h[len(head):].rsplit(":", 2)
            return name, float(window), int(b)
        except ValueError:
            return None

    def _loaded(self, epoch: str, last: str, names: list[str], rows: list[Any]) -> None:
        c = self.c
        lost = self.epoch is not None and epoch != self.epoch
        if lost:  # Redis came back empty: what this process knows goes back in
            wall = time.time()
            for name in c.local.flag_names():
                for key, exp in c.local.flags(name, wall).items():
                    c.flag_ops.setdefault((name, key), exp)
            log.warning("redis lost its data: writing back the live flags known here",
                        flags=len(c.flag_ops))
        else:
            self.apply_flag_lists(names, rows, full=self.epoch is not None)
        self.epoch = epoch
        self.flog_id = last
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

    def _follow(self, entries: list[list[Any]]) -> None:
        """Apply the flag changes other processes made (the stream since our last id:
        [entry id, [field, value, ...]] each, as the ``SYNC`` script read them)."""
        if not entries:
            return
        local, pending, origin = self.c.local, self.c.flag_ops, self.origin
        for entry_id, flat in entries:
            self.flog_id = entry_id
            fields = dict(zip(flat[::2], flat[1::2], strict=True))
            if fields.get("o") == origin:
                continue
            name, key = fields["n"], decode_key(fields["k"])
            if (name, key) in pending:  # changed here since: ours is newer
                continue
            if fields["e"]:
                local.flag(name, key, float(fields["e"]), 0.0)
            else:
                local.unflag(name, key)

    # -- in the sync thread ---------------------------------------------------------

    def exchange(self, client: Any, batch: Batch) -> Reply:
        """Run one sync's I/O (blocking; reads nothing the hot path writes). Raises what
        the connection raises.

        The commands go out on one connection of ``client`` that this thread keeps,
        packed and read back in a row: a ``SYNC`` script per shard (one, unless Redis
        is a Cluster) and the flag changes if any (the first shard's script reads the
        flag log), with no pipeline object, retry wrapper or response callback in
        between (they were most of a sync's cost in this thread, paid again at every
        sync by a thread whose caches went cold in between). On a Redis Cluster each
        goes to the primary that holds its key, on a connection per primary
        (``_run_cluster``), and a primary that fails fails only its own shards."""
        g = self.global_prefix
        reply = Reply()
        flog_id = batch.flog_id
        if batch.load:
            reply.loaded = self._load(client)
            flog_id = reply.loaded[1]
        commands: list[tuple[Any, ...]] = []
        for (name, key), exp in batch.flag_ops.items():
            ek = encode_key(key)
            if exp is None:
                commands.append(("ZREM", f"{g}f:{name}", ek))
            else:
                commands.append(("ZADD", f"{g}f:{name}", repr(exp), ek))
                commands.append(("SADD", g + "flists", name))
            commands.append(("XADD", g + "flog", "MAXLEN", "~", _FLOG_MAXLEN, "*",
                             "n", name, "k", ek, "e", "" if exp is None else repr(exp),
                             "o", self.origin))
        first = len(commands)
        for n, part in enumerate(batch.parts):
            p = part.prefix
            # KEYS[1], the shard's process set, routes the script in a Cluster
            commands.append(("EVALSHA", self.sha, 1, p + "procs", p, self.origin,
                             self.live_ms, self.inbox_cap, part.hashes, part.sum_json,
                             part.set_json, flog_id if n == 0 else ""))
        if batch.prune:
            wall = repr(time.time())
            for name in batch.prune:
                commands.append(("ZREMRANGEBYSCORE", f"{g}f:{name}", "-inf", wall))
        results = (self._run_cluster(client, commands) if self.cluster
                   else self._run(client, commands))
        for n in range(len(batch.parts)):
            got = results[first + n]
            if isinstance(got, BaseException):
                reply.error = reply.error or got
                reply.parts.append(None)
                continue
            whole, sums, sets, flog, *records = got
            if int(whole) != 1:
                reply.whole = False
            if n == 0:
                reply.flog = flog
            reply.parts.append((sums, sets, records))
        failed = [r for r in results[:first] if isinstance(r, BaseException)]
        if failed:
            reply.flags_written = False
            reply.error = reply.error or failed[0]
        if reply.error is not None and all(got is None for got in reply.parts):
            raise reply.error  # nothing answered: a failed sync, as on one server
        return reply

    def _run_cluster(self, client: Any, commands: list[tuple[Any, ...]]) -> list[Any]:
        """``commands`` on a Redis Cluster: grouped by the primary that holds each
        one's key (a script's KEYS[1]), written to every node before any reply is read,
        on one connection per node that this thread keeps. Each command's outcome is
        its reply or the exception it met: a node that failed (connection lost, an
        error reply) fails its own commands only, the others' replies stand (the
        caller merges those and pushes the rest again, so nothing is counted twice).
        After a failure the node's connection is dropped and the slot map read again,
        so the next sync finds a failed-over primary or moved slots (a MOVED reply is
        an error here: the next sync pushes that shard again, to its new node)."""
        conns = self._node_conns
        if self._client is not client:
            self._drop(conns)
            self._client = client
        groups: dict[str, list[int]] = {}
        for i, command in enumerate(commands):
            key = command[3] if command[0] == "EVALSHA" else command[1]
            node = client.get_node_from_key(key)
            at = groups.get(node.name)
            if at is None:
                at = groups[node.name] = []
                if node.name not in conns:
                    pool = client.get_redis_connection(node).connection_pool
                    conns[node.name] = (pool, pool.get_connection())
            at.append(i)
        results: list[Any] = [None] * len(commands)
        broken: list[str] = []
        for name, at in groups.items():
            conn = conns[name][1]
            try:
                conn.send_packed_command(conn.pack_commands([commands[i] for i in at]),
                                         check_health=False)
            except Exception as e:
                broken.append(name)
                for i in at:
                    results[i] = e
        for name, at in groups.items():
            if name in broken:
                continue
            conn = conns[name][1]
            for n, i in enumerate(at):
                try:
                    results[i] = conn.read_response()
                except redis.exceptions.ResponseError as e:  # the connection is sound
                    results[i] = e
                    if name not in broken:
                        broken.append(name)
                except Exception as e:  # the rest of this node's replies are lost
                    for j in at[n:]:
                        results[j] = e
                    broken.append(name)
                    break
        if broken:
            self._drop({name: conns.pop(name) for name in broken if name in conns})
            with contextlib.suppress(Exception):  # unreachable now: the next sync tries
                client.nodes_manager.initialize()
        return results

    @staticmethod
    def _drop(conns: dict[str, tuple[Any, Any]]) -> None:
        for pool, conn in conns.values():
            conn.disconnect()
            pool.release(conn)
        conns.clear()

    def _run(self, client: Any, commands: list[tuple[Any, ...]]) -> list[Any]:
        """Send ``commands`` in one write and read their replies in order, on this
        thread's own connection of ``client`` (made again for a new client); an error
        reply raises, and the connection, whose later replies are still unread, is
        dropped: the next sync takes a new one from the pool, which connects afresh
        (through a Sentinel pool, to the primary the Sentinels name now)."""
        if self._client is not client or self._conn is None:
            self._client = client
            self._conn = client.connection_pool.get_connection()
        conn = self._conn
        try:
            conn.send_packed_command(conn.pack_commands(commands), check_health=False)
            return [conn.read_response() for _ in commands]
        except BaseException:
            conn.disconnect()
            self._conn = None
            client.connection_pool.release(conn)
            raise

    def _load(self, client: Any) -> tuple[str, str, list[str], list[Any]]:
        """Every live flag list, the epoch, where the flag log ends; the script loaded
        (on every primary of a Cluster)."""
        p = self.global_prefix
        self.sha = client.script_load(SYNC)
        pipe = client.pipeline(transaction=False)
        pipe.set(p + "epoch", uuid.uuid4().hex, nx=True)
        pipe.get(p + "epoch")
        pipe.xrevrange(p + "flog", count=1)
        pipe.smembers(p + "flists")
        _, epoch, last, names = pipe.execute()
        wall = time.time()
        names = sorted(names)
        pipe = client.pipeline(transaction=False)
        for name in names:
            pipe.zremrangebyscore(p + "f:" + name, "-inf", wall)
            pipe.zrangebyscore(p + "f:" + name, f"({wall!r}", "+inf", withscores=True)
        rows = pipe.execute()[1::2] if names else []
        return epoch, last[0][0] if last else "0-0", names, rows
