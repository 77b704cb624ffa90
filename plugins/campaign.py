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
notices) and senders of the sender-ID registry (``registered_senders``) on a route and
to a country registered for them are neither punished nor counted: one template to
many recipients is what a registered A2P sender does. The same sender ID on another
route is counted like any sender (and blocked by the spoofing rules).

Each message also gets a campaign key (``Facts.campaign``), so rule counters with
``key = "campaign"`` count near-duplicates as one text instead of exact ones. Two
messages of one template need not share the same band (only one of the four, most
of the time), so band keys are linked: a message takes the smallest campaign key
already given to any of its band keys (its own smallest band key if none was), and
gives it to all of them. A campaign keeps the key its first message gave it (a later
message's own smaller band key does not rename it, which would restart the rule
counters that count it). The links live in this process (LRU-bounded); keys are
band keys, so processes that see the same campaign settle on the same key.

Band keys depend only on the normalised words, so they are cached (LRU-bounded) by
the text with its digits zeroed (``Facts.text_key``) and by the words; only the
counting runs for every message.

Options (``[plugins.options.campaign]``): ``window`` (seconds, default 600),
``over`` (recipients, default 50), ``bands``, ``rows``, ``min_words`` (default 6),
``allow_lists`` (list and registry names, default the two allowlists and
``registered_senders``), ``cache_size`` (texts
remembered, default 16384; 0 turns the cache off).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

from gateway.content.cache import LruCache
from gateway.content.facts import Facts
from gateway.content.fingerprint import Fingerprinter, campaign_parts
from gateway.content.plugin import Counters, Hit, Number, NumberSet, PluginEnv, StringSet, Symbol
from gateway.lists.senders import SenderStatus
from gateway.model import Event

SYMBOLS = (
    Symbol("campaign.bulk", 1.0, "near-identical text sent to many recipients"),
)
COUNTER = "campaign.recipients"
REGISTERED = SenderStatus.REGISTERED


class CampaignPlugin:
    name = "campaign"
    symbols = SYMBOLS
    channels = frozenset({"sms"})

    def __init__(self, state: Counters, fingerprinter: Fingerprinter, window: float,
                 over: int, allow_numbers: tuple[NumberSet, ...],
                 allow_senders: tuple[StringSet, ...], cache_size: int = 16384,
                 registries: tuple[Any, ...] = ()) -> None:
        self.state = state
        #: ``MemoryCounters.distinct_max``, where the backend has it
        self.distinct_max: Callable[..., int] | None = getattr(state, "distinct_max", None)
        self.fp = fingerprinter
        self.window = window
        self.over = over
        self.allow_numbers = allow_numbers
        self.allow_senders = allow_senders
        #: sender registries (``gateway.lists.senders.SenderRegistry``)
        self.registries = registries
        self.by_text: LruCache[tuple[int, ...]] = LruCache(cache_size)
        self.by_words: LruCache[tuple[int, ...]] = LruCache(cache_size)
        self.links: OrderedDict[int, int] = OrderedDict()  # band key -> campaign key
        self.max_links = max(4 * cache_size, 4096)

    def allowed(self, src: Number, event: Event | None = None) -> bool:
        if src.key:
            for ns in self.allow_numbers:
                if src.key in ns:
                    return True
        elif src.text:
            for ss in self.allow_senders:
                if src.text in ss:
                    return True
        if event is not None and src is event.src:
            # status_of remembers the event's status: the rules' sender predicates,
            # which run after the plugins, find it there
            for r in self.registries:
                if r.status_of(event) is REGISTERED:
                    return True
        elif event is not None:
            for r in self.registries:
                if r.registered(src.text, event.route, event.dst.region):
                    return True
        return False

    def keys(self, facts: Facts) -> tuple[int, ...]:
        """The text's LSH band keys (empty for a short text)."""
        key = facts.text_key()
        keys = self.by_text.get(key)
        if keys is None:
            parts = campaign_parts(facts.ev.text or "", facts.folded(), facts.urls(),
                                   facts.link_pieces())
            joined = b" ".join(parts)
            keys = self.by_words.get(joined)
            if keys is None:
                keys = self.fp.keys_of_parts(parts)
                self.by_words.put(joined, keys)
            self.by_text.put(key, keys)
        return keys

    def count(self, event: Event, facts: Facts) -> int:
        """Count this message; return its campaign's distinct recipients in the window
        and set ``facts.campaign`` to the band key that reached them."""
        keys = self.keys(facts)
        if not keys:
            return 0
        dst = event.dst.key or event.dst.text
        facts.campaign = self.link(keys)
        if self.distinct_max is not None:  # the in-memory counters: one call for all
            return self.distinct_max(COUNTER, keys, dst, event.ts, self.window)
        distinct, ts, window = self.state.distinct, event.ts, self.window
        return max([distinct(COUNTER, k, dst, ts, window) for k in keys])

    def link(self, keys: tuple[int, ...]) -> int:
        """The campaign key of a message with these band keys (see the module doc)."""
        links = self.links
        get = links.get
        linked = [c for k in keys if (c := get(k)) is not None]
        campaign = min(linked) if linked else min(keys)
        for k in keys:
            links[k] = campaign
            links.move_to_end(k)
        while len(links) > self.max_links:
            links.popitem(last=False)
        return campaign

    def size(self, event: Event) -> int:
        """Count this message; return its campaign's distinct recipients in the window."""
        return self.count(event, Facts(event))

    def check(self, event: Event, facts: Facts | None = None) -> Iterable[Hit]:
        if not event.text or self.allowed(event.src, event):
            return ()
        n = self.count(event, facts if facts is not None else Facts(event))
        if n <= self.over:
            return ()
        return (("campaign.bulk", min(1.0, 0.5 + 0.5 * (n - self.over) / self.over)),)


def create(env: PluginEnv) -> CampaignPlugin:
    opts: dict[str, Any] = dict(env.options)
    names = opts.get("allow_lists", ("allowed_numbers", "allowed_senders", "registered_senders"))
    numbers = tuple(ns for n in names if (ns := env.lists.numbers(str(n))) is not None)
    senders = tuple(ss for n in names if (ss := env.lists.strings(str(n))) is not None)
    registries = tuple(r for n in names if (r := env.lists.registry(str(n))) is not None)
    fp = Fingerprinter(int(opts.get("bands", 4)), int(opts.get("rows", 3)),
                       int(opts.get("min_words", 6)))
    return CampaignPlugin(env.state, fp, float(opts.get("window", 600)),
                          int(opts.get("over", 50)), numbers, senders,
                          int(opts.get("cache_size", 16384)), registries)
