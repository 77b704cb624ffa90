"""Quarantine: blocked SMS kept in SQLite, bounded, with retention, so a false positive
can be found, inspected, turned into an allowlist entry, and released: a submit_sm or
data_sm an ESME sent is kept as received (every part of a concatenated one), and
release sends those bytes to the SMSC (``gateway.services.release``). A core service
(``gateway.services`` runs the writer), served over HTTP by ``gateway.admin.quarantine``.

On the hot path ``add`` appends one tuple to a list (dropping, and counting, past a
bound if the writer falls behind); a task flushes the list every half second with one
``executemany`` in a worker thread, then prunes rows past ``retention_days`` and
beyond ``max_rows``. Every SQLite call runs in a worker thread under one lock.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import structlog

from gateway.config import ConfigError, QuarantineConfig
from gateway.model import Direction, Event, Verdict
from gateway.observe import LogLimiter

__all__ = ["Quarantine"]

log = structlog.get_logger("spamgw.quarantine")

PENDING_MAX = 50000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS quarantine (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  ts REAL NOT NULL, direction TEXT, src TEXT, src_kind TEXT, dst TEXT, route TEXT,
  text TEXT, score REAL, rules TEXT, reason TEXT, released TEXT, pdu BLOB, resubmitted TEXT
);
CREATE INDEX IF NOT EXISTS quarantine_ts ON quarantine(ts);
CREATE INDEX IF NOT EXISTS quarantine_src ON quarantine(src);
"""
_COLUMNS = ("id", "ts", "direction", "src", "src_kind", "dst", "route", "text", "score",
            "rules", "reason", "released", "resubmitted")
_SELECT = ", ".join(_COLUMNS) + ", pdu IS NOT NULL"
#: columns a database written by an older version lacks: added at open
_ADDED = (("pdu", "BLOB"), ("resubmitted", "TEXT"))
#: the messages whose bytes are kept, to be sent again on release (those an ESME sent
#: with one destination: a submit_multi's other destinations went on already)
_RESUBMITTABLE = frozenset({"submit_sm", "data_sm"})


#: seconds ``Quarantine.open`` waits for a lock another worker holds on the file
OPEN_WAIT = 10.0


def _busy(e: sqlite3.OperationalError) -> bool:
    """SQLite's "database is locked" / "database is busy": another connection holds
    the lock, so trying again can succeed (every error SQLite raises carries its code)."""
    return getattr(e, "sqlite_errorcode", 0) & 0xFF in (sqlite3.SQLITE_BUSY,
                                                        sqlite3.SQLITE_LOCKED)


