"""List files: one entry a line, ``#`` comments, errors as ``file:line: reason``.

Number lists (``*_numbers.txt``, ``*_callers.txt``, ``*_destinations.txt``)::

    +447700900123        # exact E.164 number
    +4477009001*         # prefix: every number starting with these digits
    +4490*{12}           # prefix limited to 12-digit numbers
    7726                 # short code (no '+')

String lists: ``*_senders.txt`` (alphanumeric sender IDs, matched case-insensitively)
and ``*_domains.txt`` (a domain matches itself and its subdomains).

A number list's compact form ``NAME.nset`` (``spamgw lists compile``) is loaded
instead of the text when it is at least as new, and alone when there is no text
(then it is the list: the start-up log says so).
"""

from __future__ import annotations

import mmap
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import structlog

from gateway.lists.numberset import NumberSet, Prefix
from gateway.lists.stringset import StringSet
from gateway.numbers import MAX_DIGITS, key_of

__all__ = [
    "ListFileError",
    "compile_list",
    "entry_lines",
    "list_kind",
    "parse_number_entry",
    "parse_string_entry",
    "read_number_list",
    "read_string_list",
    "write_atomic",
]

log = structlog.get_logger("spamgw.lists")

#: bytes written between two fdatasync calls when a file is written piece by piece
SYNC_EVERY = 64 << 20

NUMBER_SUFFIXES = ("_numbers", "_callers", "_destinations")
STRING_SUFFIXES = {"_senders": "sender", "_domains": "domain"}

_PREFIX_RE = re.compile(r"^(\+?)(\d*)\*(?:\{(\d+(?:,\d+)*)\})?$", re.ASCII)
_DOMAIN_RE = re.compile(r"^(?=.{1,253}$)(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?\.)*"
                        r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


class ListFileError(ValueError):
    """One or more bad lines; ``errors`` holds ``file:line: reason`` strings."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


@dataclass(frozen=True, slots=True)
class NumberEntry:
    key: int | None  # exact entry
    prefix: Prefix | None  # prefix entry


def list_kind(name: str) -> str | None:
    """``numbers``, ``sender``, ``domain`` or None for a list's file stem."""
    if name.endswith(NUMBER_SUFFIXES) or name == "premium_rate":
        return "numbers"
    for suffix, kind in STRING_SUFFIXES.items():
        if name.endswith(suffix):
            return kind
    return None


def parse_number_entry(text: str) -> NumberEntry:
    """One entry as written; raises ``ValueError`` with a reason."""
    s = text.strip().replace(" ", "")
    m = _PREFIX_RE.match(s)
    if m:
        plus, digits, lengths = m.groups()
        if not digits:
            raise ValueError(f"prefix {text!r} has no digits")
        lens = tuple(int(x) for x in lengths.split(",")) if lengths else ()
        if any(not len(digits) <= n <= MAX_DIGITS for n in lens):
            raise ValueError(f"prefix {text!r}: lengths must be {len(digits)}..{MAX_DIGITS}")
        if len(digits) > MAX_DIGITS:
            raise ValueError(f"prefix {text!r} is longer than {MAX_DIGITS} digits")
        return NumberEntry(None, Prefix(digits, short=not plus, lengths=lens))
    if s.startswith("+"):
        digits = s[1:]
        if not (digits.isascii() and digits.isdigit()):
            raise ValueError(f"{text!r} is not a number: write +E.164 digits")
        if not 3 <= len(digits) <= MAX_DIGITS:
            raise ValueError(f"{text!r}: an E.164 number has 3 to {MAX_DIGITS} digits")
        if digits[0] == "0":
            raise ValueError(f"{text!r}: no country code starts with 0")
        return NumberEntry(key_of(digits), None)
    if s.isascii() and s.isdigit():
        if len(s) > 8:
            raise ValueError(
                f"{text!r}: write international numbers as +E.164 (e.g. +447700900123); "
                "entries without '+' are short codes of up to 8 digits"
            )
        return NumberEntry(key_of(s, short=True), None)
    raise ValueError(f"{text!r} is not a number entry: expected +E.164, +prefix* or a short code")


def entry_lines(path: Path) -> Iterator[tuple[int, str]]:
    """``(line number, entry)`` for each line of a list file with something left once
    its ``#`` comment and surrounding white space are gone (UTF-8, strict)."""
    with path.open("r", encoding="utf-8", errors="strict") as f:
        for lineno, line in enumerate(f, 1):
            entry = line.split("#", 1)[0].strip()
            if entry:
                yield lineno, entry


def read_number_list(path: Path, name: str | None = None) -> NumberSet:
    """Parse a number list file in bounded memory (``gateway.lists.compiler``); all
    bad lines are reported together."""
    from gateway.lists.compiler import compile_file

    return compile_file(path, name)


def parse_string_entry(kind: str, entry: str) -> str:
    """A sender ID or domain entry as stored (casefolded, IDNA); raises ``ValueError``."""
    value = entry.strip().casefold()
    if not value:
        raise ValueError("empty entry")
    if kind == "domain":
        value = value.rstrip(".")
        if value.startswith("*."):
            value = value[2:]
        try:
            value = value.encode("idna").decode("ascii")
        except UnicodeError:
            raise ValueError(f"{entry!r} is not a valid domain") from None
        if not _DOMAIN_RE.match(value):
            raise ValueError(f"{entry!r} is not a valid domain")
    elif len(value) > 64:
        raise ValueError(f"sender ID {entry!r} is longer than 64 characters")
    elif "#" in value:
        raise ValueError(f"sender ID {entry!r} contains '#' (the comment sign)")
    return value


def read_string_list(path: Path, kind: str, name: str | None = None) -> StringSet:
    errors: list[str] = []
    entries: list[str] = []
    try:
        for lineno, entry in entry_lines(path):
            try:
                entries.append(parse_string_entry(kind, entry))
            except ValueError as e:
                errors.append(f"{path}:{lineno}: {e}")
    except UnicodeDecodeError as e:
        errors.append(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})")
    if errors:
        raise ListFileError(errors)
    return StringSet(name or path.stem, kind, entries)


