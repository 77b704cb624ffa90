"""One redis-server and one SMSC simulator per test module of tests/workers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from workers_support import ClusterServers, RedisServer, start_sim


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="module")
def redis_cluster_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Redis Cluster of three primaries (``redis+cluster://`` seed nodes)."""
    cluster = ClusterServers(tmp_path_factory.mktemp("cluster")).start()
    try:
        yield cluster.url
    finally:
        cluster.stop()


@pytest.fixture(params=["standalone", "cluster"])
def any_redis_url(request: pytest.FixtureRequest) -> str:
    """The test runs on one redis-server and on a Redis Cluster."""
    return str(request.getfixturevalue(
        "redis_url" if request.param == "standalone" else "redis_cluster_url"))


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    s = start_sim(tmp_path_factory.mktemp("sim") / "sim.jsonl")
    try:
        yield s.port
    finally:
        s.stop()
