"""Cluster counters: answered from a local view, synchronised with Redis in the background.

The engine calls the counters synchronously for every event, so no call waits on the
network: each one is answered from process memory in a few hundred nanoseconds. A
sync runs every ``interval`` (100 ms): one pipelined round trip pushes what this
process added since the last sync (sum increments, distinct members, flag changes),
reads back the cluster-wide values of the keys new here, and brings the totals other
processes pushed since, for the keys this process holds; all of it is merged into the
local view. Counts therefore converge across processes within about one interval;
between syncs a process sees its own traffic at once and the others' as of the last
sync.

How the local view keeps sums and distinct counts is in ``gateway.state.view``
(``RedisCounters`` is one), one sync in ``gateway.state.sync``, what Redis holds in
``gateway.state.wire``; this module is the backend's life: start, the sync thread,
outages, stop. Flags live in Redis (a sorted set per list, by expiry) and are loaded
at start, so they survive a restart; changes reach other processes through a stream
they follow.

The sync's Redis I/O runs in a thread of its own, with its own (blocking) connection:
the event loop only snapshots what to send and merges what came back, one callback
each, so a loop saturated with messages still syncs (late by one turn of the loop,
not by the dozens a coroutine's round trip takes), and the I/O's timeout is the
socket's, not the loop's.

If Redis is unreachable nothing stops: the local view keeps answering (fail-open),
the failure is logged once and counted (``sync_errors``), unpushed work is kept while
it still matters, and the sync retries with a backoff; when Redis is back the flags
are reloaded, and if Redis lost its data (``epoch`` changed) the live local flags are
written back.

A sync can also fall behind with Redis up, when the event loop is too busy to run it.
Either way, once the last successful sync is older than ``lag_bound`` (the larger of
1 s and 10 intervals) the process is judging on its own counts: the sync logs one
warning for the episode and another when it syncs at its pace again, counts the
episodes, and ``metrics()`` has the age of the last sync (``sync_age_seconds``).
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import time
from typing import Any

import structlog

from gateway.redisconn import ERRORS, sync_client
from gateway.redisconn import parse as parse_url
from gateway.state.sync import Batch, Reply, Syncer
from gateway.state.view import LocalView
from gateway.state.wire import shard_prefixes

__all__ = ["RedisCounters"]

log = structlog.get_logger("spamgw.state")

_ERRORS = ERRORS

#: shards of the keys on a Redis Cluster unless ``[state] redis_shards`` says: each is
#: one script a sync on the primary holding it (and its own fan-out of changes), so a
#: few per primary spread the load without multiplying the round trips
CLUSTER_SHARDS = 8

#: a job for the sync thread: the batch, and the future its outcome resolves
_Job = tuple[Batch, "asyncio.Future[BaseException | None]"]


class RedisCounters(LocalView):
    def __init__(self, url: str = "redis://127.0.0.1:6379/0", *, prefix: str = "spamgw:",
                 interval: float = 0.1, max_members: int = 4096, max_batch: int = 2000,
                 timeout: float = 1.0, shards: int = 0) -> None:
        super().__init__(max_members)
        self.url = url
        self.prefix = prefix
        #: a standalone server, a Sentinel-managed primary or a Cluster
        self.target = parse_url(url)
        self.cluster = self.target.cluster
        #: the keys are spread over this many shards (0: one, or on a Cluster
        #: ``CLUSTER_SHARDS``), each with its key prefix
        self.shards = shards or (CLUSTER_SHARDS if self.cluster else 1)
        self.prefixes = shard_prefixes(prefix, self.shards, self.cluster)
        self.interval = interval
        self.max_batch = max_batch  # keys of each kind pushed/read by one sync
        self.timeout = timeout
        #: a process silent this long leaves the others' fan-out, and reads every key
        #: again when it is back
        self.live = max(10.0, 50 * interval)
        self._syncer = Syncer(self, self.live)
        self._thread: threading.Thread | None = None
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._inflight: asyncio.Future[BaseException | None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._running = False
        self._stopping = False
        self._down = False
        self._failures = 0
        # for metrics
        self.syncs = 0
        self.sync_errors = 0
        self.last_sync = 0.0  # wall time of the last successful sync (0: never)
        self.last_sync_seconds = 0.0  # how long it took, snapshot to merge
        self.last_batch = 0  # keys pushed or read by it
        self.connected = False
        #: past it without a successful sync, this process judges on its own counts
        self.lag_bound = max(1.0, 10 * interval)
        self.lag_episodes = 0  # times the sync fell that far behind
        self._last_ok = 0.0  # monotonic time of the last successful sync (or of start)
        self._behind = False
        self._behind_since = 0.0

    @classmethod
    def from_config(cls, config: Any) -> RedisCounters:
        return cls(config.redis_url, prefix=config.redis_prefix, interval=config.sync_interval,
                   shards=config.redis_shards)

    def metrics(self) -> dict[str, float]:
        """Figures for /metrics: sync health and the size of the local view."""
        syncer = self._syncer
        return {
            "syncs": self.syncs,
            "sync_errors": self.sync_errors,
            "last_sync": self.last_sync,
            "last_sync_seconds": self.last_sync_seconds,
            "last_batch": self.last_batch,
            "connected": float(self.connected),
            "keys": len(self),
            "sync_age_seconds": self.sync_age(),
            "sync_behind_episodes": self.lag_episodes,
            "sync_changes_in": syncer.changes_in,
            "sync_reads": syncer.reads,
            "sync_rereads": syncer.rereads,
        }

    def sync_age(self) -> float:
        """Seconds since the last successful sync (since start if none yet; 0 when not
        running): how old the other processes' share of the counts is."""
        if not self._running:
            return 0.0
        return time.monotonic() - self._last_ok

    # -- lifecycle ------------------------------------------------------------------

    async def start(self) -> None:
        """Load the live flags and start syncing. Never fails for want of Redis: the
        first load is retried by the next sync."""
        if self._running:
            return
        self._loop = asyncio.get_running_loop()
        self._jobs = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._io, args=(self._loop,),
                                        name="spamgw-state-sync", daemon=True)
        self._thread.start()
        self.recording = True
        self._running = True
        self._stopping = False
        self._last_ok = time.monotonic()
        await self._submit()  # its error is counted and logged; the syncs go on

    async def stop(self) -> None:
        """Stop syncing after one last push of what is pending (bounded by the
        timeout), then end the thread."""
        if not self._running:
            return
        self._stopping = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        with contextlib.suppress(TimeoutError):
            if self._inflight is not None:
                await asyncio.wait_for(asyncio.shield(self._inflight), 3 * self.timeout)
            if self._inflight is None:
                await asyncio.wait_for(asyncio.shield(self._submit()), 3 * self.timeout)
        self._running = False
        self.recording = False
        self._jobs.put(None)
        thread, self._thread = self._thread, None
        if thread is not None:
            await asyncio.to_thread(thread.join, 3 * self.timeout)

    async def sync(self) -> None:
        """One sync now (tests, benchmarks), after the one in flight if any; raises what
        the connection raised."""
        if not self._running:
            raise RuntimeError("RedisCounters.sync() before start()")
        while self._inflight is not None:
            await asyncio.shield(self._inflight)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        error = await self._submit()
        if error is not None:
            raise error

    # -- the syncs ------------------------------------------------------------------

    def _submit(self) -> asyncio.Future[BaseException | None]:
        """Snapshot what to send and hand it to the thread (on the loop)."""
        assert self._loop is not None and self._inflight is None
        fut: asyncio.Future[BaseException | None] = self._loop.create_future()
        self._inflight = fut
        self._jobs.put((self._syncer.prepare(), fut))
        return fut

    def _io(self, loop: asyncio.AbstractEventLoop) -> None:
        """The sync thread: each job's Redis I/O, its outcome handed back to the loop.
        Its client is made here, at the first job and again after one failed to be
        made (a Cluster client reads the slot map from its seed nodes when made)."""
        client: Any = None
        try:
            while (job := self._jobs.get()) is not None:
                batch, fut = job
                reply: Reply | None = None
                error: BaseException | None = None
                try:
                    if client is None:
                        client = self._connect()
                    reply = self._syncer.exchange(client, batch)
                except Exception as e:
                    error = e
                try:
                    loop.call_soon_threadsafe(self._done, batch, fut, reply, error)
                except RuntimeError:  # the loop is closed: nobody to tell
                    return
        finally:
            if client is not None:
                client.close()

    def _done(self, batch: Batch, fut: asyncio.Future[BaseException | None],
              reply: Reply | None, error: BaseException | None) -> None:
        """On the loop: merge what came back (or keep the pushes for the next sync),
        and schedule the next sync."""
        self._inflight = None
        self._check_lag()  # an answer the loop merges late is a late sync too
        if reply is not None:
            try:
                self.last_batch = self._syncer.merge(batch, reply)
            except Exception as e:  # a bug here must not end sharing silently
                error = e
            else:
                if reply.error is not None:  # some shards answered, some did not
                    self._syncer.requeue(batch, reply)
                    error = reply.error
        if error is None:
            self.sweep_due(self.latest)
            if batch.cycle % 100 == 0:
                self.local.sweep(self.latest)  # expired flags
            self.syncs += 1
            self._failures = 0
            self.connected = True
            if self._down:
                self._down = False
                log.warning("redis sync resumed", url=self.url, errors=self.sync_errors)
            self.last_sync = time.time()
            self.last_sync_seconds = time.monotonic() - batch.started
            self._synced()
            delay = self.interval - (time.monotonic() - batch.started)
        else:
            if reply is None:
                self._syncer.requeue(batch)
            if isinstance(error, _ERRORS):
                self._failed(error)
                delay = min(self.interval * 2 ** min(self._failures, 6), 2.0)
            else:
                self.sync_errors += 1
                self._syncer.need_load = True
                log.error("redis sync error", error=repr(error), exc_info=error)
                delay = 1.0
        if not fut.done():
            fut.set_result(error)
        if self._stopping or not self._running:
            return
        if delay <= 0:  # late already (a busy loop): the next one now, in this turn
            self._tick()
        else:
            assert self._loop is not None
            self._timer = self._loop.call_later(delay, self._tick)

    def _tick(self) -> None:
        self._timer = None
        if self._inflight is not None or self._stopping or not self._running:
            return
        self._check_lag()
        self._submit()

    def _synced(self) -> None:
        """After a successful sync: the episode of lag, if any, ends when this sync
        came within the bound of the one before (syncing at its pace again)."""
        now = time.monotonic()
        gap, self._last_ok = now - self._last_ok, now
        if self._behind and gap <= self.lag_bound:
            self._behind = False
            log.warning("redis sync caught up: counts are the cluster's again",
                        behind_seconds=round(now - self._behind_since, 1))

    def _check_lag(self) -> None:
        """Called before each sync (when the loop lets it run): the first time the last
        successful sync is older than the bound, one warning for the episode."""
        age = time.monotonic() - self._last_ok
        if age > self.lag_bound and not self._behind:
            self._behind = True
            self._behind_since = self._last_ok
            self.lag_episodes += 1
            log.warning("redis sync behind: counts are this process's own",
                        seconds=round(age, 1), bound=self.lag_bound, url=self.url)

    def _failed(self, e: BaseException) -> None:
        self.sync_errors += 1
        self._failures += 1
        self._syncer.need_load = True
        self.connected = False
        if not self._down:
            self._down = True
            log.warning("redis sync failed: serving from the local view until it is back",
                        url=self.url, error=repr(e))

    def _connect(self) -> Any:
        """A blocking client of the target (a Cluster client learns the slot map from
        its seed nodes here, so this can raise what a connection raises)."""
        return sync_client(self.url, decode_responses=True, socket_timeout=self.timeout,
                           socket_connect_timeout=self.timeout)

    def preload(self) -> None:
        """For one-shot tools that run no event loop (``spamgw check``): load the live
        flags once, synchronously; counters start empty and nothing is pushed."""
        g = self.prefixes[0]
        client: Any = None
        try:
            client = self._connect()  # a Cluster client asks its seed nodes at once
            names = sorted(str(n) for n in client.smembers(g + "flists"))
            pipe = client.pipeline(transaction=False)
            wall = time.time()
            for name in names:
                pipe.zrangebyscore(g + "f:" + name, f"({wall!r}", "+inf",
                                   withscores=True)
            self._syncer.apply_flag_lists(names, pipe.execute(), full=False)
        except _ERRORS as e:
            self.sync_errors += 1
            log.error("redis unreachable: flags not loaded, answering from the local view",
                      url=self.url, error=str(e))
        finally:
            if client is not None:
                client.close()
