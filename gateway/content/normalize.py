"""Text normalisation that undoes spammers' cheap tricks: one form per template.

``fold`` gives casefolded text with accents stripped, homoglyphs (Cyrillic, Greek,
full-width, mathematical alphanumerics) mapped to their Latin look-alike and
invisible characters (zero-width spaces, soft hyphens, bidi marks) removed.
``squeeze`` then drops everything but letters, digits and currency signs, so
``F R E E``, ``f.r.e.e`` and ``free`` become the same ``free``; ``template`` reduces
links to their host and digit runs to a length class, for features and
fingerprints that should not care which link or amount a message carries. What is a
link is the scanner's decision (``gateway.content.scan``), not a pattern of its own.

ASCII text (most SMS) takes a fast path: ``str.casefold`` and one digit regex.
"""

from __future__ import annotations

import re
import unicodedata
from types import MappingProxyType

from gateway.content.chars import HOMOGLYPHS, INVISIBLE
from gateway.content.scan import Url, replace_urls, scan_urls

__all__ = ["HOMOGLYPHS", "INVISIBLE", "fold", "squeeze", "template", "url_to_domain"]

_TABLE = MappingProxyType({
    **{ord(k): v for k, v in HOMOGLYPHS.items()},
    **dict.fromkeys(map(ord, INVISIBLE)),
})

_DIGITS = re.compile(r"\d+")
_NOT_WORD = re.compile(r"[^\w£$€]+|_+")


def fold(text: str) -> str:
    """Casefold, strip accents, map homoglyphs, drop invisible characters."""
    if text.isascii():
        return text.casefold()
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    return text.casefold().translate(_TABLE)


def url_to_domain(folded: str, urls: tuple[Url, ...],
                  pieces: tuple[str | Url, ...] | None = None) -> str:
    """Each link in folded text replaced by its host (``http://x.example/a?b`` ->
    ``x.example``, ``www.`` dropped). ``urls`` are the scanner's links of the text
    (``scan.scan_urls``): what is a link is decided there alone; ``pieces``, if given,
    ``scan.link_pieces`` of them."""
    return replace_urls(folded, urls, _host, pieces)


def _host(url: Url) -> str:
    return " " + fold(url.unicode_host) + " "


def _digit_class(m: re.Match[str]) -> str:
    n = m.end() - m.start()
    return "0" if n <= 2 else "00" if n <= 4 else "000" if n <= 7 else "0000"


def template(text: str, folded: str | None = None, urls: tuple[Url, ...] | None = None,
             pieces: tuple[str | Url, ...] | None = None) -> str:
    """``fold`` + links as their host + digit runs as a length class (``0``: 1-2
    digits, ``00``: 3-4, ``000``: 5-7, ``0000``: longer). ``folded``, ``urls`` and
    ``pieces``, if given, are ``fold(text)``, ``scan_urls(text)`` and
    ``scan.link_pieces`` of them, already computed."""
    if urls is None:
        urls = scan_urls(text)
    t = fold(text) if folded is None else folded
    if urls:
        t = url_to_domain(t, urls, pieces)
    if t.isascii():
        b = t.encode("ascii")
        if len(b.translate(None, b"0123456789")) == len(b):  # no digit: nothing to class
            return t
    return _DIGITS.sub(_digit_class, t)


def squeeze(normalized: str) -> str:
    """Only letters, digits and currency signs: spacing and punctuation tricks vanish."""
    return _NOT_WORD.sub("", normalized)
