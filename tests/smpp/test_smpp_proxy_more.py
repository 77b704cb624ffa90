"""Drain on shutdown, aiosmpp as an independent asyncio ESME, and the real
``python -m gateway run`` process with ``python -m gateway smsc-sim`` upstream."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from smpp_support import ROOT, esme, free_port, gateway_config, running_proxy, start_sim

from gateway.smpp.codec import decode, encode
from gateway.smpp.pdu import SubmitSm

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
    gw = subprocess.Popen([sys.executable, "-m", "gateway", "run", "--config", str(config)],
                          cwd=tmp_path, stderr=subprocess.PIPE, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        for _ in range(500):
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port)):
                break
            assert gw.poll() is None, gw.stderr.read() if gw.stderr else ""
            time.sleep(0.02)
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
        if gw.poll() is None:
            gw.kill()
            gw.wait(10)
        if gw.stderr is not None:
            gw.stderr.close()
        sim.stop()
