"""Near-duplicate fingerprints: one template with different names, amounts and links
gives the same campaign keys.

The text is normalised (``fold``: case, accents, homoglyphs, invisible characters;
every link the scanner finds becomes one token, every digit run another, punctuation
goes), cut into
word shingles (single words and word pairs, each hashed once, in C), and summarised
by a MinHash sketch computed with one-permutation hashing: each shingle's stable
32-bit hash (CRC-32, the same in every process, so a Redis-backed cluster agrees)
picks one of ``bins`` bins by its low bits and competes for that bin's minimum; empty bins
borrow from the next filled one (densification). The sketch is cut into ``bands``
of ``rows`` bins (LSH): two messages whose shingle sets have Jaccard similarity J
share at least one band key with probability 1 - (1 - J^rows)^bands: 0.995 for
J = 0.9, 0.10 for J = 0.3, 0.004 for J = 0.1 with the defaults (4 bands of 3).

Hashing runs in C; one loop over the shingles keeps each bin's minimum: a few
microseconds for an SMS. Where the compiled part of the content path was built
(``gateway.content._native.band_keys``), the whole of ``keys_of_parts`` runs there; the
Python here is its reference (tests/content/test_native.py holds them equal).
"""

from __future__ import annotations

import re
import struct
import zlib
from dataclasses import dataclass, field
from functools import cache
from itertools import repeat
from operator import or_

from gateway.content import compiled
from gateway.content.normalize import fold
from gateway.content.scan import Url, replace_urls, scan_urls

__all__ = ["Fingerprinter", "campaign_parts", "campaign_text", "fingerprint",
           "fingerprint_casefolded", "normalize_text"]

_DIGITS = re.compile(r"\d+(?:[.,:/\- ]\d+)*")
_WORD = re.compile(r"[^\W\d_]+|[£$€]|\x01|\x02")

_MAX = (1 << 32) - 1
_DIGIT_RUN = re.compile(r"\d+")


def campaign_text(text: str, folded: str | None = None, urls: tuple[Url, ...] | None = None,
                  pieces: tuple[str | Url, ...] | None = None) -> list[str]:
    """The words a campaign fingerprint is made of (links ``\\x01``, numbers ``\\x02``).
    ``folded`` and ``urls``, if given, are ``fold(text)`` and ``scan_urls(text)``
    already computed: what is a link is the scanner's decision."""
    t = _links_out(text, fold(text) if folded is None else folded, urls, pieces)
    t = _DIGITS.sub(" \x02 ", t)
    return _WORD.findall(t)


def _links_out(text: str, folded: str, urls: tuple[Url, ...] | None,
               pieces: tuple[str | Url, ...] | None = None) -> str:
    """``folded`` with each of the text's links as the ``\\x01`` token."""
    if urls is None:
        urls = scan_urls(text)
    return replace_urls(folded, urls, _link_token, pieces) if urls else folded


def _link_token(_url: Url) -> str:
    return " \x01 "


def campaign_parts(text: str, folded: str | None = None, urls: tuple[Url, ...] | None = None,
                   pieces: tuple[str | Url, ...] | None = None) -> list[bytes]:
    """``campaign_text``'s words as UTF-8 bytes (what ``Fingerprinter.sketch_parts``
    hashes). ASCII text without ``$``, ``\\x01`` or ``\\x02`` (most SMS) takes a
    C-level path: after the same link and number substitutions, its words are its
    runs of letters and the ``\\x01``/``\\x02`` tokens (each inserted between two
    spaces), so a byte translation to letters-or-space and a split find them
    (``tests/content/test_campaign.py`` holds it to ``campaign_text``)."""
    t = fold(text) if folded is None else folded
    if t.isascii() and "$" not in t and "\x01" not in t and "\x02" not in t:
        t = _links_out(text, t, urls, pieces)
        b = t.encode("ascii")
        if len(b.translate(None, _ASCII_DIGITS)) != len(b):
            b = _DIGITS.sub(" \x02 ", t).encode("ascii")
        return b.translate(_LETTERS_OR_SPACE).split()
    return [w.encode("utf-8", "surrogatepass") for w in campaign_text(text, t, urls, pieces)]


_ASCII_DIGITS = b"0123456789"
#: ASCII letters and the \x01/\x02 tokens kept, every other byte a space
_LETTERS_OR_SPACE = bytes(b if (65 <= b <= 90 or 97 <= b <= 122 or b in (1, 2)) else 32
                          for b in range(256))


def normalize_text(text: str) -> str:
    """Casefolded, digit runs as '#', white space folded: one form per template."""
    return _normalize_casefolded(text.casefold())


def _normalize_casefolded(cf: str) -> str:
    # str.split() and re's \s agree on what white space is (Py_UNICODE_ISSPACE)
    return " ".join(_DIGIT_RUN.sub("#", cf).split())