def compiled_path(path: Path) -> Path:
    return path.with_suffix(".nset")


def compiled_is_current(path: Path) -> bool:
    """Whether ``NAME.nset`` is what to load for ``NAME.txt``: it exists and the text
    is absent or not newer."""
    comp = compiled_path(path)
    try:
        cst = comp.stat()
    except OSError:
        return False
    try:
        return cst.st_mtime >= path.stat().st_mtime
    except FileNotFoundError:
        return True


def load_number_list(path: Path) -> NumberSet:
    """The list from its compiled form when that is current (``compiled_is_current``:
    with no text beside it, the compiled file is the list), else from the text; a
    compiled form older than the text is written again, so the next start is quick."""
    if compiled_is_current(path):
        comp = compiled_path(path)
        try:
            with comp.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
                return NumberSet.deserialize(m, path.stem)
        except (OSError, ValueError) as e:
            if not path.exists():
                raise ListFileError([f"{comp}: {e}"]) from None
            log.warning("compiled list unreadable: parsing the text", file=str(comp),
                        error=str(e))
    elif compiled_path(path).exists():  # a compiled list is kept current
        log.info("list text newer than its compiled form: compiling it", file=str(path))
        try:
            return compile_list(path)[1]
        except OSError as e:
            log.warning("compiled form not written", file=str(path), error=str(e))
    return read_number_list(path)


def write_atomic(path: Path, data: bytes | Iterable[bytes]) -> None:
    """Write, fsync, rename: a reader sees the old file or the new one, never half."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with tmp.open("wb") as f:
        if isinstance(data, bytes):
            f.write(data)
        else:
            pending = 0
            for chunk in data:
                f.write(chunk)
                pending += len(chunk)
                if pending >= SYNC_EVERY:  # a big list's rewrite never piles up
                    f.flush()  # gigabytes of dirty pages that throttle other writers
                    os.fdatasync(f.fileno())
                    pending = 0
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    dfd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def compile_list(path: Path) -> tuple[Path, NumberSet]:
    """``NAME.txt`` -> ``NAME.nset`` (streaming: bounded memory, written part by part)."""
    mtime = path.stat().st_mtime_ns
    ns = read_number_list(path)
    out = compiled_path(path)
    write_atomic(out, ns.serialize_parts())
    if out.stat().st_mtime_ns < mtime:  # a text stamped ahead of this clock
        os.utime(out, ns=(mtime, mtime))
    return out, ns
