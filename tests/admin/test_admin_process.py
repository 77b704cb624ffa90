"""A real ``python -m gateway run`` process: a list change survives kill -9 and a
restart; SIGHUP reloads share the versions the API shows."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from admin_support import AUTH, Site, new_site

from gateway.testing.config import write_config

REPO = Path(__file__).resolve().parents[2]


class Gateway:
    def __init__(self, site: Site) -> None:
        self.site = site
        (site.dir / "no-plugins").mkdir(exist_ok=True)
        self.config = write_config(
            site.dir / "spamgw.toml",
            admin={"listen": "127.0.0.1:0", "token": AUTH["Authorization"].split()[1]},
            smpp={"enabled": False}, agi={"enabled": False},
            rules={"dir": site.rules}, lists={"dir": site.lists},
            plugins={"dir": site.dir / "no-plugins", "missing_symbols": "disable"},
            quarantine={"path": site.dir / "q.sqlite3"}, log={"format": "json"})
        self.proc: subprocess.Popen[str] | None = None
        self.port = 0

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gateway", "run", "--config", str(self.config)],
            cwd=REPO, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
        assert self.proc.stderr is not None
        for line in self.proc.stderr:  # the service logs its port once listening
            if '"admin listening"' in line:
                self.port = int(json.loads(line)["port"])
                return
        raise AssertionError(f"gateway exited with {self.proc.wait()}")

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data,
                                     method=method, headers={**AUTH,
                                                             "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    def kill(self, sig: int = signal.SIGKILL) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        code = self.proc.wait(timeout=20)
        assert self.proc.stderr is not None
        self.proc.stderr.close()
        self.proc = None
        return code


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[Gateway]:
    gw = Gateway(new_site(tmp_path))
    yield gw
    if gw.proc is not None:
        gw.kill()


def test_list_change_survives_kill_9_and_restart(gateway: Gateway) -> None:
    gateway.start()
    status, out = gateway.call("POST", "/v1/lists/blocked_numbers",
                               {"add": ["+447700900321"], "remove": ["+447700900666"]})
    assert status == 200, out
    status, out = gateway.call("POST", "/v1/lists/srs_listed",
                               {"add": ["SPAMCO"], "ttl": 3600})
    assert status == 200, out
    assert gateway.kill(signal.SIGKILL) == -signal.SIGKILL  # no shutdown, no flush
    gateway.start()
    _, hit = gateway.call("GET", "/v1/lists/blocked_numbers/+447700900321")
    assert hit["listed"] and hit["match"] == "exact"
    _, hit = gateway.call("GET", "/v1/lists/blocked_numbers/+447700900666")
    assert not hit["listed"]
    _, v = gateway.call("POST", "/v1/check/sms", {"src": "SpamCo", "dst": "+447700900123",
                                                  "text": "hi"})
    assert v["action"] == "BLOCK" and v["rules"] == ["srs.listed"]
    assert gateway.kill(signal.SIGTERM) == 0  # a clean stop, then a third start
    gateway.start()
    _, hit = gateway.call("GET", "/v1/lists/blocked_numbers/+447700900321")
    assert hit["listed"]


def test_sighup_reload_shows_in_versions(gateway: Gateway) -> None:
    gateway.start()
    _, before = gateway.call("GET", "/v1/rules")
    (gateway.site.rules / "90-extra.toml").write_text(
        '[[rule]]\nid = "extra.kw"\nchannel = "sms"\nwhen.text_keywords = ["zzyzx"]\n'
        'action = "BLOCK"\n')
    assert gateway.proc is not None
    os.kill(gateway.proc.pid, signal.SIGHUP)
    versions: list[dict[str, Any]] = []
    for _ in range(200):  # the reload compiles in a thread; poll for its result
        _, out = gateway.call("GET", "/v1/rules/versions")
        versions = out["versions"]
        if len(versions) == 2:
            break
        time.sleep(0.05)
    assert [v["version"] for v in versions][1] == before["version"]
    status, out = gateway.call("POST", "/v1/rules/rollback", {})
    assert status == 200 and out["version"] == before["version"]


def test_metrics_export_the_running_services_counters(gateway: Gateway) -> None:
    """The FastAGI server's counters reach /metrics: one real screening moves them."""
    import socket

    from prometheus_client.parser import text_string_to_metric_families

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        agi_port = s.getsockname()[1]
    gateway.config.write_text(gateway.config.read_text().replace(
        "[agi]\nenabled = false", f'[agi]\nlisten = "127.0.0.1:{agi_port}"'))
    gateway.start()

    def scrape() -> dict[str, float]:
        req = urllib.request.Request(f"http://127.0.0.1:{gateway.port}/metrics", headers=AUTH)
        with urllib.request.urlopen(req, timeout=10) as r:
            text = r.read().decode()
        return {s.name: s.value for fam in text_string_to_metric_families(text)
                for s in fam.samples}

    # the admin service starts first and logs its port before FastAGI is up and has
    # registered its counters: wait for them
    deadline = time.time() + 10
    while "spamgw_agi_screenings_total" not in (before := scrape()) and time.time() < deadline:
        time.sleep(0.02)
    assert before["spamgw_agi_screenings_total"] == 0
    with socket.create_connection(("127.0.0.1", agi_port), timeout=5) as c:
        c.sendall(b"agi_network: yes\nagi_network_script: outbound\n"
                  b"agi_request: agi://127.0.0.1/outbound\nagi_channel: PJSIP/sub-1\n"
                  b"agi_uniqueid: 1.1\nagi_callerid: +447700900123\n"
                  b"agi_extension: 00882123456789\n\n")
        got = b""
        while got.count(b"\n") < 4:  # the four SET VARIABLEs, then the server half-closes
            chunk = c.recv(4096)
            if not chunk:
                break
            got += chunk
        assert b"SET VARIABLE SPAMGW_ACTION BLOCK" in got
        c.sendall(b"200 result=1\n" * 4)
    deadline = time.time() + 5
    while scrape()["spamgw_agi_screenings_total"] < 1 and time.time() < deadline:
        time.sleep(0.05)
    after = scrape()
    assert after["spamgw_agi_screenings_total"] == 1
    assert after["spamgw_agi_block_total"] == 1
