"""Plugins: in-process checks the rule language lacks (Rspamd ``register_symbol``).

A plugin is an object with a ``name``, the ``symbols`` it may emit with default
scores, the ``channels`` it looks at, and ``check(event)`` returning the symbols
that hit (a name, or ``(name, weight)`` with weight in 0..1 scaling the score).
The engine calls it like any other check, on the event, with no serialisation.
A plugin that sets ``wants_facts = True`` is called as ``check(event, facts)``
instead: ``facts`` (``gateway.engine.compiler.Facts``) holds what is computed once
per event and shared (folded text, template, a per-template cache key) and the
``campaign`` slot counters with ``key = "campaign"`` use. Such a plugin should also
accept ``check(event)`` alone (``facts=None``) so it can be called directly.

Plugins come from Python modules in ``[plugins] dir`` (each exposing
``create(env) -> Plugin``) and from the ``spamgw.plugins`` entry-point group
(an entry point naming such a ``create``).
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import structlog

if TYPE_CHECKING:
    from gateway.config import PluginsConfig
    from gateway.lists.registry import ListRegistry
    from gateway.model import Event
    from gateway.numbers import Numbering
    from gateway.state import Counters

__all__ = ["Hit", "Plugin", "PluginEnv", "PluginError", "Symbol", "load_plugins"]

log = structlog.get_logger("spamgw.plugins")

Hit = str | tuple[str, float]


class PluginError(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class Symbol:
    name: str
    score: float
    description: str = ""


@runtime_checkable
class Plugin(Protocol):
    name: str
    symbols: tuple[Symbol, ...]
    channels: frozenset[str]

    def check(self, event: Event) -> Iterable[Hit]: ...


@dataclass(slots=True)
class PluginEnv:
    """What a plugin may use: the lists, the counters, the normaliser, its options."""

    lists: ListRegistry
    state: Counters
    numbering: Numbering
    options: Mapping[str, Any] = field(default_factory=dict)


Factory = Callable[[PluginEnv], Plugin]


def _module_factories(directory: Path) -> dict[str, Factory]:
    found: dict[str, Factory] = {}
    if not directory.is_dir():
        return found
    for path in sorted(directory.glob("*.py")):
        if path.name.startswith("_"):
            continue
        modname = f"spamgw_plugin_{path.stem}"
        spec = importlib.util.spec_from_file_location(modname, path)
        if spec is None or spec.loader is None:
            raise PluginError(f"{path}: cannot load")
        module = importlib.util.module_from_spec(spec)
        sys.modules[modname] = module
        try:
            spec.loader.exec_module(module)
        except Exception as e:
            raise PluginError(f"{path}: {type(e).__name__}: {e}") from e
        create = getattr(module, "create", None)
        if not callable(create):
            raise PluginError(f"{path}: a plugin module defines create(env) -> Plugin")
        found[path.stem] = create
    return found


def _entry_point_factories() -> dict[str, Factory]:
    found: dict[str, Factory] = {}
    for ep in entry_points(group="spamgw.plugins"):
        try:
            found[ep.name] = ep.load()
        except Exception as e:
            raise PluginError(f"entry point {ep.name}: {type(e).__name__}: {e}") from e
    return found


def load_plugins(config: PluginsConfig, *, lists: ListRegistry, state: Counters,
                 numbering: Numbering) -> tuple[Plugin, ...]:
    factories = _module_factories(Path(config.dir))
    factories.update(_entry_point_factories())
    unknown = (set(config.enabled) | set(config.options)) - set(factories)
    if unknown:
        raise PluginError(f"plugins: unknown plugin(s): {', '.join(sorted(unknown))}")
    plugins: list[Plugin] = []
    for name, factory in sorted(factories.items()):
        if (config.enabled and name not in config.enabled) or name in config.disabled:
            continue
        env = PluginEnv(lists, state, numbering, config.options.get(name, {}))
        try:
            plugin = factory(env)
        except Exception as e:
            raise PluginError(f"plugin {name}: {type(e).__name__}: {e}") from e
        if not isinstance(plugin, Plugin):
            raise PluginError(f"plugin {name}: create() must return a Plugin")
        plugins.append(plugin)
        log.debug("plugin loaded", plugin=plugin.name, symbols=[s.name for s in plugin.symbols])
    return tuple(plugins)
