"""Caller-ID trust on the real FastAGI path, with the shipped rules: number status
lookups (gateway.lookup) tell a roaming subscriber's home caller ID on an
international trunk from a spoofer, and a slow lookup does not hold the answer
past its deadline; STIR/SHAKEN results the dialplan passes raise or lower the
spoofing verdict. Real sockets, a real redis-server for the Redis backend."""

from __future__ import annotations

import asyncio
import functools
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from agi_support import REPO, asterisk_session, environment_for

from gateway.agi.screening import Screener, stir_shaken_trust
from gateway.agi.server import AgiServer, make_screener, service
from gateway.app import Core, build_core
from gateway.config import Config, ConfigError, parse_config
from gateway.lookup import (
    FileLookup,
    LookupSetupError,
    StatusLookup,
    make_lookup,
    parse_status_file,
)
from gateway.numbers import Number, Numbering

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "state"))
from redis_support import RedisServer

NUMBERING = Numbering("GB")
ROAMER = "+447700900321"
AT_HOME = "+447700900322"
STRANGER = "+447700900323"  # not in the table: unknown


def config(**sections: dict[str, object]) -> Config:
    return parse_config({
        "rules": {"dir": str(REPO / "rules")},
        "lists": {"dir": str(REPO / "rules" / "lists")},
        "plugins": {"dir": str(REPO / "plugins")},
        "quarantine": {"enabled": False},
        **sections,
        "agi": {"listen": "127.0.0.1:0",
                "trunks": [{"name": "trunk-intl", "class": "international"},
                           {"name": "roam-partner", "class": "roaming_partner"}],
                **sections.get("agi", {})},
    })


@functools.cache
def shared_core() -> Core:
    """The shipped rules and plugins (the caller-ID rules these tests meet count
    nothing, so one core serves them all)."""
    return build_core(config())


def screener(lookup: StatusLookup | None, **options: Any) -> Screener:
    return make_screener(shared_core(), lookup, **options)


async def inbound(port: int, src: str, *args: str, uid: str = "1.1") -> dict[str, str]:
    env = environment_for("inbound", src, "447700900123", *(args or ("trunk-intl",)),
                          uniqueid=uid)
    return (await asterisk_session(port, env)).variables


async def serve(screener: Screener) -> AgiServer:
    server = AgiServer(screener)
    await server.start("127.0.0.1", 0)
    return server


@pytest.fixture
def status_file(tmp_path: Path) -> Path:
    path = tmp_path / "subscriber_status.tsv"
    path.write_text(f"# number\tstatus (from the HLR feed)\n{ROAMER}\troaming\n"
                    f"{AT_HOME}\thome\n+447700900444\tnot_allocated\n")
    return path


def test_file_lookup_tells_a_roamer_from_a_spoofer(status_file: Path) -> None:
    lookup = StatusLookup(FileLookup(status_file, NUMBERING))
    s = screener(lookup)

    async def main() -> list[dict[str, str]]:
        server = await serve(s)
        try:
            return [await inbound(server.port, n, uid=f"1.{i}")
                    for i, n in enumerate((ROAMER, AT_HOME, STRANGER))]
        finally:
            await server.close()

    roamer, at_home, stranger = asyncio.run(main())
    assert roamer["SPAMGW_ACTION"] == "ALLOW", roamer
    assert at_home["SPAMGW_ACTION"] == "BLOCK"
    assert at_home["SPAMGW_RULES"] == "spoof.home_cli_on_international_trunk"
    assert stranger["SPAMGW_ACTION"] == "BLOCK"  # no answer is no excuse
    assert lookup.counters.late == 0 and lookup.counters.cached == 3


def test_without_a_lookup_the_roamer_is_blocked_as_before() -> None:
    async def main() -> dict[str, str]:
        server = await serve(screener(None))
        try:
            return await inbound(server.port, ROAMER)
        finally:
            await server.close()

    assert asyncio.run(main())["SPAMGW_ACTION"] == "BLOCK"


