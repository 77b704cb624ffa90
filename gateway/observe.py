"""Logging setup and live statistics.

structlog is configured once at start (``configure_logging``); the hot path logs
nothing per message at INFO. ``Stats`` counts every decision by channel, action,
route, source country and rule in plain dicts (a few dict increments per event),
and the audit log gets every non-ALLOW verdict on purpose.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections import Counter, deque
from collections.abc import MutableMapping
from typing import IO, TYPE_CHECKING, Any

import structlog

from gateway.model import Action

if TYPE_CHECKING:
    from gateway.config import LogConfig
    from gateway.model import Event, Verdict

__all__ = ["Stats", "configure_logging"]

_dumps = json.dumps  # default arguments: the shared C encoder, no per-call setup

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
           "error": logging.ERROR}


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
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )


class _Bucket:
    """Counts of one time slice (``Stats.bucket`` seconds)."""

    __slots__ = ("events", "routes", "rules", "sources", "start")

    def __init__(self, start: float) -> None:
        self.start = start
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
    event: a few dict increments, and a new time slice every ``bucket`` seconds.

    Windows are made of slices (default 5 s, one hour kept): ``window(300)`` sums the
    slices of the last five minutes; ``series`` gives volume and blocks per slice.
    """

    def __init__(self, audit_path: str = "", *, bucket: float = 5.0, keep: int = 720) -> None:
        self.started = time.time()
        self.events: Counter[tuple[str, str, str]] = Counter()  # channel, direction, action
        self.routes: Counter[tuple[str, str]] = Counter()  # route, action
        self.sources: Counter[tuple[str, str]] = Counter()  # source country, action
        self.rules: Counter[str] = Counter()
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
        b = _Bucket(now - now % self.bucket)
        self._ring.append(b)
        self._cur = b
        self._end = b.start + self.bucket
        return b

    def record(self, ev: Event, v: Verdict) -> None:
        # keys are the str-valued enums themselves: they hash and compare as strings
        action = v.action
        channel = ev.channel
        route = ev.route
        source = ev.src.region or ev.src.kind
        self.events[(channel, ev.direction, action)] += 1
        self.routes[(route, action)] += 1
        self.sources[(source, action)] += 1
        b = self._cur if ev.ts < self._end else self._rotate(ev.ts)
        b.events[(channel, action)] += 1
        b.routes[(route, action)] += 1
        b.sources[(source, action)] += 1
        if v.rules:
            for r in v.rules:
                self.rules[r] += 1
                b.rules[r] += 1
            if v.failed_open:
                self.failed_open += 1
            if action is not Action.ALLOW:
                # the line structlog's chain (``self.audit``) renders, built directly:
                # same keys in the same order, one C-encoder call
                self._audit_out.msg(_dumps({
                    "action": action.value, "score": v.score, "rules": list(v.rules),
                    "reason": v.reason, "channel": channel.value,
                    "direction": ev.direction.value, "src": str(ev.src), "dst": str(ev.dst),
                    "route": route, "phase": ev.phase.value, "event": "verdict",
                    "level": "warning", "timestamp": self._stamp.text(),
                }))

    # -- reading (admin API, dashboard; never on the hot path) -----------------------

    def _slices(self, seconds: float, now: float) -> list[_Bucket]:
        horizon = now - seconds
        return [b for b in self._ring if b.start + self.bucket > horizon]

    def window(self, seconds: float, now: float | None = None, top: int = 10) -> dict[str, Any]:
        """Counts over the last ``seconds``: totals, by channel, top routes, sources, rules."""
        now = time.time() if now is None else now
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
        by_start = {b.start: b for b in self._slices(seconds, now)}
        first = now - now % self.bucket - seconds + self.bucket
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
