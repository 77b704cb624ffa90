"""Compile a number list file into its ``NAME.nset`` form in bounded memory.

The text is read in blocks; a block of plain ``+E.164`` lines (the bulk of a big
list) is checked by one regular expression and turned into keys by one list
comprehension; any other block goes line by line through ``parse_number_entry``, so
a bad line is reported as ``file:line: reason``. Keys are gathered in chunks of
``CHUNK_KEYS``, each chunk is sorted and merged into the set's bitmap, and the chunk
is dropped: memory is the compiled bitmap (1.25 bytes a number for a national list)
plus one chunk, whatever the length of the file. The compiled form is written part
by part (``NumberSet.serialize_parts``).

``python -m gateway.lists.worker`` runs this in a child process for the gateway's
reloads and compactions, so the parse never holds the gateway's GIL.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from pyroaring import BitMap64

from gateway.lists.numberset import NumberSet
from gateway.numbers import LEN_SHIFT

__all__ = ["BLOCK_BYTES", "CHUNK_KEYS", "MAX_ERRORS", "compile_entries", "compile_file"]

#: bytes read at a time (cut at the last newline)
BLOCK_BYTES = 4 << 20
#: exact keys gathered before they are sorted and merged into the bitmap
CHUNK_KEYS = 1 << 20
#: bad lines reported at most (the count of the rest is given)
MAX_ERRORS = 1000

# a block where every line is a plain +E.164 number (3 to 15 digits, no leading 0)
_PLAIN = re.compile(rb"(?:[ \t]*\+[1-9][0-9]{2,14}[ \t\r]*\n)*")


def _blocks(path: Path) -> Iterator[tuple[int, bytes]]:
    """``(number of the block's first line, block)``; each block ends with a newline."""
    lineno = 1
    tail = b""
    with path.open("rb") as f:
        while True:
            data = f.read(BLOCK_BYTES)
            if not data:
                break
            data = tail + data
            cut = data.rfind(b"\n") + 1
            block, tail = data[:cut], data[cut:]
            if block:
                yield lineno, block
                lineno += block.count(b"\n")
    if tail:
        yield lineno, tail + b"\n"


def compile_entries(path: Path, ns: NumberSet, errors: list[str]) -> int:
    """Add every entry of the list file at ``path`` to ``ns``; bad lines go to
    ``errors`` (at most ``MAX_ERRORS``, then a count). Returns the bad-line count."""
    from gateway.lists.files import parse_number_entry

    keys: list[int] = []
    bad = 0
    shift = LEN_SHIFT

    def merge() -> None:
        keys.sort()
        ns.add_keys(BitMap64(keys))
        keys.clear()

    for first, block in _blocks(path):
        if _PLAIN.fullmatch(block):
            keys.extend([((len(t) - 1) << shift) | int(t) for t in block.split()])
        else:
            for i, raw in enumerate(block.split(b"\n")[:-1]):
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as e:
                    bad += 1
                    if len(errors) < MAX_ERRORS:
                        errors.append(f"{path}:{first + i}: not UTF-8 text "
                                      f"({e.reason} at byte {e.start})")
                    continue
                entry = line.split("#", 1)[0].strip()
                if not entry:
                    continue
                try:
                    parsed = parse_number_entry(entry)
                except ValueError as e:
                    bad += 1
                    if len(errors) < MAX_ERRORS:
                        errors.append(f"{path}:{first + i}: {e}")
                    continue
                if parsed.key is not None:
                    keys.append(parsed.key)
                elif parsed.prefix is not None:
                    ns.add_prefix(parsed.prefix)
        if len(keys) >= CHUNK_KEYS:
            merge()
    if keys:
        merge()
    if bad > len(errors):
        errors.append(f"{path}: {bad - len(errors)} more bad lines")
    return bad


def compile_file(path: Path, name: str | None = None) -> NumberSet:
    """The number list at ``path``; raises ``ListFileError`` naming every bad line."""
    from gateway.lists.files import ListFileError

    ns = NumberSet(name or path.stem)
    errors: list[str] = []
    if compile_entries(path, ns, errors):
        raise ListFileError(errors)
    return ns
