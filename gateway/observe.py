"""Logging setup and live statistics.

structlog is configured once at start (``configure_logging``); the hot path logs
nothing per message at INFO. ``Stats`` counts every decision by channel, action,
route, source country and rule in plain dicts (one dict increment per event),
and the audit log gets every non-ALLOW verdict on purpose.
"""

from __future__ import annotations

import json
import logging
import math
import re
import sys
import time
from collections import Counter, deque
from collections.abc import Callable, MutableMapping
from typing import IO, TYPE_CHECKING, Any

import structlog

from gateway.model import Action

if TYPE_CHECKING:
    from gateway.config import LogConfig
    from gateway.model import Event, Verdict

__all__ = ["LogLimiter", "Stats", "configure_logging", "redact_secrets", "redact_url"]

_dumps = json.dumps  # default arguments: the shared C encoder, no per-call setup
_str = json.encoder.encode_basestring_ascii  # json.dumps(str), in C

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
           "error": logging.ERROR}


_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^/@:\s]*:)[^/@\s]*@")


def redact_url(url: str) -> str:
    """A URL with its password replaced: ``redis://:***@host:6379/0``."""
    return _URL_PASSWORD.sub(r"\g<head>***@", url)


def redact_secrets(_logger: Any, _name: str, event: MutableMapping[str, Any]
                   ) -> MutableMapping[str, Any]:
    """structlog processor: no URL in a log line carries its password (a Redis URL
    with ``:password@`` is logged as ``:***@``). Only lines that are written pay."""
    for key, value in event.items():
        if isinstance(value, str) and "://" in value and "@" in value:
            event[key] = redact_url(value)
    return event


class LogLimiter:
    """At most one log line per ``key`` every ``every`` seconds (a flood of bad PDUs or
    refused connections must not write more log than input). ``allow`` says whether to
    log now, and how many lines were held back since the last one."""

    def __init__(self, every: float = 10.0, *, max_keys: int = 1024,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.every = every
        self.max_keys = max_keys
        self.clock = clock
        self._last: dict[str, tuple[float, int]] = {}

    def allow(self, key: str) -> int | None:
        """``None``: stay quiet (counted); else the count suppressed before this line."""
        now = self.clock()
        last = self._last.get(key)
        if last is not None and now - last[0] < self.every:
            self._last[key] = (last[0], last[1] + 1)
            return None
        if last is None and len(self._last) >= self.max_keys:
            self._last.clear()
        self._last[key] = (now, 0)
        return last[1] if last is not None else 0


def configure_logging(config: LogConfig) -> None:
    level = _LEVELS.get(config.level, logging.INFO)
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if config.format == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redact_secrets,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )


#: distinct route labels counted by name (``Stats.max_routes``); the rest are OTHER_ROUTE
MAX_ROUTES = 1000
OTHER_ROUTE = "other"

#: what ``Stats.record`` counts an event under: channel, direction, action, route,
#: source (country or number kind), and the rules that hit
_Key = tuple[str, str, str, str, str, tuple[str, ...]]


class _Bucket:
    """Counts of one time slice (``Stats.bucket`` seconds).

    ``record`` adds to ``raw`` only (one dict increment an event); ``Stats._fold``
    moves ``raw`` into the per-dimension counts when the slice closes or is read.
    """

    __slots__ = ("events", "raw", "routes", "rules", "sources", "start")

    def __init__(self, start: float) -> None:
        self.start = start
        self.raw: dict[_Key, int] = {}
        self.events: Counter[tuple[str, str]] = Counter()  # channel, action
        self.routes: Counter[tuple[str, str]] = Counter()  # route, action
        self.sources: Counter[tuple[str, str]] = Counter()  # source country, action
        self.rules: Counter[str] = Counter()


class BufferedLines:
    """A structlog logger that batches lines: one write per batch, not per verdict.

    A line waits at most ``max_delay`` seconds (checked on each write, and by the
    periodic ``flush`` the app runs), or until ``max_lines`` are waiting.
    """

    def __init__(self, out: IO[str], *, own: bool, max_lines: int = 512,
                 max_delay: float = 0.5) -> None:
        self._out: IO[str] | None = out
        self._own = own
        self._lines: list[str] = []
        self._max_lines = max_lines
        self._max_delay = max_delay
        self._first = 0.0

    def msg(self, message: str) -> None:
        lines = self._lines
        if not lines:
            self._first = time.monotonic()
        lines.append(message)
        if len(lines) >= self._max_lines or time.monotonic() - self._first > self._max_delay:
            self.flush()

    debug = info = warning = error = critical = exception = log = msg

    def flush(self) -> None:
        if self._lines and self._out is not None:
            self._out.write("\n".join(self._lines) + "\n")
            self._out.flush()
            self._lines.clear()

    def close(self) -> None:
        self.flush()
        if self._own and self._out is not None:
            self._out.close()
        self._out = None


def _level_warning(_logger: Any, _name: str, event: MutableMapping[str, Any]
                   ) -> MutableMapping[str, Any]:
    event["level"] = "warning"
    return event


