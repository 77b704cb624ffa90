"""The engine on the shipped rules: verdicts, allowlists, protection, fail-open."""

import textwrap
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.app import build_core
from gateway.config import Config, GatewayConfig, ListsConfig, RulesConfig
from gateway.engine.examples import event_from_fields
from gateway.engine.schema import RuleErrors
from gateway.model import Action, Channel, Direction, Event, Phase

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def core():
    cfg = Config(rules=RulesConfig(str(ROOT / "rules")),
                 lists=ListsConfig(str(ROOT / "rules" / "lists")))
    from gateway.config import PluginsConfig

    cfg = replace(cfg, plugins=PluginsConfig(dir=str(ROOT / "no-plugins"),
                                             missing_symbols="disable"))
    return build_core(cfg)


def ev(core, channel="call", direction="out", **fields):
    return event_from_fields(fields, core.numbering, channel=channel, direction=direction)


def test_premium_call_blocked_or_warned(core):
    v = core.engine.evaluate(ev(core, src="+447700900123", dst="+449098790000"))
    assert v.action in (Action.WARN, Action.BLOCK)
    assert "premium.call_out_national" in v.rules
    v = core.engine.evaluate(ev(core, src="+447700900123", dst="+882123456789"))
    # +882 is also on the high-risk destination list (irsf.high_risk_destination)
    assert v.action is Action.BLOCK and v.rules[0] == "premium.call_out"


def test_mobile_call_allowed(core):
    v = core.engine.evaluate(ev(core, src="+447700900123", dst="+447700900456"))
    assert v.action is Action.ALLOW and v.rules == ()


def test_blocked_number_blocked_and_allowlist_wins(core):
    v = core.engine.evaluate(ev(core, direction="in", src="+447700900666", dst="+4477009004"))
    assert v.action is Action.BLOCK
    v = core.engine.evaluate(ev(core, src="+447700900100", dst="+882123456789"))
    assert v.action is Action.ALLOW and v.rules == ("allow.numbers_call",)


@pytest.mark.parametrize("dst", ["112", "999", "911", "+44999", "+44112"])
@pytest.mark.parametrize("channel", ["call", "sms"])
def test_emergency_never_blocked_whatever_the_rules(core, dst, channel):
    # a blocked source, calling or texting an emergency number
    v = core.engine.evaluate(ev(core, channel=channel, direction="out",
                                src="+447700900666", dst=dst, text="help"))
    assert v.action is Action.ALLOW
    assert v.rules == ("protected_destination",)


def test_emergency_protected_even_with_a_rule_that_blocks_everything(tmp_path):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "all.toml").write_text(textwrap.dedent("""
        [[rule]]
        id = "block.everything"
        channel = "any"
        direction = "any"
        action = "BLOCK"
    """))
    core = build_core(Config(rules=RulesConfig(str(rules)),
                             lists=ListsConfig(str(tmp_path / "none"))))
    n = core.numbering
    for dst in ("112", "999", "+44999"):
        e = Event(Channel.CALL, Direction.OUT, n.parse("+447700900123"), n.parse(dst))
        assert core.engine.evaluate(e).action is Action.ALLOW
    e = Event(Channel.CALL, Direction.OUT, n.parse("+447700900123"), n.parse("+447700900124"))
    assert core.engine.evaluate(e).action is Action.BLOCK


def test_protected_numbers_from_config(tmp_path):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "all.toml").write_text('[[rule]]\nid = "b"\naction = "BLOCK"\n')
    cfg = Config(gateway=GatewayConfig(protected_numbers=("+447700900999", "+44800*")),
                 rules=RulesConfig(str(rules)), lists=ListsConfig(str(tmp_path / "none")))
    core = build_core(cfg)
    n = core.numbering
    for dst, action in (("+447700900999", "ALLOW"), ("+448001111111", "ALLOW"),
                        ("+447700900998", "BLOCK")):
        e = Event(Channel.SMS, Direction.IN, n.parse("+447700900123"), n.parse(dst))
        assert core.engine.evaluate(e).action.value == action, dst


