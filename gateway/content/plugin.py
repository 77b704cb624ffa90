"""What a plugin is, and what it may use: the floor plugins import, with ``Facts``.

A plugin is an object with a ``name``, the ``symbols`` it may emit with default
scores, the ``channels`` it looks at, and ``check(event, facts)`` returning the
symbols that hit (a name, or ``(name, weight)`` with weight in 0..1 scaling the
score). The engine calls it like any other check, on the event, with no
serialisation, and always passes the event's ``Facts`` (``gateway.content.facts``:
what is computed once per event and shared, such as the scanned links and numbers,
the folded text, its template, and the ``campaign`` slot).

A symbol's default score is the one the shipped rules' ``[symbols]`` tables give it
(they are the source; a test holds the two equal); an operator's rule file may
change it.

Plugins import ``gateway.content.*`` and ``gateway.model`` only; the types of what
``PluginEnv`` carries are re-exported here for their annotations.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from gateway.lists.numberset import NumberSet
from gateway.lists.registry import ListRegistry
from gateway.lists.stringset import StringSet
from gateway.numbers import Number, Numbering, NumberKind
from gateway.state import Counters

if TYPE_CHECKING:
    from gateway.content.facts import Facts
    from gateway.model import Event

__all__ = ["Counters", "Hit", "ListRegistry", "Number", "NumberKind", "NumberSet", "Numbering",
           "Plugin", "PluginEnv", "StringSet", "Symbol", "adapt"]

Hit = str | tuple[str, float]


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

    def check(self, event: Event, facts: Facts) -> Iterable[Hit]: ...


@dataclass(slots=True)
class PluginEnv:
    """What a plugin may use: the lists, the counters, the normaliser, its options."""

    lists: ListRegistry
    state: Counters
    numbering: Numbering
    options: Mapping[str, Any] = field(default_factory=dict)


class _OneArgument:
    """A plugin written for the old ``check(event)``, called as ``check(event, facts)``."""

    __slots__ = ("_check", "channels", "name", "plugin", "symbols")

    def __init__(self, plugin: Any) -> None:
        self.plugin = plugin
        self.name = plugin.name
        self.symbols = plugin.symbols
        self.channels = plugin.channels
        self._check = plugin.check

    def check(self, event: Event, facts: Facts) -> Iterable[Hit]:
        return self._check(event)


def adapt(plugin: Any) -> Plugin:
    """``plugin`` itself, or, if its ``check`` takes the event alone (the old
    signature, deprecated), a wrapper that drops the facts."""
    try:
        signature = inspect.signature(plugin.check).parameters.values()
    except (TypeError, ValueError):
        return plugin
    params = [p for p in signature if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    var = any(p.kind is p.VAR_POSITIONAL for p in signature)
    if len(params) >= 2 or var:
        return plugin
    warnings.warn(f"plugin {getattr(plugin, 'name', plugin)!r}: check(event) is deprecated, "
                  "define check(event, facts)", DeprecationWarning, stacklevel=2)
    return _OneArgument(plugin)
