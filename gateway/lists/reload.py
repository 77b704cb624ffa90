"""Reload the list files that changed, and the rules with them, as one version.

SIGHUP and ``POST /v1/lists/reload`` call ``reload_lists``. Nothing heavy runs on
the event loop or under its GIL:

1. the lists dir is scanned (``file_stamp``: identity, size, mtime of ``NAME.txt``
   and ``NAME.nset``); only lists whose files changed are read again;
2. a changed number list whose text is newer than its compiled form is compiled in a
   child process (``gateway.lists.worker compile``: streaming, bounded memory) to
   ``NAME.nset``; a bad line refuses the whole reload with ``file:line: reason``;
3. each changed number list is mapped from its ``.nset`` and deserialized part by part
   (``NumberSet.loader``), yielding to the loop between parts; string lists, rates
   and sender registries (small) are read in a thread;
4. the rules are compiled against the new lists (and their examples run on them);
   broken rules refuse the whole reload too;
5. with the list-change lock held, each changed list's journal (the changes made
   through the API since its last compaction) is applied on top of the new version,
   in slices; then, in one step of the loop, every changed list's object takes the
   new content by reference (``NumberSet.adopt``: what the rules and plugins hold
   stays the same object), the registry takes the new names, rates and registries,
   and the new ruleset is activated.

Until the last step nothing live is touched: a refused reload leaves the running
lists and rules as they were.
"""

from __future__ import annotations

import asyncio
import mmap
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from gateway.engine.schema import RuleErrors
from gateway.lists.files import ListFileError, compiled_is_current, compiled_path, list_kind
from gateway.lists.journal import SLICE
from gateway.lists.numberset import NumberSet
from gateway.lists.registry import (
    BUILTIN,
    AnyList,
    assemble,
    file_stamp,
    list_files,
    read_list_file,
)
from gateway.lists.senders import is_registry_name
from gateway.lists.stringset import StringSet
from gateway.lists.worker import run_worker
from gateway.offloop import in_thread

if TYPE_CHECKING:
    from gateway.app import Core

__all__ = ["ReloadRefused", "load_compiled", "reload_lists"]

log = structlog.get_logger("spamgw.lists")


class ReloadRefused(Exception):
    """A list file or the rules are broken: ``errors`` names each problem."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


async def load_compiled(path: Path, name: str) -> NumberSet:
    """Map a compiled list and deserialize it a part at a time, yielding to the event
    loop whenever a slice of work (``SLICE``) is done. Raises ``ValueError`` or
    ``OSError``."""
    with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
        loader = NumberSet.loader(m, name)
        deadline = time.perf_counter() + SLICE
        result: NumberSet | None = None
        for step in loader:
            if step is not None:
                result = step
            elif time.perf_counter() >= deadline:
                await asyncio.sleep(0)
                deadline = time.perf_counter() + SLICE
        del loader
    assert result is not None
    return result


def _scan(d: Path) -> list[Path]:
    return list_files(d) if d.is_dir() else []


def _is_number_list(path: Path) -> bool:
    name = path.stem
    return (list_kind(name) == "numbers" and name not in BUILTIN and name != "rates"
            and not is_registry_name(name))


async def _read_changed(changed: list[Path], errors: list[str]) -> dict[str, object]:
    compile_paths = [p for p in changed
                     if _is_number_list(p) and p.exists() and not compiled_is_current(p)]
    failed: set[str] = set()
    if compile_paths:
        try:
            await run_worker("compile", *map(str, compile_paths))
        except ListFileError as e:
            errors.extend(e.errors)
            failed = {p.stem for p in compile_paths}
        except RuntimeError as e:
            errors.append(str(e))
            failed = {p.stem for p in compile_paths}
    found: dict[str, object] = {}
    for p in changed:
        if p.stem in failed:
            continue
        if _is_number_list(p):
            comp = compiled_path(p)
            try:
                found[p.stem] = await load_compiled(comp, p.stem)
            except (OSError, ValueError) as e:
                errors.append(f"{comp}: {e}")
        else:
            found[p.stem] = await in_thread(read_list_file, p, errors)
    return found


async def reload_lists(core: Core, trigger: str) -> dict[str, Any]:
    """Reload what changed in the lists dir and the rules with it (see the module's
    doc); raises ``ReloadRefused`` and leaves everything running as it was."""
    changes = core.changes
    live = core.lists
    d = Path(core.config.lists.dir)
    t0 = time.perf_counter()
    async with changes.files_lock:
        paths = await asyncio.to_thread(_scan, d)
        stamps = {p.stem: await asyncio.to_thread(file_stamp, p) for p in paths}
        changed = [p for p in paths if live.stamps.get(p.stem) != stamps[p.stem]]
        removed = [n for n in live.stamps if n not in stamps]
        errors: list[str] = []
        found = await _read_changed(changed, errors)
        if errors:
            raise ReloadRefused(errors)
        for p in changed:  # with the compiled forms just written
            stamps[p.stem] = await asyncio.to_thread(file_stamp, p)

        # what the rules compile against: the objects the running rules and plugins
        # hold for lists that stay, new objects for new lists
        builtins: dict[str, AnyList] = {n: lst for n in BUILTIN
                                        if (lst := live.get(n)) is not None}
        everything: dict[str, object] = {}
        for name in stamps:
            if name in found:
                everything[name] = found[name]
            elif name == "rates":
                everything[name] = live.rates
            elif name in live.registries:
                everything[name] = live.registries[name]
            else:
                everything[name] = live.get(name)
        content = assemble(dict(builtins), everything, str(d))
        handles = {n: live.get(n) if isinstance(v, NumberSet | StringSet) and n in live
                   else v for n, v in everything.items()}
        final = assemble(dict(builtins), handles, str(d))
        final.stamps = stamps
        try:
            ruleset = await in_thread(core.build_ruleset, None, final)
            if changed or removed or ruleset.version != core.engine.ruleset.version:
                await in_thread(core.check_examples, None, content)
        except RuleErrors as e:
            raise ReloadRefused([str(x) for x in e.errors]) from None

        async with core.list_lock:
            expiring = {}
            for name, new in found.items():
                if isinstance(new, NumberSet | StringSet):
                    expiring[name] = await changes.replay_onto(name, new)
            # one step of the loop from here: no await
            for name, new in found.items():
                old = live.get(name)
                if isinstance(old, NumberSet) and isinstance(new, NumberSet):
                    old.adopt(new)
                if isinstance(old, StringSet) and isinstance(new, StringSet):
                    old.adopt(new)
            for name in removed:
                old = live.get(name)
                if isinstance(old, NumberSet):
                    old.adopt(NumberSet(name))
                elif isinstance(old, StringSet):
                    old.adopt(StringSet(name, old.kind))
                changes.expiring.pop(name, None)
            changes.expiring.update(expiring)
            live.replace(final)
            previous = core.engine.ruleset.version
            rules_changed = ruleset.version != previous
            if rules_changed:
                core.activate(ruleset)
    took = time.perf_counter() - t0
    names = sorted(n for n in found)
    log.info("lists reloaded", trigger=trigger, changed=names, removed=removed,
             rules=ruleset.version, rules_changed=rules_changed, seconds=round(took, 3))
    core.stats.audit.info("admin", action="lists.reload", who=trigger, changed=names,
                          removed=removed, version=ruleset.version, previous=previous)
    return {"changed": names, "removed": removed, "rules": ruleset.version,
            "rules_changed": rules_changed, "seconds": round(took, 3)}
