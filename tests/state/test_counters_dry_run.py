"""``Counters.dry_run``: inside it every write answers what it would have counted and
nothing changes (the dry-run check, issue 13). Hypothesis holds the memory backend's
answers to a copy that really counts; the redis backend's local view queues nothing."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.state.memory import MemoryCounters
from gateway.state.view import LocalView

T0 = 1_790_000_040.0
KEYS = st.sampled_from(["a", "b", "c"])
MEMBERS = st.integers(0, 5)
OP = st.one_of(
    st.tuples(st.just("hit"), KEYS, st.floats(0.5, 3.0)),
    st.tuples(st.just("distinct"), KEYS, MEMBERS),
    st.tuples(st.just("distinct_max"), st.lists(KEYS, min_size=1, max_size=3), MEMBERS),
    st.tuples(st.just("flag"), KEYS, st.just(0)),
)


def _apply(c: Any, op: tuple[Any, ...], now: float) -> Any:
    kind, key, arg = op
    if kind == "hit":
        return c.hit("r", key, now, 60.0, arg)
    if kind == "distinct":
        return c.distinct("d", key, arg, now, 60.0)
    if kind == "distinct_max":
        return c.distinct_max("d", tuple(key), arg, now, 60.0)
    return c.flag("f", key, now, 30.0)


def _seen(c: MemoryCounters, now: float) -> Any:
    """Everything a later event could read."""
    return ([round(c.peek("r", k, now, 60.0), 9) for k in "abc"],
            [c.distinct_max("d", (k,), "probe", now, 60.0) for k in "abc"],
            [c.flagged("f", k, now) for k in "abc"])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.booleans(), OP, st.floats(0, 5)), max_size=40))
def test_memory_dry_run_answers_as_counting_would_and_changes_nothing(steps: Any) -> None:
    live, reference = MemoryCounters(), MemoryCounters()
    now = T0
    for dry, op, dt in steps:
        now += dt
        if dry:
            would = _apply(copy.deepcopy(reference), op, now)
            with live.dry_run():
                got = _apply(live, op, now)
            assert got == pytest.approx(would), (op, got, would)
        else:
            assert _apply(live, op, now) == _apply(reference, op, now)
    later = now + 1
    assert _seen(copy.deepcopy(live), later) == _seen(copy.deepcopy(reference), later)
    assert not live.dry


def test_redis_view_dry_run_queues_nothing() -> None:
    view = LocalView(max_members=4096)
    view.recording = True
    view.hit("r", "a", T0, 60.0)
    view.distinct("d", "a", 1, T0, 60.0)
    view.flag("f", "a", T0, 30.0)
    sums = {k: (e.cur, e.pend) for k, e in view.sums.items()}
    sets = {k: (dict(e.members), dict(e.pend)) for k, e in view.sets.items()}
    queued = (dict(view.flag_ops), len(view.spill))
    with view.dry_run():
        assert view.hit("r", "a", T0 + 1, 60.0) == 2.0
        assert view.hit("r", "new", T0 + 1, 60.0, 3.0) == 3.0
        assert view.distinct("d", "a", 2, T0 + 1, 60.0) == 2
        assert view.distinct("d", "a", 1, T0 + 1, 60.0) == 1
        assert view.distinct("d", "new", 1, T0 + 1, 60.0) == 1
        view.flag("f", "b", T0 + 1, 30.0)
        assert not view.flagged("f", "b", T0 + 1)
    assert {k: (e.cur, e.pend) for k, e in view.sums.items() if e.cur or e.pend} == sums
    assert {k: (dict(e.members), dict(e.pend)) for k, e in view.sets.items()} == sets
    assert (dict(view.flag_ops), len(view.spill)) == queued
    assert not view.flagged("f", "b", T0 + 2) and view.hit("r", "a", T0 + 2, 60.0) == 2.0
