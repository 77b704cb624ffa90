"""One worker of a multi-process host (``spamgw run --workers N``, ``gateway.supervisor``).

A worker is a whole gateway (``gateway.app.run``) with three differences:

- its loop opens the SMPP listener with SO_REUSEPORT, so N workers listen on the
  same port and the kernel spreads binds over them;
- FastAGI is worker 0's alone: a call's ``/ended`` must reach the process that
  screened it (the call's screening record and its spend reservation live there),
  and the kernel would spread the two connections of one call over the workers;
- it follows the change stream (``gateway.fanout``): list edits and rule changes
  accepted by any worker are applied by all;
- the admin API is served once, by worker 0, on ``[admin] listen``; every other
  worker serves the same app on a Unix socket in the supervisor's run dir, which
  worker 0 reads to show the whole host (``gateway.hostview``).

Run by the supervisor as ``python -m gateway.workers --index I --workers N --node
NODE --run-dir DIR [--config FILE]``.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog
import uvloop
from aiohttp import web

from gateway.config import Config, hostport
from gateway.fanout import ChangeStream, Origin, node_id, start_position
from gateway.hostview import host_view

if TYPE_CHECKING:
    from gateway.app import Core

__all__ = ["SharedPortLoop", "Worker", "alone", "main"]

log = structlog.get_logger("spamgw.worker")

#: admin requests that change the active ruleset: announced to the other workers
RULE_CHANGES = ("/v1/rules/reload", "/v1/rules/rollback", "/v1/rules/shadow/promote")


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
    """The listeners every worker opens: SMPP (FastAGI is worker 0's alone)."""
    return frozenset([hostport(config.smpp.listen)] if config.smpp.enabled else [])


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
        """The admin API on ``[admin] listen`` and FastAGI are worker 0's alone."""
        if self.index == 0:
            return config
        return dataclasses.replace(
            config, admin=dataclasses.replace(config.admin, enabled=False),
            agi=dataclasses.replace(config.agi, enabled=False))


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


# -- worker 0: rules changes announced -------------------------------------------------

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
