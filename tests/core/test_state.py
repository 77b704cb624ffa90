"""Memory counters: sliding sums, distinct counts, flags, bounded memory."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.state.memory import MemoryCounters


def test_sliding_sum_estimate():
    c = MemoryCounters()
    for i in range(60):
        c.hit("r", "a", 1000.0 + i, 60.0)
    assert c.peek("r", "a", 1059.0, 60.0) == pytest.approx(60.0)
    # half a window later about half of the old window still counts
    assert c.peek("r", "a", 1090.0, 60.0) == pytest.approx(30.0, abs=2.0)
    assert c.peek("r", "a", 1200.0, 60.0) == 0.0


@given(st.lists(st.tuples(st.integers(0, 30), st.floats(0, 1)), max_size=200))
@settings(max_examples=50)
def test_distinct_matches_exact_window(events):
    c = MemoryCounters()
    seen: dict[int, float] = {}
    now = 0.0
    for member, step in events:
        now += step
        got = c.distinct("d", "k", member, now, 5.0)
        seen[member] = now
        exact = sum(1 for t in seen.values() if t > now - 5.0)
        assert got == exact


def test_distinct_is_bounded():
    c = MemoryCounters(max_members=100)
    for i in range(10_000):
        n = c.distinct("d", "k", i, 1.0, 60.0)
    assert n == 100


def test_flags_expire():
    c = MemoryCounters()
    c.flag("wangiri", 42, now=100.0, ttl=10.0)
    assert c.flagged("wangiri", 42, 105.0)
    assert not c.flagged("wangiri", 42, 111.0)
    assert not c.flagged("other", 42, 105.0)
    assert c.flags("wangiri", 105.0) == {42: 110.0}
    assert c.unflag("wangiri", 42) and not c.unflag("wangiri", 42)


def test_idle_keys_go_with_their_generation():
    c = MemoryCounters()
    for i in range(5000):  # all within the first window
        c.hit("r", i, i * 0.0001, 1.0)
        c.distinct("d", i, "m", i * 0.0001, 1.0)
    assert len(c) == 10_000
    # ordinary traffic on one key, two windows later, leaves only the live key
    c.hit("r", "live", 10.0, 1.0)
    c.distinct("d", "live", "m", 10.0, 1.0)
    assert len(c) == 2
    # a key used in the last window survives one rotation
    c.hit("r", "recent", 10.5, 1.0)
    c.hit("r", "live", 11.2, 1.0)
    assert c.peek("r", "recent", 11.2, 1.0) > 0


@given(st.lists(st.tuples(st.lists(st.integers(0, 6), min_size=1, max_size=4),
                          st.integers(0, 20), st.floats(0, 400)), max_size=150),
       st.integers(2, 8))
@settings(max_examples=100)
def test_distinct_max_is_the_calls_one_by_one(ops, max_members):
    """``distinct_max`` (the campaign plugin's band keys in one call) counts and answers
    as ``distinct`` for each key in turn, the largest; windows, generations and the
    member bound included."""
    one, many = MemoryCounters(max_members), MemoryCounters(max_members)
    now = 0.0
    for keys, member, step in ops:
        now += step
        expected = max(one.distinct("c", k, member, now, 600.0) for k in keys)
        assert many.distinct_max("c", tuple(keys), member, now, 600.0) == expected
    for k in range(7):  # the same state afterwards
        assert one.distinct("c", k, -1, now, 600.0) == many.distinct("c", k, -1, now, 600.0)


def test_clear_forgets_everything_and_counts_afresh():
    """``clear`` empties the counters a compiled ruleset stays bound to (the inline
    examples run one after another on one ruleset): nothing counted before is seen."""
    c = MemoryCounters()
    for i in range(5):
        c.hit("rate", "k", 100.0 + i, 60.0)
        c.distinct("set", "k", f"m{i}", 100.0 + i, 60.0)
    c.flag("blocked", "x", 100.0, 3600.0)
    assert c.hit("rate", "k", 105.0, 60.0) > 5
    c.clear()
    assert c.hit("rate", "k", 106.0, 60.0) == 1
    assert c.distinct("set", "k", "m9", 106.0, 60.0) == 1
    assert not c.flagged("blocked", "x", 106.0)
    assert c.flag_names() == []
