"""What the redis backend writes: ``encode_key`` writes the engine's usual keys (ints,
strs, flat tuples of them) itself; the text must stay what ``json.dumps`` wrote, since
processes of an older version read and write the same Redis keys."""

from __future__ import annotations

import json
from collections.abc import Hashable

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.state.wire import decode_key, encode_key

SCALARS = st.one_of(st.integers(-(2**70), 2**70), st.text(max_size=12), st.booleans(),
                    st.none(), st.floats(allow_nan=False))
KEYS = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4).map(tuple),
                    max_leaves=10)


def as_before(k: Hashable) -> str:
    """``encode_key`` as it was written until 26 Nov 2026."""
    if type(k) is int:
        return str(k)
    try:
        return json.dumps(k, separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError):
        return "~" + repr(k)


@settings(max_examples=500, deadline=None)
@given(KEYS)
def test_keys_encode_as_json_dumps_wrote_them(key: Hashable) -> None:
    assert encode_key(key) == as_before(key)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.integers(), st.text(max_size=12),
                 st.lists(st.one_of(st.integers(), st.text(max_size=8)), max_size=4)
                 .map(tuple)))
def test_the_usual_keys_come_back(key: Hashable) -> None:
    assert decode_key(encode_key(key)) == key


def test_odd_keys() -> None:
    assert encode_key(("bench", 11259003540410624)) == '["bench",11259003540410624]'
    assert encode_key('a"b\u00e9\n') == '"a\\"b\u00e9\\n"'
    assert encode_key(()) == "[]"
    assert encode_key((1, True)) == "[1,true]"  # a bool is not written as an int
    assert encode_key(float("nan")) == "NaN"
    assert encode_key(frozenset({1})).startswith("~")
