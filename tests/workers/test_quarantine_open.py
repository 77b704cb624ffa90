"""Workers of one host open the same quarantine file at once.

Switching a new SQLite file to WAL and creating the schema take a lock SQLite does
not wait for; before ``Quarantine.open`` waited it out, one worker in a handful of
starts failed with "database is locked" and the supervisor stopped the host. Real
processes race here, released together by a barrier; a lock held for longer than
the wait is still a clear start-up error naming the file.
"""

from __future__ import annotations

import multiprocessing as mp
import sqlite3
from pathlib import Path

import pytest

from gateway import quarantine
from gateway.config import ConfigError, QuarantineConfig
from gateway.quarantine import Quarantine

PROCESSES = 4
ROUNDS = 12


def _open(path: str, barrier: mp.synchronize.Barrier, out: mp.Queue) -> None:  # type: ignore[type-arg]
    q = Quarantine(QuarantineConfig(path=path))
    barrier.wait()
    try:
        q.open()
        q.close()
        out.put("ok")
    except ConfigError as e:
        out.put(str(e))


def test_workers_opening_one_new_file_at_once_all_start(tmp_path: Path) -> None:
    ctx = mp.get_context("fork")
    failures = []
    for n in range(ROUNDS):
        path = str(tmp_path / f"q{n}.sqlite3")
        barrier, out = ctx.Barrier(PROCESSES), ctx.Queue()
        procs = [ctx.Process(target=_open, args=(path, barrier, out))
                 for _ in range(PROCESSES)]
        for p in procs:
            p.start()
        results = [out.get(timeout=60) for _ in procs]
        for p in procs:
            p.join(timeout=60)
        failures += [r for r in results if r != "ok"]
        rows = sqlite3.connect(path).execute("PRAGMA table_info(quarantine)").fetchall()
        assert {r[1] for r in rows} >= {"ts", "text", "rules", "pdu"}
    assert failures == []


def test_a_lock_held_past_the_wait_is_a_start_up_error_naming_the_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "held.sqlite3"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    monkeypatch.setattr(quarantine, "OPEN_WAIT", 0.2)
    with pytest.raises(ConfigError, match=r"quarantine\.path: .*held\.sqlite3: cannot "
                                          r"open it: database is locked"):
        Quarantine(QuarantineConfig(path=str(path))).open()
    holder.execute("ROLLBACK")
    q = Quarantine(QuarantineConfig(path=str(path)))
    q.open()
    q.close()
