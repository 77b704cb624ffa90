"""Scores live in one place: the shipped rules' ``[symbols]`` tables. Every shipped
plugin's default score for a symbol equals that table's, and every symbol a plugin
declares is in it (a plugin default that drifts, as campaign.bulk once did at 5.0
against 1.0, fails here)."""

from __future__ import annotations

import pytest
from content_support import ROOT, load_plugin_module

from gateway.content.plugin import PluginEnv
from gateway.engine.loader import parse_rules_dir

PLUGINS = sorted(p.stem for p in (ROOT / "plugins").glob("*.py") if not p.stem.startswith("_"))


def shipped_symbols() -> dict[str, float]:
    files, errors, _ = parse_rules_dir(ROOT / "rules")
    assert not errors
    table: dict[str, float] = {}
    for rf in files:
        for name, score in rf.symbols.items():
            assert name not in table, f"{name} is scored in two [symbols] tables"
            table[name] = float(score)
    return table


@pytest.mark.parametrize("name", PLUGINS)
def test_plugin_defaults_equal_the_shipped_symbols(name: str, env: PluginEnv) -> None:
    plugin = load_plugin_module(name).create(env)
    table = shipped_symbols()
    for sym in plugin.symbols:
        assert sym.name in table, f"{sym.name} ({name}) has no score in rules/ [symbols]"
        assert sym.score == table[sym.name], (
            f"{sym.name}: plugins/{name}.py says {sym.score}, rules/ [symbols] says "
            f"{table[sym.name]}")


def test_every_shipped_symbol_belongs_to_a_plugin(env: PluginEnv) -> None:
    declared = {s.name for n in PLUGINS for s in load_plugin_module(n).create(env).symbols}
    assert set(shipped_symbols()) <= declared
