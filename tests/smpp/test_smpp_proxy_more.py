"""Drop verdicts, drain on shutdown, and aiosmpp as an independent asyncio ESME."""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path

import pytest
from smpp_support import esme, running_proxy, start_sim

from gateway.model import Action, Event, SmsBlock, Verdict
from gateway.smpp.codec import decode, encode
from gateway.smpp.pdu import SubmitSm

pytestmark = pytest.mark.timeout(60)


class DropAll:
    def evaluate(self, event: Event) -> Verdict:
        return Verdict(Action.BLOCK, sms_block=SmsBlock.DROP)


def test_drop_verdict_answers_success_with_gateway_id_and_smsc_never_sees_it(
        tmp_path: Path) -> None:
    sim = start_sim(tmp_path / "sim.jsonl")
    try:
        with running_proxy(sim.port, judge=DropAll()) as gw, esme(gw.port) as e:
            e.submit("447700900123", "447700900456", b"dropped")
            e.read_until(lambda: len(e.sent) == 1)
            assert e.sent[0].status == 0 and e.sent[0].message_id.startswith(b"gw")
            assert sim.records() == []
    finally:
        sim.stop()


def test_shutdown_drains_in_flight_window_first(tmp_path: Path) -> None:
    sim = start_sim(tmp_path / "sim.jsonl", "--latency-ms", "300")
    try:
        with running_proxy(sim.port) as gw, esme(gw.port) as e:
            for i in range(5):
                e.submit("447700900123", "447700900456", f"in flight {i}".encode())
            for _ in range(1000):
                if len(sim.records("received")) == 5:
                    break
                time.sleep(0.01)
            stopping = asyncio.run_coroutine_threadsafe(gw.proxy.stop(), gw.loop)
            e.read_until(lambda: len(e.sent) == 5 and e.unbound)
            stopping.result(30)
            assert [p.status for p in e.sent] == [0] * 5  # the SMSC's answers, not errors
        assert len(sim.records("accepted")) == 5
    finally:
        sim.stop()


def test_aiosmpp_asyncio_esme_through_the_proxy(tmp_path: Path) -> None:
    """aiosmpp (asyncio port of smpplib) as a second, independent ESME implementation."""
    import aiosmpp.client
    import aiosmpp.smpp

    sim = start_sim(tmp_path / "sim.jsonl")
    try:
        with running_proxy(sim.port) as gw:
            async def run() -> list[int]:
                client = aiosmpp.client.Client("127.0.0.1", gw.port)
                await client.connect_async()
                try:
                    await client.bind_transceiver_async(system_id="acme", password="secret")
                    statuses = []
                    for src in ("447700900123", "447700900666"):
                        pdu = aiosmpp.smpp.make_pdu(
                            "submit_sm", client=client, source_addr_ton=1, source_addr=src,
                            dest_addr_ton=1, destination_addr="447700900456",
                            short_message=b"from aiosmpp")
                        await client.send_pdu_async(pdu)
                        resp = await client.read_pdu_async()
                        statuses.append(int(resp.status))
                    return statuses
                finally:
                    with contextlib.suppress(Exception):
                        client.disconnect()

            assert asyncio.run(asyncio.wait_for(run(), 20)) == [0, 0x65]
        (got,) = sim.records("accepted")
        sm = decode(bytes.fromhex(got["pdu"]))
        assert isinstance(sm, SubmitSm) and sm.short_message == b"from aiosmpp"
        assert encode(sm) == bytes.fromhex(got["pdu"])
    finally:
        sim.stop()
