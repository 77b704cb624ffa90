# ruff: noqa: RUF001  (the homoglyph table is made of look-alike letters on purpose)
"""The characters spammers hide behind: look-alikes of Latin letters, digits, dots and
slashes, and invisible characters. One table for the normaliser (``normalize.fold``)
and the scanner (``scan``), which maps the dot and slash look-alikes inside links.
"""

from __future__ import annotations

from types import MappingProxyType

__all__ = ["HOMOGLYPHS", "INVISIBLE"]

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
    "\u00b7": ".", "\u2027": ".", "\u2219": ".", "\u22c5": ".", "\u30fb": ".",
    "\u2215": "/", "\u29f8": "/",
})

#: removed outright: zero-width and bidi controls, soft hyphen, variation selectors
INVISIBLE = "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b\u200c\u200d\u200e" \
    "\u200f\u202a\u202b\u202c\u202d\u202e\u2060\u2061\u2062\u2063\u2064\u2066\u2067" \
    "\u2068\u2069\ufeff\ufe00\ufe01\ufe0e\ufe0f"
