"""The admin API against the real app on a real socket: auth, errors, checks, rules."""

from __future__ import annotations

import shutil
from typing import Any

import pytest
from admin_support import AUTH, Site
from aiohttp.test_utils import TestClient

pytestmark = pytest.mark.asyncio

BLOCKED = {"src": "+447700900666", "dst": "+447700900123", "text": "hello"}


async def test_auth_is_enforced_everywhere_but_healthz(client: TestClient[Any, Any]) -> None:
    assert (await client.get("/healthz")).status == 200
    for method, path in (("GET", "/v1/rules"), ("GET", "/metrics"), ("GET", "/v1/lists"),
                         ("POST", "/v1/check/sms"), ("GET", "/openapi.json"),
                         ("GET", "/v1/stats"), ("GET", "/no/such/path")):
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "test-token"}):
            r = await client.request(method, path, headers=headers)
            assert r.status == 401, (method, path, headers)
            assert "error" in await r.json()
    r = await client.get("/v1/rules", headers=AUTH)
    assert r.status == 200
    r = await client.get("/no/such/path", headers=AUTH)
    assert r.status == 404 and (await r.json())["error"]
    r = await client.delete("/v1/rules", headers=AUTH)
    assert r.status == 405 and "error" in await r.json()
    page = await client.get("/")
    assert page.status == 200 and "spamgw" in await page.text()


async def test_check_endpoints_and_bad_input(client: TestClient[Any, Any]) -> None:
    r = await client.post("/v1/check/sms", json=BLOCKED, headers=AUTH)
    assert r.status == 200
    assert await r.json() == {"action": "BLOCK", "score": 0.0, "rules": ["list.blocked_source"],
                              "reason": "Source is on the blocked numbers list"}
    r = await client.post("/v1/check/call", json={"src": "+447700900123", "dst": "+19005551234"},
                          headers=AUTH)
    assert (await r.json())["action"] == "BLOCK"
    r = await client.post("/v1/check/sms", json={"src": "+447700900555", "dst": "+447700900123",
                                                 "text": "see you at 5"}, headers=AUTH)
    assert (await r.json())["action"] == "ALLOW"
    cases = [
        (b"{not json", 400, "not JSON"),
        (b"[1, 2]", 400, "JSON object"),
        (b'{"src": "+447700900666"}', 400, "missing dst"),
        (b'{"src": "+1", "dst": "+2", "colour": "red"}', 400, "unknown colour"),
        (b'{"src": 5, "dst": "+2"}', 400, "src must be a string"),
        (b'{"src": "+1", "dst": "+2", "direction": "sideways"}', 400, "direction"),
        (b'{"src": "+1", "dst": "+2", "text": "' + b"x" * (2 << 20) + b'"}', 413, "max_body"),
    ]
    for body, status, reason in cases:
        r = await client.post("/v1/check/sms", data=body, headers=AUTH)
        assert r.status == status, body[:40]
        assert reason in (await r.json())["error"]


async def test_openapi_describes_the_api(client: TestClient[Any, Any]) -> None:
    spec = await (await client.get("/openapi.json", headers=AUTH)).json()
    assert spec["openapi"].startswith("3.")
    for path in ("/v1/check/sms", "/v1/check/call", "/v1/rules/reload", "/v1/lists/{name}",
                 "/v1/reports", "/v1/stats", "/metrics", "/v1/quarantine"):
        assert path in spec["paths"]


BROKEN = """
[[rule]]
id = "broken.rule"
channel = "sms"
when.src_in = "no_such_list"
action = "BLOCK"
"""

EXTRA = """
[[rule]]
id = "test.lottery"
description = "lottery wording"
channel = "sms"
direction = "in"
when.text_keywords = ["lottery"]
action = "BLOCK"
"""


async def _version(client: TestClient[Any, Any]) -> str:
    return str((await (await client.get("/v1/rules", headers=AUTH)).json())["version"])


async def _check(client: TestClient[Any, Any], **fields: str) -> dict[str, Any]:
    r = await client.post("/v1/check/sms", json=fields, headers=AUTH)
    assert r.status == 200
    result: dict[str, Any] = await r.json()
    return result


