"""Live list changes: validated, journaled on disk (fsync) before they count, replayed
at start, compacted into the list's files.

The rule that keeps the file the operator edits and the journal in agreement:

- ``NAME.txt`` is the operator's list; ``NAME.nset`` is its compiled form (loaded
  instead of the text when at least as new, ``gateway.lists.files``).
- ``NAME.journal`` (JSON lines, next to the text) holds the changes made through the
  admin API since the last compaction. At every start they are applied, in order, on
  top of what the files say: until compacted, the journal wins over the file.
- Compaction folds the permanent changes into the files: the text is rewritten
  (lines of removed entries dropped, comments and order kept, added entries appended
  under a comment), ``NAME.nset`` is compiled from that text, and the journal keeps
  only expiring entries that are still live. Each file is written, fsynced and
  renamed; a crash between the steps replays records the files already hold, and
  adding or removing twice changes nothing.
- Entries with a ``ttl`` never reach the text file; they expire in memory and a
  replay skips the expired ones.

Dynamic lists (named by rule files' ``dynamic_lists``; no text file) live as flags in
the counters backend: exact numbers and sender IDs with an expiry, journaled the same.

A record: ``{"seq": 7, "ts": 1.7e9, "op": "add"|"remove", "entries": [...],
"expires": 1.7e9 | null}``. A torn last line (a crash mid-append) is cut off on read.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Hashable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.lists.files import (
    compile_list,
    list_kind,
    parse_number_entry,
    parse_string_entry,
    write_atomic,
)
from gateway.lists.numberset import NumberSet, Prefix
from gateway.lists.registry import BUILTIN, ListRegistry
from gateway.lists.stringset import StringSet
from gateway.numbers import number_of_key
from gateway.state import Counters

__all__ = ["Entry", "Journal", "ListChanges", "parse_entry"]


@dataclass(frozen=True, slots=True)
class Entry:
    """One validated list entry. ``text`` is its canonical written form."""

    text: str
    key: int | None = None
    prefix: Prefix | None = None
    string: str | None = None

    @property
    def ident(self) -> Hashable:
        """What the set (or the counters' flag) is keyed by."""
        if self.key is not None:
            return self.key
        if self.prefix is not None:
            return self.prefix
        return self.string


def parse_entry(kind: str, text: Any) -> Entry:
    """``kind``: numbers | sender | domain | dynamic. Raises ``ValueError`` with a reason."""
    if not isinstance(text, str):
        raise ValueError(f"{text!r} is not a string")
    s = text.split("#", 1)[0].strip() if kind != "dynamic" else text.strip()
    if not s:
        raise ValueError(f"{text!r} is empty")
    if kind == "numbers" or (kind == "dynamic" and s.lstrip("+").replace(" ", "").isdigit()):
        e = parse_number_entry(s)
        if e.key is not None:
            return Entry(number_of_key(e.key), key=e.key)
        assert e.prefix is not None
        if kind == "dynamic":
            raise ValueError(f"{text!r}: a dynamic list takes exact numbers, not prefixes")
        return Entry(e.prefix.entry(), prefix=e.prefix)
    value = parse_string_entry("sender" if kind == "dynamic" else kind, s)
    return Entry(value, string=value)


class Journal:
    """One list's append-only change file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.seq = 0
        self.records = 0
        self.entries = 0

    def read(self) -> list[dict[str, Any]]:
        """Every whole record; a torn tail is cut off so later appends stay readable."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return []
        records: list[dict[str, Any]] = []
        good = 0
        for line in data.splitlines(keepends=True):
            if not line.endswith(b"\n"):
                break
            try:
                rec = json.loads(line)
            except ValueError:
                break
            records.append(rec)
            good += len(line)
        if good < len(data):
            with self.path.open("r+b") as f:
                f.truncate(good)
                os.fsync(f.fileno())
        self.records = len(records)
        self.entries = sum(len(r["entries"]) for r in records)
        self.seq = max((int(r["seq"]) for r in records), default=self.seq)
        return records

    def append(self, records: list[dict[str, Any]]) -> None:
        """Write and fsync (call it off the event loop)."""
        new = not self.path.exists()
        with self.path.open("ab") as f:
            for rec in records:
                f.write(json.dumps(rec, separators=(",", ":")).encode() + b"\n")
            f.flush()
            os.fsync(f.fileno())
        if new:
            _fsync_dir(self.path.parent)
        self.records += len(records)
        self.entries += sum(len(r["entries"]) for r in records)

    def rewrite(self, records: list[dict[str, Any]]) -> None:
        write_atomic(self.path, b"".join(json.dumps(r, separators=(",", ":")).encode() + b"\n"
                                         for r in records))
        self.records = len(records)
        self.entries = sum(len(r["entries"]) for r in records)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class ListChanges:
    """Applies changes to the live lists (in place, on the event loop) and keeps their
    journals. Disk work (``append``, ``compact``) is meant for a worker thread."""

    def __init__(self, lists: ListRegistry, state: Counters, directory: str | Path | None = None,
                 dynamic: Iterable[str] = ()) -> None:
        self.lists = lists
        self.state = state
        self.dir = Path(directory if directory is not None else lists.source or ".")
        self.dynamic: set[str] = set(dynamic)
        self.journals: dict[str, Journal] = {}
        #: static lists' expiring entries: name -> ident -> (expires, entry)
        self.expiring: dict[str, dict[Hashable, tuple[float, Entry]]] = {}

    # -- what a name is ------------------------------------------------------------

    def kind(self, name: str) -> str | None:
        lst = self.lists.get(name)
        if isinstance(lst, NumberSet):
            return "numbers"
        if isinstance(lst, StringSet):
            return lst.kind
        if name in self.dynamic:
            return "dynamic"
        return None

    def editable(self, name: str) -> bool:
        return name not in BUILTIN and self.kind(name) is not None

    def journal(self, name: str) -> Journal:
        j = self.journals.get(name)
        if j is None:
            j = self.journals[name] = Journal(self.dir / f"{name}.journal")
        return j

    def parse(self, name: str, texts: Iterable[Any]) -> tuple[list[Entry], list[str]]:
        """Validated entries, and ``'entry': reason`` for each bad one."""
        kind = self.kind(name)
        assert kind is not None
        entries: list[Entry] = []
        errors: list[str] = []
        for t in texts:
            try:
                entries.append(parse_entry(kind, t))
            except ValueError as e:
                errors.append(str(e))
        return entries, errors

    # -- applying (event loop) -----------------------------------------------------

    def record(self, name: str, op: str, entries: list[Entry], expires: float | None
               ) -> dict[str, Any]:
        j = self.journal(name)
        j.seq += 1
        return {"seq": j.seq, "ts": time.time(), "op": op,
                "entries": [e.text for e in entries], "expires": expires}

    def apply(self, name: str, op: str, entries: Iterable[Entry], expires: float | None,
              now: float) -> int:
        """Make a change live; returns how many entries changed the list."""
        lst = self.lists.get(name)
        changed = 0
        if lst is None:  # dynamic: counters-backend flags
            for e in entries:
                if op == "add":
                    self.state.flag(name, e.ident, now, (expires or now) - now)
                    changed += 1
                else:
                    changed += self.state.unflag(name, e.ident)
            return changed
        exp = self.expiring.setdefault(name, {})
        for e in entries:
            if op == "add":
                present = _has_exactly(lst, e)
                if expires is not None:
                    if not present:
                        exp[e.ident] = (expires, e)
                    elif e.ident in exp:
                        exp[e.ident] = (max(expires, exp[e.ident][0]), e)
                    else:
                        continue  # permanently listed already: a ttl does not shorten it
                else:
                    exp.pop(e.ident, None)
                if not present:
                    _add(lst, e)
                    changed += 1
            else:
                exp.pop(e.ident, None)
                changed += _remove(lst, e)
        return changed

    def expire(self, now: float) -> int:
        """Drop static lists' expired ttl entries (a periodic task calls this)."""
        gone = 0
        for name, exp in self.expiring.items():
            lst = self.lists.get(name)
            for ident, (when, e) in list(exp.items()):
                if when <= now:
                    del exp[ident]
                    if lst is not None:
                        gone += _remove(lst, e)
        return gone

    def replay(self, now: float | None = None) -> int:
        """Apply every journal in the lists dir (at start, before traffic)."""
        now = time.time() if now is None else now
        applied = 0
        for path in sorted(self.dir.glob("*.journal")) if self.dir.is_dir() else ():
            name = path.stem
            if self.lists.get(name) is None and list_kind(name) is None:
                self.dynamic.add(name)
            j = self.journal(name)
            kind = self.kind(name)
            if kind is None:
                continue
            for rec in j.read():
                expires = rec.get("expires")
                if expires is not None and expires <= now:
                    continue
                entries = [parse_entry(kind, t) for t in rec["entries"]]
                applied += self.apply(name, rec["op"], entries, expires, now)
        return applied

    # -- compaction (worker thread; the caller holds the list's lock) ---------------

    def compact(self, name: str, now: float | None = None) -> dict[str, Any]:
        """Fold the journal's permanent changes into NAME.txt (and NAME.nset)."""
        now = time.time() if now is None else now
        kind = self.kind(name)
        assert kind is not None
        j = self.journal(name)
        records = j.read()
        net: dict[Hashable, tuple[str, Entry]] = {}
        keep: list[dict[str, Any]] = []
        for rec in records:
            if rec.get("expires") is not None:
                if rec["expires"] > now:
                    keep.append(rec)
                continue
            for t in rec["entries"]:
                e = parse_entry(kind, t)
                net[e.ident] = (rec["op"], e)
        added = removed = 0
        if kind != "dynamic" and net:
            txt = self.dir / f"{name}.txt"
            state = {"added": 0, "removed": 0}
            write_atomic(txt, _rewrite_lines(txt, kind, net, state))
            added, removed = state["added"], state["removed"]
            if kind == "numbers":
                compile_list(txt)
        j.rewrite(keep)
        return {"list": name, "records": len(records), "kept": len(keep),
                "appended": added, "dropped": removed}


def _rewrite_lines(txt: Path, kind: str, net: dict[Hashable, tuple[str, Entry]],
                   state: dict[str, int]) -> Iterator[bytes]:
    seen: set[Hashable] = set()
    if txt.exists():
        with txt.open("r", encoding="utf-8") as f:
            for line in f:
                entry = line.split("#", 1)[0].strip()
                if entry:
                    try:
                        ident = parse_entry(kind, entry).ident
                    except ValueError:
                        ident = None
                    change = net.get(ident) if ident is not None else None
                    if change is not None:
                        if change[0] == "remove":
                            state["removed"] += 1
                            continue
                        seen.add(ident)
                yield (line if line.endswith("\n") else line + "\n").encode()
    first = True
    for ident, (op, e) in net.items():
        if op == "add" and ident not in seen:
            if first:
                stamp = time.strftime("%Y-%m-%d %H:%M:%S")
                yield f"# added through the admin API, compacted {stamp}\n".encode()
                first = False
            yield (e.text + "\n").encode()
            state["added"] += 1


def _has_exactly(lst: NumberSet | StringSet, e: Entry) -> bool:
    if isinstance(lst, StringSet):
        return e.string is not None and lst.match(e.string) == e.string
    if e.key is not None:
        m = lst.match(e.key)
        return m is not None and not m.prefix
    return e.prefix in lst.prefixes


def _add(lst: NumberSet | StringSet, e: Entry) -> None:
    if isinstance(lst, StringSet):
        assert e.string is not None
        lst.add(e.string)
    elif e.key is not None:
        lst.add_key(e.key)
    elif e.prefix is not None:
        lst.add_prefix(e.prefix)


def _remove(lst: NumberSet | StringSet, e: Entry) -> int:
    if isinstance(lst, StringSet):
        return int(e.string is not None and lst.discard(e.string))
    if e.key is not None:
        return int(lst.remove_key(e.key))
    return int(e.prefix is not None and lst.remove_prefix(e.prefix))
