"""The engine: one ``evaluate(Event) -> Verdict`` for every adapter.

It holds an immutable compiled ``Ruleset``; ``swap`` replaces it with one
assignment. Evaluation order:

1. protected destinations (emergency numbers, configured protected numbers) are
   allowed before anything else, and nothing after can change that;
2. allow rules (allowlists) in file order: the first hit ends with ALLOW;
3. plugins add their symbols and scores;
4. every other rule: BLOCK/WARN actions, scores that add up, counters, flags;
5. BLOCK if a BLOCK rule hit or the score reached ``block``; WARN likewise.

An exception anywhere in 2-5 gives the fail-mode verdict (ALLOW by default),
counted in ``errors`` and logged; a failing plugin is skipped the same way.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import compress

import structlog

from gateway.content.literals import LiteralIndex
from gateway.engine.compiler import CompiledRule, Facts
from gateway.engine.plugins import Plugin
from gateway.lists.numberset import NumberSet
from gateway.model import ALLOW, Action, Event, SmsBlock, Verdict
from gateway.numbers import Numbering

__all__ = ["Engine", "Ruleset"]

log = structlog.get_logger("spamgw.engine")

Key = tuple[str, str, str]  # channel, direction, phase
_NO_RULES: tuple[CompiledRule, ...] = ()
_NO_MASKS = (0, 0)
#: a mask written out in binary, "0" and "1", to the flags compress() reads
_TO_FLAGS = bytes.maketrans(b"01", b"\x00\x01")


@dataclass(frozen=True, slots=True)
class Ruleset:
    version: str
    rules: tuple[CompiledRule, ...]
    #: per scope, its ALLOW rules (judged first, in order); its other rules are walked by
    #: their bits in ``masks``
    index: dict[Key, tuple[CompiledRule, ...]]
    #: per scope, the position bits of its rules (ALLOW rules apart) and of those no
    #: index gates; a rule's position bit is 1 << (len(rules) - 1 - its place), so
    #: ``format(mask, bit_format)`` reads a mask in rule order
    masks: dict[Key, tuple[int, int]] = field(default_factory=dict, repr=False)
    bit_format: str = "0b"
    warn: float = 5.0
    block: float = 10.0
    plugins: tuple[Plugin, ...] = ()
    symbol_scores: dict[str, float] = field(default_factory=dict)
    symbol_reasons: dict[str, str] = field(default_factory=dict)
    files: tuple[str, ...] = ()
    loaded_at: float = field(default_factory=time.time)
    #: expiring lists the rules test (counters-backend flags)
    dynamic: frozenset[str] = frozenset()
    #: verdicts already built, by (rule ids that hit, score): with the ruleset fixed,
    #: they determine the verdict, and a handful of combinations make most traffic
    verdicts: dict[tuple[tuple[str, ...], float], Verdict] = field(
        default_factory=dict, compare=False, repr=False)
    #: plugin symbol -> the bits (``CompiledRule.gate_bit``) of the rules it opens
    sym_bits: dict[str, int] = field(default_factory=dict, repr=False)
    #: keyword -> the bits (``CompiledRule.gate_bit``) of the rules it opens
    kw_bits: dict[str, int] = field(default_factory=dict, repr=False)
    kw_words: frozenset[str] = frozenset()
    #: required string of a rule's regex -> the bits of the rules it opens, and the
    #: index that finds those strings in a text (None: no literal gate)
    lit_bits: dict[str, int] = field(default_factory=dict, repr=False)
    literals: LiteralIndex | None = field(default=None, compare=False, repr=False)

    def rule(self, rule_id: str) -> CompiledRule | None:
        for r in self.rules:
            if r.id == rule_id:
                return r
        return None


PROTECTED = Verdict(Action.ALLOW, 0.0, ("protected_destination",),
                    "destination is an emergency or protected number")


class Engine:
    def __init__(
        self,
        ruleset: Ruleset,
        *,
        emergency: NumberSet,
        numbering: Numbering,
        fail_mode: str = "open",
        observer: Callable[[Event, Verdict], None] | None = None,
        history: int = 16,
    ) -> None:
        self.ruleset = ruleset
        self.numbering = numbering
        self._emergency = emergency
        self.fail_closed = fail_mode == "closed"
        self.observer = observer
        self.errors = 0  # evaluations that failed (fail-open/closed verdicts)
        self.plugin_errors = 0
        #: rulesets swapped out, newest last (for rollback); SIGHUP and the API share it
        self.history: deque[Ruleset] = deque(maxlen=history)
        #: a candidate ruleset's judge, shown every event and its verdict; acts on nothing
        self.shadow: Callable[[Event, Verdict], None] | None = None

    def swap(self, ruleset: Ruleset) -> Ruleset:
        """Make ``ruleset`` the active one; returns the previous (kept in ``history``)."""
        old, self.ruleset = self.ruleset, ruleset
        if old is not ruleset:
            self.history.append(old)
        return old

    @property
    def plugins(self) -> tuple[Plugin, ...]:
        return self.ruleset.plugins

    def evaluate(self, ev: Event) -> Verdict:
        """Judge one event. Never raises."""
        if self._emergency.contains(ev.dst.key):
            v = PROTECTED
        else:
            try:
                v = self._evaluate(ev, self.ruleset)
            except Exception as e:
                self.errors += 1
                v = self._failed(ev, e)
        if self.observer is not None:
            self.observer(ev, v)
        if self.shadow is not None:
            self.shadow(ev, v)
        return v

    def _failed(self, ev: Event, exc: BaseException) -> Verdict:
        mode = "closed" if self.fail_closed else "open"
        log.error(f"engine error: fail-{mode}", error=repr(exc), channel=ev.channel.value,
                  src=str(ev.src), dst=str(ev.dst), exc_info=exc)
        action = Action.BLOCK if self.fail_closed else Action.ALLOW
        return Verdict(action, 0.0, ("engine_error",), f"engine error (fail-{mode})",
                       failed_open=not self.fail_closed)

    def _evaluate(self, ev: Event, rs: Ruleset) -> Verdict:
        # str-valued enums hash and compare as their values: no .value lookups here
        scope_key = (ev.channel, ev.direction, ev.phase)
        allow_rules = rs.index.get(scope_key, _NO_RULES)
        f = Facts(ev)
        for r in allow_rules:
            if _matches(r, ev, f):
                if r.flag is not None:
                    r.flag(ev)
                key: tuple[tuple[str, ...], float] = ((r.id,), -1.0)  # ids are unique
                v = rs.verdicts.get(key)
                if v is None:
                    v = _remember(rs, key, Verdict(Action.ALLOW, 0.0, (r.id,), r.reason))
                return v
        score = 0.0
        hits: list[str] = []
        reasons: list[str] = []
        if rs.plugins:
            score = self._run_plugins(ev, f, rs, hits, reasons)
        block_rule: CompiledRule | None = None
        warn = False
        # the rules this event's symbols and its text's words open (one set
        # intersection for every rule gated by whole keywords); a gated rule outside
        # them cannot match
        opened = -1  # every bit set: no index, no rule skipped
        if rs.kw_words or rs.literals is not None or rs.sym_bits:
            opened = 0  # no symbol, no text, no keyword, no string
            if f.symbols and rs.sym_bits:
                get = rs.sym_bits.get
                for name in f.symbols:
                    opened |= get(name, 0)
            if ev.text:
                if rs.kw_words:
                    bits = rs.kw_bits
                    for w in rs.kw_words.intersection(f.words()):
                        opened |= bits[w]
                if rs.literals is not None:
                    get = rs.lit_bits.get
                    for a in f.atoms(rs.literals):
                        opened |= get(a, 0)
        # the rules to look at, in order: the scope's ungated rules and the gated ones
        # the event opened, selected in C (one bit string, one compress) rather than
        # by a test of every rule's bit here
        scope, ungated = rs.masks.get(scope_key, _NO_MASKS)
        selected = format((opened | ungated) & scope, rs.bit_format).encode().translate(
            _TO_FLAGS) if scope else b""
        for r in compress(rs.rules, selected):
            # _matches, inlined: this loop runs for every rule the event may match
            matched = True
            for p in r.preds:
                if not p(ev, f):
                    matched = False
                    break
            if not matched:
                continue
            for c in r.counters:  # every counter counts, even after one says no
                if not c(ev, f):
                    matched = False
            if not matched:
                continue
            if r.flag is not None:
                r.flag(ev)
            if r.action is None:
                if not r.score:
                    continue
                score += r.score
            elif r.action == "BLOCK":
                if block_rule is None:
                    block_rule = r
            elif r.action == "WARN":
                warn = True
            hits.append(r.id)
            reasons.append(r.reason)
        if not hits:
            return ALLOW
        key = (tuple(hits), score)
        v = rs.verdicts.get(key)
        if v is not None:
            return v
        if block_rule is not None or score >= rs.block:
            action = Action.BLOCK
        elif warn or score >= rs.warn:
            action = Action.WARN
        else:
            action = Action.ALLOW
        reason = block_rule.reason if block_rule is not None else "; ".join(reasons)
        spec = block_rule.spec if block_rule is not None else None
        return _remember(rs, key, Verdict(
            action,
            score,
            key[0],
            reason[:300],
            sms_status=spec.sms_status if spec is not None and spec.sms_status else 0x65,
            sms_block=SmsBlock(spec.sms_block) if spec is not None and spec.sms_block
            else SmsBlock.REJECT,
        ))

    def _run_plugins(self, ev: Event, f: Facts, rs: Ruleset, hits: list[str],
                     reasons: list[str]) -> float:
        score = 0.0
        channel = ev.channel.value
        for p in rs.plugins:
            if channel not in p.channels:
                continue
            try:
                for hit in p.check(ev, f):
                    name, weight = (hit, 1.0) if isinstance(hit, str) else hit
                    s = rs.symbol_scores.get(name, 0.0) * weight
                    f.symbols[name] = s
                    score += s
                    hits.append(name)
                    reasons.append(rs.symbol_reasons.get(name, name))
            except Exception as e:  # one broken plugin must not stop the others
                self.plugin_errors += 1
                log.error("plugin error: skipped", plugin=p.name, error=repr(e), exc_info=e)
        return score


#: verdicts a ruleset keeps (cleared whole when full: plugin scores vary freely)
_VERDICTS = 4096


def _remember(rs: Ruleset, key: tuple[tuple[str, ...], float], v: Verdict) -> Verdict:
    if len(rs.verdicts) >= _VERDICTS:
        rs.verdicts.clear()
    rs.verdicts[key] = v
    return v


def _matches(r: CompiledRule, ev: Event, f: Facts) -> bool:
    for p in r.preds:
        if not p(ev, f):
            return False
    ok = True
    for c in r.counters:  # every counter counts, even after one says no
        if not c(ev, f):
            ok = False
    return ok
