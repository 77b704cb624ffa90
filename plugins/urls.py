"""URLs in SMS text: shorteners, blocked and look-alike domains, obfuscation, punycode.

Symbols (default scores; a rule file's ``[symbols]`` table may change them):

- ``url.blocked_domain``: a link to a domain on ``blocked_domains``, in any form the
  scanner reads (``hxxp``, ``[.]``, comma for dot, spaced letters) and also written
  to look like one (digits for letters: ``evil-bank-l0gin.example``, homoglyphs);
- ``url.lookalike``: a host imitating a brand of ``brand_domains`` (homoglyphs,
  digit swaps, one edit away, brand name on another domain);
- ``url.obfuscated``: a link written to dodge detection (``hxxp``, ``x[.]com``,
  ``x dot com``, ``x . com``, zero-width characters);
- ``url.punycode``: an internationalised (``xn--``) host;
- ``url.ip``: a link to a bare IP address;
- ``url.shortener``: a link through a shortener of ``shortener_domains``.

Options (``[plugins.options.urls]``): ``brands`` (extra brand domains),
``brand_list`` / ``shortener_list`` / ``blocked_list`` (list names).

Default scores equal the shipped rules' ``[symbols]``. The links come from the
event's one scan (``facts.urls()``), shared with the rules' ``has_url`` and
``url_domain_in``.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

from gateway.content.facts import Facts
from gateway.content.plugin import Hit, PluginEnv, StringSet, Symbol
from gateway.content.urls import BrandMatcher, DomainSkeletons
from gateway.model import Event

SYMBOLS = (
    Symbol("url.blocked_domain", 10.0, "links to a blocked domain"),
    Symbol("url.lookalike", 6.0, "links to a look-alike of a known brand's domain"),
    Symbol("url.obfuscated", 4.0, "link written in an obfuscated form (hxxp, [.], dot com)"),
    Symbol("url.punycode", 3.0, "links to an internationalised (punycode) domain"),
    Symbol("url.ip", 3.0, "links to a bare IP address"),
    Symbol("url.shortener", 1.0, "link hidden behind a URL shortener"),
)


class UrlPlugin:
    name = "urls"
    symbols = SYMBOLS
    channels = frozenset({"sms"})

    def __init__(self, brands: BrandMatcher, shorteners: StringSet | None,
                 blocked: StringSet | None) -> None:
        self.brands = brands
        # hosts repeat (a campaign's, a courier's): judge each once, LRU-bounded
        self.imitates = functools.lru_cache(maxsize=8192)(brands.imitates)
        self.shorteners = shorteners
        self.blocked = blocked
        self._blocked_version = -1
        self._blocked_like: functools._lru_cache_wrapper[str | None] | None = None

    def blocked_like(self, host: str) -> str | None:
        """The blocked domain ``host`` is or looks like (rebuilt after every edit of the
        list: an API edit adds or removes entries)."""
        blocked = self.blocked
        if blocked is None:
            return None
        if blocked.version != self._blocked_version or self._blocked_like is None:
            self._blocked_version = blocked.version
            self._blocked_like = functools.lru_cache(maxsize=8192)(
                DomainSkeletons(blocked).match)
        return self._blocked_like(host)

    def check(self, event: Event, facts: Facts) -> Iterable[Hit]:
        if not event.text:
            return ()
        urls = facts.urls()
        if not urls:
            return ()
        hits: list[Hit] = []
        blocked, short = self.blocked, self.shorteners
        for u in urls:
            if blocked is not None and (u.host in blocked or self.blocked_like(u.host)):
                hits.append("url.blocked_domain")
            if self.brands and self.imitates(u.host) is not None:
                hits.append("url.lookalike")
            if u.obfuscated:
                hits.append("url.obfuscated")
            if u.punycode:
                hits.append("url.punycode")
            if u.ip:
                hits.append("url.ip")
            if short is not None and u.host in short:
                hits.append("url.shortener")
        return tuple(dict.fromkeys(hits))  # each symbol once


def create(env: PluginEnv) -> UrlPlugin:
    opts: dict[str, Any] = dict(env.options)
    brand_list = env.lists.strings(str(opts.get("brand_list", "brand_domains")))
    brands = [*(brand_list or ()), *map(str, opts.get("brands", ()))]
    return UrlPlugin(
        BrandMatcher(brands),
        env.lists.strings(str(opts.get("shortener_list", "shortener_domains"))),
        env.lists.strings(str(opts.get("blocked_list", "blocked_domains"))),
    )
