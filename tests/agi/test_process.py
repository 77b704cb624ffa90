"""The real program: ``python -m gateway run --config`` with the FastAGI service on
loopback, screened by a client that writes Asterisk's bytes."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from agi_support import REPO, asterisk_session, environment_for, load_transcript


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


TOKEN = "agi-process-token"


@contextlib.contextmanager
def gateway(tmp_path: Path, admin_port: int = 0) -> Iterator[int]:
    port = free_port()
    config = tmp_path / "spamgw.toml"
    admin = (f'listen = "127.0.0.1:{admin_port}"\ntoken = "{TOKEN}"\n' if admin_port
             else "enabled = false\n")
    config.write_text(
        f'[agi]\nlisten = "127.0.0.1:{port}"\n'
        f"[admin]\n{admin}"
        f'[quarantine]\npath = "{tmp_path / "q.sqlite3"}"\n'
        "[smpp]\nenabled = false\n"
        f'[rules]\ndir = "{REPO / "rules"}"\n'
        f'[lists]\ndir = "{REPO / "rules" / "lists"}"\n'
        f'[plugins]\ndir = "{REPO / "plugins"}"\n'
        '[log]\nlevel = "warning"\n'
    )
    proc = subprocess.Popen([sys.executable, "-m", "gateway", "run", "--config", str(config)],
                            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for _ in range(300):  # until it listens (bounded: 30 s), or dies
            if proc.poll() is not None:
                assert proc.stderr is not None
                pytest.fail(f"spamgw exited {proc.returncode}: {proc.stderr.read().decode()}")
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(0.1)
        else:
            pytest.fail("spamgw did not start listening")
        yield port
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()


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
