"""Fixtures for the whole suite."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import structlog


@pytest.fixture(autouse=True, scope="module")
def _logging_restored() -> Iterator[None]:
    """Each test module leaves structlog and logging as it found them: a benchmark run in
    process (quiet: filtered at CRITICAL) must not hide log lines a later test
    captures."""
    config = structlog.get_config()
    disabled = logging.root.manager.disable
    yield
    structlog.configure(**config)
    logging.disable(disabled)
