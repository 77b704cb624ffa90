"""The shipped A2P policy (rules/10-allow.toml, 40-spoofing.toml, 50-bulk.toml,
55-pumping.toml, lists/registered_senders.txt), on the rules alone: allowlists and
the sender registry are trust, never a pass through spoofing and pumping checks."""

from dataclasses import replace
from pathlib import Path

import pytest

from gateway.app import build_core
from gateway.config import Config, ListsConfig, PluginsConfig, RulesConfig
from gateway.engine.examples import event_from_fields
from gateway.model import Action
from gateway.state.memory import MemoryCounters

ROOT = Path(__file__).resolve().parents[2]
T0 = 1_790_000_000.0


@pytest.fixture
def core():
    cfg = Config(rules=RulesConfig(str(ROOT / "rules")),
                 lists=ListsConfig(str(ROOT / "rules" / "lists")))
    cfg = replace(cfg, plugins=PluginsConfig(dir=str(ROOT / "no-plugins"),
                                             missing_symbols="disable"))
    return build_core(cfg, state=MemoryCounters())


def send(core, n, **fields):
    """``n`` messages, one a second; the verdicts."""
    out = []
    for i in range(n):
        f = {k: (v(i) if callable(v) else v) for k, v in fields.items()}
        out.append(core.engine.evaluate(event_from_fields(f, core.numbering, ts=T0 + i)))
    return out


def first_block(verdicts):
    return next((i for i, v in enumerate(verdicts, 1) if v.action is Action.BLOCK), None)


def test_registered_sender_trusted_for_volume_on_its_route(core):
    vs = send(core, 300, src="ParcelNow", route="agg-uk", text=lambda i: (
        f"ParcelNow: your parcel {i:06d} arrives today 10:00-12:00. Track: "
        f"https://parcelnow.example/t/{i:06d}"), dst=lambda i: f"+4477{(i * 7919) % 10**8:08d}")
    assert all(v.action is Action.ALLOW for v in vs)
    assert not any(r.startswith("bulk.") for v in vs for r in v.rules)


def test_registered_sender_id_on_a_foreign_route_blocks_at_once(core):
    (v,) = send(core, 1, src="ExampleBank", route="grey-intl", dst="+447700900123",
                text="Your one-time code is 556677")
    assert v.action is Action.BLOCK and "spoof.registered_sender_off_route" in v.rules


@pytest.mark.parametrize(("src", "route"), [("MyBank", "shop-otp"),          # allowlisted
                                            ("+447700900500", "otp-hub-2"),  # registered
                                            ("+447700900100", "shop-otp"),   # allowed number
                                            ("ShopCo", "shop-otp")])         # nobody
def test_pumping_a_range_blocks_within_20_whoever_sends(core, src, route):
    vs = send(core, 20, src=src, route=route, text="Your verification code is 482913",
              dst=lambda i: f"+4477009610{i:02d}")
    assert (first_block(vs) or 99) <= 20, [v.rules for v in vs]


def test_pumping_a_high_risk_country_blocks_within_20_unless_registered_for_it(core):
    vs = send(core, 20, src="MyBank", route="shop-otp", text="Your code is 482913",
              dst=lambda i: f"+22462{(i * 104729) % 10**7:07d}")
    assert (first_block(vs) or 99) <= 20
    vs = send(core, 20, src="ExampleBank", route="bank-direct", text="Your code is 482913",
              dst=lambda i: f"+99890{(i * 104729) % 10**7:07d}")  # registered for GB only
    assert (first_block(vs) or 99) <= 20
