"""The SMS content classifier: a linear model over n-grams that survive spam tricks.

Symbols (default scores; a rule file's ``[symbols]`` table may change them):

- ``content.spam`` (10, the block score: the classifier may decide on its own): the
  model's score reached its block threshold, chosen by cross-validation so that at
  most 0.1% of ham would be blocked;
- ``content.suspect`` (3: with one more signal it warns, never alone): the score is in
  the warn band below it (chosen for about 0.5% of ham warned or blocked);
- ``content.fraud`` (10, the block score): the fraud model's score reached its block
  threshold. The fraud model is a second linear model over the same features,
  trained on today's frauds (smishing, impersonation, task jobs, investment and
  romance scams, in many languages: the fraud sets of loadtest/data) against their
  look-alikes (the genuine notices and chats they imitate) and the corpus's ham, its
  threshold chosen by cross-validation over whole sets for at most 0.1% of ham
  (docs/classifier.md). The content model knows the corpus's premium-rate spam of
  the 2000s; this one, what is sent now.
- ``content.fraud_suspect`` (0: nothing alone): the fraud model's score is in its band
  below that threshold (chosen for about 1% of the out-of-fold ham and look-alikes).
  A rule combines it with how the text reaches its reader (70-content.toml: from a
  phone number, with a link or a number to call).

Options (``[plugins.options.classifier]``): ``model`` (a file written by
``spamgw train``; default the shipped model trained on the SMS Spam Collection),
``fraud_model`` (default the shipped fraud model; ``""`` for none), ``min_chars``
(texts shorter than this are not scored, default 12), ``min_words``
(a text of fewer words, split at spaces, is at most ``content.suspect``, default 6:
a few words carry little evidence, and short chat is where the model errs; 2 of the
589 spam of the training data are that short), ``report_to`` (destinations not
judged: a subscriber forwarding spam to the reporting short code is reporting it;
default ``["7726"]``), ``cache_size`` (scores remembered per template, default
16384; 0 turns the cache off).

Both scores depend only on the message's template (``normalize.template``: digits as a
length class, links as their domain), so it is cached twice, both LRU-bounded: by
the text with its digits zeroed (``Facts.text_key``, a C-level byte translation:
codes and amounts hit without normalising anything) and by the template (links and
amounts hit after one normalisation).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from gateway.content.cache import LruCache
from gateway.content.classifier import (
    DEFAULT_FRAUD_MODEL,
    DEFAULT_MODEL,
    Model,
    ModelPair,
    load_model,
)
from gateway.content.facts import Facts
from gateway.content.plugin import Hit, PluginEnv, Symbol
from gateway.model import Event

SYMBOLS = (
    Symbol("content.spam", 10.0, "text classified as spam"),
    Symbol("content.suspect", 3.0, "text looks like spam"),
    Symbol("content.fraud", 10.0, "text classified as fraud"),
    Symbol("content.fraud_suspect", 0.0, "text looks like today's frauds"),
)
#: the score of a model that is not loaded: below every threshold
_NONE = float("-inf")


class ClassifierPlugin:
    name = "classifier"
    symbols = SYMBOLS
    channels = frozenset({"sms"})

    def __init__(self, model: Model, min_chars: int = 12, cache_size: int = 16384, *,
                 min_words: int = 6, report_to: Iterable[str] = ("7726",),
                 fraud: Model | None = None) -> None:
        self.model = model
        self.fraud = fraud
        # one pass for both models when they read the text alike
        self.pair = (ModelPair(model, fraud) if fraud is not None
                     and ModelPair.reads_alike(model, fraud) else None)
        self.min_chars = min_chars
        self.min_words = min_words
        self.report_to = frozenset(report_to)
        self.by_text: LruCache[tuple[float, float]] = LruCache(cache_size)
        self.by_template: LruCache[tuple[float, float]] = LruCache(cache_size)

    def _score_template(self, t: str) -> tuple[float, float]:
        if self.pair is not None:
            return self.pair.score_template(t)
        fraud = self.fraud
        if fraud is None:
            return self.model.score_template(t), _NONE
        return self.model.score_template(t), fraud.score_template(t)

    def scores(self, facts: Facts) -> tuple[float, float]:
        """The content model's score and the fraud model's (``-inf`` without one)."""
        key = facts.text_key()
        scores = self.by_text.get(key)
        if scores is None:
            t = facts.template()
            scores = self.by_template.get(t)
            if scores is None:
                scores = self._score_template(t)
                self.by_template.put(t, scores)
            self.by_text.put(key, scores)
        return scores

    def score(self, facts: Facts) -> float:
        return self.scores(facts)[0]

    def check(self, event: Event, facts: Facts | None = None) -> Iterable[Hit]:
        text = event.text
        if not text or len(text) < self.min_chars or event.dst.digits in self.report_to:
            return ()
        m = self.model
        score, fraud = self.scores(facts if facts is not None else Facts(event))
        if score < m.suspect and (self.fraud is None or fraud < self.fraud.suspect):
            return ()
        long_enough = len(text.split(None, self.min_words - 1)) >= self.min_words
        hits: list[Hit] = []
        if score >= m.threshold and long_enough:
            hits.append("content.spam")
        elif score >= m.suspect:
            hits.append("content.suspect")
        if long_enough and self.fraud is not None and fraud >= self.fraud.suspect:
            hits.append("content.fraud" if fraud >= self.fraud.threshold
                        else "content.fraud_suspect")
        return hits


def create(env: PluginEnv) -> ClassifierPlugin:
    opts: dict[str, Any] = dict(env.options)
    fraud_file = str(opts.get("fraud_model", DEFAULT_FRAUD_MODEL))
    return ClassifierPlugin(load_model(opts.get("model", DEFAULT_MODEL)),
                            int(opts.get("min_chars", 12)), int(opts.get("cache_size", 16384)),
                            min_words=int(opts.get("min_words", 6)),
                            report_to=[str(d) for d in opts.get("report_to", ["7726"])],
                            fraud=load_model(fraud_file) if fraud_file else None)
