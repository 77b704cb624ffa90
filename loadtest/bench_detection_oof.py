"""The fraud sets the shipped fraud model trained on, through the whole gateway, each
judged with a fraud model that never saw it: what the gateway does with fraud its model
has not read, measured on the training data alone.

The fraud model's own cross-validated figure (``spamgw train --sets``: a share of the
frauds at 0.1% of the negatives) says what the model alone would block; an operator gets
the gateway, whose rules also use the model's doubt (``content.fraud_suspect`` with a
link or a number to call from a phone number, and more). A change to how the model
decides can help the model and hurt the gateway (docs/classifier.md, the two block
thresholds by contact): this measures the gateway.

The files are those of the shipped model's recipe (its meta names them and their
SHA-256), dealt into folds of whole sets as its training deals them (a set and its
look-alikes together; the corpus's ham in five groups of its own). For each fold a fraud
model is trained on the other folds (``train_model`` with ``FRAUD_PARAMS``: C and its
thresholds chosen by cross-validation inside them), and each file of the fold is judged
as ``bench_detection.py`` judges a set (one SMS each, on fresh counters, through an
unregistered aggregator route) with the shipped rules, lists and plugins and that
model. The rules are not out of fold: they were written with these sets in view, so
the frauds' figure is higher than on sets never read (bench_detection.py's held-out
sets); use it to compare two ways of deciding, not as a field figure.

    python3 loadtest/bench_detection_oof.py [--folds 5] [--seed 101] [--out FILE.jsonl]

Prints, for the frauds, their look-alikes and the other ham files: messages, BLOCK and
WARN, and the frauds by family; ``--out`` writes each message's file, line, family,
action and rules. About 4 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "loadtest"))
sys.path.insert(0, str(ROOT))

import bench_detection as bd  # noqa: E402

from gateway.content.classifier import DEFAULT_FRAUD_MODEL, load_model  # noqa: E402
from gateway.content.train import (  # noqa: E402
    FRAUD_PARAMS,
    Params,
    _group_folds,
    fraud_data,
    fraud_recipe,
    read_rows,
    set_group,
    train_model,
)
from gateway.testing.policy import policy_core  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "sms-spam-collection" / "train.tsv"


@dataclass
class Judged:
    path: Path
    kind: str  # "fraud", "look-alike" (a set's _ham file) or "ham" (a ham file)
    #: the fraud model's training files (the recipe's, less this fold's)
    trained_on: frozenset[str]
    #: (family, action, rules) per line
    verdicts: list[tuple[str, str, list[str]]]


def _kind(path: Path, ham: Sequence[Path]) -> str:
    if path in ham:
        return "ham"
    return "look-alike" if path.name.split(".")[0].endswith("_ham") else "fraud"


def oof_verdicts(sets: Sequence[Path], ham: Sequence[Path], data: Path | None,
                 folds: int = 5, seed: int = 101, params: Params = FRAUD_PARAMS,
                 root: Path = ROOT) -> list[Judged]:
    """Every line of ``sets`` and ``ham`` judged by ``root``'s policy with a fraud model
    trained without its fold (``fraud_data`` of the same files, ``data``'s ham too)."""
    texts, labels, groups = fraud_data(sets, data, ham=ham)
    files = [*sets, *ham]
    out: list[Judged] = []
    for k, test in enumerate(_group_folds(groups, folds, seed)):
        held = {groups[i] for i in test}
        train = [i for i in range(len(texts)) if groups[i] not in held]
        trained_on = frozenset(f.name for f in files if set_group(f) not in held)
        t0 = time.perf_counter()
        model = train_model([texts[i] for i in train], [labels[i] for i in train], params,
                            {"kind": "fraud"}, [groups[i] for i in train])
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "fraud.json.gz"
            model.save(path)
            options = {"classifier": {"fraud_model": str(path)}}
            for f in files:
                if set_group(f) not in held:
                    continue
                core = policy_core(root, options=options)
                rows = read_rows(f, "family<TAB>sender<TAB>text")
                # senders drawn as bench_detection.py draws them by default (seed 7)
                verdicts = [(family, v.action.value, sorted(v.rules))
                            for family, v in bd.single_verdicts(core, rows, seed=7)]
                out.append(Judged(f, _kind(f, ham), trained_on, verdicts))
        print(f"  fold {k + 1} of {folds}: {len(held)} groups, a model of "
              f"{len(train)} messages, {time.perf_counter() - t0:.0f} s", flush=True)
    return out


def report(judged: list[Judged]) -> None:
    print(f"\n{'':<12}{'messages':>10}{'BLOCK':>8}{'WARN':>7}{'blocked':>9}")
    for kind in ("fraud", "look-alike", "ham"):
        vs = [v for j in judged if j.kind == kind for v in j.verdicts]
        n, b = len(vs), sum(1 for v in vs if v[1] == "BLOCK")
        w = sum(1 for v in vs if v[1] == "WARN")
        print(f"{kind:<12}{n:>10,}{b:>8,}{w:>7,}{100 * b / max(n, 1):>8.1f}%")
    families: Counter[tuple[str, str]] = Counter()
    for j in judged:
        if j.kind == "fraud":
            for family, action, _ in j.verdicts:
                families[family, "all"] += 1
                families[family, action] += 1
    print("\nfrauds by family (the 15 largest): messages, blocked")
    top = sorted({f for f, _ in families}, key=lambda f: -families[f, "all"])[:15]
    for f in top:
        n, b = families[f, "all"], families[f, "BLOCK"]
        print(f"  {f:<40}{n:>7,}{b:>7,}{100 * b / n:>7.1f}%")


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=101, help="how the sets are dealt")
    ap.add_argument("--out", help="each message's verdict, as JSON lines")
    args = ap.parse_args(argv)
    bd.quiet()
    recipe = fraud_recipe(load_model(DEFAULT_FRAUD_MODEL), DATA, ROOT)
    if recipe is None:
        raise SystemExit(f"the shipped fraud model was not trained on {DATA}")
    sets, data, ham = recipe
    print(f"{len(sets)} files and {len(ham)} ham files of the shipped fraud model, and "
          f"the ham of {data.name}, in {args.folds} folds of whole sets", flush=True)
    judged = oof_verdicts(sets, ham, data, args.folds, args.seed)
    report(judged)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            for j in judged:
                for i, (family, action, rules) in enumerate(j.verdicts):
                    f.write(json.dumps([j.path.name, i, family, action, rules]) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
