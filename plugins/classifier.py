"""The SMS content classifier: a linear model over n-grams that survive spam tricks.

Symbols (default scores; a rule file's ``[symbols]`` table may change them):

- ``content.spam`` (10, the block score: the classifier may decide on its own): the
  model's score reached its block threshold, chosen by cross-validation so that at
  most 0.1% of ham would be blocked;
- ``content.suspect`` (3: with one more signal it warns, never alone): the score is in
  the warn band below it (chosen for about 0.5% of ham warned or blocked).

Options (``[plugins.options.classifier]``): ``model`` (a file written by
``spamgw train``; default the shipped model trained on the SMS Spam Collection),
``min_chars`` (texts shorter than this are not scored, default 12), ``min_words``
(a text of fewer words, split at spaces, is at most ``content.suspect``, default 6:
a few words carry little evidence, and short chat is where the model errs; 2 of the
589 spam of the training data are that short), ``report_to`` (destinations not
judged: a subscriber forwarding spam to the reporting short code is reporting it;
default ``["7726"]``), ``cache_size`` (scores remembered per template, default
16384; 0 turns the cache off).

A score depends only on the message's template (``normalize.template``: digits as a
length class, links as their domain), so it is cached twice, both LRU-bounded: by
the text with its digits zeroed (``Facts.text_key``, a C-level byte translation:
codes and amounts hit without normalising anything) and by the template (links and
amounts hit after one normalisation).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from gateway.content.cache import LruCache
from gateway.content.classifier import DEFAULT_MODEL, Model, load_model
from gateway.content.facts import Facts
from gateway.content.plugin import Hit, PluginEnv, Symbol
from gateway.model import Event

SYMBOLS = (
    Symbol("content.spam", 10.0, "text classified as spam"),
    Symbol("content.suspect", 3.0, "text looks like spam"),
)


class ClassifierPlugin:
    name = "classifier"
    symbols = SYMBOLS
    channels = frozenset({"sms"})

    def __init__(self, model: Model, min_chars: int = 12, cache_size: int = 16384, *,
                 min_words: int = 6, report_to: Iterable[str] = ("7726",)) -> None:
        self.model = model
        self.min_chars = min_chars
        self.min_words = min_words
        self.report_to = frozenset(report_to)
        self.by_text: LruCache[float] = LruCache(cache_size)
        self.by_template: LruCache[float] = LruCache(cache_size)

    def score(self, facts: Facts) -> float:
        key = facts.text_key()
        score = self.by_text.get(key)
        if score is None:
            t = facts.template()
            score = self.by_template.get(t)
            if score is None:
                score = self.model.score_template(t)
                self.by_template.put(t, score)
            self.by_text.put(key, score)
        return score

    def check(self, event: Event, facts: Facts | None = None) -> Iterable[Hit]:
        text = event.text
        if not text or len(text) < self.min_chars or event.dst.digits in self.report_to:
            return ()
        m = self.model
        score = self.score(facts if facts is not None else Facts(event))
        if score >= m.threshold and len(text.split(None, self.min_words - 1)) >= self.min_words:
            return ("content.spam",)
        if score >= m.suspect:
            return ("content.suspect",)
        return ()


def create(env: PluginEnv) -> ClassifierPlugin:
    opts: dict[str, Any] = dict(env.options)
    return ClassifierPlugin(load_model(opts.get("model", DEFAULT_MODEL)),
                            int(opts.get("min_chars", 12)), int(opts.get("cache_size", 16384)),
                            min_words=int(opts.get("min_words", 6)),
                            report_to=[str(d) for d in opts.get("report_to", ["7726"])])
