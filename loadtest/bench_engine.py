"""Engine throughput on the default ruleset and a mixed event stream (one core).

Events are built (numbers normalised) before timing: this measures
``Engine.evaluate`` alone, as the adapters call it. Printed beside it, in the same
run: the same engine with an empty ruleset (the fixed cost of an evaluation) and
the default ruleset with the shipped plugins loaded.

    python3 loadtest/bench_engine.py [--events 200000] [--profile]
"""

from __future__ import annotations

import argparse
import gc
import logging
import random
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import structlog

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gateway.app import build_core  # noqa: E402
from gateway.config import Config, ListsConfig, PluginsConfig, RulesConfig  # noqa: E402
from gateway.model import Channel, Direction, Event, Phase  # noqa: E402

SPAM_TEXTS = [
    "URGENT: your account has been suspended. Verify your card details at http://secure-x.example/a",
    "Your parcel is held: pay the delivery fee at https://parcel-redelivery.example/p",
    "You have won a prize! Claim now http://bit.ly/win123",
    "Tax refund due: claim at http://hmrc-refund.example",
]


WORDS = (
    "see you at the station tonight running late meeting moved room lunch dinner tomorrow "
    "call me back when free thanks love mum dad home work bus train car shop milk bread "
    "pick up kids school game match ticket film cinema pub coffee"
).split()


def clean_text(rng: random.Random) -> str:
    """Person-to-person texts: each one different, as real ones are."""
    return " ".join(rng.choice(WORDS) for _ in range(rng.randrange(4, 14))).capitalize()


def mixed_events(core, n: int, rng: random.Random) -> list[Event]:
    num = core.numbering
    subs = [num.parse(f"+4477009{rng.randrange(10**5):05d}") for _ in range(5000)]
    senders = [*subs[:2000], num.parse("+447700900666"), num.alphanumeric("HMRC"),
               num.alphanumeric("MyBank"), num.parse("+979123456789")]
    intl = [num.parse(p) for p in ("+33612345678", "+2250700000001", "+18765551234",
                                   "+4915112345678", "+919812345678")]
    dests = subs + [num.parse(p) for p in ("+449098790000", "+882123456789", "+19005551234",
                                           "+23991234567", "999")] + intl
    events: list[Event] = []
    ts = 1_790_000_000.0
    for _ in range(n):
        ts += 0.0005
        r = rng.random()
        if r < 0.55:  # A2P / P2P SMS towards subscribers
            text = rng.choice(SPAM_TEXTS) if rng.random() < 0.05 else clean_text(rng)
            events.append(Event(Channel.SMS, Direction.IN, rng.choice(senders),
                                rng.choice(subs), text=text, route="acme", ts=ts))
        elif r < 0.8:  # subscriber dials out
            events.append(Event(Channel.CALL, Direction.OUT, rng.choice(subs),
                                rng.choice(dests), route="pbx", ts=ts))
        elif r < 0.95:  # call arrives
            events.append(Event(Channel.CALL, Direction.IN, rng.choice([*intl, *subs[:50]]),
                                rng.choice(subs), route="trunk-intl", ts=ts))
        else:  # call ended report
            events.append(Event(Channel.CALL, Direction.IN, rng.choice(intl),
                                rng.choice(subs), route="trunk-intl", phase=Phase.ENDED,
                                ts=ts, duration=4.0, billsec=0.0, dialstatus="CANCEL"))
    return events


def measure(engine, events: list[Event], repeat: int = 3) -> float:
    best = 0.0
    evaluate = engine.evaluate
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        for ev in events:
            evaluate(ev)
        rate = len(events) / (time.perf_counter() - t0)
        best = max(best, rate)
    return best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--profile", action="store_true", help="pyinstrument the default run")
    args = ap.parse_args()
    # the audit log (every non-ALLOW verdict) goes to a file, as in production
    audit = tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False)  # noqa: SIM115
    structlog.configure(
        processors=[structlog.processors.TimeStamper(fmt="iso", utc=True),
                    structlog.processors.JSONRenderer()],
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        logger_factory=structlog.PrintLoggerFactory(audit),
        cache_logger_on_first_use=True,
    )
    base = Config(rules=RulesConfig(str(ROOT / "rules")),
                  lists=ListsConfig(str(ROOT / "rules" / "lists")))
    no_plugins = replace(base, plugins=PluginsConfig(dir=str(ROOT / "no-such-dir")))
    with_plugins = replace(base, plugins=PluginsConfig(dir=str(ROOT / "plugins")))
    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "empty.toml").write_text("[settings]\nwarn = 5.0\n")
        empty = replace(no_plugins, rules=RulesConfig(d))
        rng = random.Random(7726)
        core = build_core(no_plugins)
        core.engine.observer = None  # the engine alone; statistics are measured apart
        events = mixed_events(core, args.events, rng)
        results = []
        empty_core = build_core(empty)
        empty_core.engine.observer = None
        results.append(("empty ruleset (fixed cost)", measure(empty_core.engine, events)))
        results.append((f"default ruleset, {len(core.engine.ruleset.rules)} rules",
                         measure(core.engine, events)))
        stats_core = build_core(no_plugins)
        results.append(("default ruleset + statistics", measure(stats_core.engine, events)))
        plug_core = build_core(with_plugins)
        plug_core.engine.observer = None
        names = ",".join(p.name for p in plug_core.engine.plugins) or "none found"
        results.append((f"default + plugins ({names})", measure(plug_core.engine, events)))
    verdicts: dict[str, int] = {}
    for ev in events:
        a = core.engine.evaluate(ev).action.value
        verdicts[a] = verdicts.get(a, 0) + 1
    print(f"{len(events):,} mixed events (55% SMS in, 25% calls out, 15% calls in, "
          f"5% call-ended); verdicts {verdicts}")
    print(f"{'configuration':52s}{'events/s':>12s}{'us/event':>10s}{'vs empty':>10s}")
    ref = results[0][1]
    for name, rate in results:
        print(f"{name:52s}{rate:12,.0f}{1e6 / rate:10.2f}{rate / ref:10.2f}")
    if args.profile:
        from pyinstrument import Profiler

        prof = Profiler()
        prof.start()
        measure(core.engine, events, repeat=1)
        prof.stop()
        print(prof.output_text(unicode=False, color=False))


if __name__ == "__main__":
    main()
