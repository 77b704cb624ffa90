"""Limits under attack and overload, on real sockets: the window of outstanding
requests per bind (each PDU, held concatenation parts too), socket timeouts, the
connection cap, and what the logs must not say (issue 13)."""

from __future__ import annotations

import signal
import socket
import time
from pathlib import Path
from typing import Any

import pytest
from smpp_support import (
    RawEsme,
    Sim,
    free_port,
    gateway_config,
    gateway_process,
    running_proxy,
    start_sim,
)

from gateway.smpp.codec import HEADER, encode
from gateway.smpp.pdu import BindTransceiver, CommandId, SubmitSm

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


def _submit(short_message: bytes, **kw: Any) -> SubmitSm:
    """A submit_sm from SRC to DST (international numbers)."""
    return SubmitSm(source_addr_ton=1, source_addr=SRC, dest_addr_ton=1,
                    destination_addr=DST, short_message=short_message, **kw)


def _burst(esme: RawEsme, pdus: list[Any]) -> None:
    """Every PDU in one write: the proxy reads them in one chunk (or a few)."""
    esme.sock.sendall(b"".join(esme.session.send(p) for p in pdus))


def test_window_holds_per_pdu_with_a_slow_smsc(tmp_path: Path) -> None:
    sim = start_sim(tmp_path / "sim.jsonl", "--latency-ms", "150")
    try:
        with running_proxy(sim.port, window=10) as gw:
            esme = RawEsme(gw.port)
            try:
                _burst(esme, [_submit(f"hi {i}".encode()) for i in range(60)])
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
                _burst(esme, [_submit(bytes([5, 0, 3, 7, total, n]) + b"part", esm_class=0x40)
                              for n in range(1, total + 1)])
                resps = esme.read(total)
            finally:
                esme.close()
        assert [r.command_status for r in resps] == [0] * total
        assert _max_outstanding(sim) <= 10
    finally:
        sim.stop()


def _closed_within(sock: socket.socket, seconds: float) -> float:
    """Read (and drop) what comes until the proxy closes; how long that took."""
    t0 = time.monotonic()
    sock.settimeout(seconds)
    try:
        while sock.recv(4096):
            pass
    except ConnectionResetError:
        pass
    return time.monotonic() - t0


def test_silent_slowloris_and_idle_connections_are_closed_and_logged(tmp_path: Path) -> None:
    """bind_timeout: a socket that never sends, and a bind sent a byte at a time, are
    closed; idle_timeout: a bound ESME that goes silent gets an enquire_link, then is
    closed when it does not answer. Each closing is a log line of the real process."""
    sim = start_sim(tmp_path / "sim.jsonl")
    port = free_port()
    config = gateway_config(tmp_path / "spamgw.toml", port, sim.port, smpp="""
bind_timeout = 1.0
idle_timeout = 1.0
esme_response_timeout = 0.5
""")
    try:
        with gateway_process(config, port) as gw:
            silent = socket.create_connection(("127.0.0.1", port))
            assert _closed_within(silent, 5) < 4
            slow = socket.create_connection(("127.0.0.1", port))
            bind = encode(BindTransceiver(sequence_number=1, system_id="acme",
                                          password="secret"))
            t0 = time.monotonic()
            with pytest.raises(OSError):
                for b in bind:
                    slow.sendall(bytes([b]))
                    time.sleep(0.1)
                    assert time.monotonic() - t0 < 5
            assert _closed_within(slow, 5) < 4
            idle = socket.create_connection(("127.0.0.1", port))
            idle.sendall(bind)
            idle.settimeout(5)
            got = b""
            t0 = time.monotonic()
            while True:
                chunk = idle.recv(4096)
                if not chunk:
                    break
                got += chunk
            assert 1.0 <= time.monotonic() - t0 < 5
            first_len, first_cid = HEADER.unpack_from(got)[:2]
            assert first_cid == CommandId.BIND_TRANSCEIVER_RESP
            assert HEADER.unpack_from(got, first_len)[1] == CommandId.ENQUIRE_LINK
            for s in (silent, slow, idle):
                s.close()
            gw.send_signal(signal.SIGTERM)
            gw.wait(20)
            assert gw.stderr is not None
            log = gw.stderr.read()
        assert "smpp connection not bound in time: closed" in log
        assert "smpp esme silent: closed" in log
    finally:
        sim.stop()


