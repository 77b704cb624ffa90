"""``Stats`` counts: one raw increment an event, folded per dimension when a slice
closes or is read. Whatever the order of records and reads, every count must equal
a direct count of the events."""

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.model import Action, Channel, Direction, Event, Verdict
from gateway.numbers import Numbering
from gateway.observe import Stats

_N = Numbering("GB")
_SRC = [_N.from_smpp("447700900123", 1, 1), _N.from_smpp("33612345678", 1, 1),
        _N.from_smpp("MyBank", 5, 0)]
_DST = _N.from_smpp("447700900999", 1, 1)
_RULES = [(), ("a",), ("a", "b"), ("c",)]
_ACTIONS = [Action.ALLOW, Action.WARN, Action.BLOCK]

step = st.one_of(
    st.tuples(st.just("event"), st.sampled_from([Channel.SMS, Channel.CALL]),
              st.sampled_from(["r1", "r2", ""]), st.integers(0, 2), st.integers(0, 2),
              st.integers(0, 3), st.floats(0, 12)),
    st.tuples(st.just("read")),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(step, max_size=60))
def test_counts_equal_a_direct_count(tmp_path_factory, steps) -> None:
    stats = Stats(str(tmp_path_factory.mktemp("s") / "audit.jsonl"), bucket=5.0)
    t0 = stats._cur.start
    now = t0
    seen: list[tuple[Event, Verdict]] = []
    for s in steps:
        if s[0] == "read":
            stats.window(3600, now=now)
            continue
        _, channel, route, src, act, rules, dt = s
        now += dt
        ev = Event(channel=channel, direction=Direction.IN, src=_SRC[src], dst=_DST,
                   route=route, ts=now, text="x" if channel is Channel.SMS else None)
        v = Verdict(_ACTIONS[act], 1.0, _RULES[rules], "r")
        stats.record(ev, v)
        seen.append((ev, v))
    stats.close()

    def source(ev: Event) -> str:
        return ev.src.region or ev.src.kind

    assert stats.events == Counter((e.channel, e.direction, v.action) for e, v in seen)
    assert stats.routes == Counter((e.route, v.action) for e, v in seen)
    assert stats.sources == Counter((source(e), v.action) for e, v in seen)
    assert stats.rules == Counter(r for _, v in seen for r in v.rules)

    w = stats.window(10 * 3600, now=now)
    assert w["totals"]["events"] == len(seen)
    for a in ("ALLOW", "WARN", "BLOCK"):
        assert w["totals"][a.lower()] == sum(v.action == a for _, v in seen)
    assert {r["rule"]: r["count"] for r in w["rules"]} == dict(
        Counter(r for _, v in seen for r in v.rules).most_common(10))
    # the series puts every event in its own slice
    series = stats.series(now - t0 + 5, now=now)
    assert sum(p["sms"] + p["call"] for p in series) == len(seen)
    for p in series:
        in_slice = [(e, v) for e, v in seen if p["t"] <= e.ts < p["t"] + 5]
        assert p["block"] == sum(v.action is Action.BLOCK for _, v in in_slice)
        assert p["sms"] == sum(e.channel is Channel.SMS for e, _ in in_slice)
