"""Word boundaries that RE2 cannot see: ``\\b`` next to a letter outside ASCII.

RE2's ``\\b`` and ``\\B`` are ASCII: a boundary lies between an ASCII word character
(``[0-9A-Za-z_]``) and anything else. ``\\bşübhəli`` therefore matches only right
after an ASCII letter ("xşübhəli"), never at the start of the word it was written
for, and ``соглас\\b`` only right before one. Python's ``re`` reads the same pattern
with Unicode boundaries and matches, so a rule's author sees nothing wrong; on the
gateway the alternative is dead (twice in the shipped rules before this check: a
Thai prize and an Azerbaijani "suspicious", both found by counting hits).

``ascii_boundary_misuse`` reads the parsed pattern (Python's parser, as
``gateway.content.literals`` does) and names the first ``\\b`` or ``\\B`` that a
letter or digit outside ASCII can stand next to: a literal character or a class
listing one (``[à-ÿ]``). Wildcards, negated classes and ``\\w`` are not reported:
``\\b.{0,40}`` means any character, and RE2's ``\\w`` is ASCII too.
``re2_boundaries`` rewrites such a pattern for RE2 (below);
``gateway.content.regex`` calls it for every operator pattern it compiles.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

try:
    from re import _constants as _sre  # type: ignore[attr-defined]
    from re import _parser as _sre_parse  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - CPython 3.11-3.14 have them
    _sre = _sre_parse = None

__all__ = ["ascii_boundary_misuse", "re2_boundaries"]

_REPEATS = {getattr(_sre, name) for name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT")
            if hasattr(_sre, name)}
_GROUPS = {getattr(_sre, name) for name in ("ATOMIC_GROUP",) if hasattr(_sre, name)}
_EMPTY: frozenset[str] = frozenset()


def _unseen(ch: str) -> bool:
    """A word character to Unicode that RE2's ASCII ``\\b`` takes for a non-word one."""
    return not ch.isascii() and (ch.isalnum() or ch == "_")


@dataclass(frozen=True, slots=True)
class _Ends:
    #: characters outside ASCII that a match of the piece can start / end with
    first: frozenset[str]
    last: frozenset[str]
    #: whether the piece can match the empty string (then its neighbours touch)
    nullable: bool
    #: whether it can take characters it does not name (``.``, ``\\s``, ``[^x]``):
    #: what lies beyond such a piece is not known to touch the boundary
    wild: bool = False


def _class_chars(items: Any) -> frozenset[str]:
    """The non-ASCII word characters a class names outright (one per range is
    enough to report); a negated class names none."""
    found: set[str] = set()
    for op, av in items:
        if op is _sre.NEGATE:
            return _EMPTY
        if op is _sre.LITERAL and _unseen(chr(av)):
            found.add(chr(av))
        elif op is _sre.RANGE:
            lo, hi = av
            if hi > 127:
                ch = next((chr(c) for c in range(max(lo, 128), min(hi, lo + 4096) + 1)
                           if _unseen(chr(c))), None)
                if ch is not None:
                    found.add(ch)
    return frozenset(found)


def _ends(op: Any, av: Any) -> _Ends:
    if op is _sre.LITERAL:
        ch = chr(av)
        s = frozenset({ch}) if _unseen(ch) else _EMPTY
        return _Ends(s, s, False)
    if op is _sre.IN:
        s = _class_chars(av)
        return _Ends(s, s, False, any(o is _sre.NEGATE or o is _sre.CATEGORY for o, _ in av))
    if op is _sre.AT:
        return _Ends(_EMPTY, _EMPTY, True)
    if op is _sre.SUBPATTERN:
        return _seq_ends(av[-1])
    if op is _sre.BRANCH:
        alts = [_seq_ends(a) for a in av[1]]
        return _Ends(frozenset().union(*(a.first for a in alts)),
                     frozenset().union(*(a.last for a in alts)),
                     any(a.nullable for a in alts), any(a.wild for a in alts))
    if op in _REPEATS:
        lo, _hi, sub = av
        e = _seq_ends(sub)
        return _Ends(e.first, e.last, lo == 0 or e.nullable, e.wild)
    if op in _GROUPS:
        return _seq_ends(av)
    # any character, a category, a negated literal, a group reference: nothing named
    return _Ends(_EMPTY, _EMPTY, op is _sre.GROUPREF, True)


