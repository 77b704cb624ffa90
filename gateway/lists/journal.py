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

import asyncio
import contextlib
import gc
import json
import os
import re
import time
from collections.abc import AsyncIterator, Hashable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from gateway.lists.files import (
    compile_list,
    compiled_path,
    list_kind,
    load_number_list,
    parse_number_entry,
    parse_string_entry,
    write_atomic,
)
from gateway.lists.numberset import NumberSet, Prefix
from gateway.lists.registry import BUILTIN, AnyList, ListRegistry
from gateway.lists.stringset import StringSet
from gateway.numbers import LEN_SHIFT, number_of_key
from gateway.state import Counters

__all__ = ["Entry", "Journal", "ListChanges", "apply_to", "fold", "gc_paused", "parse_entry",
           "sliced"]

log = structlog.get_logger("spamgw.lists")

#: seconds of work at most between two yields to the event loop (edits, replays)
SLICE = 0.002


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
        #: entries of each record in the file, by seq (compaction trims it)
        self.sizes: dict[int, int] = {}
        self.entries = 0

    @property
    def records(self) -> int:
        return len(self.sizes)

    def _count(self, records: Iterable[dict[str, Any]]) -> None:
        for rec in records:
            n = len(rec["entries"])
            self.entries += n - self.sizes.get(int(rec["seq"]), 0)
            self.sizes[int(rec["seq"])] = n

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
        self.sizes, self.entries = {}, 0
        self._count(records)
        self.seq = max((int(r["seq"]) for r in records), default=self.seq)
        return records

    @staticmethod
    def encode(records: list[dict[str, Any]]) -> bytes:
        return b"".join(json.dumps(r, separators=(",", ":")).encode() + b"\n" for r in records)

    def append(self, records: list[dict[str, Any]], data: bytes | None = None) -> None:
        """Write and fsync (call it off the event loop); ``data``: the records already
        encoded (``encode``), so the thread only writes."""
        new = not self.path.exists()
        with self.path.open("ab") as f:
            f.write(self.encode(records) if data is None else data)
            f.flush()
            os.fsync(f.fileno())
        if new:
            _fsync_dir(self.path.parent)
        self._count(records)

    def rewrite(self, records: list[dict[str, Any]]) -> None:
        write_atomic(self.path, self.encode(records))
        self.sizes, self.entries = {}, 0
        self._count(records)

    def trim(self, upto: int, keep: Iterable[int]) -> None:
        """Drop the records up to ``upto`` that a compaction folded into the files,
        keeping those in ``keep`` (still-live expiring ones) and every later record
        (appended while the compaction ran). Lines are matched by their ``seq``, not
        parsed (off the event loop, with the list's lock held)."""
        keep = set(keep)
        out: list[bytes] = []
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            data = b""
        for line in data.splitlines(keepends=True):
            m = _SEQ.match(line)
            seq = int(m.group(1)) if m else upto + 1
            if seq > upto or seq in keep:
                out.append(line)
        write_atomic(self.path, out)
        for seq in [s for s in self.sizes if s <= upto and s not in keep]:
            self.entries -= self.sizes.pop(seq)


_SEQ = re.compile(rb'\{"seq":(\d+)[,}]')


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class ListChanges:
    """Applies changes to the live lists (in place, on the event loop, in slices) and
    keeps their journals. Writing a journal is for a worker thread; compaction is a
    child process."""

    def __init__(self, lists: ListRegistry, state: Counters, directory: str | Path | None = None,
                 dynamic: Iterable[str] = ()) -> None:
        self.lists = lists
        self.state = state
        self.dir = Path(directory if directory is not None else lists.source or ".")
        self.dynamic: set[str] = set(dynamic)
        self.journals: dict[str, Journal] = {}
        #: static lists' expiring entries: name -> ident -> (expires, entry)
        self.expiring: dict[str, dict[Hashable, tuple[float, Entry]]] = {}
        #: one compaction or reload of the list files at a time
        self.files_lock = asyncio.Lock()
        self._compacting: dict[str, asyncio.Task[None]] = {}

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
        if lst is None:  # dynamic: counters-backend flags
            changed = 0
            for e in entries:
                if op == "add":
                    self.state.flag(name, e.ident, now, (expires or now) - now)
                    changed += 1
                else:
                    changed += self.state.unflag(name, e.ident)
            return changed
        return apply_to(lst, self.expiring.setdefault(name, {}), op, entries, expires)

    async def apply_sliced(self, name: str, op: str, entries: list[Entry],
                           expires: float | None, now: float) -> int:
        """``apply`` in slices of at most ``SLICE`` seconds, yielding to the event loop
        between them (a bulk import of any size keeps traffic flowing)."""
        changed = 0
        async for batch in sliced(entries):
            changed += self.apply(name, op, batch, expires, now)
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

    async def replay_onto(self, name: str, lst: AnyList) -> dict[Hashable, tuple[float, Entry]]:
        """Apply ``name``'s journal to ``lst`` (a reloaded version of the list, not yet
        live) in slices on the event loop; returns its expiring entries. The caller
        holds the list lock, so the journal is whole and nothing is appended meanwhile."""
        exp: dict[Hashable, tuple[float, Entry]] = {}
        j = self.journal(name)
        kind = "numbers" if isinstance(lst, NumberSet) else lst.kind
        data = await asyncio.to_thread(_read_bytes, j.path)
        now = time.time()
        for line in data.splitlines():
            rec = json.loads(line)
            expires = rec.get("expires")
            if expires is not None and expires <= now:
                continue
            async for batch in sliced(rec["entries"]):
                apply_to(lst, exp, rec["op"], [parse_entry(kind, t) for t in batch], expires)
        return exp

    # -- compaction: a child process folds the journal into the files ---------------

    async def compact(self, name: str, lock: asyncio.Lock) -> dict[str, Any]:
        """Fold the journal's permanent changes into NAME.txt and NAME.nset in a child
        process (``gateway.lists.worker fold``: streaming, bounded memory, niced; the
        gateway's loop and memory are untouched: the live list already holds the
        changes). Records appended meanwhile stay; ``lock`` (the list-change lock) is
        held only while the journal is trimmed."""
        from gateway.lists.worker import run_worker

        kind = self.kind(name)
        assert kind is not None
        async with self.files_lock:
            j = self.journal(name)
            upto = j.seq
            if not j.sizes or kind == "dynamic":
                if kind == "dynamic" and j.sizes:
                    async with lock:
                        keep = [s for s in j.sizes]  # flags live in the counters
                        await asyncio.to_thread(j.trim, upto, keep)
                return {"list": name, "records": 0, "kept": j.records, "appended": 0,
                        "dropped": 0}
            result = await run_worker("fold", str(self.dir), name, kind, str(upto),
                                      repr(time.time()))
            async with lock:
                await asyncio.to_thread(j.trim, upto, result.pop("keep"))
        result.pop("priority", None)
        return result

    def compact_soon(self, name: str, lock: asyncio.Lock) -> None:
        """Start a compaction in the background unless one of this list's is running
        or waiting (the journal passed ``[lists] compact_after``)."""
        if name in self._compacting:
            return

        async def run() -> None:
            try:
                await self.compact(name, lock)
            except Exception as e:  # the journal keeps everything; the next one retries
                log.error("list compaction failed", list=name, error=str(e))
            finally:
                self._compacting.pop(name, None)

        self._compacting[name] = asyncio.get_running_loop().create_task(
            run(), name=f"compact-{name}")


