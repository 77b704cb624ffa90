"""The SMS content classifier at run time: a few lookups per word.

A pair of models that read a text alike (the shipped content and fraud models) is
scored by the compiled scorer (``gateway/content/_native.c``: flat tables, one probe a
word for both models) where ``pip install`` built it; the Python here is its
reference, held to it bit for bit (tests/content/test_native.py), and the fallback.

Features survive the usual tricks: the text is folded (case, accents, homoglyphs,
invisible characters), URLs become their domain, digit runs a length class, letters
spaced or dotted one by one (``F R E E``, ``f.r.e.e``) are joined; the words of that
text (runs of letters and digits, and currency signs on their own) then give

- character n-grams of each word with a space at either end (``wb``: 3- to
  5-grams by default; `` fre``, ``free``, ``ree ``...): misspellings and word
  endings share most of them;
- the words themselves (``w:`` prefix) and adjacent pairs of words (``a b``: a
  space inside, where n-grams have them only at their ends), the phrases ("txt
  stop", "call 0000").

With ``unique`` (the default), each distinct word and word pair counts once, however
often the message repeats it. Numbers count as words only from 8 digits on (phone
numbers), unless ``digits``: the training corpus's ham is person-to-person chat, so
any code or amount would read as spam, and one-time passwords and delivery notices
would be blocked.

A feature's value is its count divided by the square root of the number of
features in the message (at least ``min_count``: a short text cannot carry much
evidence, "Yup next stop." is no spam however spammy "stop" is), so the score
``bias + sum(weight * value)`` (the decision function ``gateway.content.train``
fitted) is a sum over words: each word's n-gram weights and count are added up
once and remembered (``Model.word``; the model's own words when it loads, others as
they come), and a message costs one lookup per word and one per word pair, whatever
n-grams the model uses. Models of format 1 (character n-grams of the text with
everything but letters, digits and currency signs squeezed out, ``ngrams``) still
load and score.

The model file (gzip'd JSON) holds the weights, the two thresholds chosen by
cross-validation (``threshold``: at most 0.1% of ham at or above it, the block
threshold; ``suspect``: the warn band's lower edge, about 0.5% of ham at or above
it) and the figures measured there.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import os
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from itertools import pairwise, repeat
from pathlib import Path
from typing import Any

from gateway.content import compiled
from gateway.content.compiled import _native
from gateway.content.normalize import squeeze, template

__all__ = ["DEFAULT_FRAUD_MODEL", "DEFAULT_MODEL", "MODEL_FORMAT", "Model", "ModelPair",
           "features", "load_model", "prepare", "prepare_template", "words"]

MODEL_FORMAT = "spamgw-content-lr/2"
_FORMATS = ("spamgw-content-lr/1", MODEL_FORMAT)
#: the shipped model, trained on the SMS Spam Collection v.1 (CC BY 4.0)
DEFAULT_MODEL = Path(__file__).with_name("models") / "sms_lr.json.gz"
#: the shipped fraud model, trained on the fraud sets of loadtest/data and their
#: look-alikes with the ham of the same collection (``spamgw train --sets``)
DEFAULT_FRAUD_MODEL = Path(__file__).with_name("models") / "sms_fraud.json.gz"
#: words whose n-gram sums a model remembers before it starts over
WORD_MEMO = 100_000
_ZERO = (0.0, 0.0)
#: models read in this process, by the digest of their file's bytes: the weights are
#: never written after loading, so every plugin built from one file (each reload's,
#: each check of a ruleset's examples) shares them and takes a copy of the word memo
_LOADED: dict[bytes, Model] = {}
_LOADED_MAX = 4
#: the joint weights of the model pairs built in this process and the word memo they
#: start with, by the two models' weights (kept alive here, so no other mapping takes
#: their identities)
_JOINT: list[tuple[Mapping[str, float], Mapping[str, float], dict[str, tuple[float, float]],
                   dict[str, float], dict[str, float], dict[str, int]]] = []
#: the compiled scorers built in this process, by the two models' weights (kept alive
#: here) and what else they score with; each is shared by every pair of those models:
#: its memo is a cache of a pure function of the word, and a call runs whole under the GIL
_NATIVE: list[tuple[Mapping[str, float], Mapping[str, float], tuple[Any, ...],
                   _native.Scorer]] = []
_LOCK = threading.Lock()
_BUILDING = threading.Lock()

_SPACED = re.compile(r"(?<!\w)\w([ .\-_*+]{1,2})(?:\w\1)+\w(?!\w)")  # same separator
_SPACE_CHARS = re.compile(r"[ .\-_*+]")
_WORDS = re.compile(r"[^\W_]+|[£$€]")
# the same without the numbers shorter than a phone number (1-7 digits: codes, amounts)
_LETTER_WORDS = re.compile(r"0000|\d*[^\W\d_][^\W_]*|[£$€]")


def _join(m: re.Match[str]) -> str:
    return _SPACE_CHARS.sub("", m.group())


# ASCII bytes as classes: a letter or digit "w", anything else a space
_ASCII_ALNUM = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_CLASSES = bytes(119 if b in _ASCII_ALNUM else 32 for b in range(256))
_ALNUM_OR_SPACE = bytes(b if b in _ASCII_ALNUM else 32 for b in range(256))
_NONZERO_DIGITS = b"123456789"


def prepare(text: str) -> str:
    """The normalised text features are taken from."""
    return prepare_template(template(text))


def prepare_template(t: str) -> str:
    """``prepare`` from ``normalize.template(text)`` (the score depends on nothing else)."""
    if len(t) <= 6:
        return t
    if t.isascii() and "_" not in t:
        # a spaced run is three or more one-character words (letters or digits, in
        # ASCII without "_"), each after a separator of the same length: without that
        # in the byte classes, _SPACED finds nothing (tests/content/test_classifier.py)
        cls = b" " + t.encode("ascii").translate(_CLASSES) + b" "
        if b" w w w " not in cls and b" w  w  w " not in cls:
            return t
    return _SPACED.sub(_join, t)


def words(prepared: str, digits: bool = True) -> list[str]:
    """The words of ``prepare``'d text: runs of letters and digits, currency signs;
    without ``digits``, of the numbers (digits only) just those of 8 or more digits.

    ASCII text without ``$`` (most SMS) is split by a byte translation: with
    ``digits`` its words are its runs of letters and digits. Without, when its only
    digit is ``0`` (a template's: numbers are their length class) and no ``0000`` is
    in it, they are its runs of letters and digits but those of one to three zeros
    (``tests/content/test_classifier.py`` holds both to the patterns)."""
    if prepared.isascii() and "$" not in prepared:
        b = prepared.encode("ascii")
        if digits:
            return b.translate(_ALNUM_OR_SPACE).decode("ascii").split()
        if b"0000" not in b and len(b.translate(None, _NONZERO_DIGITS)) == len(b):
            b = b.translate(_ALNUM_OR_SPACE)
            if b"0" in b:  # every word between two spaces of its own: "0", "00" and
                # "000" alone go, in one pass each
                b = b" " + b.replace(b" ", b"  ") + b" "
                b = b.replace(b" 000 ", b" ").replace(b" 00 ", b" ").replace(b" 0 ", b" ")
            return b.decode("ascii").split()
    return (_WORDS if digits else _LETTER_WORDS).findall(prepared)


def word_grams(word: str, wb: tuple[int, ...]) -> list[str]:
    """Character n-grams of `` word ``."""
    s = " " + word + " "
    return [s[i:i + n] for n in wb for i in range(len(s) - n + 1)]


def features(text: str, ngrams: tuple[int, ...] = (), words_: bool = True, *,
             wb: tuple[int, ...] = (3, 4, 5), bigrams: bool = True,
             unique: bool = True, digits: bool = False) -> list[str]:
    """Every feature occurrence of ``text`` (training uses this; scoring sums per word).
    ``unique``: each distinct word and word pair counts once; ``digits``: numbers
    shorter than 8 digits (as their length class) are words too."""
    t = prepare(text)
    out: list[str] = []
    if ngrams:
        s = squeeze(t)
        for n in ngrams:
            out.extend(s[i:i + n] for i in range(len(s) - n + 1))
    ws = words(t, digits)
    for w in dict.fromkeys(ws) if unique else ws:
        if wb:
            out.extend(word_grams(w, wb))
        if words_:
            out.append("w:" + w)
    if bigrams:
        pairs = [f"{a} {b}" for a, b in pairwise(ws)]
        out.extend(dict.fromkeys(pairs) if unique else pairs)
    return out


def _summed(sums: dict[str, float], ws: Iterable[str],
            learn: Callable[[Iterable[str]], None]) -> float:
    """The sum of the words' remembered weight sums; a word not met before is
    ``learn``ed first (with the others of the message: a full memo starts over)."""
    try:
        return sum(map(sums.__getitem__, ws))
    except KeyError:
        learn(ws)
        return sum(map(sums.__getitem__, ws))


@dataclass(frozen=True, slots=True)
class Model:
    weights: Mapping[str, float]
    bias: float
    threshold: float  # score at or above: spam, blocked (at most 0.1% of ham in CV)
    suspect: float  # lower edge of the warn band (a looser ham rate)
    spread: float  # score distance over which the symbol weight goes from 0.5 to 1
    ngrams: tuple[int, ...] = ()  # squeezed-text n-grams (format 1)
    words: bool = True
    wb: tuple[int, ...] = (3, 4, 5)
    bigrams: bool = True
    unique: bool = True  # each distinct word and word pair counts once
    digits: bool = False  # numbers shorter than 8 digits (their length class) are words
    min_count: int = 0  # the feature count divides by at least the root of this
    meta: Mapping[str, Any] = field(default_factory=dict)
    # word -> sum of its features' weights, and their number; filled as words are met
    sums: dict[str, float] = field(default_factory=dict, compare=False, repr=False)
    counts: dict[str, int] = field(default_factory=dict, compare=False, repr=False)
    # the word-pair weights ("a b") keyed by the pair ("a", "b"), as pairwise() gives it;
    # built from the weights when empty, taken as theirs when given (``copy``: a model
    # with other weights is built anew, not ``replace``d from another)
    pairs: dict[tuple[str, str], float] = field(default_factory=dict, compare=False,
                                                repr=False)

    def __post_init__(self) -> None:
        if self.pairs:  # given by copy(): the same weights
            return
        for k, v in self.weights.items():
            if " " in k and k[0] != " " and k[-1] != " ":  # n-grams have spaces at ends
                a, _, b = k.partition(" ")
                self.pairs[a, b] = v

    def copy(self) -> Model:
        """The same model (the same weights, shared: neither is ever written) with a
        word memo of its own, so that two threads may score with the two."""
        return replace(self, sums=dict(self.sums), counts=dict(self.counts),
                       pairs=self.pairs)

    def score(self, text: str) -> float:
        """The decision function: >= ``threshold`` is spam."""
        return self.score_template(template(text))

    def word(self, w: str) -> float:
        """The weight sum of the features ``w`` brings on its own (remembered, with
        their number, in ``sums`` and ``counts``)."""
        get = self.weights.get
        grams = word_grams(w, self.wb) if self.wb else []
        if self.words:
            grams.append("w:" + w)
        r = self.sums[w] = sum([get(g, 0.0) for g in grams])
        self.counts[w] = len(grams)
        return r

    def _learn(self, ws: Iterable[str]) -> None:
        new = [w for w in ws if w not in self.sums]
        if len(self.sums) + len(new) > WORD_MEMO:
            self.sums.clear()
            self.counts.clear()
            new = list(ws)  # the words known before are gone too
        for w in new:
            self.word(w)

    def score_template(self, template_text: str) -> float:
        """``score`` from ``normalize.template(text)``."""
        t = prepare_template(template_text)
        return self.score_words(words(t, self.digits), t)

    def score_words(self, ws: list[str], t: str = "") -> float:
        """``score`` from the words of the prepared text ``t`` (``words(t, digits)``;
        ``t`` itself only for format-1 ``ngrams``): models of the same ``digits``
        share them."""
        get = self.weights.get
        total = 0.0
        count = 0
        if self.wb or self.words:
            uw = dict.fromkeys(ws) if self.unique else ws
            total = _summed(self.sums, uw, self._learn)
            count = sum(map(self.counts.__getitem__, uw))
        if self.bigrams and len(ws) > 1:
            pairs: Iterable[tuple[str, str]] = pairwise(ws)
            if self.unique:
                unique = dict.fromkeys(pairs)
                count += len(unique)
                pairs = unique
            else:
                count += len(ws) - 1
            total += sum(map(self.pairs.get, pairs, repeat(0.0)))
        if self.ngrams:
            s = squeeze(t)
            for n in self.ngrams:
                m = len(s) - n + 1
                if m > 0:
                    count += m
                    total += sum([get(s[i:i + n], 0.0) for i in range(m)])
        if not count:
            return self.bias
        return self.bias + total / math.sqrt(max(count, self.min_count))

    def weight(self, score: float) -> float:
        """Symbol weight in 0.5..1 for a score at or above the threshold."""
        return min(1.0, 0.5 + 0.5 * (score - self.threshold) / self.spread)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": MODEL_FORMAT,
            "bias": self.bias,
            "threshold": self.threshold,
            "suspect": self.suspect,
            "spread": self.spread,
            "ngrams": list(self.ngrams),
            "wb": list(self.wb),
            "words": self.words,
            "bigrams": self.bigrams,
            "unique": self.unique,
            "digits": self.digits,
            "min_count": self.min_count,
            "meta": dict(self.meta),
            "weights": dict(self.weights),
        }

    def save(self, path: str | Path) -> int:
        """Write the model (gzip'd JSON, written then renamed); returns its size."""
        p = Path(path)
        data = json.dumps(self.to_json(), separators=(",", ":"), sort_keys=True,
                          ensure_ascii=False).encode("utf-8")
        tmp = p.with_name(p.name + ".tmp")
        with open(tmp, "wb") as f:
            f.write(gzip.compress(data, 9, mtime=0))
        tmp.replace(p)
        return p.stat().st_size


class ModelPair:
    """Two models that read a text alike (the content model and the fraud model),
    scored in one pass: the text is split once, its distinct words and word pairs are
    found once, the feature count (the same for both: it depends on the words and the
    n-gram sizes alone) is summed once, and a word new to both has its n-grams cut
    once. Each score is the float its model's ``score_words`` gives, summed in the same
    order (tests/content/test_classifier.py holds them equal)."""

    __slots__ = ("a", "b", "counts", "joint", "native", "sums_a", "sums_b")

    def __init__(self, a: Model, b: Model, native: bool | None = None) -> None:
        """``native``: score with the compiled scorer (None: if ``compiled.available``);
        False: the Python path below, the reference the compiled one is held to."""
        if not ModelPair.reads_alike(a, b):
            raise ValueError("the two models do not read a text alike")
        self.a = a
        self.b = b
        # word -> its n-gram weight sum in each model, and its feature count
        self.sums_a: dict[str, float] = {}
        self.sums_b: dict[str, float] = {}
        self.counts: dict[str, int] = {}
        self.joint: dict[str, tuple[float, float]] = {}
        self.native: _native.Scorer | None = None
        if native is None:
            native = compiled.available()
        if native and a.bigrams and (a.wb or a.words) and compiled.takes_grams(a.wb):
            self.native = _native_scorer(a, b)
            return
        with _LOCK:
            built = next((j for j in _JOINT if j[0] is a.weights and j[1] is b.weights), None)
        if built is not None:  # the same two models paired before in this process
            _, _, self.joint, sums_a, sums_b, counts = built
            self.sums_a.update(sums_a)
            self.sums_b.update(sums_b)
            self.counts.update(counts)
            return
        # feature -> its weight in each model (0.0 where one lacks it): a word new to
        # both looks each n-gram up once (the lookups, not the sums, are the cost:
        # two dicts of 10^5 strings miss the CPU's caches)
        joint = {k: (v, 0.0) for k, v in a.weights.items()}
        for k, v in b.weights.items():
            joint[k] = (joint.get(k, _ZERO)[0], v)
        self.joint = joint
        self._learn(dict.fromkeys([*a.sums, *b.sums]))  # the words each model knows
        with _LOCK:
            if len(_JOINT) >= _LOADED_MAX:
                del _JOINT[0]
            _JOINT.append((a.weights, b.weights, joint, dict(self.sums_a),
                           dict(self.sums_b), dict(self.counts)))

    @staticmethod
    def reads_alike(a: Model, b: Model) -> bool:
        """Same words, same features a word brings, same count: one pass scores both."""
        return (not a.ngrams and not b.ngrams and a.unique and b.unique
                and (a.wb, a.words, a.bigrams, a.digits, a.min_count)
                == (b.wb, b.words, b.bigrams, b.digits, b.min_count))

    def _learn(self, ws: Iterable[str]) -> None:
        sa, sb, counts = self.sums_a, self.sums_b, self.counts
        new = [w for w in ws if w not in counts]
        if len(counts) + len(new) > WORD_MEMO:
            sa.clear()
            sb.clear()
            counts.clear()
            new = list(ws)
        get = self.joint.get
        wb, whole = self.a.wb, self.a.words
        for w in new:
            grams = word_grams(w, wb) if wb else []
            if whole:
                grams.append("w:" + w)
            # a feature a model lacks adds 0.0 in Model.word: leaving it out gives
            # the same float
            found = [x for x in map(get, grams) if x is not None]
            sa[w] = sum([x[0] for x in found])
            sb[w] = sum([x[1] for x in found])
            counts[w] = len(grams)

    def score_template(self, template_text: str) -> tuple[float, float]:
        """Both models' ``score_template``."""
        return self.score_words(words(prepare_template(template_text), self.a.digits))

    def score_words(self, ws: list[str]) -> tuple[float, float]:
        """Both models' ``score_words`` of the same words."""
        if self.native is not None:
            return self.native.score(ws)
        a, b = self.a, self.b
        total_a = total_b = 0.0
        count = 0
        if a.wb or a.words:
            uw = dict.fromkeys(ws)
            total_a = _summed(self.sums_a, uw, self._learn)
            total_b = sum(map(self.sums_b.__getitem__, uw))
            count = sum(map(self.counts.__getitem__, uw))
        if a.bigrams and len(ws) > 1:
            pairs = dict.fromkeys(pairwise(ws))
            count += len(pairs)
            total_a += sum(map(a.pairs.get, pairs, repeat(0.0)))
            total_b += sum(map(b.pairs.get, pairs, repeat(0.0)))
        if not count:
            return a.bias, b.bias
        root = math.sqrt(max(count, a.min_count))
        return a.bias + total_a / root, b.bias + total_b / root


def _native_scorer(a: Model, b: Model) -> _native.Scorer:
    """The compiled scorer of the pair (a, b): built once a process for the same two
    weights and what else the score takes."""
    rest = (a.bias, b.bias, a.wb, a.words, a.min_count)
    with _BUILDING:  # two reloads at once build it once
        with _LOCK:
            for wa, wb, r, scorer in _NATIVE:
                if wa is a.weights and wb is b.weights and r == rest:
                    return scorer
        wa, wb = (w if type(w) is dict else dict(w) for w in (a.weights, b.weights))
        scorer = _native.Scorer(wa, wb, a.wb, a.words, a.bias, b.bias, a.min_count,
                                os.urandom(16))
        # some 275,000 weights, tens of ms: a thousand at a time, so that the
        # interpreter may hand the GIL to the event loop between two calls
        while not scorer.load():
            pass
        with _LOCK:
            if len(_NATIVE) >= _LOADED_MAX:
                del _NATIVE[0]
            _NATIVE.append((a.weights, b.weights, rest, scorer))
        return scorer


def load_model(path: str | Path) -> Model:
    """The model in ``path``. A file this process has read before (the same bytes) is
    not parsed again: the model shares its weights with the first and has a word memo
    of its own, so a reload costs a read and a digest, not a second of parsing."""
    raw = Path(path).read_bytes()
    key = hashlib.blake2b(raw, digest_size=16).digest()
    with _LOCK:
        known = _LOADED.get(key)
    if known is None:
        known = _parse_model(raw, path)
        with _LOCK:
            while len(_LOADED) >= _LOADED_MAX:
                _LOADED.pop(next(iter(_LOADED)))
            _LOADED[key] = known
    return known.copy()


def _parse_model(raw: bytes, path: str | Path) -> Model:
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    d = json.loads(raw)
    if d.get("format") not in _FORMATS:
        raise ValueError(f"{path}: not a {MODEL_FORMAT} model")
    model = Model(
        weights={str(k): float(v) for k, v in d["weights"].items()},
        bias=float(d["bias"]),
        threshold=float(d["threshold"]),
        suspect=float(d["suspect"]),
        spread=float(d["spread"]) or 1.0,
        ngrams=tuple(int(n) for n in d.get("ngrams", ())),
        words=bool(d["words"]),
        wb=tuple(int(n) for n in d.get("wb", ())),
        bigrams=bool(d.get("bigrams", False)),
        unique=bool(d.get("unique", False)),
        digits=bool(d.get("digits", True)),
        min_count=int(d.get("min_count", 0)),
        meta=d.get("meta", {}),
    )
    for k in model.weights:
        if k.startswith("w:"):
            model.word(k[2:])
    return model
