"""FastAGI benchmark: screenings per second and latency percentiles.

The client plays Asterisk 22 byte for byte (the environment block of the
recordings in tests/data/agi/, ``200 result=1`` to each SET VARIABLE, lockstep,
until the server closes) over loopback. The server is the gateway's own FastAGI
service with the real decision core and the shipped rules, in a separate process
(or any running gateway with ``--target``).

    python3 loadtest/bench_agi.py                      # both phases, 10 s each
    python3 loadtest/bench_agi.py --seconds 5 --concurrency 32 --rate 500
    python3 loadtest/bench_agi.py --target 127.0.0.1:4573   # a running spamgw

Phase 1 (throughput): ``--concurrency`` sessions in a closed loop.
Phase 2 (latency): an open loop at a fixed ``--rate`` of new calls per second.
Latency is from connect to the moment SPAMGW_ACTION is read (what holds the call)
and to the server's close (the whole session). Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import io
import os
import random
import resource
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

ENV_TEMPLATE = (
    "agi_network: yes\n"
    "agi_network_script: {path}\n"
    "agi_request: agi://127.0.0.1:4573/{path}\n"
    "agi_channel: PJSIP/{trunk}-{chan:08x}\n"
    "agi_language: en\n"
    "agi_type: PJSIP\n"
    "agi_uniqueid: 1795361515.{uid}\n"
    "agi_version: 22.10.1\n"
    "agi_callerid: {src}\n"
    "agi_calleridname: unknown\n"
    "agi_callingpres: 0\n"
    "agi_callingani2: 0\n"
    "agi_callington: 0\n"
    "agi_callingtns: 0\n"
    "agi_dnid: {dst}\n"
    "agi_rdnis: unknown\n"
    "agi_context: from-{trunk}\n"
    "agi_extension: {dst}\n"
    "agi_priority: 3\n"
    "agi_enhanced: 0.0\n"
    "agi_accountcode: \n"
    "agi_threadid: 140283458823872\n"
    "agi_arg_1: {trunk}\n"
    "\n"
)


def call_mix(n: int, seed: int = 7) -> list[bytes]:
    """A realistic mix: mostly ordinary inbound/outbound calls, some premium and
    international destinations, some anonymous callers."""
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        r = rnd.random()
        if r < 0.45:
            path, trunk = "inbound", "trunk-intl" if rnd.random() < 0.3 else "trunk-uk"
            src = rnd.choice(["+4477009{:05d}", "+3361234{:04d}", "+22507000{:05d}"]).format(
                rnd.randrange(10_000))
            src = "anonymous" if rnd.random() < 0.03 else src
            dst = f"4477009{rnd.randrange(100_000):05d}"
        else:
            path, trunk = "outbound", "sub"
            src = f"+4477009{rnd.randrange(100_000):05d}"
            dst = rnd.choice([
                "07700900{:03d}", "0207946{:04d}", "0033612{:06d}", "00882123{:06d}",
                "0909879{:04d}", "00225070{:06d}", "112", "999",
            ]).format(rnd.randrange(1000))
        out.append(ENV_TEMPLATE.format(path=path, trunk=trunk, chan=i, uid=i, src=src,
                                       dst=dst).encode())
    return out


@dataclass
class Sample:
    action_ms: list[float] = field(default_factory=list)
    session_ms: list[float] = field(default_factory=list)
    errors: int = 0
    actions: dict[str, int] = field(default_factory=dict)


class AsteriskLike(asyncio.Protocol):
    """Asterisk's side of one FastAGI session."""

    def __init__(self, env: bytes, sample: Sample, done: asyncio.Future[None]) -> None:
        self.env = env
        self.sample = sample
        self.done = done
        self.buf = b""
        self.t0 = time.perf_counter()
        self.transport: asyncio.Transport | None = None
        self.got_action = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass
        self.transport.write(self.env)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while b"\n" in self.buf:
            line, _, self.buf = self.buf.partition(b"\n")
            if not self.got_action and line.startswith(b"SET VARIABLE SPAMGW_ACTION "):
                self.got_action = True
                self.sample.action_ms.append((time.perf_counter() - self.t0) * 1000)
                action = line[27:].decode()
                self.sample.actions[action] = self.sample.actions.get(action, 0) + 1
            assert self.transport is not None
            self.transport.write(b"200 result=1\n")

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.got_action:
            self.sample.errors += 1
        else:
            self.sample.session_ms.append((time.perf_counter() - self.t0) * 1000)
        if not self.done.done():
            self.done.set_result(None)


async def one_call(host: str, port: int, env: bytes, sample: Sample) -> None:
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()
    try:
        await loop.create_connection(lambda: AsteriskLike(env, sample, done), host, port)
        async with asyncio.timeout(5):
            await done
    except (OSError, TimeoutError):
        sample.errors += 1


async def closed_loop(host: str, port: int, envs: list[bytes], seconds: float,
                      concurrency: int) -> tuple[Sample, float]:
    sample = Sample()
    stop = time.perf_counter() + seconds
    count = 0

    async def worker(k: int) -> None:
        nonlocal count
        i = k
        while time.perf_counter() < stop:
            await one_call(host, port, envs[i % len(envs)], sample)
            count += 1
            i += concurrency

    t0 = time.perf_counter()
    await asyncio.gather(*(worker(k) for k in range(concurrency)))
    return sample, count / (time.perf_counter() - t0)


