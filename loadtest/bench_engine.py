"""Engine throughput on the default ruleset and a mixed event stream (one core).

Events are built (numbers normalised) before timing: this measures
``Engine.evaluate`` alone, as the adapters call it. Printed beside it, in the same
run: the same engine with an empty ruleset (the fixed cost of an evaluation) and
the default ruleset with the shipped plugins loaded.

A second table measures SMS alone, on two streams of ``--sms`` messages:

- realistic A2P + P2P: templated one-time codes, bank, delivery and appointment
  notices with varying codes, amounts, names and links, marketing campaigns with
  per-recipient links, person-to-person chat (every text different) and some spam
  (fixed texts and a templated parcel-fee campaign);
- all-unique: the same stream with a random word in every text, so no per-template
  cache ever hits (the worst case of the content plugins' caches).

Each is evaluated without plugins, with all of them, and with all but one.

    python3 loadtest/bench_engine.py [--events 200000] [--sms 30000] [--profile]
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
from gateway.config import (  # noqa: E402
    Config,
    ListsConfig,
    LogConfig,
    PluginsConfig,
    RulesConfig,
)
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


NAMES = (
    "Olivia Amelia Isla Ava Ivy Freya Lily Florence Mia Willow Rosie Sophia Isabella Grace "
    "Daisy Sienna Poppy Elsie Emily Ella Evelyn Phoebe Sofia Evie Charlotte Harper Millie "
    "Matilda Maya Sophie Alice Emilia Isabelle Ruby Luna Maisie Aria Penelope Mila Bonnie "
    "Eva Hallie Eliza Ada Violet Esme Robyn Arabella Imogen Jessica Noah Oliver George Arthur "
    "Muhammad Leo Harry Oscar Archie Henry Theodore Freddie Jack Charlie Theo Alfie Jacob "
    "Thomas Finley Arlo William Lucas Roman Tommy Isaac Teddy Alexander Luca Edward James "
    "Joshua Albie Elijah Max Mohammed Reuben Mason Sebastian Rory Jude Louie Benjamin Ethan "
    "Adam Hugo Joseph Reggie Ronnie Louis Frankie Dylan Aisha Wei Priya Kwame Olga Dmitri "
    "Fatima Chen Ravi Yusuf Ana Zoe Sam Tom Mary John Lucia Emma"
).split()
MERCHANTS = ("TESCO STORES", "AMAZON UK", "SAINSBURYS", "SHELL", "TFL TRAVEL", "PRET A MANGER",
             "BOOTS", "NETFLIX", "UBER TRIP", "DELIVEROO", "ASDA", "COSTA COFFEE")
COURIERS = ("dpd", "evri", "royalmail", "parcelforce", "yodel")
SHOPS = ("Boots", "Argos", "Currys", "Next", "Superdrug", "Greggs", "Iceland", "Wickes")
_TOKEN = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def _token(rng: random.Random, k: int = 8) -> str:
    return "".join(rng.choices(_TOKEN, k=k))


def a2p_text(rng: random.Random) -> str:
    """One templated application-to-person message."""
    r = rng.random()
    name = rng.choice(NAMES)
    if r < 0.30:
        brand = rng.choice(("Google", "WhatsApp", "Microsoft", "Amazon", "PayPal", "Uber"))
        return (f"Your {brand} verification code is {rng.randrange(10**6):06d}. "
                "Do not share this code with anyone.")
    if r < 0.45:
        return (f"Payment of £{rng.randrange(1, 500)}.{rng.randrange(100):02d} to "
                f"{rng.choice(MERCHANTS)} on card ending {rng.randrange(10**4):04d} "
                f"at {rng.randrange(24):02d}:{rng.randrange(60):02d}. Not you? Call us on "
                "the number on the back of your card.")
    if r < 0.65:
        c = rng.choice(COURIERS)
        h = rng.randrange(7, 18)
        return (f"Hi {name}, your parcel {rng.randrange(10**10):010d} will be delivered "
                f"today between {h}:00 and {h + 2}:00. Track or change it at "
                f"https://track.{c}.co.uk/{_token(rng)}")
    if r < 0.80:
        return (f"Reminder: {name}, your appointment at "
                f"{rng.choice(('Riverside Surgery', 'Park Dental', 'City Opticians'))} is on "
                f"{rng.randrange(1, 29)}/{rng.randrange(1, 13)} at {rng.randrange(8, 18)}:"
                f"{rng.choice(('00', '15', '30', '45'))}. Reply C to cancel.")
    shop = rng.choice(SHOPS)
    return (f"{shop}: {rng.choice((10, 20, 25, 30))}% off everything this weekend only! "
            f"Shop now at https://{shop.lower()}.example.com/o/{_token(rng)} "
            "Reply STOP to opt out")


PARCEL_SPAM = ("Dear {name}, your parcel could not be delivered. A redelivery fee of "
               "£{amount} is due, pay within 24 hours at {link} or it will be returned.")


def realistic_sms(core, n: int, rng: random.Random, unique: bool = False) -> list[Event]:
    """A2P templates (about 70%), P2P chat (25%), spam (5%) towards subscribers."""
    num = core.numbering
    subs = [num.parse(f"+4477009{rng.randrange(10**5):05d}") for _ in range(5000)]
    a2p = [num.alphanumeric(s) for s in ("Google", "Amazon", "DPD", "Evri", "NHS", "Boots",
                                         "Argos", "Verify", "Halifax", "MyBank")]
    events: list[Event] = []
    ts = 1_790_000_000.0
    for _ in range(n):
        ts += 0.0005
        r = rng.random()
        src = rng.choice(a2p)
        if r < 0.70:
            text = a2p_text(rng)
        elif r < 0.95:
            src = rng.choice(subs[:2000])
            text = clean_text(rng)
        elif r < 0.98:
            src = rng.choice(subs[:2000])
            link = f"https://{rng.choice(('parcel-help', 'uk-post-fee'))}.top/{_token(rng)}"
            text = PARCEL_SPAM.format(name=rng.choice(NAMES), link=link,
                                      amount=f"{rng.randint(1, 9)}.{rng.randint(10, 99)}")
        else:
            src = rng.choice(subs[:2000])
            text = rng.choice(SPAM_TEXTS)
        if unique:
            text = f"{text} {_token(rng, 6).lower().translate(_NO_DIGITS)}"
        events.append(Event(Channel.SMS, Direction.IN, src, rng.choice(subs), text=text,
                            route="acme", ts=ts))
    return events


_NO_DIGITS = str.maketrans("23456789", "qwertyui")


def measure(engine, events: list[Event], repeat: int = 3) -> float:
    """Best events per CPU second of this process (other load on a shared machine
    inflates CPU time less than wall time)."""
    best = 0.0
    evaluate = engine.evaluate
    for _ in range(repeat):
        gc.collect()
        t0 = time.process_time()
        for ev in events:
            evaluate(ev)
        rate = len(events) / (time.process_time() - t0)
        best = max(best, rate)
    return best


def sms_table(no_plugins: Config, with_plugins: Config, n: int) -> None:
    """Per-SMS cost on the realistic and the all-unique stream."""
    rng = random.Random(4242)
    core = build_core(no_plugins)
    streams = [("realistic A2P+P2P", realistic_sms(core, n, rng)),
               ("all-unique texts", realistic_sms(core, n, rng, unique=True))]
    names = [p.name for p in build_core(with_plugins).engine.plugins]
    configs: list[tuple[str, Config]] = [("default ruleset, no plugins", no_plugins),
                                         ("default + all plugins", with_plugins)]
    for name in names:
        configs.append((f"default + plugins but {name}", replace(
            with_plugins, plugins=replace(with_plugins.plugins, disabled=(name,),
                                          missing_symbols="disable"))))
    print(f"\n{n:,} SMS per stream; us per SMS (fresh counters and caches per configuration; "
          "realistic: best of 3 passes, all-unique: one pass)")
    print(f"{'configuration':40s}" + "".join(f"{s:>20s}" for s, _ in streams))
    for label, cfg in configs:
        row = []
        for stream, events in streams:
            c = build_core(cfg)
            c.engine.observer = None
            # all-unique: one pass, so no text was ever seen before
            row.append(1e6 / measure(c.engine, events, 1 if stream.startswith("all") else 3))
        print(f"{label:40s}" + "".join(f"{us:20.2f}" for us in row))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--sms", type=int, default=30_000,
                    help="SMS per stream in the SMS table (0: skip it)")
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
                  lists=ListsConfig(str(ROOT / "rules" / "lists")),
                  log=LogConfig(audit=audit.name))
    no_plugins = replace(base, plugins=PluginsConfig(dir=str(ROOT / "no-such-dir"),
                                                      missing_symbols="disable"))
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
    if args.sms:
        sms_table(no_plugins, with_plugins, args.sms)
    if args.profile:
        from pyinstrument import Profiler

        prof = Profiler()
        prof.start()
        measure(core.engine, events, repeat=1)
        prof.stop()
        print(prof.output_text(unicode=False, color=False))


if __name__ == "__main__":
    main()
