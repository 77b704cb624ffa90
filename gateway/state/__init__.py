"""Windowed counters and expiring flags: what rules count over time.

``Counters`` is the interface; ``MemoryCounters`` the embedded default. Keys are
anything hashable the engine builds (a number key, a sender ID, a text
fingerprint); ``name`` separates one rule's counter from another's. ``now`` is
the event's timestamp, so replayed traffic and tests with a clock behave as live
traffic would.

Every method is synchronous and runs on the event loop for every event: none may
wait on I/O. A backend with background work (``RedisCounters`` syncing with Redis)
also has ``async start()`` and ``async stop()``; ``running_state`` calls them when
they exist, and the gateway enters it before every other service and leaves it last.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Hashable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from gateway.config import StateConfig

__all__ = ["Counters", "make_counters", "running_state"]


class Counters(Protocol):
    def hit(self, name: str, key: Hashable, now: float, window: float, amount: float = 1.0
            ) -> float:
        """Add ``amount`` to the sliding-window sum for ``key``; return the sum."""
        ...

    def peek(self, name: str, key: Hashable, now: float, window: float) -> float:
        """The sliding-window sum without adding to it."""
        ...

    def distinct(self, name: str, key: Hashable, member: Hashable, now: float, window: float
                 ) -> int:
        """Record ``member`` for ``key``; return how many distinct members were seen in
        the window (exact up to a bounded number of members per key, then saturating)."""
        ...

    def flag(self, name: str, key: Hashable, now: float, ttl: float) -> None:
        """Put ``key`` on the expiring list ``name`` until ``now + ttl``."""
        ...

    def unflag(self, name: str, key: Hashable) -> bool: ...

    def flagged(self, name: str, key: Hashable, now: float) -> bool: ...

    def flags(self, name: str, now: float) -> dict[Hashable, float]:
        """Every live entry of an expiring list with its expiry time."""
        ...

    def sweep(self, now: float) -> int:
        """Forget expired state; returns how many entries went."""
        ...

    def dry_run(self) -> AbstractContextManager[None]:
        """Inside it, ``hit``, ``distinct`` and ``flag`` answer what they would have
        counted and change nothing: a dry-run check (``Core.dry_run``)."""
        ...


def make_counters(config: StateConfig) -> Counters:
    from gateway.state.memory import MemoryCounters

    if config.backend == "memory":
        return MemoryCounters()
    from gateway.state.redis import RedisCounters

    return RedisCounters.from_config(config)


@contextlib.asynccontextmanager
async def running_state(state: Counters) -> AsyncIterator[Counters]:
    """Start the backend's background work, if it has any, and stop it on exit."""
    start = getattr(state, "start", None)
    stop = getattr(state, "stop", None)
    if start is not None:
        await start()
    try:
        yield state
    finally:
        if stop is not None:
            await stop()
