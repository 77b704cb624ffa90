"""The whole host seen from worker 0 (``spamgw run --workers N``, ``gateway.workers``).

Worker 0 serves the admin API; every other worker serves the same app on a Unix
socket in the supervisor's run dir. An admin middleware on worker 0 asks them and
adds their figures to its own, off the event loop:

- ``GET /metrics``: counters summed, gauges kept per worker (label ``worker``), and
  ``spamgw_workers``, ``spamgw_workers_answering``, ``spamgw_worker_info{worker,pid}``,
  ``spamgw_worker_events{worker}``, ``spamgw_worker_restarts`` (``supervisor.json``);
- ``GET /v1/stats``: counts added up, rows of the same route, source, rule or time
  slice merged; settings and what every worker reads from the shared counters kept
  once; ``workers`` says who answered;
- ``GET /v1/stats/stream``: the dashboard's frames, merged the same way.

A worker that does not answer (restarting) is left out, and ``spamgw_workers_answering``
says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any

from aiohttp import ClientError, ClientSession, ClientTimeout, UnixConnector, web

from gateway.supervisor import read_state

if TYPE_CHECKING:
    from prometheus_client.core import Metric

    from gateway.workers import Worker

__all__ = ["host_view", "merge_metrics", "merge_stats"]

#: admin requests answered for the whole host by worker 0 (and /v1/stats/stream)
HOST_VIEWS = ("/metrics", "/v1/stats")
PEER_TIMEOUT = 2.0

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def host_view(worker: Worker) -> Any:
    """Admin middleware of worker 0: ``/metrics`` and ``/v1/stats`` for the host."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method == "GET" and request.path == "/v1/stats/stream":
            return await _host_stream(worker, request, handler)
        own = await handler(request)
        if request.method != "GET" or request.path not in HOST_VIEWS:
            return own
        if not isinstance(own, web.Response) or own.status != 200 or own.body is None:
            return own
        peers = await _ask_peers(worker, request, request.path_qs)
        parts = [(worker.index, bytes(own.body)), *peers]  # type: ignore[arg-type]
        state = read_state(worker.run_dir)
        if request.path == "/metrics":
            body = await asyncio.to_thread(merge_metrics, parts, state, worker.workers)
            return web.Response(body=body, headers={"Content-Type":
                                                    own.headers["Content-Type"]})
        return web.json_response(await asyncio.to_thread(merge_stats, parts, state))

    return middleware


async def _host_stream(worker: Worker, request: web.Request, handler: Handler
                       ) -> web.StreamResponse:
    """The dashboard's server-sent events for the whole host: every ``period`` the
    overview of this worker and the others' ``/v1/stats``, added up. Arguments it
    cannot read go to the worker's own handler, which answers 400."""
    from gateway.admin.stats import overview

    try:
        window = float(request.query.get("window", "300"))
        period = min(10.0, max(0.2, float(request.query.get("period", "1"))))
    except ValueError:
        return await handler(request)
    if not 1 <= window <= 3600:
        return await handler(request)
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                       "Cache-Control": "no-cache",
                                       "X-Accel-Buffering": "no"})
    await resp.prepare(request)
    state = read_state(worker.run_dir)
    with contextlib.suppress(ConnectionResetError, asyncio.CancelledError):
        while True:
            own = json.dumps(overview(request.app, window)).encode()
            peers = await _ask_peers(worker, request, f"/v1/stats?window={window:g}")
            merged = await asyncio.to_thread(merge_stats, [(worker.index, own), *peers],
                                             state)
            merged.pop("lifetime", None)
            data = json.dumps(merged, separators=(",", ":"))
            await resp.write(f"event: stats\ndata: {data}\n\n".encode())
            await asyncio.sleep(period)
    return resp


async def _ask_peers(worker: Worker, request: web.Request, path_qs: str
                     ) -> list[tuple[int, bytes]]:
    """A GET of ``path_qs`` from every other worker, over its socket, with the
    request's token; one that does not answer (restarting) is left out."""
    headers = {k: v for k, v in request.headers.items() if k.lower() == "authorization"}

    async def ask(index: int) -> tuple[int, bytes] | None:
        path = worker.socket(index)
        if not path.exists():
            return None
        try:
            async with (ClientSession(connector=UnixConnector(str(path)),
                                      timeout=ClientTimeout(total=PEER_TIMEOUT)) as session,
                        session.get(f"http://worker{path_qs}",
                                    headers=headers) as resp):
                if resp.status != 200:
                    return None
                return index, await resp.read()
        except (ClientError, OSError, TimeoutError):
            return None

    answers = await asyncio.gather(*(ask(i) for i in range(worker.workers)
                                     if i != worker.index))
    return [a for a in answers if a is not None]


