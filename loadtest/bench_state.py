"""Per-call cost of the counters on the hot path, memory vs redis (local view), and the
cost of one redis sync by batch size. Starts its own redis-server on a free loopback
port (no persistence) and stops it.

    python3 loadtest/bench_state.py [--calls 200000]

Figures: ns per call (best of 3 runs) for ``hit`` (rate/sum), ``distinct``, ``flagged``
and ``peek``; for a sync, the wall time of one round trip that pushes and reads back N
dirty sum keys and N/4 distinct keys (2000 is the default ``max_batch``: a larger backlog
takes several syncs), and the part of it spent on the event loop's
thread (CPU time: what the gateway's traffic waits for).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gateway.state.memory import MemoryCounters  # noqa: E402
from gateway.state.redis import RedisCounters  # noqa: E402
from gateway.testing.ports import free_port  # noqa: E402

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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=200_000)
    args = ap.parse_args()
    server = shutil.which("redis-server")
    if server is None:
        print("redis-server not found", file=sys.stderr)
        return 1
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.Popen([server, "--port", str(port), "--bind", "127.0.0.1", "--save",
                                 "", "--appendonly", "no", "--dir", tmp],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(200):
                try:
                    socket.create_connection(("127.0.0.1", port), 0.2).close()
                    break
                except OSError:
                    time.sleep(0.02)
            url = f"redis://127.0.0.1:{port}/0"
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
            loop.close()
        finally:
            proc.terminate()
            proc.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
