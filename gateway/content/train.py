"""``spamgw train`` and ``spamgw eval``: fit and measure the SMS content classifier.

Training data is ``label<TAB>text`` lines (``ham``/``spam``). ``train`` fits a
logistic regression (scikit-learn, the ``train`` extra) on the features of
``gateway.content.classifier``. Everything it chooses, it chooses by stratified
k-fold cross-validation on the data it is given: the regularisation ``C`` (from
``Params.Cs``: the one whose out-of-fold scores catch the most spam at the block
threshold), the block threshold (the lowest out-of-fold score expected to block at
most half of ``--max-ham``, default 0.1%, of unseen ham: ``Params.safety``) and the
warn band's lower edge (at most ``suspect_ham``, 0.5%, of the ham warned or
blocked). It then refits on everything.

``eval`` prints the model's figures and what the whole gateway (shipped rules and
plugins, ``evaluate.verdicts``) does with the same messages: for a model
trained on other data, that model; on the model's own training data (or without
``--model``), nested cross-validation, each held-out fold judged by a model,
thresholds and gateway chosen without it.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gateway.content.classifier import DEFAULT_FRAUD_MODEL, Model, features, load_model
from gateway.content.evaluate import format_table, tally, verdicts, write_errors

if TYPE_CHECKING:
    from gateway.model import Verdict

__all__ = ["Figures", "Params", "choose_threshold", "main", "read_tsv", "train_model"]


@dataclass(frozen=True, slots=True)
class Params:
    Cs: tuple[float, ...] = (30.0, 100.0, 300.0)  # chosen from by inner cross-validation
    folds: int = 5
    max_ham: float = 0.001  # ham rate the block threshold may block
    # the block threshold is chosen for ``safety * max_ham`` of the out-of-fold ham:
    # the model refitted on all the data scores unseen ham higher than the fold
    # models whose scores choose it (nested CV: 0.26% of ham blocked at 1, 0.08% at 0.5)
    safety: float = 0.5
    suspect_ham: float = 0.005  # ham rate warned or blocked at the warn band's edge
    max_features: int = 150_000
    ngrams: tuple[int, ...] = ()
    wb: tuple[int, ...] = (3, 4, 5)
    words: bool = True
    bigrams: bool = True
    unique: bool = True
    digits: bool = False
    min_count: int = 60
    seed: int = 0

    def features(self, text: str) -> list[str]:
        return features(text, self.ngrams, self.words, wb=self.wb, bigrams=self.bigrams,
                        unique=self.unique, digits=self.digits)


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


def read_rows(path: str | Path, want: str = "three tab-separated fields"
              ) -> list[tuple[str, str, str]]:
    """Three tab-separated fields a line (``#`` comments), none blank; a malformed line
    is an error naming it and ``want``."""
    rows = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 3 or not all(p.strip() for p in parts):
            raise ValueError(f"{path}:{n}: want {want}")
        rows.append((parts[0].strip(), parts[1].strip(), parts[2]))
    return rows


def read_sets(paths: Sequence[str | Path], ham: Sequence[str | Path] = ()
              ) -> tuple[list[str], list[int], list[str]]:
    """Fraud sets (``family<TAB>sender<TAB>text`` lines, ``read_rows``): texts, labels
    and groups. A file whose name ends in ``_ham`` holds look-alikes (labelled ham),
    as do the ``ham`` files; any other, frauds. A line's group is its file's name
    without ``_ham``, so a set and its look-alikes fall in one cross-validation fold."""
    ham_files = {Path(h) for h in ham}
    texts: list[str] = []
    labels: list[int] = []
    groups: list[str] = []
    for path in [*paths, *ham]:
        is_ham = Path(path).name.split(".")[0].endswith("_ham") or Path(path) in ham_files
        group = set_group(path)
        for _family, _sender, text in read_rows(path, "family<TAB>sender<TAB>text"):
            texts.append(text)
            labels.append(0 if is_ham else 1)
            groups.append(group)
    return texts, labels, groups


def set_group(path: str | Path) -> str:
    """The cross-validation group of a set file (``read_sets``): its name without the
    extension and without ``_ham``, so a set and its look-alikes are one group."""
    return Path(path).name.split(".")[0].removesuffix("_ham")


#: the fraud model's training: C fixed (30 and 100 caught the same out of set,
#: 30 blocked fewer look-alikes); the block threshold at 0.1% of out-of-fold ham (the
#: issue's "at most 0.1% of ham blocked"; the content model keeps half that): over
#: folds of whole sets, 45.7% of the frauds at 9 of 10,907 ham, against 32.6% at 4 with
#: 0.05% (27 Nov, 45 sets); everything else as the content model
#: The warn band's edge (``content.fraud_suspect``) at 1% of the out-of-fold negatives:
#: from an unregistered phone number, with a link of its own or a number to call, it
#: blocks (70-content.toml, content.fraud_doubt_*). Chosen on the read sets' out-of-fold
#: scores (27 Nov): beside the rules and the block threshold, at 0.5% that shape added
#: 56 of 7,998 frauds at 4 of 12,067 negatives, at 1% 105 at 5, at 2% 165 at 11.
FRAUD_PARAMS = Params(Cs=(30.0,), max_ham=0.002, suspect_ham=0.01)


def fraud_data(sets: Sequence[str | Path], data: str | Path | None = None,
               skip: frozenset[int] = frozenset(), seed: int = 0,
               ham: Sequence[str | Path] = ()) -> tuple[list[str], list[int], list[str]]:
    """The fraud model's training data: the sets and ``ham`` files (``read_sets``), the ham of
    ``data`` (``label<TAB>text``, but the lines numbered in ``skip``, counted over its
    messages from 0) as more ham, dealt into five groups. ``data``'s spam is left out:
    the content model's job."""
    texts, labels, groups = read_sets(sets, ham)
    if data is not None:
        dt, dl = read_tsv(data)
        data_ham = [t for i, (t, y) in enumerate(zip(dt, dl, strict=True))
                    if not y and i not in skip]
        order = list(range(len(data_ham)))
        random.Random(seed).shuffle(order)
        name = Path(data).name
        for j, i in enumerate(order):
            texts.append(data_ham[i])
            labels.append(0)
            groups.append(f"{name}:{j % 5}")
    return texts, labels, groups


def train_fraud(sets: Sequence[str | Path], data: str | Path | None = None,
                skip: frozenset[int] = frozenset(), p: Params = FRAUD_PARAMS,
                ham: Sequence[str | Path] = ()) -> Model:
    """The fraud model (``fraud_data``), C and thresholds chosen by cross-validation
    over whole sets; its meta names the files and ``data`` with their SHA-256."""
    texts, labels, groups = fraud_data(sets, data, skip, p.seed, ham)
    meta: dict[str, Any] = {"kind": "fraud",
                            "sets": {Path(s).name: _sha256(s) for s in sets},
                            "ham": {Path(s).name: _sha256(s) for s in ham}}
    if data is not None:
        meta |= {"data": Path(data).name, "data_sha256": _sha256(data), "data_labels": "ham"}
    return train_model(texts, labels, p, meta, groups)


def _matrix(docs: Sequence[list[str]], vocab: dict[str, int], grow: bool,
            min_count: int) -> Any:
    from scipy.sparse import csr_matrix

    indptr = [0]
    idx: list[int] = []
    val: list[float] = []
    for grams in docs:
        counts: dict[str, int] = {}
        for g in grams:
            counts[g] = counts.get(g, 0) + 1
        norm = 1.0 / math.sqrt(max(len(grams), min_count)) if grams else 0.0
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


def _fit(docs: Sequence[list[str]], labels: Sequence[int], C: float, p: Params
         ) -> tuple[dict[str, float], float]:
    """Weights (the ``max_features`` strongest, rounded) and bias."""
    from sklearn.linear_model import LogisticRegression

    vocab: dict[str, int] = {}
    X = _matrix(docs, vocab, grow=True, min_count=p.min_count)
    lr = LogisticRegression(C=C, class_weight="balanced", max_iter=5000,
                            solver="liblinear", random_state=p.seed)
    lr.fit(X, list(labels))
    coef = lr.coef_[0]
    names = sorted(vocab, key=vocab.__getitem__)
    ranked = sorted(range(len(names)), key=lambda j: -abs(coef[j]))[: p.max_features]
    weights = {names[j]: round(float(coef[j]), 4) for j in ranked if round(float(coef[j]), 4)}
    return weights, float(lr.intercept_[0])


def _score(weights: dict[str, float], bias: float, grams: list[str], min_count: int = 0
           ) -> float:
    if not grams:
        return bias
    get = weights.get
    return bias + sum(get(g, 0.0) for g in grams) / math.sqrt(max(len(grams), min_count))


def _folds(labels: Sequence[int], k: int, seed: int) -> list[list[int]]:
    from sklearn.model_selection import StratifiedKFold

    skf = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    return [[int(i) for i in test] for _, test in skf.split([[0]] * len(labels), list(labels))]


def _group_folds(groups: Sequence[str], k: int, seed: int) -> list[list[int]]:
    """``k`` folds of whole groups (the groups shuffled, then dealt round): a message
    is scored by a model that saw nothing of its group."""
    names = sorted(set(groups))
    random.Random(seed).shuffle(names)
    fold_of = {g: j % k for j, g in enumerate(names)}
    folds: list[list[int]] = [[] for _ in range(min(k, len(names)))]
    for i, g in enumerate(groups):
        folds[fold_of[g]].append(i)
    return folds


def oof_scores(docs: Sequence[list[str]], labels: Sequence[int], C: float, p: Params,
               groups: Sequence[str] | None = None) -> list[float]:
    """Out-of-fold scores: each message scored by a model that never saw it (nor,
    with ``groups``, anything of its group)."""
    scores = [0.0] * len(labels)
    folds = (_group_folds(groups, p.folds, p.seed) if groups is not None
             else _folds(labels, p.folds, p.seed))
    for test in folds:
        held = set(test)
        train_idx = [i for i in range(len(labels)) if i not in held]
        w, b = _fit([docs[i] for i in train_idx], [labels[i] for i in train_idx], C, p)
        for i in test:
            scores[i] = _score(w, b, docs[i], p.min_count)
    return scores


def choose_threshold(ham_scores: Sequence[float], max_rate: float) -> float:
    """The lowest threshold (score >= it is spam) expected to block at most ``max_rate``
    of unseen ham: with ``a`` of ``n`` out-of-fold ham scores at or above it, a new ham
    message exceeds it with probability ``(a + 1) / (n + 1)`` (it is as likely to rank
    anywhere among them), so ``a`` is the largest with ``(a + 1) / (n + 1) <= max_rate``.
    (Allowing ``max_rate * n`` of them, as a first version did, blocked 0.13% in
    nested cross-validation.)"""
    ranked = sorted(ham_scores, reverse=True)
    allowed = math.floor(max_rate * (len(ranked) + 1) + 1e-9) - 1
    if allowed < 0:
        return math.nextafter(ranked[0], math.inf) if ranked else -math.inf
    if allowed >= len(ranked):
        return -math.inf
    return math.nextafter(ranked[allowed], math.inf)


@dataclass(frozen=True, slots=True)
class Figures:
    """Spam and ham at or above the block threshold and in the warn band below it."""

    spam: int = 0
    caught: int = 0
    ham: int = 0
    blocked: int = 0
    spam_warned: int = 0
    ham_warned: int = 0

    @property
    def caught_rate(self) -> float:
        return self.caught / self.spam if self.spam else 0.0

    @property
    def blocked_rate(self) -> float:
        return self.blocked / self.ham if self.ham else 0.0

    def __add__(self, o: Figures) -> Figures:
        return Figures(self.spam + o.spam, self.caught + o.caught, self.ham + o.ham,
                       self.blocked + o.blocked, self.spam_warned + o.spam_warned,
                       self.ham_warned + o.ham_warned)

    def __str__(self) -> str:
        return (f"spam caught: {self.caught}/{self.spam} ({100 * self.caught_rate:.1f}%), "
                f"ham blocked: {self.blocked}/{self.ham} ({100 * self.blocked_rate:.2f}%)")

    def table(self) -> str:
        def cell(n: int, of: int) -> str:
            return f"{n}/{of} ({100 * n / of if of else 0.0:.2f}%)"

        rows = [("block (score >= threshold)", self.caught, self.blocked),
                ("warn band (suspect <= score < threshold)", self.spam_warned,
                 self.ham_warned),
                ("block or warn", self.caught + self.spam_warned,
                 self.blocked + self.ham_warned)]
        lines = [f"  {'model':42} {'spam':>20} {'ham':>20}"]
        lines += [f"  {name:42} {cell(s, self.spam):>20} {cell(h, self.ham):>20}"
                  for name, s, h in rows]
        return "\n".join(lines)


def figures(scores: Sequence[float], labels: Sequence[int], threshold: float,
            suspect: float | None = None) -> Figures:
    low = threshold if suspect is None else min(suspect, threshold)
    pairs = list(zip(scores, labels, strict=True))
    spam = sum(labels)
    return Figures(
        spam=spam,
        caught=sum(1 for s, y in pairs if y and s >= threshold),
        ham=len(labels) - spam,
        blocked=sum(1 for s, y in pairs if not y and s >= threshold),
        spam_warned=sum(1 for s, y in pairs if y and low <= s < threshold),
        ham_warned=sum(1 for s, y in pairs if not y and low <= s < threshold),
    )


def train_model(texts: Sequence[str], labels: Sequence[int], p: Params,
                meta: dict[str, Any] | None = None,
                groups: Sequence[str] | None = None) -> Model:
    """Fit on everything with ``C`` and both thresholds chosen by k-fold CV (folds of
    whole ``groups`` if given)."""
    docs = [p.features(t) for t in texts]
    best: tuple[tuple[int, int, float], float, list[float]] | None = None
    for C in p.Cs:
        oof = oof_scores(docs, labels, C, p, groups)
        ham = [s for s, y in zip(oof, labels, strict=True) if not y]
        f = figures(oof, labels, choose_threshold(ham, p.safety * p.max_ham),
                    choose_threshold(ham, p.suspect_ham))
        key = (f.caught, f.caught + f.spam_warned, -C)  # ties: the stronger regularisation
        if best is None or key > best[0]:
            best = (key, C, oof)
    assert best is not None, "Params.Cs is empty"
    _, C, oof = best
    ham = [s for s, y in zip(oof, labels, strict=True) if not y]
    spam = sorted(s for s, y in zip(oof, labels, strict=True) if y)
    threshold = choose_threshold(ham, p.safety * p.max_ham)
    suspect = min(threshold, choose_threshold(ham, p.suspect_ham))
    median_spam = spam[len(spam) // 2] if spam else threshold + 1.0
    spread = max(0.5, median_spam - threshold)
    cv = figures(oof, labels, threshold, suspect)
    weights, bias = _fit(docs, labels, C, p)
    info = {
        **(meta or {}),
        "C": C, "Cs": list(p.Cs), "folds": p.folds, "max_ham": p.max_ham, "safety": p.safety,
        "suspect_ham": p.suspect_ham, "seed": p.seed,
        "messages": len(labels), "features": len(weights),
        "cv_spam_caught": round(cv.caught_rate, 4), "cv_ham_blocked": round(cv.blocked_rate, 5),
        # caught, spam, blocked, ham; then spam and ham in the warn band
        "cv_counts": [cv.caught, cv.spam, cv.blocked, cv.ham],
        "cv_warn_counts": [cv.spam_warned, cv.ham_warned],
    }
    return Model(weights, bias, threshold, suspect, spread, ngrams=p.ngrams, words=p.words,
                 wb=p.wb, bigrams=p.bigrams, unique=p.unique, digits=p.digits,
                 min_count=p.min_count, meta=info)


@dataclass(frozen=True, slots=True)
class Nested:
    model: Figures
    gateway: dict[str, dict[str, int]]  # label -> action -> messages
    #: the whole gateway's verdict on each message, in the data's order
    verdicts: list[Verdict] = field(default_factory=list)


def nested_cv(texts: Sequence[str], labels: Sequence[int], p: Params,
              gateway: dict[str, Any] | None = None,
              fraud: tuple[Sequence[Path], Path, Sequence[Path]] | None = None) -> Nested:
    """Each outer fold judged by a model and thresholds chosen on the other folds only;
    with ``gateway`` (``verdicts``' options), by the whole gateway too, its
    classifier that fold's model. With ``fraud`` (the fraud model's sets, this
    data file, whose ham it trains on, and its ham files), the gateway's fraud
    model is trained anew for each fold without that fold's ham."""
    total = Figures()
    judged: list[Verdict | None] = [None] * len(texts)
    for test in _folds(labels, p.folds, p.seed + 1):
        held = set(test)
        tr = [i for i in range(len(labels)) if i not in held]
        model = train_model([texts[i] for i in tr], [labels[i] for i in tr], p)
        total += figures([model.score(texts[i]) for i in test], [labels[i] for i in test],
                         model.threshold, model.suspect)
        if gateway is not None:
            with tempfile.TemporaryDirectory() as d:
                tmp = Path(d) / "model.json.gz"
                model.save(tmp)
                opts = dict(gateway)
                if fraud is not None:
                    fraud_tmp = Path(d) / "fraud.json.gz"
                    train_fraud(fraud[0], fraud[1], frozenset(test),
                                ham=fraud[2]).save(fraud_tmp)
                    opts["fraud_model"] = fraud_tmp
                for i, v in zip(test, verdicts([texts[i] for i in test], model=tmp,
                                               first=min(test), **opts), strict=True):
                    judged[i] = v
    if gateway is None:
        return Nested(total, {})
    done = [v for v in judged if v is not None]
    return Nested(total, tally([v.action.value for v in done], labels), done)


def fraud_recipe(model: Model, data: str | Path, root: Path
                 ) -> tuple[list[Path], Path, list[Path]] | None:
    """The files a fraud model trained on ``data``'s ham was trained with (found under
    ``root``/loadtest/data, each with the SHA-256 its meta gives), or None when it did
    not train on ``data``. ``ValueError`` when it did and they are not there."""
    m = model.meta
    if m.get("kind") != "fraud" or m.get("data_sha256") != _sha256(data):
        return None
    found: dict[str, list[Path]] = {"sets": [], "ham": []}
    for kind, files in found.items():
        for name, sha in dict(m.get(kind, {})).items():
            f = root / "loadtest" / "data" / str(name)
            if not f.is_file() or _sha256(f) != sha:
                raise ValueError(f"the fraud model trained on {Path(data).name}'s ham; "
                                 f"retraining it per fold needs {f} as it was")
            files.append(f)
    return found["sets"], Path(data), found["ham"]


def _sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _params(args: argparse.Namespace, base: Params | None = None) -> Params:
    p = base or Params()
    if args.C is not None:
        p = replace(p, Cs=(args.C,))
    if args.folds is not None:
        p = replace(p, folds=args.folds)
    if getattr(args, "max_ham", None) is not None:
        p = replace(p, max_ham=args.max_ham)
    if getattr(args, "max_features", None) is not None:
        p = replace(p, max_features=args.max_features)
    return p


def cmd_train(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    if args.sets:
        p = _params(args, FRAUD_PARAMS)
        model = train_fraud(args.sets, args.data, p=p, ham=args.ham or ())
    else:
        texts, labels = read_tsv(args.data)
        p = _params(args)
        model = train_model(texts, labels, p, {"data": Path(args.data).name,
                                               "data_sha256": _sha256(args.data)})
    size = model.save(args.out)
    m = model.meta
    caught, spam, blocked, ham = m["cv_counts"]
    sw, hw = m["cv_warn_counts"]
    print(f"{args.out}: {len(model.weights)} features, {size} bytes, C {m['C']:g}, "
          f"{time.perf_counter() - t0:.1f} s")
    if args.sets:
        print(f"fraud model: {spam} frauds of {len(args.sets)} files, {ham} ham "
              f"(look-alikes{', ' + str(len(args.ham)) + ' ham files' if args.ham else ''}"
              f"{' and the ham of ' + Path(args.data).name if args.data else ''}); "
              f"folds of whole sets")
    print(f"block threshold {model.threshold:.4f} (at most {100 * p.max_ham:g}% of ham, "
          f"{100 * p.safety * p.max_ham:g}% out of fold), "
          f"warn from {model.suspect:.4f} (at most {100 * p.suspect_ham:g}% of ham), "
          f"{p.folds}-fold cross-validation")
    print(f"cross-validated: spam caught: {caught}/{spam} ({100 * caught / spam:.1f}%), "
          f"ham blocked: {blocked}/{ham} ({100 * blocked / ham:.2f}%); "
          f"warn band: spam {sw}, ham {hw}")
    return 0


def _model_params(model: Model) -> Params:
    m = model.meta
    Cs = tuple(float(c) for c in m.get("Cs", [m.get("C", 30.0)]))
    return Params(Cs=Cs, folds=int(m.get("folds", 5)), max_ham=float(m.get("max_ham", 0.001)),
                  safety=float(m.get("safety", 1.0)),
                  suspect_ham=float(m.get("suspect_ham", 0.005)), ngrams=model.ngrams,
                  wb=model.wb, words=model.words, bigrams=model.bigrams, unique=model.unique,
                  digits=model.digits, min_count=model.min_count,
                  max_features=max(len(model.weights), 1))


def cmd_eval(args: argparse.Namespace) -> int:
    from gateway.config import LogConfig
    from gateway.observe import configure_logging

    configure_logging(LogConfig(level="error", format="console"))  # the gateway's, quiet
    texts, labels = read_tsv(args.data)
    model = load_model(args.model) if args.model else None
    same = model is not None and model.meta.get("data_sha256") == _sha256(args.data)
    gw: dict[str, Any] = {"config": args.config, "seed": args.seed}
    fraud_file = DEFAULT_FRAUD_MODEL if args.fraud_model is None else args.fraud_model
    if args.fraud_model is not None:
        gw["fraud_model"] = args.fraud_model
    t0 = time.perf_counter()
    if model is not None and not same:
        f = figures([model.score(t) for t in texts], labels, model.threshold, model.suspect)
        print(f"model {args.model}: block threshold {model.threshold:.4f}, "
              f"warn from {model.suspect:.4f}")
        print(f.table())
        print(f"\nwhole gateway (shipped rules and plugins, classifier {args.model}):")
        judged = verdicts(texts, model=args.model, **gw)
        print(format_table(tally([v.action.value for v in judged], labels)))
        _report_errors(args, texts, labels, judged)
        return 0
    p = _params(args, _model_params(model) if model is not None else None)
    fraud = None
    if fraud_file:
        fraud = fraud_recipe(load_model(fraud_file), args.data,
                             Path(__file__).resolve().parents[2])
    nested = nested_cv(texts, labels, p, gw, fraud)
    why = "the model's training data: " if same else ""
    print(f"{why}nested {p.folds}-fold cross-validation: each fold judged by a model, C "
          f"and thresholds chosen on the other folds only (block: at most "
          f"{100 * p.safety * p.max_ham:g}% of their ham, warn: {100 * p.suspect_ham:g}%; "
          f"{time.perf_counter() - t0:.1f} s)")
    print(nested.model.table())
    print("\nwhole gateway (shipped rules and plugins, the fold's classifier"
          + (", the fraud model trained without the fold's ham):" if fraud else "):"))
    print(format_table(nested.gateway))
    _report_errors(args, texts, labels, nested.verdicts)
    return 0


def _report_errors(args: argparse.Namespace, texts: Sequence[str], labels: Sequence[int],
                   judged: Sequence[Verdict]) -> None:
    if args.errors:
        n = write_errors(args.errors, texts, labels, judged)
        print(f"\n{args.errors}: {n} messages the gateway got wrong (spam not blocked, "
              f"ham blocked or warned), with the rules and symbols that hit")


def main(argv: Sequence[str]) -> int:
    argv = list(argv)
    command = argv[0] if argv else ""
    ap = argparse.ArgumentParser(prog=f"spamgw {command or 'train|eval'}")
    ap.add_argument("--data", required=command != "train",
                    help="label<TAB>text lines (ham|spam)")
    ap.add_argument("--C", type=float, help="inverse regularisation strength (default: "
                    "chosen by cross-validation from " + ", ".join(map(str, Params().Cs)) + ")")
    ap.add_argument("--folds", type=int, help="cross-validation folds (default 5)")
    if command == "train":
        ap.add_argument("--out", required=True, help="model file to write (gzip'd JSON)")
        ap.add_argument("--max-ham", type=float, help="ham rate the threshold may block "
                        "(default 0.001)")
        ap.add_argument("--max-features", type=int, help="weights kept (default 150000)")
        ap.add_argument("--sets", nargs="+", metavar="FILE", help="train the fraud model "
                        "instead: fraud sets (family<TAB>sender<TAB>text; files named "
                        "*_ham.tsv hold look-alikes), with --data's ham as more ham")
        ap.add_argument("--ham", nargs="+", metavar="FILE", help="with --sets: more "
                        "files of that form, all ham")
    elif command == "eval":
        ap.add_argument("--model", help="model file (default: cross-validate a new one)")
        ap.add_argument("--fraud-model", help="the gateway's fraud model (default: the "
                        "shipped one; \"\" for none)")
        ap.add_argument("--config", help="gateway config for the whole-gateway figures "
                        "(default: the shipped rules, lists and plugins)")
        ap.add_argument("--seed", type=int, default=0, help="seed of the senders' and "
                        "recipients' numbers (default 0)")
        ap.add_argument("--errors", metavar="FILE", help="write what the whole gateway "
                        "got wrong to FILE: label<TAB>action<TAB>rules<TAB>text")
    else:
        print("spamgw: train or eval", file=sys.stderr)
        return 2
    args = ap.parse_args(argv[1:])
    if command == "train" and not args.data and not args.sets:
        ap.error("the following arguments are required: --data (or --sets)")
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
