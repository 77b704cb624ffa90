"""Statistics over HTTP: ``GET /v1/stats`` (sliding windows), ``GET /v1/stats/stream``
(server-sent events for the dashboard, one frame a second) and ``GET /metrics``
(Prometheus text, every name prefixed ``spamgw_``).

The metrics come from a collector that reads the live counters when scraped (a
registry per app, nothing module-global); the hot path never touches
prometheus-client.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from gateway.admin.http import ApiError
from gateway.admin.keys import CORE, QUARANTINE, REPORTS
from gateway.lists.numberset import NumberSet
from gateway.lists.stringset import StringSet

if TYPE_CHECKING:
    from gateway.app import Core

__all__ = ["SpamgwCollector", "routes"]

WINDOWS = (60, 300, 900, 3600)


def _window_arg(request: web.Request) -> float:
    raw = request.query.get("window", "300")
    try:
        w = float(raw)
    except ValueError:
        raise ApiError(400, f"window must be seconds, got {raw!r}") from None
    if not 1 <= w <= 3600:
        raise ApiError(400, "window must be 1..3600 seconds (one hour is kept)")
    return w


def overview(app: web.Application, window: float, series: float = 600) -> dict[str, Any]:
    core = app[CORE]
    stats, engine = core.stats, core.engine
    q = app[QUARANTINE]
    return {
        "now": time.time(),
        "since": stats.started,
        "window": stats.window(window),
        "series": {"bucket": stats.bucket, "points": stats.series(series)},
        "rates": {f"{w}s": stats.window(w)["totals"] for w in WINDOWS},
        "engine": {"version": engine.ruleset.version, "rules": len(engine.ruleset.rules),
                   "errors": engine.errors, "plugin_errors": engine.plugin_errors,
                   "failed_open": stats.failed_open,
                   "shadow": engine.shadow is not None},
        "reports": {k: v for k, v in app[REPORTS].summary().items() if k != "listed"},
        "quarantine": {"kept": q.kept, "dropped": q.dropped} if q is not None else None,
    }


async def get_stats(request: web.Request) -> web.Response:
    w = _window_arg(request)
    out = overview(request.app, w)
    out["lifetime"] = request.app[CORE].stats.snapshot()
    return web.json_response(out)


async def stream(request: web.Request) -> web.StreamResponse:
    """Server-sent events: an overview every second until the client goes away."""
    w = _window_arg(request)
    try:
        period = min(10.0, max(0.2, float(request.query.get("period", "1"))))
    except ValueError:
        raise ApiError(400, "period must be seconds") from None
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                       "Cache-Control": "no-cache",
                                       "X-Accel-Buffering": "no"})
    await resp.prepare(request)
    try:
        while True:
            data = json.dumps(overview(request.app, w), separators=(",", ":"))
            await resp.write(f"event: stats\ndata: {data}\n\n".encode())
            await asyncio.sleep(period)
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    return resp


class SpamgwCollector:
    """Reads the core's counters at scrape time."""

    def __init__(self, app: web.Application) -> None:
        self.app = app

    def collect(self) -> Iterator[Metric]:
        core: Core = self.app[CORE]
        st, engine = core.stats, core.engine
        ev = CounterMetricFamily("spamgw_events", "Decisions by channel, direction, action",
                                 labels=["channel", "direction", "action"])
        for (c, d, a), n in st.events.items():
            ev.add_metric([str(c), str(d), str(a)], n)
        yield ev
        rt = CounterMetricFamily("spamgw_route_events", "Decisions by route (SMPP bind or "
                                 "trunk) and action", labels=["route", "action"])
        for (r, a), n in st.routes.items():
            rt.add_metric([r or "-", str(a)], n)
        yield rt
        src = CounterMetricFamily("spamgw_source_events", "Decisions by source country "
                                  "(or number kind) and action", labels=["source", "action"])
        for (s, a), n in st.sources.items():
            src.add_metric([str(s), str(a)], n)
        yield src
        rules = CounterMetricFamily("spamgw_rule_hits", "Rule and plugin symbol hits",
                                    labels=["rule"])
        for r, n in st.rules.items():
            rules.add_metric([r], n)
        yield rules
        yield CounterMetricFamily("spamgw_engine_errors", "Evaluations that failed "
                                  "(answered by the fail mode)", value=engine.errors)
        yield CounterMetricFamily("spamgw_plugin_errors", "Plugin checks that raised "
                                  "(skipped)", value=engine.plugin_errors)
        yield CounterMetricFamily("spamgw_failed_open", "Verdicts that allowed traffic "
                                  "because the engine failed", value=st.failed_open)
        info = GaugeMetricFamily("spamgw_ruleset_info", "The active ruleset",
                                 labels=["version"])
        info.add_metric([engine.ruleset.version], 1)
        yield info
        yield GaugeMetricFamily("spamgw_ruleset_rules", "Rules in the active ruleset",
                                value=len(engine.ruleset.rules))
        yield GaugeMetricFamily("spamgw_ruleset_loaded_timestamp_seconds",
                                "When the active ruleset was compiled",
                                value=engine.ruleset.loaded_at)
        yield GaugeMetricFamily("spamgw_start_time_seconds", "Process start",
                                value=st.started)
        sizes = GaugeMetricFamily("spamgw_list_entries", "Entries per list (exact numbers "
                                  "plus prefixes, or strings)", labels=["list"])
        for name, lst in core.lists.items():
            if isinstance(lst, NumberSet):
                sizes.add_metric([name], lst.exact_count() + len(lst.prefixes))
            elif isinstance(lst, StringSet):
                sizes.add_metric([name], len(lst))
        yield sizes
        reports = self.app[REPORTS]
        yield CounterMetricFamily("spamgw_reports", "Spam reports accepted",
                                  value=reports.received)
        yield CounterMetricFamily("spamgw_reports_listed", "Senders listed by distinct "
                                  "reporters", value=reports.listed)
        q = self.app[QUARANTINE]
        if q is not None:
            yield CounterMetricFamily("spamgw_quarantined", "Blocked SMS kept",
                                      value=q.kept)
            yield CounterMetricFamily("spamgw_quarantine_dropped", "Blocked SMS not kept "
                                      "(writer behind)", value=q.dropped)
            yield CounterMetricFamily("spamgw_quarantine_write_errors", "Quarantine batches "
                                      "SQLite refused (retried)", value=q.write_errors)
        shadow = engine.shadow
        seen = getattr(shadow, "seen", 0)
        for source, snapshot in sorted(core.sources.items()):
            for name, value in sorted(snapshot().items()):
                yield CounterMetricFamily(f"spamgw_{source}_{name}",
                                          f"{source} service: {name.replace('_', ' ')}",
                                          value=float(value))
            # a source may also have gauges per instance (per SMSC of an upstream
            # pool): name -> (label, {label value: figure}), labels bounded by config
            labeled = getattr(snapshot, "labeled", None)
            for name, (label, figures) in sorted(labeled().items() if labeled else ()):
                gauge = GaugeMetricFamily(f"spamgw_{source}_{name}",
                                          f"{source}: {name.replace('_', ' ')}",
                                          labels=[label])
                for key, value in sorted(figures.items()):
                    gauge.add_metric([key], float(value))
                yield gauge
        state_metrics = getattr(core.state, "metrics", None)
        if callable(state_metrics):
            for name, value in sorted(state_metrics().items()):
                yield GaugeMetricFamily(f"spamgw_state_{name}",
                                        f"counters backend: {name.replace('_', ' ')}",
                                        value=float(value))
        yield CounterMetricFamily("spamgw_shadow_events", "Events the shadow ruleset judged",
                                  value=seen)
        yield CounterMetricFamily("spamgw_shadow_disagreements", "Shadow verdicts that "
                                  "differed", value=seen - getattr(shadow, "agreed", 0))


async def metrics(request: web.Request) -> web.Response:
    registry = request.app[METRICS]
    body = generate_latest(registry)  # on the loop: the counters are not thread-safe
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


METRICS = web.AppKey("metrics", CollectorRegistry)


def metrics_registry(app: web.Application) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SpamgwCollector(app))
    return registry


routes = [
    web.get("/v1/stats", get_stats),
    web.get("/v1/stats/stream", stream),
    web.get("/metrics", metrics),
]
