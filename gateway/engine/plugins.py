"""Plugin loading: modules in ``[plugins] dir`` and the ``spamgw.plugins`` entry points.

What a plugin is (``Plugin``, ``Symbol``, ``Hit``, ``PluginEnv``) lives on the
content floor, ``gateway.content.plugin``; the names are re-exported here so older
imports keep working. Every plugin is called as ``check(event, facts)``; one whose
``check`` takes the event alone is wrapped (``gateway.content.plugin.adapt``).

Plugins come from Python modules in ``[plugins] dir`` (each exposing
``create(env) -> Plugin``) and from the ``spamgw.plugins`` entry-point group
(an entry point naming such a ``create``).
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING

import structlog

from gateway.content.plugin import Hit, Plugin, PluginEnv, Symbol, adapt

if TYPE_CHECKING:
    from gateway.config import PluginsConfig
    from gateway.lists.registry import ListRegistry
    from gateway.numbers import Numbering
    from gateway.state import Counters

__all__ = ["Hit", "Plugin", "PluginEnv", "PluginError", "Symbol", "adapt", "load_plugins"]

log = structlog.get_logger("spamgw.plugins")


class PluginError(RuntimeError):
    pass


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
        plugins.append(adapt(plugin))
        log.debug("plugin loaded", plugin=plugin.name, symbols=[s.name for s in plugin.symbols])
    return tuple(plugins)
