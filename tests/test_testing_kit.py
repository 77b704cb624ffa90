"""gateway.testing, the kit the tests and benchmarks drive a gateway with: its config
writer read back by tomllib and by the gateway's own loader, and one real ``spamgw run``
(SMPP in front of the simulator, FastAGI) driven by the kit's ESME and Asterisk client."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from gateway.config import load_config
from gateway.testing.agi import asterisk_session
from gateway.testing.config import dumps, write_config
from gateway.testing.ports import free_port
from gateway.testing.process import GatewayProcess, GatewayStartError, start_smsc_sim, stop
from gateway.testing.smpp import submit_once

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "agi"))
from agi_support import environment_for  # noqa: E402


def test_free_port_can_be_bound() -> None:
    port = free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))


def test_write_config_reads_back_as_written(tmp_path: Path) -> None:
    sections = {
        "smpp": {"listen": "127.0.0.1:2775", "window": 3, "enabled": True,
                 "upstream": {"address": ["a:1", "b:2"], "connect_timeout": 2.5}},
        "rules": {"dir": tmp_path / "rules"},
        "odd": {"a key": 'quote " and \\ and é', "nested": {"deeper": {"x": -1}}},
    }
    path = write_config(tmp_path / "sub" / "spamgw.toml", **sections)
    got = tomllib.loads(path.read_text())
    assert got == {**sections, "rules": {"dir": str(tmp_path / "rules")}}
    assert '[smpp.upstream]\naddress = ["a:1", "b:2"]' in path.read_text()


def test_write_config_refuses_what_toml_cannot_hold() -> None:
    with pytest.raises(TypeError, match=r"smpp\.listen: cannot write NoneType"):
        dumps({"smpp": {"listen": None}})


def test_a_gateway_config_the_gateway_loads(tmp_path: Path) -> None:
    path = write_config(tmp_path / "spamgw.toml",
                        smpp={"listen": "127.0.0.1:2775",
                              "upstream": {"address": ["127.0.0.1:1", "127.0.0.1:2"]}},
                        agi={"enabled": False})
    cfg = load_config(path)
    assert cfg.smpp.upstream.address == ("127.0.0.1:1", "127.0.0.1:2")
    assert not cfg.agi.enabled


def test_a_gateway_that_cannot_start_says_why(tmp_path: Path) -> None:
    config = write_config(tmp_path / "spamgw.toml", smpp={"no_such_key": 1})
    with pytest.raises(GatewayStartError, match="no_such_key"):
        GatewayProcess(config, free_port(), timeout=30).start()


def test_the_kit_drives_a_real_gateway(tmp_path: Path) -> None:
    sim, sim_port = start_smsc_sim()
    smpp, agi = free_port(), free_port()
    (tmp_path / "no-plugins").mkdir()
    config = write_config(
        tmp_path / "spamgw.toml",
        smpp={"listen": f"127.0.0.1:{smpp}", "upstream": {"address": f"127.0.0.1:{sim_port}"}},
        agi={"listen": f"127.0.0.1:{agi}"}, admin={"enabled": False},
        rules={"dir": ROOT / "rules"}, lists={"dir": ROOT / "rules" / "lists"},
        plugins={"dir": tmp_path / "no-plugins", "missing_symbols": "disable"},
        log={"level": "warning"})
    try:
        with GatewayProcess(config, smpp) as gw:
            assert submit_once(smpp, b"see you at 6") == 0
            env = environment_for("outbound", "+447700900123", "00882123456789", "subscribers")
            result = asyncio.run(asterisk_session(agi, env))
            assert result.closed and result.variables["SPAMGW_ACTION"] == "BLOCK"
            assert gw.stop() == 0
    finally:
        stop(sim)


def test_stop_terms_then_kills() -> None:
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    assert stop(sleeper) == -15  # SIGTERM was enough
    stubborn = subprocess.Popen([sys.executable, "-c",
                                 "import signal, sys, time\n"
                                 "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
                                 "print('ready', flush=True)\ntime.sleep(60)"],
                                stdout=subprocess.PIPE)
    assert stubborn.stdout is not None and stubborn.stdout.readline() == b"ready\n"
    assert stop(stubborn, grace=0.2) == -9 and stubborn.stdout.closed
