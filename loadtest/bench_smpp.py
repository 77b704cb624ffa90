#!/usr/bin/env python3
"""SMPP benchmark: submit_sm/s and latency through the gateway and direct to the SMSC
simulator, in the same run. Not a test: it prints figures.

    python3 loadtest/bench_smpp.py [--connections 4] [--window 512] [--messages 200000]
                                   [--rate 5000] [--rate-seconds 10] [--log-level warning]
                                   [--plugins]

It starts ``spamgw smsc-sim`` and the gateway as the operator runs it (``python -m
gateway run --config X``: the real engine, the default ruleset (the shipped rules/
and rules/lists/; ``--plugins`` adds the shipped content plugins of plugins/, which
a config that does not narrow ``[plugins] enabled`` loads), audit log on at
``--log-level warning``, written to a temporary file), then drives both from
this process with an asyncio load generator that writes pre-encoded submit_sm PDUs
(only the sequence number is patched) over several binds with a deep window, and
reads the responses by header only.

The traffic is varied so that caches do not flatter the result: a pool of 6,000
senders (UK and foreign mobiles, alphanumeric sender IDs, a few blocked numbers and
blocked sender IDs) writes to 120,000 distinct recipients; about 6% of messages are
2- or 3-part concatenated (UDH), 5% UCS2, and the texts are OTP codes, notices,
marketing with shortened links, phishing lures (which the phishing rules score) and
links to a blocked domain. Each bind starts at a different place in the stream.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gateway.testing.config import write_config  # noqa: E402
from gateway.testing.ports import free_port  # noqa: E402
from gateway.testing.process import (  # noqa: E402
    GatewayProcess,
    GatewayStartError,
    start_smsc_sim,
    stop,
)

HDR = struct.Struct(">IIII")

_TEXTS = (
    "Your verification code is {n6}. It expires in 10 minutes.",
    "Your verification code is {n6}. It expires in 10 minutes.",
    "{n4} is your login code. Do not share it with anyone.",
    "Hi, your appointment is confirmed for {d} at {h}:30. Reply C to cancel.",
    "Your order {n6} has been dispatched and will arrive tomorrow.",
    "Flash sale! 30% off everything this weekend only: http://bit.ly/{w}",
    "URGENT: your account is suspended. Verify your card details at http://secure-{w}.example/login",
    "Your parcel is held, pay the {n2}p redelivery fee: https://parcel-redelivery.example/{w}",
    "HMRC: you are due a tax refund of {n3} GBP, claim at http://refund-{w}.example",
    "Reminder: your bill of {n2}.{n2} GBP is due on {d}.",
)
_LONG = ("Dear customer, thank you for choosing us for your journey on {d}. Your booking "
         "reference is {n6}. Please arrive at least 45 minutes before departure, bring photo "
         "ID and check the latest travel advice at https://www.example.com/travel/{w} before "
         "you leave. Reply STOP to opt out of service messages.")


def _senders(rng: random.Random) -> list[tuple[int, bytes]]:
    out: list[tuple[int, bytes]] = []
    for _ in range(5000):
        out.append((1, f"447{rng.randint(100000000, 999999999)}".encode()))
    for cc in ("33", "49", "1", "234", "91"):
        out += [(1, f"{cc}{rng.randint(10**9, 10**10 - 1)}".encode()) for _ in range(150)]
    out += [(5, name.encode()) for name in ("MyBank", "Acme", "ShopCo", "Travel", "DocSurg")
            for _ in range(20)]
    out += [(1, b"447700900666"), (1, b"447700900667"), (5, b"HMRC"), (5, b"DVLA")]
    out += [(1, f"4477009009{i:02d}".encode()) for i in range(20)]  # blocked prefix
    return out


def _sm(rng: random.Random, src: tuple[int, bytes], dst: bytes, esm: int, dc: int,
        data: bytes) -> bytes:
    ton, addr = src
    body = (b"\x00" + bytes((ton, 1 if ton == 1 else 0)) + addr + b"\x00" + b"\x01\x01" + dst
            + b"\x00" + bytes((esm, 0, 0)) + b"\x00\x00" + bytes((0, 0, dc, 0)))
    body += bytes((len(data),)) + data
    return HDR.pack(16 + len(body), 4, 0, 0) + body


def _fill(rng: random.Random, text: str) -> str:
    return text.format(n6=rng.randint(100000, 999999), n4=rng.randint(1000, 9999),
                       n3=rng.randint(100, 999), n2=rng.randint(10, 99),
                       d=rng.choice(("Monday", "12 May", "Friday")), h=rng.randint(8, 18),
                       w=f"{rng.getrandbits(24):06x}")


def traffic(count: int, seed: int = 52) -> list[bytes]:
    """``count`` submit_sm PDUs (sequence number 0), concatenated parts adjacent."""
    rng = random.Random(seed)
    senders = _senders(rng)
    weights = [1.0] * 5000 + [0.5] * 750 + [8.0] * 100 + [0.3] * 24
    recipients = [f"447{rng.randint(100000000, 999999999)}".encode() for _ in range(120_000)]
    picks = iter(rng.choices(senders, weights, k=count))
    out: list[bytes] = []
    ref = 0
    while len(out) < count:
        src = next(picks)
        dst = rng.choice(recipients)
        r = rng.random()
        if r < 0.06:  # concatenated, 2 or 3 parts
            ref = (ref + 1) & 0xFF
            text = _fill(rng, _LONG)
            parts = [text[i:i + 150] for i in range(0, len(text), 150)]
            for n, part in enumerate(parts):
                udh = bytes((5, 0, 3, ref, len(parts), n + 1))
                out.append(_sm(rng, src, dst, 0x40, 0, udh + part.encode()))
            continue
        text = _fill(rng, rng.choice(_TEXTS))
        if r < 0.11:
            out.append(_sm(rng, src, dst, 0, 8, text.encode("utf-16-be")[:140]))
        else:
            out.append(_sm(rng, src, dst, 0, 0, text.encode()[:160]))
    return out


def _bind(system_id: str) -> bytes:
    body = system_id.encode() + b"\x00secret\x00\x00\x34\x00\x00\x00"
    return HDR.pack(16 + len(body), 9, 0, 1) + body


class Conn(asyncio.Protocol):
    def __init__(self) -> None:
        self.buf = bytearray()
        self.sent: dict[int, int] = {}
        self.lat: list[int] = []
        self.errors = 0  # any status but 0 and 0x65
        self.rejected = 0  # 0x65: blocked by the rules
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
                if status == 0x65:
                    self.rejected += 1
                elif status:
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


def _later_part(pdu: bytes) -> bool:
    """Whether a submit_sm of ``traffic`` is part 2 or later of a concatenated message."""
    pos = pdu.index(b"\0", 16) + 3  # service_type, source TON/NPI
    pos = pdu.index(b"\0", pos) + 3  # source_addr, dest TON/NPI
    pos = pdu.index(b"\0", pos) + 1  # destination_addr
    if not pdu[pos] & 0x40:  # esm_class: no UDH
        return False
    pos = pdu.index(b"\0", pdu.index(b"\0", pos + 3) + 1) + 5  # the times, four octets
    # sm_length, then the UDH: length 5, IEI 0 (8-bit reference), 3, ref, total, part
    return pdu[pos + 1:pos + 4] == b"\x05\x00\x03" and pdu[pos + 6] > 1


async def _paced(conn: Conn, templates: list[bytes], rate: float, seconds: float) -> None:
    """``rate`` messages a second in 1 ms steps; the parts of a concatenated message go
    together, as an ESME sends them (a part held for the next step would wait a step
    in the gateway for the rest of its message)."""
    transport = conn.transport
    assert transport is not None
    later = [_later_part(t) for t in templates]
    seq = 0
    while later[(seq + 1) % len(templates)]:  # start with a whole message
        seq += 1
    start = time.perf_counter()
    sent = 0
    total = int(rate * seconds)
    while sent < total:
        due = min(total, int((time.perf_counter() - start) * rate) + 1)
        out = []
        now = time.perf_counter_ns()
        while sent < due or later[(seq + 1) % len(templates)]:
            seq += 1
            sent += 1
            t = templates[seq % len(templates)]
            out.append(t[:12] + seq.to_bytes(4, "big") + t[16:])
            conn.sent[seq] = now
        if out:
            transport.write(b"".join(out))
        # 1 ms, not less: uvloop's timers count whole milliseconds, and a shorter
        # sleep is a zero timeout, a busy loop that takes a core from the gateway
        await asyncio.sleep(0.001)
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


def _slices(templates: list[bytes], binds: int, per: int) -> list[tuple[int, int]]:
    """(first sequence number - 1, count) for each bind: ``per`` messages from its own
    place in the stream, widened to whole concatenated messages (a part whose message
    is cut off would be held for the concatenation timeout, and the run would measure
    that wait)."""
    nt = len(templates)
    later = [_later_part(t) for t in templates]
    out = []
    for i in range(binds):
        start = i * per
        while later[(start + 1) % nt]:
            start += 1
        end = start + per
        while later[(end + 1) % nt]:
            end += 1
        out.append((start, end - start))
    return out


async def _throughput(port: int, args: argparse.Namespace, templates: list[bytes]
                      ) -> tuple[float, list[int], int, int]:
    conns = [await _connect(port, f"bench{i}") for i in range(args.connections)]
    slices = _slices(templates, len(conns), args.messages // args.connections)
    t0 = time.perf_counter()
    await asyncio.gather(*(_pump(c, templates, count, args.window, seq0)
                           for c, (seq0, count) in zip(conns, slices, strict=True)))
    elapsed = time.perf_counter() - t0
    lat = [x for c in conns for x in c.lat]
    for c in conns:
        c.transport.close()  # type: ignore[union-attr]
    return (sum(n for _, n in slices) / elapsed, lat, sum(c.rejected for c in conns),
            sum(c.errors for c in conns))


async def _rate(port: int, args: argparse.Namespace, templates: list[bytes]) -> list[int]:
    conn = await _connect(port, "paced")
    await _paced(conn, templates, args.rate, args.rate_seconds)
    conn.transport.close()  # type: ignore[union-attr]
    return conn.lat


def _cpu(pid: int) -> tuple[float, float]:
    """User and system CPU seconds of process ``pid`` so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def _waited(pid: int) -> float:
    """Seconds process ``pid`` has spent runnable but waiting for a CPU (schedstat)."""
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[1]) / 1e9


