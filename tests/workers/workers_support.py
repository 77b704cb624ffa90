"""Hosts of ``spamgw run`` as real processes for the workers and nodes tests: a config
(small rules with a list rule, the redis backend, SMPP in front of the simulator, the
admin API), the process, its admin API and /metrics, and an smpplib ESME."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "state"))
sys.path.insert(0, str(ROOT / "tests" / "smpp"))
from redis_support import RULES, ClusterServers, RedisServer, free_port  # noqa: E402
from smpp_support import esme, start_sim  # noqa: E402

from gateway.testing.config import write_config  # noqa: E402
from gateway.testing.process import GatewayProcess, stop  # noqa: E402

__all__ = ["BLOCKED", "ESME_RX_R_APPN", "LIST_RULE", "ROOT", "TOKEN", "ClusterServers", "Host",
           "RedisServer", "esme", "journal_lines", "running_host", "spread", "start_sim",
           "submit", "write_host"]

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


def write_host(root: Path, redis_url: str, upstream: int, *, backend: str = "redis",
               prefix: str | None = None) -> tuple[Path, int, int]:
    """Rules, lists and a config for a host; returns (config, smpp port, admin port).
    The rules and lists are written only once (a restarted host keeps its journal)."""
    for d in ("rules", "lists", "plugins"):
        (root / d).mkdir(parents=True, exist_ok=True)
    if not (root / "rules" / "test.toml").exists():
        (root / "rules" / "test.toml").write_text(RULES + LIST_RULE)
        (root / "lists" / "blocked_numbers.txt").write_text("+447700900999\n")
    smpp, admin = free_port(), free_port()
    cfg = write_config(
        root / "spamgw.toml", rules={"dir": "rules"}, lists={"dir": "lists"},
        plugins={"dir": "plugins"},
        state={"backend": backend, "redis_url": redis_url,
               "redis_prefix": prefix or f"w{os.getpid()}{root.name}:"},
        smpp={"listen": f"127.0.0.1:{smpp}", "upstream": {"address": f"127.0.0.1:{upstream}"}},
        agi={"listen": f"127.0.0.1:{free_port()}"},
        admin={"listen": f"127.0.0.1:{admin}", "token": TOKEN},
        log={"level": "info", "format": "json"})
    return cfg, smpp, admin


@dataclass
class Host:
    proc: subprocess.Popen[bytes]
    smpp: int
    admin: int
    root: Path
    log: Path
    workers: int

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
        return {lab.get("worker", "0"): v for lab, v in self.samples(name)
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
        """Every worker answers (one process: its admin API and SMPP port do)."""
        try:
            if self.workers == 1:
                with socket.create_connection(("127.0.0.1", self.smpp), 1):
                    return self.http("GET", "/healthz")[0] == 200
            return self.samples("spamgw_workers_answering")[0][1] == self.workers
        except (OSError, AssertionError, IndexError):
            return False

    def stop(self) -> int:
        return stop(self.proc, grace=60)


@contextlib.contextmanager
def running_host(root: Path, redis_url: str, upstream: int, *, workers: int = 2,
                 prefix: str | None = None) -> Iterator[Host]:
    cfg, smpp, admin = write_host(root, redis_url, upstream, prefix=prefix)
    log = root / "spamgw.log"
    with log.open("ab") as out:
        process = GatewayProcess(cfg, smpp, args=["--workers", str(workers)] if workers > 1 else [],
                                 cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, timeout=60)
        process.start()  # its SMPP port; then every worker, below
    proc = process.proc
    host = Host(proc, smpp, admin, root, log, workers)
    try:
        host.wait_for("every worker answering", host.answering)
        yield host
    finally:
        host.stop()


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


def journal_lines(root: Path, text: str) -> list[str]:
    """Lines of the blocked_numbers journal that name ``text``."""
    return [ln for p in (root / "lists").iterdir()
            if p.name.startswith("blocked_numbers") and p.suffix == ".journal"
            for ln in p.read_text().splitlines() if text in ln]
