"""The SMS content classifier at run time: pure Python, one dict lookup per feature.

Features survive the usual tricks: the text is folded (case, accents, homoglyphs,
invisible characters), URLs become their domain, digit runs a length class, letters
spaced or dotted one by one (``F R E E``, ``f.r.e.e``) are joined, and then

- character 5-grams (the trained default; 3- and 4-grams add 2.6 times the lookups
  for half a point of recall) of the text with everything but letters, digits and
  currency signs squeezed out, so spacing and punctuation do not change them;
- words of the folded text (``w:`` prefix).

A feature's value is its count divided by the square root of the number of
features in the message; the score is ``bias + sum(weight * value)``, the decision
function of the logistic regression ``gateway.content.train`` fitted. The model
file (gzip'd JSON) holds the weights of the features that matter, the threshold
chosen by cross-validation and the figures measured there.
"""

from __future__ import annotations

import gzip
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway.content.normalize import squeeze, template

__all__ = ["DEFAULT_MODEL", "MODEL_FORMAT", "Model", "features", "load_model", "prepare",
           "prepare_template"]

MODEL_FORMAT = "spamgw-content-lr/1"
#: the shipped model, trained on the SMS Spam Collection v.1 (CC BY 4.0)
DEFAULT_MODEL = Path(__file__).with_name("models") / "sms_lr.json.gz"

_SPACED = re.compile(r"(?<!\w)\w([ .\-_*+]{1,2})(?:\w\1)+\w(?!\w)")  # same separator
_SPACE_CHARS = re.compile(r"[ .\-_*+]")
_WORDS = re.compile(r"[^\W_]+|[£$€]")


def _join(m: re.Match[str]) -> str:
    return _SPACE_CHARS.sub("", m.group())


def prepare(text: str) -> str:
    """The normalised text features are taken from."""
    return prepare_template(template(text))


def prepare_template(t: str) -> str:
    """``prepare`` from ``normalize.template(text)`` (the score depends on nothing else)."""
    return _SPACED.sub(_join, t) if len(t) > 6 else t


def features(text: str, ngrams: tuple[int, ...] = (5,), words: bool = True) -> list[str]:
    """Every feature occurrence of ``text`` (training uses this; scoring inlines it)."""
    t = prepare(text)
    s = squeeze(t)
    out: list[str] = []
    for n in ngrams:
        out.extend(s[i:i + n] for i in range(len(s) - n + 1))
    if words:
        out.extend("w:" + w for w in _WORDS.findall(t))
    return out


@dataclass(frozen=True, slots=True)
class Model:
    weights: Mapping[str, float]
    bias: float
    threshold: float  # score at or above: spam (at most the target ham rate blocked)
    suspect: float  # a lower threshold (a looser ham rate) for a softer symbol
    spread: float  # score distance over which the symbol weight goes from 0.5 to 1
    ngrams: tuple[int, ...] = (5,)
    words: bool = True
    meta: Mapping[str, Any] = field(default_factory=dict)

    def score(self, text: str) -> float:
        """The decision function: > ``threshold`` is spam."""
        return self.score_template(template(text))

    def score_template(self, template_text: str) -> float:
        """``score`` from ``normalize.template(text)``."""
        t = prepare_template(template_text)
        s = squeeze(t)
        get = self.weights.get
        total = 0.0
        count = 0
        for n in self.ngrams:
            m = len(s) - n + 1
            if m > 0:
                count += m
                total += sum([get(s[i:i + n], 0.0) for i in range(m)])
        if self.words:
            ws = _WORDS.findall(t)
            count += len(ws)
            total += sum([get("w:" + w, 0.0) for w in ws])
        if not count:
            return self.bias
        return self.bias + total / math.sqrt(count)

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
            "words": self.words,
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


def load_model(path: str | Path) -> Model:
    raw = Path(path).read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    d = json.loads(raw)
    if d.get("format") != MODEL_FORMAT:
        raise ValueError(f"{path}: not a {MODEL_FORMAT} model")
    return Model(
        weights={str(k): float(v) for k, v in d["weights"].items()},
        bias=float(d["bias"]),
        threshold=float(d["threshold"]),
        suspect=float(d["suspect"]),
        spread=float(d["spread"]) or 1.0,
        ngrams=tuple(int(n) for n in d["ngrams"]),
        words=bool(d["words"]),
        meta=d.get("meta", {}),
    )
