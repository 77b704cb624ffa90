"""Upstream pools on real sockets: ``[smpp.upstream] address`` listing two simulators.
Binds alternate between them; a stopped one gets no new binds (what was in flight on
it is answered 0x58, as with one SMSC) until its health check passes again; the
per-SMSC state is on ``/metrics``; the pool is validated with its path."""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import smpplib.client
import smpplib.exceptions
from smpp_support import (
    ADMIN_TOKEN,
    Esme,
    RunningProxy,
    Sim,
    esme,
    free_port,
    gateway_config,
    gateway_process,
    running_proxy,
    start_sim,
)

from gateway.config import ConfigError, parse_config
from gateway.smpp.codec import decode
from gateway.smpp.upstreams import Pool

CLEAN_SRC, DST = "447700900123", "447700900456"


@pytest.fixture
def sims(tmp_path: Path) -> Iterator[list[Sim]]:
    pool = [start_sim(tmp_path / "a.jsonl"), start_sim(tmp_path / "b.jsonl")]
    try:
        yield pool
    finally:
        for s in pool:
            s.stop()


def systems(sim: Sim) -> list[str]:
    """The system_ids the simulator received messages from, in order."""
    return [r["system_id"] for r in sim.records("received")]


def send_one(e: Esme, text: bytes = b"hello through the pool") -> None:
    e.submit(CLEAN_SRC, DST, text)
    e.read_until(lambda: len(e.sent) == 1)
    assert e.sent[0].status == 0


