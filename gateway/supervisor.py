"""``spamgw run --workers N``: one supervisor, N worker processes on one host.

The supervisor judges nothing and holds no core. It starts N workers
(``python -m gateway.workers``), each a whole gateway that opens the SMPP port with
SO_REUSEPORT (the kernel spreads new binds over them; FastAGI and the admin API are
worker 0's alone), and:

- restarts a worker that dies, after a back-off that doubles while restarts keep
  failing (0.5 s up to 30 s), logged and counted (``spamgw_worker_restarts``);
- stops everything when a worker fails on its first start (a port in use, a broken
  rule file): the same error would come back on every restart;
- forwards SIGHUP to every worker (each reloads its rules as one process does);
- on SIGTERM or SIGINT sends SIGTERM to every worker, each drains as one process
  does, and waits for them (SIGKILL after ``[smpp] drain_timeout`` + 15 s).

Counters must be shared between workers (a Wangiri wave split across two processes
that count alone would pass): N > 1 needs ``[state] backend = "redis"``, or the
supervisor refuses to start. The run dir (a private temporary directory) holds the
workers' admin sockets, their readiness marks and ``supervisor.json`` (pids,
restarts), which the host view (``gateway.workers``) reads.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import structlog

from gateway.config import Config, ConfigError

__all__ = ["Supervisor", "supervise", "worker_count"]

log = structlog.get_logger("spamgw.supervisor")

#: back-off before restarting a worker: doubles per failed restart, up to the cap
BACKOFF_FIRST, BACKOFF_CAP = 0.5, 30.0
#: a worker that ran this long before dying starts a fresh back-off
STABLE_AFTER = 10.0
STATE_FILE = "supervisor.json"


def cores() -> int:
    """The cores this process may run on (its affinity, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def worker_count(value: int | str, key: str = "gateway.workers") -> int:
    """``[gateway] workers`` or ``--workers``: a positive count, or ``"auto"`` (cores)."""
    if value == "auto":
        return cores()
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{key}: expected a positive number of workers or \"auto\", "
                          f"got {value!r}")
    return value


def refuse_unshared(config: Config, workers: int) -> None:
    """N > 1 with counters in memory: each worker would count alone."""
    if workers > 1 and config.state.backend != "redis":
        raise ConfigError(
            f"gateway.workers: {workers} workers need shared counters: set [state] "
            f"backend = \"redis\" (with redis_url); with backend = "
            f"\"{config.state.backend}\" each worker would count alone, and a wave "
            "split across them would pass")


def refuse_taken(config: Config) -> None:
    """A port that already answers: with SO_REUSEPORT the workers would bind it beside
    whatever holds it (another spamgw started twice) and share its traffic unnoticed,
    where one process would fail to bind."""
    import socket

    from gateway.config import hostport

    for key, service in (("smpp.listen", config.smpp), ("agi.listen", config.agi)):
        if not service.enabled:
            continue
        host, port = hostport(service.listen)
        probe = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
        try:
            with socket.create_connection((probe, port), timeout=0.5):
                pass
        except OSError:
            continue
        raise ConfigError(f"{key}: {service.listen} is already in use (another spamgw "
                          "running?): workers would share the port with it")