def fold(directory: Path, name: str, kind: str, upto: int, now: float) -> dict[str, Any]:
    """The child's part of ``ListChanges.compact``: fold the journal's records up to
    ``upto`` into the files (text rewritten, compiled form rebuilt, each written,
    fsynced and renamed); returns the counts and the seqs of the records to keep (ttl
    entries still live). A crash between the steps replays records the files already
    hold, and adding or removing twice changes nothing."""
    j = Journal(directory / f"{name}.journal")
    records = [r for r in j.read() if int(r["seq"]) <= upto]
    net: dict[Hashable, tuple[str, Entry]] = {}
    keep: list[int] = []
    for rec in records:
        if rec.get("expires") is not None:
            if rec["expires"] > now:
                keep.append(int(rec["seq"]))
            continue
        for t in rec["entries"]:
            e = parse_entry(kind, t)
            net[e.ident] = (rec["op"], e)
    added = removed = 0
    if net:
        txt = directory / f"{name}.txt"
        if txt.exists() or kind != "numbers":
            state = {"added": 0, "removed": 0}
            write_atomic(txt, _rewrite_lines(txt, kind, net, state))
            added, removed = state["added"], state["removed"]
            if kind == "numbers":
                compile_list(txt)
        else:  # the compiled file alone is the list
            comp = compiled_path(txt)
            ns = load_number_list(txt)
            for op, e in net.values():
                if op == "add" and not _has_exactly(ns, e):
                    _add(ns, e)
                    added += 1
                elif op == "remove":
                    removed += _remove(ns, e)
            write_atomic(comp, ns.serialize_parts())
    return {"list": name, "records": len(records), "kept": len(keep), "appended": added,
            "dropped": removed, "keep": keep}


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return b""


async def sliced(items: list[Any]) -> AsyncIterator[list[Any]]:
    """``items`` in slices sized so that each takes about ``SLICE`` seconds to handle
    (the size adapts to what the last slice cost, at most doubling), yielding to the
    event loop after each one."""
    size, i = 256, 0
    while i < len(items):
        t0 = time.perf_counter()
        yield items[i:i + size]
        took = time.perf_counter() - t0
        i += size
        size = max(16, min(2 * size, int(size * SLICE / took))) if took > 0 else 2 * size
        await asyncio.sleep(0)


_gc_pauses = 0


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a bulk change holds its entries: with the
    start-up heap frozen (``gateway.app.settle_heap``), 100k new entries would make
    the collector walk them all at once (50-60 ms with the loop held). They are freed
    by reference counting when the change is done; nested uses are counted."""
    global _gc_pauses
    _gc_pauses += 1
    gc.disable()
    try:
        yield
    finally:
        _gc_pauses -= 1
        if not _gc_pauses:
            gc.enable()


def apply_to(lst: AnyList, exp: dict[Hashable, tuple[float, Entry]], op: str,
             entries: Iterable[Entry], expires: float | None) -> int:
    """Apply a change to one static list and its expiring entries; returns how many
    entries changed the list."""
    changed = 0
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


def _rewrite_lines(txt: Path, kind: str, net: dict[Hashable, tuple[str, Entry]],
                   state: dict[str, int]) -> Iterator[bytes]:
    seen: set[Hashable] = set()
    plain = kind == "numbers"
    if txt.exists():
        with txt.open("r", encoding="utf-8") as f:
            for line in f:
                entry = line.split("#", 1)[0].strip()
                if entry:
                    ident: Hashable | None
                    if plain and entry[0] == "+" and entry[1:].isdigit() and entry.isascii() \
                            and 4 <= len(entry) <= 16 and entry[1] != "0":
                        ident = ((len(entry) - 1) << LEN_SHIFT) | int(entry)  # key_of
                    else:
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
