"""``text_also_regex``: a second pattern list the text must match as well. A rule with
``text_regex`` and ``text_also_regex`` holds when the text matches one pattern of each
("asks for a code" and "in a company's voice"); either list may name a ``[patterns]``
entry, and a bad pattern names ``file:line: rule-id``."""

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

RULES = """
[patterns]
voice = ['\\bagent\\b', '\\bwe sent\\b']

[[rule]]
id = "x.code_as_service"
channel = "sms"
when.text_regex = ['\\b(send|give|read)\\b.{0,20}\\bcode\\b']
when.text_also_regex = ["@voice"]
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


@pytest.mark.parametrize("prefilter", [True, False])
@pytest.mark.parametrize(("text", "action"), [
    ("please give the agent your code", Action.BLOCK),  # one of each list
    ("We sent you a text: read back the CODE", Action.BLOCK),  # the other pattern, any case
    ("can you send me the code Netflix sent?", Action.ALLOW),  # the first list alone
    ("our agent will call you, we sent a letter", Action.ALLOW),  # the second list alone
    ("", Action.ALLOW),
])
def test_the_text_must_match_both_lists(tmp_path: Path, text: str, action: Action,
                                        prefilter: bool) -> None:
    engine = _engine(tmp_path, RULES, prefilter)
    ev = event_from_fields({"src": "+447700900001", "dst": "+447700900123", "text": text}, GB)
    assert engine.evaluate(ev).action is action


def test_a_bad_pattern_names_the_file_line_and_rule(tmp_path: Path) -> None:
    with pytest.raises(RuleErrors) as e:
        _engine(tmp_path, """
            [[rule]]
            id = "x.bad"
            channel = "sms"
            when.text_regex = ['code']
            when.text_also_regex = ['(unclosed']
            action = "WARN"
            """)
    assert "r.toml:6: x.bad: bad regular expression" in str(e.value)


def test_an_unknown_pattern_name_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(RuleErrors) as e:
        _engine(tmp_path, """
            [[rule]]
            id = "x.unknown"
            channel = "sms"
            when.text_regex = ['code']
            when.text_also_regex = ["@nowhere"]
            action = "WARN"
            """)
    assert "r.toml:6: x.unknown" in str(e.value)
    assert "nowhere" in str(e.value)