def _seq_ends(items: Sequence[tuple[Any, Any]]) -> _Ends:
    ends = [_ends(op, av) for op, av in items]
    first: set[str] = set()
    for e in ends:
        first |= e.first
        if not e.nullable or e.wild:
            break
    last: set[str] = set()
    for e in reversed(ends):
        last |= e.last
        if not e.nullable or e.wild:
            break
    return _Ends(frozenset(first), frozenset(last), all(e.nullable for e in ends),
                 any(e.wild for e in ends))


def _walk(items: Sequence[tuple[Any, Any]], before: frozenset[str],
          after: frozenset[str]) -> tuple[str, str] | None:
    """The first boundary in ``items`` with a non-ASCII word character beside it, as
    (the boundary, the character); ``before``/``after`` are what can touch the
    sequence from outside."""
    items = list(items)
    ends = [_ends(op, av) for op, av in items]
    for i, (op, av) in enumerate(items):
        prev, nxt = _context(ends, i, before, after)
        if op is _sre.AT and av in (_sre.AT_BOUNDARY, _sre.AT_NON_BOUNDARY):
            beside = nxt | prev
            if beside:
                return ("\\b" if av is _sre.AT_BOUNDARY else "\\B", min(beside))
            continue
        b, a = prev, nxt
        found = None
        if op is _sre.SUBPATTERN:
            found = _walk(av[-1], b, a)
        elif op is _sre.BRANCH:
            for alt in av[1]:
                found = found or _walk(alt, b, a)
        elif op in _GROUPS:
            found = _walk(av, b, a)
        elif op in _REPEATS:
            sub = av[2]
            e = _seq_ends(sub)  # a repeat touches itself
            found = _walk(sub, b | e.last, a | e.first)
        if found:
            return found
    return None


def _parse(pattern: str) -> list[Any] | None:
    """The parsed pattern (as rules are matched: re.IGNORECASE), or None."""
    if _sre_parse is None:  # pragma: no cover - see the import
        return None
    try:
        return list(_sre_parse.parse(pattern, 2))
    except Exception:  # re.compile reports a malformed pattern, with its rule
        return None


def ascii_boundary_misuse(pattern: str) -> str | None:
    """Why ``pattern`` has a word boundary RE2 reads differently from what it says,
    or None. The pattern is one Python's ``re`` compiles."""
    parsed = _parse(pattern)
    found = None if parsed is None else _walk(parsed, _EMPTY, _EMPTY)
    if found is None:
        return None
    boundary, ch = found
    return (f"{boundary} next to {ch!r}: RE2's {boundary} is ASCII-only, so as written it "
            f"never marks the edge of a word written in {ch!r}'s script")


# --- the rewrite: each boundary that touches a letter outside ASCII becomes \B there ---
#
# Beside a word character outside ASCII (c), Unicode's \b holds when the character on
# the other side is not a word character. RE2 cannot say that without lookahead, but
# its \B beside c holds when the other side is not an ASCII word character: the same
# answer except beside another letter outside ASCII ("мам" + \B also matches inside
# "мама", a prefix where Unicode would say no). Beside an ASCII character \b stays.
# So the boundary is pushed, through groups and alternatives, to the character it
# touches: ``\b(mum|mamá)\b`` is searched as ``(?:\bmum\b|\bmamá\B)``, ``[ée]\b`` as
# ``(?:e\b|é\B)``. Zero-width for zero-width: nothing else of the pattern moves.


class _Unsupported(Exception):
    """A node the rewrite does not write back (the pattern is searched unchanged)."""


