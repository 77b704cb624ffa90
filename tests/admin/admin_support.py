"""Test support: a private copy of the shipped rules and lists, a config pointing at it,
and the real admin app served on a loopback socket (aiohttp TestServer)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.config import Config, parse_config

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "test-token-0123"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@dataclass
class Site:
    dir: Path
    rules: Path
    lists: Path

    def config(self, **sections: Any) -> Config:
        data: dict[str, Any] = {
            "admin": {"token": TOKEN, "listen": "127.0.0.1:0"},
            "smpp": {"enabled": False},
            "agi": {"enabled": False},
            "rules": {"dir": str(self.rules)},
            "lists": {"dir": str(self.lists)},
            "plugins": {"dir": str(self.dir / "no-plugins"), "missing_symbols": "disable"},
            "quarantine": {"path": str(self.dir / "quarantine.sqlite3")},
            "log": {"level": "error", "audit": str(self.dir / "audit.jsonl")},
        }
        for k, v in sections.items():
            data.setdefault(k, {}).update(v)
        return parse_config(data)


def new_site(tmp_path: Path) -> Site:
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules)
    return Site(tmp_path, rules, rules / "lists")
