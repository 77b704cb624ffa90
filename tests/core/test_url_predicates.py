"""The link predicates: ``url_host_regex``, an operator regex (RE2) over the hosts of a
message's links as the content scanner reads them (de-obfuscated, lower case), errors
naming ``file:line: rule-id``; ``url_domain_not_in`` (some link is off the lists) and
``url_domain_all_in`` (links, all on the lists)."""

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


def _load(tmp_path: Path, text: str, brands: str = ""):  # type: ignore[no-untyped-def]
    d = tmp_path / "rules"
    d.mkdir(exist_ok=True)
    (d / "r.toml").write_text(textwrap.dedent(text))
    (tmp_path / "lists").mkdir(exist_ok=True)
    if brands:
        (tmp_path / "lists" / "brand_domains.txt").write_text(brands)
    lists = load_lists(tmp_path / "lists", GB)
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


BRAND_RULES = """
[[rule]]
id = "x.off_brand"
channel = "sms"
when.url_domain_not_in = "brand_domains"
score = 5

[[rule]]
id = "x.all_brand"
channel = "sms"
when.url_domain_all_in = "brand_domains"
score = 1
"""


def test_not_in_is_some_link_off_the_lists_and_all_in_is_every_link_on_them(
        tmp_path: Path) -> None:
    rs, lists, _ = _load(tmp_path, BRAND_RULES, brands="parcel.example\nbank.example\n")
    engine = Engine(rs, emergency=lists.emergency, numbering=GB)

    def rules(text: str) -> set[str]:
        ev = event_from_fields({"src": "+447700900001", "dst": "+447700900123", "text": text},
                               GB, ts=1_790_000_000.0)
        return set(engine.evaluate(ev).rules)

    assert rules("Track at https://www.parcel.example/t/1") == {"x.all_brand"}  # subdomain
    assert rules("Pay at parcel.example/p or bank.example/b") == {"x.all_brand"}
    assert rules("Pay at parcel.example/p or parcel-fee.example/p") == {"x.off_brand"}
    assert rules("Pay at parcel-fee.example") == {"x.off_brand"}
    assert rules("no link at all") == set()


def test_a_list_that_is_no_domain_list_is_refused_naming_its_place(tmp_path: Path) -> None:
    for name in ("url_domain_not_in", "url_domain_all_in"):
        with pytest.raises(RuleErrors) as e:
            _load(tmp_path, f"""
                [[rule]]
                id = "x.bad"
                channel = "sms"
                when.{name} = "no_such_list"
                score = 2
            """)
        assert "r.toml:5: x.bad: " in str(e.value), str(e.value)
