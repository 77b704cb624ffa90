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
than at rest, and the gateway's RSS (idle, peak during, after). Then, from a sampler
process reading /proc every 2 ms: how long the gateway's loop thread and the
simulator waited for a CPU in each phase, and for each phase's worst answers what
the loop thread was doing meanwhile (running, waiting for a CPU, asleep in which
system call, page faults), whether the client itself was late, how much the list
child ran, and the machine's reclaim and compaction stalls. Asserts nothing.

``--phases rest,rules --plugins`` measures rule reloads instead: ``--rules-reloads``
times a rule file gets a comment (a new version) and ``POST /v1/rules/reload``
compiles the ruleset and runs its examples in a thread of the gateway, with the
content plugins built again for them (``--entries 100000`` is enough list for it).

``--control S`` adds a last phase of S seconds at rest (a worst case grows with the
length of a phase: the reload and compaction are minutes long, rest is 20 s).
``--child-ab N`` replaces the phases with N rounds of four, each round in another
order: no list child, a child compiling the list at nice 19 only (as the worker ran
before), one under SCHED_IDLE, and one lowered as the worker lowers itself now.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
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
    def __init__(self, work: Path, rules: Path, sim_port: int, plugins: bool = False) -> None:
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
            plugins=({"dir": ROOT / "plugins"} if plugins else
                     {"dir": work / "no-plugins", "missing_symbols": "disable"}),
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


class Timed(list[Any]):
    """A list of latencies that also notes when each was appended (``at``)."""

    def __init__(self, at: list[float]) -> None:
        super().__init__()
        self.at = at

    def append(self, x: Any) -> None:
        super().append(x)
        self.at.append(time.perf_counter())


@dataclass
class Phase:
    name: str
    agi_at: list[float] = field(default_factory=list)
    smpp_at: list[float] = field(default_factory=list)
    agi: Sample = field(init=False)
    smpp: list[int] = field(init=False)
    rss: list[float] = field(default_factory=list)
    lag: list[tuple[float, float]] = field(default_factory=list)  # (when, ms) over 2 ms
    t0: float = field(default_factory=time.perf_counter)
    seconds: float = 0.0
    after_rss: float = 0.0
    note: str = ""

    def __post_init__(self) -> None:
        self.agi = Sample(action_ms=Timed(self.agi_at))
        self.smpp = Timed(self.smpp_at)


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

    async def lag(self) -> None:
        """The client's own loop lag: a late answer with a late client is the client's."""
        while self.running:
            t = time.perf_counter()
            await asyncio.sleep(0.001)
            late = (time.perf_counter() - t - 0.001) * 1000
            if late > 2:
                self.phase.lag.append((time.perf_counter(), late))


def _concatenated(pdu: bytes) -> bool:
    pos = pdu.index(b"\0", 16) + 3
    pos = pdu.index(b"\0", pos) + 3
    pos = pdu.index(b"\0", pos) + 1
    return bool(pdu[pos] & 0x40)


