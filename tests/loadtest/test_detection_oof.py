"""``loadtest/bench_detection_oof.py``: each set judged by the whole gateway with a fraud
model that never saw it, on a small recipe (four sets with their look-alikes)."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "loadtest"))

import bench_detection_oof as oof  # noqa: E402

from gateway.content.train import FRAUD_PARAMS, read_rows  # noqa: E402

DATA = ROOT / "loadtest" / "data"


def test_each_set_is_judged_once_by_a_model_that_never_saw_it() -> None:
    sets = [DATA / f"smishing_holdout{n}{s}.tsv" for n in (3, 7, 11, 14) for s in ("", "_ham")]
    ham: list[Path] = []  # (a fold of ham alone would leave a fold model one class)
    judged = oof.oof_verdicts(sets, ham, None, folds=2, seed=1,
                              params=replace(FRAUD_PARAMS, folds=2))
    assert sorted(j.path.name for j in judged) == sorted(p.name for p in [*sets, *ham])
    for j in judged:
        assert len(j.verdicts) == len(read_rows(j.path, "x"))
        pair = j.path.name.replace("_ham.tsv", ".tsv")
        assert j.path.name not in j.trained_on and pair not in j.trained_on
        assert j.trained_on  # the other fold's files
        assert j.kind == ("ham" if j.path in ham else
                          "look-alike" if "_ham" in j.path.name else "fraud")
    # a model trained on a few sets still reads some of an unseen set's frauds: the
    # verdicts are the gateway's with that model, not without one
    frauds = [v for j in judged if j.kind == "fraud" for v in j.verdicts]
    assert any("content.fraud" in rules or "content.fraud_suspect" in rules
               for _, _, rules in frauds)
    assert {action for _, action, _ in frauds} >= {"BLOCK", "ALLOW"}
