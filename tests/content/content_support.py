"""Helpers for the content tests: load a shipped plugin module, build SMS events,
call a plugin as the engine does."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

from gateway.content.facts import Facts
from gateway.content.plugin import Hit
from gateway.model import Channel, Direction, Event
from gateway.numbers import Numbering
from gateway.testing.policy import plugin_module

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"


def load_plugin_module(name: str) -> ModuleType:
    return plugin_module(ROOT / "plugins" / f"{name}.py", f"test_plugin_{name}")


def sms(numbering: Numbering, text: str | None, src: str = "+447700900500",
        dst: str = "+447700900123", ts: float = 1_790_000_000.0) -> Event:
    source = numbering.parse(src) if src[:1] in "+0123456789" else numbering.alphanumeric(src)
    return Event(Channel.SMS, Direction.IN, source, numbering.parse(dst), text=text, ts=ts)


def rule_engine(directory: Path, rules_toml: str, lists: Any, numbering: Numbering) -> Any:
    """An ``Engine`` over one rule file written to ``directory``, no plugins, counters in
    memory."""
    import textwrap

    from gateway.engine import Engine
    from gateway.engine.loader import load_ruleset
    from gateway.state.memory import MemoryCounters

    (directory / "r.toml").write_text(textwrap.dedent(rules_toml), encoding="utf-8")
    rs = load_ruleset(directory, lists=lists, state=MemoryCounters(), plugins=())
    return Engine(rs, emergency=lists.emergency, numbering=numbering)


def check(plugin: Any, event: Event) -> tuple[Hit, ...]:
    """``plugin.check(event, facts)`` with fresh ``Facts``, as the engine calls it."""
    return tuple(plugin.check(event, Facts(event)))
