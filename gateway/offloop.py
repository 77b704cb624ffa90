"""Pure-Python work a thread does beside the event loop: compiling a ruleset, checking
its examples, building the content models. Such a thread holds the GIL, and the loop
thread, each time it wakes, waits for it up to the interpreter's switch interval
(5 ms): an answer would be held a few milliseconds at every step of a reload. While
such work runs the interval is 0.5 ms."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
from collections.abc import Callable, Iterator
from typing import TypeVar

__all__ = ["SWITCH_INTERVAL", "in_thread", "short_switches"]

#: the GIL switch interval while such work runs (seconds)
SWITCH_INTERVAL = 0.0005

T = TypeVar("T")

_lock = threading.Lock()
_running = 0
_before = 0.0


@contextlib.contextmanager
def short_switches(interval: float = SWITCH_INTERVAL) -> Iterator[None]:
    """The shorter switch interval while the block runs. Blocks may overlap (a list
    reload and a rules reload): the interval is restored when the last one ends."""
    global _running, _before
    with _lock:
        if _running == 0:
            _before = sys.getswitchinterval()
        _running += 1
        sys.setswitchinterval(min(_before, interval))
    try:
        yield
    finally:
        with _lock:
            _running -= 1
            if _running == 0:
                sys.setswitchinterval(_before)


async def in_thread(fn: Callable[..., T], *args: object) -> T:
    """``fn(*args)`` in a thread, with short switches while it runs."""
    with short_switches():
        return await asyncio.to_thread(fn, *args)
