"""Operator regular expressions (``text_regex``) on RE2, so no pattern can stall the loop.

Python's ``re`` backtracks: ``(a+)+$`` on thirty ``a``s and a ``!`` takes minutes, and
one such rule would stop every message behind it. RE2 (``google-re2``) matches in
time linear in the text whatever the pattern: on that text it answers in about
50 us. Searching the UTF-8 bytes, the shipped ``text_regex`` rules cost about half
of what ``re`` costs on the benchmark's templated stream and a fifth on the SMS
Spam Collection (``loadtest/bench_content.py`` prints them).

RE2 syntax is Python's without lookaround and backreferences; ``\\w`` and ``\\d`` are
ASCII there (``\\p{L}`` names any letter), and so is ``\\b``: a word boundary beside a
letter outside ASCII (``\\bödenmemiş``, ``manqu[ée]\\b``) would never match where the
word starts or ends, so such a boundary is rewritten for RE2 to the one it can see
there (``gateway.content.boundaries``); Python's ``re`` keeps the pattern as written.
A pattern RE2 cannot compile (lookaround, backreferences) is refused like a malformed
one: matched with Python's ``re`` it could backtrack without bound, and a reload must
never bring in a rule that stalls the loop. Without ``google-re2`` installed (it is a
dependency), every pattern uses ``re`` and ``OperatorRegex.engine`` says so.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from typing import Any

from gateway.content.boundaries import re2_boundaries
from gateway.content.literals import LiteralIndex, required_literals

try:
    import re2 as _re2
except ImportError:  # pragma: no cover - google-re2 is a dependency
    _re2 = None

# google-re2's Python layer (``re2.compile(...).search``) runs a generator and builds a
# match object with decoded offsets for every call; a yes/no needs neither. Its C
# extension's ``RE2.Match`` on a pattern compiled with ``never_capture`` answers at half
# the cost (the shipped text_regex rules: 2.2 -> 1.0 us). Private names, so looked up
# here once: if google-re2 moves them, the public interface is used as before.
try:
    from re2 import _re2 as _re2_ext

    _UNANCHORED = _re2._Anchor.UNANCHORED
    _NO_MATCH = _re2._NULL_SPAN
    _raw_ok = callable(_re2_ext.RE2)
except (ImportError, AttributeError):  # pragma: no cover - depends on google-re2
    _re2_ext = None
    _raw_ok = False

__all__ = ["SPLIT_OVER", "OperatorRegex", "Parts", "compile_operator_regex", "split_patterns"]

#: a pattern list whose RE2 program is larger than this many instructions is searched
#: pattern by pattern (``Parts``); a smaller one whole, in one search. Measured in the
#: rules' own searches (us a message, rules alone): never-repeating texts 31-32 whole,
#: 17-18 all split, 19 over 5,000, 21-22 over 15,000; the mix 14 whole, 16-17 all
#: split, 14-16.5 over 5,000 (docs/performance.md)
SPLIT_OVER = 5_000

#: a search of UTF-8 bytes: whether the pattern matches anywhere in them
ByteSearch = Callable[[bytes], bool]


class Parts:
    """An operator regex as its patterns, each to be searched only in a text that has
    one of the strings its matches need (``gateway.content.literals``).

    A rule's pattern list is an alternation, and RE2 searches all of it whenever the
    text has any string of any pattern: a list of fifteen callback lures, each
    ``A.{0,120}B.{0,60}<number>``, was searched in 13% of never-repeating texts (the
    words "call" or "contact" open one of them) and its automaton, too large for RE2's
    DFA, fell back to the slow engine (about 40 us a search). Searched pattern by
    pattern, only the ones the text can match run, each small enough for the DFA.
    A small list stays one search (``SPLIT_OVER``): several RE2 calls cost more than one
    whose DFA is small and warm.
    ``gated`` holds ``(strings, search)`` for patterns with such strings, ``ungated``
    one search of the alternation of those without (None if every pattern has some).
    """

    __slots__ = ("gated", "ungated")

    def __init__(self, gated: tuple[tuple[frozenset[str], ByteSearch], ...],
                 ungated: ByteSearch | None) -> None:
        self.gated = gated
        self.ungated = ungated

    def bind(self, index: LiteralIndex) -> Callable[[int, Callable[[], bytes]], bool]:
        """The search as a ruleset runs it: each pattern's strings get their bit in
        ``index`` (``LiteralIndex.part``), and ``search(open_, utf8)`` takes the bits a
        text opens (``LiteralIndex.open_parts``) and its UTF-8 (asked for only when a
        pattern is searched)."""
        gated = tuple((index.part(strings), part) for strings, part in self.gated)
        ungated = self.ungated

        def search(open_: int, utf8: Callable[[], bytes]) -> bool:
            for bit, part in gated:
                if open_ & bit and part(utf8()):
                    return True
            return ungated is not None and ungated(utf8())
        return search


class OperatorRegex:
    """The alternation of an operator's patterns, case-insensitive; ``search(text)``
    says whether any matches."""

    __slots__ = ("engine", "literals", "parts", "pattern", "python", "search")

    def __init__(self, pattern: str, python: re.Pattern[str], rx2: Any | None,
                 why_not: str = "", raw: Any | None = None,
                 literals: frozenset[str] | None = None,
                 parts: Parts | None = None) -> None:
        self.pattern = pattern
        self.python = python
        #: strings one of which every match contains (``gateway.content.literals``):
        #: a text with none of them needs no search
        self.literals = literals
        #: the patterns one by one, each with its own strings (None: a list of at
        #: most SPLIT_OVER program instructions, RE2's raw interface missing, or no
        #: pattern with strings to gate it by)
        self.parts = parts
        self.engine = "re2" if rx2 is not None else f"re ({why_not})" if why_not else "re"
        self.search: Callable[[str], bool]
        if rx2 is None:
            self.search = lambda text: python.search(text) is not None
            return
        if raw is not None:
            match = raw.Match

            def search_raw(text: str) -> bool:
                b = text.encode("utf-8", "surrogatepass")
                return match(_UNANCHORED, b, 0, len(b))[0] != _NO_MATCH

            self.search = search_raw
            return
        search2 = rx2.search

        def search(text: str) -> bool:
            # on UTF-8 bytes: half the cost of the str interface (no offset mapping);
            # a lone surrogate (malformed UCS-2) passes as bytes RE2 skips over
            return search2(text.encode("utf-8", "surrogatepass")) is not None

        self.search = search


def compile_operator_regex(patterns: Sequence[str]) -> OperatorRegex:
    """Raises ``re.error`` (or ``TypeError``) for a pattern Python's ``re`` rejects,
    as the rule compiler always reported, and for one RE2 cannot compile. Compiled
    once per pattern list (an ``OperatorRegex`` holds nothing but its patterns):
    checking a ruleset's examples compiles it once per example, and a reload compiles
    every rule again (``tests/content/test_regex.py``)."""
    return _compile_cached(tuple(patterns))


#: an even run of backslashes before a class letter: ``\\b`` is a backslash and a "b",
#: not the word boundary its author meant (a TOML literal string written as if it were
#: a basic one)
_DOUBLED = re.compile(r"(?<!\\)(?:\\\\)+[bBdDsSwW]")


@functools.lru_cache(maxsize=2048)
def _compile_cached(patterns: tuple[str, ...]) -> OperatorRegex:
    for p in patterns:
        re.compile(p, re.IGNORECASE)  # each alone, so an error names its pattern
        doubled = _DOUBLED.search(p)
        if doubled:
            raise re.error(f"{doubled.group()} matches a backslash, then "
                           f"{doubled.group()[-1]!r}: written escaped twice (in a TOML "
                           "'...' string one backslash is one backslash); a backslash "
                           "that is meant is written [\\\\]")
    joined = "|".join(f"(?:{p})" for p in patterns)
    python = re.compile(joined, re.IGNORECASE)
    # the strings are read for RE2's semantics (its \d is [0-9]; Python's re's takes any
    # script's digits): without RE2 every pattern is searched
    if _re2 is None:
        return OperatorRegex(joined, python, None, "google-re2 is not installed")
    # each pattern's strings and RE2 form, read once: the list's strings are their union
    # (required_literals of the list), and a large list is split by them
    each = [required_literals([p]) for p in patterns]
    literals = None
    if all(strings is not None for strings in each):
        literals = frozenset(s for strings in each if strings is not None for s in strings) \
            or None
    bounded = [re2_boundaries(p) for p in patterns]
    for_re2 = "|".join(f"(?:{b})" for b in bounded).encode("utf-8")
    try:
        rx2 = _re2.compile(for_re2, _options())
    except _re2.error as e:
        msg = e.args[0].decode() if e.args and isinstance(e.args[0], bytes) else str(e)
        raise re.error(f"RE2 cannot compile it ({msg}); lookaround and backreferences "
                       "are not allowed: matched with Python's re they can backtrack "
                       "without bound") from None
    raw = _raw(for_re2) if _raw_ok else None
    parts = _split(bounded, each) if raw is not None and raw.ProgramSize() > SPLIT_OVER \
        else None
    return OperatorRegex(joined, python, rx2, raw=raw, literals=literals, parts=parts)


def _raw(pattern: bytes) -> Any | None:
    """RE2's C object for a yes/no search (None if it will not compile)."""
    options = _options()
    options.never_capture = True  # a yes/no: no groups to fill
    raw = _re2_ext.RE2(pattern, options)
    return raw if raw.ok() else None


