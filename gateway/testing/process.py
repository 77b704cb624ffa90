"""``python -m gateway run --config`` as a process: started, waited for until a port
answers (or it dies, or the deadline passes), stopped by SIGTERM and then SIGKILL."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any

__all__ = ["GatewayProcess", "GatewayStartError", "child_env", "start_smsc_sim", "stop",
           "wait_port"]

#: the folder holding the ``gateway`` package, put on the child's PYTHONPATH
PACKAGE_ROOT = Path(__file__).resolve().parents[2]


class GatewayStartError(RuntimeError):
    """The process exited, or nothing answered on its port before the deadline."""


def wait_port(port: int, proc: subprocess.Popen[Any] | None = None, *,
              host: str = "127.0.0.1", timeout: float = 30.0, interval: float = 0.02) -> None:
    """Until a TCP connect to ``host:port`` succeeds; raises ``GatewayStartError`` if
    ``proc`` exits first (with its stderr, when it is a pipe) or after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        if proc is not None and proc.poll() is not None:
            err = proc.stderr.read() if proc.stderr is not None else ""
            if isinstance(err, bytes):
                err = err.decode(errors="replace")
            raise GatewayStartError(f"{proc.args!r} exited with {proc.returncode}: {err}")
        with contextlib.suppress(OSError), socket.create_connection((host, port), 0.5):
            return
        if time.monotonic() >= deadline:
            raise GatewayStartError(f"nothing answered on {host}:{port} after {timeout:g} s")
        time.sleep(interval)


def child_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """``env`` (default: this process's) with this ``gateway`` package's folder first on
    PYTHONPATH, so a child runs the same gateway as the caller."""
    base = dict(os.environ if env is None else env)
    path = [str(PACKAGE_ROOT)] + ([base["PYTHONPATH"]] if base.get("PYTHONPATH") else [])
    return {**base, "PYTHONPATH": os.pathsep.join(path)}


def start_smsc_sim(*args: str, host: str = "127.0.0.1", port: int = 0,
                   cwd: Path | None = None, stdin: int | IO[Any] | None = None,
                   stderr: int | IO[Any] | None = None) -> tuple[subprocess.Popen[str], int]:
    """``python -m gateway smsc-sim --listen host:port args``, the bundled SMSC simulator
    (port 0: the kernel picks); returns it once it says where it listens, and that port.
    Its stdout is a text pipe, read past the ``listening`` line."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway", "smsc-sim", "--listen", f"{host}:{port}", *args],
        cwd=cwd or PACKAGE_ROOT, stdout=subprocess.PIPE, stdin=stdin, stderr=stderr,
        text=True, env=child_env())
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("listening"):
        stop(proc, grace=0)
        raise GatewayStartError(f"simulator did not start: {line!r}")
    return proc, int(line.rsplit(":", 1)[1])


def stop(proc: subprocess.Popen[Any], grace: float = 20.0) -> int:
    """SIGTERM to ``proc`` and up to ``grace`` seconds to exit (a gateway drains), then
    SIGKILL (at once with ``grace=0``); its pipes closed. Returns its exit code."""
    if proc.poll() is None:
        if grace > 0:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                proc.kill()
        else:
            proc.kill()
        proc.wait(10)
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()
    return proc.returncode


class GatewayProcess:
    """One ``python -m gateway run --config config [args]``, started in ``cwd`` (default:
    the config's folder). ``port``: the port that answers once it is up (its SMPP or
    FastAGI listener). ``stderr`` is a text pipe by default, for a test to read; use it
    as a context manager, or ``start()`` and ``stop()``."""

    def __init__(self, config: Path, port: int, *, args: Sequence[str] = (),
                 cwd: Path | None = None, timeout: float = 30.0,
                 stdout: int | IO[Any] | None = subprocess.DEVNULL,
                 stderr: int | IO[Any] | None = subprocess.PIPE,
                 env: dict[str, str] | None = None) -> None:
        self.config = Path(config)
        self.port = port
        self.args = tuple(args)
        self.cwd = cwd or self.config.parent
        self.timeout = timeout
        self._stdout, self._stderr = stdout, stderr
        self.env = child_env(env)
        self._proc: subprocess.Popen[str] | None = None

    @property
    def command(self) -> list[str]:
        return [sys.executable, "-m", "gateway", "run", "--config", str(self.config),
                *self.args]

    @property
    def proc(self) -> subprocess.Popen[str]:
        if self._proc is None:
            raise RuntimeError("the gateway process is not started")
        return self._proc

    @property
    def pid(self) -> int:
        return self.proc.pid

    def start(self) -> GatewayProcess:
        """Start it and wait until ``port`` answers; on failure it is killed and
        ``GatewayStartError`` raised."""
        self._proc = subprocess.Popen(self.command, cwd=self.cwd, stdout=self._stdout,
                                      stderr=self._stderr, text=True, env=self.env)
        try:
            wait_port(self.port, self._proc, timeout=self.timeout)
        except BaseException:
            self.stop(grace=0)
            raise
        return self

    def stop(self, grace: float = 20.0) -> int | None:
        """``stop`` (below) on its process; None if it was never started."""
        return None if self._proc is None else stop(self._proc, grace)

    def __enter__(self) -> GatewayProcess:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
