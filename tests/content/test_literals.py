"""The strings a regex needs (``gateway.content.literals``): sound on random patterns
and texts, and the shipped rules judge every message alike with and without them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.content.literals import LiteralIndex, new_index, required_literals
from gateway.content.regex import compile_operator_regex, split_patterns

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "loadtest" / "data"


@pytest.mark.parametrize(("pattern", "needs"), [
    (r"\b(verify|confirm)\b.{0,40}\baccount\b", {"account"}),  # the longer shortest
    (r"colou?r", {"colo"}),
    (r"\bis this \w+\?", {"is this "}),
    (r"(?:txt|text) (?:win|stop) to \d{5}",
     {f"{a} {b} to {d}" for a in ("txt", "text") for b in ("win", "stop") for d in range(10)}),
    (r"KYC", {"kyc"}),
    (r"stra(ß|ss)e", {"stra"}),  # ß casefolds to two letters: not a string to look for
    (r"बिजली", {"बिजली"}),  # caseless scripts are their own fold
    (r"(ab){2,}c", {"abc"}),  # a repeat's last copy runs into what follows
    (r"\b\d{1,3}p\b", {f"{d}p" for d in range(10)}),  # RE2's \d is [0-9]
    (r"(?:^|\s)1[68]\+", {"16+", "18+"}),
])
def test_required_literals(pattern: str, needs: set[str]) -> None:
    assert required_literals([pattern]) == frozenset(needs)


@pytest.mark.parametrize("pattern", [
    r"\d{6}",  # one digit of ten: in nearly every text
    r"(?:win)?\d{5}",  # all optional but the digits
    r"[a-z]+ ?",  # a class of 26 letters is no string
    r"ß",  # casefolds to two letters
])
def test_patterns_without_literals_always_run(pattern: str) -> None:
    assert required_literals([pattern]) is None


def test_a_list_needs_every_pattern_to_have_literals() -> None:
    assert required_literals(["account", r"\d{6}"]) is None
    assert required_literals(["account", "card"]) == frozenset({"account", "card"})


def test_index_finds_its_strings_in_the_casefolded_text() -> None:
    index = LiteralIndex()
    index.add(["kyc", "account"])
    assert index.find("update your \u212ayc now".casefold()) == {"kyc"}  # Kelvin sign
    assert index.find("no such words") == set()
    assert new_index() is not None  # pyahocorasick is a dependency


# -- soundness: a match always shows one of the strings ---------------------------------

PIECES = ["a", "b", "k", "s", "é", "ß", "ς", "kyc", "ab", "x", "aß", "aς", "ks"]
ATOMS = st.sampled_from([re.escape(p) for p in PIECES] + [
    r"\b", r"\d", r"\w", r".", r"[ab]", r"[sz]", r"[^a]", r"\s?", r".{0,3}"])


def _patterns() -> st.SearchStrategy[str]:
    def grow(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.one_of(
            st.lists(children, min_size=1, max_size=4).map("".join),
            st.lists(children, min_size=2, max_size=3).map(lambda xs: "(" + "|".join(xs) + ")"),
            children.map(lambda x: f"(?:{x})?"),
            children.map(lambda x: f"(?:{x})+"),
            children.map(lambda x: f"(?:{x}){{2}}"),
        )
    return st.recursive(ATOMS, grow, max_leaves=10)


# Latin letters with their case-folding oddities: Kelvin sign, long s, sharp s, the
# three sigmas
TEXT_CHARS = "abkKsSxyzéÉßẞ\u03c2\u03c3\u03a3 \u212a\u017f09kyc"


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pattern=_patterns(), texts=st.lists(st.text(TEXT_CHARS, max_size=24), max_size=8))
def test_a_match_contains_one_of_the_strings(pattern: str, texts: list[str]) -> None:
    try:
        rx = compile_operator_regex([pattern])
    except re.error:
        return
    needs = rx.literals
    if needs is None:
        return
    index = LiteralIndex()
    index.add(needs)
    for text in [*texts, "".join(texts)]:
        if rx.search(text):
            assert index.find(text.casefold()) & needs, (pattern, text, needs)


#: for the checks that read every text of loadtest/data against every shipped pattern
#: list: the work grows with each set written (about 48,000 texts by the thirty-second
#: session), so their budget is not the suite's default two minutes
EVERY_TEXT = pytest.mark.timeout(600)


def _texts() -> list[str]:
    out = []
    for path in sorted(DATA.glob("*.tsv")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line and not line.startswith("#") and "\t" in line:
                out.append(line.rsplit("\t", 1)[1])
    return out


@EVERY_TEXT
def test_shipped_patterns_never_miss_a_match() -> None:
    """Every text_regex of the shipped rules, on every text of loadtest/data: where it
    matches, the text has one of its strings, and searched pattern by pattern as the
    rules search a large list (each only where the text has one of its own strings) it
    answers as the whole alternation; most lists have strings."""
    from gateway.engine.loader import resolved_specs

    specs, errors = resolved_specs(ROOT / "rules")
    assert not errors
    lists = {tuple(v if isinstance(v, list) else [v])
             for s in specs for k in ("text_regex", "text_not_regex")
             if (v := s.when.get(k))}
    regexes = [compile_operator_regex(ps) for ps in sorted(lists)]
    assert len([rx for rx in regexes if rx.literals is not None]) >= 0.8 * len(regexes)
    # the large lists are searched pattern by pattern, the small ones whole
    assert len([rx for rx in regexes if rx.parts is not None]) >= 0.2 * len(regexes)
    assert any(rx.parts is None for rx in regexes)
    texts = _texts()
    assert len(texts) > 5000
    for ps, rx in zip(sorted(lists), regexes, strict=True):
        parts = split_patterns(ps)  # every list, whatever its size
        gated = _gated(parts) if parts is not None else None
        for text in texts:
            found = rx.search(text)
            if found and rx.literals is not None:
                folded = text.casefold()
                assert any(s in folded for s in rx.literals), (rx.pattern[:80], text)
            if gated is not None:
                assert gated(text) == found, (rx.pattern[:80], text)


def _gated(parts):  # type: ignore[no-untyped-def]
    """A list searched as the rules search a large one (``Parts.bind``): pattern by
    pattern, each only where the text has one of its strings."""
    index = LiteralIndex()
    search = parts.bind(index)
    index.build()

    def gated(text: str) -> bool:
        b = text.encode("utf-8", "surrogatepass")
        return search(index.open_parts(index.find(text.casefold())), lambda: b)
    return gated


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(patterns=st.lists(_patterns(), min_size=1, max_size=4),
       texts=st.lists(st.text(TEXT_CHARS, max_size=24), max_size=8))
def test_pattern_by_pattern_is_the_alternation(patterns: list[str], texts: list[str]) -> None:
    """Searching a list's patterns one by one, each gated by its own strings, answers
    as the whole alternation does."""
    try:
        rx = compile_operator_regex(patterns)
    except re.error:
        return
    parts = split_patterns(tuple(patterns))
    if parts is None:
        return
    gated = _gated(parts)
    for text in [*texts, "".join(texts)]:
        assert gated(text) == rx.search(text), (patterns, text)


@EVERY_TEXT
def test_verdicts_are_the_same_without_the_index() -> None:
    """The shipped rules and plugins with the literal index and without it (every
    text_regex searched) give the same verdict to every text of loadtest/data, each
    from its own sender."""
    from gateway.engine import Engine
    from gateway.engine.examples import event_from_fields
    from gateway.engine.loader import load_ruleset
    from gateway.lists.registry import load_lists
    from gateway.numbers import Numbering
    from gateway.state.memory import MemoryCounters

    gb = Numbering("GB")
    lists = load_lists(ROOT / "rules" / "lists", gb)
    engines = [Engine(load_ruleset(ROOT / "rules", lists=lists, state=MemoryCounters(),
                                   missing_symbols="disable", prefilter=on),
                      emergency=lists.emergency, numbering=gb) for on in (True, False)]
    texts = _texts()
    for i, text in enumerate(texts):
        fields = {"src": f"+4477009{i % 100000:05d}", "dst": "+447700900123", "text": text}
        a, b = (e.evaluate(event_from_fields(fields, gb, ts=1_700_000_000.0 + i))
                for e in engines)
        assert (a.action, a.rules) == (b.action, b.rules), text
