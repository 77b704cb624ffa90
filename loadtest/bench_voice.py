"""Voice scenario benchmark: what the shipped rules stop and what they wrongly stop.

Simulated calls go through the real FastAGI screener (trunk classes, spend ledger,
SPAMGW_MAXDURATION) and the real engine with the shipped rules, lists and plugins,
on a simulated clock: a Friday noon to Sunday 00:00 (UK time), with the night and a
Saturday in it. Every screening is followed by its ``/ended`` report, as the
hangup handler of the sample dialplan sends it: a blocked call ends at once
(DIALSTATUS empty); an answered outbound call lasts what the caller wanted, cut at
SPAMGW_MAXDURATION as ``Dial(...,L())`` would.

Traffic (``--scale`` multiplies the clean volumes):

- clean: subscriber lines (national, international, 084/087, a few to high-risk
  countries with a history of such calls, a few first calls ever to one), busy
  PBXs and call centres on their own trunks, roamers calling home over a roaming
  partner or (told apart by the HLR lookup, a file here) over an international
  carrier, inbound national and international calls (answered, unanswered,
  callers giving up);
- fraud: Wangiri from one number and from a rotating range (every other subscriber
  whose phone rang calls back), IRSF from a hacked PBX to many numbers (on a weekday
  afternoon and on a Saturday night) and from a hacked line to a few numbers, home
  caller IDs (GB, JE, GG, IM) spoofed on an international trunk, among them our
  own subscribers' numbers while the HLR says they are at home.

Prints one row per scenario: calls, the first BLOCK (1-based; "-" none), BLOCK /
WARN / ALLOW counts, calls let through and the money they cost (rate-table units,
outbound only). Asserts nothing (tests/loadtest/test_voice.py does, on a small run).

    python3 loadtest/bench_voice.py             # about 20,000 clean calls
    python3 loadtest/bench_voice.py --scale 0.2 --seed 7
"""

from __future__ import annotations

import argparse
import datetime as dt
import heapq
import os
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import cast

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from gateway.agi.codec import AgiEnvironment  # noqa: E402
from gateway.agi.screening import Pending, Screener  # noqa: E402
from gateway.agi.server import make_screener  # noqa: E402
from gateway.app import Core, build_core  # noqa: E402
from gateway.config import parse_config  # noqa: E402
from gateway.lookup import make_lookup  # noqa: E402
from gateway.observe import configure_logging  # noqa: E402

#: Friday 25 September 2026, 12:00 UTC (13:00 in London)
START = dt.datetime(2026, 9, 25, 12, 0, tzinfo=dt.UTC).timestamp()
HOURS = 35.0  # to Saturday 23:00 UTC

#: our subscribers abroad on an international carrier (the HLR lookup says roaming),
#: and spoofers using our subscribers' numbers while the HLR has them at home
ROAMERS_INTL = "clean: roamers via intl carrier (HLR: roaming)"
SPOOFED_AT_HOME = "spoofed CLI of a subscriber at home (HLR: home)"

TRUNKS = [
    {"name": "subscribers", "class": "subscribers"},
    {"name": "intl-carrier", "class": "international"},
    {"name": "national-ic", "class": "national"},
    {"name": "roam-partner", "class": "roaming_partner"},
    *({"name": f"pbx-{i}", "class": "pbx", "daily_cap": 500.0} for i in range(6)),
    {"name": "pbx-hacked", "class": "pbx", "daily_cap": 300.0},
    *({"name": f"cc-{i}", "class": "call_centre", "daily_cap": 500.0} for i in range(2)),
]


@dataclass(order=True)
class Call:
    t: float
    scenario: str = field(compare=False)
    clean: bool = field(compare=False)
    path: str = field(compare=False)  # inbound | outbound
    src: str = field(compare=False)
    dst: str = field(compare=False)  # as dialled / as the extension
    trunk: str = field(compare=False)
    ring: float = field(compare=False, default=8.0)
    billsec: float = field(compare=False, default=0.0)  # wanted if answered; 0: not
    status: str = field(compare=False, default="ANSWER")  # if not blocked
    #: Wangiri: a victim that rings back (outbound) after this delay
    callback_after: float | None = field(compare=False, default=None)


@dataclass
class Row:
    calls: int = 0
    first_block: int | None = None
    block: int = 0
    warn: int = 0
    allow: int = 0
    money: float = 0.0

    @property
    def through(self) -> int:
        return self.calls - self.block