def _split_class(items: Any) -> tuple[list[Any], list[Any]]:
    """A class's members as (those RE2's boundary reads right, letters outside ASCII);
    a negated class or one with a category stays whole on the first side."""
    if any(op is _sre.NEGATE or op is _sre.CATEGORY for op, _ in items):
        return list(items), []
    plain: list[Any] = []
    unseen: list[Any] = []
    for op, av in items:
        if op is _sre.LITERAL:
            (unseen if _unseen(chr(av)) else plain).append((op, av))
        elif op is _sre.RANGE and _class_chars([(op, av)]):  # the check's own test
            lo, hi = av
            if lo <= 127:
                plain.append((_sre.RANGE, (lo, 127)))
                lo = 128
            unseen.append((_sre.RANGE, (lo, hi)))
        else:
            plain.append((op, av))
    return plain, unseen


def _atom(items: list[Any]) -> tuple[Any, Any]:
    """One sequence as one node (a non-capturing group)."""
    return (_sre.SUBPATTERN, (None, 0, 0, items))


def _either(a: list[Any], b: list[Any]) -> tuple[Any, Any]:
    return _atom([(_sre.BRANCH, (None, [a, b]))])


def _at(unseen: bool) -> tuple[Any, Any]:
    return (_sre.AT, _sre.AT_NON_BOUNDARY if unseen else _sre.AT_BOUNDARY)


def _push(node: tuple[Any, Any], front: bool) -> list[Any]:
    """``node`` with a boundary before it (``front``) or after it, pushed inside to
    the characters it touches."""
    op, av = node
    plain = [_at(False), node] if front else [node, _at(False)]
    ends = _ends(op, av)
    if not (ends.first if front else ends.last) or ends.nullable:
        return plain
    if op is _sre.LITERAL:
        return [_at(True), node] if front else [node, _at(True)]
    if op is _sre.IN:
        ascii_part, unseen = _split_class(av)
        uns = [(_sre.IN, unseen)]
        if not ascii_part:
            return [_at(True), *uns] if front else [*uns, _at(True)]
        asc = [(_sre.IN, ascii_part)]
        if front:
            return [_either([_at(False), *asc], [_at(True), *uns])]
        return [_either([*asc, _at(False)], [*uns, _at(True)])]
    if op is _sre.SUBPATTERN:
        return [(op, (*av[:-1], _push_seq(list(av[-1]), front)))]
    if op is _sre.BRANCH:
        return [(_sre.BRANCH, (None, [_push_seq(list(a), front) for a in av[1]]))]
    if op in _REPEATS and av[0] >= 1:
        lo, hi, sub = av
        rest = (op, (lo - 1, hi if hi == _sre.MAXREPEAT else hi - 1, sub))
        once = _atom(_push_seq(list(sub), front))
        return [once, rest] if front else [rest, once]
    return plain


def _nonempty(node: tuple[Any, Any]) -> tuple[Any, Any] | None:
    """An optional repeat (``x?``, ``x*``, ``x{0,n}``) taken at least once, or None."""
    op, av = node
    if op in _REPEATS and av[0] == 0 and av[1] != 0:
        return (op, (1, av[1], av[2]))
    return None


def _push_seq(items: list[Any], front: bool) -> list[Any]:
    """A sequence with a boundary before (``front``) or after it, pushed inside. An
    optional part at that end splits it: ``ab?\b`` is ``(?:ab\b|a\b)``."""
    if not items:
        raise _Unsupported("an empty alternative beside a boundary")
    edge = items[0] if front else items[-1]
    rest = items[1:] if front else items[:-1]
    eop, eav = edge
    if eop is _sre.SUBPATTERN and eav[1] == eav[2] == 0 and _ends(*edge).nullable:
        return _push_seq([*eav[-1], *rest] if front else [*rest, *eav[-1]], front)
    if eop is _sre.BRANCH and _ends(*edge).nullable:
        return [(_sre.BRANCH, (None, [_push_seq([*alt, *rest] if front else [*rest, *alt], front)
                                      for alt in eav[1]]))]
    once = _nonempty(edge)
    if once is not None and _ends(*edge).nullable and rest:
        with_it = _push_seq([once, *rest] if front else [*rest, once], front)
        without = _push_seq(rest, front)
        return [(_sre.BRANCH, (None, [with_it, without]))]
    if front:
        return [*_push(edge, True), *rest]
    return [*rest, *_push(edge, False)]


