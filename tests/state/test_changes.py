"""What a sync reads back: a key once, when this process first uses it (or its window
rolls over); after that, the others' changes come in their change records, and a key
nobody else changes is never read again. A process that may have missed records (its
first sync, dropped from the fan-out, an inbox past its cap) reads everything again.
And the sync keeps up while the event loop is busy. Real redis-server; counts of the
commands Redis ran from its own ``INFO commandstats``. Each runs on one redis-server
and on a Redis Cluster (``store``)."""

from __future__ import annotations

import asyncio
import time

import redis
from redis_support import two_backends

W = 3600.0


async def test_a_key_is_read_once_and_then_learns_from_the_others(pair, store) -> None:
    a, b = pair
    now = time.time()
    a.hit("r", "k", now, W)
    await a.sync()  # new here: pushed and read (the current and the previous bucket)
    assert a.metrics()["sync_reads"] == 1
    for _ in range(5):
        b.hit("r", "k", now, W)
    await b.sync()
    hgets = store.calls("hget")
    for _ in range(3):
        await a.sync()
    # a knows b's five from b's change record, without reading the key again
    assert a.peek("r", "k", now, W) == 6.0
    assert a.metrics()["sync_reads"] == 1
    assert a.metrics()["sync_changes_in"] == 1
    assert store.calls("hget") == hgets
    # a's own hits are pushed, and the push answers the new total: still no read
    a.hit("r", "k", now, W)
    await a.sync()
    assert a.peek("r", "k", now, W) == 7.0
    assert store.calls("hget") == hgets
    await b.sync()
    assert b.peek("r", "k", now, W) == 7.0


async def test_distinct_sizes_travel_in_the_records(pair) -> None:
    a, b = pair
    now = time.time()
    a.distinct("fanout", "src", "m0", now, W)
    await a.sync()
    for m in range(1, 6):
        b.distinct("fanout", "src", f"m{m}", now, W)
    await b.sync()
    await a.sync()
    assert a.metrics()["sync_changes_in"] == 1
    # a sees m0 (its own) and the five only b had, plus the one it meets now
    assert a.distinct("fanout", "src", "m9", now + 1, W) == 7


async def test_a_process_dropped_from_the_fanout_reads_its_keys_again(
        pair, store, prefix) -> None:
    a, b = pair
    now = time.time()
    a.hit("r", "k", now, W)
    await a.sync()
    # a fell silent past ``live`` as far as the others know: it leaves the fan-out
    r = store.client()
    try:  # a registers in every shard's process set
        assert all(r.zrem(p + "procs", a._syncer.origin) == 1 for p in a.prefixes)
    finally:
        r.close()
    for _ in range(3):
        b.hit("r", "k", now, W)
    await b.sync()  # no record for a
    rereads = a.metrics()["sync_rereads"]
    await a.sync()  # told it was not registered all along: queues every key
    assert a.metrics()["sync_rereads"] == rereads + 1
    await a.sync()  # and reads them
    assert a.peek("r", "k", now, W) == 4.0
    # registered again: b's next change reaches it in a record
    b.hit("r", "k", now, W)
    await b.sync()
    await a.sync()
    assert a.peek("r", "k", now, W) == 5.0
    assert a.metrics()["sync_rereads"] == rereads + 1


async def test_an_inbox_past_its_cap_makes_its_owner_read_again(pair) -> None:
    a, b = pair
    now = time.time()
    a.hit("r", "k", now, W)
    await a.sync()
    b._syncer.inbox_cap = 2
    for _ in range(3):  # three records for a; the oldest goes
        b.hit("r", "k", now, W)
        await b.sync()
    rereads = a.metrics()["sync_rereads"]
    await a.sync()
    assert a.metrics()["sync_rereads"] == rereads + 1
    await a.sync()
    assert a.peek("r", "k", now, W) == 4.0


async def busy(seconds: float, chunk: float, work=None) -> None:
    """Hold the event loop as a saturated gateway does: CPU for ``chunk`` seconds at a
    time (holding the GIL), one turn of the loop between chunks."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        until = time.monotonic() + chunk
        while time.monotonic() < until:
            pass
        if work is not None:
            work()
        await asyncio.sleep(0)


async def test_the_sync_keeps_up_while_the_loop_is_busy(store, prefix) -> None:
    """Turns of 150 ms (a loop full of messages): the sync's I/O runs in its own
    thread, so each turn merges one sync and starts the next; sharing goes on and no
    lag episode is declared."""
    async with two_backends(store.url, prefix, 0.05) as (a, b):
        now = time.time()
        b.peek("r", "wave", now, W)  # b holds the key
        await b.sync()
        hits: list[float] = []

        def traffic() -> None:
            a.hit("r", "wave", now, W)
            hits.append(time.monotonic())

        syncs = a.syncs, b.syncs
        await busy(3.0, 0.15, traffic)
        seen = b.peek("r", "wave", now, W)  # before the loop runs anything else
        assert a.lag_episodes == b.lag_episodes == 0
        assert a.sync_age() < a.lag_bound and b.sync_age() < b.lag_bound
        assert a.syncs - syncs[0] >= 6 and b.syncs - syncs[1] >= 6
        # b has what a counted up to a second ago at the latest
        recent = sum(1 for t in hits if t > time.monotonic() - 1.0)
        assert len(hits) - recent <= seen <= len(hits)
        assert a.sync_errors == b.sync_errors == 0


async def test_an_error_reply_fails_one_sync_and_the_next_pushes_it(pair, store) -> None:
    """Redis forgot the script (``SCRIPT FLUSH``, or a restart between two syncs): the
    sync fails on the error reply, its connection is dropped with the replies still
    unread, and the next sync loads the script and pushes what the failed one carried,
    once."""
    a, b = pair
    now = time.time()
    a.hit("r", "k", now, W, 2.0)
    a.flag("wangiri", 447700900321, now, 600)
    store.script_flush()
    try:
        await a.sync()
        raise AssertionError("the sync should have failed")
    except redis.exceptions.NoScriptError:
        pass
    assert a.sync_errors == 1
    await a.sync()  # loads the script again, pushes the hit and the flag
    b.peek("r", "k", now, W)
    await b.sync()
    assert b.peek("r", "k", now, W) == 2.0
    assert b.flagged("wangiri", 447700900321, now + 1)
    a.hit("r", "k", now, W)
    await a.sync()
    await b.sync()
    assert b.peek("r", "k", now, W) == 3.0
