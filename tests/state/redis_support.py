"""A real redis-server for the tests: own process, free loopback port, no persistence
unless asked; stopped (and waited for) by the fixture that started it."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path

from gateway.state.redis import RedisCounters
from gateway.testing.ports import free_port

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


class RedisServer:
    def __init__(self, workdir: Path, port: int | None = None, persist: bool = False) -> None:
        self.port = port or free_port()
        self.workdir = workdir
        self.persist = persist
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        self.workdir.mkdir(parents=True, exist_ok=True)
        args = [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1",
                "--dir", str(self.workdir), "--save", "", "--daemonize", "no",
                "--appendonly", "yes" if self.persist else "no", "--loglevel", "warning"]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(64).startswith(b"+PONG"):
                        return self
            except OSError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.proc.returncode}")
            time.sleep(0.02)
        self.stop()
        raise RuntimeError("redis-server did not start")

    def kill(self) -> None:
        """Gone at once, as a crash or a cut cable would leave it."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None


RULES = """
[[rule]]
id = "test.velocity"
channel = "sms"
direction = "in"
# an hour: counts live in epoch-aligned buckets, and a test that straddled a bucket
# edge would see them decay (a minute's window made that a one-in-ten flake)
when.rate = { key = "src", window = 3600, over = 5 }
action = "BLOCK"

[[rule]]
id = "test.fanout"
channel = "sms"
direction = "in"
when.distinct = { key = "src", of = "dst", window = 60, over = 3 }
flag = { list = "fanout", ttl = 600 }

[[rule]]
id = "test.flagged_destination"
channel = "sms"
direction = "in"
when.dst_in = "fanout"
action = "BLOCK"
"""


def write_gateway_files(root: Path, redis_url: str, prefix: str, **listen: int) -> Path:
    """A rules dir (a rate, a distinct count that flags, a flag lookup), an empty lists
    dir, and a config using the redis backend; returns the config's path."""
    (root / "rules").mkdir(parents=True, exist_ok=True)
    (root / "lists").mkdir(exist_ok=True)
    (root / "plugins").mkdir(exist_ok=True)
    (root / "rules" / "test.toml").write_text(RULES)
    smpp = (f'[smpp]\nlisten = "127.0.0.1:{listen["smpp"]}"\n'
            f'[smpp.upstream]\naddress = "127.0.0.1:{listen["upstream"]}"\n'
            if "smpp" in listen else "[smpp]\nenabled = false\n")
    cfg = root / "spamgw.toml"
    cfg.write_text(
        f'[rules]\ndir = "{root / "rules"}"\n[lists]\ndir = "{root / "lists"}"\n'
        f'[plugins]\ndir = "{root / "plugins"}"\n'
        f'[state]\nbackend = "redis"\nredis_url = "{redis_url}"\nredis_prefix = "{prefix}"\n'
        f'sync_interval = 0.05\n{smpp}[agi]\nenabled = false\n[admin]\nenabled = false\n'
        '[log]\nlevel = "warning"\n')
    return cfg


@contextlib.asynccontextmanager
async def two_backends(url: str, prefix: str, interval: float
                       ) -> AsyncIterator[tuple[RedisCounters, RedisCounters]]:
    """Two started backends on one Redis and prefix (two gateway processes), stopped
    on leaving."""
    a = RedisCounters(url, prefix=prefix, interval=interval)
    b = RedisCounters(url, prefix=prefix, interval=interval)
    await a.start()
    await b.start()
    try:
        yield a, b
    finally:
        await a.stop()
        await b.stop()

