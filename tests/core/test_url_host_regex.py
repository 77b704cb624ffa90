"""``url_host_regex``: an operator regex (RE2) over the hosts of a message's links, as
the content scanner reads them (de-obfuscated, lower case); errors name
``file:line: rule-id``."""

import textwrap
import tomllib
from pathlib import Path

import pytest

from gateway.content.regex import compile_operator_regex
from gateway.engine import Engine
from gateway.engine.examples import event_from_fields
from gateway.engine.loader import load_ruleset
from gateway.engine.schema import RuleErrors
from gateway.lists.registry import load_lists
from gateway.model import Action
from gateway.numbers import Numbering
from gateway.state.memory import MemoryCounters

GB = Numbering("GB")
ROOT = Path(__file__).resolve().parents[2]
RULE = """
[[rule]]
id = "x.service_host"
channel = "sms"
when.url_host_regex = ['-(pay|verify)\\.', '\\.com-']
action = "BLOCK"
"""


def _load(tmp_path: Path, text: str):  # type: ignore[no-untyped-def]
    d = tmp_path / "rules"
    d.mkdir(exist_ok=True)
    (d / "r.toml").write_text(textwrap.dedent(text))
    lists = load_lists(tmp_path / "nolists", GB)
    return load_ruleset(d, lists=lists, state=MemoryCounters()), lists, d / "r.toml"


def _action(engine: Engine, text: str) -> Action:
    ev = event_from_fields({"src": "+447700900001", "dst": "+447700900123", "text": text}, GB,
                           ts=1_790_000_000.0)
    return engine.evaluate(ev).action


def test_matches_the_hosts_of_links_in_any_form_the_scanner_reads(tmp_path: Path) -> None:
    rs, lists, _ = _load(tmp_path, RULE)
    engine = Engine(rs, emergency=lists.emergency, numbering=GB)
    for text in ("Settle it at https://parcel-pay.example/x",
                 "Settle it at hxxps://parcel-pay[.]example/x",
                 "Settle it at PARCEL-PAY.EXAMPLE",
                 "Track it: usps.com-trackhelp.example/us"):
        assert _action(engine, text) is Action.BLOCK, text
    for text in ("Pay at https://parcel.example/pay-a-fee",  # the hyphen is in the path
                 "I will pay-verify. it later",                # no link at all
                 "see you at 5"):
        assert _action(engine, text) is Action.ALLOW, text


def test_a_bad_or_backtracking_pattern_names_its_place(tmp_path: Path) -> None:
    for pattern, why in (("([unclosed", "bad regular expression"),
                         ("(?<!my)-pay", "RE2 cannot compile it")):
        with pytest.raises(RuleErrors) as e:
            _load(tmp_path, f"""
                [[rule]]
                id = "x.bad"
                channel = "sms"
                when.url_host_regex = '{pattern}'
                score = 2
            """)
        msg = str(e.value)
        assert "r.toml:5: x.bad: " in msg and why in msg, msg


def test_every_shipped_host_pattern_runs_on_re2() -> None:
    found = 0
    for f in sorted((ROOT / "rules").glob("*.toml")):
        for rule in tomllib.loads(f.read_text(encoding="utf-8")).get("rule", []):
            rx = rule.get("when", {}).get("url_host_regex")
            if rx:
                found += 1
                assert compile_operator_regex([rx] if isinstance(rx, str) else rx).engine == "re2"
    assert found >= 2
