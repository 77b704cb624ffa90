"""The deployment of examples/deploy (docker-compose.yml) without Docker: one
redis-server, the bundled SMSC simulator, two gateway nodes (``python -m gateway run``)
configured from examples/deploy/spamgw-node.toml, and a real HAProxy started from
examples/deploy/haproxy.cfg in front of them. Only addresses, ports and paths of those
files are rewritten (into temporary copies); rules, plugins, lists, state and the
balancing are the example's.

Every SMPP bind and FastAGI connection goes through HAProxy; which node judged what
is read from each node's own /metrics (its admin API, with its token)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "examples" / "deploy"
for helpers in ("state", "smpp", "agi", "workers"):
    sys.path.insert(0, str(ROOT / "tests" / helpers))
from agi_support import asterisk_session, environment_for  # noqa: E402
from redis_support import RedisServer, free_port  # noqa: E402
from smpp_support import esme, start_sim  # noqa: E402
from workers_support import TOKEN, Host, submit  # noqa: E402

HAPROXY = shutil.which("haproxy")
ESME_RX_R_APPN = 0x65


def rewritten(source: Path, target: Path, changes: dict[str, str]) -> Path:
    """``source`` copied to ``target`` with each key replaced by its value; every key
    must be in the file, so the test fails loudly when the example changes under it."""
    text = source.read_text()
    for old, new in changes.items():
        assert old in text, f"{source.name}: {old!r} not found: update the test's rewrites"
        text = text.replace(old, new)
    target.write_text(text)
    return target


def metric(node: Host, name: str, **labels: str) -> float:
    """The sum of the samples of ``name`` on the node whose labels include ``labels``."""
    return sum(v for lab, v in node.samples(name)
               if all(lab.get(k) == want for k, want in labels.items()))


def api(node: Host, method: str, path: str, body: object = None) -> Any:
    status, raw = node.http(method, path, body)
    assert status == 200, raw
    return json.loads(raw)


def start_node(root: Path, redis: RedisServer, smsc: int) -> tuple[Host, int]:
    """A node from examples/deploy/spamgw-node.toml with loopback addresses, free
    ports, the repository's rules and plugins, and a copy of the shipped lists as its
    data dir, its admin token in SPAMGW_ADMIN_TOKEN; returns it and its FastAGI port."""
    root.mkdir(parents=True)
    shutil.copytree(ROOT / "rules" / "lists", root / "lists")
    smpp, agi, admin = free_port(), free_port(), free_port()
    cfg = rewritten(DEPLOY / "spamgw-node.toml", root / "spamgw.toml", {
        'listen = "0.0.0.0:2775"': f'listen = "127.0.0.1:{smpp}"',
        'address = "smsc:2775"': f'address = "127.0.0.1:{smsc}"',
        'listen = "0.0.0.0:4573"': f'listen = "127.0.0.1:{agi}"',
        'listen = "0.0.0.0:8080"': f'listen = "127.0.0.1:{admin}"',
        'dir = "/app/rules"': f'dir = "{ROOT / "rules"}"',
        'dir = "/var/lib/spamgw/lists"': f'dir = "{root / "lists"}"',
        'dir = "/app/plugins"': f'dir = "{ROOT / "plugins"}"',
        'path = "/var/lib/spamgw/quarantine.sqlite3"':
            f'path = "{root / "quarantine.sqlite3"}"',
        'redis_url = "redis://redis:6379/0"': f'redis_url = "{redis.url}"',
    })
    log = root / "spamgw.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "gateway", "run", "--config", str(cfg)],
                                cwd=root, stdout=out, stderr=subprocess.STDOUT,
                                env={**os.environ, "PYTHONPATH": str(ROOT),
                                     "SPAMGW_ADMIN_TOKEN": TOKEN})
    return Host(proc, smpp, admin, root, log, workers=1), agi


@dataclass
class Topology:
    nodes: tuple[Host, Host]
    smpp: int  # HAProxy's SMPP port
    agi: int  # HAProxy's FastAGI port
    stats: int  # HAProxy's statistics page
    haproxy: subprocess.Popen[bytes]
    log: Path  # HAProxy's

    def wait_for(self, what: str, done: Callable[[], bool]) -> None:
        """Poll until ``done`` while HAProxy and both nodes run (start-up and
        propagation waits; the bound only stops a broken build from hanging)."""
        def checked() -> bool:
            assert self.haproxy.poll() is None, self.log.read_text()[-3000:]
            return all(n.proc.poll() is None for n in self.nodes) and done()

        self.nodes[0].wait_for(what, checked)

    def backends_up(self) -> bool:
        """Every server of both backends UP in HAProxy's own view (its health checks)."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.stats}/;csv",
                                        timeout=5) as resp:
                rows = resp.read().decode().splitlines()
        except OSError:
            return False
        head = rows[0].lstrip("# ").split(",")
        up = {(r["pxname"], r["svname"]) for r in (dict(zip(head, row.split(","),
                                                             strict=False))
                                                    for row in rows[1:])
              if r.get("status") == "UP"}
        return all((b, n) in up for b in ("spamgw_smpp", "spamgw_agi")
                   for n in ("node1", "node2"))

    def per_node(self, name: str, **labels: str) -> tuple[float, float]:
        a, b = self.nodes
        return metric(a, name, **labels), metric(b, name, **labels)

    def judge(self, before: tuple[float, float], **labels: str) -> int:
        """Which node (0, 1) judged the one event since ``before`` (``per_node`` of
        spamgw_events_total with these labels)."""
        now = self.per_node("spamgw_events_total", **labels)
        (node,) = [n for n in (0, 1) if now[n] > before[n]]
        return node

    def synced(self) -> None:
        """Until what either node counted so far is in the other's view: each node
        syncs with Redis every 100 ms (push what it added, pull the cluster's values);
        two whole syncs of both nodes, twice, put a push of each before a pull of the
        other. Without it the test would race the sync: a burst shorter than one
        interval is judged by each node on its own counts."""
        for _ in range(2):
            start = self.per_node("spamgw_state_syncs")

            def twice(start: tuple[float, float] = start) -> bool:
                now = self.per_node("spamgw_state_syncs")
                return all(n >= s + 2 for n, s in zip(now, start, strict=True))

            self.wait_for("two syncs of each node", twice)


