"""String sets: alphanumeric sender IDs and URL domains."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

__all__ = ["StringSet"]


class StringSet:
    """Casefolded strings. ``kind == "domain"`` also matches subdomains:
    ``evil.example`` listed matches ``login.evil.example``."""

    __slots__ = ("_items", "kind", "name")

    def __init__(self, name: str, kind: str, items: Iterable[str] = ()) -> None:
        self.name = name
        self.kind = kind
        self._items: set[str] = {i.casefold() for i in items}

    def contains(self, value: str) -> bool:
        if value in self._items:
            return True
        if self.kind == "domain":
            dot = value.find(".")
            while dot != -1:
                value = value[dot + 1 :]
                if value in self._items:
                    return True
                dot = value.find(".")
        return False

    __contains__ = contains

    def match(self, value: str) -> str | None:
        value = value.casefold()
        if value in self._items:
            return value
        if self.kind == "domain":
            parts = value.split(".")
            for i in range(1, len(parts)):
                parent = ".".join(parts[i:])
                if parent in self._items:
                    return parent
        return None

    def add(self, value: str) -> bool:
        value = value.casefold()
        new = value not in self._items
        self._items.add(value)
        return new

    def discard(self, value: str) -> bool:
        value = value.casefold()
        if value in self._items:
            self._items.discard(value)
            return True
        return False

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._items))