async def run_phases(gw: Gateway, args: argparse.Namespace, txt: Path) -> list[Phase]:
    load = Load(gw, args.calls, args.sms)
    tasks = [asyncio.ensure_future(c) for c in (load.agi(), load.smpp(), load.rss(),
                                                    load.lag())]
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
    async def control() -> str:
        await asyncio.sleep(args.control)
        return ""

    async def rules_reload() -> str:
        """``--rules-reloads`` times: a comment added to a rule file (a new version),
        then ``POST /v1/rules/reload``: the ruleset is compiled and its examples run
        (with the content plugins built again, if they are loaded) in a thread."""
        edited = sorted((txt.parent.parent).glob("*.toml"))[0]
        took = []
        for i in range(args.rules_reloads):
            with edited.open("a") as f:
                f.write(f"# edited by the benchmark ({i})\n")
            t = time.perf_counter()
            out = await asyncio.to_thread(gw.post, "/v1/rules/reload", b"")
            took.append(time.perf_counter() - t)
            if not out.get("changed"):
                raise SystemExit(f"the rules reload changed nothing: {out}")
        return (f"{len(took)} reloads of {edited.name}, each "
                f"{min(took):.2f}-{max(took):.2f} s")

    # how a list child lowers itself before it compiles, for --child-ab
    setups = {
        "child nice 19": "os.nice(19)",  # as the worker did before
        "child SCHED_IDLE": "os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0)); "
                            "os.nice(19)",
        "child as now": "from gateway.lists.worker import lower_priority; lower_priority()",
        "child own group": "os.setsid(); open('/proc/self/autogroup', 'w').write('19'); "
                           "os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))",
    }

    def busy(setup: str) -> Any:
        """A list child compiling the big list for ``--rest`` seconds (then killed)."""
        async def run() -> str:
            ab = txt.parent.parent.parent / "ab"
            ab.mkdir(exist_ok=True)
            copy = ab / txt.name
            if not copy.exists():
                os.link(txt, copy)
            code = (f"import os, sys; {setup}; from gateway.lists.worker import _compile; "
                    "_compile(sys.argv[1:])")
            child = await asyncio.create_subprocess_exec(
                sys.executable, "-c", code, str(copy), cwd=ROOT, stdout=subprocess.DEVNULL)
            await asyncio.sleep(args.rest)
            ran = _read(f"/proc/{child.pid}/schedstat").split()[0]
            with contextlib.suppress(ProcessLookupError):  # done before the phase was
                child.kill()
            await child.wait()
            return f"the child ran {int(ran) / 1e7 / args.rest:.0f}% of a core"
        return run

    named = {"rest": ("at rest", rest), "reload": ("reload", reload),
             "import": ("import", bulk_import), "compaction": ("compaction", compact),
             "rules": ("rules reload", rules_reload)}
    steps = [named[n] for n in args.phases.split(",")]
    if args.child_ab:
        kinds = [("no child", rest), *((k, busy(v)) for k, v in setups.items())]
        # each round in another order: what the background does at a given moment
        # falls on each setup in turn
        steps = [kinds[(i + r) % len(kinds)] for r in range(args.child_ab)
                 for i in range(len(kinds))]
    if args.control:
        steps.append(("rest again", control))
    for name, action in steps:
        await phase(name, action)
    load.running = False
    await asyncio.gather(*tasks)
    return phases


def _worst(values: list[float]) -> float:
    return max(values, default=float("nan"))


def _pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[int(q * (len(s) - 1))] if s else float("nan")


def _p99(values: list[float]) -> float:
    return _pct(values, 0.99)


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


# -- what the gateway was doing when an answer was late ----------------------------
#
# A sampler process (``--sample PID OUT``, started by the bench) reads, every
# ``SAMPLE_EVERY`` seconds, the gateway's event-loop thread from /proc: its state
# (R running or runnable, S sleeping, D in the kernel), the system call it sleeps in,
# how long it has waited for a CPU (schedstat run_delay) and its page faults; and the
# machine's runnable task count, direct-reclaim and compaction stalls, dirty and
# writeback pages. ``explain`` then says, for each phase's worst answers, what the
# samples inside that answer's window show.

SAMPLE_EVERY = 0.002
VMSTAT = ("pgmajfault", "allocstall_normal", "allocstall_movable", "compact_stall",
          "thp_fault_alloc", "nr_dirty", "nr_writeback")
SYSCALLS = {"232": "epoll_wait", "281": "epoll_pwait", "202": "futex", "7": "poll",
            "23": "select", "0": "read", "1": "write", "74": "fsync", "75": "fdatasync",
            "9": "mmap", "11": "munmap", "12": "brk", "25": "mremap", "230": "nanosleep",
            "-1": "running"}


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def _cpu_ns(pid: int) -> int:
    """Nanoseconds ``pid``'s main thread has run (0 when there is none)."""
    got = _read(f"/proc/{pid}/schedstat").split()
    return int(got[0]) if got else 0