class Quarantine:
    def __init__(self, config: QuarantineConfig) -> None:
        self.config = config
        self.path = Path(config.path)
        self._pending: list[tuple[Any, ...]] = []
        self._retry: list[tuple[Any, ...]] = []  # a batch SQLite refused
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self.kept = 0
        self.dropped = 0
        self.write_errors = 0  # batches SQLite refused (kept and retried)
        self._quiet = LogLimiter(30.0)
        #: ``outlet(system_id, pdus)``: sends a released message to the SMSC through a
        #: bound session of ``system_id`` and returns the SMSC's (command_status,
        #: message_id) per PDU, or ``None`` when no such session is bound; set by the
        #: SMPP proxy while it runs (``gateway.services.release`` uses it)
        self.outlet: Callable[[str, list[bytes]],
                              Awaitable[list[tuple[int, str]] | None]] | None = None

    # -- hot path -------------------------------------------------------------------

    def add(self, ev: Event, v: Verdict) -> None:
        if len(self._pending) >= PENDING_MAX:
            self.dropped += 1
            return
        details = ev.details
        pdus = details.get("pdus")
        pdu = (b"".join(pdus) if pdus and ev.direction is Direction.IN
               and details.get("command") in _RESUBMITTABLE else None)
        self._pending.append((ev.ts, ev.direction.value, str(ev.src), ev.src.kind.value,
                              str(ev.dst), ev.route, ev.text, v.score, ",".join(v.rules),
                              v.reason, pdu))

    # -- worker thread --------------------------------------------------------------

    def open(self) -> None:
        """Open (or create) the database; a path that cannot be is a ``ConfigError``
        naming it, so the gateway does not start. Workers of one host open the same
        file at once: switching a new file to WAL and creating the schema take a lock
        SQLite does not wait for, so a lock held by a sibling is waited out (up to
        ``OPEN_WAIT`` seconds; this runs in a thread, off the loop)."""
        with self._lock:
            deadline = time.monotonic() + OPEN_WAIT
            while True:
                try:
                    self._db = self._connect()
                    return
                except sqlite3.OperationalError as e:
                    if not _busy(e) or time.monotonic() >= deadline:
                        raise self._unopenable(e) from None
                except (sqlite3.Error, OSError) as e:
                    raise self._unopenable(e) from None
                time.sleep(0.02)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.executescript(_SCHEMA)
            have = {row[1] for row in db.execute("PRAGMA table_info(quarantine)")}
            for name, kind in _ADDED:
                if name not in have:
                    db.execute(f"ALTER TABLE quarantine ADD COLUMN {name} {kind}")
        except BaseException:
            db.close()
            raise
        return db

    def _unopenable(self, e: Exception) -> ConfigError:
        return ConfigError(f"quarantine.path: {self.path.absolute()}: cannot open "
                           f"it: {e} (or [quarantine] enabled = false)")

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def take(self) -> list[tuple[Any, ...]]:
        """The rows waiting (on the event loop: one list swap), after a batch SQLite
        refused last time, if any."""
        rows, self._pending = self._pending, []
        if self._retry:
            rows, self._retry = self._retry + rows, []
        return rows

    def write(self, rows: list[tuple[Any, ...]], now: float | None = None) -> None:
        now = time.time() if now is None else now
        with self._lock:
            db = self._db
            if db is None:
                return
            try:
                db.execute("BEGIN")
                if rows:
                    db.executemany(
                        "INSERT INTO quarantine (ts, direction, src, src_kind, dst, route,"
                        " text, score, rules, reason, pdu) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                        rows)
                db.execute("DELETE FROM quarantine WHERE ts < ?",
                           (now - self.config.retention_days * 86400,))
                db.execute("DELETE FROM quarantine WHERE id <= "
                           "(SELECT MAX(id) FROM quarantine) - ?", (self.config.max_rows,))
                db.execute("COMMIT")
            except sqlite3.Error:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
        self.kept += len(rows)

    def failed(self, rows: list[tuple[Any, ...]], error: Exception) -> None:
        """A batch SQLite refused (a lock, a full disk): counted, logged (at most every
        30 s), and kept for the next ``take``, bounded by ``PENDING_MAX`` (the oldest
        dropped and counted past it)."""
        self.write_errors += 1
        over = len(rows) - PENDING_MAX
        if over > 0:
            self.dropped += over
            rows = rows[over:]
        held = self._quiet.allow("write")
        if held is not None:
            log.error("quarantine write failed: retrying", path=str(self.path),
                      error=str(error), waiting=len(rows), errors=self.write_errors,
                      suppressed=held)
        self._retry = rows

    def search(self, *, q: str = "", src: str = "", dst: str = "", rule: str = "",
               since: float = 0.0, limit: int = 50, before_id: int = 0) -> list[dict[str, Any]]:
        where = ["ts >= ?"]
        args: list[Any] = [since]
        if q:
            where.append("text LIKE ? ESCAPE '\\'")
            args.append("%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                        + "%")
        if src:
            where.append("src = ?")
            args.append(src)
        if dst:
            where.append("dst = ?")
            args.append(dst)
        if rule:
            where.append("(',' || rules || ',') LIKE ?")
            args.append(f"%,{rule},%")
        if before_id:
            where.append("id < ?")
            args.append(before_id)
        sql = (f"SELECT {_SELECT} FROM quarantine WHERE {' AND '.join(where)} "
               "ORDER BY id DESC LIMIT ?")
        with self._lock:
            if self._db is None:
                return []
            rows = self._db.execute(sql, [*args, limit]).fetchall()
        return [_row(r) for r in rows]

    def get(self, qid: int) -> dict[str, Any] | None:
        with self._lock:
            if self._db is None:
                return None
            r = self._db.execute(f"SELECT {_SELECT} FROM quarantine WHERE id = ?",
                                 (qid,)).fetchone()
        return _row(r) if r is not None else None

    def held(self, qid: int) -> bytes | None:
        """The PDUs kept of a quarantined message, as received, one after the other
        (``None``: none kept: not a submit_sm or data_sm from an ESME)."""
        with self._lock:
            if self._db is None:
                return None
            r = self._db.execute("SELECT pdu FROM quarantine WHERE id = ?", (qid,)).fetchone()
        return bytes(r[0]) if r is not None and r[0] is not None else None

    def mark_resubmitted(self, qid: int, how: str) -> None:
        with self._lock:
            if self._db is not None:
                self._db.execute("UPDATE quarantine SET resubmitted = ? WHERE id = ?",
                                 (how, qid))

    def mark_released(self, qid: int, how: str) -> None:
        with self._lock:
            if self._db is not None:
                self._db.execute("UPDATE quarantine SET released = ? WHERE id = ?", (how, qid))

    def count(self) -> int:
        with self._lock:
            if self._db is None:
                return 0
            return int(self._db.execute("SELECT COUNT(*) FROM quarantine").fetchone()[0])


def _row(r: tuple[Any, ...]) -> dict[str, Any]:
    d = dict(zip((*_COLUMNS, "held"), r, strict=True))
    d["rules"] = d["rules"].split(",") if d["rules"] else []
    d["held"] = bool(d["held"])  # its bytes are kept: release can send it
    return d
