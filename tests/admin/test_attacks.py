"""The attacks of issue 13's "Why" list, replayed with bounded sizes against one real
gateway process: SMPP proxy (in front of the bundled SMSC simulator), FastAGI and
the admin API, the shipped rules and plugins, small limits. Each test is an attack
and what must still hold after it: the other services answer, /metrics is 200,
nothing bad is accepted, and the gateway is still there.

Other suites hold the details of each limit (tests/smpp/test_smpp_limits.py,
tests/admin/test_hardening.py, tests/agi/test_server.py); this one is the attacker's
walk through a whole process, as CI runs it."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from admin_support import ROOT

sys.path.insert(0, str(ROOT / "tests" / "smpp"))
sys.path.insert(0, str(ROOT / "tests" / "agi"))
from agi_support import environment_for
from smpp_support import RawEsme, Sim, free_port, start_sim

from gateway.smpp.codec import encode
from gateway.smpp.pdu import BindTransceiver
from gateway.testing.agi import asterisk_session
from gateway.testing.config import write_config
from gateway.testing.process import GatewayProcess, wait_port
from gateway.testing.smpp import submit_once

pytestmark = pytest.mark.timeout(120)

TOKEN = "attack-suite-token-5150"
FLOOD_FROM = "127.0.0.2"  # the attacker's address (loopback, its own per-address share)


@dataclass
class Gateway:
    proc: subprocess.Popen[bytes]
    smpp: int
    agi: int
    admin: int
    log: Path
    rules: Path
    sim: Sim

    def http(self, method: str, path: str, body: bytes | None = None,
             headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.admin, timeout=30)
        try:
            conn.request(method, path, body=body, headers={
                "Authorization": f"Bearer {TOKEN}", **(headers or {})})
            r = conn.getresponse()
            return r.status, r.read()
        finally:
            conn.close()

    def alive(self) -> None:
        """The process runs, and every service answers."""
        assert self.proc.poll() is None, self.log.read_text()[-3000:]
        assert self.http("GET", "/healthz")[0] == 200
        status, metrics = self.http("GET", "/metrics")
        assert status == 200 and b"spamgw_" in metrics
        metrics.decode("utf-8")  # strict: valid UTF-8 whatever arrived
        assert _agi_call(self.agi, b"+447700900555", "inbound")["SPAMGW_ACTION"] in (
            "ALLOW", "WARN", "BLOCK")
        assert submit_once(self.smpp, b"still here") == 0

    def log_lines(self) -> list[str]:
        return self.log.read_text(errors="replace").splitlines()


def _agi_call(port: int, callerid: bytes, path: str, *, route: bytes = b"") -> dict[str, str]:
    """One FastAGI screening as Asterisk makes it (``gateway.testing.agi``): the
    environment, then each command answered until the server closes. ``callerid``
    and ``route`` are raw bytes (Asterisk passes what the trunk sent)."""
    env = environment_for(path, "CALLERID", "447700900123", *(["ROUTE"] if route else []))
    env = env.replace(b"CALLERID", callerid).replace(b"agi_arg_1: ROUTE", b"agi_arg_1: " + route)
    return asyncio.run(asterisk_session(port, env)).variables


def _closed(sock: socket.socket, timeout: float = 20.0) -> bool:
    """The server closed ``sock`` (EOF or a reset) within ``timeout``."""
    sock.settimeout(timeout)
    try:
        while sock.recv(4096):
            pass
    except TimeoutError:
        return False
    except OSError:
        return True
    return True


def _connect(port: int, source: str = FLOOD_FROM) -> socket.socket:
    s = socket.socket()
    s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    return s


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    tmp = tmp_path_factory.mktemp("attacks")
    rules = tmp / "rules"
    shutil.copytree(ROOT / "rules", rules)
    sim = start_sim(tmp / "sim.jsonl")
    smpp, agi, admin = free_port(), free_port(), free_port()
    config = write_config(
        tmp / "spamgw.toml",
        smpp={"listen": f"127.0.0.1:{smpp}", "bind_timeout": 1.0, "idle_timeout": 2.0,
              "esme_response_timeout": 1.0, "max_connections": 200,
              "max_connections_per_ip": 20, "upstream": {"address": f"127.0.0.1:{sim.port}"}},
        agi={"listen": f"127.0.0.1:{agi}", "max_connections": 100,
             "max_connections_per_ip": 10},
        admin={"listen": f"127.0.0.1:{admin}", "token": TOKEN, "max_body": 65536},
        rules={"dir": "rules"}, lists={"dir": "rules/lists"}, plugins={"dir": ROOT / "plugins"},
        quarantine={"path": "quarantine.sqlite3"}, log={"level": "info", "format": "json"})
    log = tmp / "gateway.log"
    with log.open("wb") as out:
        process = GatewayProcess(config, smpp, cwd=tmp, stdout=out, stderr=subprocess.STDOUT,
                                 env={"PATH": "/usr/bin:/bin"}, timeout=60)
        process.start()  # then the other two listeners (plugins load first)
    try:
        for port in (agi, admin):
            wait_port(port, process.proc, timeout=60)
        yield Gateway(process.proc, smpp, agi, admin, log, rules, sim)
    finally:
        process.stop(grace=0)
        sim.stop()


def test_silent_sockets_and_a_slowloris_bind_are_closed(gw: Gateway) -> None:
    silent = _connect(gw.smpp)
    slow = _connect(gw.smpp)
    bind = encode(BindTransceiver(sequence_number=1, system_id="acme", password="secret"))
    sent = 0
    with contextlib.suppress(OSError):
        for b in bind[:-1]:  # never the last byte: it would complete the bind
            slow.sendall(bytes([b]))
            sent += 1
            time.sleep(0.2)
    assert _closed(silent) and _closed(slow)
    assert sent < len(bind) - 1  # closed while still sending
    silent.close()
    slow.close()
    gw.alive()
    assert any("smpp connection not bound in time: closed" in line for line in gw.log_lines())


def test_an_idle_socket_flood_takes_its_share_and_no_service_down(gw: Gateway) -> None:
    """Idle sockets from one address on SMPP, FastAGI and admin: past the per-address
    caps they are closed at once; meanwhile the operator's ESME, Asterisk and monitoring
    from other addresses are served; the held ones time out."""
    flood = [_connect(gw.smpp) for _ in range(150)] + [_connect(gw.agi) for _ in range(40)]
    admin_idle = [_connect(gw.admin) for _ in range(20)]
    try:
        gw.alive()
        assert all(_closed(s) for s in flood)  # refused at once or timed out unbound
        gw.alive()
    finally:
        for s in flood + admin_idle:
            s.close()
    log = "\n".join(gw.log_lines())
    assert "smpp connection refused" in log or "connections refused" in log


def test_a_0xff_byte_in_an_agi_argument_and_caller_id_leaves_metrics_200(gw: Gateway) -> None:
    for route, callerid in ((b"trunk-\xff\xfe", b"+447700900555"),
                            (b"ok-trunk", b"+44\xff7700900555"),
                            (b"\xc3(\x80\xed\xa0\x80", b"\xff\xff")):
        variables = _agi_call(gw.agi, callerid, "inbound", route=route)
        assert variables["SPAMGW_ACTION"] in ("ALLOW", "WARN", "BLOCK"), variables
    status, metrics = gw.http("GET", "/metrics")
    assert status == 200
    assert 'route="trunk-\ufffd\ufffd"' in metrics.decode("utf-8")
    gw.alive()


def test_hostile_http_input_is_4xx_never_500(gw: Gateway) -> None:
    cases: list[tuple[str, str, bytes, dict[str, str], tuple[int, ...]]] = [
        ("nested JSON", "/v1/check/sms", b"[" * 50000 + b"]" * 50000, {}, (400, 413)),
        ("nested object", "/v1/check/sms",
         b'{"src": ' + b'{"a": ' * 5000 + b"1" + b"}" * 5000 + b', "dst": "1"}', {}, (400, 413)),
        ("lone surrogate", "/v1/check/sms",
         b'{"src": "+447700900555", "dst": "+447700900123", "text": "\\ud800"}', {}, (400,)),
        ("not JSON", "/v1/check/call", b"\xff\xfe{", {}, (400,)),
        ("over max_body", "/v1/check/sms", b'{"text": "' + b"a" * 200_000 + b'"}', {}, (413,)),
        ("non-ASCII token", "/v1/stats", b"", {"Authorization": "Bearer caf\u00e9"}, (401,)),
        ("wrong token", "/v1/rules/reload", b"", {"Authorization": "Bearer change-me"}, (401,)),
    ]
    for name, path, body, headers, want in cases:
        method = "GET" if path == "/v1/stats" else "POST"
        status, answer = gw.http(method, path, body, headers)
        assert status in want, (name, status, answer[:200])
    for path in ("/static/../../../../etc/passwd", "/static/%2e%2e/%2e%2e/etc/passwd",
                 "/..%2f..%2fetc/passwd"):
        status, answer = gw.http("GET", path)
        assert status in (400, 403, 404) and b"root:" not in answer, path
    gw.alive()


def test_list_entries_with_control_characters_are_refused(gw: Gateway) -> None:
    status, answer = gw.http("POST", "/v1/lists/blocked_senders",
                             json.dumps({"add": ["EVIL\nPAYPAL", "OK-SENDER"]}).encode(),
                             {"Content-Type": "application/json"})
    assert status == 400
    assert [e.split(":")[0] for e in json.loads(answer)["entries"]] == [repr("EVIL\nPAYPAL")]
    for sender in ("PAYPAL", "EVIL", "OK-SENDER"):  # nothing of the batch applied
        status, answer = gw.http("GET", f"/v1/lists/blocked_senders/{sender}")
        assert status == 200 and not json.loads(answer)["listed"], sender
    gw.alive()


def test_a_catastrophic_regex_does_not_stall_the_gateway(gw: Gateway) -> None:
    """``(a+)+$`` backtracks for minutes on Python's re; the reload compiles it with RE2
    (or refuses it), and the message that would trigger it is judged at once."""
    (gw.rules / "99-attack.toml").write_text("""
