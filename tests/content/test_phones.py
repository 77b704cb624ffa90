"""Phone numbers in text (every common written form) and the callback_numbers plugin."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from content_support import ROOT, check, load_plugin_module, sms
from hypothesis import given, settings
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
    # a parenthesis opened after the number and not closed is no part of it
    ("rufen Sie 0900 5 118 442 (1,99 EUR/Min) an", "+449005118442"),
    ("call 0909 879 0000 (2 lines open)", "+449098790000"),
])
def test_written_forms(numbering: Numbering, text: str, e164: str) -> None:
    assert [n.e164 for n in extract_phone_numbers(text, numbering)] == [e164]


@pytest.mark.parametrize("text", [
    "bus8,22,65,61,66,382", "1 2 3 4 5 6 7 8 9", "see you 07.30-08.30", "on 01/02/2023",
    "it is £1.50", "Text FA to 87121", "67441233 look", "", "no digits at all",
])
def test_not_numbers(numbering: Numbering, text: str) -> None:
    assert extract_phone_numbers(text, numbering) == ()


@pytest.mark.parametrize(("text", "e164"), [
    ("You missed a call from (876) 297-4410. Call back to listen.", "+18762974410"),
    ("Call 1-876-340-2297 to retrieve them", "+18763402297"),
    ("please call back 1 (473) 440-1827", "+14734401827"),
    ("call 212.976.1234 now", "+12129761234"),
    ("call me back on 646-555-0142", "+16465550142"),
    ("ring 18009359935", "+18009359935"),
])
def test_north_american_forms_at_a_north_american_home(text: str, e164: str) -> None:
    """Where the home is in the North American Numbering Plan, a number written as
    North America writes it ("(876) 297-4410", "1-876-...") is dialable as written;
    anywhere else those ten digits are no number (a UK reader dials neither)."""
    assert [n.e164 for n in extract_phone_numbers(text, Numbering("US"))] == [e164]
    assert [n.e164 for n in extract_phone_numbers(text, Numbering("CA"))] == [e164]
    assert extract_phone_numbers(text, Numbering("GB")) == ()


@pytest.mark.parametrize("text", [
    "Order 8763402297 has shipped",  # a bare run of ten digits: an order or account number
    "call 123-456-7890",  # no area code starts with 0 or 1
    "ref 876-123-4567",  # nor an exchange
    "see you 10.30-11.30",
])
def test_north_american_non_numbers(text: str) -> None:
    assert extract_phone_numbers(text, Numbering("US")) == ()


def test_north_american_callback_through_the_gateway(tmp_path: Path) -> None:
    """The shipped policy with a US home: a missed-call text urging a callback to a
    Caribbean number ("(876)": Jamaica, an IRSF favourite) is blocked; a friend's own
    number to call back is not (the same texts with a UK home see no number at all)."""
    from gateway.app import build_core
    from gateway.config import parse_config
    from gateway.engine.examples import EPOCH, event_from_fields
    from gateway.state.memory import MemoryCounters

    cfg = parse_config({"gateway": {"home_country": "US"},
                        "rules": {"dir": str(ROOT / "rules")},
                        "lists": {"dir": str(ROOT / "rules" / "lists")},
                        "plugins": {"dir": str(ROOT / "plugins")},
                        "log": {"level": "error", "audit": str(tmp_path / "audit.log")}})
    core = build_core(cfg, state=MemoryCounters())

    def judge(text: str, src: str) -> Any:
        return core.engine.evaluate(event_from_fields(
            {"src": src, "dst": "+12125550100", "text": text}, core.numbering, ts=EPOCH))

    v = judge("You missed a call from (876) 297-4410. Caller left a 2 min voicemail. "
              "Call back to listen.", "+13238047712")
    assert v.action.value == "BLOCK"
    assert {"callback.high_risk", "callback.international"} <= set(v.rules)
    v = judge("Hey it's Dan, call me back on (212) 555-0142 when you can", "+13238047713")
    assert v.action.value == "ALLOW" and not v.rules


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


# --- premium ranges, short codes and services (the callback lures of the corpus) ------


@pytest.mark.parametrize("text", [
    "URGENT! Call 07046744435 to claim your prize",  # UK 070 personal number
    "Call 0871 872 7868 now",  # 087
    "ring 0844 847 2222",  # 084
    "You have won! Call 118 811 to claim",  # 118 directory service
])
def test_callback_premium_lures(env: PluginEnv, text: str) -> None:
    plugin = load_plugin_module("callback_numbers").create(env)
    assert "callback.premium" in check(plugin, sms(env.numbering, text))


@pytest.mark.parametrize(("text", "hit"), [
    ("WINNER!! To claim txt CLAIM to 81010", True),
    ("Text the word WIN to 87121 for entry", True),
    ("Send 'GO' to 69888 for ringtones", True),
    ("TXT: MUSIC 2 87066", True),
    # full-width "txt WIN to 87121": the verb is found after NFKC
    ("\uff54\uff58\uff54 WIN to \uff18\uff17\uff11\uff12\uff11", True),
    ("sms YES to 70123", True),
    ("Reply STOP to 60123 to opt out", False),  # an opt-out instruction
    ("To opt out text NOINFO to 70550.", False),  # a charity's opt-out spelling
    ("Text NOKIA to 87121 to win", True),  # a keyword that only starts like one
    ("Text HELP to 80080 for help", False),
    ("Text WIN to 54321", False),  # UK 5-digit code outside 6xxxx-8xxxx
    ("Text me when you get to 80 Park Lane", False),
    ("The flat sold for 85000, postcode 90210", False),  # prices and postcodes
    ("call me on 07700 900123", False),
])
def test_premium_shortcodes(env: PluginEnv, text: str, hit: bool) -> None:
    plugin = load_plugin_module("callback_numbers").create(env)
    assert ("callback.shortcode_premium" in check(plugin, sms(env.numbering, text))) is hit


def test_premium_shortcodes_of_other_countries() -> None:
    from gateway.content.phones import premium_shortcode

    # libphonenumber's short-number metadata knows their cost
    assert premium_shortcode("81212", "FR") and premium_shortcode("25555", "ES")
    assert premium_shortcode("57000", "IE")
    # the UK's metadata leaves costs unknown: the 6xxxx/7xxxx/8xxxx rule
    assert premium_shortcode("87121", "GB") and not premium_shortcode("12345", "GB")
    assert not premium_shortcode("7726", "GB")  # the spam-reporting short code


@pytest.mark.parametrize(("src", "text", "hit"), [
    ("+33644718205", "Pour l'écouter, composez le 08 99 19 43 27.", True),  # FR 0899
    ("+34722180934", "llamame al 806 51 73 29 y hablamos", True),  # ES 806, no trunk 0
    ("+306948221087", "Καλέστε τώρα στο 901 100 4471", True),  # GR 901
    ("+821049827713", "060-601-2287 로 전화줘", True),  # KR 060
    ("+886912348776", "請於24小時內撥打 0204-588-321 收聽", True),  # TW 0204
    ("+31612847390", "Bel 0906-1102 en toets code 3381", True),  # NL 0906, 8 digits
    ("+61438217055", "call 1902 554 118 now", True),  # AU 190x
    ("+14165550123", "call 1-900-555-0199 to claim", True),  # North America 1-900
    # the sender's own country's ordinary lines, and amounts, are no premium number
    ("+306948221087", "Πάρε με στο 694 812 2108", False),
    ("+33644718205", "rappelle-moi au 06 12 34 56 78", False),
    ("+34722180934", "te debo 1 900 000 pesos", False),
    # from home (or a sender ID) the national forms are read as home writes them
    ("+447700900500", "060-601-2287 로 전화줘", False),
    ("Promo", "Καλέστε τώρα στο 901 100 4471", False),
])
def test_callback_premium_abroad(env: PluginEnv, src: str, text: str, hit: bool) -> None:
    """A text from a foreign phone number: its national forms read in its country."""
    plugin = load_plugin_module("callback_numbers").create(env)
    hits = check(plugin, sms(env.numbering, text, src=src))
    assert ("callback.premium_abroad" in hits) is hit, hits


def test_callback_premium_abroad_reads_a_bounded_number_of_forms(env: PluginEnv) -> None:
    """A text is its sender's to write: at most ``ABROAD_READS`` national forms of it
    are parsed in the sender's country (each a libphonenumber parse the first time)."""
    module = load_plugin_module("callback_numbers")
    plugin = module.create(env)
    ordinary = ", ".join(f"06 12 34 56 7{i}" for i in range(module.ABROAD_READS))
    first = sms(env.numbering, "appelez le 08 99 19 43 27 ou " + ordinary, src="+33644718205")
    last = sms(env.numbering, ordinary + ", ou le 08 99 19 43 27", src="+33644718205")
    assert "callback.premium_abroad" in check(plugin, first)
    assert "callback.premium_abroad" not in check(plugin, last)


