"""``text_not_regex``: an exception to a rule's other conditions. The rule fires when they
hold and the text matches none of its patterns; it is an RE2 pattern list like
``text_regex`` (a bad one names ``file:line: rule-id``), and it runs after the cheaper
conditions (its cost sorts it last). ``text_also_regex``: a second pattern list the
text must match as well ("asks for a code" and "in a company's voice"); either list
may name a ``[patterns]`` entry."""

import textwrap
from pathlib import Path

import pytest

from gateway.engine import Engine
from gateway.engine.examples import event_from_fields
from gateway.engine.loader import load_ruleset
from gateway.engine.schema import RuleErrors
from gateway.lists.registry import load_lists
from gateway.model import Action
from gateway.numbers import Numbering
from gateway.state.memory import MemoryCounters

GB = Numbering("GB")

RULE = """
[[rule]]
id = "x.code"
channel = "sms"
when.text_keywords = ["code"]
when.text_regex = ['\\bsend me the code\\b']
when.text_not_regex = ['\\b(gate|door) code\\b', 'never mind']
action = "BLOCK"
"""


def _engine(tmp_path: Path, text: str, prefilter: bool = True) -> Engine:
    d = tmp_path / "rules"
    d.mkdir(exist_ok=True)
    (d / "r.toml").write_text(textwrap.dedent(text))
    (tmp_path / "lists").mkdir(exist_ok=True)
    lists = load_lists(tmp_path / "lists", GB)
    rs = load_ruleset(d, lists=lists, state=MemoryCounters(), prefilter=prefilter)
    return Engine(rs, emergency=lists.emergency, numbering=GB)


@pytest.mark.parametrize(("text", "action"), [
    ("please send me the code you got", Action.BLOCK),
    ("send me the code for the gate code box", Action.ALLOW),  # an exception matches
    ("Send me the code. Never mind, found it", Action.ALLOW),  # case-insensitive, any pattern
    ("send me the code, the door-code is stuck", Action.BLOCK),  # "door-code" is not "door code"
    ("what's the code", Action.ALLOW),  # the rule's own pattern does not match
])
def test_an_exception_pattern_stops_the_rule(tmp_path: Path, text: str, action: Action) -> None:
    engine = _engine(tmp_path, RULE)
    ev = event_from_fields({"src": "+447700900001", "dst": "+447700900123", "text": text}, GB)
    assert engine.evaluate(ev).action is action


def test_alone_it_matches_every_text_but_the_excepted(tmp_path: Path) -> None:
    engine = _engine(tmp_path, """
        [[rule]]
        id = "x.not"
        channel = "sms"
        when.text_not_regex = ['hello']
        action = "WARN"
        """)

    def verdict(text: str | None) -> Action:
        fields = {"src": "+447700900001", "dst": "+447700900123"}
        if text is not None:
            fields["text"] = text
        return engine.evaluate(event_from_fields(fields, GB)).action

    assert verdict("goodbye") is Action.WARN
    assert verdict("HELLO there") is Action.ALLOW
    assert verdict(None) is Action.WARN  # no text matches no exception


@pytest.mark.parametrize("key", ["text_not_regex", "text_also_regex"])
def test_a_bad_pattern_names_the_file_line_and_rule(tmp_path: Path, key: str) -> None:
    with pytest.raises(RuleErrors) as e:
        _engine(tmp_path, f"""
            [[rule]]
            id = "x.bad"
            channel = "sms"
            when.text_keywords = ["a"]
            when.{key} = ['(unclosed', "@nowhere"]
            action = "WARN"
            """)
    msg = str(e.value)
    assert "r.toml:6: x.bad: bad regular expression" in msg  # the line of the key
    assert "r.toml:6: x.bad" in msg and "nowhere" in msg  # an unknown pattern name


ALSO = """
[patterns]
voice = ['\\bagent\\b', '\\bwe sent\\b']

[[rule]]
id = "x.code_as_service"
channel = "sms"
when.text_regex = ['\\b(send|give|read)\\b.{0,20}\\bcode\\b']
when.text_also_regex = ["@voice"]
action = "BLOCK"
"""


@pytest.mark.parametrize("prefilter", [True, False])
@pytest.mark.parametrize(("text", "action"), [
    ("please give the agent your code", Action.BLOCK),  # one of each list
    ("We sent you a text: read back the CODE", Action.BLOCK),  # the other pattern, any case
    ("can you send me the code Netflix sent?", Action.ALLOW),  # the first list alone
    ("our agent will call you, we sent a letter", Action.ALLOW),  # the second list alone
    ("", Action.ALLOW),
])
def test_also_the_text_must_match_both_lists(tmp_path: Path, text: str, action: Action,
                                             prefilter: bool) -> None:
    engine = _engine(tmp_path, ALSO, prefilter)
    ev = event_from_fields({"src": "+447700900001", "dst": "+447700900123", "text": text}, GB)
    assert engine.evaluate(ev).action is action
