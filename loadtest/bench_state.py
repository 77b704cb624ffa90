"""Per-call cost of the counters on the hot path, memory vs redis (local view), and the
cost of one redis sync by batch size and by Redis topology. Starts its own
redis-server, and a 3-primary Redis Cluster, on free loopback ports (no persistence)
and stops them.

    python3 loadtest/bench_state.py [--calls 200000] [--syncs 200]

Figures: ns per call (best of 3 runs) for ``hit`` (rate/sum), ``distinct``, ``flagged``
and ``peek``; for a sync, the wall time of one round trip that pushes and reads back N
dirty sum keys and N/4 distinct keys (2000 is the default ``max_batch``: a larger backlog
takes several syncs), and the part of it spent on the event loop's
thread (CPU time: what the gateway's traffic waits for). By topology: two processes'
worth of backends, each pushing N sums and N/4 distinct sets a sync over keys the
other one also holds (so every sync fans out a change record), on one redis-server
(one shard) and on a Redis Cluster of three primaries (8 shards); per sync of one
process, its wall time, its loop CPU, its sync thread's CPU, and what the Redis
servers spent (``INFO cpu``, all nodes together, and the busiest node's share).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gateway.state.memory import MemoryCounters  # noqa: E402
from gateway.state.redis import RedisCounters  # noqa: E402
from gateway.testing.redisserver import ClusterServers, RedisServer  # noqa: E402

T0 = 1_790_000_000.0


def best_ns(fn: Callable[[int], None], calls: int, runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        gc.collect()
        t = time.perf_counter()
        fn(calls)
        times.append((time.perf_counter() - t) / calls * 1e9)
    return min(times)


def hot_path(c, calls: int, rng: random.Random) -> dict[str, float]:
    srcs = [447700900000 + rng.randrange(5000) for _ in range(calls)]
    dsts = [447700910000 + rng.randrange(50_000) for _ in range(calls)]
    for i in range(0, 5000, 3):
        c.flag("wangiri", 447700900000 + i, T0, 86400)

    def hit(n: int) -> None:
        h = c.hit
        for i in range(n):
            h("bulk.source_velocity", srcs[i], T0 + i * 0.001, 60.0)

    def distinct(n: int) -> None:
        d = c.distinct
        for i in range(n):
            d("bulk.source_fanout", srcs[i], dsts[i], T0 + i * 0.001, 3600.0)

    def flagged(n: int) -> None:
        f = c.flagged
        for i in range(n):
            f("wangiri", srcs[i], T0 + i * 0.001)

    def peek(n: int) -> None:
        p = c.peek
        for i in range(n):
            p("bulk.source_velocity", srcs[i], T0 + i * 0.001, 60.0)

    def loop(n: int) -> None:  # the cost of the loop itself, subtracted
        for i in range(n):
            srcs[i]

    base = best_ns(loop, calls)
    return {name: best_ns(fn, calls) - base
            for name, fn in (("hit", hit), ("distinct", distinct), ("flagged", flagged),
                             ("peek", peek))}


async def sync_cost(url: str, sizes: list[int]) -> list[tuple[int, float, float]]:
    out = []
    for n in sizes:
        c = RedisCounters(url, prefix=f"bench{n}:", interval=3600)
        await c.start()
        walls, cpus = [], []
        for rep in range(5):
            now = T0 + rep
            for k in range(n):
                c.hit("bulk.source_velocity", 447700900000 + k, now, 60.0)
            for k in range(n // 4):
                c.distinct("bulk.source_fanout", 447700900000 + k, rep, now, 3600.0)
            t, cpu = time.perf_counter(), time.thread_time()
            await c.sync()
            walls.append(time.perf_counter() - t)
            cpus.append(time.thread_time() - cpu)
        await c.stop()
        out.append((n, min(walls) * 1e3, min(cpus) * 1e3))
    return out


def redis_cpu(servers: list[RedisServer]) -> list[float]:
    """Each server's CPU seconds so far (user + system)."""
    out = []
    for srv in servers:
        info = srv.command("INFO", "cpu")
        out.append(float(info["used_cpu_user"]) + float(info["used_cpu_sys"]))
    return out


