"""The rest of what the proxy judges, on the real engine: submit_multi per
destination, replace_sm, MO deliver_sm (answered to the SMSC when blocked), spam
reports to 7726, drop rules, and the upstream response timeout."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from smpp_support import RawEsme, Sim, esme, make_core, rules_dir, running_proxy, start_sim

from gateway.model import Action, Direction, Event, Verdict
from gateway.smpp.codec import decode
from gateway.smpp.pdu import DestAddress, ReplaceSm, SubmitMulti, SubmitMultiResp

pytestmark = pytest.mark.timeout(60)

CLEAN_SRC, BLOCKED_SRC, DST = "447700900123", "447700900666", "447700900456"

# an operator rule the shipped set does not have: recipients on blocked_numbers
# (opted out) get no A2P traffic; and a drop rule
EXTRA_RULES = '''
[[rule]]
id = "test.opted_out_recipient"
description = "Recipient opted out of A2P traffic"
channel = "sms"
direction = "in"
when.dst_in = "blocked_numbers"
action = "BLOCK"

[[rule]]
id = "test.silent_drop"
description = "Dropped without telling the sender"
channel = "sms"
direction = "in"
when.text_keywords = ["dropme"]
action = "BLOCK"
sms_block = "drop"
'''


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[Sim]:
    s = start_sim(tmp_path / "sim.jsonl", "--mo-stdin")
    try:
        yield s
    finally:
        s.stop()


def _multi(*dsts: str, text: bytes = b"meeting moved to 3pm") -> SubmitMulti:
    return SubmitMulti(source_addr_ton=1, source_addr_npi=1, source_addr=CLEAN_SRC,
                       dest_addresses=tuple(DestAddress(1, 1, 1, d) for d in dsts),
                       short_message=text, tlvs=((0x1403, b"vendor-tlv"),))


def test_submit_multi_is_judged_per_destination(sim: Sim, tmp_path: Path) -> None:
    core = make_core(rules_dir(tmp_path, EXTRA_RULES))
    with running_proxy(sim.port, core=core) as gw:
        e = RawEsme(gw.port)
        try:
            # one destination opted out: the SMSC gets the other two, the ESME's
            # response lists the rejected one in unsuccess_smes
            e.send(_multi(DST, BLOCKED_SRC, "447700900457"))
            (resp,) = e.read(1)
            assert isinstance(resp, SubmitMultiResp) and resp.command_status == 0
            assert resp.message_id
            assert [(u.destination_addr, u.error_status_code) for u in resp.unsuccess_smes] \
                == [(BLOCKED_SRC, 0x65)]
            (got,) = sim.records("accepted")
            fwd = decode(bytes.fromhex(got["pdu"]))
            assert isinstance(fwd, SubmitMulti)
            assert [d.destination_addr for d in fwd.dest_addresses] == [DST, "447700900457"]
            assert fwd.tlvs == ((0x1403, b"vendor-tlv"),)  # the rest as sent
            # every destination rejected: answered by the proxy, the SMSC sees nothing
            e.send(_multi(BLOCKED_SRC, "447700900667"))
            (resp,) = e.read(1)
            assert resp.command_status == 0x65 and len(resp.unsuccess_smes) == 2
            assert len(sim.records("received")) == 1
            dsts = [str(ev.dst) for ev in gw.judge.events]
            assert dsts == ["+447700900456", "+447700900666", "+447700900457",
                            "+447700900666", "+447700900667"]
        finally:
            e.close()


def test_replace_sm_text_is_judged(sim: Sim) -> None:
    with running_proxy(sim.port) as gw:
        e = RawEsme(gw.port)
        try:
            e.send(ReplaceSm(message_id="0000000001", source_addr_ton=1, source_addr_npi=1,
                             source_addr=CLEAN_SRC,
                             short_message=b"pay at https://evil-bank-login.example/now"))
            (resp,) = e.read(1)
            assert resp.command_status == 0x65
            e.send(ReplaceSm(message_id="0000000001", source_addr_ton=1, source_addr_npi=1,
                             source_addr=CLEAN_SRC, short_message=b"see you at 5"))
            (resp,) = e.read(1)
            assert resp.command_status == 0
            (req,) = sim.records("request")
            assert decode(bytes.fromhex(req["pdu"])).short_message == b"see you at 5"
            assert [ev.details["command"] for ev in gw.judge.events] == ["replace_sm"] * 2
        finally:
            e.close()


def test_mo_deliver_sm_judged_and_blocked_one_answered_to_the_smsc(sim: Sim) -> None:
    with running_proxy(sim.port) as gw, esme(gw.port) as e:
        sim.mo("+" + BLOCKED_SRC, "+" + DST, "hello from a blocked number")
        (resp,) = sim.wait_for("deliver_resp", 1)
        assert resp["status"] == 0x65  # the SMSC is told, the ESME never sees it
        sim.mo("+" + CLEAN_SRC, "+" + DST, "hello from a subscriber")
        e.read_until(lambda: len(e.received) == 1)
        assert e.received[0].short_message == b"hello from a subscriber"
        assert [r["status"] for r in sim.wait_for("deliver_resp", 2)] == [0x65, 0]
        assert [ev.direction for ev in gw.judge.events] == [Direction.OUT] * 2
        assert gw.judge.verdicts[0].rules == ("list.blocked_source",)


def test_spam_reports_to_7726_reach_the_engine_and_its_observer(sim: Sim) -> None:
    """The admin app takes reports from the engine's observer: the proxy's part is to
    pass every SMS to 7726, MO or submit_sm, to the engine and on to its destination."""
    core = make_core()
    seen: list[tuple[Event, Verdict]] = []
    core.engine.observer = lambda ev, v: seen.append((ev, v))
    with running_proxy(sim.port, core=core) as gw, esme(gw.port) as e:
        sim.mo("+" + CLEAN_SRC, "7726", "+447700900999 win a prize")  # subscriber reports
        e.read_until(lambda: len(e.received) == 1)
        e.client.send_message(source_addr_ton=1, source_addr_npi=1, source_addr=CLEAN_SRC,
                              dest_addr_ton=0, dest_addr_npi=0, destination_addr="7726",
                              short_message=b"SPAM +447700900999")
        e.read_until(lambda: len(e.sent) == 1)
        assert e.sent[0].status == 0
        assert [r["status"] for r in sim.wait_for("deliver_resp", 1)] == [0]
        reports = [(ev.direction, ev.dst.kind.value, ev.dst.digits, ev.text)
                   for ev, _v in seen]
        assert reports == [(Direction.OUT, "short", "7726", "+447700900999 win a prize"),
                           (Direction.IN, "short", "7726", "SPAM +447700900999")]
        assert all(v.action is not Action.BLOCK for _e, v in seen)
        assert len(gw.judge.events) == 2


def test_drop_rule_answers_success_with_gateway_id_and_smsc_never_sees_it(
        sim: Sim, tmp_path: Path) -> None:
    core = make_core(rules_dir(tmp_path, EXTRA_RULES))
    with running_proxy(sim.port, core=core) as gw, esme(gw.port) as e:
        e.submit(CLEAN_SRC, DST, b"please dropme quietly")
        e.read_until(lambda: len(e.sent) == 1)
        assert e.sent[0].status == 0 and e.sent[0].message_id.startswith(b"gw")
        assert sim.records("received") == []
        assert gw.proxy.counters.dropped == 1


def test_unanswered_submit_gets_temporary_error_and_late_response_is_dropped(
        tmp_path: Path) -> None:
    sim = start_sim(tmp_path / "sim.jsonl", "--latency-ms", "1000")
    try:
        with running_proxy(sim.port, response_timeout=0.3) as gw, esme(gw.port) as e:
            e.submit(CLEAN_SRC, DST, b"slow smsc")
            e.read_until(lambda: len(e.sent) == 1)
            assert e.sent[0].status == 0x58  # before the SMSC's own answer, 1 s later
            sim.wait_for("accepted", 1)  # the SMSC's answer comes after all...
            counters: Any = gw.proxy.counters
            for _ in range(200):
                if gw.call(lambda: counters.late_responses):
                    break
                time.sleep(0.01)
            assert (counters.timeouts, counters.late_responses) == (1, 1)
            # ...and is not passed on: the next thing the ESME reads is this answer
            import smpplib.smpp

            e.client.send_pdu(smpplib.smpp.make_pdu("enquire_link", client=e.client))
            assert e.client.read_pdu().command == "enquire_link_resp"
    finally:
        sim.stop()
