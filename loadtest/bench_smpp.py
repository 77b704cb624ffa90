#!/usr/bin/env python3
"""SMPP benchmark: submit_sm/s and latency through the gateway and direct to the SMSC
simulator, in the same run. Not a test: it prints figures.

    python3 loadtest/bench_smpp.py [--connections 4] [--window 512] [--messages 200000]
                                   [--rate 5000] [--rate-seconds 10]

It starts ``smsc-sim`` and the gateway (``smpp.proxy`` with the engine from
``gateway.app.build_core`` and the default ruleset; if the engine is not importable it
says so and uses an ALLOW-everything judge) as separate processes on loopback, then
drives them from this process with an asyncio load generator that writes pre-encoded
submit_sm PDUs (only the sequence number is patched) over several binds with a deep
window, and reads the responses by header only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HDR = struct.Struct(">IIII")


def _submit_template(i: int) -> bytes:
    src = f"4477009{i % 100000:05d}".encode()
    body = (b"\x00" + b"\x01\x01" + src + b"\x00" + b"\x01\x01" + b"447700900456\x00"
            + b"\x00\x00\x00" + b"\x00\x00" + b"\x00\x00\x00\x00")
    text = b"Your verification code is 482913. It expires in 10 minutes."
    body += bytes((len(text),)) + text
    return HDR.pack(16 + len(body), 4, 0, 0) + body


def _bind(system_id: str) -> bytes:
    body = system_id.encode() + b"\x00secret\x00\x00\x34\x00\x00\x00"
    return HDR.pack(16 + len(body), 9, 0, 1) + body


class Conn(asyncio.Protocol):
    def __init__(self) -> None:
        self.buf = bytearray()
        self.sent: dict[int, int] = {}
        self.lat: list[int] = []
        self.errors = 0
        self.bound = asyncio.get_running_loop().create_future()
        self.space = asyncio.Event()
        self.done = 0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buf += data
        buf = self.buf
        now = time.perf_counter_ns()
        pos, n = 0, len(buf)
        sent, lat = self.sent, self.lat
        while n - pos >= 16:
            length, cid, status, seq = HDR.unpack_from(buf, pos)
            if n - pos < length:
                break
            if cid == 0x80000004:
                t0 = sent.pop(seq, None)
                if t0 is not None:
                    lat.append(now - t0)
                    self.done += 1
                if status:
                    self.errors += 1
            elif cid == 0x80000009:
                if not self.bound.done():
                    self.bound.set_result(status)
            elif cid == 0x15:  # enquire_link
                self.transport.write(HDR.pack(16, 0x80000015, 0, seq))  # type: ignore[union-attr]
            elif cid == 0x5:  # deliver_sm
                self.transport.write(HDR.pack(17, 0x80000005, 0, seq) + b"\0")  # type: ignore[union-attr]
            pos += length
        del buf[:pos]
        self.space.set()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.bound.done():
            self.bound.set_result(-1)
        self.space.set()


async def _connect(port: int, system_id: str) -> Conn:
    loop = asyncio.get_running_loop()
    _t, conn = await loop.create_connection(Conn, "127.0.0.1", port)
    conn.transport.write(_bind(system_id))  # type: ignore[union-attr]
    status = await conn.bound
    if status != 0:
        raise SystemExit(f"bind failed with status {status}")
    return conn


async def _pump(conn: Conn, templates: list[bytes], count: int, window: int,
                seq0: int) -> None:
    seq = seq0
    sent_total = 0
    transport = conn.transport
    assert transport is not None
    nt = len(templates)
    while sent_total < count:
        room = min(window - len(conn.sent), count - sent_total)
        if room <= 0:
            conn.space.clear()
            await conn.space.wait()
            continue
        out = []
        now = time.perf_counter_ns()
        for _ in range(room):
            seq += 1
            t = templates[seq % nt]
            out.append(t[:12] + seq.to_bytes(4, "big") + t[16:])
            conn.sent[seq] = now
        transport.write(b"".join(out))
        sent_total += room
        await asyncio.sleep(0)
    while conn.sent:
        conn.space.clear()
        await conn.space.wait()


async def _paced(conn: Conn, templates: list[bytes], rate: float, seconds: float) -> None:
    transport = conn.transport
    assert transport is not None
    seq = 0
    start = time.perf_counter()
    sent = 0
    total = int(rate * seconds)
    while sent < total:
        due = min(total, int((time.perf_counter() - start) * rate) + 1)
        out = []
        now = time.perf_counter_ns()
        while sent < due:
            seq += 1
            sent += 1
            t = templates[seq % len(templates)]
            out.append(t[:12] + seq.to_bytes(4, "big") + t[16:])
            conn.sent[seq] = now
        if out:
            transport.write(b"".join(out))
        await asyncio.sleep(0.0005)
    deadline = time.perf_counter() + 10
    while conn.sent and time.perf_counter() < deadline:
        conn.space.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(conn.space.wait(), deadline - time.perf_counter())


def _pct(values: list[int], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] / 1e6


async def _throughput(port: int, args: argparse.Namespace) -> tuple[float, list[int], int]:
    templates = [_submit_template(i) for i in range(64)]
    conns = [await _connect(port, f"bench{i}") for i in range(args.connections)]
    per = args.messages // args.connections
    t0 = time.perf_counter()
    await asyncio.gather(*(_pump(c, templates, per, args.window, 1) for c in conns))
    elapsed = time.perf_counter() - t0
    lat = [x for c in conns for x in c.lat]
    errors = sum(c.errors for c in conns)
    for c in conns:
        c.transport.close()  # type: ignore[union-attr]
    return per * len(conns) / elapsed, lat, errors


async def _rate(port: int, args: argparse.Namespace) -> list[int]:
    templates = [_submit_template(i) for i in range(64)]
    conn = await _connect(port, "paced")
    await _paced(conn, templates, args.rate, args.rate_seconds)
    conn.transport.close()  # type: ignore[union-attr]
    return conn.lat


def _start(cmd: list[str]) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("listening"):
        proc.kill()
        raise SystemExit(f"{cmd[2:4]} did not start: {line!r}")
    return proc, int(line.rsplit(":", 1)[1])


def _stop(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def gateway_main(upstream: str, window: int) -> int:
    """The gateway process: the proxy with the real engine when there is one."""
    import uvloop

    from gateway.config import SmppConfig, UpstreamConfig, load_config
    from gateway.model import ALLOW, Event, Verdict
    from gateway.numbers import Numbering
    from gateway.smpp.proxy import Proxy

    class AllowAll:
        def evaluate(self, event: Event) -> Verdict:
            return ALLOW

    config = load_config(None)
    smpp = SmppConfig(listen="127.0.0.1:0", upstream=UpstreamConfig(address=upstream),
                      window=window)
    try:
        from gateway.app import build_core

        core = build_core(config)
        engine, numbering, what = core.engine, core.numbering, "engine with the default ruleset"
    except Exception as e:  # report and fall back: this is a benchmark
        engine, numbering = AllowAll(), Numbering(config.gateway.home_country)
        what = f"ALLOW-all judge (engine not available: {type(e).__name__}: {e})"
    print(f"# gateway judge: {what}", file=sys.stderr, flush=True)

    async def run() -> None:
        proxy = Proxy(smpp, engine, numbering)
        await proxy.start()
        print(f"listening 127.0.0.1:{proxy.port}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await proxy.stop()

    import logging

    import structlog
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    import gc

    gc.collect()
    gc.freeze()  # long-lived startup objects (ruleset, lists) leave the collector's scans
    uvloop.run(run())
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--connections", type=int, default=4)
    ap.add_argument("--window", type=int, default=512)
    ap.add_argument("--messages", type=int, default=200_000)
    ap.add_argument("--rate", type=float, default=5000.0)
    ap.add_argument("--rate-seconds", type=float, default=10.0)
    ap.add_argument("--gateway-process", metavar="UPSTREAM", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.gateway_process:
        return gateway_main(args.gateway_process, args.window * args.connections)

    import uvloop

    sim, sim_port = _start([sys.executable, "-m", "gateway.smpp.sim", "--listen",
                            "127.0.0.1:0"])
    gw, gw_port = _start([sys.executable, str(Path(__file__).resolve()), "--window",
                          str(args.window), "--gateway-process", f"127.0.0.1:{sim_port}"])
    try:
        results = {}
        for name, port in (("direct to simulator", sim_port), ("through gateway", gw_port)):
            rate, lat, errors = uvloop.run(_throughput(port, args))
            results[name] = (rate, lat, errors)
        paced = {name: uvloop.run(_rate(port, args))
                 for name, port in (("direct", sim_port), ("gateway", gw_port))}
    finally:
        _stop(gw)
        _stop(sim)
    print(f"\nsubmit_sm, {args.messages} messages, {args.connections} binds, window "
          f"{args.window} per bind")
    print(f"{'path':<22}{'submit_sm/s':>12}{'p50 ms':>9}{'p99 ms':>9}{'p99.9 ms':>10}"
          f"{'errors':>8}")
    for name, (rate, lat, errors) in results.items():
        print(f"{name:<22}{rate:>12,.0f}{_pct(lat, .5):>9.2f}{_pct(lat, .99):>9.2f}"
              f"{_pct(lat, .999):>10.2f}{errors:>8}")
    d, g = paced["direct"], paced["gateway"]
    print(f"\nfixed rate {args.rate:,.0f}/s for {args.rate_seconds:.0f} s, one bind:")
    print(f"{'direct':<22}p50 {_pct(d, .5):.2f} ms  p99 {_pct(d, .99):.2f} ms  "
          f"p99.9 {_pct(d, .999):.2f} ms  ({len(d)} answered)")
    print(f"{'through gateway':<22}p50 {_pct(g, .5):.2f} ms  p99 {_pct(g, .99):.2f} ms  "
          f"p99.9 {_pct(g, .999):.2f} ms  ({len(g)} answered)")
    print(f"added p99 latency at {args.rate:,.0f}/s: {_pct(g, .99) - _pct(d, .99):.2f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
