"""Compile ``RuleSpec``s into plain callables, once per ruleset.

Each predicate becomes a closure ``pred(event, facts) -> bool`` over values bound
at compile time (list objects, compiled regexes, frozensets), by its compile
function in the predicate table (``gateway.engine.predicates``); counters become
closures that count and compare. No ``eval``; nothing is looked up by name on the
hot path. What a ruleset compiles against is one ``RuleContext``.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field, replace
from typing import Any

from gateway.content.facts import Facts
from gateway.content.literals import LiteralIndex, new_index
from gateway.engine.keys import KeyFn, key_function
from gateway.engine.predicates import PREDICATES, Pred
from gateway.engine.schema import (
    COUNTER_VALUES,
    COUNTERS,
    RuleError,
    RuleSpec,
    parse_counter_key,
)
from gateway.lists.registry import ListRegistry
from gateway.model import Event
from gateway.state import Counters

__all__ = ["CompiledRule", "Facts", "RuleContext", "compile_rule"]

Counter = Callable[[Event, "Facts"], bool]
Flag = Callable[[Event], None]


@dataclass(frozen=True, slots=True)
class CompiledRule:
    id: str
    spec: RuleSpec
    preds: tuple[Pred, ...]
    counters: tuple[Counter, ...]
    flag: Flag | None
    action: str | None  # "ALLOW" | "WARN" | "BLOCK" | None (score rule)
    score: float
    reason: str
    #: the rule's ``text_keywords`` when they are all whole words: it cannot hold for a
    #: text without one of them, which the engine tells for every such rule at once
    gate: frozenset[str] | None = None
    #: the strings one of which a ``text_regex`` of the rule needs in the text (the
    #: ruleset's literal index finds them all in one pass): the gate of a rule
    #: without whole keywords
    literal_gate: frozenset[str] | None = None
    #: the plugin symbols one of which the rule needs (a ``symbol`` or
    #: ``symbols_all`` condition): on most events no plugin emits any, and the engine
    #: skips every such rule at once; the first gate a rule is given (before keywords)
    symbol_gate: frozenset[str] | None = None
    #: this rule's bit in the ruleset's symbol, keyword or literal index
    #: (``Ruleset.sym_bits``, ``Ruleset.kw_bits``, ``Ruleset.lit_bits``), 0 if none
    gate_bit: int = 0


@dataclass(slots=True)
class RuleContext:
    """What rules compile against, one per ruleset: the lists and counters their
    closures bind, the expiring lists and plugin symbols they may name, the home
    region (``HOME``, local time), the rate table and the index of the strings its
    regexes require; and, while one rule compiles
    (``for_rule``), that rule and the ruleset's list of mistakes it adds to."""

    lists: ListRegistry
    state: Counters
    dynamic: frozenset[str] = frozenset()
    symbols: frozenset[str] = frozenset()
    home: str = "GB"
    rates: Any = None
    spec: RuleSpec | None = None
    errors: list[RuleError] = field(default_factory=list)
    #: the strings the ruleset's text_regex patterns require, found in a text in one
    #: pass (``gateway.content.literals``); None without pyahocorasick
    literals: LiteralIndex | None = field(default_factory=new_index)

    def for_rule(self, spec: RuleSpec) -> RuleContext:
        """The context of one rule; its mistakes go to this context's ``errors``."""
        return replace(self, spec=spec)

    @property
    def rule(self) -> RuleSpec:
        """The rule being compiled (only in a context ``for_rule`` made)."""
        assert self.spec is not None, "a ruleset's context: use for_rule(spec)"
        return self.spec

    def err(self, key: str, msg: str) -> None:
        s = self.rule
        self.errors.append(RuleError(s.file, s.line_of(key), s.id, msg))


def _keyfn(ctx: RuleContext, where: str, name: Any) -> KeyFn | None:
    """The key (or member) function of a counter (``gateway.engine.keys``)."""
    try:
        parts = parse_counter_key(name)
    except ValueError as e:
        ctx.err(where, str(e))
        return None
    return key_function(parts)


def _window(ctx: RuleContext, where: str, value: Any) -> tuple[float, bool] | None:
    if value == "day":
        return 86400.0, True
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        ctx.err(where, f"window must be seconds > 0 or \"day\", got {value!r}")
        return None
    return float(value), False