def merge_metrics(parts: list[tuple[int, bytes]], state: dict[str, Any],
                  workers: int) -> bytes:
    """Prometheus texts of several workers as one host: counters summed, gauges kept
    per worker (label ``worker``), and the workers themselves."""
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
    from prometheus_client.core import Metric as PromMetric
    from prometheus_client.parser import text_string_to_metric_families

    families: dict[str, PromMetric] = {}
    sums: dict[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]] = {}
    events: dict[int, float] = defaultdict(float)
    for index, body in parts:
        for fam in text_string_to_metric_families(body.decode()):
            out = families.setdefault(fam.name, PromMetric(fam.name, fam.documentation,
                                                           fam.type))
            for s in fam.samples:
                if fam.type == "counter":
                    acc = sums.setdefault(fam.name, defaultdict(float))
                    acc[(s.name, tuple(sorted(s.labels.items())))] += s.value
                    if fam.name == "spamgw_events":
                        events[index] += s.value
                else:
                    out.add_sample(s.name, {**s.labels, "worker": str(index)}, s.value)
    for name, acc in sums.items():
        for (sample, labels), value in acc.items():
            families[name].add_sample(sample, dict(labels), value)
    pids = state.get("pids", {})
    info = GaugeMetricFamily("spamgw_worker_info", "A worker process answering for this "
                             "host", labels=["worker", "pid"])
    per_worker = CounterMetricFamily("spamgw_worker_events", "Decisions by worker",
                                     labels=["worker"])
    for index, _body in parts:
        info.add_metric([str(index), str(pids.get(str(index), ""))], 1)
        per_worker.add_metric([str(index)], events[index])
    host = [
        GaugeMetricFamily("spamgw_workers", "Worker processes configured", value=workers),
        GaugeMetricFamily("spamgw_workers_answering", "Workers whose figures are included",
                          value=len(parts)),
        CounterMetricFamily("spamgw_worker_restarts", "Workers restarted after dying",
                            value=float(state.get("restarts", 0))),
        info, per_worker,
    ]

    class Collected:
        def collect(self) -> Iterator[Metric]:
            yield from families.values()
            yield from host

    registry = CollectorRegistry(auto_describe=False)
    registry.register(Collected())
    result: bytes = generate_latest(registry)
    return result


#: fields that are not this worker's counts: instants (the earliest or latest is kept),
#: sizes and settings, and what every worker reads from the shared counters (the first)
_EARLIEST = frozenset({"since"})
_LATEST = frozenset({"now"})
_SAME = frozenset({"seconds", "bucket", "t", "window", "rules", "threshold",
                   "reported_now"})


def _merge(a: Any, b: Any, key: str = "") -> Any:
    if isinstance(a, dict) and isinstance(b, dict):
        out = dict(a)
        for k, v in b.items():
            out[k] = _merge(a[k], v, k) if k in a else v
        return out
    if isinstance(a, list) and isinstance(b, list) and all(
            isinstance(x, dict) for x in a + b):
        rows: dict[Any, dict[str, Any]] = {}
        for row in a + b:
            ident = _identity(row)
            rows[ident] = _merge(rows[ident], row) if ident in rows else row
        merged = list(rows.values())
        for order in ("total", "count"):
            if merged and all(order in r for r in merged) and "t" not in merged[0]:
                merged.sort(key=lambda r, o=order: -r[o])  # type: ignore[misc]
                break
        return merged
    numbers = (int, float)
    if (isinstance(a, numbers) and isinstance(b, numbers) and not isinstance(a, bool)
            and not isinstance(b, bool)):
        if key in _EARLIEST:
            return min(a, b)
        if key in _LATEST:
            return max(a, b)
        if key in _SAME:
            return a
        return a + b
    return a


def _identity(row: dict[str, Any]) -> Any:
    """What names a row of a table (its text fields; a series point by its ``t``)."""
    if "t" in row:
        return ("t", row["t"])
    return tuple(sorted((k, v) for k, v in row.items()
                        if isinstance(v, str | bool) or v is None))


def merge_stats(parts: list[tuple[int, bytes]], state: dict[str, Any]) -> dict[str, Any]:
    """``GET /v1/stats`` of several workers as one host: counts added up, rows of the
    same route, source, rule or slice merged; ``workers`` says who answered."""
    merged: dict[str, Any] = {}
    for _index, body in parts:
        data = json.loads(body)
        merged = _merge(merged, data) if merged else data
    pids = state.get("pids", {})
    merged["workers"] = [{"worker": index, "pid": pids.get(str(index))}
                         for index, _body in parts]
    return merged