def test_scan_keeps_national_forms() -> None:
    """Runs written as a number elsewhere writes one are kept apart from home's."""
    from gateway.content.scan import scan

    sc = scan("call 806 51 73 29 or 0906-1102, not order 12345678, not 0207 946 0000")
    assert sc.national == ("806517329", "09061102")
    assert sc.phones == ("02079460000",)


def test_extra_premium_ranges(numbering: Numbering) -> None:
    from gateway.lists.premium import load_premium_rate

    ps = load_premium_rate()
    for n in ("+447012345678", "+34905123456", "+12129761234", "+44118118", "118118", "11880",
              "+448431234567", "+448712345678"):
        assert numbering.parse(n).key in ps, n
    for n in ("+447700900123", "+12125551234", "+34605123456", "7726", "999"):
        assert numbering.parse(n).key not in ps, n


def _phones_by_searches(text: str) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """``scan._phones`` as it was: the two regex prechecks, then the candidates."""
    from gateway.content import scan as phones

    if phones._LETTER_BY_DIGIT.search(text) is not None:
        text = phones._LETTER_DIGITS.sub(
            lambda m: m.group().translate(phones._LETTER_TABLE), text)
    if phones._HAS_RUN.search(text) is None:
        return (), (), ()
    return phones._dialable(text)