async def test_broken_reload_keeps_old_rules_then_rollback(
        client: TestClient[Any, Any], site: Site) -> None:
    v0 = await _version(client)
    r = await client.post("/v1/rules/reload", headers=AUTH)
    assert (await r.json())["changed"] is False
    bad = site.rules / "90-broken.toml"
    bad.write_text(BROKEN)
    r = await client.post("/v1/rules/reload", headers=AUTH)
    assert r.status == 422
    body = await r.json()
    assert body["active"] == v0
    assert any(e.startswith(f"{bad}:5: broken.rule: ") and "no_such_list" in e
               for e in body["errors"]), body["errors"]
    assert await _version(client) == v0
    assert (await _check(client, **BLOCKED))["action"] == "BLOCK"  # old rules still serving

    bad.write_text(EXTRA)
    r = await client.post("/v1/rules/reload", headers=AUTH)
    assert r.status == 200
    v1 = (await r.json())["version"]
    assert v1 != v0 and await _version(client) == v1
    lottery = {"src": "+447700900555", "dst": "+447700900123", "text": "you won the lottery"}
    assert (await _check(client, **lottery))["rules"] == ["test.lottery"]
    versions = (await (await client.get("/v1/rules/versions", headers=AUTH)).json())["versions"]
    assert [v["version"] for v in versions] == [v1, v0] and versions[0]["active"]

    r = await client.post("/v1/rules/rollback", headers=AUTH)
    assert r.status == 200 and (await r.json()) == {"version": v0, "previous": v1}
    assert await _version(client) == v0
    assert (await _check(client, **lottery))["action"] == "ALLOW"
    r = await client.post("/v1/rules/rollback", json={"version": "nope"}, headers=AUTH)
    assert r.status == 404
    r = await client.post("/v1/rules/rollback", json={"version": v1}, headers=AUTH)
    assert r.status == 200 and await _version(client) == v1


async def test_shadow_reports_disagreements_then_promotes(
        client: TestClient[Any, Any], site: Site) -> None:
    cand = site.dir / "candidate"
    shutil.copytree(site.rules, cand)
    (cand / "90-lottery.toml").write_text(EXTRA)
    r = await client.get("/v1/rules/shadow", headers=AUTH)
    assert r.status == 404
    r = await client.post("/v1/rules/shadow", json={"dir": str(site.dir / "nope")}, headers=AUTH)
    assert r.status == 400
    r = await client.post("/v1/rules/shadow", json={"dir": str(cand)}, headers=AUTH)
    assert r.status == 200
    active = await _version(client)
    lottery = {"src": "+447700900555", "dst": "+447700900123", "text": "lottery winner!"}
    verdict = await _check(client, **lottery)
    assert verdict["action"] == "ALLOW"  # the shadow acts on nothing
    await _check(client, **BLOCKED)
    report = await (await client.get("/v1/rules/shadow", headers=AUTH)).json()
    assert report["events"] == 2 and report["agreed"] == 1 and report["disagreed"] == 1
    (d,) = report["disagreements"]
    assert (d["active"], d["shadow"], d["count"]) == ("ALLOW", "BLOCK", 1)
    ex = d["examples"][0]
    assert ex["src"] == "+447700900555" and ex["shadow"]["rules"] == ["test.lottery"]
    assert {"rule": "test.lottery", "count": 1} in report["rules"]

    r = await client.post("/v1/rules/shadow/promote", headers=AUTH)
    assert r.status == 200
    assert (await r.json())["previous"] == active
    assert (await _check(client, **lottery))["action"] == "BLOCK"
    assert (await client.get("/v1/rules/shadow", headers=AUTH)).status == 404


async def test_broken_shadow_is_refused(client: TestClient[Any, Any], site: Site) -> None:
    cand = site.dir / "candidate"
    shutil.copytree(site.rules, cand)
    (cand / "90-broken.toml").write_text(BROKEN)
    r = await client.post("/v1/rules/shadow", json={"dir": str(cand)}, headers=AUTH)
    assert r.status == 422
    assert any("broken.rule" in e for e in (await r.json())["errors"])