def test_scores_add_up_to_thresholds(core):
    # shortener (3) + lure keywords with shortener (5) = 8: WARN, not BLOCK
    v = core.engine.evaluate(ev(core, channel="sms", direction="in", src="+447700900400",
                                dst="+447700900123", text="URGENT verify http://bit.ly/q"))
    assert v.action is Action.WARN and v.score == pytest.approx(8.0)
    assert set(v.rules) == {"phish.shortener", "phish.lure_and_shortener"}


def test_counters_fire_on_the_event_over_the_threshold(tmp_path):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "r.toml").write_text(textwrap.dedent("""
        [[rule]]
        id = "fanout"
        channel = "sms"
        direction = "in"
        when.distinct = { key = "src", of = "dst", window = 60, over = 3 }
        action = "BLOCK"
    """))
    core = build_core(Config(rules=RulesConfig(str(rules)),
                             lists=ListsConfig(str(tmp_path / "none"))))
    n = core.numbering
    actions = []
    for i in range(6):
        e = Event(Channel.SMS, Direction.IN, n.parse("+447700900123"),
                  n.parse(f"+44770090050{i}"), text="x", ts=1000.0 + i)
        actions.append(core.engine.evaluate(e).action.value)
    assert actions == ["ALLOW"] * 3 + ["BLOCK"] * 3
    # the window slides: a minute later the source is clean again
    e = Event(Channel.SMS, Direction.IN, n.parse("+447700900123"), n.parse("+447700900599"),
              text="x", ts=1000.0 + 200)
    assert core.engine.evaluate(e).action is Action.ALLOW


def test_flag_side_effect_feeds_a_dynamic_list(tmp_path):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "r.toml").write_text(textwrap.dedent("""
        [[rule]]
        id = "learn"
        channel = "call"
        direction = "in"
        phase = "ended"
        when.ring_under = 6
        when.answered = false
        flag = { list = "short_ringers", key = "src", ttl = 100 }

        [[rule]]
        id = "callback"
        channel = "call"
        direction = "out"
        when.dst_in = "short_ringers"
        action = "WARN"
    """))
    core = build_core(Config(rules=RulesConfig(str(rules)),
                             lists=ListsConfig(str(tmp_path / "none"))))
    n = core.numbering
    caller, sub = n.parse("+2250700000001"), n.parse("+447700900123")
    ended = Event(Channel.CALL, Direction.IN, caller, sub, phase=Phase.ENDED, ts=10.0,
                  duration=4.0, billsec=0.0, dialstatus="CANCEL")
    core.engine.evaluate(ended)
    back = Event(Channel.CALL, Direction.OUT, sub, caller, ts=20.0)
    assert core.engine.evaluate(back).action is Action.WARN
    later = Event(Channel.CALL, Direction.OUT, sub, caller, ts=200.0)  # ttl passed
    assert core.engine.evaluate(later).action is Action.ALLOW


class Boom:
    name = "boom"
    channels = frozenset({"sms"})
    symbols = ()

    def check(self, event):
        raise RuntimeError("plugin bug")


def test_fail_open_and_fail_closed(tmp_path, core):
    e = ev(core, channel="sms", direction="in", src="+447700900123", dst="+447700900124",
           text="hi")
    broken = replace(core.engine.ruleset, index=None)  # any evaluation error
    old = core.engine.swap(broken)
    try:
        before = core.engine.errors
        v = core.engine.evaluate(e)
        assert v.action is Action.ALLOW and v.failed_open and core.engine.errors == before + 1
        core.engine.fail_closed = True
        assert core.engine.evaluate(e).action is Action.BLOCK
        # even failing closed, emergency destinations pass
        e112 = ev(core, channel="call", src="+447700900123", dst="112")
        assert core.engine.evaluate(e112).action is Action.ALLOW
    finally:
        core.engine.fail_closed = False
        core.engine.swap(old)