class Supervisor:
    """Runs ``workers`` copies of ``argv`` (each given ``--index i``)."""

    def __init__(self, argv: list[str], workers: int, run_dir: Path, *,
                 stop_timeout: float = 25.0) -> None:
        self.argv = argv
        self.workers = workers
        self.run_dir = run_dir
        self.stop_timeout = stop_timeout
        self.procs: dict[int, asyncio.subprocess.Process] = {}
        self.restarts = 0
        self.failed: int | None = None  # exit status when a first start failed
        self._stopping = asyncio.Event()

    def stop(self, why: str) -> None:
        if self._stopping.is_set():
            return
        log.info("supervisor stopping: draining workers", signal=why,
                 workers=sorted(p.pid for p in self.procs.values()))
        self._stopping.set()
        for proc in self.procs.values():
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)

    def hup(self) -> None:
        pids = []
        for proc in self.procs.values():
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGHUP)
                pids.append(proc.pid)
        log.info("SIGHUP passed to every worker", workers=sorted(pids))

    def _write_state(self) -> None:
        state = {"supervisor": os.getpid(), "workers": self.workers,
                 "restarts": self.restarts,
                 "pids": {str(i): p.pid for i, p in sorted(self.procs.items())}}
        tmp = self.run_dir / (STATE_FILE + ".tmp")
        tmp.write_text(json.dumps(state))
        tmp.replace(self.run_dir / STATE_FILE)

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop, sig.name)
        loop.add_signal_handler(signal.SIGHUP, self.hup)
        slots = [loop.create_task(self._slot(i), name=f"worker-{i}")
                 for i in range(self.workers)]
        await self._stopping.wait()
        _done, pending = await asyncio.wait(slots, timeout=self.stop_timeout)
        for proc in self.procs.values():
            log.error("worker did not drain in time: killed", pid=proc.pid)
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
        if pending:
            await asyncio.wait(pending)
        log.info("supervisor stopped", restarts=self.restarts)
        return self.failed or 0

    async def _slot(self, index: int) -> None:
        """Keep worker ``index`` running until the supervisor stops."""
        failures = 0
        first = True
        while not self._stopping.is_set():
            started = time.monotonic()
            proc = await asyncio.create_subprocess_exec(
                *self.argv, "--index", str(index), stdin=asyncio.subprocess.DEVNULL)
            self.procs[index] = proc
            self._write_state()
            log.info("worker started", worker=index, pid=proc.pid)
            if self._stopping.is_set():  # a SIGTERM came while it was being spawned
                proc.send_signal(signal.SIGTERM)
            status = await proc.wait()
            del self.procs[index]
            ready = (self.run_dir / f"ready-{proc.pid}").exists()
            if self._stopping.is_set():
                log.info("worker stopped", worker=index, pid=proc.pid, status=status)
                self._write_state()
                return
            if first and not ready:
                log.error("worker failed to start: stopping (see its error above)",
                          worker=index, pid=proc.pid, status=status)
                self.failed = status if status and status > 0 else 1
                self.stop("worker failed to start")
                return
            first = False
            self.restarts += 1
            failures = 1 if time.monotonic() - started >= STABLE_AFTER else failures + 1
            delay = min(BACKOFF_CAP, BACKOFF_FIRST * 2 ** (failures - 1))
            log.error("worker died: restarting", worker=index, pid=proc.pid, status=status,
                      restarts=self.restarts, after_seconds=delay)
            self._write_state()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)


def supervise(config: Config, workers: int, config_path: str | None) -> int:
    """``spamgw run`` with more than one worker: refuse unshared counters, check the
    config once (``preflight``), then run the supervisor until SIGTERM."""
    from gateway.app import raise_fd_limit
    from gateway.fanout import node_id
    from gateway.observe import configure_logging
    from gateway.preflight import preflight

    refuse_unshared(config, workers)
    preflight(config)
    refuse_taken(config)
    configure_logging(config.log)
    raise_fd_limit(config)
    run_dir = Path(tempfile.mkdtemp(prefix="spamgw-workers-"))
    argv = [sys.executable, "-m", "gateway.workers", "--workers", str(workers),
            "--node", node_id(config), "--run-dir", str(run_dir)]
    if config_path is not None:
        argv += ["--config", os.path.abspath(config_path)]
    log.info("supervisor starting", workers=workers, config=config.source,
             smpp=config.smpp.listen if config.smpp.enabled else None,
             agi=config.agi.listen if config.agi.enabled else None,
             admin=config.admin.listen if config.admin.enabled else None)
    supervisor = Supervisor(argv, workers, run_dir,
                            stop_timeout=config.smpp.drain_timeout + 15.0)
    try:
        return asyncio.run(supervisor.run())
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)


def read_state(run_dir: Path) -> dict[str, Any]:
    """``supervisor.json``: pids by worker index, restarts (empty if unreadable)."""
    try:
        data: dict[str, Any] = json.loads((run_dir / STATE_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return data
