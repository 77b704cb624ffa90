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

How the local view keeps sums and distinct counts is in ``gateway.state.view``
(``RedisCounters`` is one), one sync in ``gateway.state.sync``, what Redis holds in
``gateway.state.wire``; this module is the backend's life: start, the sync task,
outages, stop. Flags live in Redis (a sorted set per list, by expiry) and are loaded
at start, so they survive a restart; changes reach other processes through a stream
they follow.

If Redis is unreachable nothing stops: the local view keeps answering (fail-open),
the failure is logged once and counted (``sync_errors``), unpushed work is kept while
it still matters, and the sync retries with a backoff; when Redis is back the flags
are reloaded, and if Redis lost its data (``epoch`` changed) the live local flags are
written back.

A sync can also fall behind with Redis up, when the event loop is too busy to run it.
Either way, once the last successful sync is older than ``lag_bound`` (the larger of
1 s and 10 intervals) the process is judging on its own counts: the sync task logs
one warning for the episode and another when it syncs at its pace again, counts the
episodes, and ``metrics()`` has the age of the last sync (``sync_age_seconds``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import redis.asyncio
import redis.exceptions
import structlog

from gateway.state.sync import Syncer
from gateway.state.view import LocalView

__all__ = ["RedisCounters"]

log = structlog.get_logger("spamgw.state")

_ERRORS = (redis.exceptions.RedisError, OSError, TimeoutError)


class RedisCounters(LocalView):
    def __init__(self, url: str = "redis://127.0.0.1:6379/0", *, prefix: str = "spamgw:",
                 interval: float = 0.1, linger: float = 1.0, max_members: int = 4096,
                 max_batch: int = 2000, timeout: float = 1.0) -> None:
        super().__init__(max_members)
        self.url = url
        self.prefix = prefix
        self.interval = interval
        self.max_batch = max_batch  # keys of each kind pushed/pulled by one sync
        self.timeout = timeout
        self._syncer = Syncer(self, max(1, round(linger / interval)))
        self._client: redis.asyncio.Redis | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._lock = asyncio.Lock()
        self._down = False
        self._failures = 0
        # for metrics
        self.syncs = 0
        self.sync_errors = 0
        self.last_sync = 0.0  # wall time of the last successful sync (0: never)
        self.last_sync_seconds = 0.0  # how long it took
        self.last_batch = 0  # keys pushed or pulled by it
        self.connected = False
        #: past it without a successful sync, this process judges on its own counts
        self.lag_bound = max(1.0, 10 * interval)
        self.lag_episodes = 0  # times the sync fell that far behind
        self._last_ok = 0.0  # monotonic time of the last successful sync (or of start)
        self._behind = False
        self._behind_since = 0.0

    @classmethod
    def from_config(cls, config: Any) -> RedisCounters:
        return cls(config.redis_url, prefix=config.redis_prefix, interval=config.sync_interval)

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
            "sync_age_seconds": self.sync_age(),
            "sync_behind_episodes": self.lag_episodes,
        }

    def sync_age(self) -> float:
        """Seconds since the last successful sync (since start if none yet; 0 when not
        running): how old the other processes' share of the counts is."""
        if self._task is None:
            return 0.0
        return time.monotonic() - self._last_ok

    # -- lifecycle ------------------------------------------------------------------

    async def start(self) -> None:
        """Load the live flags and start syncing. Never fails for want of Redis: the
        first load is retried by the sync task."""
        if self._task is not None:
            return
        self._client = redis.asyncio.Redis.from_url(
            self.url, decode_responses=True, socket_timeout=self.timeout,
            socket_connect_timeout=self.timeout)
        self.recording = True
        self._stopping = asyncio.Event()
        self._last_ok = time.monotonic()
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
        self.recording = False
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
            syncer = self._syncer
            if syncer.need_load:
                await syncer.load(client)
            t0 = time.perf_counter()
            batch = await syncer.round(client)
            self.sweep_some(self.latest, 2048)
            self.syncs += 1
            self._failures = 0
            self.connected = True
            if self._down:
                self._down = False
                log.warning("redis sync resumed", url=self.url, errors=self.sync_errors)
            self.last_sync = time.time()
            self.last_sync_seconds = time.perf_counter() - t0
            self.last_batch = batch
            self._synced()

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
        """Called by the sync task before each attempt (when the loop lets it run):
        the first time the last successful sync is older than the bound, one warning
        for the episode."""
        age = time.monotonic() - self._last_ok
        if age > self.lag_bound and not self._behind:
            self._behind = True
            self._behind_since = self._last_ok
            self.lag_episodes += 1
            log.warning("redis sync behind: counts are this process's own",
                        seconds=round(age, 1), bound=self.lag_bound, url=self.url)

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
            self._syncer.apply_flag_lists(names, pipe.execute(), full=False)
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
        self._syncer.need_load = True
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
        self._check_lag()
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