[[rule]]
id = "attack.redos"
channel = "sms"
direction = "in"
when.text_regex = "(a+)+$"
score = 1
""")
    try:
        status, answer = gw.http("POST", "/v1/rules/reload")
        assert status in (200, 422), answer
        status, answer = gw.http("POST", "/v1/check/sms", json.dumps(
            {"src": "+447700900555", "dst": "+447700900123", "text": "a" * 40 + "!",
             "dry_run": True}).encode(), {"Content-Type": "application/json"})
        assert status == 200, answer
        gw.alive()
    finally:
        (gw.rules / "99-attack.toml").unlink()
        assert gw.http("POST", "/v1/rules/reload")[0] == 200


def test_a_flood_of_malformed_pdus_is_answered_and_logged_a_few_times(gw: Gateway) -> None:
    """Garbage after a good bind: each bad PDU gets generic_nack (or the session is
    closed), the log holds a few lines, not one a PDU, and no bind password."""
    before = len(gw.log_lines())
    esme = RawEsme(gw.smpp, system_id="garbage")
    try:
        bad = b"".join(
            (16).to_bytes(4, "big") + (0x7FFF0000 + i).to_bytes(4, "big") + bytes(4)
            + (i + 100).to_bytes(4, "big") for i in range(300))
        with contextlib.suppress(OSError):
            esme.sock.sendall(bad)
            esme.sock.sendall((12).to_bytes(4, "big") + b"\x00" * 8)  # shorter than a header
        _closed(esme.sock, 5)
    finally:
        esme.close()
    lines = gw.log_lines()[before:]
    assert len(lines) < 30, lines[:40]
    assert not any("secret" in line for line in lines)
    gw.alive()


def test_the_gateway_is_still_the_same_process(gw: Gateway) -> None:
    """Last: nothing above restarted or killed it, and its log has no traceback."""
    gw.alive()
    assert "Traceback" not in gw.log.read_text(errors="replace")
