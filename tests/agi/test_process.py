"""The real program: ``python -m gateway run --config`` with the FastAGI service on
loopback, screened by a client that writes Asterisk's bytes."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from agi_support import REPO, asterisk_session, environment_for, load_transcript


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def gateway(tmp_path: Path) -> Iterator[int]:
    port = free_port()
    config = tmp_path / "spamgw.toml"
    config.write_text(
        f'[agi]\nlisten = "127.0.0.1:{port}"\n'
        "[admin]\nenabled = false\n"
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
