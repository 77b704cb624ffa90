"""Compile ``RuleSpec``s into plain callables, once per ruleset.

Each predicate becomes a closure ``pred(event, facts) -> bool`` over values bound
at compile time (list objects, compiled regexes, frozensets); counters become
closures that count and compare. No ``eval``; nothing is looked up by name on the
hot path.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

import structlog

from gateway.content.facts import Facts
from gateway.content.regex import compile_operator_regex
from gateway.engine.call_predicates import CALL_PREDICATES, call_predicate, home_group
from gateway.engine.call_predicates import COSTS as CALL_COSTS
from gateway.engine.keys import KeyFn, in_flagged_range, key_function
from gateway.engine.schema import (
    COUNTER_VALUES,
    COUNTERS,
    NUMBER_CLASSES,
    PREDICATES,
    RuleError,
    RuleSpec,
    parse_counter_key,
)
from gateway.lists.numberset import NumberSet
from gateway.lists.registry import ListRegistry
from gateway.lists.senders import SenderRegistry, SenderStatus
from gateway.lists.stringset import StringSet
from gateway.model import Event
from gateway.numbers import Number, NumberKind
from gateway.state import Counters

__all__ = ["CompiledRule", "Facts", "compile_rule"]

Pred = Callable[[Event, "Facts"], bool]
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


class _Ctx:
    """Compile-time context: where to look names up and how to report mistakes."""

    def __init__(self, spec: RuleSpec, lists: ListRegistry, state: Counters,
                 dynamic: frozenset[str], symbols: frozenset[str], home_region: str,
                 rates: Any) -> None:
        self.spec = spec
        self.state = state
        self.lists = lists
        self.dynamic = dynamic
        self.symbols = symbols
        self.home = home_region
        self.rates = rates
        self.errors: list[RuleError] = []

    def err(self, key: str, msg: str) -> None:
        s = self.spec
        self.errors.append(RuleError(s.file, s.line_of(key), s.id, msg))


def _names(value: Any) -> tuple[str, ...]:
    return tuple(value) if isinstance(value, list) else (value,)


def _number_membership(ctx: _Ctx, key: str, names: tuple[str, ...]
                       ) -> Callable[[Number, float], bool] | None:
    """One closure testing a Number against every named list (static or dynamic)."""
    numsets: list[NumberSet] = []
    strsets: list[StringSet] = []
    dyn: list[str] = []
    for name in names:
        if not isinstance(name, str):
            ctx.err(key, f"{key} takes list names, got {name!r}")
            return None
        lst = ctx.lists.get(name)
        if isinstance(lst, NumberSet):
            numsets.append(lst)
        elif isinstance(lst, StringSet):
            if lst.kind == "domain":
                ctx.err(key, f"{name!r} is a domain list: use url_domain_in")
                return None
            strsets.append(lst)
        elif name not in ctx.dynamic:
            ctx.err(key, f"unknown list {name!r}")
            return None
        if name in ctx.dynamic:
            dyn.append(name)
    if not dyn and len(numsets) == 1 and not strsets:
        (ns,) = numsets
        return lambda n, ts: ns.contains(n.key)
    if len(dyn) == 1 and not numsets and not strsets:  # one expiring list alone
        flagged, only = ctx.state.flagged, dyn[0]
        return lambda n, ts: flagged(only, n.key or n.text, ts)
    st = ctx.state

    def test(n: Number, ts: float) -> bool:
        k = n.key
        for ns in numsets:
            if ns.contains(k):
                return True
        for ss in strsets:
            if n.text in ss:
                return True
        if dyn:
            ident = k or n.text
            for name in dyn:
                if st.flagged(name, ident, ts):
                    return True
        return False

    return test


def _predicate(ctx: _Ctx, key: str, value: Any) -> Pred | None:
    kind = PREDICATES[key]
    side = key.split("_", 1)[0]
    getter: Callable[[Event], Number] = attrgetter(side)
    if key in ("src_range_in", "dst_range_in"):
        name = value
        if not isinstance(name, str) or name not in ctx.dynamic:
            ctx.err(key, f"{key} takes the name of an expiring list of ranges (a rule's "
                    f"flag list or a dynamic_lists name), got {value!r}")
            return None
        in_range = in_flagged_range(ctx.state.flagged, name)
        return lambda ev, f: in_range(getter(ev), ev.ts)
    if key in ("src_in", "dst_in", "src_not_in", "dst_not_in"):
        test = _number_membership(ctx, key, _names(value))
        if test is None:
            return None
        one = ctx.lists.get(value) if isinstance(value, str) else None
        if isinstance(one, NumberSet | StringSet) and value not in ctx.dynamic \
                and not key.endswith("_not_in"):
            # one static list (the usual rule): its lookup with no frame between;
            # ``contains`` is read per call, as a number list rebinds it when it changes
            ident = attrgetter(f"{side}.key" if isinstance(one, NumberSet) else f"{side}.text")
            return lambda ev, f: one.contains(ident(ev))
        if key.endswith("_not_in"):
            return lambda ev, f: not test(getter(ev), ev.ts)
        return lambda ev, f: test(getter(ev), ev.ts)
    if kind == "bool" and not isinstance(value, bool):
        ctx.err(key, f"{key} takes true or false, got {value!r}")
        return None
    if key in ("src_class", "dst_class"):
        classes = _names(value)
        bad = [c for c in classes if c not in NUMBER_CLASSES]
        if bad:
            ctx.err(key, f"unknown number class {bad[0]!r}: one of {', '.join(NUMBER_CLASSES)}")
            return None
        kinds = frozenset(NumberKind(c) for c in classes)
        kind_of = attrgetter(f"{side}.kind")
        return lambda ev, f: kind_of(ev) in kinds
    if key in ("src_possible", "dst_possible"):
        return lambda ev, f: getter(ev).kind is NumberKind.E164 and getter(ev).possible is value
    if key in ("src_international", "dst_international"):
        international = attrgetter(f"{side}.international")
        return lambda ev, f: international(ev) is value
    if key in ("src_country", "dst_country", "src_country_not", "dst_country_not"):
        codes = _names(value)
        if any(not isinstance(c, str) or not (c == "HOME" or len(c) in (2, 3)) for c in codes):
            ctx.err(key, f"{key} takes ISO 3166 codes or \"HOME\", got {value!r}")
            return None
        regions = frozenset(r for c in codes  # HOME: GB with GG, IM, JE
                            for r in (home_group(ctx.home) if c == "HOME" else (c.upper(),)))
        region_of = attrgetter(f"{side}.region")
        if key.endswith("_not"):
            return lambda ev, f: region_of(ev) not in regions
        return lambda ev, f: region_of(ev) in regions
    if key in ("route", "route_not"):
        globs = _names(value)
        if any(not isinstance(g, str) for g in globs):
            ctx.err(key, f"{key} takes glob patterns, got {value!r}")
            return None
        rx = re.compile("|".join(fnmatch.translate(g) for g in globs))
        if key == "route":
            return lambda ev, f: rx.match(ev.route) is not None
        return lambda ev, f: rx.match(ev.route) is None
    if key == "text_regex":  # RE2 (gateway.content.regex): no pattern can stall the loop
        try:
            operator_rx = compile_operator_regex(_names(value))
        except (re.error, TypeError) as e:
            ctx.err(key, f"bad regular expression: {e}")
            return None
        if operator_rx.engine != "re2":
            structlog.get_logger("spamgw.rules").warning(
                "text_regex matched with Python re, which backtracks", engine=operator_rx.engine,
                rule=f"{ctx.spec.file}:{ctx.spec.line_of(key)}: {ctx.spec.id}")
        search = operator_rx.search
        return lambda ev, f: bool(ev.text) and search(ev.text or "")
    if key == "text_keywords":
        words = _names(value)
        if not words or any(not isinstance(w, str) or not w.strip() for w in words):
            ctx.err(key, "text_keywords takes a list of non-empty words")
            return None
        kw = re.compile(r"(?<!\w)(?:" + "|".join(re.escape(w.casefold()) for w in words)
                        + r")(?!\w)")
        return lambda ev, f: bool(ev.text) and kw.search(f.fold()) is not None
    if key == "has_text":
        return lambda ev, f: bool(ev.text) is value
    if key == "has_url":
        return lambda ev, f: bool(f.domains()) is value
    if key == "url_domain_in":
        sets: list[StringSet] = []
        for name in _names(value):
            lst = ctx.lists.get(name)
            if not isinstance(lst, StringSet) or lst.kind != "domain":
                ctx.err(key, f"{name!r} is not a domain list (*_domains.txt)")
                return None
            sets.append(lst)

        def domain_in(ev: Event, f: Facts) -> bool:
            domains = f.domains()
            if domains:
                for s in sets:
                    for d in domains:
                        if s.contains(d):
                            return True
            return False

        return domain_in
    if key in _SENDER_STATUS:
        if not isinstance(value, str):
            ctx.err(key, f"{key} takes the name of a sender registry, got {value!r}")
            return None
        reg = ctx.lists.registry(value)
        if reg is None:
            ctx.err(key, f"unknown sender registry {value!r} (registered_*_senders.txt "
                    "in the lists dir)")
            return None
        return _sender_status(reg, key)
    if key == "symbol":
        wanted = _names(value)
        # a typo within a loaded plugin's namespace is an error; a symbol of a plugin
        # that is not loaded (disabled by the operator) simply never hits
        spaces = {s.split(".", 1)[0] for s in ctx.symbols}
        typos = [s for s in wanted if s not in ctx.symbols and s.split(".", 1)[0] in spaces]
        if typos:
            ctx.err(key, f"no loaded plugin emits symbol {typos[0]!r}")
            return None
        wanted_set = frozenset(wanted)
        # no symbols (most events, or no plugins loaded) answers with one truth test
        return lambda ev, f: bool(f.symbols) and not wanted_set.isdisjoint(f.symbols)
    if key == "ring_under":
        if isinstance(value, bool) or not isinstance(value, int | float):
            ctx.err(key, "ring_under takes seconds")
            return None
        limit = float(value)

        def ring(ev: Event, f: Facts) -> bool:
            r = ev.ring_seconds
            return r is not None and r < limit

        return ring
    if key == "answered":
        return lambda ev, f: ev.answered is value
    if key == "dialstatus":
        statuses = frozenset(str(s).upper() for s in _names(value))
        return lambda ev, f: (ev.dialstatus or "").upper() in statuses
    if key in CALL_PREDICATES:
        return call_predicate(ctx, key, value)
    if key == "details":
        if not isinstance(value, dict):
            ctx.err(key, "details takes a table of protocol fields")
            return None
        items = tuple(value.items())
        return lambda ev, f: all(ev.details.get(k) == v for k, v in items)
    ctx.err(key, f"unknown predicate {key!r}")  # pragma: no cover - schema checks names
    return None


#: registry predicate -> the status it tests (``sender_not_registered``: any but this)
_SENDER_STATUS = {
    "sender_registered": SenderStatus.REGISTERED,
    "sender_not_registered": SenderStatus.REGISTERED,
    "sender_spoofed": SenderStatus.SPOOFED,
    "sender_out_of_scope": SenderStatus.OUT_OF_SCOPE,
}


def _sender_status(reg: SenderRegistry, key: str) -> Pred:
    """The source against a sender registry: its route and destination country."""
    wanted = _SENDER_STATUS[key]
    status = reg.status_of
    if key == "sender_not_registered":
        return lambda ev, f: status(ev) is not wanted
    return lambda ev, f: status(ev) is wanted


def _keyfn(ctx: _Ctx, where: str, name: Any) -> KeyFn | None:
    """The key (or member) function of a counter (``gateway.engine.keys``)."""
    try:
        parts = parse_counter_key(name)
    except ValueError as e:
        ctx.err(where, str(e))
        return None
    return key_function(parts)


def _window(ctx: _Ctx, where: str, value: Any) -> tuple[float, bool] | None:
    if value == "day":
        return 86400.0, True
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        ctx.err(where, f"window must be seconds > 0 or \"day\", got {value!r}")
        return None
    return float(value), False


def _counter(ctx: _Ctx, kind: str, spec: Any) -> Counter | None:
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
    name = str(spec.get("name") or ctx.spec.id)
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


def _flag(ctx: _Ctx, spec: dict[str, Any]) -> Flag:
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


#: evaluation order of predicates (all must hold, so order changes cost, not meaning):
#: attribute tests first, list lookups next, text last; URL domains before keywords and
#: regexes, as ``Facts`` extracts them once for every URL predicate of the event
_COST = {
    "src_class": 0, "dst_class": 0, "src_possible": 0, "dst_possible": 0,
    "src_international": 0, "dst_international": 0, "src_country": 0, "dst_country": 0,
    "src_country_not": 0, "dst_country_not": 0, "has_text": 0, "answered": 0,
    "ring_under": 0, "dialstatus": 0, "symbol": 1, "details": 1, "route": 2,
    "route_not": 2, "src_in": 3, "dst_in": 3, "src_not_in": 3, "dst_not_in": 3,
    "sender_registered": 3, "sender_not_registered": 3, "sender_spoofed": 3,
    "sender_out_of_scope": 3, "src_range_in": 3, "dst_range_in": 3, "has_url": 4,
    "url_domain_in": 4, "text_keywords": 5, "text_regex": 7,
}


_COST.update(CALL_COSTS)


def compile_rule(spec: RuleSpec, ctx: _Ctx) -> CompiledRule | None:
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
    for key in sorted((k for k in spec.when if k in PREDICATES), key=lambda k: _COST.get(k, 4)):
        p = _predicate(ctx, key, spec.when[key])
        if p is not None:
            preds.append(p)
    if ctx.errors:
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
    )


def new_context(spec: RuleSpec, lists: ListRegistry, state: Counters, dynamic: frozenset[str],
                symbols: frozenset[str], home_region: str, rates: Any) -> _Ctx:
    return _Ctx(spec, lists, state, dynamic, symbols, home_region, rates)
