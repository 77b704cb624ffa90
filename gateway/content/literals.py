"""Strings an operator regex cannot match without, and one pass that finds them all.

Most ``text_regex`` patterns of a ruleset cannot match a text that lacks certain words:
``\\b(verify|confirm|unlock)\\b.{0,40}\\b(account|card)\\b`` needs ``verify``,
``confirm`` or ``unlock`` somewhere in it. ``required_literals`` reads such a set of
strings off the parsed pattern (Python's own regex parser: every operator pattern is
checked by ``re`` first). ``LiteralIndex`` holds the strings of every pattern of a
ruleset in one Aho-Corasick automaton (``pyahocorasick``) and finds, in one pass over
the casefolded text, which of them the text contains; a pattern none of whose strings
is there is answered "no match" without running it. On the shipped rules a message
of the benchmark's mix ran about 12 RE2 searches at 1-2 us each; the pass costs about
2.5 us and leaves about 5 (``loadtest/bench_content.py`` prints both ways).

Sound by construction: a match of the pattern contains one of the strings, compared
case-insensitively. The strings are casefolded, made only of characters whose
casefold is one character, and looked for in ``str.casefold()`` of the text: what
RE2's case-insensitive match takes for such a character casefolds to it too (the
Kelvin sign and the long s to ``k`` and ``s``, the Greek final and capital sigma to
the small one), while ``ß``, which casefolds to ``ss``, ends a string. A pattern whose
strings cannot be told (a digit alone, an optional part that is all of it, a one-letter
string) gets ``None`` and is always run. ``tests/content/test_literals.py`` holds
random patterns and texts to it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

# Python's own regex parser (``sre_parse`` before 3.11): its node types name what a
# pattern is made of. Private modules: if a Python release moves them, every pattern is
# searched as before the index (``required_literals`` answers None), nothing breaks.
try:
    from re import _constants as _sre  # type: ignore[attr-defined]
    from re import _parser as _sre_parse  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - CPython 3.11-3.14 have them
    _sre = _sre_parse = None

try:
    import ahocorasick as _ahocorasick
except ImportError:  # pragma: no cover - pyahocorasick is a dependency
    _ahocorasick = None

__all__ = ["LiteralIndex", "new_index", "required_literals"]

#: at most this many strings in one exact set (``(a|b)(c|d)`` multiplies them)
_CAP = 64
#: single characters are in nearly every text: a set with one tells nothing
_MIN_LEN = 2
#: most classes of single letters expanded as strings (``[sz]``)
_CLASS = 8


@dataclass(frozen=True, slots=True)
class _Info:
    #: every match of the piece is one of these strings (None: not a finite set)
    exact: frozenset[str] | None
    #: every match of the piece contains one of these strings (None: not known)
    need: frozenset[str] | None


_ANY = _Info(None, None)
_EMPTY = _Info(frozenset({""}), None)  # zero-width: \b, ^, $
_DIGITS = _Info(frozenset("0123456789"), None)  # RE2's \d (ASCII; Python's re's is not)
_REPEATS = {getattr(_sre, name) for name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT")
            if hasattr(_sre, name)}


def _useful(strings: frozenset[str] | None) -> frozenset[str] | None:
    return strings if strings and "" not in strings else None


def _better(a: frozenset[str] | None, b: frozenset[str] | None) -> frozenset[str] | None:
    """The more telling of two sets every match must meet: longer shortest string
    first (rarer in text), then fewer strings."""
    if a is None:
        return b
    if b is None:
        return a
    ka = (min(map(len, a)), -len(a))
    kb = (min(map(len, b)), -len(b))
    return a if ka >= kb else b


def _letter(code: int) -> str | None:
    """The character as the casefolded text has it, or None if casefolding may not
    keep it one character (``ß`` -> ``ss``): then a match need not show it there."""
    folded = chr(code).casefold()
    return folded if len(folded) == 1 else None


def _sequence(items: Iterable[tuple[Any, Any]]) -> _Info:
    run: frozenset[str] = frozenset({""})  # the exact strings of the current literal run
    whole = True  # the run is the whole sequence so far
    need: frozenset[str] | None = None
    for op, av in items:
        if op in _REPEATS and av[0] >= 1 and not av[0] == av[1] == 1:
            inner = _sequence(av[2])
            if inner.exact is not None:
                # x{1,n} of an exact x: the run runs into its first copy, and its last
                # copy starts the next run ("\d{1,3}p": a digit, then p)
                joined = frozenset(a + b for a in run for b in inner.exact)
                need = _better(need, _useful(joined if len(joined) <= _CAP else run))
                whole = False
                run = inner.exact
                continue
        info = _item(op, av)
        if info.exact is not None:
            joined = frozenset(a + b for a in run for b in info.exact)
            if len(joined) <= _CAP:
                run = joined
                continue
        # the run ends before this piece: what it matched is one thing every match needs
        need = _better(need, _useful(run))
        need = _better(need, info.need)
        whole = False
        run = info.exact if info.exact is not None else frozenset({""})
    need = _better(need, _useful(run))
    return _Info(run if whole else None, need)


def _item(op: Any, av: Any) -> _Info:
    if op is _sre.LITERAL:
        ch = _letter(av)
        return _Info(frozenset({ch}), None) if ch is not None else _ANY
    if op is _sre.AT:
        return _EMPTY
    if op is _sre.SUBPATTERN:
        return _sequence(av[-1])
    if op is _sre.BRANCH:
        infos = [_sequence(branch) for branch in av[1]]
        exacts = [i.exact for i in infos]
        if all(e is not None for e in exacts):
            union = frozenset().union(*exacts)  # type: ignore[arg-type]
            if len(union) <= _CAP:
                return _Info(union, _useful(union))
        needs = [i.need for i in infos]
        if any(n is None for n in needs):
            return _ANY
        return _Info(None, frozenset().union(*needs))  # type: ignore[arg-type]
    if op in _REPEATS:
        low, high, sub = av
        if low == 0:
            return _ANY
        inner = _sequence(sub)
        if low == high == 1:
            return inner
        return _Info(None, inner.need)
    if op is _sre.IN:
        if av == [(_sre.CATEGORY, _sre.CATEGORY_DIGIT)]:  # \d: RE2's is [0-9]
            return _DIGITS
        letters = []
        for o, a in av:
            ch = _letter(a) if o is _sre.LITERAL else None
            if ch is None:
                return _ANY
            letters.append(ch)
        return _Info(frozenset(letters), None) if len(letters) <= _CLASS else _ANY
    return _ANY  # any character, classes, categories, lookaround, references


def required_literals(patterns: Sequence[str]) -> frozenset[str] | None:
    """Casefolded strings of at least 2 characters, one of which every match of any of
    ``patterns`` (case-insensitive) contains; None if a pattern has no such set (it
    must always be run)."""
    if _sre_parse is None:
        return None
    out: set[str] = set()
    for p in patterns:
        try:
            need = _sequence(list(_sre_parse.parse(p, re.IGNORECASE))).need
        except (re.error, TypeError, ValueError, RecursionError, AttributeError,
                IndexError):  # a pattern, or a parser, this reading does not know
            return None
        if need is None or min(map(len, need)) < _MIN_LEN:
            return None
        out |= need
    return frozenset(out) if out else None


class LiteralIndex:
    """The required strings of a ruleset's patterns, found in a text in one pass.

    Patterns ``add`` their strings while the ruleset compiles; ``build`` makes the
    automaton once all are in (the rule compiler calls it, off the event loop), and
    ``find`` would build it on first use otherwise."""

    __slots__ = ("_automaton", "_built", "_part_bits", "_part_of", "_strings")

    def __init__(self) -> None:
        self._strings: set[str] = set()
        self._automaton: Any = None
        self._built = True
        #: a set of strings one pattern needs (``part``) -> its bit
        self._part_of: dict[frozenset[str], int] = {}
        #: a string -> the bits of the patterns that need one of a set it is in
        self._part_bits: dict[str, int] = {}

    def part(self, strings: frozenset[str]) -> int:
        """The bit of one pattern that needs one of ``strings`` (patterns that need
        the same set share it); ``open_parts`` of a text has it set when the text
        contains one of them."""
        bit = self._part_of.get(strings)
        if bit is None:
            bit = 1 << len(self._part_of)
            self._part_of[strings] = bit
            for s in strings:
                self._part_bits[s] = self._part_bits.get(s, 0) | bit
            self.add(strings)
        return bit

    def open_parts(self, atoms: Iterable[str]) -> int:
        """The bits (``part``) of the patterns a text with these strings may match."""
        get = self._part_bits.get
        mask = 0
        for a in atoms:
            mask |= get(a, 0)
        return mask

    def add(self, strings: Iterable[str]) -> None:
        self._strings.update(strings)
        self._built = False

    def build(self) -> None:
        if self._built:
            return
        automaton = None
        if self._strings:
            automaton = _ahocorasick.Automaton()
            for s in self._strings:
                automaton.add_word(s, s)
            automaton.make_automaton()
        self._automaton = automaton
        self._built = True

    def find(self, folded: str) -> set[str]:
        """The index's strings ``folded`` (a casefolded text) contains."""
        if not self._built:
            self.build()
        automaton = self._automaton
        if automaton is None:
            return set()
        return {s for _end, s in automaton.iter(folded)}


def new_index() -> LiteralIndex | None:
    """An empty index, or None without ``pyahocorasick`` (every pattern then runs)."""
    return LiteralIndex() if _ahocorasick is not None else None