def _counter(ctx: RuleContext, kind: str, spec: Any) -> Counter | None:
    if not isinstance(spec, dict):
        ctx.err(kind, f"{kind} takes a table {{{', '.join(COUNTERS[kind])}}}")
        return None
    # count reads another rule's counter: it may test it from below (``under``), e.g.
    # "this sender has sent fewer than 10 messages today"
    below = kind == "count" and "under" in spec and "over" not in spec
    required = [k for k in COUNTERS[kind] if not (below and k == "over")]
    missing = [k for k in required if k not in spec]
    extra = set(spec) - set(required) - {"name"} - ({"under"} if below else set())
    if missing or extra:
        alt = " (or under instead of over)" if kind == "count" else ""
        ctx.err(kind, f"{kind} takes {{{', '.join(COUNTERS[kind])}}}{alt} and optionally name"
                + (f"; missing {', '.join(missing)}" if missing else "")
                + (f"; unknown {', '.join(sorted(extra))}" if extra else ""))
        return None
    bound = "under" if below else "over"
    over = spec[bound]
    if isinstance(over, bool) or not isinstance(over, int | float):
        ctx.err(kind, f"{bound} must be a number, got {over!r}")
        return None
    win = _window(ctx, kind, spec["window"])
    keyf = _keyfn(ctx, kind, spec["key"])
    if win is None or keyf is None:
        return None
    window, daily = win
    name = str(spec.get("name") or ctx.rule.id)
    st = ctx.state
    limit = float(over)

    def daily_bucket(ev: Event, f: Facts) -> Hashable:
        return (keyf(ev, f), int(ev.ts // 86400))

    bucket = daily_bucket if daily else keyf

    if kind == "rate":
        return lambda ev, f: st.hit(name, bucket(ev, f), ev.ts, window) > limit
    if kind == "count":
        if below:
            return lambda ev, f: st.peek(name, bucket(ev, f), ev.ts, window) < limit
        return lambda ev, f: st.peek(name, bucket(ev, f), ev.ts, window) > limit
    if kind == "distinct":
        memberf = _keyfn(ctx, kind, spec["of"])
        if memberf is None:
            return None
        return lambda ev, f: st.distinct(name, bucket(ev, f), memberf(ev, f), ev.ts,
                                         window) > limit
    value = spec["value"]
    if value not in COUNTER_VALUES:
        ctx.err(kind, f"sum value must be one of {', '.join(COUNTER_VALUES)}, got {value!r}")
        return None
    amount: Callable[[Event], float]
    if value == "one":
        amount = lambda ev: 1.0  # noqa: E731
    elif value == "billsec":
        amount = lambda ev: float(ev.billsec or 0.0)  # noqa: E731
    elif value == "duration":
        amount = lambda ev: float(ev.duration or 0.0)  # noqa: E731
    elif value == "parts":
        amount = lambda ev: float(ev.parts)  # noqa: E731
    else:
        rates = ctx.rates
        if rates is None:
            ctx.err(kind, "sum of cost needs a rate table (rates.txt in the lists dir)")
            return None
        amount = lambda ev: rates.cost(ev.dst, ev.billsec or 0.0)  # noqa: E731
    return lambda ev, f: st.hit(name, bucket(ev, f), ev.ts, window, amount(ev)) > limit


def _flag(ctx: RuleContext, spec: dict[str, Any]) -> Flag:
    name = str(spec["list"])
    ttl = float(spec.get("ttl", 86400))
    side = spec.get("key", "src")
    st = ctx.state
    if "_range:" in side:  # the number's range: the first N digits, keyed as a number
        atom, digits = side.split(":")
        range_of = key_function(((atom, int(digits)),))
        return lambda ev: st.flag(name, range_of(ev, Facts(ev)), ev.ts, ttl)

    def flag(ev: Event) -> None:
        n = ev.src if side == "src" else ev.dst
        st.flag(name, n.key or n.text, ev.ts, ttl)

    return flag


def compile_rule(spec: RuleSpec, context: RuleContext) -> CompiledRule | None:
    """The rule compiled against ``context``, or None: its mistakes are then in
    ``context.errors`` (``file:line: rule-id: message``)."""
    ctx = context.for_rule(spec)
    mistakes = len(ctx.errors)
    preds: list[Pred] = []
    counters: list[Counter] = []
    for key, value in spec.when.items():
        if key in COUNTERS:
            # an array of tables is several counters of one kind, all of which must
            # hold; the second and later are named "<rule id>#2"... unless they say
            tables = value if isinstance(value, list) and value else [value]
            for n, table in enumerate(tables, 1):
                if n > 1 and isinstance(table, dict) and "name" not in table:
                    table = {**table, "name": f"{spec.id}#{n}"}
                c = _counter(ctx, key, table)
                if c is not None:
                    counters.append(c)
    # all must hold, so the order changes cost, not meaning: cheapest first
    for key in sorted((k for k in spec.when if k in PREDICATES),
                      key=lambda k: PREDICATES[k].cost):
        entry, value = PREDICATES[key], spec.when[key]
        if entry.kind == "bool" and not isinstance(value, bool):
            ctx.err(key, f"{key} takes true or false, got {value!r}")
            continue
        p = entry.compile(ctx, key, value)
        if p is not None:
            preds.append(p)
    if len(ctx.errors) > mistakes:
        return None
    return CompiledRule(
        id=spec.id,
        spec=spec,
        preds=tuple(preds),
        counters=tuple(counters),
        flag=_flag(ctx, spec.flag) if spec.flag else None,
        action=spec.action,
        score=spec.score,
        reason=spec.reason,
        gate=next((g for p in preds if (g := getattr(p, "gate", None)) is not None), None),
        literal_gate=next((g for p in preds
                           if (g := getattr(p, "literal_gate", None)) is not None), None),
        symbol_gate=next((g for p in preds
                          if (g := getattr(p, "symbol_gate", None)) is not None), None),
    )
