"""The sender-ID registry: brand and bank sender IDs bound to the routes that may send them.

``registered_senders.txt`` in the lists dir, one sender a line, ``#`` comments::

    # SENDERID     ROUTES                  [COUNTRIES]
    ExampleBank    bank-direct,agg-uk      GB,IE
    ParcelNow      agg-uk
    +447700900500  otp-hub-*               GB

A sender ID is alphanumeric (matched case-insensitively, as sender-ID lists are) or a
number (``+E.164`` or a short code). Routes are SMPP bind system_ids (``Event.route``),
comma-separated, ``*`` and ``?`` globs allowed. Countries are ISO 3166 codes of the
destinations the sender is registered for; none (or ``*``) means any. A bad line is
reported as ``file:line: reason``, every bad line of the file together.

``status(sender, route, region)`` answers one of:

- ``REGISTERED``: the sender on one of its routes, to one of its countries (trusted
  for volume);
- ``SPOOFED``: a registered sender ID on a route not registered for it;
- ``OUT_OF_SCOPE``: on its own route, to a destination country it is not registered for;
- ``UNREGISTERED``: a sender the registry does not name.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path

import phonenumbers

from gateway.lists.files import ListFileError, entry_lines
from gateway.model import Event

__all__ = ["SenderRegistry", "SenderStatus", "is_registry_name", "read_sender_registry"]

#: ISO 3166 codes libphonenumber knows (what ``Number.region`` can be)
_REGIONS = frozenset(phonenumbers.SUPPORTED_REGIONS)
_SENDER_RE = re.compile(r"^(?:\+?\d{1,15}|[^\s#,]{1,64})$")
_ROUTE_RE = re.compile(r"^[A-Za-z0-9_.:@*?-]{1,64}$")


class SenderStatus(IntEnum):
    UNREGISTERED = 0
    REGISTERED = 1
    SPOOFED = 2
    OUT_OF_SCOPE = 3


def is_registry_name(name: str) -> bool:
    """Whether a list file of this name (stem) is a sender registry."""
    return name.startswith("registered_") and name.endswith("_senders")


@dataclass(frozen=True, slots=True)
class Registration:
    routes: frozenset[str]
    #: the route globs as one regex, or None when every route is written out
    route_rx: re.Pattern[str] | None
    #: destination countries, empty for any
    countries: frozenset[str]

    def on_route(self, route: str) -> bool:
        if route in self.routes:
            return True
        return self.route_rx is not None and self.route_rx.match(route) is not None


class SenderRegistry:
    """An immutable snapshot: a reload reads the file into a new one."""

    def __init__(self, name: str, entries: dict[str, Registration]) -> None:
        self.name = name
        self._entries = entries
        #: (event, its status): several rules ask about the same event in a row; one
        #: attribute, so a reader never pairs one event with another's status
        self._memo: tuple[object, SenderStatus] = (None, SenderStatus.UNREGISTERED)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, sender: str) -> bool:
        return sender in self._entries

    def get(self, sender: str) -> Registration | None:
        return self._entries.get(sender)

    def registered(self, sender: str, route: str, region: str) -> bool:
        """Whether the sender is on one of its routes, to one of its countries."""
        return self.status(sender, route, region) is SenderStatus.REGISTERED

    def status_of(self, ev: Event) -> SenderStatus:
        """``status`` of an event's source, route and destination country, remembered
        for the event the rules are judging."""
        memo = self._memo
        if memo[0] is ev:
            return memo[1]
        st = self.status(ev.src.text, ev.route, ev.dst.region)
        self._memo = (ev, st)
        return st

    def status(self, sender: str, route: str, region: str) -> SenderStatus:
        """``sender`` as ``Number.text`` has it: casefolded sender ID or bare digits."""
        reg = self._entries.get(sender)
        if reg is None:
            return SenderStatus.UNREGISTERED
        if not reg.on_route(route):
            return SenderStatus.SPOOFED
        if reg.countries and region not in reg.countries:
            return SenderStatus.OUT_OF_SCOPE
        return SenderStatus.REGISTERED


def _sender_key(sender: str) -> str:
    """What ``Number.text`` holds for this sender: digits without ``+``, or the
    casefolded sender ID."""
    s = sender.strip()
    if s.startswith("+") or s.isdigit():
        return s.lstrip("+")
    return s.casefold()


def _parse_line(entry: str) -> tuple[str, Registration]:
    parts = entry.split()
    if len(parts) not in (2, 3):
        raise ValueError("expected SENDERID ROUTES [COUNTRIES]")
    sender, routes_s = parts[0], parts[1]
    if not _SENDER_RE.match(sender) or (sender.startswith("+") and not sender[1:].isdigit()):
        raise ValueError(f"bad sender ID {sender!r}")
    routes = [r for r in routes_s.split(",") if r]
    bad = [r for r in routes if not _ROUTE_RE.match(r)]
    if not routes or bad:
        raise ValueError(f"bad route {bad[0] if bad else routes_s!r}: "
                         "system_ids (globs allowed), comma-separated")
    countries: set[str] = set()
    if len(parts) == 3 and parts[2] != "*":
        for c in parts[2].split(","):
            code = c.strip().upper()
            if code not in _REGIONS:
                raise ValueError(f"unknown country {c!r}: ISO 3166 codes, comma-separated")
            countries.add(code)
    exact = frozenset(r for r in routes if not any(ch in r for ch in "*?"))
    globs = [r for r in routes if r not in exact]
    rx = re.compile("|".join(fnmatch.translate(g) for g in globs)) if globs else None
    return _sender_key(sender), Registration(exact, rx, frozenset(countries))


def read_sender_registry(path: Path, name: str | None = None) -> SenderRegistry:
    """Parse a registry file; raises ``ListFileError`` with every bad line."""
    errors: list[str] = []
    entries: dict[str, Registration] = {}
    seen: dict[str, int] = {}
    try:
        for lineno, entry in entry_lines(path):
            try:
                key, reg = _parse_line(entry)
            except ValueError as e:
                errors.append(f"{path}:{lineno}: {e}")
                continue
            if key in seen:
                errors.append(f"{path}:{lineno}: sender {entry.split()[0]!r} already "
                              f"registered on line {seen[key]}")
                continue
            seen[key] = lineno
            entries[key] = reg
    except UnicodeDecodeError as e:
        errors.append(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})")
    if errors:
        raise ListFileError(errors)
    return SenderRegistry(name or path.stem, entries)
