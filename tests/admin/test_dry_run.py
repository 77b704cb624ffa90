"""``POST /v1/check/*`` as a dry run (issue 13): ``"dry_run": true`` (or ``?dry_run=1``)
answers the verdict a message would get and changes nothing live: counters, flags,
statistics, metrics, the audit log and the quarantine. A check without it is live
traffic and changes them all. The real app on a loopback socket, its services running."""

from __future__ import annotations

import asyncio
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from admin_support import AUTH, Site
from aiohttp.test_utils import TestClient, TestServer

from gateway.admin.app import make_app
from gateway.app import Core, build_core

pytestmark = pytest.mark.timeout(60)

#: a sender over 2 messages an hour is blocked and flagged; a flagged sender is blocked;
#: one text to over 2 recipients warns
RULES = """
[settings]
warn = 5.0
block = 10.0

[[rule]]
id = "test.burst"
channel = "sms"
direction = "in"
when.rate = { key = "src", window = 3600, over = 2 }
flag = { list = "burst_senders", key = "src", ttl = 3600 }
action = "BLOCK"

[[rule]]
id = "test.flagged"
channel = "sms"
direction = "in"
when.src_in = "burst_senders"
action = "BLOCK"

[[rule]]
id = "test.same_text"
channel = "sms"
direction = "in"
when.distinct = { key = "text", of = "dst", window = 3600, over = 2 }
action = "WARN"
"""
SRC = "+447700900555"


@pytest_asyncio.fixture
async def dry_client(site: Site) -> AsyncIterator[tuple[TestClient[Any, Any], Core]]:
    rules = site.dir / "dry-rules"
    rules.mkdir()
    (rules / "rules.toml").write_text(textwrap.dedent(RULES))
    core = build_core(site.config(rules={"dir": str(rules)}))
    async with TestClient(TestServer(make_app(core))) as c:
        yield c, core


async def _check(c: TestClient[Any, Any], dst: str, *, dry: bool, query: bool = False,
                 src: str = SRC) -> dict[str, Any]:
    body: dict[str, Any] = {"src": src, "dst": dst, "text": "same words"}
    if dry and not query:
        body["dry_run"] = True
    r = await c.post("/v1/check/sms" + ("?dry_run=1" if dry and query else ""), json=body,
                     headers=AUTH)
    assert r.status == 200, await r.text()
    verdict: dict[str, Any] = await r.json()
    assert set(verdict) == {"action", "score", "rules", "reason"}  # the stable answer
    return verdict


async def _live(c: TestClient[Any, Any], core: Core) -> dict[str, Any]:
    """What a check can change, as the API and the process show it."""
    for _ in range(100):  # the quarantine writer runs every 0.5 s: let it catch up
        q = core.quarantine
        if q is None or not q._pending:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.6)
    stats = await (await c.get("/v1/stats", headers=AUTH)).json()
    quarantine = await (await c.get("/v1/quarantine", headers=AUTH)).json()
    metrics = await (await c.get("/metrics", headers=AUTH)).text()
    core.stats.flush()
    return {
        "lifetime": stats["lifetime"],
        "totals": stats["window"]["totals"],
        "quarantine": [(i["src"], i["dst"], i["rules"]) for i in quarantine["items"]],
        "metrics": sorted(line for line in metrics.splitlines()
                          if line.startswith(("spamgw_events_total", "spamgw_rule_hits_total"))),
        "audit": await asyncio.to_thread(Path(core.config.log.audit).read_text),
        "counters": len(core.state),  # type: ignore[arg-type]
        "flagged": core.state.flagged("burst_senders", core.numbering.from_caller_id(SRC).key,
                                      core.stats.started + 10),
    }


@pytest.mark.asyncio
async def test_a_dry_run_check_changes_nothing_a_live_check_does(
        dry_client: tuple[TestClient[Any, Any], Core]) -> None:
    c, core = dry_client
    before = await _live(c, core)
    assert before["totals"].get("sms", 0) == 0 and not before["quarantine"]

    # five dry runs from one sender to five recipients: each is the first message
    for i in range(5):
        v = await _check(c, f"+44770090{1000 + i}", dry=True, query=bool(i % 2))
        assert v["action"] == "ALLOW", v
    assert await _live(c, core) == before

    # the same five, live: the third is over the rate, blocked, flagged, quarantined
    actions = [(await _check(c, f"+44770090{1000 + i}", dry=False))["action"]
               for i in range(5)]
    assert actions == ["ALLOW", "ALLOW", "BLOCK", "BLOCK", "BLOCK"]
    after = await _live(c, core)
    assert after != before
    assert after["flagged"] and not before["flagged"]
    assert len(after["quarantine"]) == 3
    assert after["counters"] > before["counters"]
    for what in ("lifetime", "totals", "metrics", "audit"):
        assert after[what] != before[what], what

    # a dry run reads the live counters (this sender is blocked now) and adds nothing
    v = await _check(c, "+447700902000", dry=True)
    assert v["action"] == "BLOCK" and "test.burst" in v["rules"]
    v = await _check(c, "+447700902000", dry=True, src="+447700900556")  # the text: 6 dsts
    assert v["action"] == "WARN" and v["rules"] == ["test.same_text"]
    assert await _live(c, core) == after


@pytest.mark.asyncio
async def test_dry_run_takes_a_boolean(dry_client: tuple[TestClient[Any, Any], Core]) -> None:
    c, _core = dry_client
    for path, body in (("/v1/check/sms", {"src": SRC, "dst": "+447700900123",
                                          "dry_run": "yes"}),
                       ("/v1/check/call?dry_run=maybe", {"src": SRC, "dst": "+447700900123"})):
        r = await c.post(path, json=body, headers=AUTH)
        assert r.status == 400
        assert "dry_run" in (await r.json())["error"]
    r = await c.post("/v1/check/call?dry_run=1", json={"src": SRC, "dst": "+447700900123"},
                     headers=AUTH)
    assert r.status == 200 and (await r.json())["action"] == "ALLOW"

