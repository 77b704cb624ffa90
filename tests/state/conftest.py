import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from redis_support import ClusterServers, RedisServer, Store, two_backends

from gateway.state.redis import RedisCounters


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One redis-server for the tests that do not stop it; tests share it through
    distinct key prefixes."""
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterServers]:
    """A Redis Cluster of three primaries, shared like ``redis_server``."""
    cluster = ClusterServers(tmp_path_factory.mktemp("cluster")).start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(params=["standalone", "cluster"])
def store(request: pytest.FixtureRequest) -> Store:
    """Each test that takes it runs on one redis-server and on a Redis Cluster (the
    counters' keys in 8 shards over 3 primaries)."""
    if request.param == "standalone":
        server = request.getfixturevalue("redis_server")
        return Store("standalone", server.url, [server])
    cluster = request.getfixturevalue("redis_cluster")
    return Store("cluster", cluster.url, cluster.nodes)


@pytest.fixture
def own_redis(tmp_path) -> Iterator[RedisServer]:
    """A redis-server this test may kill and restart."""
    server = RedisServer(tmp_path / "redis").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def prefix() -> str:
    return f"t{uuid.uuid4().hex[:8]}:"



@pytest_asyncio.fixture
async def pair(store, prefix) -> AsyncIterator[tuple[RedisCounters, RedisCounters]]:
    """Two started backends that sync only when told (``sync()``)."""
    async with two_backends(store.url, prefix, 3600) as ab:
        yield ab