@settings(max_examples=500)
@given(st.one_of(
    st.text(st.sampled_from("0123456789OoIlx .-()+\n\t:"), max_size=60),
    st.text(max_size=60),
))
def test_byte_class_prechecks_equal_the_searches(text: str) -> None:
    """The ASCII fast path of ``_phones`` finds what the regex prechecks find."""
    from gateway.content import scan as phones

    assert phones._phones(text) == _phones_by_searches(text)


@pytest.mark.parametrize(("text", "hit"), [
    ("FreeMsg>FAV XMAS TONES!Reply REAL", True),
    ("Get the hottest pics 2 ur fone, txt BABE now", True),
    ("Reply STOP to 60123 to opt out", False),
    ("Reply YES to confirm your booking", False),
    ("text me when you're home", False),
])
def test_reply_keywords(env: PluginEnv, text: str, hit: bool) -> None:
    plugin = load_plugin_module("callback_numbers").create(env)
    assert ("callback.reply_keyword" in check(plugin, sms(env.numbering, text))) is hit


@pytest.mark.parametrize(("text", "hit"), [
    ('SMS. ac sun0819 posts HELLO:"You seem cool" Stop? Send STOP to 62468', True),
    ("Today's gossip is on your phone now. 3 alerts/wk £1.50 each. STOP 86688", True),
    ("Unsub txt STOP 82810", True),
    ("FROM 88066 LOST £12 HELP", True),  # a code, then HELP in capitals
    ("Reply STOP to 54321 to opt out", False),  # a standard-rate code
    ("Reply STOP to opt out", False),  # no code
    ("we stop at 68 Park Road at 6", False),  # a house number, lower case
    ("the bus stop is 3 minutes away, code 61234 for the gate, help yourself", False),
    # a ZIP code, then HELP in the next sentence
    ("Delivered at 2:14 pm in AUSTIN, TX 78704. Reply HELP for help or STOP to cancel.", False),
])
def test_optout_to_premium_shortcodes(env: PluginEnv, text: str, hit: bool) -> None:
    """A STOP or HELP named for a premium short code is the opt-out of a subscription."""
    plugin = load_plugin_module("callback_numbers").create(env)
    hits = check(plugin, sms(env.numbering, text))
    assert ("callback.shortcode_optout" in hits) is hit
    assert "callback.shortcode_premium" not in hits  # an opt-out is no lure


