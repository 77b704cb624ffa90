"""Redis clients from one URL: a standalone server, a Sentinel-managed primary, or a
Redis Cluster (Redis or Valkey alike).

``[state] redis_url`` (and ``[agi.lookup] redis_url``) take:

- ``redis://[[user]:password@]host:port/db``, ``rediss://...`` (TLS), ``unix://...``:
  one server, as redis-py reads them;
- ``redis+sentinel://[[user]:password@]host:port[,host:port...]/service[/db]``
  (``rediss+sentinel`` for TLS): the Sentinels to ask, and the name of the primary they
  watch. The client asks them where the primary is when it connects, and again after
  a connection fails or the server it reached answers as a replica (a failover);
  the password is the primary's (Sentinels without a password, as they usually run);
- ``redis+cluster://[[user]:password@]host:port[,host:port...]`` (``rediss+cluster``):
  seed nodes of a Redis Cluster; the client learns the slot map from them and
  follows MOVED redirections.

``parse`` checks a URL once, at config load (``gateway.config``), so a typo is a
start-up error that names ``state.redis_url``, not a sync failure at run time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import redis.exceptions

__all__ = ["ERRORS", "RedisTarget", "async_client", "parse", "sync_client"]

#: what a Redis outage raises: a Cluster client's "no node reachable" is not a
#: ``RedisError``
ERRORS: tuple[type[BaseException], ...] = (
    redis.exceptions.RedisError, redis.exceptions.RedisClusterException, OSError,
    TimeoutError)

_PLAIN = ("redis", "rediss", "unix")
_MODES = {"redis+sentinel": ("sentinel", False), "rediss+sentinel": ("sentinel", True),
          "redis+cluster": ("cluster", False), "rediss+cluster": ("cluster", True)}


@dataclass(frozen=True, slots=True)
class RedisTarget:
    """What a URL names: ``mode`` "standalone", "sentinel" or "cluster"."""

    mode: str
    url: str
    hosts: tuple[tuple[str, int], ...] = ()
    service: str = ""
    db: int = 0
    username: str | None = None
    password: str | None = None
    tls: bool = False

    @property
    def cluster(self) -> bool:
        return self.mode == "cluster"


def _hosts(netloc: str, default_port: int) -> tuple[tuple[str, int], ...]:
    out: list[tuple[str, int]] = []
    for item in netloc.split(","):
        item = item.strip()
        if not item:
            raise ValueError("an empty host in the host list")
        if item.startswith("["):  # [v6]:port
            host, _, rest = item[1:].partition("]")
            port_s = rest[1:] if rest.startswith(":") else ""
        else:
            host, _, port_s = item.rpartition(":") if ":" in item else (item, "", "")
        if not host:
            raise ValueError(f"{item!r}: no host")
        try:
            port = int(port_s) if port_s else default_port
        except ValueError:
            raise ValueError(f"{item!r}: the port is not a number") from None
        if not 0 < port < 65536:
            raise ValueError(f"{item!r}: port out of range")
        out.append((host, port))
    return tuple(out)


def parse(url: str) -> RedisTarget:
    """The target of ``url``; ``ValueError`` with the reason when it is not one."""
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if not sep:
        raise ValueError(f"expected a redis://, redis+sentinel:// or redis+cluster:// "
                         f"URL, got {url!r}")
    if scheme in _PLAIN:
        return RedisTarget("standalone", url)
    if scheme not in _MODES:
        raise ValueError(f"unknown scheme {scheme!r}: use redis, rediss, unix, "
                         "redis+sentinel or redis+cluster")
    mode, tls = _MODES[scheme]
    # urlsplit would read "h1:1,h2:2" as one host with a bad port: split by hand
    rest, _, query = rest.partition("?")
    if query:
        raise ValueError(f"{scheme}:// URLs take no query options ({query!r})")
    auth, at, hostpart = rest.rpartition("@") if "@" in rest.split("/", 1)[0] else (
        "", "", rest)
    netloc, _, path = hostpart.partition("/")
    username = password = None
    if at:
        user, colon, pw = auth.partition(":")
        username = unquote(user) or None
        password = unquote(pw) if colon else None
    hosts = _hosts(netloc, 26379 if mode == "sentinel" else 6379)
    parts = [unquote(p) for p in path.split("/") if p]
    if mode == "sentinel":
        if not parts:
            raise ValueError("redis+sentinel:// needs the primary's service name: "
                             "redis+sentinel://host:26379,host:26379/mymaster[/db]")
        if len(parts) > 2:
            raise ValueError(f"redis+sentinel:// path is /service[/db], got /{path}")
        service = parts[0]
        try:
            db = int(parts[1]) if len(parts) > 1 else 0
        except ValueError:
            raise ValueError(f"db {parts[1]!r} is not a number") from None
        return RedisTarget(mode, url, hosts, service, db, username, password, tls)
    if parts:
        raise ValueError("redis+cluster:// takes no path (a Redis Cluster has only db 0)")
    return RedisTarget(mode, url, hosts, "", 0, username, password, tls)


def _auth(target: RedisTarget) -> dict[str, Any]:
    kw: dict[str, Any] = {}
    if target.username:
        kw["username"] = target.username
    if target.password is not None:
        kw["password"] = target.password
    if target.tls:
        kw["ssl"] = True
    return kw


def sync_client(url: str, **kwargs: Any) -> Any:
    """A blocking client (``redis.Redis`` or ``redis.cluster.RedisCluster``)."""
    import redis
    import redis.cluster
    import redis.sentinel

    return _client(url, kwargs, redis.Redis, redis.cluster, redis.sentinel)


def async_client(url: str, **kwargs: Any) -> Any:
    """An asyncio client (``redis.asyncio.Redis`` or its cluster twin)."""
    import redis.asyncio
    import redis.asyncio.cluster
    import redis.asyncio.sentinel

    return _client(url, kwargs, redis.asyncio.Redis, redis.asyncio.cluster,
                   redis.asyncio.sentinel)


def _client(url: str, kwargs: dict[str, Any], plain: Any, cluster: Any, sentinel: Any) -> Any:
    """The client ``url`` names, of redis-py's blocking or asyncio flavour (``plain``
    the one-server class, ``cluster`` and ``sentinel`` the flavour's modules)."""
    target = parse(url)
    if target.mode == "standalone":
        return plain.from_url(url, **kwargs)
    kw = _auth(target) | kwargs
    if target.mode == "cluster":
        nodes = [cluster.ClusterNode(h, p) for h, p in target.hosts]
        return cluster.RedisCluster(startup_nodes=nodes, **kw)
    watchers = sentinel.Sentinel(list(target.hosts), sentinel_kwargs=_timeouts(kwargs))
    return watchers.master_for(target.service, db=target.db, **kw)


def _timeouts(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The Sentinels get the same timeouts as the primary: a dead Sentinel must not
    hold a sync longer than a dead primary would."""
    return {k: v for k, v in kwargs.items()
            if k in ("socket_timeout", "socket_connect_timeout")}