# -- numbers -----------------------------------------------------------------------------

def uk_mobile(r: random.Random) -> str:
    return f"+447{r.choice('5789')}{r.randrange(10**8):08d}"


def uk_geo(r: random.Random) -> str:
    return r.choice([f"+4420{r.choice('378')}{r.randrange(10**7):07d}",
                     f"+44161{r.randrange(2, 9)}{r.randrange(10**6):06d}",
                     f"+44113{r.randrange(2, 9)}{r.randrange(10**6):06d}"])


FOREIGN = [
    lambda r: f"+336{r.randrange(10**8):08d}",
    lambda r: f"+49151{r.randrange(10**8):08d}",
    lambda r: f"+346{r.randrange(10**8):08d}",
    lambda r: f"+485{r.randrange(10**8):08d}",
    lambda r: f"+3538{r.randrange(3, 9)}{r.randrange(10**7):07d}",
    lambda r: f"+919{r.randrange(10**9):09d}",
    lambda r: f"+923{r.randrange(10**9):09d}",
    lambda r: f"+23480{r.randrange(10**8):08d}",
    lambda r: f"+1212{r.randrange(2, 9)}{r.randrange(10**6):06d}",
]


def dialled(e164: str, r: random.Random) -> str:
    """As a subscriber types it: 0... for national, 00.../+... for abroad."""
    if e164.startswith("+44"):
        return "0" + e164[3:]
    return ("00" + e164[1:]) if r.random() < 0.8 else e164


def daytime(r: random.Random, start: float = START, hours: float = HOURS) -> float:
    """A call time weighted to the day (08-22 UK) over the simulated span."""
    while True:
        t = start + r.random() * hours * 3600
        hour = dt.datetime.fromtimestamp(t, dt.UTC).hour + 1  # BST
        if 8 <= hour % 24 < 22 or r.random() < 0.1:
            return t


# -- traffic -------------------------------------------------------------------------------

def inbound_outcome(r: random.Random, mean_billsec: float) -> tuple[str, float, float]:
    """(status, billsec, ring seconds) of an ordinary inbound call: 70% answered,
    20% unanswered (rings out), 10% given up by the caller."""
    u = r.random()
    return (("ANSWER", r.expovariate(1 / mean_billsec), r.uniform(3, 15))
            if u < 0.7 else ("NOANSWER", 0, 30.0) if u < 0.9
            else ("CANCEL", 0, r.uniform(2, 12)))


