"""Word boundaries beside letters outside ASCII: RE2's ``\\b`` is ASCII, so they are
rewritten for it (``gateway.content.boundaries``) and match where the word starts and
ends, as Python's Unicode ``re`` reads the pattern."""

# ruff: noqa: RUF001 - the letters of other scripts are what is tested
from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.content.boundaries import _write, ascii_boundary_misuse, re2_boundaries
from gateway.content.regex import compile_operator_regex

re2 = pytest.importorskip("re2")


def _re2(pattern: str):  # type: ignore[no-untyped-def]
    options = re2.Options()
    options.case_sensitive = False
    return re2.compile(pattern.encode(), options)


def _re2_search(pattern: str, text: str) -> bool:
    return _re2(pattern).search(text.encode()) is not None


@pytest.mark.parametrize(("pattern", "text"), [
    (r"\bödenmemiş\b", "Faturanız ödenmemiş görünüyor"),
    (r"appel manqu[ée]\b", "Vous avez un appel manqué."),
    (r"\b(impay[ée]e?s?|onbetaald)\b", "Facture impayé, réglez"),
    (r"\b(mum|mamá)\b.{0,20}dinero", "Hola mamá, necesito dinero"),
    (r"\b(khoản vay|nợ)\b", "Khoản nợ của bạn quá hạn"),
    (r"(\bmama\b|мама).{0,9}\bпомоги", "мама помоги"),
])
def test_a_boundary_beside_a_letter_outside_ascii_matches_where_the_word_ends(
        pattern: str, text: str) -> None:
    assert ascii_boundary_misuse(pattern)
    assert not _re2_search(pattern, text)  # RE2 as written: the alternative is dead
    assert re.search(pattern, text, re.I)  # what the author read
    assert compile_operator_regex([pattern]).search(text)  # what the gateway does


@pytest.mark.parametrize(("pattern", "text"), [
    (r"\bödenmemiş\b", "xödenmemiş"),
    (r"appel manqu[ée]\b", "appel manquéx"),
    (r"\b(mum|mamá)\b", "mamás"),
    (r"\bnợ\b", "anợ"),
])
def test_it_still_needs_the_edge_of_the_word(pattern: str, text: str) -> None:
    assert not compile_operator_regex([pattern]).search(text)
    assert not re.search(pattern, text, re.I)


def test_ascii_patterns_are_searched_as_written() -> None:
    for p in (r"\b(verify|confirm)\b.{0,40}\baccount\b", r"\d{4,6}\b", r"\bwon\b|prize",
              r"caf[eé] au lait", r"\b€\d+"):
        assert re2_boundaries(p) is p
    assert ascii_boundary_misuse(r"\bwon\b.{0,40}\bpremio\b") is None
    # a wildcard between the boundary and a letter outside ASCII is not beside it
    assert ascii_boundary_misuse(r"\bvisa\b.{0,80}предоплат") is None


def test_the_rewrite_is_zero_width_for_zero_width() -> None:
    assert re2_boundaries(r"\b(mum|mamá)\b") == r"\b(?:m(?:um\b|amá\B))"
    assert re2_boundaries(r"manqu[ée]\b") == r"manqu(?:(?:[e]\b|[é]\B))"
    assert re2_boundaries(r"\bödenmemiş\b") == r"\Bödenmemiş\B"


def test_a_rule_with_such_a_boundary_blocks_through_the_engine(tmp_path, lists, numbering) -> None:  # type: ignore[no-untyped-def]
    from content_support import rule_engine, sms

    rule = ('[[rule]]\nid = "debt.unpaid_tr"\nchannel = "sms"\n'
            "when.text_regex = '\\b(ödenmemiş|borcunuz)\\b'\naction = \"BLOCK\"\n")
    engine = rule_engine(tmp_path, rule, lists, numbering)
    assert engine.evaluate(sms(numbering, "Faturanız ödenmemiş, hattınız kapanacak")).rules \
        == ("debt.unpaid_tr",)
    assert engine.evaluate(sms(numbering, "Ödenmemişlik yok, teşekkürler")).rules == ()


# no word is another with a letter outside ASCII added: "mam" is a word to RE2's \b in
# "mamá" (an ASCII letter, then one it takes for a non-word character), which no
# zero-width rewrite can mend; the pattern's own letters are what it mends
_WORDS = ["mamá", "ödenmemiş", "nợ", "bloqué", "мама", "cafe", "café", "won", "ş", "über"]
_SEPS = [" ", ", ", ". ", "!", "\n"]


@st.composite
def _case(draw: st.DrawFn) -> tuple[str, str]:
    words = draw(st.lists(st.sampled_from(_WORDS), min_size=1, max_size=3, unique=True))
    alts = "|".join(re.escape(w) for w in words)
    shape = draw(st.sampled_from([r"\b({})\b", r"\b({})", r"({})\b", r"\b(?:{})(?:s|es)?\b",
                                  r"\b({})\b.{{0,5}}\b(won|мама)\b", r"(zq|\b({}))\b"]))
    pattern = shape.format(alts)
    # tokens: a word, or a word with ASCII letters before or after it (where a
    # boundary must fail): texts without a letter outside ASCII touching another
    # word character the pattern did not write, so Unicode's \b is the whole answer
    tokens = draw(st.lists(st.tuples(st.sampled_from(_WORDS), st.sampled_from(["", "x", "ab"]),
                                     st.sampled_from(["", "s", "es", "zz"])),
                           min_size=1, max_size=5))
    seps = draw(st.lists(st.sampled_from(_SEPS), min_size=len(tokens), max_size=len(tokens)))
    text = "".join(pre + w + post + sep for (w, pre, post), sep in zip(tokens, seps, strict=True))
    return pattern, text


@settings(max_examples=400, deadline=None)
@given(_case())
def test_rewritten_for_re2_it_answers_as_unicode_boundaries_do(case: tuple[str, str]) -> None:
    pattern, text = case
    assert compile_operator_regex([pattern]).search(text) is (
        re.search(pattern, text, re.I) is not None), (pattern, re2_boundaries(pattern), text)


def test_written_back_every_shipped_pattern_is_the_same_pattern() -> None:
    """The rewrite writes the parsed pattern back; with nothing to rewrite that
    writing, compiled by RE2, answers as the pattern does (on the rules' examples)."""
    import tomllib
    from pathlib import Path
    from re import _parser  # type: ignore[attr-defined]

    root = Path(__file__).resolve().parents[2] / "rules"
    patterns: list[str] = []
    texts: list[str] = ["", "a", "é ü x", "CALL +44 7700 900123 now"]
    for f in sorted(root.glob("*.toml")):
        for rule in tomllib.loads(f.read_text(encoding="utf-8")).get("rule", []):
            rx = rule.get("when", {}).get("text_regex")
            if rx:
                patterns.extend([rx] if isinstance(rx, str) else rx)
            for ex in rule.get("example", []):
                if isinstance(ex, dict) and isinstance(ex.get("text"), str):
                    texts.append(ex["text"])
    assert len(patterns) > 100 and len(texts) > 300
    encoded = [t.encode() for t in texts]
    for p in patterns:
        written = _write(list(_parser.parse(p, re.I)))
        a, b = _re2(p), _re2(written)
        for t in encoded:
            assert (a.search(t) is None) is (b.search(t) is None), (p, written, t)
