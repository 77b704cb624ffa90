"""Spam reports, statistics, /metrics and quarantine against the running app."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from admin_support import AUTH, Site
from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families

from gateway.app import Core, build_core
from gateway.engine.examples import event_from_fields

pytestmark = pytest.mark.asyncio

SPAMMER = "+447700900444"


async def _report(client: TestClient[Any, Any], reporter: str, reported: str = SPAMMER
                  ) -> dict[str, Any]:
    r = await client.post("/v1/reports", json={"reporter": reporter, "reported": reported,
                                                "text": "WIN a prize http://x.example"},
                          headers=AUTH)
    out: dict[str, Any] = await r.json()
    assert r.status == 200, out
    return out


async def _sms_from(client: TestClient[Any, Any], src: str) -> dict[str, Any]:
    r = await client.post("/v1/check/sms", json={"src": src, "dst": "+447700900123",
                                                 "text": "hello"}, headers=AUTH)
    out: dict[str, Any] = await r.json()
    return out


async def test_three_distinct_reporters_list_a_sender(client: TestClient[Any, Any],
                                                      site: Site) -> None:
    assert (await _sms_from(client, SPAMMER))["action"] == "ALLOW"
    first = await _report(client, "+447700900001")
    assert first == {"reported": SPAMMER, "distinct_reporters": 1, "threshold": 3,
                     "listed": False}
    v = await _sms_from(client, SPAMMER)
    assert v["rules"] == ["srs.reported"] and v["score"] == 4.0  # raised, not blocked
    await _report(client, "+447700900002")
    third = await _report(client, "07700 900003")
    assert third["distinct_reporters"] == 3 and third["listed"]
    v = await _sms_from(client, SPAMMER)
    assert v["action"] == "BLOCK" and "srs.listed" in v["rules"]
    summary = await (await client.get("/v1/reports", headers=AUTH)).json()
    assert summary["listed"][0]["sender"] == SPAMMER
    body = str(summary)
    for reporter in ("900001", "900002", "900003"):
        assert reporter not in body  # reporter identity is never exposed
    # the listing is journaled (a task after the 200): a restart keeps it
    for _ in range(100):
        if (site.lists / "srs_listed.journal").exists():
            break
        await asyncio.sleep(0.05)
    again = build_core(site.config())
    ev = event_from_fields({"src": SPAMMER, "dst": "+447700900123", "text": "x"},
                           again.numbering)
    assert again.engine.evaluate(ev).action.value == "BLOCK"


async def test_three_reports_from_one_reporter_do_not(client: TestClient[Any, Any]) -> None:
    for _ in range(3):
        out = await _report(client, "+447700900001")
    assert out["distinct_reporters"] == 1 and not out["listed"]
    assert (await _sms_from(client, SPAMMER))["action"] == "ALLOW"
    r = await client.post("/v1/reports", json={"reporter": "+447700900001", "reported": "+"},
                          headers=AUTH)
    assert r.status == 400
    r = await client.post("/v1/reports", json={"reporter": "x"}, headers=AUTH)
    assert r.status == 400 and "reported" in (await r.json())["error"]


async def test_reports_by_sms_to_7726(client: TestClient[Any, Any], core: Core) -> None:
    """What the SMPP proxy hands the engine for an MO to 7726 reaches the reports."""
    def mo(src: str, text: str) -> None:
        ev = event_from_fields({"src": src, "dst": "7726", "text": text}, core.numbering,
                               direction="out")
        core.engine.evaluate(ev)

    mo("+447700900011", "+447700900445 Your parcel is held, pay now")  # one step
    mo("+447700900012", "You won! Reply YES http://prize.example")  # two steps: text ...
    mo("+447700900012", "PRIZECO")  # ... then a sender ID, which is not this one
    mo("+447700900012", "+447700900445")
    mo("+447700900013", "SPAM 447700900445")
    v = await _sms_from(client, "+447700900445")
    assert v["action"] == "BLOCK" and "srs.listed" in v["rules"]
    summary = await (await client.get("/v1/reports", headers=AUTH)).json()
    assert summary["by_sms"] == 4 and summary["received"] == 4


async def test_stats_and_metrics(client: TestClient[Any, Any]) -> None:
    for i in range(5):
        await _sms_from(client, f"+44770090070{i}")
    await _sms_from(client, "+447700900666")
    await client.post("/v1/check/call", json={"src": "+33612345678", "dst": "+447700900123",
                                              "direction": "in", "route": "trunk-intl"},
                      headers=AUTH)
    stats = await (await client.get("/v1/stats?window=60", headers=AUTH)).json()
    t = stats["window"]["totals"]
    assert (t["events"], t["block"]) == (7, 1)
    assert {"rule": "list.blocked_source", "count": 1} in stats["window"]["rules"]
    assert stats["window"]["routes"][0]["route"] in ("-", "trunk-intl")
    assert {s["source"] for s in stats["window"]["sources"]} == {"GB", "FR"}
    assert sum(p["sms"] for p in stats["series"]["points"]) == 6
    assert (await client.get("/v1/stats?window=abc", headers=AUTH)).status == 400

    text = await (await client.get("/metrics", headers=AUTH)).text()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert all(name.startswith("spamgw_") for name in families)
    events = {tuple(sorted(s.labels.items())): s.value for s in families["spamgw_events"].samples
              if s.name == "spamgw_events_total"}
    assert events[(("action", "BLOCK"), ("channel", "sms"), ("direction", "in"))] == 1
    for name in ("spamgw_engine_errors", "spamgw_failed_open", "spamgw_rule_hits",
                 "spamgw_ruleset_info", "spamgw_list_entries", "spamgw_route_events"):
        assert name in families


async def test_stream_sends_frames(client: TestClient[Any, Any]) -> None:
    r = await client.get("/v1/stats/stream?period=0.2", headers=AUTH)
    assert r.headers["Content-Type"].startswith("text/event-stream")
    first = await r.content.readuntil(b"\n\n")
    assert first.startswith(b"event: stats\ndata: {")
    r.close()


async def test_quarantine_and_release_to_allowlist(client: TestClient[Any, Any],
                                                   site: Site) -> None:
    r = await client.post("/v1/check/sms", json={"src": "+447700900667", "dst": "+447700900124",
                                                 "text": "a false positive"}, headers=AUTH)
    assert (await r.json())["action"] == "BLOCK"
    items: list[dict[str, Any]] = []
    for _ in range(100):  # the writer flushes every half second
        items = (await (await client.get("/v1/quarantine?q=false+pos",
                                         headers=AUTH)).json())["items"]
        if items:
            break
        await asyncio.sleep(0.1)
    (item,) = items
    assert item["src"] == "+447700900667" and item["rules"] == ["list.blocked_source"]
    assert (await client.get("/v1/quarantine?rule=list.blocked_source&src=%2B447700900667",
                             headers=AUTH)).status == 200
    assert (await client.get("/v1/quarantine?bogus=1", headers=AUTH)).status == 400
    assert (await client.get("/v1/quarantine/999999", headers=AUTH)).status == 404
    r = await client.post(f"/v1/quarantine/{item['id']}/release-allowlist", headers=AUTH)
    out = await r.json()
    assert r.status == 200 and out["list"] == "allowed_numbers", out
    r = await client.post("/v1/check/sms", json={"src": "+447700900667", "dst": "+447700900124",
                                                 "text": "again"}, headers=AUTH)
    assert (await r.json())["rules"] == ["allow.numbers"]
    again = await client.post(f"/v1/quarantine/{item['id']}/release-allowlist", headers=AUTH)
    assert again.status == 409