async def topology_cost(url: str, servers: list[RedisServer], n: int, syncs: int
                        ) -> dict[str, float]:
    """Two backends syncing in turn, each sync pushing ``n`` sums and ``n // 4`` sets."""
    a = RedisCounters(url, prefix=f"topo{n}:", interval=3600)
    b = RedisCounters(url, prefix=f"topo{n}:", interval=3600)
    await a.start()
    await b.start()
    for c in (a, b):  # both hold every key: each push reaches the other's inbox
        for k in range(n):
            c.peek("bulk.source_velocity", 447700900000 + k, T0, 60.0)
        await c.sync()
    wall = loop_cpu = proc = 0.0
    cpu0 = redis_cpu(servers)
    for rep in range(syncs):
        for c in (a, b):
            now = T0 + rep * 0.001
            for k in range(n):
                c.hit("bulk.source_velocity", 447700900000 + k, now, 60.0)
            for k in range(n // 4):
                c.distinct("bulk.source_fanout", 447700900000 + k, rep, now, 3600.0)
            t, cpu, pcpu = time.perf_counter(), time.thread_time(), time.process_time()
            await c.sync()
            wall += time.perf_counter() - t
            loop_cpu += time.thread_time() - cpu
            proc += time.process_time() - pcpu
    spent = [x - y for x, y in zip(redis_cpu(servers), cpu0, strict=True)]
    assert a.sync_errors == b.sync_errors == 0
    await a.stop()
    await b.stop()
    k = 2 * syncs
    return {"wall": wall / k * 1e3, "loop": loop_cpu / k * 1e3,
            # the process's CPU during the sync less the loop's: the sync thread's
            "thread": (proc - loop_cpu) / k * 1e3,
            "redis": sum(spent) / k * 1e3, "busiest": max(spent) / max(sum(spent), 1e-9)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=200_000)
    ap.add_argument("--syncs", type=int, default=200,
                    help="syncs of each of the two backends, per topology and size")
    args = ap.parse_args()
    if shutil.which("redis-server") is None:
        print("redis-server not found", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        server = RedisServer(Path(tmp) / "one").start()
        cluster = ClusterServers(Path(tmp) / "cluster").start()
        try:
            url = server.url
            loop = asyncio.new_event_loop()
            started = RedisCounters(url, prefix="benchhot:", interval=3600)
            loop.run_until_complete(started.start())  # recording for the sync, as in service
            rows = [
                ("MemoryCounters", hot_path(MemoryCounters(), args.calls, random.Random(1))),
                ("RedisCounters, local view (started)",
                 hot_path(started, args.calls, random.Random(1))),
            ]
            loop.run_until_complete(started.stop())
            print(f"hot path, ns per call (best of 3, {args.calls} calls, 5000 keys):")
            print(f"  {'backend':38} {'hit':>8} {'distinct':>9} {'flagged':>8} {'peek':>8}")
            for name, r in rows:
                print(f"  {name:38} {r['hit']:8.0f} {r['distinct']:9.0f} {r['flagged']:8.0f} "
                      f"{r['peek']:8.0f}")
            print("sync, one round trip (best of 5): N dirty sum keys + N/4 distinct keys")
            print(f"  {'N':>6} {'wall ms':>9} {'loop CPU ms':>12} {'µs/key (CPU)':>13}")
            for n, wall, cpu in loop.run_until_complete(sync_cost(url, [100, 500, 2000])):
                print(f"  {n:6} {wall:9.2f} {cpu:12.2f} {cpu * 1e3 / (n * 1.25):13.1f}")
            print(f"sync by topology, two processes, {args.syncs} syncs each (mean per "
                  "sync of one process): N sums + N/4 distinct sets pushed")
            print(f"  {'topology':34} {'N':>5} {'wall ms':>8} {'loop ms':>8} "
                  f"{'thread ms':>9} {'Redis ms':>9} {'busiest node':>12}")
            for name, turl, servers in (
                    ("one redis-server, 1 shard", url, [server]),
                    ("Cluster, 3 primaries, 8 shards", cluster.url, cluster.nodes)):
                for n in (0, 40, 400):
                    r = loop.run_until_complete(topology_cost(turl, servers, n, args.syncs))
                    print(f"  {name:34} {n:5} {r['wall']:8.2f} {r['loop']:8.2f} "
                          f"{r['thread']:9.2f} {r['redis']:9.3f} {r['busiest']:12.0%}")
            loop.close()
        finally:
            cluster.stop()
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
