"""The SMS content classifier: a linear model over n-grams that survive spam tricks.

Symbols (default scores; a rule file's ``[symbols]`` table may change them):

- ``content.spam``: the model's score reached its threshold (chosen by
  cross-validation so that at most 0.1% of ham would be blocked); the weight grows
  from 0.5 at the threshold to 1 at the typical spam score;
- ``content.suspect``: the score reached the looser threshold (about 1% of ham)
  but not the strict one.

Options (``[plugins.options.classifier]``): ``model`` (a file written by
``spamgw train``; default the shipped model trained on the SMS Spam Collection),
``min_chars`` (texts shorter than this are not scored, default 12).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from gateway.content.classifier import DEFAULT_MODEL, Model, load_model
from gateway.engine.plugins import Hit, PluginEnv, Symbol
from gateway.model import Event

SYMBOLS = (
    Symbol("content.spam", 6.0, "text classified as spam"),
    Symbol("content.suspect", 0.5, "text looks like spam"),
)


class ClassifierPlugin:
    name = "classifier"
    symbols = SYMBOLS
    channels = frozenset({"sms"})

    def __init__(self, model: Model, min_chars: int = 12) -> None:
        self.model = model
        self.min_chars = min_chars

    def check(self, event: Event) -> Iterable[Hit]:
        text = event.text
        if not text or len(text) < self.min_chars:
            return ()
        m = self.model
        score = m.score(text)
        if score >= m.threshold:
            return (("content.spam", m.weight(score)),)
        if score >= m.suspect:
            return ("content.suspect",)
        return ()


def create(env: PluginEnv) -> ClassifierPlugin:
    opts: dict[str, Any] = dict(env.options)
    return ClassifierPlugin(load_model(opts.get("model", DEFAULT_MODEL)),
                            int(opts.get("min_chars", 12)))
