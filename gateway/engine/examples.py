"""Run the examples rule files carry (``spamgw rules test``).

Each example gets a fresh set of counters and a ruleset compiled against them, so
examples never see each other's traffic (a plugin with memory of its own, such as
who texted whom, starts afresh too when it has ``reset(state)``). An example is one
event (fields as in ``spamgw check``) that may be repeated (``repeat``, with ``vary = "dst"`` or
``"src"`` giving each repetition a different number, spread over many number
ranges as real recipients are; ``"dst_sequence"``/``"src_sequence"`` give consecutive
numbers of one range instead, the pattern of number-range pumping; ``"text"`` fills
each ``{token}`` of the text with a new random-looking word, as campaigns that
defeat exact-text counters do; ``vary = ["src", "text"]`` varies both) after ``setup`` events and
with ``given`` expiring-list entries (``given = {srs_listed = ["+4477..."]}``); the
verdict of the last event must have action ``expect`` and, unless ``hits = false``,
list the rule's id.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from gateway.engine import Engine
from gateway.engine.loader import compile_ruleset, parse_rules_dir, unprovided_symbols
from gateway.engine.plugins import Plugin
from gateway.engine.schema import RuleError, RuleErrors, RuleSpec
from gateway.lists.registry import ListRegistry
from gateway.model import Channel, Direction, Event, Phase, Verdict
from gateway.numbers import Number, Numbering, NumberMemo
from gateway.state.memory import MemoryCounters

__all__ = ["ExampleFailure", "event_from_fields", "run_examples"]

EPOCH = 1_790_000_000.0  # a fixed clock start so examples are repeatable


@dataclass(frozen=True, slots=True)
class ExampleFailure:
    error: RuleError


def _vary(n: Number, i: int, numbering: Numbering, sequence: bool = False) -> Number:
    if not n.digits or not i:
        return n
    # spread: each repetition in another range of the first len-3 digits
    step = 1 if sequence or n.kind.value != "e164" else 10 ** max(0, len(n.digits) - 7) + 1
    digits = str(int(n.digits) + i * step).zfill(len(n.digits))
    return numbering.e164(digits) if n.kind.value == "e164" else numbering.short(digits)


def _tokens(text: str | None, i: int) -> str | None:
    """``text`` with each ``{token}`` a word of its own for repetition ``i``."""
    if not text:
        return text
    parts = text.split("{token}")
    out = [parts[0]]
    for n, rest in enumerate(parts[1:]):
        h = (i * 0x9E3779B1 + n * 0x85EBCA6B + 0x27D4EB2F) & 0xFFFFFFFF
        word = ""
        for _ in range(5):
            h, r = divmod(h, 36)
            word += "abcdefghijklmnopqrstuvwxyz0123456789"[r]
        out.append(word + rest)
    return "".join(out)


def event_from_fields(fields: dict[str, Any], numbering: Numbering | NumberMemo, *,
                      channel: str = "sms",
                      direction: str = "in", ts: float | None = None) -> Event:
    """An ``Event`` from plain fields (examples, ``spamgw check``, replay files)."""
    ch = Channel(fields.get("channel", channel))

    def number(value: Any, ton: Any) -> Number:
        s = str(value if value is not None else "")
        if ton is not None:
            return numbering.from_smpp(s, int(ton))
        if ch is Channel.SMS and s and not s.lstrip("+").isdigit() and len(s) <= 11:
            return numbering.alphanumeric(s)
        return numbering.from_caller_id(s)

    kwargs: dict[str, Any] = {}
    if ts is not None:
        kwargs["ts"] = ts
    elif "ts" in fields:
        kwargs["ts"] = float(fields["ts"])
    return Event(
        channel=ch,
        direction=Direction(fields.get("direction", direction)),
        src=number(fields.get("src"), fields.get("src_ton")),
        dst=number(fields.get("dst"), fields.get("dst_ton")),
        text=fields.get("text"),
        route=str(fields.get("route", "")),
        phase=Phase(fields.get("phase", "attempt")),
        duration=fields.get("duration"),
        billsec=fields.get("billsec"),
        dialstatus=fields.get("dialstatus"),
        details=dict(fields.get("details", {})),
        **kwargs,
    )


class _Run:
    def __init__(self, engine: Engine, numbering: Numbering, spec: RuleSpec) -> None:
        self.engine = engine
        self.numbering = numbering
        self.spec = spec
        self.clock = EPOCH

    def send(self, fields: dict[str, Any]) -> Verdict:
        channel = "sms" if "sms" in self.spec.channels else "call"
        direction = "in" if "in" in self.spec.directions else "out"
        base = event_from_fields(fields, self.numbering, channel=channel, direction=direction)
        repeat = int(fields.get("repeat", 1))
        vary_f = fields.get("vary", "none")
        vary = set(vary_f) if isinstance(vary_f, list) else {vary_f}
        interval = float(fields.get("interval", 1.0))
        verdict: Verdict | None = None
        for i in range(repeat):
            ev = Event(
                channel=base.channel, direction=base.direction,
                src=_vary(base.src, i, self.numbering, "src_sequence" in vary)
                if vary & {"src", "src_sequence"} else base.src,
                dst=_vary(base.dst, i, self.numbering, "dst_sequence" in vary)
                if vary & {"dst", "dst_sequence"} else base.dst,
                text=_tokens(base.text, i) if "text" in vary else base.text,
                route=base.route, phase=base.phase, ts=self.clock,
                duration=base.duration, billsec=base.billsec, dialstatus=base.dialstatus,
                details=base.details,
            )
            self.clock += interval
            verdict = self.engine.evaluate(ev)
        assert verdict is not None
        return verdict


def run_examples(directory: str, *, lists: ListRegistry, numbering: Numbering,
                 plugins: Iterable[Plugin] = (), missing_symbols: str = "error"
                 ) -> tuple[int, list[RuleError]]:
    """Returns (examples run, failures). Raises ``RuleErrors`` if the rules are broken.
    With ``missing_symbols = "disable"`` the examples of a rule testing a symbol no
    loaded plugin provides are not run (they are written for that plugin)."""
    files, errors, version = parse_rules_dir(directory)
    if errors:
        raise RuleErrors(errors)
    plugins = tuple(plugins)
    symbols = frozenset(s.name for p in plugins for s in p.symbols)
    failures: list[RuleError] = []
    count = 0
    # one ruleset for every example, its counters emptied before each: compiling the
    # rules once per example made a reload's check cost seconds
    state = MemoryCounters()
    rs = compile_ruleset(files, [], version, lists=lists, state=state, plugins=plugins,
                         home_region=numbering.home_region, missing_symbols=missing_symbols)
    engine = Engine(rs, emergency=lists.emergency, numbering=numbering)
    for rf in files:
        for spec in rf.rules:
            if missing_symbols == "disable" and unprovided_symbols(spec, symbols):
                continue
            for n, ex in enumerate(spec.examples, 1):
                state.clear()
                for p in plugins:  # a plugin's own memory starts afresh with the counters
                    reset = getattr(p, "reset", None)
                    if reset is not None:
                        reset(state)
                run = _Run(engine, numbering, spec)
                count += 1
                try:
                    for list_name, entries in ex.get("given", {}).items():
                        for entry in entries:
                            num = event_from_fields({"src": entry}, numbering).src
                            state.flag(list_name, num.key or num.text, EPOCH, 10 * 86400)
                    for setup in ex.get("setup", []):
                        run.send(setup)
                    v = run.send({k: v for k, v in ex.items() if k not in ("setup",)})
                except (ValueError, TypeError, KeyError) as e:
                    failures.append(RuleError(spec.file, spec.line_of("example"), spec.id,
                                              f"example {n}: cannot build event: {e}"))
                    continue
                want = ex.get("expect")
                hits = ex.get("hits", want != "ALLOW" or spec.action == "ALLOW")
                problems = []
                if v.action.value != want:
                    problems.append(f"expected {want}, got {v.action.value}")
                if hits and spec.id not in v.rules:
                    problems.append("rule did not hit")
                if not hits and spec.id in v.rules:
                    problems.append("rule hit but the example says hits = false")
                if problems:
                    failures.append(RuleError(
                        spec.file, spec.line_of("example"), spec.id,
                        f"example {n}: {', '.join(problems)} "
                        f"(score {v.score:g}, rules {list(v.rules)})"))
    return count, failures
