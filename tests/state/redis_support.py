"""What the state tests share: the Redis under test (``Store``: one server or a
Cluster, from ``gateway.testing.redisserver``), a gateway's files for the redis
backend, and two backends on one Redis."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from gateway.redisconn import sync_client
from gateway.state.redis import RedisCounters
from gateway.testing.ports import free_port
from gateway.testing.redisserver import ClusterServers, RedisServer, SentinelGroup

__all__ = ["RULES", "ClusterServers", "RedisServer", "SentinelGroup", "Store", "free_port",
           "two_backends", "write_gateway_files"]


class Store:
    """The Redis the counters under test share: one server, or a Cluster; what the
    tests read of it behind their backs goes through here."""

    def __init__(self, kind: str, url: str, servers: list[RedisServer]) -> None:
        self.kind = kind
        self.url = url
        self.servers = servers

    def client(self) -> Any:
        return sync_client(self.url, decode_responses=True, socket_timeout=5)

    def calls(self, command: str) -> int:
        """How many times the servers ran ``command`` so far (from scripts too)."""
        return sum(int(s.command("INFO", "commandstats")
                       .get(f"cmdstat_{command}", {}).get("calls", 0))
                   for s in self.servers)

    def keys(self, pattern: str) -> dict[int, list[str]]:
        """Each server's keys matching ``pattern``, by port."""
        return {s.port: list(s.command("KEYS", pattern)) for s in self.servers}

    def script_flush(self) -> None:
        for s in self.servers:
            s.command("SCRIPT", "FLUSH")


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

