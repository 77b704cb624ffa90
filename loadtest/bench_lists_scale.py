"""Lists at carrier scale: traffic latency and gateway memory while a big list is
reloaded, imported into and compacted.

    python3 loadtest/bench_lists_scale.py                        # 10M numbers
    python3 loadtest/bench_lists_scale.py --entries 100000000    # 100M + 1,000 prefixes
    python3 loadtest/bench_lists_scale.py --dir /var/tmp/lists   # keep (and reuse) the files

1. A blocklist of ``--entries`` numbers (+447xxxxxxxxx, one in ten of the range, as a
   national list is: 1.25 bytes a number compiled) plus ``--prefixes`` 10-digit
   prefixes is written to disk by a streaming generator, then compiled with
   ``spamgw lists compile`` in a child process whose peak RSS is read (wait4).
2. A real gateway (``python -m gateway run``: SMPP proxy before the bundled SMSC
   simulator, FastAGI, admin; shipped rules, no plugins) starts on that list.
3. A steady load runs throughout: ``--calls`` FastAGI screenings a second (the
   client plays Asterisk, as loadtest/bench_agi.py) and ``--sms`` submit_sm a second
   on one bind (as loadtest/bench_smpp.py).
4. Phases, each measured on its own: at rest; a reload (numbers appended to the text
   file, SIGHUP: the child compiles, the gateway maps the result in slices);
   a bulk import of ``--import-entries`` numbers over HTTP; a compaction
   (``POST /v1/lists/NAME/compact``: the child folds the journal into the files).

Printed: per phase its length, the worst and p99 answer latency of FastAGI (to
SPAMGW_ACTION) and SMPP (submit_sm to its response), how much worse the worst is
than at rest, and the gateway's RSS (idle, peak during, after). Asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "loadtest"))
sys.path.insert(0, str(ROOT))

from bench_agi import Sample, call_mix, one_call  # noqa: E402
from bench_smpp import Conn, _connect, _stop, traffic  # noqa: E402

from gateway.testing.config import write_config  # noqa: E402
from gateway.testing.ports import free_port  # noqa: E402
from gateway.testing.process import start_smsc_sim, wait_port  # noqa: E402

TOKEN = "bench-lists-scale-token"
LIST = "blocked_numbers"


def generate(path: Path, entries: int, prefixes: int, seed: int = 15) -> None:
    """Shipped entries, then ``entries`` numbers in +447xxxxxxxxx (gaps of 1 to 19,
    blocks of a million shuffled: an export is not always sorted), then the prefixes;
    a block at a time, never the whole list in memory."""
    rng = random.Random(seed)
    shipped = (ROOT / "rules" / "lists" / f"{LIST}.txt").read_text()
    with path.open("w") as f:
        f.write(shipped)
        n, done = 447_000_000_000, 0
        while done < entries:
            k = min(1_000_000, entries - done)
            block = list(itertools.accumulate(rng.choices(range(1, 20), k=k), initial=n))
            n = block.pop()
            rng.shuffle(block)
            f.write("".join(f"+{x}\n" for x in block))
            done += k
        f.write("# ranges\n")
        f.write("".join(f"+44780{i:05d}*\n" for i in range(0, prefixes * 7, 7)))


def edit_cost(prefixes: int, n: int = 20_000) -> tuple[float, float]:
    """Microseconds to add then remove one exact number, in a set with no prefix and
    in one with ``prefixes`` of them (the same 10-digit prefixes as the big list)."""
    from gateway.lists.numberset import NumberSet, Prefix
    from gateway.numbers import key_of

    out = []
    for k in (0, prefixes):
        ns = NumberSet("edit")
        for i in range(0, k * 7, 7):
            ns.add_prefix(Prefix(f"44780{i:05d}"))
        keys = [key_of(f"4478{i:08d}") for i in range(0, n * 37, 37)]  # some under them
        t0 = time.perf_counter()
        for key in keys:
            ns.add_key(key)
        for key in keys:
            ns.remove_key(key)
        out.append((time.perf_counter() - t0) / (2 * n) * 1e6)
    return out[0], out[1]


def compile_peak(txt: Path) -> tuple[float, float, str]:
    """Seconds, peak RSS (MB) and output of ``spamgw lists compile`` in a child."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "gateway", "lists", "compile", str(txt)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    _pid, status, usage = os.wait4(proc.pid, 0)
    out = proc.stdout.read().decode() if proc.stdout else ""
    if status:
        raise SystemExit(f"compile failed: {out}")
    return time.perf_counter() - t0, usage.ru_maxrss / 1024, out.strip()