def wait_until(check: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def pool_state(gw: RunningProxy) -> list[tuple[bool, int]]:
    return gw.call(lambda: [(m.up, m.binds) for m in gw.proxy.pool.members])


def test_binds_alternate_between_the_smscs_of_a_pool(sims: list[Sim]) -> None:
    a, b = sims
    with running_proxy((a.port, b.port)) as gw:
        with esme(gw.port, "e0") as e0, esme(gw.port, "e1") as e1, \
                esme(gw.port, "e2") as e2, esme(gw.port, "e3") as e3:
            for e in (e0, e1, e2, e3):
                send_one(e)
            assert pool_state(gw) == [(True, 2), (True, 2)]
        a.wait_for("received", 2)
        b.wait_for("received", 2)
        assert systems(a) == ["e0", "e2"] and systems(b) == ["e1", "e3"]
        wait_until(lambda: pool_state(gw) == [(True, 0), (True, 0)], "binds closed")


def test_a_dead_smsc_is_skipped_until_its_health_check_passes(tmp_path: Path) -> None:
    a = start_sim(tmp_path / "a.jsonl", "--latency-ms", "30000")  # holds what it gets
    b = start_sim(tmp_path / "b.jsonl")
    texts = [f"in flight {i}".encode() for i in range(3)]
    try:
        with running_proxy((a.port, b.port), health_interval=0.1) as gw:
            with esme(gw.port, "held") as e:  # the first bind goes to a
                for t in texts:
                    e.submit(CLEAN_SRC, DST, t)
                a.wait_for("received", 3)
                a.kill()
                e.read_until(lambda: len(e.sent) == 3 and e.unbound)
                assert [p.status for p in e.sent] == [0x58] * 3  # as with one SMSC
            with esme(gw.port, "held") as e:  # resent: it goes to b, once each
                for t in texts:
                    e.submit(CLEAN_SRC, DST, t)
                e.read_until(lambda: len(e.sent) == 3)
                assert [p.status for p in e.sent] == [0] * 3
            for i in range(4):  # a refuses: marked down, every new bind goes to b
                with esme(gw.port, f"late{i}") as e:
                    send_one(e)
            assert pool_state(gw)[0][0] is False
            assert gw.proxy.counters.temp_errors == 3
            a.stop()
            a = start_sim(tmp_path / "a.jsonl", port=a.port)  # back, on the same port
            wait_until(lambda: pool_state(gw)[0][0], "the health check found a up")
            with esme(gw.port, "again0") as e0, esme(gw.port, "again1") as e1:
                send_one(e0)
                send_one(e1)
        assert systems(a) == ["held"] * 3 + ["again0"]
        assert systems(b) == ["held"] * 3 + [f"late{i}" for i in range(4)] + ["again1"]
        resent = [decode(bytes.fromhex(r["pdu"])) for r in b.records("accepted")[:3]]
        assert sorted(getattr(p, "short_message", b"") for p in resent) == texts
    finally:
        a.stop()
        b.stop()


def test_when_every_smsc_is_down_the_bind_fails_as_with_one(sims: list[Sim]) -> None:
    a, b = sims
    with running_proxy((a.port, b.port), health_interval=60.0) as gw:
        a.kill()
        b.kill()
        for _ in range(3):  # the first tries both, the next ones one each
            client = smpplib.client.Client("127.0.0.1", gw.port, timeout=10,
                                           allow_unknown_opt_params=True)
            client.connect()
            with pytest.raises(smpplib.exceptions.PDUError, match=r"\(13\)"):
                client.bind_transceiver(system_id="x", password="y")
            client.disconnect()
        assert pool_state(gw) == [(False, 0), (False, 0)]
        assert gw.call(lambda: [m.failures for m in gw.proxy.pool.members]) == [2, 2]


def metrics(port: int) -> str:
    req = urllib.request.Request(f"http://127.0.0.1:{port}/metrics",
                                 headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return str(r.read().decode())


def test_the_pool_from_toml_and_its_state_on_metrics(tmp_path: Path, sims: list[Sim]) -> None:
    a, b = sims
    port, admin = free_port(), free_port()
    config = gateway_config(tmp_path / "spamgw.toml", port, a.port, admin_port=admin)
    one = f'address = "127.0.0.1:{a.port}"'
    pool = f'address = ["127.0.0.1:{a.port}", "127.0.0.1:{b.port}"]\nhealth_interval = 60'
    config.write_text(config.read_text().replace(one, pool))
    with gateway_process(config, port) as gw:
        with esme(port, "m0") as e0, esme(port, "m1") as e1:
            send_one(e0)
            send_one(e1)
            text = metrics(admin)
            for sim in (a, b):
                assert f'spamgw_smpp_upstream_up{{address="127.0.0.1:{sim.port}"}} 1.0' in text
                assert f'spamgw_smpp_upstream_binds{{address="127.0.0.1:{sim.port}"}} 1.0' in text
        b.kill()
        for i in range(2):
            with esme(port, f"n{i}") as e:
                send_one(e)
        text = metrics(admin)
        assert f'spamgw_smpp_upstream_up{{address="127.0.0.1:{b.port}"}} 0.0' in text
        assert f'spamgw_smpp_upstream_up{{address="127.0.0.1:{a.port}"}} 1.0' in text
        assert "spamgw_smpp_upstream_connect_failures_total 1.0" in text
        gw.terminate()
        gw.wait(30)
    assert systems(a) == ["m0", "n0", "n1"] and systems(b) == ["m1"]


@pytest.mark.parametrize(("address", "message"), [
    (["127.0.0.1:2776", "smsc-b"], r"smpp.upstream.address\[1\]: expected HOST:PORT"),
    (["127.0.0.1:2776", 2777], r"smpp.upstream.address\[1\]: expected a string"),
    (["a:1", "a:1"], r"smpp.upstream.address\[1\]: 'a:1' is listed twice"),
    ([], r"smpp.upstream.address: an empty array"),
    (2775, r"smpp.upstream.address: expected a string, got 2775"),
])
def test_pool_mistakes_name_their_path(address: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config({"smpp": {"upstream": {"address": address}}})


def test_one_address_stays_a_string_and_a_pool_of_one() -> None:
    upstream = parse_config({"smpp": {"upstream": {"address": "smsc:2775"}}}).smpp.upstream
    assert upstream.address == "smsc:2775" and upstream.addresses == ("smsc:2775",)
    pool = parse_config({"smpp": {"upstream": {"address": ["a:1", "b:2"]}}}).smpp.upstream
    assert pool.addresses == ("a:1", "b:2")
    with pytest.raises(ConfigError, match=r"smpp.upstream.health_interval: must be positive"):
        parse_config({"smpp": {"upstream": {"health_interval": 0}}})


def test_round_robin_over_the_healthy_ones() -> None:
    pool = Pool(["a:1", "b:2", "c:3"])
    a, b, c = pool.members
    assert [pool.candidates()[0] for _ in range(4)] == [a, b, c, a]
    pool.failed(b)
    assert [pool.candidates()[0] for _ in range(4)] == [c, a, c, a]
    assert pool.candidates() == [c, a]  # c's turn; a after it if c fails
    pool.failed(a)
    pool.failed(c)
    assert [pool.candidates() for _ in range(3)] == [[a], [b], [c]]  # none up: one, in turn
    assert pool.connected(c) is True and pool.candidates() == [c]
