"""A bounded LRU map for results that depend only on a message's template.

A2P traffic repeats templates (one-time codes, notices, campaigns) whose texts
differ in digits, names and links; the content checks key their per-template
results (a classifier score, campaign band keys) on a normalised form and look
them up here first. ``OrderedDict`` keeps it O(1) and C-level: a hit is one
lookup and one ``move_to_end``; when full, the least recently used entry goes, so
a flood of unique texts costs an insertion and an eviction per message and never
grows memory. Keys longer than ``max_key`` are not stored (long texts are rare and
would make the bound on memory a bound on entries only).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

__all__ = ["LruCache"]

V = TypeVar("V")


class LruCache(Generic[V]):
    __slots__ = ("_d", "max_key", "maxsize")

    def __init__(self, maxsize: int, max_key: int = 640) -> None:
        self._d: OrderedDict[str | bytes, V] = OrderedDict()
        self.maxsize = maxsize
        self.max_key = max_key

    def get(self, key: str | bytes) -> V | None:
        d = self._d
        v = d.get(key)
        if v is not None:
            d.move_to_end(key)
        return v

    def put(self, key: str | bytes, value: V) -> None:
        if self.maxsize <= 0 or len(key) > self.max_key:
            return
        d = self._d
        d[key] = value
        if len(d) > self.maxsize:
            d.popitem(last=False)

    def __len__(self) -> int:
        return len(self._d)

    def clear(self) -> None:
        self._d.clear()
