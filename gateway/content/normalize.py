# ruff: noqa: RUF001  (the homoglyph table is made of look-alike letters on purpose)
"""Text normalisation that undoes spammers' cheap tricks: one form per template.

``fold`` gives casefolded text with accents stripped, homoglyphs (Cyrillic, Greek,
full-width, mathematical alphanumerics) mapped to their Latin look-alike and
invisible characters (zero-width spaces, soft hyphens, bidi marks) removed.
``squeeze`` then drops everything but letters, digits and currency signs, so
``F R E E``, ``f.r.e.e`` and ``free`` become the same ``free``; ``template`` reduces
URLs to their domain and digit runs to a length class, for features and
fingerprints that should not care which link or amount a message carries.

ASCII text (most SMS) takes a fast path: ``str.casefold`` and two regexes.
"""

from __future__ import annotations

import re
import unicodedata
from types import MappingProxyType

__all__ = ["HOMOGLYPHS", "INVISIBLE", "fold", "squeeze", "template", "url_to_domain"]

#: Characters that look like a Latin letter or digit, mapped to it. NFKD already
#: handles full-width and mathematical alphanumerics; these are the ones it leaves.
HOMOGLYPHS = MappingProxyType({
    # Cyrillic
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o",
    "р": "p", "с": "c", "т": "t", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ї": "i",
    "ј": "j", "һ": "h", "ԁ": "d", "ԛ": "q", "ԝ": "w", "ӏ": "l", "ɡ": "g", "ս": "u",
    "ү": "y", "ь": "b", "з": "3", "ч": "4", "б": "6", "п": "n", "г": "r", "л": "n",
    # Greek
    "α": "a", "β": "b", "γ": "y", "δ": "d", "ε": "e", "η": "n", "ι": "i", "κ": "k",
    "ν": "v", "ο": "o", "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "ω": "w", "ϲ": "c",
    "ς": "c", "μ": "u", "θ": "o", "λ": "a", "σ": "o", "π": "n",
    # Latin look-alikes and letter-like symbols
    "ı": "i", "ł": "l", "ø": "o", "đ": "d", "ħ": "h", "ŧ": "t", "ß": "ss", "æ": "ae",
    "œ": "oe", "ſ": "s", "ɑ": "a", "ɩ": "i", "ʏ": "y", "ɴ": "n", "ʀ": "r", "ᴀ": "a",
    "ʙ": "b", "ᴄ": "c", "ᴅ": "d", "ᴇ": "e", "ꜰ": "f", "ɢ": "g", "ʜ": "h", "ᴊ": "j",
    "ᴋ": "k", "ʟ": "l", "ᴍ": "m", "ᴏ": "o", "ᴘ": "p", "ꞯ": "q", "ꜱ": "s", "ᴛ": "t",
    "ᴜ": "u", "ᴠ": "v", "ᴡ": "w", "ᴢ": "z",
    # punctuation look-alikes that hide dots and slashes in links
    "\u2024": ".", "\u3002": ".", "\uff0e": ".", "\uff61": ".", "\u2044": "/",
    "\u2215": "/", "\u29f8": "/",
})

#: removed outright: zero-width and bidi controls, soft hyphen, variation selectors
INVISIBLE = "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b\u200c\u200d\u200e" \
    "\u200f\u202a\u202b\u202c\u202d\u202e\u2060\u2061\u2062\u2063\u2064\u2066\u2067" \
    "\u2068\u2069\ufeff\ufe00\ufe01\ufe0e\ufe0f"

_TABLE = MappingProxyType({
    **{ord(k): v for k, v in HOMOGLYPHS.items()},
    **dict.fromkeys(map(ord, INVISIBLE)),
})

_URL = re.compile(
    r"(?:(?:h[tx]{2}ps?|ftp)://|www\.)([^\s/?#:]+)\S*"
    r"|\b((?:[a-z0-9-]+\.)+(?:com|net|org|info|biz|co|uk|us|io|ly|me|gl|gd|at|cc|gy|to|"
    r"ws|tk|ml|ga|cf|gq|xyz|top|online|site|club|app|link|click|shop|icu|live|ru|cn|"
    r"de|fr|in|sg|my|ph|au|ca|eu)(?:\.[a-z]{2})?)\b(?:/\S*)?",
)
_URL_HINT = re.compile(
    r"://|www\.|\.(?:com|net|org|info|biz|co|uk|us|io|ly|me|gl|gd|at|cc|gy|to|ws|tk|ml|ga|cf|"
    r"gq|xyz|top|online|site|club|app|link|click|shop|icu|live|ru|cn|de|fr|in|sg|my|ph|au|ca|eu)\b"
)
_DIGITS = re.compile(r"\d+")
_NOT_WORD = re.compile(r"[^\w£$€]+|_+")


def fold(text: str) -> str:
    """Casefold, strip accents, map homoglyphs, drop invisible characters."""
    if text.isascii():
        return text.casefold()
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    return text.casefold().translate(_TABLE)


def url_to_domain(folded: str) -> str:
    """Each URL in folded text replaced by its host (``http://x.example/a?b`` -> ``x.example``)."""
    if "." not in folded or _URL_HINT.search(folded) is None:
        return folded
    return _URL.sub(_host, folded)


def _host(m: re.Match[str]) -> str:
    host = m.group(1) or m.group(2) or ""
    return " " + (host[4:] if host.startswith("www.") else host) + " "


def _digit_class(m: re.Match[str]) -> str:
    n = m.end() - m.start()
    return "0" if n <= 2 else "00" if n <= 4 else "000" if n <= 7 else "0000"


def template(text: str, folded: str | None = None) -> str:
    """``fold`` + URLs as their domain + digit runs as a length class (``0``: 1-2
    digits, ``00``: 3-4, ``000``: 5-7, ``0000``: longer). ``folded``, if given, is
    ``fold(text)`` already computed."""
    t = url_to_domain(fold(text) if folded is None else folded)
    if t.isascii():
        b = t.encode("ascii")
        if len(b.translate(None, b"0123456789")) == len(b):  # no digit: nothing to class
            return t
    return _DIGITS.sub(_digit_class, t)


def squeeze(normalized: str) -> str:
    """Only letters, digits and currency signs: spacing and punctuation tricks vanish."""
    return _NOT_WORD.sub("", normalized)