def sample(pid: int, sim: int, out: Path) -> None:
    """Until SIGTERM: one JSON row per sample to ``out``: time, the gateway loop
    thread's state, system call, run_delay and major faults, runnable tasks, the
    machine's idle CPU time (ticks), the simulator's run_delay, the list child's CPU
    time, and every 25th row the vmstat counters."""
    stop = False

    def term(*_: Any) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, term)
    task = f"/proc/{pid}/task/{pid}"
    rows: list[list[Any]] = []
    child = 0
    n = 0
    while not stop:
        t = time.perf_counter()
        stat = _read(f"{task}/stat")
        if not stat:
            break
        sched = _read(f"{task}/schedstat").split()
        call = _read(f"{task}/syscall").split(" ", 1)[0].strip()
        fields = stat[stat.rindex(")") + 2:].split()
        running = idle = 0
        for line in _read("/proc/stat").splitlines():
            if line.startswith("cpu "):
                idle = int(line.split()[4])
            elif line.startswith("procs_running"):
                running = int(line.split()[1])
        vm = None
        if n % 25 == 0:
            vm = {k: int(v) for k, _, v in (line.partition(" ") for line in
                                            _read("/proc/vmstat").splitlines()) if k in VMSTAT}
            kids = [int(c) for tid in os.listdir(f"/proc/{pid}/task")
                    for c in _read(f"/proc/{pid}/task/{tid}/children").split()]
            child = kids[0] if kids else 0
        sim_sched = _read(f"/proc/{sim}/schedstat").split()
        rows.append([round(t, 4), fields[0], SYSCALLS.get(call, call), int(sched[1]),
                     int(fields[9]), running, idle, int(sim_sched[1]) if sim_sched else 0,
                     _cpu_ns(child) if child else 0, child, vm])
        n += 1
        time.sleep(SAMPLE_EVERY)
    out.write_text("\n".join(json.dumps(r) for r in rows))


def summary(phases: list[Phase], rows: list[list[Any]]) -> None:
    """--child-ab: per setup, the median over its rounds of the gateway's wait for a
    CPU (ms a second), of the FastAGI and SMS p99 and p99.9, and of the worst."""
    import statistics

    by: dict[str, list[tuple[float, ...]]] = {}
    for p in phases:
        inside = [r for r in rows if p.t0 <= r[0] <= p.t0 + p.seconds]
        if len(inside) < 2:
            continue
        wait = (inside[-1][3] - inside[0][3]) / 1e6 / (inside[-1][0] - inside[0][0])
        agi, sms = p.agi.action_ms, [x / 1e6 for x in p.smpp]
        by.setdefault(p.name, []).append((wait, _pct(agi, 0.99), _pct(sms, 0.99),
                                          _pct(agi, 0.999), _pct(sms, 0.999),
                                          max(agi), max(sms)))
    print(f"\nmedians over the rounds: {'setup':<18}{'CPU wait ms/s':>14}{'AGI p99':>9}"
          f"{'SMS p99':>9}{'AGI p99.9':>10}{'SMS p99.9':>10}{'AGI max':>9}{'SMS max':>9}")
    for name, vals in by.items():
        med = [statistics.median(v[i] for v in vals) for i in range(7)]
        print(f"{'':<25}{name:<18}{med[0]:>14.1f}" + "".join(f"{x:>9.1f}" for x in med[1:3])
              + "".join(f"{x:>10.1f}" for x in med[3:5])
              + "".join(f"{x:>9.1f}" for x in med[5:]))
    print("per round (CPU wait ms/s): " + "; ".join(
        f"{name} " + " ".join(f"{v[0]:.0f}" for v in vals) for name, vals in by.items()))


