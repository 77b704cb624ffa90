"""Fixtures: the real admin app served on a loopback socket (aiohttp TestServer)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from admin_support import Site, new_site
from aiohttp.test_utils import TestClient, TestServer

from gateway.admin.app import make_app
from gateway.app import Core, build_core


@pytest.fixture
def site(tmp_path: Path) -> Site:
    return new_site(tmp_path)


@pytest_asyncio.fixture
async def core(site: Site) -> Core:
    return build_core(site.config())


@pytest_asyncio.fixture
async def client(core: Core) -> AsyncIterator[TestClient[Any, Any]]:
    async with TestClient(TestServer(make_app(core))) as c:
        yield c
