"""Domain services the core runs whatever adapters are on (SMPP, FastAGI, HTTP):
the engine observer (statistics, quarantine of blocked SMS, spam reports sent to
the short code), list changes (journal, fsync, apply), release of a quarantined
message to the SMSC, the quarantine writer and the expiry sweeper.

``service(core)`` is entered by ``gateway.app.running`` before the adapters and
left after them, so an SMS to 7726 is a report and a blocked SMS is kept with
``[admin] enabled = false`` too; the admin app only serves them over HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gateway.lists.journal import Entry
from gateway.model import Action, Channel, Event, Verdict

if TYPE_CHECKING:
    from gateway.app import Core

__all__ = ["Released", "apply_change", "observer", "release", "service"]

#: entries a journal record holds at most (a record is encoded and parsed in one go)
RECORD_ENTRIES = 2000


async def apply_change(core: Core, name: str, add: list[Entry], remove: list[Entry],
                       ttl: float | None) -> dict[str, Any]:
    """Journal (fsync, off the loop), then apply; one change at a time (the journal's
    order is the order applied). The lists API, reports and quarantine use it."""
    changes = core.changes
    async with core.list_lock:
        now = time.time()
        expires = now + ttl if ttl is not None else None
        records = []
        for op, entries in (("remove", remove), ("add", add)):
            for i in range(0, len(entries), RECORD_ENTRIES):
                records.append((op, entries[i:i + RECORD_ENTRIES]))
        recs, encoded = [], []
        for op, chunk in records:  # a record at a time: the thread only writes
            recs.append(changes.record(name, op, chunk, expires))
            encoded.append(changes.journal(name).encode(recs[-1:]))
            await asyncio.sleep(0)
        await asyncio.to_thread(changes.journal(name).append, recs, b"".join(encoded))
        counts = {"add": 0, "remove": 0}
        for op, chunk in records:  # in slices of a millisecond or two
            counts[op] += await changes.apply_sliced(name, op, chunk, expires, now)
        if core.on_list_change is not None:  # the other workers and nodes (gateway.fanout)
            core.on_list_change(name, recs)
        journal = changes.journal(name)
        if journal.entries > core.config.lists.compact_after:  # a child process, later
            changes.compact_soon(name, core.list_lock)
    return {"list": name, "added": counts["add"], "removed": counts["remove"],
            "seq": journal.seq, "expires": expires, "compacted": None}


@dataclass(frozen=True, slots=True)
class Released:
    """What became of a release: ``outcome`` is ``resubmitted`` (the SMSC accepted
    every part), ``failed`` (the SMSC refused or never answered some part: what it
    said is in ``parts``), ``no_session`` (no bound session of ``system_id`` can send
    it now: nothing was sent) or ``not_held`` (its bytes were not kept: not a
    submit_sm or data_sm from an ESME); ``parts``: the SMSC's (command_status,
    message_id) per part sent."""

    outcome: str
    system_id: str
    parts: tuple[tuple[int, str], ...] = ()


def _split(pdus: bytes) -> list[bytes]:
    out, pos = [], 0
    while pos + 16 <= len(pdus):
        n = int.from_bytes(pdus[pos:pos + 4], "big")
        out.append(pdus[pos:pos + n])
        pos += n
    return out


async def release(core: Core, item: dict[str, Any]) -> Released:
    """Send a quarantined message (``item``: its row) to the SMSC as its ESME sent it,
    through a bound session of the same system_id (the SMPP proxy's, while it runs).
    The SMSC's answers are the gateway's: recorded on the row, never passed to an
    ESME. Nothing is marked when nothing was accepted, so it can be released again."""
    q = core.quarantine
    assert q is not None
    system_id = item["route"]
    pdus = await asyncio.to_thread(q.held, item["id"])
    if pdus is None:
        return Released("not_held", system_id)
    outlet = q.outlet
    answers = await outlet(system_id, _split(pdus)) if outlet is not None else None
    if answers is None:
        return Released("no_session", system_id)
    parts = tuple(answers)
    outcome = "resubmitted" if all(status == 0 for status, _mid in parts) else "failed"
    if any(status == 0 for status, _mid in parts):  # some part is at the SMSC now
        how = ",".join(f"{status:#x}:{mid}" for status, mid in parts)
        await asyncio.to_thread(q.mark_resubmitted, item["id"],
                                f"{outcome} via {system_id} at {time.time():.0f}: {how}")
    return Released(outcome, system_id, parts)


def observer(core: Core) -> Callable[[Event, Verdict], None]:
    """The engine's per-event observer: statistics, then quarantine of blocked SMS,
    then short-code spam reports. A few comparisons on top of ``Stats.record``."""
    record = core.stats.record
    q = core.quarantine
    keep = q.add if q is not None else None
    rep = core.reports
    srs = rep.shortcode_key
    block, sms = Action.BLOCK, Channel.SMS

    def observe(ev: Event, v: Verdict) -> None:
        record(ev, v)
        if ev.channel is sms:
            if keep is not None and v.action is block:
                keep(ev, v)
            if ev.dst.key == srs:
                rep.from_sms(ev)

    return observe


@contextlib.asynccontextmanager
async def service(core: Core) -> AsyncIterator[Core]:
    """Open the quarantine (a path that cannot be opened is a ``ConfigError``), hook
    the observer, run the writer and the sweeper; on exit write what waits."""
    q = core.quarantine
    if q is not None:
        await asyncio.to_thread(q.open)
    loop = asyncio.get_running_loop()
    spawned: set[asyncio.Task[Any]] = set()
    reports_cfg = core.config.reports

    def listed(entry: Entry, expires: float) -> None:  # journal an SRS listing
        ttl = max(1.0, expires - time.time())
        task = loop.create_task(apply_change(core, reports_cfg.listed_list, [entry], [], ttl))
        spawned.add(task)
        task.add_done_callback(spawned.discard)

    async def flush() -> None:
        if q is None:
            return
        rows = q.take()
        try:
            await asyncio.to_thread(q.write, rows)
        except sqlite3.Error as e:  # a lock, a full disk: kept for the next round
            q.failed(rows, e)

    async def writer() -> None:
        while True:
            await asyncio.sleep(0.5)
            await flush()

    async def sweep() -> None:
        while True:
            await asyncio.sleep(1.0)
            core.changes.expire(time.time())

    core.reports.on_listed = listed
    before = core.engine.observer
    core.engine.observer = observer(core)
    tasks = [loop.create_task(writer(), name="quarantine-writer"),
             loop.create_task(sweep(), name="list-expiry")]
    core.serving = True
    try:
        yield core
    finally:
        core.serving = False
        core.engine.observer = before
        core.reports.on_listed = None
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for t in [*spawned]:  # journal writes of reports in flight finish first
            with contextlib.suppress(Exception):
                await t
        await flush()
        if q is not None:
            await asyncio.to_thread(q.close)
