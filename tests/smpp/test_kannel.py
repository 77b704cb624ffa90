"""A real ESME: Kannel 1.4.5 (Debian's bearerbox + smsbox, the configuration the
recordings in tests/data came from) bound through ``spamgw run`` to the simulator.

What an operator would check before putting spamgw in front of an aggregator:
Kannel's messages arrive intact, a blocked sender's message never reaches the SMSC,
and a message in flight when the SMSC dies is answered ESME_RTHROTTLED, kept by
Kannel and delivered exactly once when the SMSC is back.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from smpp_support import ROOT, Sim, free_port, gateway_config, start_sim

from gateway.smpp.codec import decode
from gateway.smpp.pdu import SubmitSm

_SBIN = "/usr/sbin:/usr/local/sbin"
BEARERBOX = shutil.which("bearerbox") or shutil.which("bearerbox", path=_SBIN)
SMSBOX = shutil.which("smsbox") or shutil.which("smsbox", path=_SBIN)

pytestmark = [
    pytest.mark.skipif(BEARERBOX is None or SMSBOX is None,
                       reason="Debian's kannel is not installed (.ci/run installs it)"),
    pytest.mark.timeout(120),
]


def wait_port(port: int, proc: subprocess.Popen[bytes], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        if proc.poll() is not None:
            raise AssertionError(f"{what} exited with {proc.returncode}")
        time.sleep(0.05)
    raise AssertionError(f"{what} did not open port {port}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@contextlib.contextmanager
def running(cmd: list[str], cwd: Path, log: Path, env: dict[str, str] | None = None
            ) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, env=env)
        try:
            yield proc
        finally:
            stop(proc)


def kannel_conf(tmp: Path, smsc_port: int, admin: int, box: int, sendsms: int) -> Path:
    """The recorded kannel.conf, with this test's ports and paths, a short reconnect
    delay and a short resend frequency (Kannel's default is 60 s: a message answered
    0x58 is re-queued and resent that much later)."""
    (tmp / "store").mkdir()
    conf = tmp / "kannel.conf"
    conf.write_text(f"""
group = core
admin-port = {admin}
admin-password = adm
smsbox-port = {box}
log-file = "{tmp / 'bearerbox.log'}"
log-level = 0
box-allow-ip = "127.0.0.1"
admin-allow-ip = "127.0.0.1"
store-type = file
store-location = "{tmp / 'store' / 'kannel.store'}"
sms-resend-freq = 2

group = smsc
smsc = smpp
smsc-id = gw
host = 127.0.0.1
port = {smsc_port}
receive-port = 0
transceiver-mode = true
smsc-username = acme
smsc-password = secret
system-type = ""
address-range = ""
enquire-link-interval = 30
max-pending-submits = 10
reconnect-delay = 1
source-addr-ton = 1
source-addr-npi = 1
dest-addr-ton = 1
dest-addr-npi = 1

group = smsbox
bearerbox-host = 127.0.0.1
sendsms-port = {sendsms}
log-file = "{tmp / 'smsbox.log'}"
log-level = 0

group = sendsms-user
username = u
password = p
max-messages = 10
concatenation = true

group = sms-service
keyword = default
text = "ok"
catch-all = true
max-messages = 0
""")
    return conf


def sendsms(port: int, src: str, dst: str, text: str) -> str:
    query = urllib.parse.urlencode({"username": "u", "password": "p", "from": src,
                                    "to": dst, "text": text})
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/cgi-bin/sendsms?{query}",
                                timeout=10) as r:
        return r.read().decode()


def texts(sim: Sim, event: str = "accepted") -> list[tuple[str, bytes]]:
    out = []
    for row in sim.records(event):
        pdu = decode(bytes.fromhex(row["pdu"]))
        assert isinstance(pdu, SubmitSm)
        out.append((pdu.source_addr, pdu.short_message))
    return out


def wait_text(sim: Sim, text: bytes, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(t == text for _, t in texts(sim)):
            return
        time.sleep(0.05)
    raise AssertionError(f"{text!r} never reached the simulator; got {texts(sim)}")


def test_kannel_through_spamgw(tmp_path: Path) -> None:
    sim_port, gw_port = free_port(), free_port()
    admin, box, send = free_port(), free_port(), free_port()
    sim = start_sim(tmp_path / "sim1.jsonl", "--latency-ms", "300", port=sim_port)
    config = gateway_config(tmp_path / "spamgw.toml", gw_port, sim_port)
    conf = kannel_conf(tmp_path, gw_port, admin, box, send)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    try:
        with running([sys.executable, "-m", "gateway", "run", "--config", str(config)],
                     tmp_path, tmp_path / "gateway.log", env=env) as gw:
            wait_port(gw_port, gw, "spamgw")
            with running([str(BEARERBOX), str(conf)], tmp_path, tmp_path / "bb.out") as bb:
                wait_port(box, bb, "bearerbox")  # smsbox gives up if bearerbox is not there
                with running([str(SMSBOX), str(conf)], tmp_path, tmp_path / "sb.out") as sb:
                    wait_port(send, sb, "smsbox")
                    kannel_scenarios(sim_port, send, tmp_path, sim, bb, gw)
    finally:
        sim.stop()


def kannel_scenarios(sim_port: int, send: int, tmp_path: Path, sim: Sim,
                     bb: subprocess.Popen[bytes], gw: subprocess.Popen[bytes]) -> None:
    """The three checks, with Kannel, spamgw and the simulator running."""
    sim2: Sim | None = None
    try:
        assert bb.poll() is None
        # 1. a clean message arrives, its text intact
        assert "Accepted" in sendsms(send, "447700900123", "447700900456",
                                     "hello from kannel")
        wait_text(sim, b"hello from kannel")
        # 2. a blocked sender is answered 0x65 and never reaches the SMSC;
        #    a clean message after it shows the link went on working
        sendsms(send, "447700900666", "447700900456", "from a blocked number")
        sendsms(send, "447700900123", "447700900456", "after the blocked one")
        wait_text(sim, b"after the blocked one")
        assert all(src != "447700900666" for src, _ in texts(sim, "received"))
        # 3. the SMSC dies with a message in flight (the simulator holds each
        #    answer 300 ms): spamgw answers it 0x58, Kannel keeps it, and it is
        #    delivered once the SMSC is back
        sendsms(send, "447700900123", "447700900456", "in flight when the SMSC died")
        deadline = time.monotonic() + 10
        while not any(t == b"in flight when the SMSC died"
                      for _, t in texts(sim, "received")):
            assert time.monotonic() < deadline, "never reached the simulator"
            time.sleep(0.005)
        sim.kill()
        assert not any(t == b"in flight when the SMSC died" for _, t in texts(sim))
        time.sleep(1.0)
        sim2 = start_sim(tmp_path / "sim2.jsonl", port=sim_port)
        wait_text(sim2, b"in flight when the SMSC died", timeout=60)
        # what Kannel itself logged receiving for it: ESME_RTHROTTLED, not a final error
        assert "command_status: 88 = 0x00000058" in (tmp_path / "bb.out").read_text()
        # exactly once: nothing more arrives for it
        time.sleep(3.0)
        delivered = [t for _, t in texts(sim) + texts(sim2)
                     if t == b"in flight when the SMSC died"]
        assert delivered == [b"in flight when the SMSC died"]
        assert bb.poll() is None and gw.poll() is None
    finally:
        if sim2 is not None:
            sim2.stop()
