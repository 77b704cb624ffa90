#!/usr/bin/env python3
"""spamgw against the limit of this machine: one command, one table per protocol.

    python3 loadtest/bench.py                       # SMPP, workers, FastAGI, /v1/check
    python3 loadtest/bench.py --only workers        # socat, 1 and 2 workers, memory/redis
    python3 loadtest/bench.py --only smpp --messages 400000 --connections 4 --window 512

SMPP: starts the SMSC simulator, then measures, with the same load generator (the
asyncio/uvloop blaster of ``loadtest/bench_smpp.py``: pre-encoded submit_sm, several
binds, a deep window, run in its own process so it has a core to itself):

- ``direct``: straight to the simulator (the ceiling of generator + simulator);
- ``socat relay``: through ``socat TCP-LISTEN,fork`` (the limit for any proxy: bytes
  copied, nothing parsed);
- ``spamgw empty``: ``python3 -m gateway run`` with a ruleset of no rules and no
  plugins (the proxy's own cost);
- ``spamgw rules only``: the shipped rules without the content plugins;
- ``spamgw rules+plugins``: the shipped rules and lists and the four content plugins
  (what a config that does not narrow ``[plugins] enabled`` runs).

Both spamgw rows with rules run on two kinds of text (``--texts``): ``mix``, the
realistic stream of ``bench_smpp.traffic`` (templated A2P, marketing, lures: the
content caches hit as they do in production), and ``unique``, texts that never
repeat (words drawn from the SMS Spam Collection, or tests/data/ham_200.txt, in a
new order each time, with fresh links and numbers now and then; the warm-up uses
other texts): every content check runs in full for every message. A last table
prints, per kind, rules+plugins against rules only: the rate ratio and the CPU per
message (the figure issue 11's throughput target is stated in: >= 0.80).

Workers (``--only workers``, part of the default run): the default config (shipped
rules, lists and content plugins, ``mix`` texts) as one process with counters in
memory, as one process and as ``--workers 2`` with counters in a redis-server the
bench starts, beside the socat relay of the same run. ``gateway CPU us/msg`` adds up
every process of the gateway (supervisor and workers); ``redis us/msg`` and ``redis
cmds/msg`` are what the redis-server spent and executed per message; ``split`` is
how the workers shared the messages (the kernel hashes each bind to one worker:
``--worker-binds``, 16, so that few binds do not land on one worker), and ``syncs``
how many rounds with Redis the gateway made, how many failed, and how many times
the sync fell behind its bound (``spamgw_state_sync_behind_episodes``: counts judged
on this process's own). The rows run at a fixed rate below saturation
(``--workers-rate``, 1,000 submit_sm/s by default, for ``--workers-seconds``), so that
CPU per message compares like with like; the ``2x`` row runs 2 workers at twice
the rate, each worker carrying what the one worker does (at the default, 2,000/s,
still below saturation on a shared 2-core machine; 4,000/s was not), and the ``0.5x``
row runs one process with counters in memory at half the rate, what each of the 2
workers carries: a process costs more a message at a lower rate (fewer messages a
turn of its event loop), and the ``2 workers`` row pays that as well as the sharing.
``wakeups/msg`` is how many times the gateway's threads went to sleep and were woken
(``voluntary_ctxt_switches``) per message, and each run prints what one wake-up from
idle costs a Python thread on this machine (``wakeup_cost``): below saturation a
process pays that per turn of its loop, not per message, so a process at half the
rate pays it for fewer messages each.
``--workers-rate 0`` saturates instead, with ``--messages``. Two workers with counters in memory
are refused by design (each would count alone), and the table says so.

FastAGI (when ``gateway.agi`` is on this branch): screenings/s through a trivial
FastAGI responder that answers without an engine, then through spamgw (``spamgw
default``: the shipped rules, lists and plugins). HTTP (when
``gateway.admin`` is): ``POST /v1/check/sms`` requests/s through a trivial aiohttp
handler, then through spamgw. Parts whose server is not here are skipped, saying so.

Each row: rate, latency p50/p99/p99.9 (ms) under that saturating load, peak RSS of the
process(es) under test (the gateway, socat with its forked children, the trivial
servers), the generator's CPU share (near 100% would mean the generator is the
bottleneck), and the ratio to the baseline (the relay, or the trivial server).
``CPU us/req`` is the CPU time the process under test spent per request during the
measured phase, and ``per core/s`` its inverse: what one core would carry, a figure
that depends less on what else runs on a shared machine than the rate does.
A second SMPP table gives latency at a fixed rate every path can carry.
It prints figures and asserts nothing; the machine may be shared, so say so when
quoting them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

from gateway.testing.config import write_config  # noqa: E402
from gateway.testing.ports import free_port  # noqa: E402
from gateway.testing.process import (  # noqa: E402
    GatewayProcess,
    start_smsc_sim,
    stop,
    wait_port,
)

# --- processes ------------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    out: list[int] = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                out += [int(c) for c in f.read().split()]
    return out


def _status_kb(pid: int, key: str) -> int:
    with contextlib.suppress(OSError), open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key):
                return int(line.split()[1])
    return 0


class RssWatch:
    """Peak resident memory of a process and its children (socat forks one per
    connection): the sum of VmRSS sampled every 20 ms, and the kernel's VmHWM of
    the process itself, whichever is larger."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            pids = [self.pid, *_children(self.pid)]
            self.peak_kb = max(self.peak_kb, sum(_status_kb(p, "VmRSS:") for p in pids))
            self._stop.wait(0.02)

    def done(self) -> float:
        self._stop.set()
        self._thread.join()
        return max(self.peak_kb, _status_kb(self.pid, "VmHWM:")) / 1024


