"""A short headless locust run against real processes: the SMSC simulator, the
gateway (``python -m gateway run``) in front of it, and ``locust -f
loadtest/locustfile.py`` with its targets in the environment. Bounded by locust's
``-t``; asserts the exit status and the verdict mix in locust's CSV, no timings."""

from __future__ import annotations

import csv
import importlib.util
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.testing.config import write_config
from gateway.testing.ports import free_port
from gateway.testing.process import (
    GatewayProcess,
    GatewayStartError,
    start_smsc_sim,
    stop,
    wait_port,
)

ROOT = Path(__file__).resolve().parents[2]
HAS_AGI = importlib.util.find_spec("gateway.agi.server") is not None
HAS_ADMIN = importlib.util.find_spec("gateway.admin.app") is not None

pytestmark = pytest.mark.timeout(120)

# (type, name) rows every run must have, with no failures anywhere
SMPP_ROWS = ["clean: forwarded", "blocklisted: rejected 0x65", "phishing: rejected 0x65",
             "premium: forwarded", "multipart_clean: forwarded",
             "multipart_spam: rejected 0x65", "bulk: forwarded", "bulk: rejected 0x65",
             "notice: forwarded"]
AGI_ROWS = ["call_clean: ALLOW", "call_blocked: BLOCK", "call_premium: BLOCK",
            "wangiri: ALLOW", "wangiri: BLOCK", "wangiri callback: BLOCK", "/ended: closed"]
HTTP_ROWS = ["clean: ALLOW", "blocklisted: BLOCK", "phishing: BLOCK", "premium: WARN",
             "call_clean: ALLOW", "call_blocked: BLOCK", "call_premium: BLOCK"]


@pytest.fixture()
def gateway(tmp_path: Path) -> Iterator[dict[str, str]]:
    """The simulator and the gateway as real processes; yields locust's environment."""
    sim, sim_port = start_smsc_sim(cwd=ROOT, stderr=subprocess.DEVNULL)
    gw: GatewayProcess | None = None
    try:
        smpp, agi, admin = free_port(), free_port(), free_port()
        config = write_config(
            tmp_path / "gateway.toml",
            smpp={"listen": f"127.0.0.1:{smpp}",
                  "upstream": {"address": f"127.0.0.1:{sim_port}"}},
            agi={"listen": f"127.0.0.1:{agi}"},
            admin={"listen": f"127.0.0.1:{admin}", "token": "locust-token"},
            rules={"dir": ROOT / "rules"}, lists={"dir": ROOT / "rules" / "lists"},
            plugins={"dir": ROOT / "plugins"}, log={"level": "warning"})
        log = tmp_path / "gateway.log"
        with log.open("wb") as out:
            gw = GatewayProcess(config, smpp, cwd=ROOT, stdout=out, stderr=out, timeout=60)
            try:
                gw.start()
                env = {"SPAMGW_SMPP": f"127.0.0.1:{smpp}"}
                if HAS_AGI:
                    wait_port(agi, gw.proc, timeout=60)
                    env["SPAMGW_AGI"] = f"127.0.0.1:{agi}"
                if HAS_ADMIN:
                    wait_port(admin, gw.proc, timeout=60)
                    env |= {"SPAMGW_ADMIN": f"http://127.0.0.1:{admin}",
                            "SPAMGW_TOKEN": "locust-token"}
            except GatewayStartError as e:
                raise AssertionError(f"{e}\n{log.read_text()[-3000:]}") from None
        yield env
    finally:
        if gw is not None:
            gw.stop()
        stop(sim)


def test_headless_run_gets_the_expected_verdict_mix(gateway: dict[str, str],
                                                    tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPAMGW_")} | gateway
    prefix = tmp_path / "run"
    users = 3 + 2 * HAS_AGI + HAS_ADMIN  # weights 3:2:1, at least one of each
    proc = subprocess.run(
        [sys.executable, "-m", "locust", "-f", "loadtest/locustfile.py", "--headless",
         "-u", str(users), "-r", str(users), "-t", "10s", "--stop-timeout", "5",
         "--exit-code-on-error", "1", "--csv", str(prefix), "--only-summary",
         "--loglevel", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=90)
    report = proc.stdout[-6000:] + proc.stderr[-6000:]
    assert proc.returncode == 0, report
    with open(f"{prefix}_stats.csv", newline="") as f:
        rows = {(r["Type"], r["Name"]): r for r in csv.DictReader(f)}
    failures = {k: r["Failure Count"] for k, r in rows.items() if int(r["Failure Count"])}
    assert not failures, report
    expected = [("SMPP", n) for n in SMPP_ROWS]
    if HAS_AGI:
        expected += [("FastAGI", n) for n in AGI_ROWS]
    if HAS_ADMIN:
        expected += [("POST", n) for n in HTTP_ROWS]
    missing = [k for k in expected if k not in rows or not int(rows[k]["Request Count"])]
    assert not missing, report
