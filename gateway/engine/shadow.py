"""Shadow mode: a candidate ruleset judges live traffic beside the active one.

The candidate has its own counters (compiled against a private ``MemoryCounters``),
so its rate and distinct counts and its flags touch nothing live; its verdicts are
only compared. ``Engine.evaluate`` hands every event and the verdict it acted on to
``engine.shadow``; this object counts agreement and keeps a few examples of each
kind of disagreement (active ALLOW vs. candidate BLOCK, ...).
"""

from __future__ import annotations

import time
from collections import Counter, deque
from typing import Any

from gateway.engine import Engine, Ruleset
from gateway.lists.numberset import NumberSet
from gateway.model import Event, Verdict
from gateway.numbers import Numbering

__all__ = ["Shadow"]


class Shadow:
    def __init__(self, ruleset: Ruleset, *, emergency: NumberSet, numbering: Numbering,
                 source: str, examples: int = 20) -> None:
        self.engine = Engine(ruleset, emergency=emergency, numbering=numbering)
        self.source = source
        self.started = time.time()
        self.seen = 0
        self.agreed = 0
        self.pairs: Counter[tuple[str, str]] = Counter()
        self.rule_diffs: Counter[str] = Counter()
        self._keep = examples
        self.examples: dict[tuple[str, str], deque[dict[str, Any]]] = {}

    @property
    def ruleset(self) -> Ruleset:
        return self.engine.ruleset

    def __call__(self, ev: Event, active: Verdict) -> None:
        cand = self.engine.evaluate(ev)
        self.seen += 1
        if cand.action is active.action:
            self.agreed += 1
            return
        key = (active.action.value, cand.action.value)
        self.pairs[key] += 1
        for r in set(cand.rules).symmetric_difference(active.rules):
            self.rule_diffs[r] += 1
        ex = self.examples.get(key)
        if ex is None:
            ex = self.examples[key] = deque(maxlen=self._keep)
        ex.append({
            "ts": ev.ts, "channel": ev.channel.value, "direction": ev.direction.value,
            "src": str(ev.src), "dst": str(ev.dst), "route": ev.route,
            "text": (ev.text or "")[:160] if ev.text is not None else None,
            "active": active.to_json(), "shadow": cand.to_json(),
        })

    def report(self) -> dict[str, Any]:
        disagreements = [
            {"active": a, "shadow": s, "count": n, "examples": list(self.examples[(a, s)])}
            for (a, s), n in self.pairs.most_common()
        ]
        return {
            "source": self.source,
            "version": self.ruleset.version,
            "started": self.started,
            "events": self.seen,
            "agreed": self.agreed,
            "disagreed": self.seen - self.agreed,
            "disagreements": disagreements,
            "rules": [{"rule": r, "count": n} for r, n in self.rule_diffs.most_common(20)],
        }