def spawn(cmd: list[str], log: Path | None = None) -> subprocess.Popen[Any]:
    out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115
    return subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=out,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})


def gateway_config(tmp: Path, name: str, *, rules: str, lists: str, smpp: int | None = None,
                   upstream: int = 0, agi: int | None = None, admin: int | None = None,
                   window: int = 4096, log_level: str = "info", plugins: bool = True,
                   workers: int = 1, redis: int | None = None) -> Path:
    """A config for ``gateway run``: only the services asked for, the default log level;
    ``plugins=False`` points the plugins dir nowhere (no content plugins); ``redis``:
    the counters in the redis-server on that port."""
    plugin_dir = ROOT / "plugins" if plugins else tmp / "no-plugins"
    plugin_dir.mkdir(exist_ok=True)  # a plugins dir must exist (gateway.config)
    sections: dict[str, dict[str, Any]] = {
        "gateway": {"home_country": "GB", "workers": workers},
        "rules": {"dir": rules}, "lists": {"dir": lists},
        "plugins": {"dir": plugin_dir, "missing_symbols": "error" if plugins else "disable"},
        "log": {"level": log_level, "format": "json"},
        "smpp": ({"enabled": True, "listen": f"127.0.0.1:{smpp}", "window": window,
                  "upstream": {"address": f"127.0.0.1:{upstream}"}} if smpp
                 else {"enabled": False}),
        "agi": {"enabled": True, "listen": f"127.0.0.1:{agi}"} if agi else {"enabled": False},
    }
    if redis:
        sections["state"] = {"backend": "redis", "redis_url": f"redis://127.0.0.1:{redis}/0",
                             "redis_prefix": f"bench{redis}-{name}:"}
    sections["admin"] = ({"enabled": True, "listen": f"127.0.0.1:{admin}",
                          "token": "bench-token"} if admin else {"enabled": False})
    return write_config(tmp / f"{name}.toml", **sections)


def empty_rules(tmp: Path) -> tuple[str, str]:
    """A rules dir with the thresholds and no rule, and an empty lists dir."""
    d = tmp / "empty-rules"
    (d / "lists").mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "rules" / "00-settings.toml", d / "00-settings.toml")
    return str(d), str(d / "lists")


@contextlib.contextmanager
def gateway(tmp: Path, name: str, **kw: Any) -> Iterator[subprocess.Popen[Any]]:
    cfg = gateway_config(tmp, name, **kw)
    ports = [kw[key] for key in ("smpp", "agi", "admin") if kw.get(key)]
    with open(tmp / f"{name}.log", "ab") as log:
        gw = GatewayProcess(cfg, ports[0], cwd=ROOT, stdout=log, stderr=log, timeout=60)
        gw.start()
    try:
        for port in ports[1:]:
            wait_port(port, gw.proc, timeout=60)
        workers = kw.get("workers", 1)
        deadline = time.monotonic() + 120
        while workers > 1 and (tmp / f"{name}.log").read_text().count(
                '"worker ready"') < workers:  # the first one answers the port alone
            if gw.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"{name}: {workers} workers did not start")
            time.sleep(0.1)
        yield gw.proc
    finally:
        gw.stop()


# --- generator (a child process) --------------------------------------------------------


def _pcts(lat_ns: list[int]) -> dict[str, float]:
    lat = sorted(lat_ns)
    if not lat:
        return {"p50": float("nan"), "p99": float("nan"), "p999": float("nan")}

    def q(x: float) -> float:
        return lat[min(len(lat) - 1, int(x * len(lat)))] / 1e6

    return {"p50": q(0.5), "p99": q(0.99), "p999": q(0.999)}


def mark(what: str) -> None:
    """Tell the parent where the measured phase starts and ends (it reads the CPU
    time of the process under test there)."""
    print(what, flush=True)


def _unique_words() -> list[str]:
    data = Path("/work/shared/data/sms-spam-collection/train.tsv")
    if data.exists():
        texts = [line.split("\t", 1)[1] for line in data.read_text("utf-8").splitlines()
                 if "\t" in line]
    else:
        texts = [line for line in (ROOT / "tests" / "data" / "ham_200.txt")
                 .read_text("utf-8").splitlines() if not line.startswith("#")]
    return [w for t in texts for w in t.split() if w.isascii()]


def unique_traffic(count: int, seed: int) -> list[bytes]:
    """``count`` submit_sm PDUs whose texts never repeat: 6-24 corpus words in a new
    order, every fifth with a fresh link, every seventh with a fresh number."""
    import random

    sys.path.insert(0, str(HERE))
    import bench_smpp

    rng = random.Random(seed)
    words = _unique_words()
    senders = [s for s in bench_smpp._senders(rng) if s[0] == 1][:5000]
    out: list[bytes] = []
    for i in range(count):
        parts = rng.choices(words, k=rng.randint(6, 24))
        if i % 5 == 0:
            parts.insert(rng.randrange(len(parts) + 1),
                         f"http://{rng.choice(parts).strip('.,!?').lower() or 'x'}"
                         f"-{rng.getrandbits(20):05x}.example/{i:x}")
        if i % 7 == 0:
            parts.insert(rng.randrange(len(parts) + 1), f"0{rng.randint(10**9, 10**10 - 1)}")
        text = " ".join(parts).encode()[:160]
        dst = f"447{rng.randint(100000000, 999999999)}".encode()
        out.append(bench_smpp._sm(rng, rng.choice(senders), dst, 0, 0, text))
    return out