def test_file_lookup_rereads_a_changed_file(status_file: Path) -> None:
    backend = FileLookup(status_file, NUMBERING)
    roamer = NUMBERING.from_caller_id(ROAMER)
    assert backend.get(roamer) == "roaming"
    status_file.write_text(f"{ROAMER}\thome\n")
    os.utime(status_file, (1, 1))  # a new mtime whatever the clock's resolution
    assert asyncio.run(backend.reload()) is True
    assert backend.get(roamer) == "home" and len(backend) == 1
    status_file.write_text(f"{ROAMER}\tabroad\n")  # a broken file keeps the old table
    os.utime(status_file, (2, 2))
    assert asyncio.run(backend.reload()) is False
    assert backend.get(roamer) == "home"


def test_status_file_errors_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "status.tsv"
    path.write_text(f"{ROAMER} roaming\n\n{AT_HOME} abroad\n")
    with pytest.raises(LookupSetupError, match=r"status.tsv:3: unknown status 'abroad'"):
        parse_status_file(path, NUMBERING)
    path.write_text("not-a-number roaming\n")
    with pytest.raises(LookupSetupError, match=r"status.tsv:1: not an international number"):
        parse_status_file(path, NUMBERING)


class SlowHlr:
    """An HLR that answers ``roaming`` only when ``release`` is set: a lookup plugin
    as a slow network peer makes it (it awaits; it does not hold the loop)."""

    name = "slow-hlr"

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.asked = 0

    async def lookup(self, number: Number) -> str | None:
        self.asked += 1
        await self.release.wait()
        return "roaming"


def test_slow_lookup_answers_unknown_by_its_deadline_and_fills_the_cache() -> None:
    async def main() -> tuple[dict[str, str], dict[str, str], StatusLookup, Screener]:
        hlr = SlowHlr()
        # the call's deadline is generous (a loaded test machine); the lookup's own is
        # 20 ms inside it: the screening goes on without the answer, by its own rules
        lookup = StatusLookup(hlr, deadline=0.02)
        s = screener(lookup, deadline_ms=2000)
        server = await serve(s)
        try:
            first = await inbound(server.port, ROAMER, uid="2.1")
            assert hlr.asked == 1
            hlr.release.set()  # the answer comes after all, too late for that call
            for _ in range(100):
                if len(lookup):
                    break
                await asyncio.sleep(0.01)
            second = await inbound(server.port, ROAMER, uid="2.2")
            return first, second, lookup, s
        finally:
            await server.close()

    first, second, lookup, s = asyncio.run(main())
    # the first call's answer is the engine's own verdict on "unknown", not the
    # fail-open answer of a screening that missed the call's deadline
    assert first["SPAMGW_ACTION"] == "BLOCK", first
    assert first["SPAMGW_RULES"] == "spoof.home_cli_on_international_trunk"
    assert s.counters.late == 0 and s.counters.late_answered == 0
    assert lookup.counters.late == 1 and lookup.counters.started == 1
    assert second["SPAMGW_ACTION"] == "ALLOW", second  # from the cache
    assert lookup.counters.cached == 1


def test_cache_is_bounded_and_expires() -> None:
    now = [0.0]
    hlr = SlowHlr()
    hlr.release.set()
    lookup = StatusLookup(hlr, ttl=60, size=2, clock=lambda: now[0])
    numbers = [NUMBERING.from_caller_id(f"+44770090070{i}") for i in range(3)]

    async def main() -> list[str]:
        return [await lookup.wait(n, 1.0) for n in numbers]

    assert asyncio.run(main()) == ["roaming"] * 3
    assert len(lookup) == 2 and lookup.cached(numbers[0]) is None  # the oldest went
    assert lookup.cached(numbers[2]) == "roaming"
    now[0] = 61.0
    assert lookup.cached(numbers[2]) is None


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis").start()
    try:
        yield server
    finally:
        server.stop()


