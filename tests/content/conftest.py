"""Fixtures for the content plugins: the shipped lists, a fresh counter store."""

from __future__ import annotations

import pytest
from content_support import ROOT

from gateway.engine.plugins import PluginEnv
from gateway.lists.registry import ListRegistry, load_lists
from gateway.numbers import Numbering
from gateway.state.memory import MemoryCounters


@pytest.fixture(scope="session")
def numbering() -> Numbering:
    return Numbering("GB")


@pytest.fixture(scope="session")
def lists(numbering: Numbering) -> ListRegistry:
    return load_lists(ROOT / "rules" / "lists", numbering)


@pytest.fixture
def env(lists: ListRegistry, numbering: Numbering) -> PluginEnv:
    return PluginEnv(lists, MemoryCounters(), numbering, {})
