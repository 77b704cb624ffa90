"""The redis backend's local view, without Redis: its distinct counts answer as the
plain algorithm does (every member's last-seen time, in last-seen order, expired from
the front, the front looked at on every call), late events and the member bound
included, although the view reads its front only when something may expire."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.state.view import LocalView


class Reference:
    """What ``LocalView.distinct`` answered before it kept its front: an OrderedDict
    and a look at the front on every call."""

    def __init__(self, max_members: int) -> None:
        self.max_members = max_members
        self.sets: dict[Hashable, OrderedDict[Hashable, float]] = {}

    def distinct(self, key: Hashable, member: Hashable, now: float, window: float) -> int:
        members = self.sets.setdefault(key, OrderedDict())
        if member in members:
            members.move_to_end(member)
        members[member] = now
        horizon = now - window
        while members and next(iter(members.values())) <= horizon:
            members.popitem(last=False)
        if len(members) > self.max_members:
            members.popitem(last=False)
        return len(members)


ops = st.lists(st.tuples(st.integers(0, 2), st.integers(0, 12),
                         st.floats(-3.0, 4.0, allow_nan=False), st.booleans()),
               max_size=300)


@given(ops, st.integers(1, 8))
@settings(max_examples=300, deadline=None)
def test_distinct_matches_the_plain_algorithm(ops, max_members) -> None:
    view, ref = LocalView(max_members), Reference(max_members)
    view.recording = True  # queues sightings too: the answers must not change
    now = 1_790_000_000.0
    for key, member, step, repeat in ops:
        now += step  # negative steps: late events
        for _ in range(2 if repeat else 1):
            assert view.distinct("d", key, member, now, 5.0) == ref.distinct(
                key, member, now, 5.0)
    for key, members in ref.sets.items():
        assert list(view.sets[("d", key)].members.items()) == list(members.items())


def test_each_entry_is_queued_once_per_sync() -> None:
    view = LocalView(4096)
    view.recording = True
    for i in range(100):
        view.hit("r", i % 3, 1000.0 + i, 60.0)
        view.peek("p", i % 2, 1000.0 + i, 60.0)
        view.distinct("d", i % 4, i, 1000.0 + i, 60.0)
    assert sorted(e.k for e in view.touched_sums) == [("p", 0), ("p", 1), ("r", 0), ("r", 1),
                                                      ("r", 2)]
    assert sorted(e.k for e in view.touched_sets) == [("d", i) for i in range(4)]
    assert all(e.touched for e in view.touched_sums)
    assert all(d.touched for d in view.touched_sets)


@given(st.lists(st.tuples(st.lists(st.integers(0, 5), min_size=1, max_size=4),
                          st.integers(0, 6), st.floats(-1.0, 4.0, allow_nan=False),
                          st.integers(0, 3)), max_size=120), st.integers(1, 6))
@settings(max_examples=300, deadline=None)
def test_distinct_max_is_the_calls_one_by_one(ops, max_members) -> None:
    """``distinct_max`` (the campaign plugin's band keys in one call) answers, counts
    and queues for the sync what ``distinct`` on each key does, the members only
    other processes had included."""
    one, many = LocalView(max_members), LocalView(max_members)
    one.recording = many.recording = True
    now = 1_790_000_000.0
    for keys, member, step, others in ops:
        now += step
        for view in (one, many):  # what a sync learnt of the other processes
            for k in keys:
                e = view.set_entry(("d", k))
                if e is not None and others and not e.others:
                    e.others, e.pulled = others, now - 1.0
        expected = max(one.distinct("d", k, member, now, 5.0) for k in keys)
        assert many.distinct_max("d", tuple(keys), member, now, 5.0) == expected
    assert {k: (list(e.members.items()), e.pend, e.others, e.now)
            for k, e in many.sets.items()} == {
        k: (list(e.members.items()), e.pend, e.others, e.now) for k, e in one.sets.items()}
    assert [e.k for e in many.touched_sets] == [e.k for e in one.touched_sets]
    assert many.latest == one.latest