async def _paced_binds(port: int, args: argparse.Namespace, templates: list[bytes]
                       ) -> tuple[float, list[int], int, int]:
    """``args.paced`` submit_sm/s in all, shared by ``args.connections`` binds, for
    ``args.paced_seconds``: each bind paces its own share from its own place in the
    stream (whole concatenated messages), so the binds do not repeat one another's
    senders and texts. Returns what ``bench_smpp._throughput`` does: the answered rate,
    the latencies, the 0x65 and error counts. The measured phase starts once every
    bind is bound and ends before they close: the binds' setup and teardown (16
    upstream connections, 16 relays) are not counted as the messages' CPU."""
    sys.path.insert(0, str(HERE))
    import bench_smpp

    binds = args.connections
    conns = [await bench_smpp._connect(port, f"paced{i}") for i in range(binds)]
    await asyncio.sleep(0.2)  # the gateway is done with the binds
    mark("start")
    per = max(1, int(args.paced * args.paced_seconds) // binds)
    slices = bench_smpp._slices(templates, binds, per)
    t0 = time.perf_counter()
    await asyncio.gather(*(
        bench_smpp._paced(c, templates[start:] + templates[:start], args.paced / binds,
                          args.paced_seconds)
        for c, (start, _n) in zip(conns, slices, strict=True)))
    elapsed = time.perf_counter() - t0
    lat = [x for c in conns for x in c.lat]
    mark("end")
    for c in conns:
        c.transport.close()  # type: ignore[union-attr]
    return (len(lat) / elapsed, lat, sum(c.rejected for c in conns),
            sum(c.errors for c in conns) + sum(len(c.sent) for c in conns))


def generate_smpp(args: argparse.Namespace) -> dict[str, Any]:
    sys.path.insert(0, str(HERE))
    import bench_smpp
    import uvloop

    ns = argparse.Namespace(connections=args.connections, window=args.window,
                            messages=args.messages, rate=args.rate,
                            rate_seconds=args.rate_seconds)
    warm = argparse.Namespace(**{**vars(ns), "messages": max(args.connections * 100,
                                                              args.messages // 10)})
    # bench_smpp's generator: varied traffic (``traffic``) where it has it, else its
    # fixed templates
    traffic = getattr(bench_smpp, "traffic", None)
    extra = (traffic(args.messages),) if traffic is not None else ()
    warm_extra = extra
    if args.texts == "unique":  # texts never seen, the warm-up's included
        extra = (unique_traffic(args.messages, seed=1),)
        warm_extra = (unique_traffic(warm.messages, seed=2),)
    uvloop.run(bench_smpp._throughput(args.port, warm, *warm_extra))
    fixed = args.paced > 0 and bool(extra)  # a fixed rate over every bind, not saturating
    if not fixed:
        mark("start")
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    if fixed:  # marks the measured phase itself, without the binds' setup and teardown
        ns.paced, ns.paced_seconds = args.paced, args.paced_seconds
        rate, lat, *counts = uvloop.run(_paced_binds(args.port, ns, extra[0]))
    else:
        rate, lat, *counts = uvloop.run(bench_smpp._throughput(args.port, ns, *extra))
    cpu = (time.process_time() - cpu0) / (time.perf_counter() - t0)
    if not fixed:
        mark("end")
    rejected = counts[0] if len(counts) > 1 else 0  # 0x65, when the generator counts them
    result: dict[str, Any] = {"rate": rate, "errors": counts[-1], "rejected": rejected,
                              "n": len(lat), "gen_cpu": cpu, "traffic": bool(extra),
                              **_pcts(lat)}
    if args.rate > 0 and args.rate_seconds > 0:
        paced = uvloop.run(bench_smpp._rate(args.port, ns, *(t[7:] for t in extra)))
        result["paced"] = {"n": len(paced), **_pcts(paced)}
    return result


async def _agi_run(args: argparse.Namespace) -> dict[str, Any]:
    sys.path.insert(0, str(HERE))
    import bench_agi

    envs = bench_agi.call_mix(5000)
    await bench_agi.closed_loop("127.0.0.1", args.port, envs, 1.0, args.concurrency)
    mark("start")
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    sample, rate = await bench_agi.closed_loop("127.0.0.1", args.port, envs, args.seconds,
                                               args.concurrency)
    cpu = (time.process_time() - cpu0) / (time.perf_counter() - t0)
    mark("end")
    lat = [int(ms * 1e6) for ms in sample.action_ms]
    return {"rate": rate, "errors": sample.errors, "n": len(lat), "gen_cpu": cpu,
            "actions": sample.actions, **_pcts(lat)}


async def _http_run(args: argparse.Namespace) -> dict[str, Any]:
    import aiohttp

    bodies = [json.dumps({"src": f"+4474{i:08d}", "dst": f"+4475{i * 7919 % 10**8:08d}",
                          "text": "See you at the station at 5"}).encode()
              for i in range(1000)]
    url = f"http://127.0.0.1:{args.port}/v1/check/sms"
    headers = {"Authorization": f"Bearer {args.token}", "Content-Type": "application/json"}
    lat: list[int] = []
    errors = 0

    async def worker(session: aiohttp.ClientSession, k: int, until: float,
                     record: bool) -> int:
        nonlocal errors
        i, n = k, 0
        while time.perf_counter() < until:
            t0 = time.perf_counter_ns()
            try:
                async with session.post(url, data=bodies[i % len(bodies)],
                                        headers=headers) as resp:
                    await resp.read()
                    ok = resp.status == 200
            except aiohttp.ClientError:
                ok = False
            if record:
                lat.append(time.perf_counter_ns() - t0)
                n += 1
                errors += not ok
            i += args.concurrency
        return n

    conn = aiohttp.TCPConnector(limit=args.concurrency)
    async with aiohttp.ClientSession(connector=conn) as session:
        until = time.perf_counter() + 1.0
        await asyncio.gather(*(worker(session, k, until, False)
                               for k in range(args.concurrency)))
        mark("start")
        cpu0 = time.process_time()
        t0 = time.perf_counter()
        until = t0 + args.seconds
        counts = await asyncio.gather(*(worker(session, k, until, True)
                                        for k in range(args.concurrency)))
        elapsed = time.perf_counter() - t0
        cpu = (time.process_time() - cpu0) / elapsed
        mark("end")
    return {"rate": sum(counts) / elapsed, "errors": errors, "n": len(lat), "gen_cpu": cpu,
            **_pcts(lat)}


def generator_main(args: argparse.Namespace) -> int:
    import uvloop

    if args.generate == "smpp":
        result = generate_smpp(args)
    elif args.generate == "agi":
        result = uvloop.run(_agi_run(args))
    else:
        result = uvloop.run(_http_run(args))
    result["gen_maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result), flush=True)
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process."""
    with contextlib.suppress(OSError, IndexError, ValueError):
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return float("nan")


def tree_cpu_seconds(pid: int) -> float:
    """CPU time of a process and its live descendants (a supervisor and its workers)."""
    return cpu_seconds(pid) + sum(tree_cpu_seconds(c) for c in _children(pid))


def tree_wakeups(pid: int) -> int:
    """How many times the threads of a process and its live descendants went to sleep
    and were woken (``voluntary_ctxt_switches``): an event loop's wake-ups."""
    total = 0
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError), open(f"/proc/{pid}/task/{task}/status") as f:
                for line in f:
                    if line.startswith("voluntary_ctxt_switches"):
                        total += int(line.split()[1])
    return total + sum(tree_wakeups(c) for c in _children(pid))


def wakeup_cost(gap: float, n: int = 300) -> float:
    """CPU microseconds this thread spends per wake-up when it sleeps ``gap`` seconds
    between two calls of a tiny Python function: what the machine charges a process
    for waking from idle (a few us on bare metal; far more on a shared VM)."""
    def tiny() -> int:
        return sum(range(20))

    t0 = time.thread_time_ns()
    for _ in range(n):
        tiny()
        time.sleep(gap)
    return (time.thread_time_ns() - t0) / n / 1e3


def run_generator(kind: str, port: int, args: argparse.Namespace,
                  watch_pid: int | None = None, probe: Any = None,
                  **extra: Any) -> dict[str, Any]:
    """``probe``: a function returning figures (CPU seconds, command counts) read at the
    start and end of the measured phase; their growth per message goes to
    ``result["per_msg"]``."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--generate", kind, "--port",
           str(port), "--connections", str(args.connections), "--window", str(args.window),
           "--messages", str(args.messages), "--rate", str(extra.get("rate", 0)),
           "--rate-seconds", str(args.rate_seconds), "--seconds", str(args.seconds),
           "--concurrency", str(args.concurrency), "--token", extra.get("token", ""),
           "--texts", extra.get("texts", "mix"), "--paced", str(extra.get("paced", 0)),
           "--paced-seconds", str(args.workers_seconds)]
    with tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=err, text=True,
                                env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert proc.stdout is not None
        cpu: dict[str, float] = {}
        woken: dict[str, int] = {}
        probed: dict[str, dict[str, float]] = {}
        last = ""
        for line in proc.stdout:
            last = line.strip() or last
            if watch_pid is not None and last in ("start", "end"):
                cpu[last] = tree_cpu_seconds(watch_pid)
                woken[last] = tree_wakeups(watch_pid)
            if probe is not None and last in ("start", "end"):
                probed[last] = probe()
        if proc.wait(900) != 0:
            err.seek(0)
            raise SystemExit(f"generator failed ({proc.returncode}):\n{err.read()[-2000:]}")
    result = dict(json.loads(last))
    if len(cpu) == 2 and result["n"]:
        result["cpu_us"] = (cpu["end"] - cpu["start"]) / result["n"] * 1e6
        result["wakeups"] = (woken["end"] - woken["start"]) / result["n"]
    if len(probed) == 2 and result["n"]:
        result["per_msg"] = {k: (probed["end"][k] - probed["start"].get(k, 0.0)) / result["n"]
                             for k in probed["end"]}
    return result


# --- trivial baselines (child processes) ---------------------------------------------------


async def _trivial_agi(port: int) -> None:
    """Answers every FastAGI session as spamgw does (four SET VARIABLEs, half-close,
    read the answers), with fixed values and no engine."""
    answer = (b"SET VARIABLE SPAMGW_ACTION ALLOW\nSET VARIABLE SPAMGW_SCORE 0\n"
              b'SET VARIABLE SPAMGW_RULES ""\nSET VARIABLE SPAMGW_REASON ""\n')

    class Agi(asyncio.Protocol):
        def __init__(self) -> None:
            self.buf = b""
            self.sent = False
            self.answers = 0
            self.transport: Any = None

        def connection_made(self, transport: Any) -> None:
            self.transport = transport

        def data_received(self, data: bytes) -> None:
            self.buf += data
            if not self.sent and b"\n\n" in self.buf:
                self.sent = True
                self.buf = self.buf.split(b"\n\n", 1)[1]
                self.transport.write(answer)
                self.transport.write_eof()
            if self.sent and self.buf.count(b"\n") >= 4:
                self.transport.close()

        def eof_received(self) -> bool:
            return False

    loop = asyncio.get_running_loop()
    await loop.create_server(Agi, "127.0.0.1", port, reuse_address=True, backlog=1024)
    await asyncio.Event().wait()


async def _trivial_http(port: int) -> None:
    from aiohttp import web

    body = json.dumps({"action": "ALLOW", "score": 0.0, "rules": [], "reason": ""})

    async def check(request: web.Request) -> web.Response:
        await request.json()
        return web.Response(text=body, content_type="application/json")

    app = web.Application()
    app.router.add_post("/v1/check/sms", check)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port, backlog=1024).start()
    await asyncio.Event().wait()


def trivial_main(kind: str, port: int) -> int:
    import uvloop

    with contextlib.suppress(KeyboardInterrupt):
        uvloop.run(_trivial_agi(port) if kind == "agi" else _trivial_http(port))
    return 0


@contextlib.contextmanager
def trivial(kind: str, tmp: Path) -> Iterator[tuple[subprocess.Popen[Any], int]]:
    port = free_port()
    proc = spawn([sys.executable, str(Path(__file__).resolve()), "--trivial", kind,
                  "--port", str(port)], tmp / f"trivial-{kind}.log")
    try:
        wait_port(port, proc, timeout=60)
        yield proc, port
    finally:
        stop(proc)


# --- the runs -------------------------------------------------------------------------------


@dataclass
class Row:
    name: str
    result: dict[str, Any]
    rss_mb: float
    notes: list[str] = field(default_factory=list)
    rep: int = 0  # which repeat of the workers rows


def measure(name: str, proc: subprocess.Popen[Any] | None, kind: str, port: int,
            args: argparse.Namespace, cpu: bool = True, **extra: Any) -> Row:
    """``cpu``: report the CPU time of ``proc`` per request (not for socat: its forked
    children are reaped, and counted, whenever it gets to it)."""
    watch = RssWatch(proc.pid) if proc is not None else None
    result = run_generator(kind, port, args, proc.pid if proc is not None and cpu else None,
                           **extra)
    rss = watch.done() if watch is not None else float("nan")
    row = Row(name, result, rss)
    print(f"  {name}: {result['rate']:,.0f}/s", file=sys.stderr, flush=True)
    return row


def measure_socat(args: argparse.Namespace, tmp: Path, upstream: int, **extra: Any) -> Row:
    """The relay row: ``socat TCP-LISTEN,fork`` in front of the simulator."""
    port = free_port()
    relay = spawn(["socat", f"TCP-LISTEN:{port},bind=127.0.0.1,fork,reuseaddr",
                   f"TCP:127.0.0.1:{upstream},nodelay"], tmp / f"socat-{port}.log")
    try:
        wait_port(port, relay, timeout=60)
        time.sleep(0.2)  # the probe connection's child exits
        return measure("socat relay", relay, "smpp", port, args, cpu=False, **extra)
    finally:
        stop(relay)


def print_table(title: str, unit: str, rows: list[Row], baseline: str) -> None:
    base = next((r.result["rate"] for r in rows if r.name == baseline), float("nan"))
    print(f"\n{title}")
    print(f"{'path':<30}{unit:>12}{'p50 ms':>9}{'p99 ms':>9}{'p99.9 ms':>10}"
          f"{'peak RSS MB':>13}{'CPU us/req':>12}{'per core/s':>12}{'gen CPU':>9}"
          f"{'0x65':>8}{'errors':>8}  vs {baseline}")
    base_cpu = next((r.result.get("cpu_us") for r in rows if r.name == baseline), None)
    for r in rows:
        x = r.result
        rss = f"{r.rss_mb:,.1f}" if r.rss_mb == r.rss_mb else "-"
        us = x.get("cpu_us")
        cpu = f"{us:>12.1f}{1e6 / us:>12,.0f}" if us else f"{'-':>12}{'-':>12}"
        ratio = f"{x['rate'] / base:.2f}"
        if us and base_cpu:
            ratio += f" (per core {base_cpu / us:.2f})"
        print(f"{r.name:<30}{x['rate']:>12,.0f}{x['p50']:>9.2f}{x['p99']:>9.2f}"
              f"{x['p999']:>10.2f}{rss:>13}{cpu}{x['gen_cpu']:>9.0%}"
              f"{x.get('rejected', 0):>8}{x['errors']:>8}  {ratio}")


def run_smpp(args: argparse.Namespace, tmp: Path) -> None:
    if shutil.which("socat") is None:
        print("\nSMPP: socat is not installed; the relay row is skipped")
    sim, sim_port = start_smsc_sim(stderr=subprocess.DEVNULL)
    rows: list[Row] = []
    try:
        # the simulator is not under test: no RSS for this row
        rows.append(measure("direct", None, "smpp", sim_port, args, rate=args.rate))
        if shutil.which("socat"):
            rows.append(measure_socat(args, tmp, sim_port, rate=args.rate))
        rules, lists = empty_rules(tmp)
        shipped, shipped_lists = str(ROOT / "rules"), str(ROOT / "rules" / "lists")
        paths = [("spamgw empty", rules, lists, False, "mix")]
        for texts in args.texts.split(","):
            suffix = "" if texts == "mix" else f" ({texts})"
            paths += [(f"spamgw rules only{suffix}", shipped, shipped_lists, False, texts),
                      (f"spamgw rules+plugins{suffix}", shipped, shipped_lists, True, texts)]
        for name, rdir, ldir, plugins, texts in paths:
            port = free_port()
            with gateway(tmp, name.replace(" ", "-").replace("(", "").replace(")", ""),
                         rules=rdir, lists=ldir, smpp=port, upstream=sim_port,
                         log_level=args.log_level, plugins=plugins) as gw:
                rows.append(measure(name, gw, "smpp", port, args, rate=args.rate,
                                    texts=texts))
    finally:
        stop(sim)
    print_table(f"SMPP submit_sm, {args.messages:,} messages after a warm-up, "
                f"{args.connections} binds x window {args.window}, saturating",
                "submit_sm/s", rows, "socat relay" if shutil.which("socat") else "direct")
    print(f"\nSMPP latency at a fixed {args.rate:,.0f} submit_sm/s for "
          f"{args.rate_seconds:g} s, one bind:")
    print(f"{'path':<30}{'answered':>10}{'p50 ms':>9}{'p99 ms':>9}{'p99.9 ms':>10}")
    for r in rows:
        p = r.result.get("paced")
        if p:
            print(f"{r.name:<30}{p['n']:>10,}{p['p50']:>9.2f}{p['p99']:>9.2f}{p['p999']:>10.2f}")
    by_name = {r.name: r.result for r in rows}
    print("\nContent plugins against the rules alone (issue 11 target: rate ratio >= 0.80):")
    print(f"{'texts':<8}{'rules/s':>10}{'+plugins/s':>12}{'ratio':>7}"
          f"{'rules us/msg':>14}{'+plugins us/msg':>17}{'per-core ratio':>16}")
    for texts in args.texts.split(","):
        suffix = "" if texts == "mix" else f" ({texts})"
        a, b = by_name.get(f"spamgw rules only{suffix}"), by_name.get(
            f"spamgw rules+plugins{suffix}")
        if not a or not b:
            continue
        ua, ub = a.get("cpu_us"), b.get("cpu_us")
        cpu = (f"{ua:>14.1f}{ub:>17.1f}{ua / ub:>16.2f}" if ua and ub
               else f"{'-':>14}{'-':>17}{'-':>16}")
        print(f"{texts:<8}{a['rate']:>10,.0f}{b['rate']:>12,.0f}"
              f"{b['rate'] / a['rate']:>7.2f}{cpu}")


@contextlib.contextmanager
def redis_server(tmp: Path) -> Iterator[tuple[subprocess.Popen[Any], int]]:
    """A redis-server for the counters: loopback, no persistence."""
    port = free_port()
    proc = spawn(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                  "--appendonly", "no", "--dir", str(tmp)], tmp / "redis.log")
    try:
        wait_port(port, proc, timeout=60)
        yield proc, port
    finally:
        stop(proc)


def redis_probe(pid: int, port: int) -> Any:
    import redis

    client = redis.Redis(port=port)

    def probe() -> dict[str, float]:
        """CPU, commands executed (those a script runs included), and the calls of
        each command (``cmd:evalsha``...)."""
        stats = client.info("commandstats")
        return {"redis_cpu_us": cpu_seconds(pid) * 1e6,
                "redis_cmds": float(client.info("stats")["total_commands_processed"]),
                **{f"cmd:{k.removeprefix('cmdstat_')}": float(v["calls"])
                   for k, v in stats.items()}}

    return probe


def gateway_notes(admin: int, workers: int, redis: bool) -> list[str]:
    """From the gateway's /metrics after the run: how the workers split the messages,
    and whether the counters' syncs with Redis failed meanwhile (a row whose syncs
    failed ran on local counts alone)."""
    import urllib.request

    req = urllib.request.Request(f"http://127.0.0.1:{admin}/metrics",
                                 headers={"Authorization": "Bearer bench-token"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        text = resp.read().decode()

    def values(name: str) -> list[float]:
        return [float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                if line.split("{", 1)[0].split(" ", 1)[0] == name]

    notes = []
    if workers > 1:
        counts = values("spamgw_worker_events_total")
        total = sum(counts) or 1.0
        notes.append("/".join(f"{c / total:.0%}" for c in counts))
    if redis:
        errors, syncs = sum(values("spamgw_state_sync_errors")), sum(values("spamgw_state_syncs"))
        behind = sum(values("spamgw_state_sync_behind_episodes"))
        notes.append(f"redis syncs {syncs:,.0f}, failed {errors:,.0f}, behind {behind:,.0f}")
    return notes


def run_workers(args: argparse.Namespace, tmp: Path) -> None:
    """socat, then the default config as 1 worker (memory, redis) and 2 workers (redis),
    each with ``--worker-binds`` binds (the kernel spreads binds, not messages: with a
    few, one worker may get them all). At ``--workers-rate`` (the default) every row
    carries the same fixed load, below saturation, and CPU per message compares like
    with like; ``--workers-repeat`` runs the rows that many times, interleaved."""
    if shutil.which("redis-server") is None:
        print("\nWorkers: skipped, redis-server is not installed")
        return
    args = argparse.Namespace(**{**vars(args), "connections": args.worker_binds})
    paced = args.workers_rate
    sim, sim_port = start_smsc_sim(stderr=subprocess.DEVNULL)
    rows: list[Row] = []
    shipped, shipped_lists = str(ROOT / "rules"), str(ROOT / "rules" / "lists")
    calibrated: dict[int, tuple[float, float]] = {}  # rep -> wake-up cost after 1, 2 ms
    try:
        with redis_server(tmp) as (redis_proc, redis_port):
            for rep in range(max(1, args.workers_repeat)):
                calibrated[rep] = (wakeup_cost(0.001), wakeup_cost(0.002))
                if shutil.which("socat"):
                    row = measure_socat(args, tmp, sim_port, paced=paced)
                    row.notes.append(f"load {os.getloadavg()[0]:.2f}")
                    row.rep = rep
                    rows.append(row)
                paths: list[tuple[str, int, int | None, float]] = [
                    ("1 worker, memory", 1, None, 1), ("1 worker, redis", 1, redis_port, 1),
                    ("2 workers, redis", 2, redis_port, 1)]
                if paced > 0:  # and each worker at the rate of the one worker above
                    paths.append(("2 workers, redis, 2x", 2, redis_port, 2))
                    # one process at the rate each of the 2 workers carries: what a
                    # process costs a message at that rate, sharing nothing
                    paths.insert(1, ("1 worker, mem, 0.5x", 1, None, 0.5))
                for name, workers, redis, times in paths:
                    port, admin = free_port(), free_port()
                    load = os.getloadavg()[0]
                    tag = f"{name.replace(' ', '-').replace(',', '')}-{rep}"
                    with gateway(tmp, tag, rules=shipped, lists=shipped_lists, smpp=port,
                                 upstream=sim_port, admin=admin, log_level=args.log_level,
                                 workers=workers, redis=redis) as gw:
                        probe = redis_probe(redis_proc.pid, redis_port) if redis else None
                        row = measure(name, gw, "smpp", port, args, probe=probe,
                                      paced=paced * times)
                        row.notes += gateway_notes(admin, workers, redis is not None)
                        row.notes.append(f"load {load:.2f}-{os.getloadavg()[0]:.2f}")
                        row.rep = rep
                        rows.append(row)
    finally:
        stop(sim)
    how = (f"at a fixed {paced:,.0f} submit_sm/s for {args.workers_seconds:g} s"
           if paced > 0 else f"{args.messages:,} submit_sm, saturating")
    print(f"\nWorkers: the default config (shipped rules, lists, content plugins; mix "
          f"texts), {how}, after a warm-up, {args.connections} binds x window "
          f"{args.window}; {os.cpu_count()} cpus shared by the generator, the "
          "simulator, the gateway and redis")
    if paced > 0:
        print(f"(\"2x\": at {2 * paced:,.0f} submit_sm/s, each worker carrying what the one "
              "worker does)")
    print(f"{'path':<20}{'submit_sm/s':>12}{'p50 ms':>8}{'p99 ms':>8}{'gateway CPU us/msg':>20}"
          f"{'per core/s':>11}{'wakeups/msg':>12}{'redis us/msg':>13}{'redis cmds/msg':>15}"
          f"{'errors':>7}{'vs socat':>9}  split, syncs, load average")
    for r in rows:
        x = r.result
        base = next((b.result["rate"] for b in rows
                     if b.name == "socat relay" and b.rep == r.rep), float("nan"))
        us = x.get("cpu_us")
        per = x.get("per_msg", {})
        cpu = f"{us:>20.1f}{1e6 / us:>11,.0f}" if us else f"{'-':>20}{'-':>11}"
        cpu += f"{x['wakeups']:>12.2f}" if "wakeups" in x else f"{'-':>12}"
        rds = (f"{per['redis_cpu_us']:>13.1f}{per['redis_cmds']:>15.3f}" if per
               else f"{'-':>13}{'-':>15}")
        busy = [f"{us * x['rate'] / 1e6:.0%} of a core"] if us else []
        print(f"{r.name:<20}{x['rate']:>12,.0f}{x['p50']:>8.2f}{x['p99']:>8.2f}{cpu}{rds}"
              f"{x['errors']:>7}{x['rate'] / base:>9.2f}  {' '.join(r.notes + busy)}")
    for r in rows:
        per = r.result.get("per_msg", {})
        calls = sorted(((v, k[4:]) for k, v in per.items() if k.startswith("cmd:") and v),
                       reverse=True)
        if calls:
            print(f"  {r.name}: redis calls per message: "
                  + ", ".join(f"{name} {v:.3f}" for v, name in calls[:8]))
    print(f"{'2 workers, memory':<20}  refused by design: workers must share their counters "
          "([state] backend = \"redis\")")
    for rep in sorted({r.rep for r in rows}):
        got = {r.name: r.result for r in rows if r.rep == rep}
        mem, red, two, two2, half = (got.get(n, {}).get("cpu_us") for n in (
            "1 worker, memory", "1 worker, redis", "2 workers, redis",
            "2 workers, redis, 2x", "1 worker, mem, 0.5x"))
        one, two_ms = calibrated.get(rep, (float("nan"), float("nan")))
        line = [f"run {rep + 1}: a wake-up from idle costs a Python thread here {one:.0f} us "
                f"of CPU after 1 ms, {two_ms:.0f} us after 2 ms; CPU per message,"]
        if mem and red:
            line.append(f"redis/memory (1 worker) {red / mem:.2f} (target <= 1.10);")
        if red and two:
            line.append(f"2 workers/1 worker (redis) {two / red:.2f} (target <= 1.10);")
        if red and two2:
            line.append(f"the same at 2x, each worker at the one worker's rate "
                        f"{two2 / red:.2f};")
        if half and mem:
            line.append(f"1 worker at half the rate/at the rate (memory) {half / mem:.2f};")
        if half and two:
            line.append(f"2 workers (redis)/1 worker at half the rate, each worker's "
                        f"share (memory) {two / half:.2f};")

        rm, rr = got.get("1 worker, memory"), got.get("1 worker, redis")
        if rm and rr:
            line.append(f"throughput redis/memory {rr['rate'] / rm['rate']:.2f}")
        print(" ".join(line))


def run_agi(args: argparse.Namespace, tmp: Path) -> None:
    if importlib.util.find_spec("gateway.agi.server") is None:
        print("\nFastAGI: skipped, the FastAGI server (gateway/agi) is not on this branch yet")
        return
    if not (HERE / "bench_agi.py").exists():
        print("\nFastAGI: skipped, loadtest/bench_agi.py (its Asterisk-like client) is missing")
        return
    rows = []
    with trivial("agi", tmp) as (proc, port):
        rows.append(measure("trivial FastAGI", proc, "agi", port, args))
    port = free_port()
    with gateway(tmp, "spamgw-agi", rules=str(ROOT / "rules"),
                 lists=str(ROOT / "rules" / "lists"), agi=port,
                 log_level=args.log_level) as gw:
        rows.append(measure("spamgw default", gw, "agi", port, args))
    print_table(f"FastAGI screenings (Asterisk 22 byte for byte, one connection each), "
                f"{args.concurrency} concurrent, {args.seconds:g} s", "calls/s", rows,
                "trivial FastAGI")


def run_http(args: argparse.Namespace, tmp: Path) -> None:
    if importlib.util.find_spec("gateway.admin.app") is None:
        print("\n/v1/check: skipped, the admin HTTP API (gateway/admin) is not on this "
              "branch yet")
        return
    rows = []
    with trivial("http", tmp) as (proc, port):
        rows.append(measure("trivial aiohttp", proc, "http", port, args, token="x"))
    port = free_port()
    with gateway(tmp, "spamgw-admin", rules=str(ROOT / "rules"),
                 lists=str(ROOT / "rules" / "lists"), admin=port,
                 log_level=args.log_level) as gw:
        rows.append(measure("spamgw default", gw, "http", port, args, token="bench-token"))
    print_table(f"POST /v1/check/sms, keep-alive, {args.concurrency} concurrent, "
                f"{args.seconds:g} s", "requests/s", rows, "trivial aiohttp")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="smpp,workers,agi,http",
                    help="comma list: smpp,workers,agi,http")
    ap.add_argument("--connections", type=int, default=4, help="SMPP binds")
    ap.add_argument("--window", type=int, default=512, help="SMPP window per bind")
    ap.add_argument("--worker-binds", type=int, default=16,
                    help="SMPP binds for the workers table (spread over the workers)")
    ap.add_argument("--messages", type=int, default=200_000, help="SMPP messages per path")
    ap.add_argument("--rate", type=float, default=5000.0, help="SMPP fixed rate, per second")
    ap.add_argument("--rate-seconds", type=float, default=5.0)
    ap.add_argument("--seconds", type=float, default=10.0, help="FastAGI/HTTP per path")
    ap.add_argument("--concurrency", type=int, default=32, help="FastAGI/HTTP sessions")
    ap.add_argument("--texts", default="mix,unique",
                    help="SMPP text kinds for the rules rows: mix (realistic), unique")
    ap.add_argument("--log-level", default="info", choices=("info", "warning", "error"),
                    help="the gateway's log level: info (the shipped default) and warning "
                         "write the audit line of every verdict that is not ALLOW; error "
                         "turns it off (to see what it costs)")
    ap.add_argument("--workers-rate", type=float, default=1000.0,
                    help="the workers table at this fixed rate (submit_sm/s over all its "
                         "binds, below saturation, so that CPU per message is compared at "
                         "equal load); 0: saturating, as many messages as --messages")
    ap.add_argument("--workers-seconds", type=float, default=20.0,
                    help="how long each workers row runs at --workers-rate")
    ap.add_argument("--workers-repeat", type=int, default=1,
                    help="measure the workers rows this many times, interleaved")
    ap.add_argument("--paced", type=float, default=0.0, help=argparse.SUPPRESS)
    ap.add_argument("--paced-seconds", type=float, default=0.0, help=argparse.SUPPRESS)
    ap.add_argument("--generate", choices=("smpp", "agi", "http"), help=argparse.SUPPRESS)
    ap.add_argument("--trivial", choices=("agi", "http"), help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--token", default="", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.generate:
        return generator_main(args)
    if args.trivial:
        return trivial_main(args.trivial, args.port)
    load = os.getloadavg()
    print(f"spamgw bench: python {sys.version.split()[0]}, {os.cpu_count()} cpus, "
          f"load average before the run {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; "
          f"gateway log level {args.log_level}")
    only = set(args.only.split(","))
    with tempfile.TemporaryDirectory(prefix="spamgw-bench-") as d:
        tmp = Path(d)
        if "smpp" in only:
            run_smpp(args, tmp)
        if "workers" in only:
            run_workers(args, tmp)
        if "agi" in only:
            run_agi(args, tmp)
        if "http" in only:
            run_http(args, tmp)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