def _byte_search(raw: Any) -> ByteSearch:
    match = raw.Match
    return lambda b: match(_UNANCHORED, b, 0, len(b))[0] != _NO_MATCH


def split_patterns(patterns: tuple[str, ...]) -> Parts | None:
    """Each pattern with the strings its matches need, searched alone; the patterns
    without such strings in one alternation. None when no pattern has strings (the
    alternation is all there is) or a pattern will not compile alone. What a list over
    ``SPLIT_OVER`` gets; the tests split every list with it."""
    return _split([re2_boundaries(p) for p in patterns],
                  [required_literals([p]) for p in patterns])


def _split(bounded: list[str], each: list[frozenset[str] | None]) -> Parts | None:
    """``split_patterns`` of patterns already in their RE2 form, with their strings."""
    gated: list[tuple[frozenset[str], ByteSearch]] = []
    rest: list[str] = []
    for b, strings in zip(bounded, each, strict=True):
        if strings is None:
            rest.append(b)
            continue
        raw = _raw(b.encode("utf-8"))
        if raw is None:  # pragma: no cover - the alternation of all compiled
            return None
        gated.append((strings, _byte_search(raw)))
    if not gated:
        return None
    ungated = None
    if rest:
        raw = _raw("|".join(f"(?:{b})" for b in rest).encode("utf-8"))
        if raw is None:  # pragma: no cover - as above
            return None
        ungated = _byte_search(raw)
    return Parts(tuple(gated), ungated)


def _options() -> Any:
    assert _re2 is not None
    options = _re2.Options()
    options.case_sensitive = False
    options.log_errors = False
    return options


def _public_search(pattern: str) -> Callable[[str], bool]:
    assert _re2 is not None
    search2 = _re2.compile(re2_boundaries(pattern).encode("utf-8"), _options()).search
    return lambda text: search2(text.encode("utf-8", "surrogatepass")) is not None