def test_line_types_of_the_numbers_in_a_text(numbering: Numbering) -> None:
    """What kind of line each number written in a text is (the rules'
    ``text_number_type``): a mobile and a landline against freephone and non-geographic
    numbers, read as the home country writes them."""
    from gateway.content.facts import Facts
    from gateway.content.phones import line_type

    assert line_type("+447520633118") == "mobile"
    assert line_type("+441615550199") == "fixed_line"
    assert line_type("+448001234567") == "toll_free"
    assert line_type("+443457888444") == "uan"
    for text, kinds in (("call 07520 633118 to cancel", {"mobile"}),
                        ("call us on 03457 888 444 or 0800 123 4567", {"uan", "toll_free"}),
                        ("see you at 5", set()), (None, set())):
        assert Facts(sms(numbering, text)).line_types(numbering) == kinds, text


def test_an_unknown_line_type_names_the_rule(tmp_path) -> None:
    from gateway.engine.loader import RuleErrors, load_ruleset
    from gateway.lists.registry import load_lists
    from gateway.state.memory import MemoryCounters

    gb = Numbering("GB")
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "10-a.toml").write_text(
        '[[rule]]\nid = "a.one"\nwhen.text_number_type = ["mobile", "landline"]\nscore = 1\n')
    want = r"10-a.toml:3: a.one: text_number_type takes kinds of line \(fixed_line, .*'landline'"
    with pytest.raises(RuleErrors, match=want):
        load_ruleset(tmp_path / "rules", lists=load_lists(tmp_path / "nolists", gb),
                     state=MemoryCounters())


def test_has_number_is_a_number_to_act_on(tmp_path) -> None:
    """The rules' ``has_number``: a phone number, a short code to text or a service
    number the scan finds; a code, an amount, a date or a link is none of them."""
    from gateway.engine import Engine
    from gateway.engine.loader import load_ruleset
    from gateway.lists.registry import load_lists
    from gateway.model import Action
    from gateway.state.memory import MemoryCounters

    gb = Numbering("GB")
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "10-a.toml").write_text(
        '[[rule]]\nid = "a.number"\nwhen.has_number = true\naction = "BLOCK"\n\n'
        '[[rule]]\nid = "a.none"\nwhen.has_text = true\nwhen.has_number = false\n'
        'action = "WARN"\n')
    lists = load_lists(tmp_path / "nolists", gb)
    engine = Engine(load_ruleset(tmp_path / "rules", lists=lists, state=MemoryCounters()),
                    emergency=lists.emergency, numbering=gb)
    for text, want in (("Call us on 0161 555 0199 today", Action.BLOCK),
                       ("Text WIN to 87121 to claim", Action.BLOCK),
                       ("Call 118 118 for the number", Action.BLOCK),
                       ("Your code is 482913, valid 10 minutes", Action.WARN),
                       ("Paid £45.20 on 12/03, thanks", Action.WARN),
                       ("See https://example.com/x", Action.WARN),
                       (None, Action.ALLOW)):
        assert engine.evaluate(sms(gb, text)).action is want, text
