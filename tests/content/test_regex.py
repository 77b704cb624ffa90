"""Operator regexes (``text_regex``) run on RE2: a catastrophic pattern cannot stall the
loop; patterns RE2 cannot compile still work (with Python's ``re``)."""

from __future__ import annotations

import re
import textwrap
import time
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.content.regex import compile_operator_regex


def test_catastrophic_pattern_answers_at_once() -> None:
    rx = compile_operator_regex([r"(a+)+$", r"(x|xx)+y"])
    assert rx.engine == "re2"
    t0 = time.perf_counter()
    assert not rx.search("a" * 5000 + "!")
    assert not rx.search("x" * 5000 + "z")
    assert time.perf_counter() - t0 < 0.5  # Python's re would take longer than the universe


def test_rule_with_a_catastrophic_pattern_through_the_engine(tmp_path, lists, numbering) -> None:  # type: ignore[no-untyped-def]
    from content_support import rule_engine, sms

    engine = rule_engine(tmp_path, """
        [[rule]]
        id = "bad.regex"
        channel = "sms"
        when.text_regex = '(a+)+$'
        score = 1
    """, lists, numbering)
    t0 = time.perf_counter()
    v = engine.evaluate(sms(numbering, "a" * 2000 + "!"))
    assert time.perf_counter() - t0 < 0.5 and v.rules == ()


def test_same_answers_as_python_re_on_ascii() -> None:
    pats = [r"\b(verify|confirm)\b.{0,40}\b(account|card)\b", r"\b(tax|hmrc)\b.{0,40}\brefund\b"]
    rx, py = compile_operator_regex(pats), re.compile("|".join(f"(?:{p})" for p in pats), re.I)
    for text in ["Please VERIFY your Card now", "HMRC: your tax refund", "verified accounts",
                 "nothing here", "confirm the account"]:
        assert rx.search(text) is (py.search(text) is not None), text


@settings(max_examples=300, deadline=None)
@given(st.text(st.sampled_from("abcVERIFYaccount card.-! \n"), max_size=80))
def test_agrees_with_re_on_shipped_style_patterns(text: str) -> None:
    pats = [r"\b(verify|confirm)\b.{0,40}\b(account|card)\b"]
    rx = compile_operator_regex(pats)
    assert rx.search(text) is (re.search(pats[0], text, re.I) is not None)


def test_lookaround_and_backreferences_are_refused() -> None:
    """Python's re would match them, backtracking without bound: refused, naming why."""
    for pattern in (r"(?<!no )refund", r"(\w+) \1", r"(?=(a+)+$)x"):
        with pytest.raises(re.error, match="RE2 cannot compile it"):
            compile_operator_regex(["verify", pattern])


def test_rule_with_lookaround_is_refused_naming_its_place(tmp_path, lists) -> None:  # type: ignore[no-untyped-def]
    from gateway.engine.loader import load_ruleset
    from gateway.engine.schema import RuleErrors
    from gateway.state.memory import MemoryCounters

    (tmp_path / "r.toml").write_text(textwrap.dedent("""
        [[rule]]
        id = "x.lookbehind"
        channel = "sms"
        when.text_regex = '(?<!no )refund'
        action = "BLOCK"
    """))
    with pytest.raises(RuleErrors) as e:
        load_ruleset(tmp_path, lists=lists, state=MemoryCounters(), plugins=())
    assert "r.toml:5: x.lookbehind: " in str(e.value)
    assert "RE2 cannot compile it" in str(e.value)


def test_a_boundary_escaped_twice_is_refused_naming_its_place(tmp_path, lists) -> None:  # type: ignore[no-untyped-def]
    """In a TOML literal string ('...') a backslash is one backslash: '\\\\bfoo' is a
    backslash, a "b" and "foo", never the word boundary meant. The family rule carried
    such an alternative, dead, until the twentieth session."""
    from gateway.engine.loader import load_ruleset
    from gateway.engine.schema import RuleErrors
    from gateway.state.memory import MemoryCounters

    for pattern in (r"\\bdad\\b", r"x|\\d+", r"a\\\\\\w"):
        with pytest.raises(re.error, match="written escaped twice"):
            compile_operator_regex(["mum", pattern])
    for pattern in (r"\bdad\b", r"[\\]d", r"\\\d", r"c:\\\\x"):  # meant: kept
        compile_operator_regex([pattern])
    (tmp_path / "r.toml").write_text(textwrap.dedent("""
        [[rule]]
        id = "x.doubled"
        channel = "sms"
        when.text_regex = ['\\\\b(dad|mum)\\\\b']
        action = "BLOCK"
    """))
    with pytest.raises(RuleErrors) as e:
        load_ruleset(tmp_path, lists=lists, state=MemoryCounters(), plugins=())
    assert "r.toml:5: x.doubled: " in str(e.value)
    assert "written escaped twice" in str(e.value)


def test_bad_pattern_is_an_error_and_lone_surrogates_are_read() -> None:
    with pytest.raises(re.error):
        compile_operator_regex(["(unclosed"])
    assert compile_operator_regex([r"verify"]).search("x\ud800 verify")


def _shipped_patterns() -> list[list[str]]:
    import tomllib
    from pathlib import Path

    out = []
    for f in sorted((Path(__file__).resolve().parents[2] / "rules").glob("*.toml")):
        for rule in tomllib.loads(f.read_text(encoding="utf-8")).get("rule", []):
            rx = rule.get("when", {}).get("text_regex")
            if rx:
                out.append([rx] if isinstance(rx, str) else list(rx))
    return out


SHIPPED = _shipped_patterns()
#: the public interface's search of each shipped pattern, compiled once for every example
#: (compiling some 260 patterns again for each of 300 texts took most of two minutes)
_PUBLIC: dict[str, Callable[[str], bool]] = {}


@settings(max_examples=300, deadline=None)
@given(st.one_of(
    st.text(st.sampled_from("verify account parcel fee tax refund won lost phone .,!\n\u00e9"),
            max_size=120),
    st.text(max_size=80),
))
def test_raw_re2_call_answers_as_the_public_interface(text: str) -> None:
    """The C extension's Match on a never-capture pattern says what google-re2's public
    search says, for every shipped text_regex rule (lone surrogates included)."""
    from gateway.content import regex

    assert SHIPPED
    for pats in SHIPPED:
        rx = compile_operator_regex(pats)
        assert rx.engine == "re2"
        public = _PUBLIC.get(rx.pattern)
        if public is None:
            public = _PUBLIC[rx.pattern] = regex._public_search(rx.pattern)
        assert rx.search(text) is public(text), (pats, text)


def test_a_pattern_list_compiles_once_and_a_bad_one_fails_every_time() -> None:
    """Checking a ruleset's examples compiles it once per example: a pattern list is
    compiled once (the same ``OperatorRegex``, a list or a tuple alike); a bad pattern
    is refused on every attempt, never remembered as good."""
    a = compile_operator_regex([r"\bprize\b", "w[io]n"])
    assert compile_operator_regex((r"\bprize\b", "w[io]n")) is a
    assert a.search("you WON a prize") and not a.search("pricey")
    assert compile_operator_regex(["w[io]n"]) is not a
    for _ in range(2):
        with pytest.raises(re.error):
            compile_operator_regex(["(unclosed"])