def test_idle_esme_that_answers_enquire_link_stays(tmp_path: Path) -> None:
    sim = start_sim(tmp_path / "sim.jsonl")
    try:
        with running_proxy(sim.port, idle_timeout=0.3, esme_response_timeout=0.5) as gw:
            esme = RawEsme(gw.port, answer=False)
            try:
                (probe,) = esme.read_requests(1)
                assert probe.command_id == CommandId.ENQUIRE_LINK
                from gateway.smpp.codec import response_for

                esme.sock.sendall(response_for(probe.command_id, probe.sequence_number, 0))
                time.sleep(0.6)
                seq = esme.send(_submit(b"still here"))
                (resp,) = esme.read(1)
                assert (resp.sequence_number, resp.command_status) == (seq, 0)
            finally:
                esme.close()
            assert gw.proxy.counters.idle_closed == 0
            assert gw.proxy.counters.orphan_responses == 0
    finally:
        sim.stop()


def test_connection_caps_refuse_the_flood_not_the_esme(tmp_path: Path) -> None:
    """300 idle sockets from one address take its per-address share only; an ESME
    from another address binds and submits; past max_connections every new one is
    closed at once, and a slot freed is a slot again."""
    sim = start_sim(tmp_path / "sim.jsonl")
    try:
        with running_proxy(sim.port, max_connections=60, max_connections_per_ip=40) as gw:
            flood = []
            for _ in range(300):
                s = socket.socket()
                s.bind(("127.0.0.2", 0))
                s.connect(("127.0.0.1", gw.port))
                flood.append(s)
            time.sleep(0.5)
            assert sum(gw.proxy.per_ip.values()) == 40
            assert gw.proxy.counters.connections_refused == 260
            esme = RawEsme(gw.port)  # from 127.0.0.1: its own share
            seq = esme.send(_submit(b"through"))
            (resp,) = esme.read(1)
            assert (resp.sequence_number, resp.command_status) == (seq, 0)
            more = [socket.create_connection(("127.0.0.1", gw.port)) for _ in range(19)]
            extra = socket.create_connection(("127.0.0.1", gw.port))  # the 61st
            assert _closed_within(extra, 2) < 1.5
            more.pop().close()
            time.sleep(0.3)
            again = socket.create_connection(("127.0.0.1", gw.port))
            again.settimeout(0.5)
            with pytest.raises(TimeoutError):
                again.recv(1)  # open, waiting for a bind
            for s in [*flood, *more, again, extra]:
                s.close()
            esme.close()
    finally:
        sim.stop()


def test_logs_hold_no_bind_password_and_no_redis_password(tmp_path: Path) -> None:
    """A malformed bind is logged without its body (the password is in it); a flood of
    bad PDUs is a few lines, not one a PDU; the Redis URL is logged without its
    password."""
    sim = start_sim(tmp_path / "sim.jsonl")
    port, dead = free_port(), free_port()
    config = gateway_config(tmp_path / "spamgw.toml", port, sim.port, smpp=f"""
[state]
backend = "redis"
redis_url = "redis://:hunter2redis@127.0.0.1:{dead}/0"
""")
    try:
        with gateway_process(config, port) as gw:
            bind = encode(BindTransceiver(sequence_number=1, system_id="acme",
                                          password="pw-s3cret"))
            bad = (len(bind) + 3).to_bytes(4, "big") + bind[4:] + b"XYZ"  # stray bytes
            with socket.create_connection(("127.0.0.1", port)) as s:
                s.sendall(bad * 200)
                s.settimeout(5)
                got = b""
                while len(got) < 200 * 16:
                    got += s.recv(65536)
            time.sleep(0.5)
            gw.send_signal(signal.SIGTERM)
            gw.wait(20)
            assert gw.stderr is not None
            log = gw.stderr.read()
        assert "bad pdu" in log and "redis" in log
        assert "pw-s3cret" not in log and b"pw-s3cret".hex() not in log
        assert "hunter2redis" not in log and ":***@127.0.0.1" in log
        assert log.count('"bad pdu"') <= 2
    finally:
        sim.stop()


def test_an_esme_waiting_on_a_full_window_is_not_idle(tmp_path: Path) -> None:
    """Reading paused by the window is the proxy's choice: the ESME is not silent, and
    is not closed by idle_timeout while its requests wait for the SMSC."""
    sim = start_sim(tmp_path / "sim.jsonl", "--latency-ms", "500")
    try:
        with running_proxy(sim.port, window=1, idle_timeout=0.3,
                           esme_response_timeout=0.3) as gw:
            esme = RawEsme(gw.port)
            try:
                _burst(esme, [_submit(f"q {i}".encode()) for i in range(5)])
                resps = esme.read(5)
            finally:
                esme.close()
            assert [r.command_status for r in resps] == [0] * 5
            assert gw.proxy.counters.idle_closed == 0
    finally:
        sim.stop()