class _SecondStamp:
    """ISO timestamps, formatted once a second (the audit log writes thousands a second)."""

    def __init__(self) -> None:
        self._sec = -1
        self._text = ""

    def text(self) -> str:
        now = time.time()
        sec = int(now)
        if sec != self._sec:
            self._sec = sec
            self._text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
        return f"{self._text}.{int((now - sec) * 1e6):06d}Z"

    def __call__(self, _logger: Any, _name: str, event: MutableMapping[str, Any]
                 ) -> MutableMapping[str, Any]:
        event["timestamp"] = self.text()
        return event



class Stats:
    """Decision counters since start and over sliding windows. Cheap enough for every
    event: one dict increment (the slice's raw counts, folded per dimension when the
    slice closes or is read), and a new time slice every ``bucket`` seconds.

    Windows are made of slices (default 5 s, one hour kept): ``window(300)`` sums the
    slices of the last five minutes; ``series`` gives volume and blocks per slice.
    """

    def __init__(self, audit_path: str = "", *, bucket: float = 5.0, keep: int = 720,
                 max_routes: int = MAX_ROUTES) -> None:
        self.started = time.time()
        #: route labels (SMPP system_id, trunk) as counted: the first ``max_routes``
        #: seen keep their name, later ones count as ``other`` (a label set that only
        #: grows would make /metrics as large as the trunks an attacker can name)
        self.max_routes = max_routes
        self._route_names: dict[str, str] = {}
        # lifetime counts, as of the last fold: read them through the properties below
        self._events: Counter[tuple[str, str, str]] = Counter()  # channel, direction, action
        self._routes: Counter[tuple[str, str]] = Counter()  # route, action
        self._sources: Counter[tuple[str, str]] = Counter()  # source country, action
        self._rules: Counter[str] = Counter()
        self.failed_open = 0
        self.bucket = bucket
        self._ring: deque[_Bucket] = deque(maxlen=keep)
        self._cur = _Bucket(self.started - self.started % bucket)
        self._end = self._cur.start + bucket
        self._ring.append(self._cur)
        self._audit_out = BufferedLines(
            open(audit_path, "a", encoding="utf-8") if audit_path else sys.stderr,  # noqa: SIM115
            own=bool(audit_path),
        )
        self._stamp = _SecondStamp()
        self._heads: dict[tuple[object, ...], str] = {}
        #: the audit log as a structlog logger (``record`` writes the same lines directly)
        self.audit: Any = structlog.wrap_logger(
            self._audit_out,
            processors=[_level_warning, self._stamp, structlog.processors.JSONRenderer()],
            wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
            cache_logger_on_first_use=True,
        )

    def flush(self) -> None:
        """Write out buffered audit lines (a periodic task calls this)."""
        self._audit_out.flush()

    def close(self) -> None:
        self._audit_out.close()

    def _rotate(self, now: float) -> _Bucket:
        self._fold(self._cur)
        b = _Bucket(now - now % self.bucket)
        self._ring.append(b)
        self._cur = b
        self._end = b.start + self.bucket
        return b

    def _fold(self, b: _Bucket) -> None:
        """Move a slice's raw counts into its per-dimension counts and the lifetime
        ones (once a slice, or when read: the cost is one step per distinct key)."""
        raw, b.raw = b.raw, {}
        names = self._route_names
        for (channel, direction, action, route, source, rules), n in raw.items():
            label = names.get(route)
            if label is None:
                label = self._route_label(route)
            route = label
            self._events[(channel, direction, action)] += n
            self._routes[(route, action)] += n
            self._sources[(source, action)] += n
            b.events[(channel, action)] += n
            b.routes[(route, action)] += n
            b.sources[(source, action)] += n
            for r in rules:
                self._rules[r] += n
                b.rules[r] += n

    def _route_label(self, route: str) -> str:
        """A new route's label: valid UTF-8 (an undecodable byte from a protocol,
        kept as a surrogate escape, becomes U+FFFD) and within ``max_routes``."""
        names = self._route_names
        if len(names) >= self.max_routes:
            return OTHER_ROUTE  # not remembered: the map stays bounded
        try:
            raw = route.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:  # a lone surrogate that escapes no byte
            raw = route.encode("utf-8", "surrogatepass")
        label = raw.decode("utf-8", "replace")
        names[route] = label
        return label

    # lifetime counts (``/metrics``), the current slice included
    @property
    def events(self) -> Counter[tuple[str, str, str]]:
        self._fold(self._cur)
        return self._events

    @property
    def routes(self) -> Counter[tuple[str, str]]:
        self._fold(self._cur)
        return self._routes

    @property
    def sources(self) -> Counter[tuple[str, str]]:
        self._fold(self._cur)
        return self._sources

    @property
    def rules(self) -> Counter[str]:
        self._fold(self._cur)
        return self._rules

    def record(self, ev: Event, v: Verdict) -> None:
        # keys are the str-valued enums themselves: they hash and compare as strings
        action = v.action
        key = (ev.channel, ev.direction, action, ev.route, ev.src.region or ev.src.kind,
               v.rules)
        raw = (self._cur if ev.ts < self._end else self._rotate(ev.ts)).raw
        raw[key] = raw.get(key, 0) + 1
        if v.failed_open:
            self.failed_open += 1
        if action is not Action.ALLOW:
            self._audit_out.msg(self._audit_line(ev, v))

    def _audit_line(self, ev: Event, v: Verdict) -> str:
        """The line structlog's chain (``self.audit``) renders for this verdict: the
        same keys in the same order. The part before ``src`` depends on the verdict
        and the channel only, and is encoded once."""
        key = (v.action, v.score, v.rules, v.reason, ev.channel, ev.direction)
        head = self._heads.get(key)
        if head is None:
            if len(self._heads) >= 4096:
                self._heads.clear()
            head = self._heads[key] = _dumps({
                "action": v.action.value, "score": v.score, "rules": list(v.rules),
                "reason": v.reason, "channel": ev.channel.value,
                "direction": ev.direction.value})[:-1] + ', "src": '
        return (f'{head}{_str(str(ev.src))}, "dst": {_str(str(ev.dst))}, '
                f'"route": {_str(ev.route)}, "phase": "{ev.phase.value}", '
                f'"event": "verdict", "level": "warning", '
                f'"timestamp": "{self._stamp.text()}"}}')

    # -- reading (admin API, dashboard; never on the hot path) -----------------------

    def _slices(self, seconds: float, now: float) -> list[_Bucket]:
        horizon = now - seconds
        return [b for b in self._ring if b.start + self.bucket > horizon]

    def window(self, seconds: float, now: float | None = None, top: int = 10) -> dict[str, Any]:
        """Counts over the last ``seconds``: totals, by channel, top routes, sources, rules."""
        now = time.time() if now is None else now
        self._fold(self._cur)
        events: Counter[tuple[str, str]] = Counter()
        routes: Counter[tuple[str, str]] = Counter()
        sources: Counter[tuple[str, str]] = Counter()
        rules: Counter[str] = Counter()
        for b in self._slices(seconds, now):
            events.update(b.events)
            routes.update(b.routes)
            sources.update(b.sources)
            rules.update(b.rules)
        totals = {"events": sum(events.values())}
        for a in ("ALLOW", "WARN", "BLOCK"):
            totals[a.lower()] = sum(n for (_, act), n in events.items() if act == a)
        return {
            "seconds": seconds,
            "totals": totals,
            "channels": [{"channel": str(c), "action": str(a), "count": n}
                         for (c, a), n in sorted(events.items())],
            "routes": _top(routes, top, "route"),
            "sources": _top(sources, top, "source"),
            "rules": [{"rule": r, "count": n} for r, n in rules.most_common(top)],
        }

    def series(self, seconds: float, now: float | None = None) -> list[dict[str, Any]]:
        """Per slice of the last ``seconds``: volume by channel, warns and blocks."""
        now = time.time() if now is None else now
        self._fold(self._cur)
        by_start = {b.start: b for b in self._slices(seconds, now)}
        # the slices that overlap the last ``seconds``, on slice boundaries
        first = now - now % self.bucket - (math.ceil(seconds / self.bucket) - 1) * self.bucket
        out = []
        t = first
        while t <= now:
            b = by_start.get(t)
            row: dict[str, float] = {"t": t, "sms": 0, "call": 0, "warn": 0, "block": 0}
            if b is not None:
                for (c, a), n in b.events.items():
                    row[str(c)] = row.get(str(c), 0) + n
                    if a != "ALLOW":
                        row[str(a).lower()] += n
            out.append(row)
            t += self.bucket
        return out

    def snapshot(self) -> dict[str, Any]:
        """Counts since start."""
        self._fold(self._cur)
        return {
            "since": self.started,
            "events": [
                {"channel": str(c), "direction": str(d), "action": str(a), "count": n}
                for (c, d, a), n in sorted(self.events.items())
            ],
            "routes": [{"route": r, "action": str(a), "count": n}
                       for (r, a), n in self.routes.most_common(50)],
            "sources": [{"source": str(s), "action": str(a), "count": n}
                        for (s, a), n in self.sources.most_common(50)],
            "rules": [{"rule": r, "count": n} for r, n in self.rules.most_common(50)],
            "failed_open": self.failed_open,
        }


def _top(counts: Counter[tuple[str, str]], top: int, label: str) -> list[dict[str, Any]]:
    """``(name, action) -> n`` folded to the ``top`` names by volume, with blocks/warns."""
    rows: dict[str, dict[str, Any]] = {}
    for (name, action), n in counts.items():
        row = rows.setdefault(str(name), {label: str(name) or "-", "total": 0, "warn": 0,
                                          "block": 0})
        row["total"] += n
        if action != "ALLOW":
            row[str(action).lower()] += n
    return sorted(rows.values(), key=lambda r: (-r["total"], r[label]))[:top]