@pytest.fixture(scope="module")
def topology(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    if HAPROXY is None:
        pytest.skip("haproxy is not installed (apt-get install haproxy)")
    tmp = tmp_path_factory.mktemp("deploy")
    redis = RedisServer(tmp / "redis").start()
    sim = start_sim(tmp / "smsc.jsonl")
    nodes: list[Host] = []
    haproxy: subprocess.Popen[bytes] | None = None
    try:
        (n1, agi1), (n2, agi2) = (start_node(tmp / name, redis, sim.port)
                                  for name in ("node1", "node2"))
        nodes += (n1, n2)
        ports = {"smpp": free_port(), "agi": free_port(), "stats": free_port()}
        cfg = rewritten(DEPLOY / "haproxy.cfg", tmp / "haproxy.cfg", {
            "bind :2775": f"bind 127.0.0.1:{ports['smpp']}",
            "bind :4573": f"bind 127.0.0.1:{ports['agi']}",
            "bind :8404": f"bind 127.0.0.1:{ports['stats']}",
            "server node1 node1:2775 check port 8080":
                f"server node1 127.0.0.1:{n1.smpp} check port {n1.admin}",
            "server node2 node2:2775 check port 8080":
                f"server node2 127.0.0.1:{n2.smpp} check port {n2.admin}",
            "server node1 node1:4573 check port 8080":
                f"server node1 127.0.0.1:{agi1} check port {n1.admin}",
            "server node2 node2:4573 check port 8080":
                f"server node2 127.0.0.1:{agi2} check port {n2.admin}",
        })
        check = subprocess.run([HAPROXY, "-c", "-f", str(cfg)], capture_output=True,
                               text=True, timeout=30)
        assert check.returncode == 0, check.stdout + check.stderr
        log = tmp / "haproxy.log"
        with log.open("wb") as out:
            haproxy = subprocess.Popen([HAPROXY, "-db", "-f", str(cfg)], cwd=tmp,
                                       stdout=out, stderr=subprocess.STDOUT)
        topo = Topology((n1, n2), ports["smpp"], ports["agi"], ports["stats"], haproxy, log)
        for node in nodes:
            node.wait_for("the node answering", node.answering)
        topo.wait_for("both nodes UP in HAProxy", topo.backends_up)
        yield topo
    finally:
        if haproxy is not None:
            haproxy.terminate()
            haproxy.wait(30)
        for node in nodes:
            node.stop()
        sim.stop()
        redis.stop()


# -- (b) an SMS campaign through many senders, over binds on both nodes ------------------

LURE = ("Royal Mail: your parcel is held, a {amount} GBP redelivery fee is unpaid. "
        "Pay at https://{host}.example/p/{token} ref {ref}")


def lure(rnd: random.Random) -> bytes:
    def token(k: int) -> str:
        return "".join(rnd.choices("abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789",
                                   k=k))

    return LURE.format(amount=f"{rnd.randint(1, 3)}.{rnd.randint(10, 99)}",
                       # hosts no single-message rule blocks (a service word such as
                       # "redelivery-" would: phish.lure_host): what blocks is the campaign
                       host=rnd.choice(["parcel-held", "item-desk", "held-items"]),
                       token=token(6), ref=token(4)).encode()


def test_sms_campaign_split_over_both_nodes_is_blocked(topology: Topology) -> None:
    """One lure template with random tokens and links, each message from a new sender
    number to a new recipient, spread over four binds that HAProxy (leastconn) puts on
    both nodes: blocked within 20 messages, on both nodes, and once a node blocks it,
    it blocks every further message of it.

    Each node counts the template's senders on its own today: the campaign plugin links
    a template's variants to a key of its own process (plugins/campaign.py ``link``),
    so the two nodes' counts of one campaign never meet in Redis, and each node blocks
    at the 6th sender it saw itself (the 11th message of the 20). Were the key shared,
    the campaign would be blocked from the 6th message on; these assertions hold
    either way."""
    rnd = random.Random(14)
    by_node: tuple[list[int], list[int]] = ([], [])
    statuses: list[int] = []
    with contextlib.ExitStack() as stack:
        binds = [stack.enter_context(esme(topology.smpp)) for _ in range(4)]
        for i in range(20):
            e = binds[i % len(binds)]
            before = topology.per_node("spamgw_events_total", channel="sms")
            e.submit(f"4477009{21000 + i * 7:05d}", f"4477009{31000 + i:05d}", lure(rnd))
            e.read_until(lambda e=e, i=i: len(e.sent) > i // len(binds))
            statuses.append(int(e.sent[-1].status))
            # (a) which node judged it: the one whose count grew
            by_node[topology.judge(before, channel="sms")].append(statuses[-1])
            topology.synced()
    assert ESME_RX_R_APPN in statuses, statuses
    for seen in by_node:
        # both nodes had binds, and each blocked the campaign from some message on
        assert ESME_RX_R_APPN in seen, by_node
        first = seen.index(ESME_RX_R_APPN)
        assert seen == [0] * first + [ESME_RX_R_APPN] * (len(seen) - first), by_node


# -- (c) a Wangiri wave over FastAGI, each call a new connection -------------------------

WANGIRI = "+2250700000001"
DIALLED = "002250700000001"  # as a subscriber types the callback


def agi(topology: Topology, path: str, callerid: str, extension: str, *args: str,
        uniqueid: str) -> dict[str, str]:
    """One FastAGI session through HAProxy, as Asterisk plays it; the variables set."""
    env = environment_for(path, callerid, extension, *args, uniqueid=uniqueid)
    return asyncio.run(asterisk_session(topology.agi, env)).variables


def flagged(node: Host) -> bool:
    """The number is on the node's wangiri_sources (an expiring list in Redis)."""
    (found,) = [lst for lst in api(node, "GET", "/v1/lists")["lists"]
                if lst["name"] == "wangiri_sources"]
    return WANGIRI in {f["entry"] for f in found["flags"]}


def test_wangiri_wave_split_over_both_nodes_blocks_callbacks_on_both(
        topology: Topology) -> None:
    """Short unanswered rings from one Ivory Coast number to many subscribers, each
    call (its /inbound and its /ended) a new connection through HAProxy, which
    balances on the call's agi_uniqueid: the calls spread over both nodes, each call's
    /ended reaches the node that screened it, the shared counters flag the number, and
    a subscriber's callback is answered BLOCK by either node."""
    # fixed uniqueids: HAProxy's consistent hash places each the same way every run
    # (the six rings that flag the number reach both nodes)
    stamp = 1790000000
    rings_in = topology.per_node("spamgw_events_total", channel="call", direction="in")
    ended = sum(topology.per_node("spamgw_agi_ended_total"))
    answers: list[str] = []
    while not all(flagged(n) for n in topology.nodes):
        assert len(answers) < 20, f"not flagged on both nodes after 20 rings: {answers}"
        uid = f"{stamp}.{100 + len(answers)}"
        answer = agi(topology, "inbound", WANGIRI, f"+4477009{40000 + len(answers):05d}",
                     "intl-carrier", uniqueid=uid)
        answers.append(answer["SPAMGW_ACTION"])
        # the subscriber's phone rang 3 s; the caller hung up before an answer
        agi(topology, "ended", WANGIRI, "s", "CANCEL", "3", "0", uniqueid=uid)
        topology.synced()
    # rings to more than 5 subscribers flag the number: the 6th, counted over both nodes
    assert answers == ["ALLOW"] * 6, answers
    # (a) the rings were screened on both nodes (each ring is two events, its /inbound
    # and its /ended), neither of which saw the 6 alone
    now_in = topology.per_node("spamgw_events_total", channel="call", direction="in")
    calls = [(n - b) / 2 for n, b in zip(now_in, rings_in, strict=True)]
    assert sum(calls) == 6 and all(1 <= c <= 5 for c in calls), calls
    # every /ended reached the node that screened its call (HAProxy hashes agi_uniqueid)
    assert sum(topology.per_node("spamgw_agi_ended_total")) == ended + len(answers)
    assert [n.samples("spamgw_agi_ended_unmatched_total") for n in topology.nodes] == [
        [({}, 0.0)], [({}, 0.0)]]

    # subscribers call the number back: new calls (new uniqueids) until both nodes
    # have answered some; every callback is refused
    before = topology.per_node("spamgw_events_total", channel="call", direction="out")
    callbacks: list[str] = []
    for i in range(64):  # one node taking 64 calls in a row: 2**-63
        ans = agi(topology, "outbound", f"+4477009{40000 + i % 6:05d}", DIALLED,
                  "subscribers", uniqueid=f"{stamp}.{500 + i}")
        callbacks.append(ans["SPAMGW_ACTION"])
        now = topology.per_node("spamgw_events_total", channel="call", direction="out")
        if all(n > b for n, b in zip(now, before, strict=True)):
            break
    assert all(n > b for n, b in zip(now, before, strict=True)), (before, now)
    assert set(callbacks) == {"BLOCK"}, callbacks


# -- (d) a list edit on node A blocks on node B -------------------------------------------

LISTED = "447700900777"


def test_list_edit_on_node_a_blocks_on_node_b(topology: Topology) -> None:
    """A number added to blocked_numbers through node1's admin API reaches node2 (the
    change stream in Redis): SMS from it, bound through HAProxy, are refused by both."""
    a, b = topology.nodes
    sms = {"src": f"+{LISTED}", "dst": "+447700900123", "text": "hello", "dry_run": True}
    assert api(b, "POST", "/v1/check/sms", sms)["action"] == "ALLOW"
    entries = metric(b, "spamgw_list_entries", list="blocked_numbers")
    api(a, "POST", "/v1/lists/blocked_numbers", {"add": [f"+{LISTED}"]})
    topology.wait_for("the edit applied on node2", lambda: metric(
        b, "spamgw_list_entries", list="blocked_numbers") == entries + 1)
    assert api(b, "POST", "/v1/check/sms", sms)["action"] == "BLOCK"
    # through HAProxy: a new bind for each message until both nodes have judged some
    seen: tuple[list[int], list[int]] = ([], [])
    for _ in range(64):  # one node taking 64 binds in a row: 2**-63
        before = topology.per_node("spamgw_events_total", channel="sms")
        status = submit(topology.smpp, LISTED)
        seen[topology.judge(before, channel="sms")].append(status)
        if seen[0] and seen[1]:
            break
    assert seen[0] and seen[1], seen
    assert set(seen[0] + seen[1]) == {ESME_RX_R_APPN}, seen


def test_compose_runs_the_files_this_test_runs() -> None:
    """docker-compose.yml mounts the two files the topology above runs, where the image
    (Dockerfile) and HAProxy's image read them, and publishes what haproxy.cfg binds."""
    compose = (DEPLOY / "docker-compose.yml").read_text()
    assert compose.count("./spamgw-node.toml:/etc/spamgw/spamgw.toml:ro") == 2
    assert "./haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro" in compose
    assert compose.count("node1-data:/var/lib/spamgw") == 1
    assert compose.count("node2-data:/var/lib/spamgw") == 1
    haproxy = (DEPLOY / "haproxy.cfg").read_text()
    for port in ("2775", "4573", "8404"):
        assert f"bind :{port}" in haproxy and f'{port}:{port}"' in compose
    node = (DEPLOY / "spamgw-node.toml").read_text()
    dockerfile = (ROOT / "Dockerfile").read_text()
    # the node reads the image's rules and plugins, and the lists the image seeds
    assert "WORKDIR /app" in dockerfile
    assert "COPY rules ./rules" in dockerfile and 'dir = "/app/rules"' in node
    assert "COPY plugins ./plugins" in dockerfile and 'dir = "/app/plugins"' in node
    assert "/var/lib/spamgw/lists" in dockerfile and 'dir = "/var/lib/spamgw/lists"' in node
    assert 'token_env = "SPAMGW_ADMIN_TOKEN"' in node
    assert "SPAMGW_ADMIN_TOKEN: ${SPAMGW_ADMIN_TOKEN:?" in compose
