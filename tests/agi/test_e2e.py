"""End to end: the real decision core with the shipped rules and lists, the FastAGI
server on a real socket, and a client that writes Asterisk 22.10.1's environment
block byte for byte (see agi_support.environment_for) and answers like res_agi.c.

Time is the screener's injected clock (events carry it; the counters and the
daily spend buckets use it), so a day passes without sleeping."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from agi_support import REPO, asterisk_session, environment_for

from gateway.agi.server import AgiServer, make_screener
from gateway.app import Core, build_core
from gateway.config import parse_config
from gateway.model import Action, Channel, Direction, Event

T0 = 1_790_000_000.0  # a fixed start: 2026-09-21 12:53 UTC


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def core() -> Core:
    config = parse_config({
        "rules": {"dir": str(REPO / "rules")},
        "lists": {"dir": str(REPO / "rules" / "lists")},
        "plugins": {"dir": str(REPO / "plugins")},
        "agi": {"trunks": [
            {"name": "trunk-intl", "class": "international"},
            {"name": "trunk-national", "class": "national"},
            {"name": "roam-partner", "class": "roaming_partner"},
            {"name": "subscribers", "class": "subscribers"},
            {"name": "pbx-acme", "class": "pbx", "daily_cap": 80.0},
        ]},
    })
    return build_core(config)


class Gateway:
    """One FastAGI server on the real core, and helpers to place calls on it."""

    def __init__(self, server: AgiServer, clock: Clock, core: Core) -> None:
        self.server = server
        self.clock = clock
        self.core = core
        self.uid = 0

    async def call(self, path: str, src: str, dst: str, trunk: str = "") -> dict[str, str]:
        self.uid += 1
        args = (trunk,) if trunk else ()
        env = environment_for(path, src, dst, *args, uniqueid=f"1790000000.{self.uid}")
        return (await asterisk_session(self.server.port, env)).variables

    async def ended(self, dialstatus: str, duration: int, billsec: int) -> None:
        """The hangup handler of the last call placed."""
        env = environment_for("ended", "ignored", "s", dialstatus, str(duration), str(billsec),
                              uniqueid=f"1790000000.{self.uid}")
        result = await asterisk_session(self.server.port, env)
        assert result.commands == [] and result.closed


def run(body: Callable[[Gateway], Awaitable[None]]) -> AgiServer:
    clock = Clock()
    c = core()

    async def main() -> AgiServer:
        screener = make_screener(c, clock=clock)
        server = AgiServer(screener)
        await server.start("127.0.0.1", 0)
        try:
            async with asyncio.timeout(60):
                await body(Gateway(server, clock, c))
        finally:
            await server.close()
        return server

    return asyncio.run(main())


def test_premium_and_itu_special_destinations() -> None:
    async def body(gw: Gateway) -> None:
        v = await gw.call("outbound", "+447700900123", "00882123456789", "subscribers")
        assert v["SPAMGW_ACTION"] == "BLOCK" and "premium.call_out" in v["SPAMGW_RULES"]
        v = await gw.call("outbound", "+447700900123", "+979123456789")
        assert v["SPAMGW_ACTION"] == "BLOCK"
        # a UK 09 number dialled nationally: the shipped policy warns (the dialplan
        # plays a warning); over the spend cap it is blocked (see below)
        v = await gw.call("outbound", "+447700900123", "09098790000")
        assert v["SPAMGW_ACTION"] == "WARN" and "premium.call_out_national" in v["SPAMGW_RULES"]
        await gw.ended("ANSWER", 65, 60)  # its reservation settled: 1.50 spent
        v = await gw.call("outbound", "+447700900123", "+449098790000")
        assert v["SPAMGW_ACTION"] == "WARN"
        await gw.ended("ANSWER", 65, 60)
        v = await gw.call("outbound", "+447700900123", "00441632960123")  # ordinary
        assert v == {"SPAMGW_ACTION": "ALLOW", "SPAMGW_SCORE": "0", "SPAMGW_RULES": "",
                     "SPAMGW_REASON": "", "SPAMGW_MAXDURATION": ""}  # national: no limit
        v = await gw.call("inbound", "+33612345678", "447700900123", "trunk-intl")
        assert "SPAMGW_MAXDURATION" not in v  # inbound calls cost the subscriber nothing

    server = run(body)
    assert server.counters.late == 0 and server.counters.failed_open == 0


def test_wangiri_campaign_flags_the_source_and_callbacks_are_blocked() -> None:
    wangiri = "+2250700000001"
    ordinary = "+33612345678"

    async def body(gw: Gateway) -> None:
        actions = []
        for i in range(20):  # one-ring calls to 20 subscribers: CANCEL after 4 s
            v = await gw.call("inbound", wangiri, f"4477009005{i:02d}", "trunk-intl")
            actions.append(v["SPAMGW_ACTION"])
            gw.clock.now += 4
            await gw.ended("CANCEL", 4, 0)
            gw.clock.now += 30
        # flagged after the 6th distinct subscriber: later rings from it are blocked
        assert actions[:6] == ["ALLOW"] * 6
        assert set(actions[6:]) == {"BLOCK"}

        for i in range(20):  # ordinary international calls, answered
            v = await gw.call("inbound", ordinary, f"4477009006{i:02d}", "trunk-intl")
            assert v["SPAMGW_ACTION"] == "ALLOW"
            gw.clock.now += 65
            await gw.ended("ANSWER", 65, 60)
        for i in range(3):  # a few unanswered ones too: a real caller, not a campaign
            v = await gw.call("inbound", ordinary, f"4477009007{i:02d}", "trunk-intl")
            gw.clock.now += 20
            await gw.ended("NOANSWER", 20, 0)

        # a subscriber calls the Wangiri number back, as typed
        v = await gw.call("outbound", "+447700900505", "002250700000001", "subscribers")
        assert v["SPAMGW_ACTION"] == "BLOCK"
        assert "wangiri.callback" in v["SPAMGW_RULES"].split(",")
        assert "Wangiri" in v["SPAMGW_REASON"]
        v = await gw.call("outbound", "+447700900506", "+2250700000001")
        assert v["SPAMGW_ACTION"] == "BLOCK"
        # another number of the same range, which never rang anyone: the range is flagged
        v = await gw.call("outbound", "+447700900507", "+2250700000042")
        assert v["SPAMGW_ACTION"] == "BLOCK"
        assert "wangiri.range_callback" in v["SPAMGW_RULES"].split(",")
        # while the ordinary caller is called back untouched
        v = await gw.call("outbound", "+447700900605", "0033612345678", "subscribers")
        assert v["SPAMGW_ACTION"] == "ALLOW" and v["SPAMGW_RULES"] == ""
        # an SMS to the flagged number (what the SMPP proxy hands the same engine)
        numbering = gw.core.numbering
        sms = Event(Channel.SMS, Direction.OUT, numbering.from_caller_id("+447700900505"),
                    numbering.from_caller_id("+2250700000001"), text="who is this?",
                    ts=gw.clock.now)
        verdict = gw.core.engine.evaluate(sms)
        assert verdict.action is Action.WARN and "wangiri.sms_to_flagged" in verdict.rules
        # both flags live a week from the campaign's last ring
        gw.clock.now += 6 * 86400
        v = await gw.call("outbound", "+447700900505", "002250700000001", "subscribers")
        assert v["SPAMGW_RULES"].split(",") == ["wangiri.callback", "wangiri.range_callback"]
        gw.clock.now += 86400
        v = await gw.call("outbound", "+447700900505", "002250700000001", "subscribers")
        assert v["SPAMGW_ACTION"] == "ALLOW"

    server = run(body)
    assert server.counters.ended == 43 and server.counters.ended_unmatched == 0


def test_spend_cap_blocks_priced_calls_until_the_day_rolls_over() -> None:
    sub = "+447700900777"

    async def body(gw: Gateway) -> None:
        v = await gw.call("outbound", sub, "09098790000")
        assert v["SPAMGW_ACTION"] == "WARN"  # warned, the subscriber goes ahead
        # 50.00 left at 1.50/min: the dialplan cuts the call after 2000 s
        assert v["SPAMGW_MAXDURATION"] == "2000"
        gw.clock.now += 2405
        await gw.ended("ANSWER", 2405, 2400)  # no L() in this dialplan: 60.00 spent
        v = await gw.call("outbound", sub, "09098790000")
        assert v["SPAMGW_ACTION"] == "BLOCK"
        assert "irsf.spend_cap" in v["SPAMGW_RULES"].split(",")
        assert v["SPAMGW_REASON"].startswith("daily spend cap reached")
        await gw.ended("", 1, 0)
        v = await gw.call("outbound", sub, "+23991234567")  # high-risk destination too
        assert v["SPAMGW_ACTION"] == "BLOCK"
        await gw.ended("", 1, 0)
        v = await gw.call("outbound", sub, "07700900123")  # national calls still go
        assert v["SPAMGW_ACTION"] == "ALLOW" and v["SPAMGW_MAXDURATION"] == ""
        v = await gw.call("outbound", "+447700900778", "09098790000")  # others unaffected
        assert v["SPAMGW_ACTION"] == "WARN"
        # 23:59 the same day (UTC): still blocked
        day = int(gw.clock.now // 86400)
        gw.clock.now = (day + 1) * 86400 - 60
        v = await gw.call("outbound", sub, "09098790000")
        assert v["SPAMGW_ACTION"] == "BLOCK"
        # the day rolls over
        gw.clock.now = (day + 1) * 86400 + 60
        v = await gw.call("outbound", sub, "09098790000")
        assert v["SPAMGW_ACTION"] == "WARN"
        assert "irsf.spend_cap" not in v["SPAMGW_RULES"].split(",")

    run(body)


def test_spend_is_reserved_while_calls_are_up() -> None:
    """A hacked PBX opens calls to Somalia one after the other without hanging up:
    the first reserves what the budget allows, the ones behind it are refused at
    once, not after the first ends; when it ends, the real billsec is settled and
    the rest of the budget is free again."""
    pbx = "+441632960100"

    async def body(gw: Gateway) -> None:
        v = await gw.call("outbound", pbx, "00252612345678", "pbx-acme")
        assert v["SPAMGW_ACTION"] == "WARN"  # a high-risk destination
        assert v["SPAMGW_MAXDURATION"] == "2666"  # the trunk's 80.00 at 1.80/min
        first = gw.uid
        v = await gw.call("outbound", pbx, "00252612345679", "pbx-acme")
        assert v["SPAMGW_ACTION"] == "BLOCK" and "irsf.spend_cap" in v["SPAMGW_RULES"]
        await gw.ended("", 0, 0)
        ledger = gw.server.screener.ledger
        assert ledger is not None and ledger.concurrent_trunk == {"pbx-acme": 1}
        gw.uid = first
        gw.clock.now += 600
        await gw.ended("ANSWER", 605, 600)  # 10 minutes: 18.00
        assert ledger.concurrent_trunk == {}
        assert ledger.spent_trunk("pbx-acme", gw.clock.now) == pytest.approx(18.0)
        assert ledger.remaining(0, "pbx-acme", gw.clock.now) == pytest.approx(62.0)
        gw.uid += 10
        # the third call to Somalia within the hour: the hacked-PBX rules block it
        v = await gw.call("outbound", pbx, "00252612345678", "pbx-acme")
        assert v["SPAMGW_ACTION"] == "BLOCK" and "irsf.high_risk_repeat" in v["SPAMGW_RULES"]
        assert v["SPAMGW_MAXDURATION"] == "" and ledger.concurrent_trunk == {}
        gw.clock.now += 86400  # the next day, an ordinary call to Somalia
        v = await gw.call("outbound", pbx, "00252612345678", "pbx-acme")
        assert v["SPAMGW_ACTION"] == "WARN" and v["SPAMGW_MAXDURATION"] == "2666"

    run(body)


def test_trunk_cap_holds_across_caller_ids() -> None:
    """The PBX trunk has its own daily cap (80.00): rotating caller IDs does not
    reset it."""

    async def body(gw: Gateway) -> None:
        spent = 0.0
        for i in range(4):
            v = await gw.call("outbound", f"+44163296020{i}", "+8816123456789", "pbx-acme")
            if v["SPAMGW_ACTION"] == "BLOCK":
                break
            seconds = int(v["SPAMGW_MAXDURATION"])
            gw.clock.now += seconds
            await gw.ended("ANSWER", seconds + 5, seconds)  # cut by Dial's L()
            spent += seconds / 60 * 6.0
        assert spent <= 80.0 + 1e-9
        assert v["SPAMGW_ACTION"] == "BLOCK"

    run(body)


@pytest.mark.parametrize("number", ["112", "999", "911"])
def test_emergency_numbers_are_never_blocked(number: str) -> None:
    async def body(gw: Gateway) -> None:
        # a blocked number, an over-cap subscriber, a burst of international calls:
        # whatever the rules say about the caller, the emergency call goes through
        v = await gw.call("outbound", "+447700900666", "+882123456789")
        assert v["SPAMGW_ACTION"] == "BLOCK"
        v = await gw.call("outbound", "+447700900666", number)
        assert v["SPAMGW_ACTION"] == "ALLOW"
        assert v["SPAMGW_RULES"] == "protected_destination"
        await gw.call("outbound", "+447700900777", "09098790000")
        await gw.ended("ANSWER", 4000, 3995)
        for i in range(30):
            await gw.call("outbound", "+447700900777", f"+3361234{i:04d}")
        v = await gw.call("outbound", "+447700900777", number, "subscribers")
        assert v["SPAMGW_ACTION"] == "ALLOW"
        v = await gw.call("outbound", "anonymous", number)
        assert v["SPAMGW_ACTION"] == "ALLOW"

    run(body)


def test_caller_id_checks() -> None:
    async def body(gw: Gateway) -> None:
        v = await gw.call("inbound", "+2250700000999", "447700900123", "trunk-intl")
        assert v["SPAMGW_ACTION"] == "BLOCK"  # blocked callers list
        assert "callerid.blocked_caller" in v["SPAMGW_RULES"]
        v = await gw.call("inbound", "+447700900321", "447700900123", "trunk-intl")
        assert v["SPAMGW_ACTION"] == "BLOCK"  # home-country caller ID on an intl trunk
        assert "spoof.home_cli_on_international_trunk" in v["SPAMGW_RULES"]
        v = await gw.call("inbound", "+447797712345", "447700900123", "trunk-intl")
        assert v["SPAMGW_ACTION"] == "BLOCK"  # Jersey shares +44: home too
        v = await gw.call("inbound", "+447700900321", "447700900123", "roam-partner")
        assert v["SPAMGW_ACTION"] == "ALLOW"  # our subscriber, roaming
        # the roaming feed says +447700900322 is abroad (POST /v1/lists/roaming_subscribers
        # puts it on this expiring list): its home CLI on an international carrier passes
        roamer = gw.core.numbering.from_caller_id("+447700900322")
        gw.core.state.flag("roaming_subscribers", roamer.key, gw.clock.now, 86400)
        v = await gw.call("inbound", "+447700900322", "447700900123", "trunk-intl")
        assert v["SPAMGW_ACTION"] == "ALLOW"
        gw.clock.now += 86400 + 1  # the entry expired: a spoofer again
        v = await gw.call("inbound", "+447700900322", "447700900123", "trunk-intl")
        assert v["SPAMGW_ACTION"] == "BLOCK"
        v = await gw.call("inbound", "+447700900321", "447700900123", "trunk-national")
        assert v["SPAMGW_ACTION"] == "ALLOW"
        v = await gw.call("inbound", "12ab34", "447700900123")
        assert v["SPAMGW_ACTION"] == "WARN"  # malformed
        v = await gw.call("inbound", "+4412345", "447700900123")
        assert v["SPAMGW_ACTION"] == "WARN"  # impossible length
        v = await gw.call("inbound", "unknown", "447700900123", "trunk-intl")
        assert v["SPAMGW_ACTION"] == "WARN"  # withheld, from abroad
        v = await gw.call("inbound", "unknown", "447700900123", "trunk-national")
        assert v["SPAMGW_ACTION"] == "ALLOW" and v["SPAMGW_RULES"] == "callerid.anonymous"

    run(body)
