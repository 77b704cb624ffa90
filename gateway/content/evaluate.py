"""What the whole gateway does with labelled messages: ``spamgw eval``'s second table.

``verdicts`` runs texts through a fresh gateway (the shipped rules, lists and plugins,
or a config's; in-memory counters; no audit, no live statistics: the path
``spamgw replay`` takes), each as an inbound SMS from its own UK mobile number to its
own recipient, 30 s apart, so no volume rule fires for the corpus's sake; ``judge``
gives their actions. ``tally`` and ``format_table`` count and print the actions per
label; ``write_errors`` lists the messages the gateway got wrong.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gateway.model import Verdict

__all__ = ["ACTIONS", "format_table", "judge", "tally", "verdicts", "write_errors"]


def _uk_mobiles(rng: random.Random, n: int) -> list[str]:
    """``n`` distinct UK mobile numbers (07[4-9]xx xxxxxx, never 070 or 076)."""
    return ["+447" + str(k // 10**8 + 4) + f"{k % 10**8:08d}"
            for k in rng.sample(range(6 * 10**8), n)]


def judge(texts: Sequence[str], *, model: str | Path | None = None, config: str | None = None,
          seed: int = 0, first: int = 0, fraud_model: str | Path | None = None) -> list[str]:
    """``verdicts``' actions, ``BLOCK``/``WARN``/``ALLOW``."""
    return [v.action.value for v in verdicts(texts, model=model, config=config, seed=seed,
                                              first=first, fraud_model=fraud_model)]


def verdicts(texts: Sequence[str], *, model: str | Path | None = None,
             config: str | None = None, seed: int = 0, first: int = 0,
             fraud_model: str | Path | None = None) -> list[Verdict]:
    """Each text as an inbound SMS from its own UK mobile to its own recipient, 30 s
    apart, through a fresh gateway (the shipped rules, lists and plugins, or
    ``config``'s, with in-memory counters and no audit); its classifier ``model``
    and ``fraud_model`` if given (``""``: none). Returns the verdicts, in order."""
    from gateway.app import build_core
    from gateway.config import load_config
    from gateway.engine.examples import EPOCH, event_from_fields
    from gateway.state.memory import MemoryCounters

    cfg = load_config(config)
    root = Path(__file__).resolve().parents[2]
    if config is None and (root / "rules").is_dir():  # a source tree: its shipped rules
        cfg = replace(cfg, rules=replace(cfg.rules, dir=str(root / "rules")),
                      lists=replace(cfg.lists, dir=str(root / "rules" / "lists")),
                      plugins=replace(cfg.plugins, dir=str(root / "plugins")))
    chosen = {k: str(v) for k, v in (("model", model), ("fraud_model", fraud_model))
              if v is not None}
    if chosen:
        options = dict(cfg.plugins.options)
        options["classifier"] = {**options.get("classifier", {}), **chosen}
        cfg = replace(cfg, plugins=replace(cfg.plugins, options=options))
    cfg = replace(cfg, log=replace(cfg.log, audit=""))
    core = build_core(cfg, state=MemoryCounters())
    core.engine.observer = None
    rng = random.Random(seed * 1_000_003 + first)
    numbers = _uk_mobiles(rng, 2 * len(texts))
    out: list[Verdict] = []
    for i, text in enumerate(texts):
        ev = event_from_fields({"src": numbers[2 * i], "dst": numbers[2 * i + 1],
                                "text": text}, core.numbering, ts=EPOCH + 30.0 * i)
        out.append(core.engine.evaluate(ev))
    return out


ACTIONS = ("BLOCK", "WARN", "ALLOW")


def tally(actions: Sequence[str], labels: Sequence[int]) -> dict[str, dict[str, int]]:
    """label (``spam``, ``ham``) -> action -> messages."""
    t = {label: dict.fromkeys(ACTIONS, 0) for label in ("spam", "ham")}
    for a, y in zip(actions, labels, strict=True):
        t["spam" if y else "ham"][a] += 1
    return t


def format_table(t: dict[str, dict[str, int]]) -> str:
    lines = [f"  {'label':6} {'messages':>9}" + "".join(f" {a:>16}" for a in ACTIONS)]
    for label, row in t.items():
        n = sum(row.values())
        cells = "".join(f" {f'{row[a]} ({100 * row[a] / n if n else 0.0:.2f}%)':>16}"
                        for a in ACTIONS)
        lines.append(f"  {label:6} {n:>9}{cells}")
    return "\n".join(lines)


def write_errors(path: str | Path, texts: Sequence[str], labels: Sequence[int],
                 judged: Sequence[Verdict]) -> int:
    """What the whole gateway got wrong, one line each: ``label<TAB>action<TAB>rule
    ids and symbols (comma-separated)<TAB>text`` for spam it did not block and ham it
    blocked or warned. Returns the lines written."""
    n = 0
    with open(path, "w", encoding="utf-8") as f:
        for text, label, v in zip(texts, labels, judged, strict=True):
            action = v.action.value
            if (action != "BLOCK") if label else (action != "ALLOW"):
                f.write(f"{'spam' if label else 'ham'}\t{action}\t{','.join(v.rules)}\t"
                        f"{' '.join(text.split())}\n")
                n += 1
    return n
