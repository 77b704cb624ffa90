"""One redis-server and one SMSC simulator per test module of tests/workers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from workers_support import RedisServer, start_sim


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    s = start_sim(tmp_path_factory.mktemp("sim") / "sim.jsonl")
    try:
        yield s.port
    finally:
        s.stop()
