"""The admin API and the gateway's start-up under hostile input and operator mistakes
(issue 13): the real app on a loopback socket, and ``python -m gateway run`` as a
process for what must stop it from starting."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from admin_support import AUTH, ROOT, Site
from aiohttp.test_utils import TestClient, TestServer

from gateway.admin.app import make_app
from gateway.app import Core, build_core
from gateway.engine.examples import event_from_fields
from gateway.model import Action, Verdict

pytestmark = pytest.mark.timeout(60)


# -- the HTTP API ---------------------------------------------------------------------

@pytest.mark.asyncio
async def test_list_entries_with_control_characters_are_refused_by_name(
        client: TestClient[Any, Any]) -> None:
    for name, entry in (("blocked_senders", "EVIL\nPAYPAL"), ("blocked_senders", "A\x00B"),
                        ("blocked_domains", "evil.example\r\npaypal.com"),
                        ("blocked_numbers", "+447700900111\n+447700900123")):
        r = await client.post(f"/v1/lists/{name}", json={"add": [entry]}, headers=AUTH)
        body = await r.json()
        assert r.status == 400, (name, body)
        assert any(repr(entry) in e for e in body["entries"]), body  # named, escaped
    r = await client.get("/v1/lists/blocked_senders/PAYPAL", headers=AUTH)
    assert not (await r.json())["listed"]


@pytest.mark.asyncio
async def test_odd_json_and_headers_are_4xx_not_500(client: TestClient[Any, Any]) -> None:
    cases = [
        (b'{"src": "+447700900555", "dst": "+447700900123", "text": "hi \\ud800 there"}',
         "text"),
        (b'{"src": {"a": [1, {"b": 2}]}, "dst": "+447700900123"}', "src"),
        (b'{"src": "+447700900555", "dst": "+447700900123", "text": ["x", {"y": 1}]}',
         "text"),
        (b'{"src": "+4477\\udfff00900555", "dst": "+447700900123"}', "src"),
        (b"[" * 100000 + b"]" * 100000, "JSON"),
    ]
    for body, word in cases:
        r = await client.post("/v1/check/sms", data=body, headers=AUTH)
        assert 400 <= r.status < 500, (body[:60], r.status)
        assert word in (await r.json())["error"]
    for value in ("Bearer t\u00e9st-token", "Bearer \u2603"):
        r = await client.get("/v1/stats", headers={"Authorization": value})
        assert r.status == 401


@pytest.mark.asyncio
async def test_metrics_survive_odd_route_bytes_and_route_labels_are_bounded(
        client: TestClient[Any, Any], core: Core) -> None:
    memo = core.numbering
    odd = b"trunk-\xff\xfe".decode("utf-8", "surrogateescape")  # as the AGI codec reads it
    for route in [odd, *(f"trunk-{i}" for i in range(3000))]:
        ev = event_from_fields({"src": "+447700900555", "dst": "+447700900123", "route": route},
                               memo, channel="call", direction="in")
        core.stats.record(ev, Verdict(Action.ALLOW, 0.0, (), ""))
    r = await client.get("/metrics", headers=AUTH)
    assert r.status == 200
    text = await r.text()
    routes = [line for line in text.splitlines() if line.startswith("spamgw_route_events")]
    assert len(routes) <= 1001
    assert any('route="other"' in line for line in routes)
    assert any('route="trunk-\ufffd\ufffd"' in line for line in routes)
    r = await client.get("/v1/stats", headers=AUTH)
    assert r.status == 200


@pytest.mark.asyncio
async def test_quarantine_writer_survives_a_locked_database(
        client: TestClient[Any, Any], core: Core, site: Site) -> None:
    q = core.quarantine
    assert q is not None
    ev = event_from_fields({"src": "+447700900666", "dst": "+447700900123", "text": "held"},
                           core.numbering, channel="sms", direction="in")
    v = Verdict(Action.BLOCK, 10.0, ("list.blocked_source",), "blocked")
    lock = sqlite3.connect(site.dir / "quarantine.sqlite3", isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")
    try:
        q.add(ev, v)
        for _ in range(200):  # SQLite waits 5 s for the lock, then refuses
            if q.write_errors:
                break
            await asyncio.sleep(0.05)
        assert q.write_errors >= 1 and q.kept == 0
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    q.add(ev, v)
    for _ in range(200):
        if q.kept == 2:
            break
        await asyncio.sleep(0.05)
    assert q.kept == 2 and q.dropped == 0
    r = await client.get("/v1/quarantine?src=%2B447700900666", headers=AUTH)
    assert len((await r.json())["items"]) == 2
    r = await client.get("/metrics", headers=AUTH)
    assert "spamgw_quarantine_write_errors_total" in await r.text()


LOTTERY = """
[[rule]]
id = "test.lottery"
channel = "sms"
direction = "in"
when.text_keywords = ["lottery"]
action = "BLOCK"

