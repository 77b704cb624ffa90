"""The behaviour both backends must share, parametrized over memory and redis.

The redis variant is started against a real server and synced (pushed, read back,
merged) between steps: a process alone in the cluster must count exactly as
``MemoryCounters`` does. Timestamps start on a window boundary, where the memory
backend's windows (anchored at a key's first hit) and the redis backend's (anchored
on the epoch, so all processes agree) coincide.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.state import Counters
from gateway.state.memory import MemoryCounters
from gateway.state.redis import RedisCounters

T0 = 1_790_000_040.0  # a multiple of 60 (and of 5, 10)


@dataclass
class Backend:
    c: Counters
    settle: Callable[[], None]


@pytest.fixture(params=["memory", "redis"])
def backend(request: pytest.FixtureRequest, redis_server, prefix) -> Iterator[Backend]:
    if request.param == "memory":
        yield Backend(MemoryCounters(), lambda: None)
        return
    loop = asyncio.new_event_loop()
    c = RedisCounters(redis_server.url, prefix=prefix, interval=3600)  # syncs on demand
    loop.run_until_complete(c.start())
    try:
        yield Backend(c, lambda: loop.run_until_complete(c.sync()))
    finally:
        loop.run_until_complete(c.stop())
        loop.close()
    assert c.sync_errors == 0


def test_sliding_sum_estimate(backend: Backend) -> None:
    c = backend.c
    for i in range(60):
        c.hit("r", "a", T0 + i, 60.0)
        if i % 7 == 0:
            backend.settle()
    assert c.peek("r", "a", T0 + 59, 60.0) == pytest.approx(60.0)
    backend.settle()
    assert c.peek("r", "a", T0 + 59, 60.0) == pytest.approx(60.0)
    # half a window later, half of the old window still counts
    assert c.peek("r", "a", T0 + 90, 60.0) == pytest.approx(30.0)
    backend.settle()
    assert c.peek("r", "a", T0 + 90, 60.0) == pytest.approx(30.0)
    assert c.hit("r", "a", T0 + 90, 60.0, 2.5) == pytest.approx(32.5)
    assert c.peek("r", "a", T0 + 200, 60.0) == 0.0
    assert c.peek("r", "other", T0 + 10, 60.0) == 0.0


def test_sums_are_separate_per_name_and_key(backend: Backend) -> None:
    c = backend.c
    c.hit("r", ("a", 1), T0, 10.0, 3.0)
    c.hit("r", ("a", 2), T0, 10.0)
    c.hit("q", ("a", 1), T0, 10.0)
    backend.settle()
    assert c.peek("r", ("a", 1), T0 + 1, 10.0) == 3.0
    assert c.peek("r", ("a", 2), T0 + 1, 10.0) == 1.0
    assert c.peek("q", ("a", 1), T0 + 1, 10.0) == 1.0


@given(st.lists(st.tuples(st.integers(0, 30), st.floats(0, 1), st.booleans()), max_size=120))
@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_distinct_matches_exact_window(backend: Backend, events) -> None:
    c = backend.c
    key = uuid.uuid4().hex  # a fresh key per example: the fixture outlives examples
    seen: dict[int, float] = {}
    now = T0
    for member, step, settle in events:
        now += step
        got = c.distinct("d", key, member, now, 5.0)
        seen[member] = now
        exact = sum(1 for t in seen.values() if t > now - 5.0)
        assert got == exact
        if settle:
            backend.settle()


def test_distinct_is_bounded(backend: Backend) -> None:
    c = backend.c
    c.max_members = 100  # type: ignore[attr-defined]
    n = 0
    for i in range(1000):
        n = c.distinct("d", "k", i, T0 + i * 0.001, 60.0)
        if i % 250 == 0:
            backend.settle()
    assert n == 100


def test_flags_expire(backend: Backend) -> None:
    c = backend.c
    c.flag("wangiri", 42, now=100.0, ttl=10.0)
    backend.settle()
    assert c.flagged("wangiri", 42, 105.0)
    assert not c.flagged("wangiri", 42, 111.0)
    assert not c.flagged("other", 42, 105.0)
    assert c.flags("wangiri", 105.0) == {42: 110.0}
    assert c.unflag("wangiri", 42)
    backend.settle()
    assert not c.unflag("wangiri", 42)
    assert not c.flagged("wangiri", 42, 105.0)


def test_sweep_forgets_idle_state(backend: Backend) -> None:
    c = backend.c
    for i in range(100):
        c.hit("r", i, T0, 1.0)
        c.distinct("d", i, "m", T0, 1.0)
    c.flag("l", "x", T0, 1.0)
    backend.settle()
    assert len(c) == 201  # type: ignore[arg-type]
    assert c.sweep(T0 + 10) == 201
    assert len(c) == 0  # type: ignore[arg-type]
