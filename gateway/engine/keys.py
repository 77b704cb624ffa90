"""Counter keys: what a rule's counter counts by, compiled once per rule.

A key is parts joined with ``+`` (``route+dst_block:2``), parsed and checked by
``gateway.engine.schema.parse_counter_key``; each part is a function of the event and
its facts, and a key of several parts is the tuple of their values. Number ranges
follow DESIGN.md "Number keys": a range of N digits is keyed as a number of N digits,
``(N << 50) | prefix``, so ranges of different lengths never meet.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from operator import attrgetter
from typing import Protocol
from zlib import crc32

from gateway.content.facts import Facts
from gateway.model import Event
from gateway.numbers import LEN_SHIFT, Number, NumberKind

__all__ = ["KeyFn", "in_flagged_range", "key_function"]

KeyFn = Callable[[Event, Facts], Hashable]

_NUM_MASK = (1 << LEN_SHIFT) - 1
_POW10 = tuple(10 ** i for i in range(16))


def _range_of(side: str, digits: int, block: bool = False
              ) -> KeyFn:
    """The first ``digits`` digits of the side's number (``block``: all but its last
    ``digits`` digits), keyed as a number of that many digits (``(n << 50) | prefix``,
    DESIGN.md "Number keys"); a number no longer than the range is its own range; a
    sender ID or short code is keyed as itself."""
    number: Callable[[Event], Number] = attrgetter(side)

    def range_key(ev: Event, f: Facts) -> Hashable:
        n = number(ev)
        if n.kind is not NumberKind.E164:
            return n.key or n.text
        length = n.key >> LEN_SHIFT
        if length <= digits:
            return n.key
        keep = length - digits if block else digits
        return (keep << LEN_SHIFT) | ((n.key & _NUM_MASK) // _POW10[length - keep])

    return range_key


def _atom(name: str, digits: int) -> KeyFn:
    if name == "src":
        return lambda ev, f: ev.src.key or ev.src.text
    if name == "dst":
        return lambda ev, f: ev.dst.key or ev.dst.text
    if name == "route":
        return lambda ev, f: ev.route
    if name == "text":
        return lambda ev, f: f.fingerprint()
    if name == "campaign":
        return lambda ev, f: f.campaign if f.campaign is not None else f.fingerprint()
    if name == "template":
        # the text with links as their domain and digit runs as a length class: what
        # is left of a message once a template's codes and links are filled in
        return lambda ev, f: crc32(f.template().encode("utf-8", "surrogatepass"))
    if name == "src_country":
        return lambda ev, f: ev.src.region
    if name == "dst_country":
        return lambda ev, f: ev.dst.region
    side, kind = name.split("_", 1)
    return _range_of(side, digits, block=kind == "block")


def key_function(parts: tuple[tuple[str, int], ...]) -> KeyFn:
    """One part's value, or the tuple of the parts' values (``src+dst`` keys as it
    always did)."""
    fns = [_atom(a, n) for a, n in parts]
    if len(fns) == 1:
        return fns[0]
    if len(fns) == 2:
        a, b = fns
        return lambda ev, f: (a(ev, f), b(ev, f))
    return lambda ev, f: tuple([fn(ev, f) for fn in fns])


class _Flagged(Protocol):
    def __call__(self, name: str, key: Hashable, now: float, /) -> bool: ...


def in_flagged_range(flagged: _Flagged, name: str) -> Callable[[Number, float], bool]:
    """A test of whether a number falls in a range on the expiring list ``name``:
    the list holds ranges keyed as ``range:N`` keys are (a flag with ``key =
    "src_range:9"``, or an entry the admin API added as the range's digits,
    ``+225070000``), so every prefix of the number, itself included, is looked up
    (at most 15 lookups; none for a sender ID or short code)."""

    def test(n: Number, now: float) -> bool:
        if n.kind is not NumberKind.E164:
            return False
        key = n.key
        length = key >> LEN_SHIFT
        number = key & _NUM_MASK
        for digits in range(length, 0, -1):
            if flagged(name, (digits << LEN_SHIFT) | (number // _POW10[length - digits]), now):
                return True
        return False

    return test
