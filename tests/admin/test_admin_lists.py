"""Lists over HTTP: validation, journal before the 200, ttl, compaction, bulk import,
and what a fresh core built from the same directory sees (a restart)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from admin_support import AUTH, Site
from aiohttp.test_utils import TestClient

from gateway.app import Core, build_core
from gateway.lists.files import compiled_path

pytestmark = pytest.mark.asyncio


async def _lookup(client: TestClient[Any, Any], name: str, entry: str) -> dict[str, Any]:
    r = await client.get(f"/v1/lists/{name}/{entry}", headers=AUTH)
    assert r.status == 200
    out: dict[str, Any] = await r.json()
    return out


async def _change(client: TestClient[Any, Any], name: str, body: dict[str, Any],
                  status: int = 200) -> dict[str, Any]:
    r = await client.post(f"/v1/lists/{name}", json=body, headers=AUTH)
    out: dict[str, Any] = await r.json()
    assert r.status == status, out
    return out


async def test_lookup_exact_and_prefix(client: TestClient[Any, Any]) -> None:
    hit = await _lookup(client, "blocked_numbers", "+447700900666")
    assert (hit["listed"], hit["entry"], hit["match"]) == (True, "+447700900666", "exact")
    hit = await _lookup(client, "blocked_numbers", "+447700900955")
    assert (hit["listed"], hit["entry"], hit["match"]) == (True, "+4477009009*", "prefix")
    assert not (await _lookup(client, "blocked_numbers", "+447700900555"))["listed"]
    hit = await _lookup(client, "blocked_domains", "login.evil-bank-login.example")
    assert (hit["entry"], hit["match"]) == ("evil-bank-login.example", "parent domain")
    assert (await client.get("/v1/lists/nope/+44", headers=AUTH)).status == 404
    names = {x["name"]: x for x in (await (await client.get("/v1/lists", headers=AUTH)).json())
             ["lists"]}
    assert names["blocked_numbers"]["exact"] == 2 and names["blocked_numbers"]["prefixes"] == 1
    assert {"srs_listed", "srs_reported", "premium_rate"} <= set(names)


async def test_change_is_journaled_live_and_validated(client: TestClient[Any, Any], site: Site,
                                                       core: Core) -> None:
    journal = site.lists / "blocked_numbers.journal"
    bad = await _change(client, "blocked_numbers",
                        {"add": ["+447700900777", "12ab", "+0123"]}, 400)
    assert bad["count"] == 2 and "'12ab'" in bad["entries"][0]
    assert not journal.exists()  # nothing applied, nothing journaled
    assert not (await _lookup(client, "blocked_numbers", "+447700900777"))["listed"]

    out = await _change(client, "blocked_numbers",
                        {"add": ["+447700900777", "+44770091*"], "remove": ["+447700900666"]})
    assert (out["added"], out["removed"]) == (2, 1)
    assert journal.read_text().count("\n") == 2  # on disk when the 200 came
    assert (await _lookup(client, "blocked_numbers", "+447700900777"))["listed"]
    assert (await _lookup(client, "blocked_numbers", "+447700910000"))["match"] == "prefix"
    r = await client.post("/v1/check/sms", json={"src": "+447700900666", "dst": "+447700900123",
                                                 "text": "x"}, headers=AUTH)
    assert (await r.json())["action"] == "ALLOW"  # removed: live at once

    for body, reason in (({"add": "+44"}, "arrays"), ({}, "nothing to change"),
                         ({"add": ["+447700900778"], "ttl": -5}, "ttl"),
                         ({"add": ["+447700900778"], "extra": 1}, "unknown extra")):
        assert reason in (await _change(client, "blocked_numbers", body, 400))["error"]
    assert (await client.post("/v1/lists/premium_rate", json={"add": ["+44"]},
                              headers=AUTH)).status == 409
    assert (await client.post("/v1/lists/nope", json={"add": ["+44"]},
                              headers=AUTH)).status == 404

    # a restart: a new core from the same directory replays the journal
    again = build_core(site.config())
    ns = again.lists.numbers("blocked_numbers")
    assert ns is not None
    assert ns.match(core.numbering.parse("+447700900777").key) is not None
    assert ns.match(core.numbering.parse("+447700900666").key) is None


async def test_ttl_entries_expire(client: TestClient[Any, Any], core: Core, site: Site) -> None:
    out = await _change(client, "blocked_senders", {"add": ["SCAMCO"], "ttl": 60})
    assert out["expires"] > time.time()
    hit = await _lookup(client, "blocked_senders", "scamco")
    assert hit["listed"] and hit["expires"] == out["expires"]
    # a permanent entry is not shortened by a ttl
    await _change(client, "blocked_senders", {"add": ["HMRC"], "ttl": 60})
    assert core.changes.expire(out["expires"] + 1) == 1
    assert not (await _lookup(client, "blocked_senders", "scamco"))["listed"]
    assert (await _lookup(client, "blocked_senders", "hmrc"))["listed"]
    # replay skips expired entries; compaction keeps ttl entries out of the text file
    await _change(client, "blocked_senders", {"add": ["LATERCO"], "ttl": 3600})
    r = await client.post("/v1/lists/blocked_senders/compact", headers=AUTH)
    assert (await r.json())["kept"] == 3  # ttl records stay journaled until they expire
    assert "laterco" not in (site.lists / "blocked_senders.txt").read_text()
    again = build_core(site.config())
    senders = again.lists.strings("blocked_senders")
    assert senders is not None and "laterco" in senders and "hmrc" in senders
    assert again.changes.expiring["blocked_senders"]  # still expiring after the restart


async def test_compaction_folds_journal_into_files(client: TestClient[Any, Any],
                                                   site: Site) -> None:
    txt = site.lists / "blocked_numbers.txt"
    await _change(client, "blocked_numbers", {"add": ["+447700900801", "+447700900802"]})
    await _change(client, "blocked_numbers", {"remove": ["+447700900667", "+447700900802"]})
    r = await client.post("/v1/lists/blocked_numbers/compact", headers=AUTH)
    out = await r.json()
    assert (out["appended"], out["dropped"]) == (1, 1)
    text = txt.read_text()
    assert "+447700900801" in text and "+447700900667" not in text
    assert "# Numbers and prefixes whose traffic is blocked" in text  # comments kept
    assert compiled_path(txt).exists()
    assert (site.lists / "blocked_numbers.journal").read_bytes() == b""
    again = build_core(site.config())
    ns = again.lists.numbers("blocked_numbers")
    assert ns is not None and ns.exact_count() == 2 and len(ns.prefixes) == 1


async def _lines(n: int) -> AsyncIterator[bytes]:
    chunk: list[str] = []
    for i in range(n):
        chunk.append(f"+4479{i:08d}\n")
        if len(chunk) == 10000:
            yield "".join(chunk).encode()
            chunk = []
    yield ("".join(chunk) + "# trailing comment\n+4478*").encode()


async def test_bulk_import_streams(client: TestClient[Any, Any], site: Site) -> None:
    n = 200_000
    r = await client.post("/v1/lists/blocked_numbers/import", data=_lines(n),
                          headers={**AUTH, "Content-Type": "text/plain"})
    out = await r.json()
    assert r.status == 200, out
    assert out["added"] == n + 1
    # past compact_after: compacted in the background; an explicit one waits for it
    r = await client.post("/v1/lists/blocked_numbers/compact", headers=AUTH)
    assert r.status == 200
    assert "+447900123456" in (site.lists / "blocked_numbers.txt").read_text()
    assert (await _lookup(client, "blocked_numbers", "+447900123456"))["match"] == "exact"
    assert (await _lookup(client, "blocked_numbers", "+44781"))["match"] == "prefix"
    r = await client.post("/v1/lists/blocked_numbers/import", data=b"+447700900900\nnot-a-number\n",
                          headers=AUTH)
    assert r.status == 400
    assert (await r.json())["entries"] == [
        "line 2: 'not-a-number' is not a number entry: expected +E.164, +prefix* or a short code"]
    again = build_core(site.config())
    ns = again.lists.numbers("blocked_numbers")
    assert ns is not None and ns.exact_count() == n + 2
