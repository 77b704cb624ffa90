"""Drain on shutdown, aiosmpp as an independent asyncio ESME, and the real
``python -m gateway run`` process with ``python -m gateway smsc-sim`` upstream: its
ordinary path, and an ESME that leaves deliver_sm unanswered."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
import urllib.request
from pathlib import Path

import pytest
from smpp_support import (
    ADMIN_TOKEN,
    ROOT,
    RawEsme,
    esme,
    free_port,
    gateway_config,
    gateway_process,
    running_proxy,
    start_sim,
)

from gateway.smpp.codec import decode, encode, response_for
from gateway.smpp.pdu import CommandId, DeliverSm, SubmitSm

pytestmark = pytest.mark.timeout(60)


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


def test_gateway_run_process_with_smsc_sim_upstream(tmp_path: Path) -> None:
    """The operator's path: ``python -m gateway run --config X`` with the shipped rules."""
    sim = start_sim(tmp_path / "sim.jsonl", "--dlr")
    port = free_port()
    config = gateway_config(tmp_path / "spamgw.toml", port, sim.port)
    try:
        with gateway_process(config, port) as gw:
            with esme(port) as e:
                e.submit("447700900123", "447700900456", b"hello via the real gateway",
                         registered_delivery=1)
                e.submit("447700900666", "447700900456", b"from a blocked number")
                e.read_until(lambda: len(e.sent) == 2 and len(e.received) == 1)
                assert sorted(p.status for p in e.sent) == [0, 0x65]
                assert b"stat:DELIVRD" in e.received[0].short_message
            (got,) = sim.records("accepted")
            sm = decode(bytes.fromhex(got["pdu"]))
            assert isinstance(sm, SubmitSm) and sm.short_message == b"hello via the real gateway"
            gw.send_signal(signal.SIGTERM)
            assert gw.wait(20) == 0
            assert gw.stderr is not None
            assert "BLOCK" in gw.stderr.read()  # the audit log line of the blocked message
    finally:
        sim.stop()


def test_deliver_sm_the_esme_leaves_unanswered_gets_0x58_to_the_smsc_once(
        tmp_path: Path) -> None:
    """``esme_response_timeout``: an MO and a receipt the ESME never answers are
    answered 0x58 to the SMSC by the gateway, so the SMSC retries them; the ESME's
    late answer is dropped, never a second answer; both are on /metrics."""
    sim = start_sim(tmp_path / "sim.jsonl", "--mo-stdin", "--dlr")
    port, admin_port = free_port(), free_port()
    config = gateway_config(tmp_path / "spamgw.toml", port, sim.port,
                            smpp="esme_response_timeout = 0.5", admin_port=admin_port)
    try:
        with gateway_process(config, port) as gw:
            e = RawEsme(port, answer=False)
            try:
                start = time.monotonic()
                sim.mo("+447700900123", "+447700900456", "are you there")
                (mo,) = e.read_requests(1)
                assert isinstance(mo, DeliverSm) and mo.short_message == b"are you there"
                e.send(SubmitSm(source_addr_ton=1, source_addr_npi=1, source_addr="447700900123",
                                dest_addr_ton=1, dest_addr_npi=1, destination_addr="447700900456",
                                short_message=b"receipt please", registered_delivery=1))
                assert [r.command_status for r in e.read(1)] == [0]
                (receipt,) = e.read_requests(1)
                assert isinstance(receipt, DeliverSm) and receipt.esm_class & 0x04
                # neither is answered: the gateway answers the SMSC after the timeout
                assert [r["status"] for r in sim.wait_for("deliver_resp", 2)] == [0x58, 0x58]
                assert time.monotonic() - start >= 0.5
                # the ESME answers the MO after all, then answers the next MO in time: the
                # SMSC gets the second answer only (the first would have come before it)
                e.sock.sendall(response_for(CommandId.DELIVER_SM, mo.sequence_number, 0))
                sim.mo("+447700900123", "+447700900456", "second")
                (mo2,) = e.read_requests(1)
                e.sock.sendall(response_for(CommandId.DELIVER_SM, mo2.sequence_number, 0))
                rows = sim.wait_for("deliver_resp", 3)
                mo_seqs = [r["seq"] for r in sim.records("mo")]
                assert [(r["seq"], r["status"]) for r in rows] == [
                    (mo_seqs[0], 0x58), (receipt.sequence_number, 0x58), (mo_seqs[1], 0)]
            finally:
                e.close()
            req = urllib.request.Request(f"http://127.0.0.1:{admin_port}/metrics",
                                         headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
            with urllib.request.urlopen(req, timeout=10) as r:
                metrics = dict(line.rsplit(" ", 1) for line in r.read().decode().splitlines()
                               if line.startswith("spamgw_smpp_"))
            assert float(metrics["spamgw_smpp_esme_timeouts_total"]) == 2
            assert float(metrics["spamgw_smpp_esme_late_responses_total"]) == 1
            assert float(metrics["spamgw_smpp_orphan_responses_total"]) == 0
            assert len(sim.records("deliver_resp")) == 3
            gw.send_signal(signal.SIGTERM)
            assert gw.wait(20) == 0
            assert gw.stderr is not None
            assert "esme did not answer in time" in gw.stderr.read()
    finally:
        sim.stop()


def test_reports_and_quarantine_run_with_the_admin_api_off(tmp_path: Path) -> None:
    """Spam reports and the quarantine are the core's: with ``[admin] enabled =
    false`` three SMS reports to 7726 still list the sender (its next message is
    blocked) and the blocked message is still kept."""
    import shutil
    import sqlite3

    sim = start_sim(tmp_path / "sim.jsonl")
    port = free_port()
    config = gateway_config(tmp_path / "spamgw.toml", port, sim.port)  # admin disabled
    shutil.copytree(ROOT / "rules", tmp_path / "rules")  # the listing is journaled: a copy
    config.write_text(config.read_text().replace(str(ROOT / "rules"), str(tmp_path / "rules")))
    try:
        with gateway_process(config, port) as gw:
            esme = RawEsme(port)
            try:
                for reporter in ("447700900011", "447700900012", "447700900013"):
                    esme.send(SubmitSm(source_addr_ton=1, source_addr=reporter, dest_addr_ton=0,
                                       destination_addr="7726",
                                       short_message=b"+447700900444 you won a prize"))
                    (resp,) = esme.read(1)
                    assert resp.command_status == 0
                esme.send(SubmitSm(source_addr_ton=1, source_addr="447700900444",
                                   dest_addr_ton=1, destination_addr="447700900123",
                                   short_message=b"hello"))
                (resp,) = esme.read(1)
                assert resp.command_status == 0x65
            finally:
                esme.close()
            gw.send_signal(signal.SIGTERM)
            assert gw.wait(20) == 0
        db = sqlite3.connect(tmp_path / "spamgw-quarantine.sqlite3")
        try:
            rows = db.execute("SELECT src, rules FROM quarantine").fetchall()
        finally:
            db.close()
        assert any(s == "+447700900444" and "srs.listed" in r.split(",") for s, r in rows)
    finally:
        sim.stop()