def clean_calls(r: random.Random, scale: float) -> Iterator[Call]:
    n = lambda base: max(1, int(base * scale))  # noqa: E731
    subs = [uk_mobile(r) for _ in range(n(3000))]
    for _ in range(n(9000)):  # subscriber lines
        src = r.choice(subs)
        u = r.random()
        if u < 0.80:
            dst, scen = r.choice([uk_mobile, uk_geo])(r), "clean: subscriber national"
        elif u < 0.97:
            dst, scen = r.choice(FOREIGN)(r), "clean: subscriber international"
        else:
            dst = f"+448{r.choice('47')}{r.randrange(3, 5)}{r.randrange(10**7):07d}"
            scen = "clean: subscriber 084/087"
        yield Call(daytime(r), scen, True, "outbound", src, dialled(dst, r), "subscribers",
                   ring=r.uniform(3, 20), billsec=r.expovariate(1 / 180) if r.random() < 0.8
                   else 0, status="ANSWER")
    for _ in range(n(100)):  # families calling Jamaica / Nigeria: history seeded below
        src = f"+4478{r.randrange(10**8):08d}"
        dst = r.choice([f"+1876{r.randrange(2, 9)}{r.randrange(10**6):06d}",
                        f"+23480{r.randrange(10**8):08d}"])
        yield Call(daytime(r), "clean: diaspora to high-risk", True, "outbound", src,
                   dialled(dst, r), "subscribers", billsec=r.uniform(300, 1800))
    for _ in range(n(60)):  # a first call ever to a high-risk country (no history)
        dst = r.choice([f"+1876{r.randrange(2, 9)}{r.randrange(10**6):06d}",
                        f"+2526{r.randrange(10**7):07d}", f"+535{r.randrange(10**7):07d}"])
        yield Call(daytime(r), "clean: first call to a high-risk country", True, "outbound",
                   uk_mobile(r), dialled(dst, r), "subscribers", billsec=r.uniform(60, 900))
    for i in range(6):  # busy business PBXs: one main number, many destinations
        main = f"+44203{i}{r.randrange(10**6):06d}"
        for _ in range(n(400)):
            u = r.random()
            dst = (r.choice([uk_mobile, uk_geo])(r) if u < 0.65 else r.choice(FOREIGN)(r))
            yield Call(daytime(r), "clean: busy PBX", True, "outbound", main,
                       dialled(dst, r), f"pbx-{i}", billsec=r.expovariate(1 / 240))
    for i in range(2):  # call centres: thousands of distinct numbers, a day shift
        ddi = f"+44161{i}{r.randrange(10**6):06d}"
        for _ in range(n(1500)):
            dst = uk_mobile(r) if r.random() < 0.9 else f"+3538{r.randrange(3, 9)}" \
                f"{r.randrange(10**7):07d}"
            yield Call(daytime(r), "clean: call centre", True, "outbound", ddi,
                       dialled(dst, r), f"cc-{i}", billsec=r.expovariate(1 / 120)
                       if r.random() < 0.5 else 0)
    for _ in range(n(400)):  # our subscribers abroad calling home
        yield Call(daytime(r), "clean: roamers calling home", True, "inbound", uk_mobile(r),
                   uk_mobile(r)[1:], "roam-partner", billsec=r.expovariate(1 / 200))
    for _ in range(n(200)):  # ours abroad on a carrier without a roaming deal: the HLR
        yield Call(daytime(r), ROAMERS_INTL, True, "inbound", uk_mobile(r),  # says roaming
                   uk_mobile(r)[1:], "intl-carrier", billsec=r.expovariate(1 / 200))
    for _ in range(n(3000)):
        status, billsec, ring = inbound_outcome(r, 150)
        yield Call(daytime(r), "clean: inbound national", True, "inbound",
                   r.choice([uk_mobile, uk_geo])(r), uk_mobile(r)[1:], "national-ic",
                   ring=ring, billsec=billsec, status=status)
    for _ in range(n(1000)):
        status, billsec, ring = inbound_outcome(r, 300)
        yield Call(daytime(r), "clean: inbound international", True, "inbound",
                   r.choice(FOREIGN)(r), uk_mobile(r)[1:], "intl-carrier", ring=ring,
                   billsec=billsec, status=status)


def diaspora_history(calls: list[Call]) -> Iterator[Call]:
    """The diaspora lines' last month: six answered calls each to their country."""
    for c in calls:
        if c.scenario == "clean: diaspora to high-risk":
            for k in range(6):
                yield Call(START - (k + 1) * 4 * 86400, "history", True, "outbound", c.src,
                           c.dst, "subscribers", billsec=900)


def fraud_calls(r: random.Random) -> Iterator[Call]:
    victims = [uk_mobile(r)[1:] for _ in range(200)]
    t = START + 6 * 3600  # Friday 19:00 UK
    for i, v in enumerate(victims):  # one number rings 200 subscribers, 2-4 s each
        yield Call(t + i * 15, "wangiri: single number", False, "inbound", "+2250701234567",
                   v, "intl-carrier", ring=r.uniform(2, 4), status="CANCEL",
                   callback_after=r.uniform(300, 6 * 3600) if i % 2 == 0 else None)
    t = START + 9 * 3600
    for i, v in enumerate(victims):  # a new number of one range for each ring
        yield Call(t + i * 15, "wangiri: rotating range", False, "inbound",
                   f"+2250700055{i:03d}", v, "intl-carrier", ring=r.uniform(2, 4),
                   status="CANCEL",
                   callback_after=r.uniform(300, 6 * 3600) if i % 2 == 0 else None)
    for label, t, cli in (("weekday afternoon", START + 2 * 3600, "+442030999000"),
                          ("Saturday night", START + 14 * 3600, "+442030999001")):
        # a hacked PBX, many destinations at once (calls of an hour, 10 s apart)
        targets = ([f"+2526{r.randrange(10**7):07d}" for _ in range(15)]
                   + [f"+535{r.randrange(10**7):07d}" for _ in range(15)]
                   + [f"+3716{r.randrange(10**7):07d}" for _ in range(15)]
                   + [f"+1876{r.randrange(2, 9)}{r.randrange(10**6):06d}" for _ in range(15)])
        r.shuffle(targets)
        trunk = "pbx-hacked" if "night" in label else "pbx-5"
        for i, dst in enumerate(targets):
            yield Call(t + i * 10, f"IRSF: hacked PBX, many numbers, {label}", False,
                       "outbound", cli, dialled(dst, r), trunk, billsec=3600)
    t = START + 8 * 3600  # Friday 21:00 UK: a hacked line, three numbers over and over
    few = ["+5352345678", "+252612345678", "+18765550123"]
    for i in range(40):
        yield Call(t + i * 90, "IRSF: hacked line, few numbers", False, "outbound",
                   "+447812345678", dialled(few[i % 3], r), "subscribers", billsec=1200)
    t = START + 2 * 3600
    for i in range(200):  # home caller IDs on an international trunk
        src = uk_mobile(r) if i % 4 else r.choice(
            ["+447797712345", "+447781123456", "+447924123456"])  # JE, GG, IM
        yield Call(t + i * 20, "spoofed home CLI, intl trunk", False, "inbound", src,
                   uk_mobile(r)[1:], "intl-carrier", billsec=60)
    t = START + 5 * 3600
    for i in range(50):  # our subscribers' own numbers, while the HLR has them at home
        yield Call(t + i * 30, SPOOFED_AT_HOME, False, "inbound", uk_mobile(r),
                   uk_mobile(r)[1:], "intl-carrier", billsec=60)