def fingerprint(text: str) -> int:
    """A 32-bit fingerprint of the normalized text (same-text bulk counting)."""
    return zlib.crc32(normalize_text(text).encode("utf-8"))


def fingerprint_casefolded(cf: str) -> int:
    """``fingerprint(text)`` from ``text.casefold()`` (``Facts.fold``, shared with the
    keyword rules)."""
    return zlib.crc32(_normalize_casefolded(cf).encode("utf-8"))


@cache
def _layout(bands: int, rows: int) -> tuple[struct.Struct, tuple[slice, ...], range,
                                             tuple[int, ...]]:
    """The packer of a sketch and its bands' byte slices, seeds and tags."""
    step = 4 * rows
    return (struct.Struct(f"<{bands * rows}I"),
            tuple(slice(i * step, (i + 1) * step) for i in range(bands)),
            range(bands), tuple(i << 32 for i in range(bands)))


@dataclass(frozen=True, slots=True)
class Fingerprinter:
    bands: int = 4
    rows: int = 3
    min_words: int = 6  # shorter texts ("ok", "call me") are no campaign
    #: band keys by ``gateway.content._native.band_keys`` (None: where the compiled
    #: part is in use; decided when built, and only for a layout it takes: an
    #: operator's wider one is Python's)
    native: bool | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        want = compiled.available() if self.native is None else self.native
        object.__setattr__(self, "native",
                           want and compiled.takes_bins(self.bands * self.rows))

    def sketch(self, text: str) -> list[int] | None:
        """The MinHash sketch (``bands * rows`` values), or None for a short text."""
        return self.sketch_words(campaign_text(text))

    def sketch_words(self, words: list[str]) -> list[int] | None:
        """The sketch of ``campaign_text``'s words (every loop here runs in C)."""
        if len(words) < self.min_words:
            return None
        return self.sketch_parts(" ".join(words).encode("utf-8", "surrogatepass").split())

    def sketch_parts(self, parts: list[bytes]) -> list[int] | None:
        """The sketch of ``campaign_parts``' words (UTF-8, no white space in one)."""
        if len(parts) < self.min_words:
            return None
        k = self.bands * self.rows
        hs = list(map(zlib.crc32, parts))
        # word pairs: the CRC-32 of "a b", continued from the CRC of "a" (no big-int
        # arithmetic, no pair strings built)
        hs += map(zlib.crc32, parts[1:], map(zlib.crc32, repeat(b" "), hs[:-1]))
        # each bin's smallest hash: a plain loop is three times cheaper than sorting
        # the hashes (32-bit values are two-digit ints to CPython's sort) into a dict
        mins = [_MAX] * k
        for h in hs:
            i = h % k
            if h < mins[i]:
                mins[i] = h
        if _MAX in mins:  # densify: an empty bin takes the next filled one's value
            if mins.count(_MAX) == k:
                return None
            for i in range(k):
                if mins[i] == _MAX:
                    j = (i + 1) % k
                    while mins[j] == _MAX:
                        j = (j + 1) % k
                    mins[i] = (mins[j] * 0x9E3779B1 + i) & _MAX
        return mins

    def keys(self, text: str) -> tuple[int, ...]:
        """One key per LSH band (empty for a short text): near-duplicates share one."""
        return self.keys_of_sketch(self.sketch(text))

    def keys_of_words(self, words: list[str]) -> tuple[int, ...]:
        """``keys`` from ``campaign_text``'s words."""
        return self.keys_of_sketch(self.sketch_words(words))

    def keys_of_parts(self, parts: list[bytes], native: bool | None = None
                      ) -> tuple[int, ...]:
        """``keys`` from ``campaign_parts``' words; ``native`` (default: ``self.native``):
        by ``gateway.content._native.band_keys``, the same keys."""
        if len(parts) < self.min_words:
            return ()
        if native is None:
            native = self.native
        elif native:
            native = compiled.takes_bins(self.bands * self.rows)
        if native:
            return compiled._native.band_keys(parts, self.bands, self.rows)
        return self.keys_of_sketch(self.sketch_parts(parts))

    def keys_of_sketch(self, mins: list[int] | None) -> tuple[int, ...]:
        """Band ``i``'s key: the CRC-32 (seeded with ``i``) of its ``rows`` values as
        little-endian 32-bit words, with ``i`` above bit 32."""
        if mins is None:
            return ()
        packer, bands, seeds, tags = _layout(self.bands, self.rows)
        packed = packer.pack(*mins)
        return tuple(map(or_, map(zlib.crc32, map(packed.__getitem__, bands), seeds), tags))

    def similar(self, a: str, b: str) -> bool:
        """Do ``a`` and ``b`` share a band (would they count as one campaign)?"""
        ka, kb = self.keys(a), self.keys(b)
        return any(x == y for x, y in zip(ka, kb, strict=False))
