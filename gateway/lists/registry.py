"""The named lists the engine sees: list files from ``[lists] dir`` plus the built-in
``premium_rate`` and ``emergency`` sets.

A reload builds a whole new ``ListRegistry`` off the event loop and swaps it in;
live edits through the admin API change a list in place on the event loop (one
thread, so a lookup never sees half an edit).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import structlog

from gateway.lists.files import (
    ListFileError,
    compiled_path,
    list_kind,
    load_number_list,
    read_string_list,
)
from gateway.lists.numberset import NumberSet
from gateway.lists.premium import load_premium_rate
from gateway.lists.rates import RateTable, read_rates
from gateway.lists.senders import SenderRegistry, is_registry_name, read_sender_registry
from gateway.lists.stringset import StringSet
from gateway.numbers import Numbering, key_of

__all__ = ["BUILTIN", "ListRegistry", "assemble", "emergency_set", "file_stamp", "list_files",
           "load_lists", "read_list_file"]

log = structlog.get_logger("spamgw.lists")

BUILTIN = ("premium_rate", "emergency")
#: the sender-ID registry the shipped rules test (registered_senders.txt)
SENDER_REGISTRY = "registered_senders"

#: emergency numbers protected everywhere, whatever the home country
UNIVERSAL_EMERGENCY = ("112", "911", "999", "000", "08", "110", "118", "119", "100", "101",
                       "102", "103", "15", "17", "18", "191", "192", "193", "197", "199")

AnyList = NumberSet | StringSet


class ListRegistry:
    def __init__(self, lists: dict[str, AnyList], source: str | None = None,
                 rates: RateTable | None = None,
                 registries: dict[str, SenderRegistry] | None = None) -> None:
        self._lists = lists
        self.source = source
        self.rates = rates  # rates.txt: prices for spend caps
        #: sender-ID registries (registered_*_senders.txt): sender -> routes, countries
        self.registries: dict[str, SenderRegistry] = registries or {}
        #: what each list was read from (``file_stamp``): a reload reads what changed
        self.stamps: dict[str, tuple[object, ...]] = {}

    def registry(self, name: str) -> SenderRegistry | None:
        return self.registries.get(name)

    @property
    def emergency(self) -> NumberSet:
        ns = self._lists["emergency"]
        assert isinstance(ns, NumberSet)
        return ns

    def get(self, name: str) -> AnyList | None:
        return self._lists.get(name)

    def numbers(self, name: str) -> NumberSet | None:
        lst = self._lists.get(name)
        return lst if isinstance(lst, NumberSet) else None

    def strings(self, name: str) -> StringSet | None:
        lst = self._lists.get(name)
        return lst if isinstance(lst, StringSet) else None

    def __contains__(self, name: str) -> bool:
        return name in self._lists

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._lists))

    def items(self) -> list[tuple[str, AnyList]]:
        return sorted(self._lists.items())

    def set(self, name: str, lst: AnyList) -> None:
        self._lists[name] = lst

    def replace(self, other: ListRegistry) -> None:
        """Take ``other``'s lists, rates and registries (a reload): reference swaps, so
        whoever holds this registry (plugins, the admin app) sees the new version."""
        self._lists = other._lists
        self.rates, self.registries, self.stamps = other.rates, other.registries, other.stamps


def emergency_set(numbering: Numbering, extra: tuple[str, ...] = ()) -> NumberSet:
    """Short emergency numbers of the home country (libphonenumber short-number
    metadata) and everywhere, plus their E.164 forms; ``extra`` adds protected numbers
    in list-entry syntax."""
    from phonenumbers import PhoneMetadata

    from gateway.lists.files import parse_number_entry
    from gateway.lists.premium import expand_pattern, sequences_to_prefixes

    ns = NumberSet("emergency")
    codes: set[str] = set(UNIVERSAL_EMERGENCY)
    md = PhoneMetadata.short_metadata_for_region(numbering.home_region)
    if md is not None and md.emergency is not None and md.emergency.national_number_pattern:
        seqs = expand_pattern(md.emergency.national_number_pattern, max_len=8)
        for prefix, length in sequences_to_prefixes(seqs, frozenset()):
            if len(prefix) == length:
                codes.add(prefix)
    for code in codes:
        ns.add_key(key_of(code, short=True))
        ns.add_key(key_of(str(numbering.home_cc) + code))
    for entry in extra:
        parsed = parse_number_entry(entry)
        if parsed.key is not None:
            ns.add_key(parsed.key)
        elif parsed.prefix is not None:
            ns.add_prefix(parsed.prefix)
    return ns


def file_stamp(path: Path) -> tuple[object, ...]:
    """What tells that a list file changed: its text's and compiled form's identity,
    size and modification time (None for a missing one)."""
    out: list[object] = []
    for f in (path, compiled_path(path)) if path.suffix == ".txt" else (path,):
        try:
            st = f.stat()
        except OSError:
            out.append(None)
        else:
            out.append((st.st_ino, st.st_size, st.st_mtime_ns))
    return tuple(out)


def list_files(d: Path) -> list[Path]:
    """Every list in a lists dir, as its text path (``NAME.txt``, present or not: a
    number list may be a compiled ``NAME.nset`` alone)."""
    names = {p.with_suffix(".txt") for p in d.glob("*.txt")}
    names |= {p.with_suffix(".txt") for p in d.glob("*.nset")}
    return sorted(names)


def read_list_file(path: Path, errors: list[str]) -> object:
    """One list file: a ``NumberSet``, ``StringSet``, ``RateTable`` or
    ``SenderRegistry``, or None with what is wrong added to ``errors``."""
    name = path.stem
    try:
        if name == "rates":
            return read_rates(path)
        if is_registry_name(name):
            return read_sender_registry(path)
        kind = list_kind(name)
        if name in BUILTIN:
            errors.append(f"{path}: '{name}' is a built-in list name")
            return None
        if kind is None:
            errors.append(
                f"{path}: unknown list kind: name number lists *_numbers.txt, "
                "*_callers.txt or *_destinations.txt, sender IDs *_senders.txt, "
                "domains *_domains.txt"
            )
            return None
        if kind == "numbers":
            if not path.exists():
                log.info("number list loaded from its compiled form alone: no text beside "
                         "it, the compiled file is the list", list=name,
                         file=str(compiled_path(path)))
            return load_number_list(path)
        return read_string_list(path, kind)
    except ListFileError as e:
        errors.extend(e.errors)
    except OSError as e:
        errors.append(f"{path}: {e.strerror}")
    return None


def load_lists(directory: str | Path, numbering: Numbering,
               protected: tuple[str, ...] = ()) -> ListRegistry:
    """Every list file in ``directory`` (missing directory: only the built-ins).

    Raises ``ListFileError`` with every bad line of every file."""
    lists: dict[str, AnyList] = {
        "premium_rate": load_premium_rate(),
        "emergency": emergency_set(numbering, protected),
    }
    d = Path(directory)
    errors: list[str] = []
    stamps: dict[str, tuple[object, ...]] = {}
    found: dict[str, object] = {}
    if d.is_dir():
        for path in list_files(d):
            stamps[path.stem] = file_stamp(path)
            found[path.stem] = read_list_file(path, errors)
    else:
        log.warning("lists directory missing: only built-in lists", dir=str(d))
    if errors:
        raise ListFileError(errors)
    registry = assemble(lists, found, str(d))
    registry.stamps = stamps
    return registry


def assemble(lists: dict[str, AnyList], found: dict[str, object], source: str
             ) -> ListRegistry:
    """A registry from the built-ins and what ``read_list_file`` returned by name."""
    rates: RateTable | None = None
    registries: dict[str, SenderRegistry] = {}
    for name, value in found.items():
        if isinstance(value, RateTable):
            rates = value
        elif isinstance(value, SenderRegistry):
            registries[name] = value
        elif isinstance(value, NumberSet | StringSet):
            lists[name] = value
    # the shipped rules name it: a lists dir without the file has an empty registry
    # (nothing registered, nothing trusted), not a broken ruleset
    registries.setdefault(SENDER_REGISTRY, SenderRegistry(SENDER_REGISTRY, {}))
    return ListRegistry(lists, source, rates, registries)