# -- the simulation --------------------------------------------------------------------------

class Clock:
    now = START

    def __call__(self) -> float:
        return self.now


def environment(path: str, call_src: str, dst: str, trunk: str, uid: str,
                args: tuple[str, ...] = ()) -> AgiEnvironment:
    variables = (
        ("network", "yes"), ("network_script", path),
        ("request", f"agi://127.0.0.1:4573/{path}"),
        ("channel", f"PJSIP/{trunk}-0000002a"), ("uniqueid", uid),
        ("callerid", call_src), ("callingpres", "0"), ("context", f"from-{trunk}"),
        ("extension", dst),
    )
    return AgiEnvironment(variables, (trunk, *args) if path != "ended" else args)


def hlr_table(calls: list[Call], path: Path) -> Path:
    """The HLR feed's file for the number lookup ([agi.lookup], file backend): the
    roamers abroad, and the subscribers whose numbers the spoofers use, at home."""
    with path.open("w") as f:
        for c in calls:
            if c.scenario in (ROAMERS_INTL, SPOOFED_AT_HOME):
                f.write(f"{c.src}\t{'roaming' if c.scenario == ROAMERS_INTL else 'home'}\n")
    return path


def build(hlr: Path) -> tuple[Core, Screener, Clock]:
    config = parse_config({
        "rules": {"dir": str(REPO / "rules")},
        "lists": {"dir": str(REPO / "rules" / "lists")},
        "plugins": {"dir": str(REPO / "plugins")},
        "agi": {"trunks": TRUNKS, "lookup": {"backend": "file", "path": str(hlr)}},
        "log": {"level": "error", "format": "console", "audit": os.devnull},
        # simulated time: a screening is never late here
        "gateway": {"call_deadline_ms": 10_000},
    })
    configure_logging(config.log)
    core = build_core(config)
    clock = Clock()
    lookup = make_lookup(config.agi.lookup, core.numbering, redis_url="",
                         call_deadline=config.gateway.call_deadline_ms / 1000)
    return core, make_screener(core, lookup, clock=clock), clock


@dataclass
class Result:
    rows: dict[str, Row]
    #: clean calls warned or blocked, by action, scenario and rules
    why: dict[str, int]
    counters: dict[str, int]
    elapsed: float