def test_a_broken_plugin_is_skipped_and_counted(core):
    rs = replace(core.engine.ruleset, plugins=(Boom(),))
    old = core.engine.swap(rs)
    try:
        before = core.engine.plugin_errors
        e = ev(core, channel="sms", direction="in", src="HMRC", dst="+447700900123", text="x")
        assert core.engine.evaluate(e).action is Action.BLOCK  # the rules still ran
        assert core.engine.plugin_errors == before + 1
    finally:
        core.engine.swap(old)


def test_bad_ruleset_never_replaces_a_good_one(rules_copy, core):
    cfg = replace(core.config, rules=RulesConfig(str(rules_copy)))
    c2 = build_core(cfg)
    version = c2.engine.ruleset.version
    f = rules_copy / "20-lists.toml"
    f.write_text(f.read_text().replace('action = "BLOCK"', 'action = "NUKE"', 1))
    with pytest.raises(RuleErrors) as e:
        c2.reload_rules()
    assert "20-lists.toml:" in str(e.value) and "list.blocked_source" in str(e.value)
    assert c2.engine.ruleset.version == version


# ASCII and other digits, final and other sigmas, dotted and dotless i, a combining accent
_FP_CHARS = list("0123456789\u0663\u00b9 aA\u03a3\u03c3\u03c2\u0130\u0131\u00e9\u0301.\t\n#xyz")


@given(st.text(alphabet=st.sampled_from(_FP_CHARS), max_size=40),
       st.text(alphabet=st.sampled_from(list("0123456789")), min_size=1, max_size=1))
@settings(max_examples=400, deadline=None)
def test_fingerprint_memo_keyed_by_text_key_gives_the_fingerprint(text, digit):
    """Facts.fingerprint memoises by text_key: texts with one key share a fingerprint."""
    from gateway.engine.compiler import Facts
    from gateway.engine.text import fingerprint
    from gateway.numbers import Numbering

    n = Numbering("GB")
    other = "".join(digit if c in "0123456789" else c for c in text)  # same text_key
    for t in (text, other, text):
        ev = Event(channel=Channel.SMS, direction=Direction.IN, src=n.parse("7726"),
                   dst=n.parse("7726"), text=t)
        assert Facts(ev).fingerprint() == fingerprint(t)


def test_the_predicate_table_is_what_rules_may_name(tmp_path):
    """One row of gateway.engine.predicates.PREDICATES makes a predicate: the schema
    knows its name, its kind is checked (bool ones take true or false) and its
    compile function reports mistakes as file:line: rule-id: message."""
    from gateway.engine.loader import load_ruleset
    from gateway.engine.predicates import PREDICATES
    from gateway.engine.schema import parse_rule_file
    from gateway.lists.registry import load_lists
    from gateway.numbers import Numbering
    from gateway.state.memory import MemoryCounters

    names = sorted(PREDICATES)
    path = tmp_path / "all.toml"
    path.write_text("".join(f'[[rule]]\nid = "r.{n}"\nwhen.{n} = "yes"\nscore = 1\n'
                            for n in [*names, "no_such_predicate"]))
    _, errors = parse_rule_file(path)
    assert [str(e) for e in errors] == [
        f"{path}:{4 * len(names) + 3}: r.no_such_predicate: unknown predicate "
        "'no_such_predicate'"]
    path.write_text("".join(f'[[rule]]\nid = "r.{n}"\nwhen.{n} = "yes"\nscore = 1\n'
                            for n in names))
    lists = load_lists(ROOT / "rules" / "lists", Numbering("GB"))
    with pytest.raises(RuleErrors) as e:
        load_ruleset(tmp_path, lists=lists, state=MemoryCounters())
    said = {err.rule_id: (err.line, err.message) for err in e.value.errors}
    for n in names:
        if PREDICATES[n].kind == "bool":
            line = 4 * names.index(n) + 3
            assert said[f"r.{n}"] == (line, f"{n} takes true or false, got 'yes'")
