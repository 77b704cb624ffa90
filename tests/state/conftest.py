import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from redis_support import RedisServer, two_backends

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
async def pair(redis_server, prefix) -> AsyncIterator[tuple[RedisCounters, RedisCounters]]:
    """Two started backends that sync only when told (``sync()``)."""
    async with two_backends(redis_server.url, prefix, 3600) as ab:
        yield ab
