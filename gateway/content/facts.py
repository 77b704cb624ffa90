"""Per-event facts: what rules and plugins ask of a message, computed at most once.

The floor plugins stand on (with ``gateway.content.plugin``): the engine builds one
``Facts`` per event and hands it to every predicate and every plugin's
``check(event, facts)``.
"""

from __future__ import annotations

import re
from collections.abc import Hashable

from gateway.content.fingerprint import fingerprint_casefolded
from gateway.content.literals import LiteralIndex
from gateway.content.normalize import fold, template
from gateway.content.phones import candidates, line_type, numbers
from gateway.content.scan import Scan, Url, link_pieces, scan, scan_urls
from gateway.model import Event
from gateway.numbers import Numbering

__all__ = ["Facts"]


class Facts:
    """Per-event facts computed at most once, on first use.

    Rules and plugins share them: the scan (links, numbers, short codes), the text
    folded for content checks, its template, and a cache key for per-template results. The
    campaign plugin sets ``campaign`` (its near-duplicate key), which counters with
    ``key = "campaign"`` use instead of the exact-text fingerprint.
    """

    __slots__ = ("_atoms", "_atoms_of", "_domains", "_fingerprint", "_fold", "_folded",
                 "_line_types", "_open", "_pieces", "_scan", "_template", "_text_key",
                 "_urls", "_utf8", "_words", "campaign", "ev", "matches", "symbols")

    def __init__(self, ev: Event) -> None:
        self.ev = ev
        self._scan: Scan | None = None
        self._urls: tuple[Url, ...] | None = None
        self._domains: tuple[str, ...] | None = None
        self._fold: str | None = None
        self._folded: str | None = None
        self._template: str | None = None
        self._text_key: bytes | None = None
        self._fingerprint: int | None = None
        self._words: frozenset[str] | None = None
        self._pieces: tuple[str | Url, ...] | None = None
        self.symbols: dict[str, float] = {}
        self.campaign: Hashable | None = None  # set by a campaign plugin
        #: an operator regex's search -> whether the text matched it (the rules'
        #: text_regex predicates: one search a text for patterns several rules use)
        self.matches: dict[object, bool] = {}
        self._atoms: set[str] = set()
        self._atoms_of: LiteralIndex | None = None
        self._open = -1  # the open parts of _atoms_of (-1: not computed)
        self._utf8: bytes | None = None
        self._line_types: frozenset[str] | None = None

    def scan(self) -> Scan:
        """The text's links, phone numbers, short codes and service numbers
        (``gateway.content.scan``): one scan for every rule and plugin."""
        if self._scan is None:
            self._scan = scan(self.ev.text, self._urls)
        return self._scan

    def urls(self) -> tuple[Url, ...]:
        """The links alone (the scan's first part; the rules need no more)."""
        if self._urls is None:
            self._urls = self._scan.urls if self._scan is not None else \
                scan_urls(self.ev.text or "")
        return self._urls

    def domains(self) -> tuple[str, ...]:
        """The hosts of the text's links (what ``has_url`` and ``url_domain_in`` test)."""
        if self._domains is None:
            self._domains = tuple(u.host for u in self.urls())
        return self._domains

    def fold(self) -> str:
        """The text casefolded (what ``text_keywords`` match)."""
        if self._fold is None:
            self._fold = (self.ev.text or "").casefold()
        return self._fold

    def atoms(self, index: LiteralIndex) -> set[str]:
        """The strings of ``index`` (the ruleset's required literals of its regexes)
        that ``fold()`` contains: one pass for every ``text_regex`` of the ruleset."""
        if self._atoms_of is not index:
            self._atoms = index.find(self.fold())
            self._atoms_of = index
            self._open = -1
        return self._atoms

    def open_parts(self, index: LiteralIndex) -> int:
        """The bits of the regex patterns of ``index`` the text may match
        (``LiteralIndex.open_parts`` of its ``atoms``)."""
        atoms = self.atoms(index)
        if self._open < 0:
            self._open = index.open_parts(atoms)
        return self._open

    def utf8(self) -> bytes:
        """The text as UTF-8 (what RE2 searches; a lone surrogate of malformed UCS-2
        passes as bytes RE2 skips over)."""
        if self._utf8 is None:
            self._utf8 = (self.ev.text or "").encode("utf-8", "surrogatepass")
        return self._utf8

    def line_types(self, numbering: Numbering) -> frozenset[str]:
        """The kinds of line (``gateway.content.phones.LINE_TYPES`` names: ``mobile``,
        ``fixed_line``, ``toll_free``, ...) of the home country's phone numbers written
        in the text (a foreign one is ``callback.international``'s business: banks give
        a landline for customers abroad)."""
        if self._line_types is None:
            found = candidates(self.scan(), numbering)
            self._line_types = frozenset(
                line_type(n.e164) for n in numbers(found, numbering)
                if not n.international) if found else frozenset()
        return self._line_types

    def words(self) -> frozenset[str]:
        """The words of ``fold()``: its maximal runs of word characters (``\\w`` and
        combining marks: ``WORD_CHARS``), what a keyword bounded by non-word characters
        must be one of."""
        if self._words is None:
            text = self.fold()
            if text.isascii():  # C-level: punctuation to spaces, then split
                self._words = frozenset(text.translate(_NON_WORD_TO_SPACE).split())
            else:
                self._words = frozenset(WORD_RUN.findall(text))
        return self._words

    def folded(self) -> str:
        """The text as content checks see it: ``gateway.content.normalize.fold``
        (casefolded, accents and invisible characters gone, homoglyphs mapped)."""
        if self._folded is None:
            text = self.ev.text or ""
            # ASCII folds by casefold alone: the keyword rules' fold(), computed once
            self._folded = self.fold() if text.isascii() else fold(text)
        return self._folded

    def link_pieces(self) -> tuple[str | Url, ...]:
        """``folded()`` cut at the scanner's links (``scan.link_pieces``): the
        template and the campaign fingerprint each put their own token in them."""
        if self._pieces is None:
            self._pieces = link_pieces(self.folded(), self.urls())
        return self._pieces

    def template(self) -> str:
        """``folded()`` with URLs as their domain and digit runs as a length class
        (``gateway.content.normalize.template``)."""
        if self._template is None:
            self._template = template(self.ev.text or "", self.folded(), self.urls(),
                                      self.link_pieces())
        return self._template

    def text_key(self) -> bytes:
        """The UTF-8 text with every ASCII digit as ``0``: texts that differ only in
        codes, amounts and dates share it. A cache key for anything computed from the
        text whose patterns treat all digits alike (templates, fingerprints)."""
        if self._text_key is None:
            self._text_key = (self.ev.text or "").encode("utf-8", "surrogatepass") \
                .translate(_DIGITS_TO_ZERO)
        return self._text_key

    def fingerprint(self) -> int:
        """``gateway.content.fingerprint.fingerprint`` of the text. It ignores digit values and
        ``text_key`` keeps everything but them, so the key determines the fingerprint:
        templated texts (codes, amounts) find it in a bounded memo."""
        if self._fingerprint is None:
            text = self.ev.text or ""
            if len(text) > _FP_MEMO_TEXT:
                self._fingerprint = fingerprint_casefolded(self.fold())
            else:
                key = self.text_key()
                fp = _FP_MEMO.get(key)
                if fp is None:
                    if len(_FP_MEMO) >= _FP_MEMO_SIZE:
                        _FP_MEMO.clear()
                    fp = _FP_MEMO[key] = fingerprint_casefolded(self.fold())
                self._fingerprint = fp
        return self._fingerprint


