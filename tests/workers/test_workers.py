"""``spamgw run --workers 2`` as real processes: a supervisor, two workers sharing the
SMPP port (SO_REUSEPORT) in front of the bundled SMSC simulator, one redis-server.
Which worker answered is read from worker 0's host-wide /metrics
(``spamgw_worker_events{worker}``, ``spamgw_worker_info{worker,pid}``)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from workers_support import (
    BLOCKED,
    ESME_RX_R_APPN,
    LIST_RULE,
    ROOT,
    TOKEN,
    Host,
    esme,
    journal_lines,
    running_host,
    spread,
    submit,
    write_host,
)

from gateway.config import ConfigError, parse_config
from gateway.engine.loader import parse_rules_dir


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory, redis_url: str, sim: int
         ) -> Iterator[Host]:
    with running_host(tmp_path_factory.mktemp("host"), redis_url, sim) as h:
        yield h


def test_two_workers_share_the_smpp_port(host: Host) -> None:
    grown = spread(host, "447700901000", expect=0)
    assert sorted(grown) == ["0", "1"] and all(v > 0 for v in grown.values()), grown
    pids = host.pids()
    assert len(set(pids.values())) == 2 and host.proc.pid not in pids.values()
    for pid in pids.values():
        os.kill(pid, 0)  # alive
    # the host view sums the workers: the total is what both judged
    total = sum(v for _, v in host.samples("spamgw_events_total"))
    assert total == sum(host.by_worker("spamgw_worker_events_total").values())
    status, body = host.http("GET", "/v1/stats?window=3600")
    assert status == 200
    stats = json.loads(body)
    assert {w["worker"] for w in stats["workers"]} == {0, 1}
    assert stats["lifetime"]["events"][0]["count"] >= 2
    # what is the same on every worker is not added up
    assert stats["engine"]["rules"] == host.by_worker("spamgw_ruleset_rules")["1"]
    assert stats["reports"]["threshold"] == 3


def test_the_dashboard_stream_shows_the_host(host: Host) -> None:
    assert submit(host.smpp, "447700905000") == 0
    req = urllib.request.Request(f"http://127.0.0.1:{host.admin}/v1/stats/stream?window=3600",
                                 headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        line = b""
        while not line.startswith(b"data: "):
            line = resp.readline()
    frame = json.loads(line[6:])
    assert {w["worker"] for w in frame["workers"]} == {0, 1}
    # nothing was sent since: the frame's hour is every decision both workers made
    assert frame["window"]["totals"]["events"] == sum(
        host.by_worker("spamgw_worker_events_total").values()) > 0
    assert "lifetime" not in frame


def test_list_edit_through_the_api_blocks_on_every_worker(host: Host) -> None:
    assert submit(host.smpp, BLOCKED) == 0
    status, body = host.http("POST", "/v1/lists/blocked_numbers", {"add": [f"+{BLOCKED}"]})
    assert status == 200, body
    host.wait_for("the edit on both workers", lambda: host.by_worker(
        "spamgw_list_entries", list="blocked_numbers") == {"0": 2.0, "1": 2.0})
    grown = spread(host, BLOCKED, expect=ESME_RX_R_APPN)
    assert sorted(grown) == ["0", "1"] and all(v > 0 for v in grown.values()), grown
    # journaled once on this host (worker 0 made it; worker 1 only applied it)
    lines = journal_lines(host.root, BLOCKED)
    assert len(lines) == 1, lines


def test_every_calls_ended_reaches_the_worker_that_screened_it(host: Host) -> None:
    """Each FastAGI session is a new connection, as Asterisk makes them: were the port
    shared, the kernel would give a call's /inbound and its /ended to different
    workers about half the time, and the second could not match the first."""
    import asyncio
    import re
    import tomllib

    sys.path.insert(0, str(ROOT / "tests" / "agi"))
    from agi_support import asterisk_session, environment_for

    config = tomllib.loads((host.root / "spamgw.toml").read_text())
    port = int(re.sub(r".*:", "", config["agi"]["listen"]))
    before = host.samples("spamgw_agi_ended_total")

    async def calls(n: int) -> None:
        for i in range(n):
            uid = f"1795361515.{900 + i}"
            screened = await asterisk_session(port, environment_for(
                "inbound", f"+3361234{i:04d}", "+447700900123", uniqueid=uid))
            assert screened.variables.get("SPAMGW_ACTION") == "ALLOW", screened
            await asterisk_session(port, environment_for(
                "ended", f"+3361234{i:04d}", "+447700900123", "NOANSWER", "4", "0",
                uniqueid=uid))

    asyncio.run(calls(24))

    def total(name: str) -> float:
        return sum(v for _, v in host.samples(name))

    host.wait_for("the /ended reports counted", lambda: total("spamgw_agi_ended_total")
                  >= sum(v for _, v in before) + 24)
    assert total("spamgw_agi_ended_unmatched_total") == 0
    # FastAGI is worker 0's alone: worker 1 has no FastAGI server to report
    assert set(host.by_worker("spamgw_agi_ended_total")) == {"0"}


def test_a_large_edit_reaches_every_worker(host: Host) -> None:
    """Thousands of entries in one change: encoded, sent and applied in pieces."""
    before = host.by_worker("spamgw_list_entries", list="blocked_numbers")
    numbers = [f"+4420790{i:05d}" for i in range(5000)]
    status, body = host.http("POST", "/v1/lists/blocked_numbers", {"add": numbers})
    assert status == 200, body
    host.wait_for("the large edit on both workers", lambda: host.by_worker(
        "spamgw_list_entries", list="blocked_numbers") == {
            w: n + 5000 for w, n in before.items()})
    status, body = host.http("POST", "/v1/lists/blocked_numbers", {"remove": numbers})
    assert status == 200, body
    host.wait_for("the removal on both workers", lambda: host.by_worker(
        "spamgw_list_entries", list="blocked_numbers") == before)


def test_rule_changes_reach_every_worker(host: Host) -> None:
    rules = host.root / "rules"

    def versions() -> set[str]:
        return {lab["version"] for lab, _ in host.samples("spamgw_ruleset_info")}

    # SIGHUP to the supervisor: every worker reloads
    (rules / "extra.toml").write_text(LIST_RULE.replace("test.blocked_source", "test.hup"))
    hup = parse_rules_dir(rules)[2]
    assert versions() != {hup}
    os.kill(host.proc.pid, signal.SIGHUP)
    host.wait_for("SIGHUP reload on both", lambda: versions() == {hup} and len(
        host.by_worker("spamgw_ruleset_info", version=hup)) == 2)
    # a reload through the admin API (worker 0) reaches worker 1 through the stream
    (rules / "extra.toml").write_text(LIST_RULE.replace("test.blocked_source", "test.api"))
    status, body = host.http("POST", "/v1/rules/reload")
    assert status == 200, body
    api = json.loads(body)["version"]
    assert api == parse_rules_dir(rules)[2] != hup
    host.wait_for("API reload on both", lambda: len(
        host.by_worker("spamgw_ruleset_info", version=api)) == 2)


def test_a_killed_worker_is_restarted_and_the_port_keeps_answering(host: Host) -> None:
    before = host.pids()
    os.kill(before["1"], signal.SIGKILL)
    # once it is gone (the supervisor counted it; binds that were waiting in its
    # accept queue are lost with it), the port answers whether or not it is back yet
    host.wait_for("the death counted", lambda: host.samples(
        "spamgw_worker_restarts_total")[0][1] == 1)
    for _ in range(4):
        assert submit(host.smpp, "447700902000") == 0
    host.wait_for("worker 1 back", lambda: host.answering() and host.pids().get("1") not in
                  (None, before["1"]))
    assert host.pids()["0"] == before["0"]
    assert '"worker died: restarting"' in host.log.read_text()
    grown = spread(host, "447700903000", expect=0)
    assert all(v > 0 for v in grown.values()) and len(grown) == 2, grown


def test_sigterm_drains_every_worker(tmp_path: Path, redis_url: str, sim: int) -> None:
    with running_host(tmp_path, redis_url, sim) as h:
        pids = h.pids()
        with esme(h.smpp) as e:
            e.submit("447700904000", "447700900123", b"hello")
            e.read_until(lambda: len(e.sent) == 1)
            h.proc.send_signal(signal.SIGTERM)
            e.read_until(lambda: e.unbound)  # the worker it reached unbinds it
        assert h.proc.wait(60) == 0
    for pid in pids.values():
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    text = h.log.read_text()
    assert text.count('"worker stopped"') == 2 and '"supervisor stopped"' in text


def test_more_than_one_worker_with_memory_counters_is_refused(tmp_path: Path) -> None:
    cfg, _smpp, _admin = write_host(tmp_path, "redis://127.0.0.1:1/0", 1, backend="memory")
    res = subprocess.run([sys.executable, "-m", "gateway", "run", "--config", str(cfg),
                          "--workers", "2"], cwd=ROOT, capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 2
    assert "gateway.workers: 2 workers need shared counters" in res.stderr
    assert 'backend = "redis"' in res.stderr


def test_a_port_already_in_use_is_refused(tmp_path: Path) -> None:
    cfg, smpp, _admin = write_host(tmp_path, "redis://127.0.0.1:1/0", 1)
    with socket.create_server(("127.0.0.1", smpp)):  # say, a spamgw started before
        res = subprocess.run([sys.executable, "-m", "gateway", "run", "--config", str(cfg),
                              "--workers", "2"], cwd=ROOT, capture_output=True, text=True,
                             timeout=60)
    assert res.returncode == 2
    assert f"smpp.listen: 127.0.0.1:{smpp} is already in use" in res.stderr


def test_workers_setting() -> None:
    from gateway.supervisor import cores, worker_count

    assert parse_config({"gateway": {"workers": "auto"}}).gateway.workers == "auto"
    assert worker_count("auto") == cores()
    assert worker_count(parse_config({"gateway": {"workers": 3}}).gateway.workers) == 3
    for bad in (0, -1, "many", 1.5, True):
        with pytest.raises(ConfigError, match=r"gateway\.workers"):
            parse_config({"gateway": {"workers": bad}})