def explain(phase: Phase, rows: list[list[Any]], top: int = 3) -> list[str]:
    """For the ``top`` worst FastAGI and SMPP answers of ``phase``: the window
    [answered - latency, answered] and what the gateway's loop thread did in it."""
    lines = []
    agi = zip(phase.agi.action_ms, phase.agi_at, strict=True)
    sms = zip(phase.smpp, phase.smpp_at, strict=True)
    worst = sorted([("AGI", ms, t) for ms, t in agi] + [("SMS", ns / 1e6, t) for ns, t in sms],
                   key=lambda x: -x[1])[:top * 2]
    seen = set()
    for kind, ms, t in worst:
        t0 = t - ms / 1000
        inside = [r for r in rows if t0 <= r[0] <= t]
        before = [r for r in rows if r[0] < t0]
        if not inside or not before or (round(t0, 2), kind) in seen:
            continue
        seen.add((round(t0, 2), kind))
        first, last = before[-1], inside[-1]
        states: dict[str, int] = {}
        for r in inside:
            key = r[1] if r[1] != "S" else f"S:{r[2]}"
            states[key] = states.get(key, 0) + 1
        vms = [r[10] for r in rows if r[10] is not None and t0 - 0.1 <= r[0] <= t + 0.1]
        vm = ({k: vms[-1][k] - vms[0][k] for k in VMSTAT if k in vms[0]
               and not k.startswith("nr_")} if len(vms) > 1 else {})
        dirty = max((v.get("nr_dirty", 0) + v.get("nr_writeback", 0) for v in vms),
                    default=0) * 4 // 1024
        lag = max((ms for at, ms in phase.lag if t0 <= at <= t + 0.005), default=0.0)
        child = (f"list child ran {(last[8] - first[8]) / 1e6:.1f} ms"
                 if last[9] and last[9] == first[9] and last[8] else "no list child")
        lines.append(
            f"    {kind} {ms:6.1f} ms at +{t0 - phase.t0:6.1f} s: gateway loop "
            f"{' '.join(f'{k}x{v}' for k, v in sorted(states.items()))}, waited for a CPU "
            f"{(last[3] - first[3]) / 1e6:.1f} ms, majflt +{last[4] - first[4]}; simulator "
            f"waited for a CPU {(last[7] - first[7]) / 1e6:.1f} ms; client loop lag "
            f"{lag:.1f} ms; {child}; CPUs idle {(last[6] - first[6]) * 10} ms; runnable "
            f"max {max(r[5] for r in inside)}; dirty+writeback {dirty} MB"
            + "".join(f"; {k} +{v}" for k, v in vm.items() if v))
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--entries", type=int, default=10_000_000)
    ap.add_argument("--prefixes", type=int, default=1000)
    ap.add_argument("--import-entries", type=int, default=100_000)
    ap.add_argument("--calls", type=float, default=200.0, help="FastAGI calls a second")
    ap.add_argument("--sms", type=float, default=200.0, help="submit_sm a second")
    ap.add_argument("--rest", type=float, default=20.0, help="seconds at rest")
    ap.add_argument("--settle", type=float, default=3.0, help="seconds after each phase")
    ap.add_argument("--control", type=float, default=0.0,
                    help="seconds of a last phase at rest (as long as the others: is a "
                         "worst answer the phase's, or the length's?)")
    ap.add_argument("--child-ab", type=int, default=0, metavar="ROUNDS",
                    help="instead of the phases: ROUNDS of --rest seconds with no list "
                         "child, with one at nice 19 only, one under SCHED_IDLE, and one "
                         "as the worker starts it now, in turn")
    ap.add_argument("--phases", default="rest,reload,import,compaction",
                    help="the phases, in order, from rest, reload, import, compaction, "
                         "rules (the first is the rest the others are measured against)")
    ap.add_argument("--rules-reloads", type=int, default=10,
                    help="rule reloads in the rules phase (each a new version)")
    ap.add_argument("--plugins", action="store_true",
                    help="the gateway runs the shipped content plugins (as spamgw run "
                         "does by default): a rules reload builds them again")
    ap.add_argument("--dir", help="work dir to keep (the generated list is reused)")
    ap.add_argument("--sample", nargs=3, metavar=("PID", "SIM", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.sample:
        sample(int(args.sample[0]), int(args.sample[1]), Path(args.sample[2]))
        return 0

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
    nset = txt.with_suffix(".nset")
    if args.child_ab and nset.exists() and nset.stat().st_mtime >= txt.stat().st_mtime:
        took, peak = 0.0, 0.0  # the list as the last run left it: only the child matters
    else:
        shutil.copyfile(source, txt)  # a run appends to the list: start from the generated
        plain, with_prefixes = edit_cost(args.prefixes)
        print(f"edit cost: {plain:.2f} us an added or removed number with no prefix, "
              f"{with_prefixes:.2f} us with {args.prefixes} prefixes "
              f"({with_prefixes / plain:.2f}x)")
        print("compiling ...", flush=True)
        took, peak, out = compile_peak(txt)
        print(f"  {out}\n  compile: {took:.1f} s, peak RSS {peak:.0f} MB")

    sim, sim_port = start_smsc_sim()
    try:
        gw = Gateway(work, rules, sim_port, plugins=args.plugins)
        try:
            time.sleep(2)
            idle = gw.rss()
            print(f"gateway started in {gw.started:.1f} s, idle RSS {idle:.0f} MB; load: "
                  f"{args.calls:.0f} calls/s FastAGI, {args.sms:.0f} submit_sm/s", flush=True)
            rows_path = work / "samples.jsonl"
            sampler = subprocess.Popen([sys.executable, __file__, "--sample",
                                        str(gw.proc.pid), str(sim.pid), str(rows_path)])
            try:
                phases = uvloop.run(run_phases(gw, args, txt))
            finally:
                sampler.send_signal(signal.SIGTERM)
                sampler.wait(60)
        finally:
            _stop(gw.proc)
    finally:
        _stop(sim)
    print(f"\n{args.entries:,} numbers + {args.prefixes} prefixes; compile peak RSS "
          f"{peak:.0f} MB ({took:.0f} s)")
    report(phases, idle)
    rows = [json.loads(line) for line in rows_path.read_text().splitlines()]
    if args.child_ab:
        summary(phases, rows)
    print(f"\nthe worst answers of each phase, and the gateway's loop thread meanwhile "
          f"(sampled every {SAMPLE_EVERY * 1000:.0f} ms; S:call = asleep in that call):")
    for p in phases:
        inside = [r for r in rows if p.t0 <= r[0] <= p.t0 + p.seconds]
        if len(inside) > 1:
            a, b = inside[0], inside[-1]
            span = b[0] - a[0]
            ran = sum(y[8] - x[8] for x, y in itertools.pairwise(inside)
                  if x[9] == y[9] and x[8] and y[8])
            waits = [(y[3] - x[3]) / 1e6 for x, y in itertools.pairwise(inside)]
            print(f"  {p.name}: gateway waited for a CPU {(b[3] - a[3]) / 1e6 / span:.1f} ms "
                  f"a second (longest {max(waits):.1f} ms between two samples), the "
                  f"simulator {(b[7] - a[7]) / 1e6 / span:.1f} ms a second; the list child "
                  f"ran {ran / 1e7 / span:.0f}% of a core; CPUs idle "
                  f"{(b[6] - a[6]) / span:.0f}% of one; p99.9 FastAGI "
                  f"{_pct(p.agi.action_ms, 0.999):.1f} ms, SMS "
                  f"{_pct([x / 1e6 for x in p.smpp], 0.999):.1f} ms")
        else:
            print(f"  {p.name}:")
        for line in explain(p, rows):
            print(line)
    if not args.dir:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
