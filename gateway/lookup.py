"""Number status lookups for call screening: is this subscriber roaming, ported,
allocated at all? (HLR, roaming platform, number portability database.)

A *lookup* is a plugin: any object with ``name`` and ``async lookup(number) ->
status | None`` (a ``Lookup``); it may also have ``get(number)`` when it answers
from memory without waiting (``FileLookup``), ``async start()`` and ``async
close()``. Two ship: ``FileLookup`` (a TSV file, number and status a line, reread
when it changes) and ``RedisLookup`` (one Redis hash, field = E.164 number, value =
status, filled by the operator's HLR or portability feed). Others come from the
``spamgw.lookups`` entry-point group: ``create(config, numbering) -> Lookup``.

``StatusLookup`` is what the FastAGI screener asks: a bounded cache (TTL, at most
``cache_size`` numbers, oldest dropped first; unknown answers are cached too) in
front of the plugin, with a deadline of its own inside the call's deadline. A miss
starts the plugin's lookup as a task; the screening waits for it at most until the
deadline, then goes on with ``unknown`` (counted as ``late``); the late answer
still fills the cache for the next call of that number. Concurrent misses of one
number share one lookup. Answers are one of ``STATUSES``; anything else a plugin
says is ``unknown`` (counted as ``invalid``).

Rules read the answer with ``src_status`` / ``dst_status`` (the screener puts it in
``details["src_status"]`` / ``details["dst_status"]``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import structlog

from gateway.config import ConfigError
from gateway.numbers import Number, Numbering, NumberKind

if TYPE_CHECKING:
    from gateway.config import LookupConfig

__all__ = ["STATUSES", "FileLookup", "Lookup", "LookupCounters", "LookupSetupError",
           "RedisLookup", "StatusLookup", "make_lookup", "parse_status_file"]

log = structlog.get_logger("spamgw.lookup")

#: what a lookup may answer: our subscriber at home or abroad, a number ported into
#: or out of our network, a number of our ranges that is not allocated; ``unknown``
#: is no answer (not in the table, late, failed)
STATUSES = ("home", "roaming", "ported_in", "ported_out", "not_allocated", "unknown")
_KNOWN = frozenset(STATUSES)
UNKNOWN = "unknown"


class LookupSetupError(ConfigError):
    """A lookup that cannot be set up (bad file, unknown backend): a configuration
    mistake, which ``spamgw run`` reports as such."""


class Lookup(Protocol):
    name: str

    async def lookup(self, number: Number) -> str | None: ...


@dataclass(slots=True)
class LookupCounters:
    #: numbers asked for; answered from the cache; lookups started
    asked: int = 0
    cached: int = 0
    started: int = 0
    #: screenings that went on with ``unknown`` because the lookup missed its deadline
    late: int = 0
    #: lookups that failed (an exception, a timeout of the backend itself)
    errors: int = 0
    #: answers outside ``STATUSES``
    invalid: int = 0
    #: misses not looked up because ``max_pending`` lookups were already running
    overload: int = 0


def parse_status_file(path: Path, numbering: Numbering) -> dict[int, str]:
    """``number<TAB>status`` a line (any blanks between; ``#`` comments); raises
    ``LookupSetupError`` naming ``file:line``."""
    table: dict[int, str] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise LookupSetupError(f"{path}: cannot read: {e}") from None
    for n, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) != 2:
            raise LookupSetupError(f"{path}:{n}: expected NUMBER STATUS, got {line!r}")
        number = numbering.from_caller_id(parts[0])
        if number.kind is not NumberKind.E164:
            raise LookupSetupError(f"{path}:{n}: not an international number: {parts[0]!r}")
        status = parts[1].lower()
        if status not in _KNOWN:
            raise LookupSetupError(f"{path}:{n}: unknown status {parts[1]!r}: one of "
                              f"{', '.join(STATUSES)}")
        table[number.key] = status
    return table


class FileLookup:
    """A TSV file of numbers and their status, held in memory; reread (off the event
    loop) when its modification time changes, checked every ``interval`` seconds."""

    name = "file"

    def __init__(self, path: str | Path, numbering: Numbering, *, interval: float = 5.0
                 ) -> None:
        self.path = Path(path)
        self.numbering = numbering
        self.interval = interval
        self._mtime = self._stat()
        self._table = parse_status_file(self.path, numbering)
        self._task: asyncio.Task[None] | None = None

    def _stat(self) -> float:
        try:
            return os.stat(self.path).st_mtime
        except OSError as e:
            raise LookupSetupError(f"{self.path}: {e.strerror}") from None

    def __len__(self) -> int:
        return len(self._table)

    def get(self, number: Number) -> str | None:
        return self._table.get(number.key)

    async def lookup(self, number: Number) -> str | None:
        return self._table.get(number.key)

    async def reload(self) -> bool:
        """Reread the file if it changed; a broken file keeps the old table (logged)."""
        try:
            mtime = self._stat()
        except LookupSetupError as e:
            log.error("lookup file unreadable: kept the old table", error=str(e))
            return False
        if mtime == self._mtime:
            return False
        try:
            table = await asyncio.to_thread(parse_status_file, self.path, self.numbering)
        except LookupSetupError as e:
            log.error("lookup file refused: kept the old table", error=str(e))
            return False
        self._table, self._mtime = table, mtime
        log.info("lookup file reloaded", path=str(self.path), numbers=len(table))
        return True

    async def start(self) -> None:
        async def watch() -> None:
            while True:
                await asyncio.sleep(self.interval)
                await self.reload()

        self._task = asyncio.get_running_loop().create_task(watch(), name="lookup-file")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


class RedisLookup:
    """One Redis hash: field = the number in E.164 (``+447700900123``), value = its
    status. The operator's HLR, roaming or portability feed writes it (``HSET``)."""

    name = "redis"

    def __init__(self, url: str, key: str, *, timeout: float = 1.0) -> None:
        from gateway.redisconn import async_client

        self.key = key
        self._client = async_client(url, decode_responses=True, socket_timeout=timeout,
                                    socket_connect_timeout=timeout)

    async def lookup(self, number: Number) -> str | None:
        value = await self._client.hget(self.key, number.e164)
        return value if isinstance(value, str) else None

    async def close(self) -> None:
        await self._client.aclose()


class StatusLookup:
    """A cache with a deadline in front of a ``Lookup`` (see the module doc)."""

    def __init__(self, backend: Lookup, *, ttl: float = 300.0, size: int = 100_000,
                 deadline: float = 0.02, max_pending: int = 1000,
                 backend_timeout: float = 2.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.backend = backend
        self.ttl = ttl
        self.size = size
        self.deadline = deadline
        self.max_pending = max_pending
        self.backend_timeout = backend_timeout
        self.clock = clock
        self.counters = LookupCounters()
        self._get: Callable[[Number], str | None] | None = getattr(backend, "get", None)
        # key -> (expires, status); insertion order is age (a refreshed entry moves)
        self._cache: dict[int, tuple[float, str]] = {}
        self._pending: dict[int, asyncio.Task[str]] = {}

    def __len__(self) -> int:
        return len(self._cache)

    def cached(self, number: Number) -> str | None:
        """The status now, without waiting: from a backend that answers from memory,
        or from the cache; ``None``: it has to be looked up (``wait``)."""
        self.counters.asked += 1
        if self._get is not None:
            self.counters.cached += 1
            return self._checked(self._get(number))
        hit = self._cache.get(number.key)
        if hit is not None and hit[0] > self.clock():
            self.counters.cached += 1
            return hit[1]
        return None

    def wait(self, number: Number, timeout: float) -> Awaitable[str]:
        """The status within ``timeout`` seconds, else ``unknown`` (counted as late);
        never raises."""
        return self._wait(number, min(timeout, self.deadline))

    async def _wait(self, number: Number, within: float) -> str:
        task = self._pending.get(number.key)
        if task is None:
            if len(self._pending) >= self.max_pending:
                self.counters.overload += 1
                return UNKNOWN
            self.counters.started += 1
            task = asyncio.get_running_loop().create_task(self._fetch(number))
            self._pending[number.key] = task
        if within <= 0:
            self.counters.late += 1
            return UNKNOWN
        done, _ = await asyncio.wait((task,), timeout=within)
        if not done:  # the answer will still fill the cache when it comes
            self.counters.late += 1
            return UNKNOWN
        return task.result()

    async def _fetch(self, number: Number) -> str:
        key = number.key
        try:
            async with asyncio.timeout(self.backend_timeout):
                status = self._checked(await self.backend.lookup(number))
        except Exception as e:
            self.counters.errors += 1
            log.warning("number lookup failed", backend=self.backend.name, error=repr(e))
            status = UNKNOWN
        finally:
            self._pending.pop(key, None)
        self._remember(key, status)
        return status

    def _checked(self, status: str | None) -> str:
        if status is None:
            return UNKNOWN
        status = status.strip().lower()
        if status not in _KNOWN:
            self.counters.invalid += 1
            return UNKNOWN
        return status

    def _remember(self, key: int, status: str) -> None:
        cache = self._cache
        cache.pop(key, None)
        cache[key] = (self.clock() + self.ttl, status)
        while len(cache) > self.size:
            del cache[next(iter(cache))]

    async def start(self) -> None:
        start = getattr(self.backend, "start", None)
        if start is not None:
            await start()

    async def close(self) -> None:
        for task in list(self._pending.values()):
            task.cancel()
        self._pending.clear()
        close = getattr(self.backend, "close", None)
        if close is not None:
            await close()


def make_lookup(config: LookupConfig, numbering: Numbering, *, redis_url: str,
                call_deadline: float) -> StatusLookup | None:
    """The configured lookup (``[agi.lookup]``), or None when ``backend`` is empty.
    Its deadline is ``deadline_ms``, at most 60% of the call's deadline: the rest is
    the engine's."""
    backend: Any
    name = config.backend
    if not name:
        return None
    if name == "file":
        if not config.path:
            raise LookupSetupError("agi.lookup.path: the file backend needs a path")
        try:
            backend = FileLookup(config.path, numbering, interval=config.reload_interval)
        except LookupSetupError as e:
            raise LookupSetupError(f"agi.lookup.path: {e}") from None
    elif name == "redis":
        backend = RedisLookup(config.redis_url or redis_url, config.redis_key)
    else:
        found = [ep for ep in entry_points(group="spamgw.lookups") if ep.name == name]
        if not found:
            raise LookupSetupError(f"agi.lookup.backend: unknown backend {name!r} (file, redis, "
                              "or an entry point of the spamgw.lookups group)")
        backend = found[0].load()(config, numbering)
    return StatusLookup(backend, ttl=config.cache_ttl, size=config.cache_size,
                        deadline=min(config.deadline_ms / 1000.0, call_deadline * 0.6))
