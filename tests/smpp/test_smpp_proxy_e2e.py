"""End to end on real sockets: smpplib ESME -> proxy -> simulator process."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import smpplib.client
import smpplib.exceptions
from smpp_support import Sim, esme, running_proxy, start_sim

from gateway.config import SmppClientConfig
from gateway.smpp.codec import decode
from gateway.smpp.pdu import SubmitSm
from gateway.smpp.text import encode_gsm

pytestmark = pytest.mark.timeout(60)

CLEAN_SRC, BLOCKED_SRC, DST = "447700900123", "447700900666", "447700900456"


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[Sim]:
    s = start_sim(tmp_path / "sim.jsonl", "--dlr")
    try:
        yield s
    finally:
        s.stop()


def test_clean_message_arrives_byte_identical(sim: Sim) -> None:
    with running_proxy(sim.port) as gw, esme(gw.port) as e:
        sent = e.submit(CLEAN_SRC, DST, b"hello through spamgw")
        e.read_until(lambda: len(e.sent) == 1)
        assert e.sent[0].status == 0 and e.sent[0].message_id
        (got,) = sim.records("accepted")
        assert bytes.fromhex(got["pdu"]) == sent.generate()  # header and body, as sent
        assert gw.judge.events[0].route == "acme"
        assert gw.judge.events[0].details["registered_delivery"] == 0


def test_blocked_sender_gets_0x65_and_never_reaches_smsc(sim: Sim) -> None:
    with running_proxy(sim.port) as gw, esme(gw.port) as e:
        e.submit(BLOCKED_SRC, DST, b"buy now")
        e.submit(CLEAN_SRC, DST, b"fine")
        e.read_until(lambda: len(e.sent) == 2)
        assert sorted(p.status for p in e.sent) == [0, 0x65]
        bodies = [decode(bytes.fromhex(r["pdu"])) for r in sim.records("received")]
        assert [b.source_addr for b in bodies if isinstance(b, SubmitSm)] == [CLEAN_SRC]
        assert gw.proxy.counters.rejected == 1


def _parts(text: str, ref: int, size: int = 60) -> list[bytes]:
    chunks = [text[i:i + size] for i in range(0, len(text), size)]
    return [bytes((5, 0, 3, ref, len(chunks), n + 1)) + encode_gsm(c)
            for n, c in enumerate(chunks)]


def test_three_part_spam_blocked_as_a_whole_and_clean_one_passes(sim: Sim) -> None:
    spam = "Dear customer, you were selected in our weekly draw. To claim y" \
           "our prize visit http://example.invalid/win today before midnight!!"
    clean = "Your parcel 1234 will arrive tomorrow between 9 and 12. Reply S" \
            "TOP to opt out of delivery notifications from the courier, thanks."
    spam_parts, clean_parts = _parts(spam, 7), _parts(clean, 8)
    assert len(spam_parts) == 3 and "claim your prize" not in spam[:60]
    with running_proxy(sim.port) as gw, esme(gw.port) as e:
        # interleave the two messages, parts out of order
        for sm in (spam_parts[2], clean_parts[0], spam_parts[0], clean_parts[2],
                   spam_parts[1], clean_parts[1]):
            e.submit(CLEAN_SRC, DST, sm, esm_class=0x40)
        e.read_until(lambda: len(e.sent) == 6)
        assert sorted(p.status for p in e.sent) == [0, 0, 0, 0x65, 0x65, 0x65]
        arrived = [decode(bytes.fromhex(r["pdu"])) for r in sim.records("accepted")]
        assert sorted(p.short_message for p in arrived if isinstance(p, SubmitSm)) == \
            sorted(clean_parts)
        judged = [ev for ev in gw.judge.events if ev.parts == 3]
        assert sorted(ev.text for ev in judged) == sorted([spam, clean])


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
                # wait (bounded) until the SMSC holds all ten, unanswered
                for _ in range(1000):
                    if len(sim.records("received")) == 10:
                        break
                    time.sleep(0.01)
                assert len(sim.records("received")) == 10
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
        accepted = [decode(bytes.fromhex(r["pdu"])) for r in sim.records("accepted")]
        assert sorted(p.short_message for p in accepted if isinstance(p, SubmitSm)) == texts
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