[[rule.example]]
channel = "sms"
src = "+447700900555"
dst = "+447700900123"
text = "you won the lottery"
expect = "EXPECTED"
"""
LOTTERY_CHECK = {"src": "+447700900555", "dst": "+447700900123", "text": "a lottery"}


def _audit(site: Site) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in (site.dir / "audit.jsonl").read_text().splitlines()]
    return [r for r in rows if r.get("event") == "admin"]


@pytest.mark.asyncio
async def test_reload_runs_the_examples_promotion_survives_reload_actions_are_audited(
        site: Site) -> None:
    """With the plugins loaded (the examples are written for them): a reload whose
    inline examples fail is refused naming them; a promoted shadow dir is what the
    next reload reads; reloads, promotions, rollbacks and list edits are audit lines."""
    core = build_core(site.config(plugins={"dir": str(ROOT / "plugins")}))
    async with TestClient(TestServer(make_app(core))) as client:
        extra = site.rules / "90-lottery.toml"
        extra.write_text(LOTTERY.replace("EXPECTED", "ALLOW"))  # contradicts its rule
        v0 = core.engine.ruleset.version
        r = await client.post("/v1/rules/reload", headers=AUTH)
        body = await r.json()
        assert r.status == 422, body
        assert any(e.startswith(f"{extra}:") and "test.lottery: example 1: expected ALLOW"
                   in e for e in body["errors"]), body["errors"]
        assert core.engine.ruleset.version == v0
        extra.write_text(LOTTERY.replace("EXPECTED", "BLOCK"))
        r = await client.post("/v1/rules/reload", headers=AUTH)
        assert r.status == 200, await r.json()
        v1 = core.engine.ruleset.version

        cand = site.dir / "candidate"
        shutil.copytree(site.rules, cand)
        (cand / "90-lottery.toml").unlink()
        assert (await client.post("/v1/rules/shadow", json={"dir": str(cand)},
                                  headers=AUTH)).status == 200
        r = await client.post("/v1/rules/shadow/promote", headers=AUTH)
        assert r.status == 200
        v2 = core.engine.ruleset.version
        r = await client.post("/v1/rules/reload", headers=AUTH)  # reads the promoted dir
        assert (await r.json())["changed"] is False and core.engine.ruleset.version == v2
        r = await client.post("/v1/check/sms", json=LOTTERY_CHECK, headers=AUTH)
        assert (await r.json())["action"] == "ALLOW"
        assert (await client.post("/v1/rules/rollback", headers=AUTH)).status == 200
        r = await client.post("/v1/lists/blocked_numbers", json={"add": ["+447700900777"]},
                              headers=AUTH)
        assert r.status == 200
    core.stats.flush()
    got = [(a["action"], a.get("version"), a.get("previous")) for a in _audit(site)]
    assert got[:5] == [("rules.reload", v0, None), ("rules.reload", v1, v0),
                       ("rules.shadow.start", v1, None), ("rules.promote", v2, v1),
                       ("rules.rollback", v1, v2)]
    (change,) = [a for a in _audit(site) if a["action"] == "lists.change"]
    assert change["list"] == "blocked_numbers" and change["add"] == ["+447700900777"]
    assert all(a["who"] == "admin@127.0.0.1" for a in _audit(site))


# -- start-up ---------------------------------------------------------------------------

def _run(config: Path, cwd: Path, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """``python -m gateway run`` expected to refuse to start."""
    return subprocess.run([sys.executable, "-m", "gateway", "run", "--config", str(config)],
                          cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})


def _config(site: Site, admin: str, extra: str = "", missing_symbols: str = "disable"
            ) -> Path:
    """A gateway config in ``etc/`` with relative paths and an empty plugins dir (the
    rules' plugin symbols: ``missing_symbols``)."""
    (site.dir / "plugins").mkdir(exist_ok=True)
    path = site.dir / "etc" / "spamgw.toml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(f"""
[admin]
listen = "127.0.0.1:0"
{admin}
[smpp]
enabled = false
[agi]
enabled = false
[rules]
dir = "../rules"
[lists]
dir = "../rules/lists"
[plugins]
dir = "../plugins"
missing_symbols = "{missing_symbols}"
{extra}
""")
    return path


@contextlib.contextmanager
def _serving(config: Path, cwd: Path, lines: list[str] | None = None
             ) -> Iterator[tuple[subprocess.Popen[str], int]]:
    """``python -m gateway run`` up to "admin listening": the process and the admin port
    (the log lines before it go to ``lines``); killed on the way out."""
    proc = subprocess.Popen([sys.executable, "-m", "gateway", "run", "--config", str(config)],
                            cwd=cwd, stderr=subprocess.PIPE, text=True,
                            env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            if lines is not None:
                lines.append(line)
            if '"admin listening"' in line:
                port = int(json.loads(line)["port"])
                break
        else:
            raise AssertionError(f"gateway exited with {proc.wait()}")
        yield proc, port
    finally:
        proc.kill()
        proc.wait(10)
        if proc.stderr is not None:
            proc.stderr.close()


def test_known_default_or_empty_token_refuses_to_start(site: Site) -> None:
    for admin, message in (('token = "change-me"', "admin.token: 'change-me' is a known default"),
                           ("", "admin.token: empty")):
        res = _run(_config(site, admin), site.dir)
        assert res.returncode == 2, res.stderr
        assert message in res.stderr and "Traceback" not in res.stderr


def test_unwritable_quarantine_path_is_a_clear_start_up_error(site: Site) -> None:
    (site.dir / "a-file").write_text("not a directory")
    config = _config(site, 'token = "a-real-token-4242"',
                     '[quarantine]\npath = "../a-file/q.sqlite3"')
    res = _run(config, site.dir)
    assert res.returncode == 2, res.stderr
    assert f"quarantine.path: {site.dir / 'a-file' / 'q.sqlite3'}: cannot open" in res.stderr
    assert "Traceback" not in res.stderr


def test_paths_resolve_against_the_config_and_a_missing_dir_is_named(site: Site,
                                                                    tmp_path: Path) -> None:
    config = _config(site, 'token = "a-real-token-4242"')
    text = config.read_text().replace('dir = "../plugins"', 'dir = "../plugin"')
    config.write_text(text)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    res = _run(config, elsewhere)
    assert res.returncode == 2, res.stderr
    assert f"plugins.dir: {site.dir / 'plugin'}: no such directory" in res.stderr
    # relative to the config, from another working directory: the rules check passes
    res = subprocess.run([sys.executable, "-m", "gateway", "rules", "check", "--config",
                          str(_config(site, 'token = "a-real-token-4242"'))], cwd=elsewhere,
                         capture_output=True, text=True, timeout=60,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert res.returncode == 0, res.stderr
    assert str(site.rules) in res.stdout


def test_a_rule_naming_a_symbol_no_plugin_provides_stops_start_up_naming_it(
        site: Site) -> None:
    """The shipped rules with an empty plugins dir: ``spamgw run`` and ``spamgw rules
    check`` name each rule (file:line: rule-id) and the symbol; with ``missing_symbols =
    "disable"`` the gateway runs, logging each disabled rule once."""
    config = _config(site, 'token = "a-real-token-4242"', missing_symbols="error")
    res = _run(config, site.dir)
    assert res.returncode == 1, res.stderr
    content = site.rules / "70-content.toml"
    line = content.read_text(encoding="utf-8").splitlines().index(
        'when.symbol = "campaign.bulk"') + 1  # the line of the key that names the symbol
    want = (f"{content}:{line}: content.bulk_with_link: no loaded plugin "
            "provides symbol 'campaign.bulk' (plugins loaded: none)")
    assert want in res.stderr and "Traceback" not in res.stderr
    check = subprocess.run([sys.executable, "-m", "gateway", "rules", "check", "--config",
                            str(config)], capture_output=True, text=True, timeout=60,
                           env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert check.returncode == 1 and want in check.stderr, check.stderr

    config = _config(site, 'token = "a-real-token-4242"', missing_symbols="disable")
    lines: list[str] = []
    with _serving(config, site.dir, lines):
        pass
    disabled = [json.loads(line)["rule"] for line in lines if "rule disabled" in line]
    # with no plugin loaded, every rule that names a symbol is left with none (a rule
    # shipped with enabled = false is not loaded at all)
    import tomllib
    naming = {r["id"] for f in site.rules.glob("*.toml")
              for r in tomllib.loads(f.read_text(encoding="utf-8")).get("rule", [])
              if {"symbol", "symbols_all"} & set(r.get("when", {}))
              and r.get("enabled", True)}
    assert "content.bulk_with_link" in disabled and len(disabled) == len(set(disabled))
    assert set(disabled) == naming and len(naming) >= 8
    check = subprocess.run([sys.executable, "-m", "gateway", "rules", "check", "--config",
                            str(config)], capture_output=True, text=True, timeout=60,
                           env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert check.returncode == 0, check.stderr
    assert (f"{content}:{line}: content.bulk_with_link: disabled: no loaded "
            "plugin provides 'campaign.bulk'") in check.stderr


def test_the_open_files_limit_is_raised_to_the_hard_limit(site: Site) -> None:
    """A shell's soft limit (1024, here 256) is below what the connection caps open:
    the gateway raises it to the hard limit at start."""
    import resource

    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard != resource.RLIM_INFINITY and hard <= 256:
        pytest.skip(f"hard limit {hard}: nothing to raise")
    config = _config(site, 'token = "a-real-token-4242"')
    proc = subprocess.Popen(["bash", "-c", f"ulimit -Sn 256 && exec {sys.executable} -m gateway "
                             f"run --config {config}"], cwd=site.dir, stderr=subprocess.PIPE,
                            text=True, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            if "admin listening" in line:
                break
        else:
            raise AssertionError(f"gateway exited with {proc.wait()}")
        limits = Path(f"/proc/{proc.pid}/limits").read_text()
        (row,) = [r for r in limits.splitlines() if r.startswith("Max open files")]
        soft = row.split()[3]
        assert soft == "unlimited" or int(soft) > 256, row
    finally:
        proc.kill()
        proc.wait(10)
        if proc.stderr is not None:
            proc.stderr.close()


def test_admin_connections_past_max_connections_are_closed_at_once(site: Site) -> None:
    config = _config(site, 'token = "a-real-token-4242"\nmax_connections = 5')
    with _serving(config, site.dir) as (_proc, port):
        idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(5)]
        extra = socket.create_connection(("127.0.0.1", port))
        extra.settimeout(2)
        try:
            assert extra.recv(1) == b""  # closed at once
        except ConnectionResetError:
            pass
        idle.pop().close()
        for _ in range(50):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
                    assert r.status == 200
                break
            except OSError:  # the slot is freed when the server sees the close
                time.sleep(0.05)
        else:
            raise AssertionError("no slot came free")
        for s in [*idle, extra]:
            s.close()


@pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl")
def test_admin_api_over_https(site: Site) -> None:
    import ssl

    etc = site.dir / "etc"
    etc.mkdir(exist_ok=True)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(etc / "key.pem"), "-out", str(etc / "cert.pem")],
                   check=True, capture_output=True)
    config = _config(site, 'token = "a-real-token-4242"\ntls_cert = "cert.pem"\n'
                           'tls_key = "key.pem"')  # next to the config
    with _serving(config, site.dir) as (_proc, port):
        ctx = ssl.create_default_context(cafile=str(etc / "cert.pem"))
        req = urllib.request.Request(f"https://127.0.0.1:{port}/v1/stats",
                                     headers={"Authorization": "Bearer a-real-token-4242"})
        with urllib.request.urlopen(req, timeout=10, context=ctx) as r:
            assert r.status == 200
        with pytest.raises(OSError):  # plain HTTP is not served
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5)


@pytest.mark.asyncio
async def test_tokens_with_roles(site: Site) -> None:
    """read GETs; operator also checks and edits lists; admin reloads rules. Each
    token's name is the audit log's who."""
    core = build_core(site.config(admin={"tokens": [
        {"name": "grafana", "role": "read", "token": "read-token-123"},
        {"name": "noc", "role": "operator", "token": "operator-token-123"}]}))
    read = {"Authorization": "Bearer read-token-123"}
    noc = {"Authorization": "Bearer operator-token-123"}
    async with TestClient(TestServer(make_app(core))) as client:
        for headers in (read, noc, AUTH):
            assert (await client.get("/v1/stats", headers=headers)).status == 200
            assert (await client.get("/metrics", headers=headers)).status == 200
        check = {"src": "+447700900555", "dst": "+447700900123"}
        r = await client.post("/v1/check/sms", json=check, headers=read)
        assert r.status == 403 and "'grafana' has the read role" in (await r.json())["error"]
        assert (await client.post("/v1/check/sms", json=check, headers=noc)).status == 200
        r = await client.post("/v1/lists/blocked_numbers", json={"add": ["+447700900778"]},
                              headers=read)
        assert r.status == 403
        r = await client.post("/v1/lists/blocked_numbers", json={"add": ["+447700900778"]},
                              headers=noc)
        assert r.status == 200
        r = await client.post("/v1/rules/reload", headers=noc)
        assert r.status == 403 and "needs admin" in (await r.json())["error"]
        assert (await client.post("/v1/rules/reload", headers=AUTH)).status == 200
        r = await client.get("/v1/stats", headers={"Authorization": "Bearer nope"})
        assert r.status == 401
    core.stats.flush()
    assert [(a["action"], a["who"]) for a in _audit(site)] == [
        ("lists.change", "noc@127.0.0.1")]  # the reload changed nothing: no line


def test_sighup_refuses_rules_whose_examples_fail(site: Site) -> None:
    import signal

    config = _config(site, 'token = "a-real-token-4242"')
    config.write_text(config.read_text().replace('dir = "../plugins"',
                                                 f'dir = "{ROOT / "plugins"}"'))
    with _serving(config, site.dir) as (proc, port):
        assert proc.stderr is not None

        def version() -> str:
            req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/rules",
                                         headers={"Authorization": "Bearer a-real-token-4242"})
            with urllib.request.urlopen(req, timeout=10) as r:
                return str(json.loads(r.read())["version"])

        v0 = version()
        (site.rules / "90-lottery.toml").write_text(LOTTERY.replace("EXPECTED", "ALLOW"))
        proc.send_signal(signal.SIGHUP)
        for line in proc.stderr:
            if "reload refused" in line:
                assert "test.lottery: example 1: expected ALLOW" in line
                break
        assert version() == v0
        (site.rules / "90-lottery.toml").write_text(LOTTERY.replace("EXPECTED", "BLOCK"))
        proc.send_signal(signal.SIGHUP)
        for line in proc.stderr:
            if '"lists reloaded"' in line:  # SIGHUP reloads lists and rules as one
                break
        assert version() != v0
