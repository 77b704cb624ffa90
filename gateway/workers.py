"""One worker of a multi-process host (``spamgw run --workers N``, ``gateway.supervisor``).

A worker is a whole gateway (``gateway.app.run``) with three differences:

- its loop opens the SMPP and FastAGI listeners with SO_REUSEPORT, so N workers
  listen on the same ports and the kernel spreads connections over them;
- it follows the change stream (``gateway.fanout``): list edits and rule changes
  accepted by any worker are applied by all;
- the admin API is served once, by worker 0, on ``[admin] listen``; every other
  worker serves the same app on a Unix socket in the supervisor's run dir, which
  worker 0 reads to show the whole host: ``GET /metrics`` sums the counters of every
  worker and labels the gauges with ``worker``, and adds ``spamgw_worker_info``,
  ``spamgw_worker_events`` and ``spamgw_worker_restarts``; ``GET /v1/stats`` and the
  dashboard's ``/v1/stats/stream`` add the workers' figures up. They merge off the
  event loop.

Run by the supervisor as ``python -m gateway.workers --index I --workers N --node
NODE --run-dir DIR [--config FILE]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog
import uvloop
from aiohttp import ClientError, ClientSession, ClientTimeout, UnixConnector, web

from gateway.config import Config, hostport
from gateway.fanout import ChangeStream, Origin, node_id, start_position
from gateway.supervisor import read_state

if TYPE_CHECKING:
    from prometheus_client.core import Metric

    from gateway.app import Core

__all__ = ["SharedPortLoop", "Worker", "main", "merge_metrics", "merge_stats"]

log = structlog.get_logger("spamgw.worker")

#: admin requests answered for the whole host by worker 0 (and /v1/stats/stream)
HOST_VIEWS = ("/metrics", "/v1/stats")
#: admin requests that change the active ruleset: announced to the other workers
RULE_CHANGES = ("/v1/rules/reload", "/v1/rules/rollback", "/v1/rules/shadow/promote")
PEER_TIMEOUT = 2.0


class SharedPortLoop(uvloop.Loop):
    """A loop whose listeners on ``shared`` addresses are opened with SO_REUSEPORT
    (the SMPP proxy and the FastAGI server open theirs with ``create_server(host,
    port)``; every worker of a host opens the same ones). ``ready`` is called once
    all of them listen (the admin API, opened before them, listens too)."""

    shared: frozenset[tuple[str, int]] = frozenset()
    ready: Callable[[], None] | None = None

    async def create_server(self, protocol_factory: Any, host: Any = None,
                            port: Any = None, *args: Any, **kwargs: Any) -> Any:
        shared = (host, port) in self.shared
        if shared and kwargs.get("reuse_port") is None:
            kwargs["reuse_port"] = True
        server = await super().create_server(protocol_factory, host, port, *args, **kwargs)
        if shared:
            self.listening = getattr(self, "listening", frozenset()) | {(host, port)}
            if self.listening == self.shared and self.ready is not None:
                self.ready()
        return server


def shared_addresses(config: Config) -> frozenset[tuple[str, int]]:
    found = []
    if config.smpp.enabled:
        found.append(hostport(config.smpp.listen))
    if config.agi.enabled:
        found.append(hostport(config.agi.listen))
    return frozenset(found)


@dataclass(frozen=True, slots=True)
class Worker:
    index: int
    workers: int
    node: str
    run_dir: Path
    #: the admin API is on in the config (worker 0 serves it, the others their socket)
    admin: bool = True

    def socket(self, index: int) -> Path:
        return self.run_dir / f"worker-{index}.sock"

    def config(self, config: Config) -> Config:
        """The admin API on ``[admin] listen`` is worker 0's alone."""
        if self.index == 0 or not config.admin.enabled:
            return config
        return dataclasses.replace(config, admin=dataclasses.replace(config.admin,
                                                                     enabled=False))


# -- the worker's part in the host ------------------------------------------------------


@contextlib.asynccontextmanager
async def serving(core: Core, worker: Worker, start: str) -> AsyncIterator[None]:
    """``gateway.app.running``'s ``around``: the change stream; on worker 0 (the one
    with the public admin API) rule changes announced to the others and, with several
    workers, the host view; on the others the admin app on this worker's socket."""
    stream = ChangeStream(core, Origin(worker.node, worker.index), start=start)
    async with contextlib.AsyncExitStack() as stack:
        await stack.enter_async_context(stream.running())
        if worker.index == 0:
            core.admin_middlewares.append(announce_rules(stream))
            if worker.workers > 1:
                core.admin_middlewares.append(host_view(worker))
        elif worker.admin:
            await stack.enter_async_context(private_admin(core, worker.socket(worker.index)))
        if worker.workers > 1 and not shared_addresses(core.config):
            mark_ready(worker)
        yield


def alone(config: Config) -> Callable[[Core], contextlib.AbstractAsyncContextManager[None]]:
    """``spamgw run`` as one process with the redis backend: one worker of its node,
    following the change stream (list edits and rule changes of the other nodes)."""
    worker = Worker(0, 1, node_id(config), Path(), config.admin.enabled)
    start = start_position(config)
    return lambda core: serving(core, worker, start)


def mark_ready(worker: Worker) -> None:
    """Leave ``ready-<pid>`` in the run dir once the worker listens: a worker that
    dies before that failed to start, and the supervisor does not retry it."""
    (worker.run_dir / f"ready-{os.getpid()}").touch()
    log.info("worker ready", worker=worker.index, pid=os.getpid())


@contextlib.asynccontextmanager
async def private_admin(core: Core, path: Path) -> AsyncIterator[None]:
    """The admin app on a Unix socket in the (private) run dir, for worker 0's host
    view; the same tokens guard it."""
    from gateway.admin.app import make_app

    runner = web.AppRunner(make_app(core), access_log=None, handle_signals=False)
    await runner.setup()
    path.unlink(missing_ok=True)  # noqa: ASYNC240 - a dead predecessor's, in a local dir
    site = web.UnixSite(runner, str(path))
    await site.start()
    try:
        yield
    finally:
        await runner.cleanup()


# -- worker 0: the host view --------------------------------------------------------------

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def announce_rules(stream: ChangeStream) -> Any:
    """Admin middleware: a rules change accepted here goes on the change stream."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        if (request.method == "POST" and request.path in RULE_CHANGES
                and response.status == 200):
            stream.rules_changed()
        return response

    return middleware


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


# -- entry point ---------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    from gateway.app import run
    from gateway.config import load_config

    p = argparse.ArgumentParser(prog="python -m gateway.workers",
                                description="one worker of spamgw run --workers N")
    p.add_argument("--index", type=int, required=True)
    p.add_argument("--workers", type=int, required=True)
    p.add_argument("--node", required=True)
    p.add_argument("--run-dir", required=True, type=Path)
    p.add_argument("--config")
    args = p.parse_args(argv)
    loaded = load_config(args.config)
    worker = Worker(args.index, args.workers, args.node, args.run_dir, loaded.admin.enabled)
    config = worker.config(loaded)
    start = start_position(config)
    shared = shared_addresses(config)

    def loop_factory() -> uvloop.Loop:
        loop = SharedPortLoop()
        loop.shared = shared
        loop.ready = lambda: mark_ready(worker)
        return loop

    def around(core: Core) -> contextlib.AbstractAsyncContextManager[None]:
        return serving(core, worker, start)

    return run(config, around=around, loop_factory=loop_factory)


if __name__ == "__main__":
    raise SystemExit(main())