_DIGITS_TO_ZERO = bytes.maketrans(b"123456789", b"000000000")
#: ASCII characters outside ``\w`` (letters, digits, underscore) as spaces
_NON_WORD_TO_SPACE = {c: " " for c in range(128)
                      if not (chr(c).isalnum() or chr(c) == "_")}


def _marks() -> str:
    """A character class body of the combining marks (Unicode categories Mn, Mc, Me) of
    the Basic Multilingual Plane, as ranges: what ``\\w`` leaves out of the words of
    Indic, Thai and other scripts (the vowel signs of "नया" and "नंबर")."""
    import unicodedata

    ranges: list[tuple[int, int]] = []
    for cp in range(0x300, 0x10000):
        if unicodedata.category(chr(cp))[0] == "M":
            if ranges and ranges[-1][1] == cp - 1:
                ranges[-1] = (ranges[-1][0], cp)
            else:
                ranges.append((cp, cp))
    return "".join(f"\\u{a:04x}-\\u{b:04x}" if a != b else f"\\u{a:04x}" for a, b in ranges)


#: a word character: ``\\w`` and the combining marks (a character class body)
WORD_CHARS = r"\w" + _marks()
#: a run of word characters: the words of a text (``Facts.words``) and what a
#: ``text_keywords`` keyword must be, whole, to be looked up among them
WORD_RUN = re.compile(f"[{WORD_CHARS}]+")
#: text_key -> fingerprint, for texts of up to _FP_MEMO_TEXT characters; cleared whole
#: when full (at most a few MB)
_FP_MEMO: dict[bytes, int] = {}
_FP_MEMO_SIZE = 1 << 14
_FP_MEMO_TEXT = 320
