"""``spamgw train`` and ``spamgw eval``: fit and measure the SMS content classifier.

Training data is ``label<TAB>text`` lines (``ham``/``spam``). ``train`` fits a
logistic regression (scikit-learn, the ``train`` extra) on the features of
``gateway.content.classifier``, keeps the strongest weights, and chooses its
threshold by stratified k-fold cross-validation: the lowest score that blocks at
most ``--max-ham`` (default 0.1%) of the out-of-fold ham. ``eval`` prints spam
caught and ham blocked: for a model on other data, at the model's threshold; on
the training data itself (or without ``--model``), by nested cross-validation,
each held-out fold judged by a model and threshold chosen without it.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from gateway.content.classifier import Model, features, load_model

__all__ = ["Params", "choose_threshold", "main", "read_tsv", "train_model"]

@dataclass(frozen=True, slots=True)
class Params:
    C: float = 30.0
    folds: int = 5
    max_ham: float = 0.001  # ham rate the threshold may block
    suspect_ham: float = 0.01  # ham rate of the softer threshold
    max_features: int = 40_000
    ngrams: tuple[int, ...] = (5,)
    words: bool = True
    seed: int = 0


def read_tsv(path: str | Path) -> tuple[list[str], list[int]]:
    texts: list[str] = []
    labels: list[int] = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            label, sep, text = line.partition("\t")
            if not sep or label not in ("ham", "spam"):
                raise ValueError(f"{path}:{lineno}: expected 'ham|spam<TAB>text'")
            texts.append(text)
            labels.append(1 if label == "spam" else 0)
    return texts, labels


def _matrix(docs: Sequence[list[str]], vocab: dict[str, int], grow: bool) -> Any:
    from scipy.sparse import csr_matrix

    indptr = [0]
    idx: list[int] = []
    val: list[float] = []
    for grams in docs:
        counts: dict[str, int] = {}
        for g in grams:
            counts[g] = counts.get(g, 0) + 1
        norm = 1.0 / math.sqrt(len(grams)) if grams else 0.0
        for g, c in counts.items():
            j = vocab.get(g)
            if j is None:
                if not grow:
                    continue
                j = vocab[g] = len(vocab)
            idx.append(j)
            val.append(c * norm)
        indptr.append(len(idx))
    return csr_matrix((val, idx, indptr), shape=(len(docs), len(vocab)))


def _fit(docs: Sequence[list[str]], labels: Sequence[int], p: Params
         ) -> tuple[dict[str, float], float]:
    """Weights (the ``max_features`` strongest, rounded) and bias."""
    from sklearn.linear_model import LogisticRegression

    vocab: dict[str, int] = {}
    X = _matrix(docs, vocab, grow=True)
    lr = LogisticRegression(C=p.C, class_weight="balanced", max_iter=5000,
                            solver="liblinear", random_state=p.seed)
    lr.fit(X, list(labels))
    coef = lr.coef_[0]
    names = sorted(vocab, key=vocab.__getitem__)
    ranked = sorted(range(len(names)), key=lambda j: -abs(coef[j]))[: p.max_features]
    weights = {names[j]: round(float(coef[j]), 4) for j in ranked if round(float(coef[j]), 4)}
    return weights, float(lr.intercept_[0])


def _score(weights: dict[str, float], bias: float, grams: list[str]) -> float:
    if not grams:
        return bias
    get = weights.get
    return bias + sum(get(g, 0.0) for g in grams) / math.sqrt(len(grams))


def _folds(labels: Sequence[int], k: int, seed: int) -> list[list[int]]:
    from sklearn.model_selection import StratifiedKFold

    skf = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    return [list(test) for _, test in skf.split([[0]] * len(labels), list(labels))]


def oof_scores(docs: Sequence[list[str]], labels: Sequence[int], p: Params) -> list[float]:
    """Out-of-fold scores: each message scored by a model that never saw it."""
    scores = [0.0] * len(labels)
    for test in _folds(labels, p.folds, p.seed):
        held = set(test)
        train_idx = [i for i in range(len(labels)) if i not in held]
        w, b = _fit([docs[i] for i in train_idx], [labels[i] for i in train_idx], p)
        for i in test:
            scores[i] = _score(w, b, docs[i])
    return scores


def choose_threshold(ham_scores: Sequence[float], max_rate: float) -> float:
    """The lowest threshold (score >= it is spam) blocking at most ``max_rate`` of ham."""
    ranked = sorted(ham_scores, reverse=True)
    allowed = math.floor(max_rate * len(ranked) + 1e-9)
    if allowed >= len(ranked):
        return -math.inf
    return math.nextafter(ranked[allowed], math.inf)


@dataclass(frozen=True, slots=True)
class Figures:
    spam: int
    caught: int
    ham: int
    blocked: int

    @property
    def caught_rate(self) -> float:
        return self.caught / self.spam if self.spam else 0.0

    @property
    def blocked_rate(self) -> float:
        return self.blocked / self.ham if self.ham else 0.0

    def __str__(self) -> str:
        return (f"spam caught: {self.caught}/{self.spam} ({100 * self.caught_rate:.1f}%), "
                f"ham blocked: {self.blocked}/{self.ham} ({100 * self.blocked_rate:.2f}%)")


def figures(scores: Sequence[float], labels: Sequence[int], threshold: float) -> Figures:
    spam = sum(labels)
    caught = sum(1 for s, y in zip(scores, labels, strict=True) if y and s >= threshold)
    blocked = sum(1 for s, y in zip(scores, labels, strict=True) if not y and s >= threshold)
    return Figures(spam, caught, len(labels) - spam, blocked)


def train_model(texts: Sequence[str], labels: Sequence[int], p: Params,
                meta: dict[str, Any] | None = None) -> Model:
    docs = [features(t, p.ngrams, p.words) for t in texts]
    oof = oof_scores(docs, labels, p)
    ham = [s for s, y in zip(oof, labels, strict=True) if not y]
    spam = sorted(s for s, y in zip(oof, labels, strict=True) if y)
    threshold = choose_threshold(ham, p.max_ham)
    suspect = min(threshold, choose_threshold(ham, p.suspect_ham))
    median_spam = spam[len(spam) // 2] if spam else threshold + 1.0
    spread = max(0.5, median_spam - threshold)
    cv = figures(oof, labels, threshold)
    weights, bias = _fit(docs, labels, p)
    info = {
        **(meta or {}),
        "C": p.C, "folds": p.folds, "max_ham": p.max_ham, "seed": p.seed,
        "messages": len(labels), "features": len(weights),
        "cv_spam_caught": round(cv.caught_rate, 4), "cv_ham_blocked": round(cv.blocked_rate, 5),
        "cv_counts": [cv.caught, cv.spam, cv.blocked, cv.ham],
    }
    return Model(weights, bias, threshold, suspect, spread, p.ngrams, p.words, info)


def nested_cv(texts: Sequence[str], labels: Sequence[int], p: Params) -> Figures:
    """Each outer fold judged by a model and threshold chosen on the other folds only."""
    total = Figures(0, 0, 0, 0)
    for test in _folds(labels, p.folds, p.seed + 1):
        held = set(test)
        tr = [i for i in range(len(labels)) if i not in held]
        model = train_model([texts[i] for i in tr], [labels[i] for i in tr], p)
        f = figures([model.score(texts[i]) for i in test], [labels[i] for i in test],
                    model.threshold)
        total = Figures(total.spam + f.spam, total.caught + f.caught, total.ham + f.ham,
                        total.blocked + f.blocked)
    return total


def _sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _params(args: argparse.Namespace, base: Params | None = None) -> Params:
    p = base or Params()
    if args.C is not None:
        p = replace(p, C=args.C)
    if args.folds is not None:
        p = replace(p, folds=args.folds)
    if getattr(args, "max_ham", None) is not None:
        p = replace(p, max_ham=args.max_ham)
    if getattr(args, "max_features", None) is not None:
        p = replace(p, max_features=args.max_features)
    return p


def cmd_train(args: argparse.Namespace) -> int:
    texts, labels = read_tsv(args.data)
    p = _params(args)
    t0 = time.perf_counter()
    model = train_model(texts, labels, p, {"data": Path(args.data).name,
                                           "data_sha256": _sha256(args.data)})
    size = model.save(args.out)
    m = model.meta
    caught, spam, blocked, ham = m["cv_counts"]
    print(f"{args.out}: {len(model.weights)} features, {size} bytes, "
          f"{time.perf_counter() - t0:.1f} s")
    print(f"threshold {model.threshold:.4f} (at most {100 * p.max_ham:g}% of ham blocked, "
          f"{p.folds}-fold cross-validation)")
    print(f"cross-validated: spam caught: {caught}/{spam} ({100 * caught / spam:.1f}%), "
          f"ham blocked: {blocked}/{ham} ({100 * blocked / ham:.2f}%)")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    texts, labels = read_tsv(args.data)
    model = load_model(args.model) if args.model else None
    same = model is not None and model.meta.get("data_sha256") == _sha256(args.data)
    if model is not None and not same:
        f = figures([model.score(t) for t in texts], labels, model.threshold)
        print(f"model {args.model} at threshold {model.threshold:.4f}: {f}")
        return 0
    base = None
    if model is not None:
        m = model.meta
        base = Params(C=float(m.get("C", 30.0)), folds=int(m.get("folds", 5)),
                      max_ham=float(m.get("max_ham", 0.001)), ngrams=model.ngrams,
                      words=model.words, max_features=max(len(model.weights), 1))
    p = _params(args, base)
    t0 = time.perf_counter()
    f = nested_cv(texts, labels, p)
    why = "the model's training data: " if same else ""
    print(f"{why}nested {p.folds}-fold cross-validation, threshold chosen on the training "
          f"folds for at most {100 * p.max_ham:g}% ham blocked "
          f"({time.perf_counter() - t0:.1f} s)")
    print(f)
    return 0


def main(argv: Sequence[str]) -> int:
    argv = list(argv)
    command = argv[0] if argv else ""
    ap = argparse.ArgumentParser(prog=f"spamgw {command or 'train|eval'}")
    ap.add_argument("--data", required=True, help="label<TAB>text lines (ham|spam)")
    ap.add_argument("--C", type=float, help="inverse regularisation strength (default 30)")
    ap.add_argument("--folds", type=int, help="cross-validation folds (default 5)")
    if command == "train":
        ap.add_argument("--out", required=True, help="model file to write (gzip'd JSON)")
        ap.add_argument("--max-ham", type=float, help="ham rate the threshold may block "
                        "(default 0.001)")
        ap.add_argument("--max-features", type=int, help="weights kept (default 40000)")
    elif command == "eval":
        ap.add_argument("--model", help="model file (default: cross-validate a new one)")
    else:
        print("spamgw: train or eval", file=sys.stderr)
        return 2
    args = ap.parse_args(argv[1:])
    try:
        import sklearn  # noqa: F401
    except ImportError:
        print("spamgw: training needs scikit-learn: pip install 'spamgw[train]'",
              file=sys.stderr)
        return 2
    try:
        return cmd_train(args) if command == "train" else cmd_eval(args)
    except (OSError, ValueError) as e:
        print(f"spamgw: {e}", file=sys.stderr)
        return 1
