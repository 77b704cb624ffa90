"""String sets: alphanumeric sender IDs and URL domains."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

__all__ = ["StringSet"]


class StringSet:
    """Casefolded strings. ``kind == "domain"`` also matches subdomains:
    ``evil.example`` listed matches ``login.evil.example``. ``version`` changes with
    every edit, so what is derived from the set can tell it is stale."""

    __slots__ = ("_items", "kind", "name", "version")

    def __init__(self, name: str, kind: str, items: Iterable[str] = ()) -> None:
        self.name = name
        self.kind = kind
        self._items: set[str] = {i.casefold() for i in items}
        self.version = 0

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
        if value in self._items:
            return False
        self._items.add(value)
        self.version += 1
        return True

    def discard(self, value: str) -> bool:
        value = value.casefold()
        if value in self._items:
            self._items.discard(value)
            self.version += 1
            return True
        return False

    def adopt(self, other: StringSet) -> None:
        """Take ``other``'s entries by reference (a reload); counts as an edit."""
        self._items = other._items
        self.version += 1

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._items))
