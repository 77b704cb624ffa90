"""Gateway configs written from dicts: ``write_config(path, smpp={...}, agi={...})``.

A section is a dict; a dict inside it is a sub-table (``smpp={"upstream": {...}}``
writes ``[smpp.upstream]``). Values: str, bool, int, float, lists of them, and
``pathlib.Path`` (written as a string). What it writes is read back by ``tomllib``
as the same dicts.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["dumps", "write_config"]

_BARE = re.compile(r"[A-Za-z0-9_-]+")


def _key(key: str) -> str:
    return key if _BARE.fullmatch(key) else json.dumps(key)


def _value(value: Any, where: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return ("-inf" if value < 0 else "inf") if math.isinf(value) else "nan"
        return repr(value)
    if isinstance(value, Path):
        value = str(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a TOML basic string
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v, f"{where}[{i}]") for i, v in enumerate(value)) + "]"
    raise TypeError(f"{where}: cannot write {type(value).__name__} as TOML")


def _table(name: str, table: Mapping[str, Any], out: list[str]) -> None:
    out.append(f"[{name}]")
    subs: list[tuple[str, Mapping[str, Any]]] = []
    for key, value in table.items():
        if isinstance(value, Mapping):
            subs.append((f"{name}.{_key(key)}", value))
        else:
            out.append(f"{_key(key)} = {_value(value, f'{name}.{key}')}")
    for sub_name, sub in subs:
        _table(sub_name, sub, out)


def dumps(sections: Mapping[str, Mapping[str, Any]]) -> str:
    """The TOML text of ``sections`` (each a table, in the order given)."""
    out: list[str] = []
    for name, table in sections.items():
        if not isinstance(table, Mapping):
            raise TypeError(f"{name}: a section is a dict, not {type(table).__name__}")
        _table(_key(name), table, out)
    return "\n".join(out) + "\n"


def write_config(path: Path, **sections: Mapping[str, Any]) -> Path:
    """Write ``sections`` as a gateway config at ``path`` (its folder made if need be);
    returns ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dumps(sections))
    return path
