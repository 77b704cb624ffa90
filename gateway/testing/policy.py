"""A policy tree's engine in process: its rules, lists and plugins, as the gateway
loads them, for tests and benchmarks that judge events without sockets."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from gateway.config import Config, ListsConfig, LogConfig, PluginsConfig, RulesConfig
from gateway.state.memory import MemoryCounters

if TYPE_CHECKING:
    from gateway.app import Core

__all__ = ["plugin_module", "policy_core"]


def policy_core(root: Path, *, disabled: Iterable[str] = (), lists: Path | None = None,
                options: Mapping[str, Mapping[str, Any]] | None = None) -> Core:
    """The core of ``root``'s ``rules/``, ``rules/lists/`` (or ``lists``) and
    ``plugins/`` (a source tree, or /usr/share/spamgw) on fresh in-memory counters, with
    no observer (no statistics, audit log or quarantine) and logging at errors only;
    ``disabled`` plugins are left out, and the rules naming their symbols with them;
    ``options``, the plugins' (``[plugins.options.NAME]``: another fraud model)."""
    from gateway.app import build_core

    off = tuple(disabled)
    cfg = Config(rules=RulesConfig(str(root / "rules")),
                 lists=ListsConfig(str(lists or root / "rules" / "lists")),
                 plugins=PluginsConfig(dir=str(root / "plugins"), disabled=off,
                                       missing_symbols="disable" if off else "error",
                                       options={k: dict(v) for k, v in
                                                (options or {}).items()}),
                 log=LogConfig(level="error", format="console", audit=""))
    core = build_core(cfg, state=MemoryCounters())
    core.engine.observer = None
    return core


def plugin_module(path: Path, name: str | None = None) -> ModuleType:
    """A plugin module loaded from its file, as ``[plugins] dir`` loads it (not
    registered in ``sys.modules``): its ``create(env)`` and helpers, for a test."""
    spec = importlib.util.spec_from_file_location(name or f"spamgw_test_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"{path}: cannot load")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
