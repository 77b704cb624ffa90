"""The verdicts the locust users expect are the ones the shipped rules give: every
scenario's traffic goes through the real engine (no sockets) and must get what
the users will check for."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from users.scenarios import (
    AGI_SCENARIOS,
    DEFAULT_MIX,
    FORWARDED,
    HTTP_SCENARIOS,
    REJECTED,
    SMPP_SCENARIOS,
    BulkCampaign,
    Mix,
    MixError,
    Sms,
    WangiriCampaign,
    next_call,
    next_check,
    next_sms,
    parse_mix,
)

from gateway.app import Core, build_core
from gateway.config import parse_config
from gateway.engine.examples import event_from_fields
from gateway.model import Action

ROOT = Path(__file__).resolve().parents[2]
STATELESS_SMS = [s for s in SMPP_SCENARIOS if s not in ("bulk", "notice")]


@pytest.fixture()
def core() -> Core:
    return build_core(parse_config({"rules": {"dir": str(ROOT / "rules")},
                                    "lists": {"dir": str(ROOT / "rules" / "lists")},
                                    "plugins": {"dir": str(ROOT / "plugins")}}))


def _sms_status(core: Core, sms: Sms, ts: float) -> int:
    fields = {"src": sms.src, "src_ton": sms.src_ton, "dst": sms.dst, "dst_ton": 1,
              "text": sms.text}
    verdict = core.engine.evaluate(event_from_fields(fields, core.numbering, ts=ts))
    return REJECTED if verdict.action is Action.BLOCK else FORWARDED


def test_default_mix_names_every_scenario() -> None:
    weights = parse_mix(DEFAULT_MIX)
    assert set(weights) == set(SMPP_SCENARIOS) | set(AGI_SCENARIOS)
    assert set(HTTP_SCENARIOS) <= set(weights)


@pytest.mark.parametrize("bad", ["clean=x", "nosuch=1", "clean=-1"])
def test_bad_mix_is_refused(bad: str) -> None:
    with pytest.raises(MixError):
        parse_mix(bad)


def test_mix_keeps_only_its_protocol() -> None:
    mix = Mix(parse_mix("clean=1,wangiri=3"), SMPP_SCENARIOS, random.Random(1))
    assert mix.names == ["clean"] and {mix.pick() for _ in range(20)} == {"clean"}
    assert not Mix(parse_mix("wangiri=1"), SMPP_SCENARIOS, random.Random(1))


@pytest.mark.parametrize("scenario", STATELESS_SMS)
def test_sms_scenarios_get_the_expected_status(core: Core, scenario: str) -> None:
    rnd = random.Random(scenario)
    for i in range(1500):  # many of each, quickly: the bulk counters must stay quiet
        sms = next_sms(scenario, rnd)
        assert _sms_status(core, sms, 1_800_000_000 + i * 0.01) in sms.expect, sms


def test_bulk_campaign_is_forwarded_then_rejected(core: Core) -> None:
    for n, pace in enumerate((0.01, 2.0, 30.0)):  # fast, slower, slow (under the window)
        now = [1_800_000_000.0 + n * 86_400]  # a day apart: each campaign starts fresh
        campaign = BulkCampaign(random.Random(pace), clock=lambda now=now: now[0])
        statuses = []
        while not campaign.done:
            sms = campaign.next()
            status = _sms_status(core, sms, now[0])
            now[0] += pace
            assert status in sms.expect, (pace, campaign.k, status)
            statuses.append(status)
        assert statuses[0] == FORWARDED
        assert statuses[-1] == (REJECTED if pace < 3 else FORWARDED)


def test_a_legitimate_template_to_many_recipients_is_never_blocked(core: Core) -> None:
    """Volume alone is not spam: an A2P notice to 120 recipients at 100 a second."""
    now = 1_800_000_000.0
    campaign = BulkCampaign(random.Random(7), clock=lambda: now, spam=False)
    while not campaign.done:
        sms = campaign.next()
        assert _sms_status(core, sms, now) == FORWARDED, campaign.k
        now += 0.01


@pytest.mark.parametrize("scenario", ["call_clean", "call_blocked", "call_premium"])
def test_call_scenarios_get_the_expected_action(core: Core, scenario: str) -> None:
    rnd = random.Random(scenario)
    for i in range(200):
        c = next_call(scenario, rnd)
        fields = {"src": c.src, "dst": c.dst, "route": c.trunk,
                  "direction": "in" if c.path == "inbound" else "out"}
        ev = event_from_fields(fields, core.numbering, channel="call", ts=1_800_000_000 + i)
        assert core.engine.evaluate(ev).action.value in c.expect, c


def test_wangiri_campaign_gets_flagged(core: Core) -> None:
    if core.engine.ruleset.rule("wangiri.callback") is None:
        pytest.skip("the Wangiri rules (rules/calls.toml) are not on this branch yet")
    ts = 1_800_000_000.0
    for c in WangiriCampaign(random.Random(5)).calls():
        direction = "in" if c.path == "inbound" else "out"
        base = {"src": c.src, "dst": c.dst, "route": c.trunk, "direction": direction}
        ev = event_from_fields(base, core.numbering, channel="call", ts=ts)
        assert core.engine.evaluate(ev).action.value in c.expect, c
        ended = {**base, "phase": "ended", "duration": c.duration, "billsec": c.billsec,
                 "dialstatus": c.dialstatus}
        core.engine.evaluate(event_from_fields(ended, core.numbering, channel="call",
                                               ts=ts + c.duration))
        ts += 10


@pytest.mark.parametrize("scenario", HTTP_SCENARIOS)
def test_http_checks_expect_the_engines_action(core: Core, scenario: str) -> None:
    rnd = random.Random(scenario)
    for i in range(100):
        c = next_check(scenario, rnd)
        channel = "call" if c.path.endswith("/call") else "sms"
        ev = event_from_fields(dict(c.body), core.numbering, channel=channel,
                               direction=c.body.get("direction", "in" if channel == "sms"
                                                    else "out"), ts=1_800_000_000 + i)
        assert core.engine.evaluate(ev).action.value in c.expect, c