def _start_gateway(upstream: int, args: argparse.Namespace, tmp: Path
                   ) -> tuple[subprocess.Popen[str], int]:
    port = free_port()
    (tmp / "no-plugins").mkdir(exist_ok=True)  # a plugins dir must exist: none in it
    config = write_config(
        tmp / "bench.toml",
        smpp={"listen": f"127.0.0.1:{port}", "window": args.window * args.connections,
              "upstream": {"address": f"127.0.0.1:{upstream}"}},
        admin={"enabled": False}, agi={"enabled": False},
        rules={"dir": ROOT / "rules"}, lists={"dir": ROOT / "rules" / "lists"},
        plugins={"dir": ROOT / "plugins" if args.plugins else tmp / "no-plugins",
                 "missing_symbols": "error" if args.plugins else "disable"},
        log={"level": args.log_level})
    with (tmp / "gateway.log").open("wb") as log:
        gw = GatewayProcess(config, port, cwd=ROOT, stdout=None, stderr=log, timeout=20)
        try:
            gw.start()
        except GatewayStartError:
            raise SystemExit("gateway did not start:\n" + (tmp / "gateway.log").read_text()) \
                from None
    return gw.proc, port


def _stop(proc: subprocess.Popen[str] | subprocess.Popen[bytes]) -> None:
    stop(proc, grace=30)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--connections", type=int, default=4)
    ap.add_argument("--window", type=int, default=512)
    ap.add_argument("--messages", type=int, default=200_000)
    ap.add_argument("--rate", type=float, default=5000.0)
    ap.add_argument("--rate-seconds", type=float, default=10.0)
    ap.add_argument("--log-level", default="warning", choices=("warning", "error"),
                    help="gateway log level: warning keeps the audit log of every verdict "
                         "that is not ALLOW (the default, as deployed); error turns it off")
    ap.add_argument("--plugins", action="store_true",
                    help="load the shipped content plugins too (urls, callback_numbers, "
                         "campaign, classifier)")
    ap.add_argument("--pause", action="store_true",
                    help="print the gateway pid and wait for Enter before the load (py-spy)")
    args = ap.parse_args()

    import uvloop

    templates = traffic(args.messages)
    with tempfile.TemporaryDirectory(prefix="spamgw-bench-") as tmpdir:
        tmp = Path(tmpdir)
        sim, sim_port = start_smsc_sim()
        gw, gw_port = _start_gateway(sim_port, args, tmp)
        try:
            if args.pause:
                input(f"gateway pid {gw.pid}; Enter to start the load ")
            results = {}
            for name, port in (("direct to simulator", sim_port), ("through gateway", gw_port)):
                cpu0, wait0, t0 = _cpu(gw.pid), _waited(gw.pid), time.perf_counter()
                results[name] = uvloop.run(_throughput(port, args, templates))
            cpu = [b - a for a, b in zip(cpu0, _cpu(gw.pid), strict=True)]
            busy = sum(cpu) / (time.perf_counter() - t0)
            waited = (_waited(gw.pid) - wait0) / (time.perf_counter() - t0)
            paced = {name: uvloop.run(_rate(port, args, templates[7:]))
                     for name, port in (("direct", sim_port), ("gateway", gw_port))}
        finally:
            _stop(gw)
            _stop(sim)
            audit = sum(1 for line in (tmp / "gateway.log").open() if '"verdict"' in line)
    print(f"\nsubmit_sm, {args.messages} messages, {args.connections} binds, window "
          f"{args.window} per bind; gateway: python -m gateway run, shipped rules"
          f"{' and content plugins' if args.plugins else ' (no plugins)'}, "
          f"log level {args.log_level} ({audit} audit lines)")
    print(f"{'path':<22}{'submit_sm/s':>12}{'p50 ms':>9}{'p99 ms':>9}{'p99.9 ms':>10}"
          f"{'0x65':>8}{'errors':>8}")
    for name, (rate, lat, rejected, errors) in results.items():
        print(f"{name:<22}{rate:>12,.0f}{_pct(lat, .5):>9.2f}{_pct(lat, .99):>9.2f}"
              f"{_pct(lat, .999):>10.2f}{rejected:>8}{errors:>8}")
    per = 1e6 / len(results["through gateway"][1])  # every message sent was answered
    print(f"gateway CPU per message: {(cpu[0] + cpu[1]) * per:.1f} us "
          f"({cpu[0] * per:.1f} user, {cpu[1] * per:.1f} system); busy {busy:.0%} of the "
          f"run, waiting for a CPU {waited:.0%}")
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