def simulate(scale: float = 1.0, seed: int = 1) -> Result:
    r = random.Random(seed)
    clean = list(clean_calls(r, scale))
    fraud = list(fraud_calls(r))
    with tempfile.TemporaryDirectory() as tmp:
        core, screener, clock = build(hlr_table(clean + fraud, Path(tmp) / "hlr.tsv"))
    rates = core.lists.rates
    assert rates is not None
    queue: list[tuple[float, int, str, object]] = []
    seq = 0

    def push(t: float, kind: str, item: object) -> None:
        nonlocal seq
        seq += 1
        heapq.heappush(queue, (t, seq, kind, item))

    for first in [*diaspora_history(clean), *clean, *fraud]:
        push(first.t, "screen", first)
    rows: dict[str, Row] = {}
    why: dict[str, int] = {}
    uid = 0
    started = time.perf_counter()
    while queue:
        t, _seq, _kind, item = heapq.heappop(queue)
        clock.now = t
        if not isinstance(item, Call):  # an /ended report: (uniqueid, arguments)
            ended_uid, ended_args = cast(tuple[str, tuple[str, ...]], item)
            screener.handle(environment("ended", "", "s", "", ended_uid, ended_args))
            continue
        c = item
        uid += 1
        uid_s = f"{int(t)}.{uid}"
        commands = screener.handle(environment(c.path, c.src, c.dst, c.trunk, uid_s))
        assert not isinstance(commands, Pending)  # the file lookup answers at once
        variables = {cmd.words[2]: cmd.words[3] for cmd in commands}
        action = variables.get("SPAMGW_ACTION", "ALLOW")
        if c.clean and action != "ALLOW" and c.scenario != "history":
            key = f"{action} {c.scenario}: {variables.get('SPAMGW_RULES', '')}"
            why[key] = why.get(key, 0) + 1
        if c.scenario != "history":
            row = rows.setdefault(c.scenario, Row())
            row.calls += 1
        else:
            row = Row()
        if action == "BLOCK":
            row.block += 1
            if row.first_block is None:
                row.first_block = row.calls
            push(t + 1, "ended", (uid_s, ("", "1", "0")))
            continue
        if action == "WARN":
            row.warn += 1
        else:
            row.allow += 1
        billsec = c.billsec if c.status == "ANSWER" else 0.0
        limit = variables.get("SPAMGW_MAXDURATION", "")
        if limit:
            billsec = min(billsec, float(limit))  # Dial(...,L()) cuts the call
        billsec = float(int(billsec))
        status = c.status if billsec or c.status != "ANSWER" else "NOANSWER"
        if c.path == "outbound" and billsec:
            row.money += rates.cost(screener.numbering.from_caller_id(c.dst), billsec)
        push(t + c.ring + billsec, "ended",
             (uid_s, (status, str(int(c.ring + billsec)), str(int(billsec)))))
        if c.callback_after is not None:  # the rung subscriber calls the number back
            push(t + c.callback_after, "screen",
                 Call(t + c.callback_after, c.scenario.replace(": ", " callbacks: "), False,
                      "outbound", "+" + c.dst, dialled(c.src, r), "subscribers",
                      billsec=120))
    elapsed = time.perf_counter() - started
    counters = {k: v for k, v in screener.counters.as_dict().items() if v}
    if screener.lookup is not None:
        counters.update({f"lookup_{k}": v for k, v in
                         asdict(screener.lookup.counters).items() if v})
    return Result(rows, why, counters, elapsed)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=float, default=1.0, help="multiplies the clean volumes")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    result = simulate(args.scale, args.seed)
    rows = result.rows
    print(f"voice scenarios (seed {args.seed}, scale {args.scale:g}), shipped rules, "
          f"simulated Fri 13:00 - Sun 00:00 UK; {result.elapsed:.1f} s")
    print(f"{'scenario':50s} {'calls':>6s} {'1st BLOCK':>9s} {'BLOCK':>6s} {'WARN':>6s} "
          f"{'ALLOW':>6s} {'through':>7s} {'money':>9s}")
    total = Row()
    for name in sorted(rows, key=lambda k: (not k.startswith("clean"), k)):
        row = rows[name]
        first = "-" if row.first_block is None else str(row.first_block)
        print(f"{name:50s} {row.calls:6d} {first:>9s} {row.block:6d} {row.warn:6d} "
              f"{row.allow:6d} {row.through:7d} {row.money:9.2f}")
        if name.startswith("clean"):
            total.calls += row.calls
            total.block += row.block
            total.warn += row.warn
    print(f"clean total: {total.calls} calls, {total.block} BLOCK "
          f"({100 * total.block / max(1, total.calls):.2f}%), {total.warn} WARN "
          f"({100 * total.warn / max(1, total.calls):.2f}%)")
    for key, count in sorted(result.why.items(), key=lambda kv: -kv[1]):
        print(f"  clean {key} x{count}")
    print("screener counters:", ", ".join(f"{k}={v}" for k, v in result.counters.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
