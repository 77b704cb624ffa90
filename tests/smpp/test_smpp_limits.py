"""Limits under attack and overload, on real sockets: the window of outstanding
requests per bind (each PDU, held concatenation parts too), socket timeouts, the
connection cap, and what the logs must not say (issue 13)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from smpp_support import RawEsme, Sim, running_proxy, start_sim

from gateway.smpp.pdu import SubmitSm

pytestmark = pytest.mark.timeout(60)

SRC, DST = "447700900123", "447700900456"


def _max_outstanding(sim: Sim) -> int:
    """The most submit_sm the simulator held unanswered at once (its record is in the
    order it received and answered them)."""
    now = top = 0
    for row in sim.records():
        if row["event"] == "received":
            now += 1
            top = max(top, now)
        elif row["event"] == "accepted":
            now -= 1
    return top


def _burst(esme: RawEsme, pdus: list[Any]) -> None:
    """Every PDU in one write: the proxy reads them in one chunk (or a few)."""
    esme.sock.sendall(b"".join(esme.session.send(p) for p in pdus))


def test_window_holds_per_pdu_with_a_slow_smsc(tmp_path: Path) -> None:
    sim = start_sim(tmp_path / "sim.jsonl", "--latency-ms", "150")
    try:
        with running_proxy(sim.port, window=10) as gw:
            esme = RawEsme(gw.port)
            try:
                _burst(esme, [SubmitSm(source_addr_ton=1, source_addr=SRC, dest_addr_ton=1,
                                       destination_addr=DST, short_message=f"hi {i}".encode())
                              for i in range(60)])
                resps = esme.read(60)
            finally:
                esme.close()
        assert [r.command_status for r in resps] == [0] * 60
        assert len(sim.records("accepted")) == 60
        assert _max_outstanding(sim) <= 10
    finally:
        sim.stop()


def test_window_holds_for_concatenated_parts_released_at_once(tmp_path: Path) -> None:
    sim = start_sim(tmp_path / "sim.jsonl", "--latency-ms", "150")
    total = 30
    try:
        with running_proxy(sim.port, window=10) as gw:
            esme = RawEsme(gw.port)
            try:
                _burst(esme, [SubmitSm(source_addr_ton=1, source_addr=SRC, dest_addr_ton=1,
                                       destination_addr=DST, esm_class=0x40,
                                       short_message=bytes([5, 0, 3, 7, total, n]) + b"part")
                              for n in range(1, total + 1)])
                resps = esme.read(total)
            finally:
                esme.close()
        assert [r.command_status for r in resps] == [0] * total
        assert _max_outstanding(sim) <= 10
    finally:
        sim.stop()
