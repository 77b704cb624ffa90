"""End to end on real sockets with the real engine and the shipped rules:
smpplib ESME -> proxy (``build_core``) -> simulator process."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import pytest
import smpplib.client
import smpplib.exceptions
from smpp_support import Sim, esme, make_core, running_proxy, start_sim

from gateway.config import SmppClientConfig
from gateway.engine.examples import event_from_fields
from gateway.model import Action
from gateway.smpp.codec import decode
from gateway.smpp.pdu import SubmitSm
from gateway.smpp.text import encode_gsm

pytestmark = pytest.mark.timeout(60)

# +447700900666 is on the shipped rules/lists/blocked_numbers.txt
CLEAN_SRC, BLOCKED_SRC, DST = "447700900123", "447700900666", "447700900456"
# a link to a domain on rules/lists/blocked_domains.txt, cut so that the domain is
# split across parts 2 and 3: no part alone is blocked, the whole message is
SPAM = ("Royal Mail: we could not deliver your item today. A redelivery slot is free, "
        "book it at https://track.parcel-redelivery.example/gb?ref=UK8812 before 6pm.")
CLEAN = ("Your parcel 1234 will arrive tomorrow between 9 and 12. Reply STOP to opt out "
         "of delivery notifications from the courier, thanks, see you then.")


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[Sim]:
    s = start_sim(tmp_path / "sim.jsonl", "--dlr")
    try:
        yield s
    finally:
        s.stop()


def _submits(sim: Sim, event: str = "accepted") -> list[SubmitSm]:
    pdus = [decode(bytes.fromhex(r["pdu"])) for r in sim.records(event)]
    return [p for p in pdus if isinstance(p, SubmitSm)]


def test_clean_message_arrives_byte_identical(sim: Sim) -> None:
    with running_proxy(sim.port) as gw, esme(gw.port) as e:
        sent = e.submit(CLEAN_SRC, DST, b"hello through spamgw")
        e.read_until(lambda: len(e.sent) == 1)
        assert e.sent[0].status == 0 and e.sent[0].message_id
        (got,) = sim.records("accepted")
        assert bytes.fromhex(got["pdu"]) == sent.generate()  # header and body, as sent
        (ev,) = gw.judge.events
        assert ev.route == "acme" and ev.details["registered_delivery"] == 0
        assert str(ev.src) == "+" + CLEAN_SRC and gw.judge.verdicts[0].action is Action.ALLOW


def test_blocked_sender_gets_0x65_and_never_reaches_smsc(sim: Sim) -> None:
    with running_proxy(sim.port) as gw, esme(gw.port) as e:
        e.submit(BLOCKED_SRC, DST, b"buy now")
        e.submit(CLEAN_SRC, DST, b"fine")
        e.read_until(lambda: len(e.sent) == 2)
        assert sorted(p.status for p in e.sent) == [0, 0x65]
        assert [p.source_addr for p in _submits(sim, "received")] == [CLEAN_SRC]
        assert gw.proxy.counters.rejected == 1
        blocked = [v for v in gw.judge.verdicts if v.action is Action.BLOCK]
        assert [v.rules for v in blocked] == [("list.blocked_source",)]


def _parts(text: str, ref: int, cuts: tuple[int, ...]) -> list[bytes]:
    bounds = (0, *cuts, len(text))
    chunks = [text[a:b] for a, b in pairwise(bounds)]
    return [bytes((5, 0, 3, ref, len(chunks), n + 1)) + encode_gsm(c)
            for n, c in enumerate(chunks)]


def test_three_part_spam_blocked_as_a_whole_and_clean_one_passes(sim: Sim) -> None:
    cut2 = SPAM.index("redelivery.example") + 5
    spam_cuts = (cut2 - 60, cut2)
    core = make_core()
    bounds = (0, *spam_cuts, len(SPAM))
    for a, b in pairwise(bounds):  # no part alone would be blocked
        ev = event_from_fields({"src": "+" + CLEAN_SRC, "dst": "+" + DST, "text": SPAM[a:b]},
                               core.numbering, channel="sms", direction="in")
        assert core.engine.evaluate(ev).action is not Action.BLOCK
    spam_parts, clean_parts = _parts(SPAM, 7, spam_cuts), _parts(CLEAN, 8, (60, 120))
    with running_proxy(sim.port, core=core) as gw, esme(gw.port) as e:
        # interleave the two messages, parts out of order
        for sm in (spam_parts[2], clean_parts[0], spam_parts[0], clean_parts[2],
                   spam_parts[1], clean_parts[1]):
            e.submit(CLEAN_SRC, DST, sm, esm_class=0x40)
        e.read_until(lambda: len(e.sent) == 6)
        assert sorted(p.status for p in e.sent) == [0, 0, 0, 0x65, 0x65, 0x65]
        assert sorted(p.short_message for p in _submits(sim)) == sorted(clean_parts)
        judged = {ev.text: v for ev, v in zip(gw.judge.events, gw.judge.verdicts, strict=True)}
        assert set(judged) == {SPAM, CLEAN}  # judged once each, as whole texts
        assert "phish.blocked_domain" in judged[SPAM].rules
        assert gw.judge.events[0].parts == 3


def test_delivery_receipt_reaches_the_client(sim: Sim) -> None:
    with running_proxy(sim.port) as gw, esme(gw.port) as e:
        e.submit(CLEAN_SRC, DST, b"please confirm", registered_delivery=1)
        e.read_until(lambda: len(e.sent) == 1 and len(e.received) == 1)
        dlr = e.received[0]
        assert dlr.esm_class == 0x04
        assert dlr.receipted_message_id == e.sent[0].message_id
        assert b"stat:DELIVRD" in dlr.short_message
        assert gw.proxy.counters.receipts == 1
        assert gw.proxy.counters.forwarded == 1  # receipts are not judged
        assert len(gw.judge.events) == 1
        (resp,) = sim.wait_for("deliver_resp", 1)
        assert resp["status"] == 0  # the ESME's answer went back to the SMSC


def test_sms_to_emergency_short_code_passes(sim: Sim) -> None:
    with running_proxy(sim.port) as gw, esme(gw.port) as e:
        # clean sender, text the phishing rules would block
        e.client.send_message(source_addr_ton=1, source_addr_npi=1, source_addr=CLEAN_SRC,
                              dest_addr_ton=0, dest_addr_npi=0, destination_addr="112",
                              short_message=b"help https://evil-bank-login.example/x")
        e.read_until(lambda: len(e.sent) == 1)
        assert e.sent[0].status == 0
        assert [p.destination_addr for p in _submits(sim)] == ["112"]
        assert gw.judge.verdicts[0].rules == ("protected_destination",)


def test_killing_the_smsc_mid_window_gives_temporary_errors_then_no_loss(tmp_path: Path) -> None:
    record = tmp_path / "sim.jsonl"
    sim = start_sim(record, "--latency-ms", "30000")
    port = sim.port
    texts = [f"message {i}".encode() for i in range(10)]
    try:
        with running_proxy(port) as gw:
            with esme(gw.port) as e:
                for t in texts:
                    e.submit(CLEAN_SRC, DST, t)
                sim.wait_for("received", 10)  # the SMSC holds all ten, unanswered
                sim.kill()
                e.read_until(lambda: len(e.sent) == 10 and e.unbound)
                assert [p.status for p in e.sent] == [0x58] * 10
            assert gw.proxy.counters.temp_errors == 10
            sim.stop()
            sim = start_sim(record, port=port)
            with esme(gw.port) as e:  # the ESME resends what got a temporary error
                for t in texts:
                    e.submit(CLEAN_SRC, DST, t)
                e.read_until(lambda: len(e.sent) == 10)
                assert [p.status for p in e.sent] == [0] * 10
        assert sorted(p.short_message for p in _submits(sim)) == texts  # once each
    finally:
        sim.stop()


def test_client_limits_binds_throttle_and_ips(sim: Sim) -> None:
    clients = (SmppClientConfig(system_id="acme", max_binds=1, max_tps=2.0),
               SmppClientConfig(system_id="other", allowed_ips=("10.0.0.0/8",)))
    with running_proxy(sim.port, clients=clients) as gw, esme(gw.port) as e:
        second = smpplib.client.Client("127.0.0.1", gw.port, allow_unknown_opt_params=True)
        second.connect()
        with pytest.raises(smpplib.exceptions.PDUError, match=r"\(13\)"):
            second.bind_transceiver(system_id="acme", password="secret")
        second.disconnect()
        third = smpplib.client.Client("127.0.0.1", gw.port, allow_unknown_opt_params=True)
        third.connect()
        with pytest.raises(smpplib.exceptions.PDUError, match=r"\(13\)"):
            third.bind_transceiver(system_id="other", password="x")
        third.disconnect()
        for i in range(5):
            e.submit(CLEAN_SRC, DST, f"burst {i}".encode())
        e.read_until(lambda: len(e.sent) == 5)
        statuses = [p.status for p in e.sent]
        assert statuses.count(0x58) >= 2 and statuses.count(0) >= 1
        assert gw.proxy.counters.throttled == statuses.count(0x58)