def _context(ends: list[_Ends], i: int, before: frozenset[str],
             after: frozenset[str]) -> tuple[frozenset[str], frozenset[str]]:
    """What can touch item ``i`` of a sequence from before and from after."""
    prev: set[str] = set()
    for j in range(i - 1, -1, -1):
        prev |= ends[j].last
        if not ends[j].nullable or ends[j].wild:
            break
    else:
        prev |= before
    nxt: set[str] = set()
    for j in range(i + 1, len(ends)):
        nxt |= ends[j].first
        if not ends[j].nullable or ends[j].wild:
            break
    else:
        nxt |= after
    return frozenset(prev), frozenset(nxt)


def _fix(node: tuple[Any, Any], before: frozenset[str], after: frozenset[str]) -> tuple[Any, Any]:
    """``node`` with the boundaries inside it rewritten (its ends do not change)."""
    op, av = node
    if op is _sre.SUBPATTERN:
        return (op, (*av[:-1], _rewrite(list(av[-1]), before, after)))
    if op is _sre.BRANCH:
        return (op, (av[0], [_rewrite(list(a), before, after) for a in av[1]]))
    if op in _REPEATS:
        e = _seq_ends(av[2])
        return (op, (av[0], av[1], _rewrite(list(av[2]), before | e.last, after | e.first)))
    if op in _GROUPS:
        return (op, _rewrite(list(av), before, after))
    return node


def _rewrite(items: list[Any], before: frozenset[str], after: frozenset[str]) -> list[Any]:
    ends = [_ends(op, av) for op, av in items]
    fixed = [_fix(item, *_context(ends, i, before, after)) for i, item in enumerate(items)]
    out: list[list[Any]] = []  # what each item became, so a boundary can take its tail
    i = 0
    while i < len(items):
        op, av = items[i]
        prev, nxt = _context(ends, i, before, after)
        if op is _sre.AT and av is _sre.AT_NON_BOUNDARY and (prev or nxt):
            raise _Unsupported("\\B beside a letter outside ASCII")
        if op is _sre.AT and av is _sre.AT_BOUNDARY and (prev or nxt):
            # the parts up to the first that cannot be empty, on the side that has them
            j = next((j for j in range(i + 1, len(items))
                      if not ends[j].nullable or ends[j].wild), None)
            if nxt and j is not None:
                out.extend([] for _ in range(i, j))  # kept where its last part was
                out.append(_push_seq(fixed[i + 1:j + 1], True))
                i = j + 1
                continue
            k = next((k for k in range(i - 1, -1, -1)
                      if not ends[k].nullable or ends[k].wild), None)
            if prev and k is not None:
                tail = [node for part in out[k:] for node in part]
                del out[k:]
                out.append(_push_seq(tail, False))
                out.extend([] for _ in range(k + 1, i + 1))
                i += 1
                continue
            raise _Unsupported("a boundary beside an optional part")
        out.append([fixed[i]])
        i += 1
    return [node for part in out for node in part]


# --- writing a parsed pattern back, in RE2's syntax ---

_SPECIAL = frozenset("\\.^$|?*+()[]{}")
_CLASS_SPECIAL = frozenset("\\]^-[")


def _char(code: int, special: frozenset[str]) -> str:
    ch = chr(code)
    if ch in special:
        return "\\" + ch
    if code < 32 or code == 127 or not ch.isprintable() or (ch.isspace() and ch != " "):
        return f"\\x{{{code:x}}}"
    return ch


