"""The call predicates of the rule language: trunk class, local time, price, HOME."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from gateway.engine import Engine
from gateway.engine.call_predicates import home_group, home_timezone
from gateway.engine.loader import load_ruleset
from gateway.engine.schema import RuleErrors
from gateway.lists.registry import load_lists
from gateway.model import Action, Channel, Direction, Event
from gateway.numbers import Numbering
from gateway.state.memory import MemoryCounters

N = Numbering("GB")
MONDAY_1513 = 1_790_000_000.0  # Monday 21 Sep 2026, 15:13 in London (BST)


def engine(tmp_path: Path, when: str) -> Engine:
    rules = tmp_path / "rules"
    (rules / "lists").mkdir(parents=True, exist_ok=True)
    (rules / "lists" / "rates.txt").write_text(
        "* 0.30\n+44 0.02\n+252 1.80 high 2026-11-25 ITU-T E.164 CC 252\n")
    (rules / "r.toml").write_text(f'[[rule]]\nid = "t.rule"\nchannel = "call"\n{when}\n'
                                  'action = "BLOCK"\n')
    lists = load_lists(rules / "lists", N)
    rs = load_ruleset(rules, lists=lists, state=MemoryCounters())
    return Engine(rs, emergency=lists.emergency, numbering=N)


def call(src: str = "+33612345678", dst: str = "+447700900123", ts: float = MONDAY_1513,
         trunk_class: str | None = None, direction: Direction = Direction.IN) -> Event:
    details = {"trunk_class": trunk_class} if trunk_class else {}
    return Event(Channel.CALL, direction, N.from_caller_id(src), N.from_caller_id(dst),
                 ts=ts, details=details)


def test_trunk_class(tmp_path: Path) -> None:
    e = engine(tmp_path, 'when.trunk_class = ["international", "pbx"]')
    assert e.evaluate(call(trunk_class="international")).action is Action.BLOCK
    assert e.evaluate(call(trunk_class="roaming_partner")).action is Action.ALLOW
    assert e.evaluate(call()).action is Action.ALLOW  # no class: "unknown"
    e = engine(tmp_path, 'when.trunk_class_not = "roaming_partner"')
    assert e.evaluate(call()).action is Action.BLOCK


def test_local_hours_wrap_midnight_in_the_home_time_zone(tmp_path: Path) -> None:
    e = engine(tmp_path, "when.local_hours = [22, 7]")
    assert e.evaluate(call()).action is Action.ALLOW  # 15:13
    assert e.evaluate(call(ts=MONDAY_1513 + 8 * 3600)).action is Action.BLOCK  # 23:13
    assert e.evaluate(call(ts=MONDAY_1513 + 15 * 3600)).action is Action.BLOCK  # 06:13
    assert e.evaluate(call(ts=MONDAY_1513 + 16 * 3600)).action is Action.ALLOW  # 07:13
    # 21:30 UTC is 22:30 in London in September (BST): night already
    assert e.evaluate(call(ts=MONDAY_1513 + 7 * 3600 + 17 * 60)).action \
        is Action.BLOCK
    assert str(home_timezone("GB")) == "Europe/London"


def test_weekday(tmp_path: Path) -> None:
    e = engine(tmp_path, 'when.weekday = ["sat", "sun"]')
    assert e.evaluate(call()).action is Action.ALLOW
    assert e.evaluate(call(ts=MONDAY_1513 + 5 * 86400)).action is Action.BLOCK
    assert e.evaluate(call(ts=MONDAY_1513 + 6 * 86400)).action is Action.BLOCK
    assert e.evaluate(call(ts=MONDAY_1513 + 7 * 86400)).action is Action.ALLOW


def test_destination_price_and_risk(tmp_path: Path) -> None:
    e = engine(tmp_path, "when.dst_price_min = 1.0")
    out = Direction.OUT
    assert e.evaluate(call("+447700900123", "+252612345678", direction=out)).action \
        is Action.BLOCK
    assert e.evaluate(call("+447700900123", "+33612345678", direction=out)).action \
        is Action.ALLOW
    e = engine(tmp_path, 'when.dst_risk = "high"')
    assert e.evaluate(call("+447700900123", "+252612345678", direction=out)).action \
        is Action.BLOCK


def test_home_is_the_calling_code_group(tmp_path: Path) -> None:
    assert home_group("GB") == {"GB", "GG", "IM", "JE"}
    assert home_group("US") == {"US"}  # +1 is many countries: Jamaica is not home
    e = engine(tmp_path, 'when.src_country = "HOME"')
    jersey = call("+447797712345")
    jersey = dataclasses.replace(jersey, src=dataclasses.replace(jersey.src, region="JE"))
    assert e.evaluate(jersey).action is Action.BLOCK
    assert e.evaluate(call("+33612345678")).action is Action.ALLOW


@pytest.mark.parametrize(("when", "message"), [
    ('when.trunk_class = "intl"', "trunk_class takes trunk classes"),
    ("when.local_hours = [7]", "local_hours takes [FROM, TO]"),
    ("when.local_hours = [7, 25]", "local_hours takes [FROM, TO]"),
    ('when.weekday = ["someday"]', "weekday takes day names"),
    ('when.dst_price_min = "1"', "dst_price_min takes a price per minute"),
    ('when.dst_risk = "low"', 'dst_risk takes "high"'),
])
def test_mistakes_name_the_rule(tmp_path: Path, when: str, message: str) -> None:
    with pytest.raises(RuleErrors) as e:
        engine(tmp_path, when)
    assert "r.toml:4: t.rule: " in str(e.value) and message in str(e.value)
