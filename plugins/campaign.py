"""Near-duplicate campaigns: the same template sent to many recipients.

Each SMS text gets MinHash LSH band keys (``gateway.content.fingerprint``): one
template with different names, amounts, links or numbers shares band keys, distinct
messages do not. Every band key counts the distinct recipients it reached in a
sliding window (``env.state.distinct``, so a Redis backend counts across a
cluster); the campaign's size is the largest of them.

Symbols (default scores; a rule file's ``[symbols]`` table may change them):

- ``campaign.bulk``: the campaign reached more than ``over`` recipients in ``window``
  seconds; the weight grows from 0.5 to 1 as it reaches twice that.

Senders on the allowlists (``allowed_numbers``, ``allowed_senders``: a bank's OTPs and
notices) are neither punished nor counted; the allow rules already end their
evaluation, and the plugin does not count them when called directly either.

Options (``[plugins.options.campaign]``): ``window`` (seconds, default 600),
``over`` (recipients, default 50), ``bands``, ``rows``, ``min_words`` (default 6),
``allow_lists`` (list names, default the two allowlists).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from gateway.content.fingerprint import Fingerprinter
from gateway.engine.plugins import Hit, PluginEnv, Symbol
from gateway.lists.numberset import NumberSet
from gateway.lists.stringset import StringSet
from gateway.model import Event
from gateway.numbers import Number
from gateway.state import Counters

SYMBOLS = (
    Symbol("campaign.bulk", 5.0, "near-identical text sent to many recipients"),
)
COUNTER = "campaign.recipients"


class CampaignPlugin:
    name = "campaign"
    symbols = SYMBOLS
    channels = frozenset({"sms"})

    def __init__(self, state: Counters, fingerprinter: Fingerprinter, window: float,
                 over: int, allow_numbers: tuple[NumberSet, ...],
                 allow_senders: tuple[StringSet, ...]) -> None:
        self.state = state
        self.fp = fingerprinter
        self.window = window
        self.over = over
        self.allow_numbers = allow_numbers
        self.allow_senders = allow_senders

    def allowed(self, src: Number) -> bool:
        if src.key:
            return any(src.key in ns for ns in self.allow_numbers)
        return bool(src.text) and any(src.text in ss for ss in self.allow_senders)

    def size(self, event: Event) -> int:
        """Count this message; return its campaign's distinct recipients in the window."""
        keys = self.fp.keys(event.text or "")
        if not keys:
            return 0
        dst = event.dst.key or event.dst.text
        distinct, ts, window = self.state.distinct, event.ts, self.window
        return max(distinct(COUNTER, k, dst, ts, window) for k in keys)

    def check(self, event: Event) -> Iterable[Hit]:
        if not event.text or self.allowed(event.src):
            return ()
        n = self.size(event)
        if n <= self.over:
            return ()
        return (("campaign.bulk", min(1.0, 0.5 + 0.5 * (n - self.over) / self.over)),)


def create(env: PluginEnv) -> CampaignPlugin:
    opts: dict[str, Any] = dict(env.options)
    names = opts.get("allow_lists", ("allowed_numbers", "allowed_senders"))
    numbers = tuple(ns for n in names if (ns := env.lists.numbers(str(n))) is not None)
    senders = tuple(ss for n in names if (ss := env.lists.strings(str(n))) is not None)
    fp = Fingerprinter(int(opts.get("bands", 4)), int(opts.get("rows", 3)),
                       int(opts.get("min_words", 6)))
    return CampaignPlugin(env.state, fp, float(opts.get("window", 600)),
                          int(opts.get("over", 50)), numbers, senders)
