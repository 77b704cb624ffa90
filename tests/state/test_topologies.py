"""Redis as operators run it for availability: a primary failed over by Sentinel, and a
Redis Cluster whose primary dies and whose replica takes its slots. Real servers; the
counters go on from the local view while Redis is away (fail-open, counted) and share
again when the client has found the new primary. Also the URL forms and their errors."""

from __future__ import annotations

import asyncio
import time

import pytest
import redis.exceptions
from redis_support import ClusterServers, SentinelGroup, two_backends

from gateway.config import ConfigError, parse_config
from gateway.redisconn import parse, sync_client
from gateway.state.redis import RedisCounters

W = 3600.0


@pytest.mark.parametrize(("url", "mode", "hosts", "service", "db", "password"), [
    ("redis://127.0.0.1:6379/0", "standalone", (), "", 0, None),
    ("unix:///run/redis.sock", "standalone", (), "", 0, None),
    ("redis+sentinel://10.0.0.1:26379,10.0.0.2/mymaster/2", "sentinel",
     (("10.0.0.1", 26379), ("10.0.0.2", 26379)), "mymaster", 2, None),
    ("rediss+sentinel://:s%40cret@[::1]:26380/spam", "sentinel", (("::1", 26380),),
     "spam", 0, "s@cret"),
    ("redis+cluster://app:pw@r1:7000,r2:7001,r3", "cluster",
     (("r1", 7000), ("r2", 7001), ("r3", 6379)), "", 0, "pw"),
])
def test_urls(url, mode, hosts, service, db, password) -> None:
    t = parse(url)
    assert (t.mode, t.service, t.db, t.password) == (mode, service, db, password)
    if hosts:
        assert t.hosts == hosts


@pytest.mark.parametrize(("url", "reason"), [
    ("127.0.0.1:6379", "expected a redis://"),
    ("http://r1:6379", "unknown scheme 'http'"),
    ("redis+sentinel://r1:26379", "needs the primary's service name"),
    ("redis+sentinel://r1:26379/m/x", "db 'x' is not a number"),
    ("redis+sentinel://r1:26379/m/0/1", "path is /service[/db]"),
    ("redis+cluster://r1:7000/0", "takes no path"),
    ("redis+cluster://r1:70000", "port out of range"),
    ("redis+cluster://r1:7000,,r2:7001", "an empty host"),
    ("redis+cluster://r1:abc", "the port is not a number"),
    ("redis+cluster://r1:7000?timeout=1", "take no query options"),
])
def test_bad_urls_say_why(url, reason) -> None:
    with pytest.raises(ValueError, match=reason.replace("[", r"\[").replace("?", r"\?")):
        parse(url)


def test_config_names_the_key() -> None:
    with pytest.raises(ConfigError, match=r"^state\.redis_url: redis\+cluster:// takes no"):
        parse_config({"state": {"redis_url": "redis+cluster://r1:7000/0"}})
    with pytest.raises(ConfigError, match=r"^agi\.lookup\.redis_url: unknown scheme"):
        parse_config({"agi": {"lookup": {"redis_url": "memcached://x"}}})
    with pytest.raises(ConfigError, match=r"^state\.redis_shards: expected 0"):
        parse_config({"state": {"redis_shards": 5000}})
    with pytest.raises(ConfigError, match=r"^state\.redis_prefix: no braces"):
        parse_config({"state": {"redis_prefix": "{spamgw}:"}})
    with pytest.raises(ConfigError, match=r"^state\.redis_url: expected a redis://"):
        parse_config({"state": {"backend": "redis", "redis_url": ""}})
    cfg = parse_config({"state": {"redis_url": "redis+sentinel://s1,s2/mymaster"}})
    assert cfg.state.redis_url == "redis+sentinel://s1,s2/mymaster"


async def until(cond, what: str, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while not cond():
        assert time.monotonic() < deadline, f"no {what} in {within} s"
        await asyncio.sleep(0.05)


async def share_through_a_failover(url: str, prefix: str, kill) -> tuple[int, int]:
    """Two backends syncing every 50 ms: counts and a flag shared, the primary killed,
    hits during the outage answered locally, then shared once the new primary is
    found. Returns the sync errors of each backend."""
    async with two_backends(url, prefix, 0.05) as (a, b):
        now = time.time()
        b.peek("r", "wave", now, W)  # b holds the key
        for _ in range(5):
            a.hit("r", "wave", now, W)
        a.flag("wangiri", 447700900555, now, 600)
        await until(lambda: b.peek("r", "wave", now, W) == 5.0
                    and b.flagged("wangiri", 447700900555, now), "sharing before")
        await asyncio.sleep(0.3)  # the replica has it (replication is asynchronous)
        kill()
        # the engine's calls never wait on Redis: a's hits count at once
        assert [a.hit("r", "wave", now, W) for _ in range(3)] == [6.0, 7.0, 8.0]
        await until(lambda: a.sync_errors > 0 or b.sync_errors > 0, "failed sync")
        await until(lambda: b.peek("r", "wave", now, W) == 8.0, "sharing after")
        # and no push was made twice: a Cluster sync that reached some primaries and
        # not the dead one pushes again only what the dead one did not take
        await asyncio.sleep(0.5)
        assert a.peek("r", "wave", now, W) == b.peek("r", "wave", now, W) == 8.0
        bucket = int(now // W)

        def in_redis() -> float | None:
            """Redis's total, or None while a Sentinel still settles the failover (it
            can answer "no master" for a moment after the promotion)."""
            r = sync_client(url, decode_responses=True, socket_timeout=1.0,
                            socket_connect_timeout=1.0)
            try:
                return sum(float(r.hget(f"{p}s:r:{W:g}:{bucket}", '"wave"') or 0)
                           for p in a.prefixes)
            except (redis.exceptions.RedisError, redis.exceptions.RedisClusterException):
                return None
            finally:
                r.close()

        await until(lambda: in_redis() is not None, "Redis answering the test")
        assert in_redis() == 8.0
        # the flag made before the failover is still there for a new process
        c = RedisCounters(url, prefix=prefix, interval=3600)
        await c.start()
        try:
            assert c.flagged("wangiri", 447700900555, now)
        finally:
            await c.stop()
        # both syncing again (the new primary may first answer NOSCRIPT: the sync
        # that meets it fails, and the next loads the script there)
        await until(lambda: a.connected and b.connected, "both syncing")
        return a.sync_errors, b.sync_errors


async def test_a_sentinel_failover_loses_no_count(tmp_path, prefix) -> None:
    group = SentinelGroup(tmp_path).start()
    try:
        old = group.primary.port
        errors = await share_through_a_failover(group.url, prefix, group.primary.kill)
        addr = group.sentinel.command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster")
        assert int(addr[1]) == group.replica.port != old
        assert sum(errors) >= 1
    finally:
        group.stop()


async def test_a_cluster_primary_failover_loses_no_count(tmp_path, prefix) -> None:
    cluster = ClusterServers(tmp_path, n=3, replicas=1).start()
    try:
        victim = cluster.primaries[0]
        errors = await share_through_a_failover(
            f"redis+cluster://127.0.0.1:{cluster.nodes[1].port}", prefix, victim.kill)
        assert all(i.get("cluster_state") == "ok" for i in cluster.infos())
        assert sum(errors) >= 1
    finally:
        cluster.stop()