def _category(cat: Any) -> str:
    names = {_sre.CATEGORY_DIGIT: r"\d", _sre.CATEGORY_NOT_DIGIT: r"\D",
             _sre.CATEGORY_SPACE: r"\s", _sre.CATEGORY_NOT_SPACE: r"\S",
             _sre.CATEGORY_WORD: r"\w", _sre.CATEGORY_NOT_WORD: r"\W"}
    if cat not in names:
        raise _Unsupported(f"category {cat}")
    return names[cat]


def _write_class(items: Any) -> str:
    out = []
    for op, av in items:
        if op is _sre.NEGATE:
            out.append("^")
        elif op is _sre.LITERAL:
            out.append(_char(av, _CLASS_SPECIAL))
        elif op is _sre.RANGE:
            out.append(_char(av[0], _CLASS_SPECIAL) + "-" + _char(av[1], _CLASS_SPECIAL))
        elif op is _sre.CATEGORY:
            out.append(_category(av))
        else:
            raise _Unsupported(f"{op} in a class")
    return "[" + "".join(out) + "]"


_ATS = {"AT_BEGINNING": "^", "AT_END": "$", "AT_BOUNDARY": r"\b",
        "AT_NON_BOUNDARY": r"\B", "AT_BEGINNING_STRING": r"\A", "AT_END_STRING": r"\z"}
_FLAGS = ((2, "i"), (8, "m"), (16, "s"))


def _write(items: Any) -> str:
    return "".join(_write_node(op, av) for op, av in items)


def _write_node(op: Any, av: Any) -> str:
    if op is _sre.LITERAL:
        return _char(av, _SPECIAL)
    if op is _sre.NOT_LITERAL:
        return "[^" + _char(av, _CLASS_SPECIAL) + "]"
    if op is _sre.ANY:
        return "."
    if op is _sre.IN:
        return _write_class(av)
    if op is _sre.AT:
        if str(av) not in _ATS:
            raise _Unsupported(str(av))
        return _ATS[str(av)]
    if op is _sre.SUBPATTERN:
        _group, add, rem, sub = av
        if (add | rem) & ~(2 | 8 | 16 | 32 | 256):  # 32 unicode, 256 ascii: not flags here
            raise _Unsupported("flags")
        on = "".join(f for bit, f in _FLAGS if add & bit)
        off = "".join(f for bit, f in _FLAGS if rem & bit)
        return f"(?{on}{'-' + off if off else ''}:{_write(sub)})"
    if op is _sre.BRANCH:
        return "(?:" + "|".join(_write(a) for a in av[1]) + ")"
    if op in _REPEATS and op is not getattr(_sre, "POSSESSIVE_REPEAT", None):
        lo, hi, sub = av
        body = _write(sub)
        if not (len(sub) == 1 and sub[0][0] in (_sre.LITERAL, _sre.IN, _sre.ANY,
                                                 _sre.NOT_LITERAL, _sre.SUBPATTERN)):
            body = f"(?:{body})"
        if hi == _sre.MAXREPEAT:
            q = "*" if lo == 0 else "+" if lo == 1 else f"{{{lo},}}"
        elif lo == 0 and hi == 1:
            q = "?"
        else:
            q = f"{{{lo}}}" if lo == hi else f"{{{lo},{hi}}}"
        return body + q + ("?" if op is _sre.MIN_REPEAT else "")
    raise _Unsupported(str(op))


def re2_boundaries(pattern: str) -> str:
    """``pattern`` for RE2 with each word boundary beside a letter outside ASCII pushed
    to the character it touches (``\\b`` before or after it becomes ``\\B``), or the
    pattern itself when it has none (or has one the rewrite cannot place: an optional
    part beside the boundary)."""
    parsed = _parse(pattern)
    if parsed is None or _walk(parsed, _EMPTY, _EMPTY) is None:
        return pattern
    try:
        return _write(_rewrite(parsed, _EMPTY, _EMPTY))
    except _Unsupported:
        return pattern