async def open_loop(host: str, port: int, envs: list[bytes], seconds: float,
                    rate: float) -> Sample:
    sample = Sample()
    tasks: set[asyncio.Task[None]] = set()
    t0 = time.perf_counter()
    n = int(seconds * rate)
    for i in range(n):
        due = t0 + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        t = asyncio.ensure_future(one_call(host, port, envs[i % len(envs)], sample))
        tasks.add(t)
        t.add_done_callback(tasks.discard)
    await asyncio.gather(*tasks)
    return sample


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(p / 100 * len(s)))]


def show(name: str, s: Sample) -> None:
    a, w = s.action_ms, s.session_ms
    print(f"  {name}: {len(a)} screenings, {s.errors} errors, actions {s.actions}")
    print(f"    to SPAMGW_ACTION ms: p50 {pct(a, 50):.2f}  p90 {pct(a, 90):.2f}  "
          f"p99 {pct(a, 99):.2f}  max {max(a, default=float('nan')):.2f}")
    print(f"    whole session    ms: p50 {pct(w, 50):.2f}  p90 {pct(w, 90):.2f}  "
          f"p99 {pct(w, 99):.2f}  max {max(w, default=float('nan')):.2f}")


# --- the server side (a child process) ---------------------------------------------


async def serve(port: int) -> None:
    from gateway.agi.screening import Screener
    from gateway.agi.server import AgiServer
    from gateway.config import LogConfig, parse_config
    from gateway.observe import configure_logging

    # as `spamgw run` does: JSON logs, the audit line of every non-ALLOW verdict
    # included, to stderr (the parent sends it to a file)
    configure_logging(LogConfig(level="info", format="json"))

    config = parse_config({"rules": {"dir": str(REPO / "rules")},
                           "lists": {"dir": str(REPO / "rules" / "lists")},
                           "plugins": {"dir": str(REPO / "plugins")}})
    try:
        from gateway.app import build_core

        core = build_core(config)
        engine, numbering, what = core.engine, core.numbering, "real core, shipped rules"
    except ImportError:  # the decision core is not there: measure the adapter alone
        from gateway.model import Action, Verdict
        from gateway.numbers import Numbering

        class AllowAll:
            def evaluate(self, event: object) -> Verdict:
                return Verdict(Action.ALLOW)

        engine, numbering, what = AllowAll(), Numbering("GB"), "stub engine (ALLOW)"
    gc.collect()
    gc.freeze()  # as `spamgw run` does after building the core
    screener = Screener(numbering, engine, deadline_ms=config.gateway.call_deadline_ms)
    server = AgiServer(screener)
    await server.start("127.0.0.1", port)
    pauses: list[tuple[int, float]] = []
    started: list[float] = [0.0]

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            pauses.append((info["generation"], (time.perf_counter() - started[0]) * 1000))

    gc.callbacks.append(on_gc)
    print(f"server ready on {server.port}: {what}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    print(f"server counters: {screener.counters.as_dict()}", flush=True)
    for gen in (0, 1, 2):
        ms = [p for g, p in pauses if g == gen]
        if ms:
            print(f"server gc generation {gen}: {len(ms)} collections, "
                  f"max {max(ms):.2f} ms, total {sum(ms):.0f} ms", flush=True)
    await server.close()


def run_loop(coro: object) -> object:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)  # type: ignore[arg-type]
    return uvloop.run(coro)  # type: ignore[arg-type]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--rate", type=float, default=500.0)
    ap.add_argument("--target", help="HOST:PORT of a running FastAGI server")
    ap.add_argument("--profile", action="store_true", help="profile the server (cProfile)")
    ap.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve is not None:
        if not args.profile:
            run_loop(serve(args.serve))
            return 0
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.runcall(run_loop, serve(args.serve))
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(25)
        print(out.getvalue(), flush=True)
        return 0

    envs = call_mix(5000)

    async def bench(host: str, port: int) -> None:
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus, client and server "
              f"on loopback, {args.seconds:g} s per phase")
        await closed_loop(host, port, envs, 1.0, args.concurrency)  # warm up
        sample, rate = await closed_loop(host, port, envs, args.seconds, args.concurrency)
        print(f"throughput, {args.concurrency} concurrent sessions: {rate:,.0f} screenings/s")
        show("closed loop", sample)
        sample = await open_loop(host, port, envs, args.seconds, args.rate)
        print(f"latency at a fixed {args.rate:g} calls/s:")
        show("open loop", sample)

    if args.target:
        host, _, p = args.target.rpartition(":")
        run_loop(bench(host, int(p)))
        return 0

    port = 45000 + os.getpid() % 10000
    with tempfile.TemporaryDirectory() as tmp:
        log_path = Path(tmp) / "server.log"
        with log_path.open("wb") as log_file:
            child = subprocess.Popen([sys.executable, __file__, "--serve", str(port),
                                      *(["--profile"] if args.profile else [])],
                                     stdout=subprocess.PIPE, stderr=log_file, text=True,
                                     cwd=REPO)
        try:
            assert child.stdout is not None
            print(child.stdout.readline().strip())
            run_loop(bench("127.0.0.1", port))
        finally:
            child.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                out, _ = child.communicate(timeout=10)
                print(out.strip())
            if child.poll() is None:
                child.kill()
                child.wait()
        me = resource.getrusage(resource.RUSAGE_SELF)
        kid = resource.getrusage(resource.RUSAGE_CHILDREN)
        print(f"cpu seconds: client {me.ru_utime + me.ru_stime:.1f}, "
              f"server {kid.ru_utime + kid.ru_stime:.1f}")
        with log_path.open("rb") as f:
            lines = sum(1 for _ in f)
        print(f"server log (JSON, audit lines of non-ALLOW verdicts): {lines:,} lines, "
              f"{log_path.stat().st_size:,} bytes")
    return 0

if __name__ == "__main__":
    raise SystemExit(main())