def test_redis_lookup_in_a_running_gateway(redis_server: RedisServer, tmp_path: Path) -> None:
    """The config's [agi.lookup] with the Redis backend, the FastAGI service of a
    real core: the HLR feed writes a hash, the gateway reads it (and caches it)."""
    import redis

    feed = redis.Redis.from_url(redis_server.url)
    feed.hset("hlr:status", mapping={ROAMER: "roaming", AT_HOME: "home",
                                     "+447700900555": "bogus"})
    # deadlines generous for a loaded test machine: this test is about the answers
    core = build_core(config(gateway={"call_deadline_ms": 2000}, agi={"lookup": {
        "backend": "redis", "redis_url": redis_server.url, "redis_key": "hlr:status",
        "deadline_ms": 1000}}))

    async def main() -> list[str]:
        async with service(core) as server:
            out = []
            for i, n in enumerate((ROAMER, AT_HOME, "+447700900555", ROAMER)):
                out.append((await inbound(server.port, n, uid=f"3.{i}"))["SPAMGW_ACTION"])
                if i == 0:  # a feed change is seen once the cached answer expires
                    feed.hset("hlr:status", ROAMER, "home")
            metrics = core.sources["agi_lookup"]()
            assert metrics["invalid"] == 1 and metrics["cached"] == 1, metrics
            assert metrics["started"] == 3 and metrics["late"] == 0, metrics
            return out

    # roaming; at home; a status the lookup does not know (unknown); the cached
    # "roaming", although the hash changed meanwhile
    assert asyncio.run(main()) == ["ALLOW", "BLOCK", "BLOCK", "ALLOW"]


def test_make_lookup_from_config(status_file: Path) -> None:
    cfg = parse_config({"agi": {"lookup": {"backend": "file", "path": str(status_file),
                                           "deadline_ms": 40}}})
    lookup = make_lookup(cfg.agi.lookup, NUMBERING, redis_url="", call_deadline=0.05)
    assert lookup is not None and isinstance(lookup.backend, FileLookup)
    assert lookup.deadline == pytest.approx(0.03)  # at most 60% of the call's deadline
    assert make_lookup(parse_config({}).agi.lookup, NUMBERING, redis_url="",
                       call_deadline=0.05) is None
    bad = parse_config({"agi": {"lookup": {"backend": "hlr-x"}}})
    with pytest.raises(LookupSetupError, match="unknown backend 'hlr-x'"):
        make_lookup(bad.agi.lookup, NUMBERING, redis_url="", call_deadline=0.05)
    gone = parse_config({"agi": {"lookup": {"backend": "file", "path": "/nonexistent.tsv"}}})
    with pytest.raises(ConfigError, match=r"agi.lookup.path: /nonexistent.tsv: No such file"):
        make_lookup(gone.agi.lookup, NUMBERING, redis_url="", call_deadline=0.05)


def test_stir_shaken_results_as_asterisk_names_them() -> None:
    # STIR_SHAKEN(0,verify_result) and STIR_SHAKEN(0,attestation), res_stir_shaken.c
    assert stir_shaken_trust("success", "A") == "full"
    assert stir_shaken_trust("success", "B") == "partial"
    assert stir_shaken_trust("success", "C") == "gateway"
    assert stir_shaken_trust("signature_validation", "A") == "failed"
    assert stir_shaken_trust("cid_orig_tn_mismatch", "") == "failed"
    assert stir_shaken_trust("disabled", "") == "none"
    assert stir_shaken_trust("", "") == "none"  # no Identity header: nothing to read


def test_stir_shaken_arguments_raise_and_lower_the_spoofing_verdict() -> None:
    async def main() -> list[dict[str, str]]:
        server = await serve(screener(None))
        try:
            calls = [
                (ROAMER, "trunk-intl", "success", "A"),  # signed for, fully attested
                (ROAMER, "trunk-intl", "success", "B"),  # partial: still a spoof
                ("+3312345", "trunk-intl"),  # impossible number: a warning
                ("+3312345", "trunk-intl", "signature_validation", "A"),
            ]
            return [await inbound(server.port, src, *args, uid=f"4.{i}")
                    for i, (src, *args) in enumerate(calls)]
        finally:
            await server.close()

    full, partial, impossible, failed = asyncio.run(main())
    assert full["SPAMGW_ACTION"] == "ALLOW" and "spoof.stir_shaken_verified" in full[
        "SPAMGW_RULES"]
    assert partial["SPAMGW_ACTION"] == "BLOCK"
    assert impossible["SPAMGW_ACTION"] == "WARN"
    assert failed["SPAMGW_ACTION"] == "BLOCK", failed
    assert failed["SPAMGW_RULES"] == "spoof.impossible_number,spoof.stir_shaken_failed"