class Gateway:
    def __init__(self, work: Path, rules: Path, sim_port: int) -> None:
        self.smpp, self.agi = free_port(), free_port()
        (work / "no-plugins").mkdir(exist_ok=True)
        self.log = work / "gateway.log"
        config = write_config(
            work / "bench.toml",
            smpp={"listen": f"127.0.0.1:{self.smpp}",
                  "upstream": {"address": f"127.0.0.1:{sim_port}"}},
            agi={"listen": f"127.0.0.1:{self.agi}"},
            admin={"listen": "127.0.0.1:0", "token": TOKEN},
            rules={"dir": rules}, lists={"dir": rules / "lists", "compact_after": 100000000},
            plugins={"dir": work / "no-plugins", "missing_symbols": "disable"},
            quarantine={"enabled": False},
            log={"level": "info", "format": "json", "audit": work / "audit.jsonl"})
        t0 = time.perf_counter()
        with self.log.open("w") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "gateway", "run", "--config",
                                          str(config)], cwd=ROOT, stderr=out,
                                         stdout=subprocess.DEVNULL)
        self.admin = int(self.wait_for('"admin listening"', 600)["port"])
        for port in (self.smpp, self.agi):
            wait_port(port, self.proc, timeout=600)
        self.started = time.perf_counter() - t0

    def wait_for(self, text: str, timeout: float, after: int = 0) -> dict[str, Any]:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with self.log.open() as f:
                for i, line in enumerate(f):
                    if i >= after and text in line:
                        out: dict[str, Any] = json.loads(line)
                        return out
            if self.proc.poll() is not None:
                raise SystemExit("gateway exited:\n" + self.log.read_text()[-3000:])
            time.sleep(0.1)
        raise SystemExit(f"no {text} in the gateway log")

    def log_lines(self) -> int:
        with self.log.open() as f:
            return sum(1 for _ in f)

    def rss(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def post(self, path: str, data: bytes, timeout: float = 3600) -> Any:
        req = urllib.request.Request(f"http://127.0.0.1:{self.admin}{path}", data=data,
                                     method="POST",
                                     headers={"Authorization": f"Bearer {TOKEN}"})
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return json.loads(r.read())


@dataclass
class Phase:
    name: str
    agi: Sample = field(default_factory=Sample)
    smpp: list[int] = field(default_factory=list)
    rss: list[float] = field(default_factory=list)
    seconds: float = 0.0
    after_rss: float = 0.0
    note: str = ""


class Load:
    """Steady FastAGI and SMPP traffic; samples go to the current phase."""

    def __init__(self, gw: Gateway, calls: float, sms: float) -> None:
        self.gw, self.calls, self.sms = gw, calls, sms
        self.phase = Phase("start")
        self.running = True
        self.envs = call_mix(5000)
        self.templates = [t for t in traffic(5000) if not _concatenated(t)]

    async def agi(self) -> None:
        tasks: set[asyncio.Task[None]] = set()
        t0, i = time.perf_counter(), 0
        while self.running:
            i += 1
            delay = t0 + i / self.calls - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            t = asyncio.ensure_future(one_call("127.0.0.1", self.gw.agi,
                                               self.envs[i % len(self.envs)], self.phase.agi))
            tasks.add(t)
            t.add_done_callback(tasks.discard)
        await asyncio.gather(*tasks)

    async def smpp(self) -> None:
        conn: Conn = await _connect(self.gw.smpp, "bench")
        transport = conn.transport
        assert transport is not None
        t0, seq = time.perf_counter(), 0
        while self.running:
            due = int((time.perf_counter() - t0) * self.sms)
            out = []
            now = time.perf_counter_ns()
            conn.lat = self.phase.smpp
            while seq < due:
                seq += 1
                t = self.templates[seq % len(self.templates)]
                out.append(t[:12] + seq.to_bytes(4, "big") + t[16:])
                conn.sent[seq] = now
            if out:
                transport.write(b"".join(out))
            await asyncio.sleep(0.001)
        await asyncio.sleep(1)
        transport.close()

    async def rss(self) -> None:
        while self.running:
            self.phase.rss.append(self.gw.rss())
            await asyncio.sleep(0.05)


def _concatenated(pdu: bytes) -> bool:
    pos = pdu.index(b"\0", 16) + 3
    pos = pdu.index(b"\0", pos) + 3
    pos = pdu.index(b"\0", pos) + 1
    return bool(pdu[pos] & 0x40)


async def run_phases(gw: Gateway, args: argparse.Namespace, txt: Path) -> list[Phase]:
    load = Load(gw, args.calls, args.sms)
    tasks = [asyncio.ensure_future(c) for c in (load.agi(), load.smpp(), load.rss())]
    phases: list[Phase] = []

    async def phase(name: str, action: Any) -> Phase:
        p = load.phase = Phase(name)
        t0 = time.perf_counter()
        p.note = str(await action())
        p.seconds = time.perf_counter() - t0
        load.phase = Phase("settle")
        await asyncio.sleep(args.settle)
        p.after_rss = gw.rss()
        phases.append(p)
        print(f"  {name}: {p.seconds:.1f} s  {p.note}", flush=True)
        return p

    async def rest() -> str:
        await asyncio.sleep(args.rest)
        return ""

    async def reload() -> str:
        with txt.open("a") as f:  # an operator's edit: the text is newer than its .nset
            f.write("".join(f"+4475{i:08d}\n" for i in range(1000)))
        mark = gw.log_lines()
        gw.proc.send_signal(signal.SIGHUP)
        line = await asyncio.to_thread(gw.wait_for, '"lists reloaded"', 7200, mark)
        return f"changed {line['changed']}, gateway said {line['seconds']} s"

    # built before the phase: 100k lines made on this loop would hold the load's
    # clients, not the gateway
    body = "".join(f"+4476{i:08d}\n" for i in range(args.import_entries)).encode()

    async def bulk_import() -> str:
        out = await asyncio.to_thread(gw.post, f"/v1/lists/{LIST}/import", body)
        return f"added {out['added']}"

    async def compact() -> str:
        out = await asyncio.to_thread(gw.post, f"/v1/lists/{LIST}/compact", b"")
        return f"folded {out['records']} records, appended {out['appended']}"

    await asyncio.sleep(2)  # connections up, first calls answered
    for name, action in (("at rest", rest), ("reload", reload), ("import", bulk_import),
                         ("compaction", compact)):
        await phase(name, action)
    load.running = False
    await asyncio.gather(*tasks)
    return phases


def _worst(values: list[float]) -> float:
    return max(values, default=float("nan"))


def _p99(values: list[float]) -> float:
    s = sorted(values)
    return s[int(0.99 * (len(s) - 1))] if s else float("nan")


def report(phases: list[Phase], idle: float) -> None:
    rest = phases[0]
    agi0, sms0 = _worst(rest.agi.action_ms), _worst([x / 1e6 for x in rest.smpp])
    print(f"\n{'phase':<12}{'s':>7}{'calls':>7}{'AGI p99':>9}{'AGI max':>9}{'+max':>8}"
          f"{'SMS':>7}{'SMS p99':>9}{'SMS max':>9}{'+max':>8}{'RSS peak':>10}{'after':>8}")
    for p in phases:
        a = p.agi.action_ms
        s = [x / 1e6 for x in p.smpp]
        print(f"{p.name:<12}{p.seconds:>7.1f}{len(a):>7}{_p99(a):>9.2f}{_worst(a):>9.2f}"
              f"{_worst(a) - agi0:>+8.2f}{len(s):>7}{_p99(s):>9.2f}{_worst(s):>9.2f}"
              f"{_worst(s) - sms0:>+8.2f}{max(p.rss, default=0):>10.0f}{p.after_rss:>8.0f}")
        if p.agi.errors:
            print(f"{'':<12}FastAGI errors (no answer within 5 s or refused): {p.agi.errors}")
    print(f"latencies in ms (+max: worst minus the worst at rest); RSS in MB; "
          f"idle RSS {idle:.0f} MB")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--entries", type=int, default=10_000_000)
    ap.add_argument("--prefixes", type=int, default=1000)
    ap.add_argument("--import-entries", type=int, default=100_000)
    ap.add_argument("--calls", type=float, default=200.0, help="FastAGI calls a second")
    ap.add_argument("--sms", type=float, default=200.0, help="submit_sm a second")
    ap.add_argument("--rest", type=float, default=20.0, help="seconds at rest")
    ap.add_argument("--settle", type=float, default=3.0, help="seconds after each phase")
    ap.add_argument("--dir", help="work dir to keep (the generated list is reused)")
    args = ap.parse_args()

    import uvloop

    work = Path(args.dir or tempfile.mkdtemp(prefix="spamgw-lists-"))
    work.mkdir(parents=True, exist_ok=True)
    rules = work / "rules"
    if rules.exists():
        for f in (rules / "lists").glob(f"{LIST}.journal"):
            f.unlink()
    else:
        shutil.copytree(ROOT / "rules", rules)
    txt = rules / "lists" / f"{LIST}.txt"
    source = work / f"generated-{args.entries}-{args.prefixes}.txt"
    if not source.exists():
        print(f"generating {args.entries:,} numbers + {args.prefixes} prefixes ...", flush=True)
        t0 = time.perf_counter()
        generate(work / "generating.txt", args.entries, args.prefixes)
        os.replace(work / "generating.txt", source)
        print(f"  {source.stat().st_size / 1e9:.2f} GB in {time.perf_counter() - t0:.0f} s")
    shutil.copyfile(source, txt)  # a run appends to the list: start from the generated one
    plain, with_prefixes = edit_cost(args.prefixes)
    print(f"edit cost: {plain:.2f} us an added or removed number with no prefix, "
          f"{with_prefixes:.2f} us with {args.prefixes} prefixes "
          f"({with_prefixes / plain:.2f}x)")
    print("compiling ...", flush=True)
    took, peak, out = compile_peak(txt)
    print(f"  {out}\n  compile: {took:.1f} s, peak RSS {peak:.0f} MB")

    sim, sim_port = start_smsc_sim()
    try:
        gw = Gateway(work, rules, sim_port)
        try:
            time.sleep(2)
            idle = gw.rss()
            print(f"gateway started in {gw.started:.1f} s, idle RSS {idle:.0f} MB; load: "
                  f"{args.calls:.0f} calls/s FastAGI, {args.sms:.0f} submit_sm/s", flush=True)
            phases = uvloop.run(run_phases(gw, args, txt))
        finally:
            _stop(gw.proc)
    finally:
        _stop(sim)
    print(f"\n{args.entries:,} numbers + {args.prefixes} prefixes; compile peak RSS "
          f"{peak:.0f} MB ({took:.0f} s)")
    report(phases, idle)
    if not args.dir:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
