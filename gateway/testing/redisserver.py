"""Real Redis servers for tests and benchmarks, on free loopback ports, without
persistence unless asked: one ``RedisServer``, a ``ClusterServers`` Redis Cluster
(primaries and replicas), a ``SentinelGroup`` (a primary, its replica, a Sentinel).
Each is stopped, and waited for, by whoever started it."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis

from gateway.testing.ports import free_port
from gateway.testing.process import stop

__all__ = ["REDIS_SERVER", "ClusterServers", "RedisServer", "SentinelGroup", "distinct_ports"]

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


class RedisServer:
    """One redis-server process."""

    def __init__(self, workdir: Path, port: int | None = None, persist: bool = False,
                 extra: tuple[str, ...] = ()) -> None:
        self.port = port or free_port()
        self.workdir = workdir
        self.persist = persist
        #: more redis-server arguments (cluster mode, replicaof)
        self.extra = extra
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        self.workdir.mkdir(parents=True, exist_ok=True)
        args = [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1",
                "--dir", str(self.workdir), "--save", "", "--daemonize", "no",
                "--appendonly", "yes" if self.persist else "no", "--loglevel", "warning",
                *self.extra]
        return self._spawn(args)

    def _spawn(self, args: list[str]) -> RedisServer:
        """Run ``args`` and wait until the server answers PING."""
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

    def command(self, *args: str) -> Any:
        """One command on a connection of its own, the reply as redis-py parses it."""
        r = redis.Redis(port=self.port, decode_responses=True, socket_timeout=5)
        try:
            return r.execute_command(*args)
        finally:
            r.close()

    def kill(self) -> None:
        """Gone at once, as a crash or a cut cable would leave it."""
        if self.proc is not None:
            stop(self.proc, grace=0)
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc, grace=10)
        self.proc = None


def distinct_ports(n: int) -> list[int]:
    """``n`` free loopback ports, all different (the kernel may hand a port it has just
    given out again, and these are bound only later)."""
    ports: list[int] = []
    while len(ports) < n:
        if (port := free_port()) not in ports:
            ports.append(port)
    return ports


class ClusterServers:
    """A Redis Cluster of ``n`` primaries on loopback, each with ``replicas`` replicas:
    every node started in cluster mode, an equal range of the 16,384 slots added to
    each primary, the nodes made to meet, each replica told whose it is, and the
    cluster waited for until every node says ``cluster_state:ok`` and knows all."""

    def __init__(self, workdir: Path, n: int = 3, replicas: int = 0) -> None:
        total = n * (1 + replicas)
        self.n = n
        # the bus port on a free port of its own (port + 10,000 may not be free)
        ports = distinct_ports(2 * total)
        self.bus = ports[total:]
        self.nodes = [RedisServer(workdir / f"node{i}", port=ports[i], extra=(
            "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
            "--cluster-node-timeout", "2000", "--cluster-port", str(self.bus[i]),
            "--repl-diskless-sync", "no")) for i in range(total)]

    @property
    def primaries(self) -> list[RedisServer]:
        return self.nodes[:self.n]

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"127.0.0.1:{s.port}" for s in self.nodes[:2])

    def start(self) -> ClusterServers:
        for s in self.nodes:
            s.start()
        n = self.n
        for i, s in enumerate(self.primaries):
            s.command("CLUSTER", "ADDSLOTSRANGE", str(i * 16384 // n),
                      str((i + 1) * 16384 // n - 1))
        for s, bus in zip(self.nodes[1:], self.bus[1:], strict=True):
            self.nodes[0].command("CLUSTER", "MEET", "127.0.0.1", str(s.port), str(bus))
        self._wait("the nodes to meet", lambda infos: all(
            i.get("cluster_known_nodes") == str(len(self.nodes)) for i in infos))
        for j, s in enumerate(self.nodes[n:]):  # replica j follows primary j % n
            s.command("CLUSTER", "REPLICATE", self.primaries[j % n].command("CLUSTER", "MYID"))
        self._wait("the cluster", lambda infos: all(
            i.get("cluster_state") == "ok" for i in infos))
        # a replica that never synced cannot take over: wait for every first sync
        self._wait("replicas in sync", lambda _: all(
            s.command("INFO", "replication").get("master_link_status") == "up"
            for s in self.nodes[n:]))
        return self

    def _wait(self, what: str, ready: Callable[[list[dict[str, str]]], bool]) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if ready(self.infos()):
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the Redis Cluster: no {what} in 20 s")

    def infos(self) -> list[dict[str, str]]:
        """``CLUSTER INFO`` of each running node."""
        return [dict(line.split(":", 1) for line in
                     str(s.command("CLUSTER", "INFO")).split() if ":" in line)
                for s in self.nodes if s.proc is not None]

    def stop(self) -> None:
        for s in self.nodes:
            s.stop()


class SentinelGroup:
    """A primary, its replica and one Sentinel watching them as ``mymaster``, on
    loopback; the Sentinel declares the primary down after one second."""

    def __init__(self, workdir: Path) -> None:
        primary, replica, self.sentinel_port = distinct_ports(3)
        self.primary = RedisServer(workdir / "primary", port=primary)
        self.replica = RedisServer(workdir / "replica", port=replica, extra=(
            "--replicaof", "127.0.0.1", str(self.primary.port)))
        self.primary.extra = ("--repl-diskless-sync", "no")
        self.workdir = workdir
        self.sentinel = RedisServer(workdir / "sentinel", port=self.sentinel_port)

    @property
    def url(self) -> str:
        return f"redis+sentinel://127.0.0.1:{self.sentinel_port}/mymaster/0"

    def start(self) -> SentinelGroup:
        self.primary.start()
        self.replica.start()
        conf = self.workdir / "sentinel.conf"
        conf.write_text(
            f"port {self.sentinel_port}\nbind 127.0.0.1\ndir {self.workdir}\n"
            f"sentinel monitor mymaster 127.0.0.1 {self.primary.port} 1\n"
            "sentinel down-after-milliseconds mymaster 1000\n"
            "sentinel failover-timeout mymaster 5000\n")
        sentinel = self.sentinel
        sentinel.workdir.mkdir(parents=True, exist_ok=True)
        sentinel._spawn([REDIS_SERVER, str(conf), "--sentinel"])
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                # up when the replica is in sync and the Sentinel knows it (it learns
                # replicas from the primary's INFO): else there is nobody to fail over to
                link = self.replica.command("INFO", "replication").get("master_link_status")
                known = sentinel.command("SENTINEL", "REPLICAS", "mymaster")
                if link == "up" and known and "s_down" not in str(known):
                    return self
            except redis.RedisError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("the Sentinel group did not come up")

    def stop(self) -> None:
        for s in (self.sentinel, self.replica, self.primary):
            s.stop()
