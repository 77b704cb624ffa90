"""Logging setup and live statistics.

structlog is configured once at start (``configure_logging``); the hot path logs
nothing per message at INFO. ``Stats`` counts every decision by channel, action,
route, source country and rule in plain dicts (a few dict increments per event),
and the audit log gets every non-ALLOW verdict on purpose.
"""

from __future__ import annotations

import logging
import sys
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

import structlog

from gateway.model import Action

if TYPE_CHECKING:
    from gateway.config import LogConfig
    from gateway.model import Event, Verdict

__all__ = ["Stats", "configure_logging"]

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


class Stats:
    """Decision counters since start. Cheap enough for every event."""

    def __init__(self) -> None:
        self.started = time.time()
        self.events: Counter[tuple[str, str, str]] = Counter()  # channel, direction, action
        self.routes: Counter[tuple[str, str]] = Counter()  # route, action
        self.sources: Counter[tuple[str, str]] = Counter()  # source country, action
        self.rules: Counter[str] = Counter()
        self.failed_open = 0
        self.audit = structlog.get_logger("spamgw.audit")

    def record(self, ev: Event, v: Verdict) -> None:
        # keys are the str-valued enums themselves: they hash and compare as strings
        action = v.action
        self.events[(ev.channel, ev.direction, action)] += 1
        self.routes[(ev.route, action)] += 1
        self.sources[(ev.src.region or ev.src.kind, action)] += 1
        if v.rules:
            for r in v.rules:
                self.rules[r] += 1
            if v.failed_open:
                self.failed_open += 1
            if action is not Action.ALLOW:
                self.audit.warning(
                    "verdict", action=action.value, score=v.score, rules=list(v.rules),
                    reason=v.reason, channel=ev.channel.value, direction=ev.direction.value,
                    src=str(ev.src), dst=str(ev.dst), route=ev.route, phase=ev.phase.value,
                )

    def snapshot(self) -> dict[str, Any]:
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
