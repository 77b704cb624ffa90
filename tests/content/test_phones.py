"""Phone numbers in text (every common written form) and the callback_numbers plugin."""

from __future__ import annotations

import pytest
from content_support import check, load_plugin_module, sms
from hypothesis import given
from hypothesis import strategies as st

from gateway.content.phones import extract_phone_numbers
from gateway.engine.plugins import PluginEnv
from gateway.numbers import Numbering


@pytest.mark.parametrize(("text", "e164"), [
    ("Call +44 909 879 0000 now", "+449098790000"),
    ("ring 0909-879-0000 today", "+449098790000"),
    ("dial 0909.879.0000!", "+449098790000"),
    ("(0909) 879 0000", "+449098790000"),
    ("+44 (0)20 7946 0000", "+442079460000"),
    ("00882 1234 5678 call", "+88212345678"),
    ("Tel +1 (900) 555-1234", "+19005551234"),
    ("call09061749602 now", "+449061749602"),
    ("08452810075over18's", "+448452810075"),
    ("call O9O6 l749 6O2", "+449061749602"),  # letters for digits
    ("\uff10\uff19\uff10\uff16\uff11\uff17\uff14\uff19\uff16\uff10\uff12", "+449061749602"),
    ("0 9 0 6 1 7 4 9 6 0 2", "+449061749602"),  # spaced out
    ("+447797706009 Why wait?", "+447797706009"),
    ("call 0871 872 7868.", "+448718727868"),
])
def test_written_forms(numbering: Numbering, text: str, e164: str) -> None:
    assert [n.e164 for n in extract_phone_numbers(text, numbering)] == [e164]


@pytest.mark.parametrize("text", [
    "bus8,22,65,61,66,382", "1 2 3 4 5 6 7 8 9", "see you 07.30-08.30", "on 01/02/2023",
    "it is £1.50", "Text FA to 87121", "67441233 look", "", "no digits at all",
])
def test_not_numbers(numbering: Numbering, text: str) -> None:
    assert extract_phone_numbers(text, numbering) == ()


def test_two_numbers_in_order(numbering: Numbering) -> None:
    text = "U have won, call 09050002311 b4280703. T&Cs/stop SMS 08718727868. Over 18"
    assert [n.e164 for n in extract_phone_numbers(text, numbering)] == [
        "+449050002311", "+448718727868"]


def test_plugin_symbols(env: PluginEnv) -> None:
    plugin = load_plugin_module("callback_numbers").create(env)
    n = env.numbering
    assert check(plugin, sms(n, "see you at 5")) == ()
    assert check(plugin, sms(n, None)) == ()
    assert set(check(plugin, sms(n, "Urgent! call 09061749602 from landline"))) == {
        "callback.premium"}
    assert {"callback.special_code", "callback.international"} <= set(
        check(plugin, sms(n, "Your prize: call +882 1234 5678")))
    assert set(check(plugin, sms(n, "Missed call, ring back +239 912 3456"))) == {
        "callback.high_risk", "callback.international"}
    assert set(check(plugin, sms(n, "call me on 07700 900123"))) == set()
    ts = 1_790_000_000.0
    env.state.flag("wangiri_sources", n.parse("+37122345678").key, ts, 3600)
    assert set(check(plugin, sms(n, "Missed call? Call back +371 2234 5678", ts=ts + 10))) == {
        "callback.wangiri", "callback.international"}
    assert "callback.wangiri" not in set(
        check(plugin, sms(n, "Call back +371 2234 5678", ts=ts + 7200)))


@given(st.text(st.sampled_from("0123456789OoIlx .-()+"), max_size=40))
def test_letters_for_digits_only_rewritten_next_to_a_digit(text: str) -> None:
    from gateway.content import scan as phones

    rewritten = phones._LETTER_DIGITS.sub(
        lambda m: m.group().translate(phones._LETTER_TABLE), text)
    if phones._LETTER_BY_DIGIT.search(text) is None:  # the precheck skips the rewrite
        assert rewritten == text
