"""Flagged Wangiri sources and ranges through the lists API: a campaign rung over
the real FastAGI path flags a number and a range; GET /v1/lists shows both with
their expiry; POST /v1/lists/wangiri_sources and /v1/lists/wangiri_ranges remove
them (and callbacks go through again) or add them. With the embedded counters and
with Redis (a real redis-server), on a private copy of the shipped rules."""

from __future__ import annotations

import asyncio
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from agi_support import REPO, asterisk_session, environment_for
from aiohttp.test_utils import TestClient, TestServer

from gateway.admin.app import make_app
from gateway.agi.server import AgiServer, make_screener
from gateway.app import Core, build_core
from gateway.config import parse_config
from gateway.state import Counters, running_state
from gateway.state.memory import MemoryCounters

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "state"))
from redis_support import RedisServer

TOKEN = "wangiri-lists-token-0123"
SOURCE = "+2250700000001"  # rings six subscribers: flagged itself
RANGE = "+225070000"  # its range: nine more numbers of it ring once each


@pytest.fixture(params=["memory", "redis"])
def state(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Counters]:
    if request.param == "memory":
        yield MemoryCounters()
        return
    from gateway.state.redis import RedisCounters

    server = RedisServer(tmp_path / "redis").start()
    try:
        yield RedisCounters(server.url, prefix="wl:", interval=0.05)
    finally:
        server.stop()


def core_with(state: Counters, tmp_path: Path) -> Core:
    rules = tmp_path / "rules"
    shutil.copytree(REPO / "rules", rules)  # list changes are journaled beside the lists
    config = parse_config({
        "rules": {"dir": str(rules)}, "lists": {"dir": str(rules / "lists")},
        "plugins": {"dir": str(REPO / "plugins")}, "quarantine": {"enabled": False},
        "admin": {"token": TOKEN},
        "agi": {"trunks": [{"name": "trunk-intl", "class": "international"},
                           {"name": "subscribers", "class": "subscribers"}]},
    })
    return build_core(config, state=state)


class Calls:
    def __init__(self, port: int) -> None:
        self.port = port
        self.uid = 0

    async def ring(self, src: str, dst: str) -> str:
        """An inbound call from abroad that rings 3 s, unanswered (CANCEL)."""
        self.uid += 1
        uid = f"1790000001.{self.uid}"
        env = environment_for("inbound", src, dst, "trunk-intl", uniqueid=uid)
        action = (await asterisk_session(self.port, env)).variables["SPAMGW_ACTION"]
        await asterisk_session(self.port, environment_for("ended", src, "s", "CANCEL", "3",
                                                          "0", uniqueid=uid))
        return action

    async def callback(self, dst: str) -> dict[str, str]:
        self.uid += 1  # each from another subscriber: no spend cap is reached
        env = environment_for("outbound", f"+4477009005{self.uid:02d}", dst, "subscribers",
                              uniqueid=f"1790000001.{self.uid}")
        return (await asterisk_session(self.port, env)).variables


def listed(body: dict[str, Any], name: str) -> dict[str, float]:
    (found,) = [lst for lst in body["lists"] if lst["name"] == name]
    assert found["kind"] == "dynamic" and found["entries"] == len(found["flags"])
    return {f["entry"]: f["expires"] for f in found["flags"]}


def test_flagged_sources_and_ranges_are_listed_and_editable(state: Counters,
                                                            tmp_path: Path) -> None:
    core = core_with(state, tmp_path)
    auth = {"Authorization": f"Bearer {TOKEN}"}

    async def main() -> None:
        async with running_state(core.state):
            server = AgiServer(make_screener(core))
            await server.start("127.0.0.1", 0)
            try:
                async with TestClient(TestServer(make_app(core))) as http:
                    await campaign(Calls(server.port), http)
            finally:
                await server.close()

    async def campaign(calls: Calls, http: TestClient[Any, Any]) -> None:
        for i in range(6):  # one number rings six subscribers
            assert await calls.ring(SOURCE, f"4477009002{i:02d}") == "ALLOW"
        for i in range(3):  # and three more numbers of its range ring once each
            assert await calls.ring(f"+22507000001{i:02d}", f"4477009003{i:02d}") == "ALLOW"
        # nine short rings from the range: flagged, the next ring from it is blocked
        assert await calls.ring("+2250700000555", "447700900400") == "BLOCK"

        r = await http.get("/v1/lists", headers=auth)
        assert r.status == 200
        body = await r.json()
        now = time.time()
        sources, ranges = listed(body, "wangiri_sources"), listed(body, "wangiri_ranges")
        assert list(sources) == [SOURCE] and list(ranges) == [RANGE]
        for expires in (*sources.values(), *ranges.values()):  # a week from the rings
            assert now + 6 * 86400 < expires <= now + 7 * 86400

        v = await calls.callback("002250700000001")
        assert v["SPAMGW_RULES"].split(",") == ["wangiri.callback", "wangiri.range_callback"]
        v = await calls.callback("+2250700000077")  # never rang anyone: in the range
        assert v["SPAMGW_ACTION"] == "BLOCK" and v["SPAMGW_RULES"] == "wangiri.range_callback"

        # the operator clears the range: its other numbers are called back again
        r = await http.post("/v1/lists/wangiri_ranges", json={"remove": [RANGE]}, headers=auth)
        assert r.status == 200, await r.text()
        assert (await r.json())["removed"] == 1
        assert (await calls.callback("+2250700000077"))["SPAMGW_ACTION"] == "ALLOW"
        v = await calls.callback("002250700000001")  # the number itself is still flagged
        assert v["SPAMGW_RULES"] == "wangiri.callback"
        r = await http.post("/v1/lists/wangiri_sources", json={"remove": [SOURCE]},
                            headers=auth)
        assert r.status == 200, await r.text()
        assert (await r.json())["removed"] == 1
        assert (await calls.callback("002250700000001"))["SPAMGW_ACTION"] == "ALLOW"
        body = await (await http.get("/v1/lists", headers=auth)).json()
        assert listed(body, "wangiri_sources") == {} == listed(body, "wangiri_ranges")

        # and adds a range reported by another operator, for an hour
        r = await http.post("/v1/lists/wangiri_ranges", json={"add": ["+2250800001"],
                                                             "ttl": 3600}, headers=auth)
        assert r.status == 200, await r.text()
        v = await calls.callback("+2250800001234")
        assert v["SPAMGW_ACTION"] == "BLOCK" and v["SPAMGW_RULES"] == "wangiri.range_callback"
        assert (await calls.callback("+2250800002234"))["SPAMGW_ACTION"] == "ALLOW"

    asyncio.run(main())
