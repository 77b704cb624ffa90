"""``spamgw run --workers 2`` as real processes: a supervisor, two workers sharing the
SMPP port (SO_REUSEPORT) in front of the bundled SMSC simulator, one redis-server.
Which worker answered is read from worker 0's host-wide /metrics
(``spamgw_worker_events{worker}``, ``spamgw_worker_info{worker,pid}``)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "state"))
sys.path.insert(0, str(ROOT / "tests" / "smpp"))
from redis_support import RULES, RedisServer, free_port  # noqa: E402
from smpp_support import esme, start_sim  # noqa: E402

from gateway.config import ConfigError, parse_config  # noqa: E402
from gateway.engine.loader import parse_rules_dir  # noqa: E402

TOKEN = "workers-test-token-7c1"
BLOCKED = "447700900666"
LIST_RULE = """
[[rule]]
id = "test.blocked_source"
channel = "sms"
direction = "any"
when.src_in = "blocked_numbers"
action = "BLOCK"
"""
ESME_RX_R_APPN = 0x65


def write_host(root: Path, redis_url: str, upstream: int, *, backend: str = "redis"
               ) -> tuple[Path, int, int]:
    """Rules, lists and a config for a host; returns (config, smpp port, admin port)."""
    for d in ("rules", "lists", "plugins"):
        (root / d).mkdir(parents=True, exist_ok=True)
    (root / "rules" / "test.toml").write_text(RULES + LIST_RULE)
    (root / "lists" / "blocked_numbers.txt").write_text("+447700900999\n")
    smpp, admin = free_port(), free_port()
    cfg = root / "spamgw.toml"
    cfg.write_text(
        f'[rules]\ndir = "rules"\n[lists]\ndir = "lists"\n[plugins]\ndir = "plugins"\n'
        f'[state]\nbackend = "{backend}"\nredis_url = "{redis_url}"\n'
        f'redis_prefix = "w{os.getpid()}{root.name}:"\n'
        f'[smpp]\nlisten = "127.0.0.1:{smpp}"\n'
        f'[smpp.upstream]\naddress = "127.0.0.1:{upstream}"\n'
        f'[agi]\nlisten = "127.0.0.1:{free_port()}"\n'
        f'[admin]\nlisten = "127.0.0.1:{admin}"\ntoken = "{TOKEN}"\n'
        '[log]\nlevel = "info"\nformat = "json"\n')
    return cfg, smpp, admin


@dataclass
class Host:
    proc: subprocess.Popen[bytes]
    smpp: int
    admin: int
    root: Path
    log: Path

    def http(self, method: str, path: str, body: object = None) -> tuple[int, bytes]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"http://127.0.0.1:{self.admin}{path}", data=data,
                                     method=method,
                                     headers={"Authorization": f"Bearer {TOKEN}",
                                              "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def samples(self, name: str) -> list[tuple[dict[str, str], float]]:
        status, body = self.http("GET", "/metrics")
        assert status == 200, body
        return [(s.labels, s.value)
                for fam in text_string_to_metric_families(body.decode())
                for s in fam.samples if s.name == name]

    def by_worker(self, name: str, **labels: str) -> dict[str, float]:
        return {lab["worker"]: v for lab, v in self.samples(name)
                if all(lab.get(k) == want for k, want in labels.items())}

    def pids(self) -> dict[str, int]:
        return {lab["worker"]: int(lab["pid"]) for lab, _ in self.samples("spamgw_worker_info")
                if lab.get("pid")}

    def wait_for(self, what: str, done: Callable[[], bool], seconds: float = 60) -> None:
        """Start-up and propagation waits: poll until ``done`` (not a timed assertion:
        the bound only stops a broken build from hanging)."""
        deadline = time.monotonic() + seconds
        while not done():
            assert self.proc.poll() is None, self.log.read_text()[-3000:]
            assert time.monotonic() < deadline, f"{what}: not seen\n{self.log.read_text()[-3000:]}"
            time.sleep(0.1)

    def answering(self) -> bool:
        try:
            return self.samples("spamgw_workers_answering")[0][1] == 2
        except (OSError, AssertionError, IndexError):
            return False


@contextlib.contextmanager
def running_host(root: Path, redis_url: str, upstream: int) -> Iterator[Host]:
    cfg, smpp, admin = write_host(root, redis_url, upstream)
    log = root / "spamgw.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "gateway", "run", "--config",
                                 str(cfg), "--workers", "2"], cwd=ROOT, stdout=out,
                                stderr=subprocess.STDOUT,
                                env={**os.environ, "PYTHONPATH": str(ROOT)})
    host = Host(proc, smpp, admin, root, log)
    try:
        host.wait_for("two workers answering", host.answering)
        yield host
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    s = start_sim(tmp_path_factory.mktemp("sim") / "sim.jsonl")
    try:
        yield s.port
    finally:
        s.stop()


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory, redis_url: str, sim: int
         ) -> Iterator[Host]:
    with running_host(tmp_path_factory.mktemp("host"), redis_url, sim) as h:
        yield h


def submit(port: int, src: str, dst: str = "447700900123") -> int:
    """One bind (a new connection: the kernel picks the worker), one submit_sm."""
    with esme(port) as e:
        e.submit(src, dst, b"hello")
        e.read_until(lambda: len(e.sent) == 1)
        return int(e.sent[0].status)


def spread(host: Host, src: str, expect: int) -> dict[str, float]:
    """New binds until both workers judged at least one of them; every submit_sm is
    answered ``expect``. Returns the events each worker judged meanwhile."""
    before = host.by_worker("spamgw_worker_events_total")
    grown: dict[str, float] = {}
    for n in range(64):  # one worker taking 64 binds in a row: 2**-63
        sender = src if src == BLOCKED else f"{src[:-2]}{n:02d}"  # under the rate rule
        assert submit(host.smpp, sender) == expect
        after = host.by_worker("spamgw_worker_events_total")
        grown = {w: after[w] - before.get(w, 0) for w in after}
        if len(grown) == 2 and all(v > 0 for v in grown.values()):
            break
    return grown


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


def test_list_edit_through_the_api_blocks_on_every_worker(host: Host) -> None:
    assert submit(host.smpp, BLOCKED) == 0
    status, body = host.http("POST", "/v1/lists/blocked_numbers", {"add": [f"+{BLOCKED}"]})
    assert status == 200, body
    host.wait_for("the edit on both workers", lambda: host.by_worker(
        "spamgw_list_entries", list="blocked_numbers") == {"0": 2.0, "1": 2.0})
    grown = spread(host, BLOCKED, expect=ESME_RX_R_APPN)
    assert sorted(grown) == ["0", "1"] and all(v > 0 for v in grown.values()), grown
    # journaled once on this host (worker 0 made it; worker 1 only applied it)
    journal = [p for p in (host.root / "lists").iterdir() if "blocked_numbers" in p.name
               and p.suffix != ".txt"]
    lines = [ln for p in journal for ln in p.read_text().splitlines() if BLOCKED in ln]
    assert len(lines) == 1, lines


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


def test_workers_setting() -> None:
    from gateway.supervisor import cores, worker_count

    assert parse_config({"gateway": {"workers": "auto"}}).gateway.workers == "auto"
    assert worker_count("auto") == cores()
    assert worker_count(parse_config({"gateway": {"workers": 3}}).gateway.workers) == 3
    for bad in (0, -1, "many", 1.5, True):
        with pytest.raises(ConfigError, match=r"gateway\.workers"):
            parse_config({"gateway": {"workers": bad}})
