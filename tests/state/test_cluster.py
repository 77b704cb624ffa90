"""Several gateway processes' worth of ``RedisCounters`` sharing one real Redis."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest
from redis_support import two_backends

from gateway.state.redis import RedisCounters

W = 60.0


async def sync_all(*cs: RedisCounters) -> None:
    for c in cs:  # push everything, then read everything back
        await c.sync()
    for c in cs:
        await c.sync()


async def eventually(cond: Callable[[], bool], within: float = 3.0) -> None:
    deadline = time.monotonic() + within
    while not cond():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_rates_add_up_across_processes(pair) -> None:
    a, b = pair
    now = time.time()
    for i in range(30):
        assert a.hit("rate", 447700900001, now + i * 0.01, W) == i + 1
        b.hit("rate", 447700900001, now + i * 0.01, W)
    b.hit("rate", 447700900002, now, W)  # another key, only on b
    await sync_all(a, b)
    later = now + 0.5
    assert a.peek("rate", 447700900001, later, W) == pytest.approx(60.0)
    assert b.peek("rate", 447700900001, later, W) == pytest.approx(60.0)
    # a's next hit counts on top of the cluster's total at once
    assert a.hit("rate", 447700900001, later, W) == pytest.approx(61.0)
    # a key a never used is unknown to it until it asks (a peek) and a sync passes
    assert a.peek("rate", 447700900002, later, W) == 0.0
    await a.sync()
    assert a.peek("rate", 447700900002, later, W) == pytest.approx(1.0)


async def test_syncing_twice_never_counts_twice(pair) -> None:
    a, b = pair
    now = time.time()
    a.hit("r", "k", now, W, 2.0)
    for _ in range(5):
        await sync_all(a, b)
    assert a.peek("r", "k", now, W) == 2.0
    assert b.peek("r", "k", now, W) == 0.0  # b never used the key: not pulled
    b.peek("r", "k", now, W)
    await b.sync()
    assert b.peek("r", "k", now, W) == 2.0


async def test_distinct_counts_merge(pair) -> None:
    a, b = pair
    now = time.time()
    for m in range(10):
        a.distinct("fanout", "src1", m, now, W)
    for m in range(5, 15):
        b.distinct("fanout", "src1", m, now, W)
    await sync_all(a, b)
    # members 5..9 were seen by both: counted once
    assert a.distinct("fanout", "src1", 3, now + 1, W) == 15
    assert b.distinct("fanout", "src1", 14, now + 1, W) == 15
    assert a.distinct("fanout", "src1", 99, now + 1, W) == 16
    await sync_all(a, b)
    assert a.distinct("fanout", "src1", 99, now + 2, W) == 16
    # b meets 99 for the first time: it cannot know a has it until its next sync, so
    # it is counted twice for that long (the documented transient overcount)
    assert b.distinct("fanout", "src1", 99, now + 2, W) == 17
    await b.sync()
    assert b.distinct("fanout", "src1", 99, now + 2, W) == 16
    # everything leaves the window together
    assert a.distinct("fanout", "src1", 100, now + W + 5, W) == 1


async def test_flags_travel_and_unflags_too(pair) -> None:
    a, b = pair
    now = time.time()
    a.flag("wangiri", 447700900123, now, 3600)
    a.flag("senders", ("acme", 1), now, 3600)
    await sync_all(a, b)
    assert b.flagged("wangiri", 447700900123, now + 1)
    assert b.flagged("senders", ("acme", 1), now + 1)
    assert b.flags("wangiri", now)[447700900123] == pytest.approx(now + 3600)
    assert b.unflag("wangiri", 447700900123)
    await sync_all(b, a)
    assert not a.flagged("wangiri", 447700900123, now + 2)


async def test_background_sync_converges_within_an_interval(store, prefix) -> None:
    async with two_backends(store.url, prefix, 0.05) as (a, b):
        now = time.time()
        for _ in range(7):
            a.hit("r", "bulk", now, W)
        b.peek("r", "bulk", now, W)  # b's traffic uses the key
        a.flag("wangiri", 447700900999, now, 60)
        await eventually(lambda: b.peek("r", "bulk", now, W) == 7.0
                         and b.flagged("wangiri", 447700900999, now))
        assert a.syncs > 0 and b.syncs > 0 and a.sync_errors == b.sync_errors == 0
        assert b.last_sync > now - 1


async def test_flags_survive_a_restart_and_expired_ones_vanish(store, prefix) -> None:
    a = RedisCounters(store.url, prefix=prefix, interval=3600)
    await a.start()
    now = time.time()
    a.flag("wangiri", 447700900555, now, 3600)
    a.flag("wangiri", 447700900556, now, 0.3)
    await a.stop()  # the last push happens on stop
    await asyncio.sleep(0.4)
    c = RedisCounters(store.url, prefix=prefix, interval=3600)
    await c.start()
    try:
        assert c.flagged("wangiri", 447700900555, time.time())
        assert 447700900556 not in c.flags("wangiri", 0.0)  # not even loaded
    finally:
        await c.stop()
    # and Redis itself has dropped it
    r = store.client()
    try:
        assert r.zrange(c.prefixes[0] + "f:wangiri", 0, -1) == ["447700900555"]
    finally:
        r.close()


async def test_keys_are_namespaced(pair, store, prefix) -> None:
    """Every key carries the prefix. On a Cluster each shard's keys share a hash tag
    made of the prefix (``{t1234abcd:17}:...``), and the shards spread over the
    primaries."""
    a, _ = pair
    now = time.time()
    for i in range(40):
        a.hit("r", f"k{i}", now, W)
        a.distinct("d", f"k{i}", "m", now, W)
    a.flag("f", "k", now, 60)
    await a.sync()
    head = prefix if store.kind == "standalone" else "{" + prefix
    by_server = store.keys(head + "*")
    keys = [k for ks in by_server.values() for k in ks]
    assert len(keys) >= 45 and all(k.startswith(head) for k in keys)
    if store.kind == "cluster":
        assert all(len(ks) >= 5 for ks in by_server.values()), {
            port: len(ks) for port, ks in by_server.items()}
        assert len(a.prefixes) == 8 and len({p.split("}")[0] for p in a.prefixes}) == 8


def test_check_tool_preloads_flags_without_an_event_loop(store, prefix) -> None:
    async def seed() -> None:
        a = RedisCounters(store.url, prefix=prefix, interval=3600)
        await a.start()
        a.flag("wangiri", 447700900777, time.time(), 60)
        await a.stop()

    asyncio.run(seed())
    c = RedisCounters(store.url, prefix=prefix)
    c.preload()
    assert c.flagged("wangiri", 447700900777, time.time())
    dead = RedisCounters(store.url.replace(store.url.split("//")[1],
                                           "127.0.0.1:1") if store.kind == "cluster"
                         else "redis://127.0.0.1:1/0", prefix=prefix, timeout=0.2)
    dead.preload()  # fail-open: counted, logged, no exception
    assert dead.sync_errors == 1 and not dead.flagged("wangiri", 447700900777, time.time())
