"""The real program: ``python -m gateway run --config`` with the FastAGI service on
loopback, screened by a client that writes Asterisk's bytes."""

from __future__ import annotations

import asyncio
import contextlib
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from agi_support import REPO, asterisk_session, environment_for, load_transcript

from gateway.testing.config import write_config
from gateway.testing.ports import free_port
from gateway.testing.process import GatewayProcess, GatewayStartError

TOKEN = "agi-process-token"


@contextlib.contextmanager
def gateway(tmp_path: Path, admin_port: int = 0) -> Iterator[int]:
    port = free_port()
    admin: dict[str, object] = ({"listen": f"127.0.0.1:{admin_port}", "token": TOKEN}
                                if admin_port else {"enabled": False})
    config = write_config(
        tmp_path / "spamgw.toml", agi={"listen": f"127.0.0.1:{port}"}, admin=admin,
        quarantine={"path": tmp_path / "q.sqlite3"}, smpp={"enabled": False},
        rules={"dir": REPO / "rules"}, lists={"dir": REPO / "rules" / "lists"},
        plugins={"dir": REPO / "plugins"}, log={"level": "warning"})
    gw = GatewayProcess(config, port, cwd=REPO, timeout=30)
    try:
        gw.start()
    except GatewayStartError as e:
        pytest.fail(f"spamgw did not start: {e}")
    try:
        yield port
        assert gw.stop() == 0
    finally:
        gw.stop(grace=0)


def test_running_gateway_screens_asterisk_calls(tmp_path: Path) -> None:
    with gateway(tmp_path) as port:
        async def calls() -> None:
            env = environment_for("outbound", "+447700900123", "00882123456789", "subscribers")
            v = (await asterisk_session(port, env)).variables
            assert v["SPAMGW_ACTION"] == "BLOCK"
            env = environment_for("outbound", "+447700900123", "999", uniqueid="1.2")
            assert (await asterisk_session(port, env)).variables["SPAMGW_ACTION"] == "ALLOW"
            # the recorded Wangiri call and its hangup handler, byte for byte
            screening, ended = load_transcript("wangiri-ring-4s-caller-hangs-up.txt")
            v = (await asterisk_session(port, screening.environment)).variables
            assert v["SPAMGW_ACTION"] == "ALLOW"
            assert (await asterisk_session(port, ended.environment)).commands == []

        asyncio.run(calls())


def test_an_undecodable_trunk_byte_leaves_metrics_working(tmp_path: Path) -> None:
    """An AGI argument with a 0xFF byte is a route label /metrics can still write."""
    admin_port = free_port()
    with gateway(tmp_path, admin_port) as port:
        async def call() -> None:
            env = environment_for("inbound", "+447700900123", "+447700900456", "trunk-X")
            env = env.replace(b"trunk-X", b"trunk-\xff")
            assert (await asterisk_session(port, env)).variables["SPAMGW_ACTION"]

        asyncio.run(call())
        req = urllib.request.Request(f"http://127.0.0.1:{admin_port}/metrics",
                                     headers={"Authorization": f"Bearer {TOKEN}"})
        for _ in range(50):  # the admin app may start after the FastAGI port
            try:
                with urllib.request.urlopen(req, timeout=10) as r:
                    assert r.status == 200
                    text = r.read().decode()
                break
            except ConnectionError:
                time.sleep(0.1)
        assert 'route="trunk-\ufffd"' in text
