"""Changes made on one worker reach every worker of every node: a Redis stream.

A list change journaled and applied by one process (``gateway.services.apply_change``:
the lists API, spam reports, a quarantine release) and a rules change accepted by the
admin API (reload, rollback, promote) are added to the stream ``<prefix>changes`` as
one JSON message each, stamped with the node and worker that made it. Every worker
follows the stream and applies what others wrote:

- a list change with the existing apply function (``ListChanges.apply``), in chunks
  so the event loop is never held long; lists that live in the counters backend
  (dynamic lists) are skipped: Redis shares them already;
- a rules change by compiling its own rules dir off the event loop (or taking the
  version from its history, for a rollback) and swapping it in if it is the version
  announced; a node whose files differ keeps its rules and says so.

The journal stays the source of truth on each node: workers of one node share their
lists dir, so only the worker that made a change journals it there; a change from
another node is journaled by worker 0 of this one, which then records the stream
position it has applied up to in ``changes.position`` beside the journals. A node
that starts replays its journals (the snapshot), then follows the stream from that
position: what other nodes changed while it was down is applied and journaled. A
node that never followed starts from the stream's end as it was before the replay;
after a lost connection a worker goes on from where it stopped. The stream keeps the
last ``MAXLEN`` changes. Applying a change twice leaves the same lists (an add of a
listed entry or a remove of an absent one changes nothing), so a replay that
overlaps what the journal has is harmless.

A node is named after its host and its lists dir (``node_id``): the same after a
restart, different for two gateways on one host with lists of their own.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from gateway.engine.schema import RuleErrors
from gateway.observe import LogLimiter
from gateway.offloop import in_thread
from gateway.redisconn import ERRORS, async_client, sync_client

if TYPE_CHECKING:
    from gateway.app import Core
    from gateway.config import Config

__all__ = ["ChangeStream", "Origin", "node_id", "start_position"]

log = structlog.get_logger("spamgw.fanout")

MAXLEN = 10_000
#: the stream position a node has applied (and journaled) up to, in its lists dir
POSITION_FILE = "changes.position"
#: entries parsed and applied between two yields to the event loop
CHUNK = 500
#: entries in a change from which it is encoded and decoded off the event loop
BIG = 1000
_ERRORS = ERRORS
#: how long the follower's XREAD waits on the server for a change (milliseconds)
BLOCK_MS = 1000
#: how long stopping waits for the stream's tasks: a read's socket timeout and more
STOP_WAIT = 15.0


@dataclass(frozen=True, slots=True)
class Origin:
    """Who made a change: the node (one lists dir, one journal) and the worker."""

    node: str
    worker: int

    @property
    def tag(self) -> str:
        return f"{self.node}/{self.worker}"


def stream_key(prefix: str) -> str:
    return prefix + "changes"


def stream_position(url: str, prefix: str, timeout: float = 2.0) -> str:
    """The stream's last id, read before the journals are replayed (synchronously, at
    start): the changes after it are followed. ``$`` if Redis cannot be reached."""
    try:  # a Cluster client reads the slot map when made
        client = sync_client(url, socket_timeout=timeout, socket_connect_timeout=timeout)
    except _ERRORS:
        return "$"
    try:
        last: Any = client.xrevrange(stream_key(prefix), count=1)
    except _ERRORS:
        return "$"
    finally:
        client.close()
    return last[0][0].decode() if last else "0-0"


def node_id(config: Config) -> str:
    """This node: its host name and lists dir (stable across restarts)."""
    where = f"{socket.gethostname()}:{os.path.realpath(config.lists.dir)}"
    return hashlib.sha1(where.encode()).hexdigest()[:12]


def start_position(config: Config) -> str:
    """Where to follow the stream from: the position this node recorded, or else the
    stream's end now (read before the journals are replayed)."""
    try:
        recorded = (Path(config.lists.dir) / POSITION_FILE).read_text().strip()
    except OSError:
        recorded = ""
    if recorded:
        return recorded
    return stream_position(config.state.redis_url, config.state.redis_prefix)


def _record_position(directory: str, position: str) -> None:
    path = Path(directory) / POSITION_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(position + "\n")
    tmp.replace(path)


class ChangeStream:
    """Publishes this worker's changes and applies the others'."""

    def __init__(self, core: Core, origin: Origin, *, start: str = "$") -> None:
        self.core = core
        self.origin = origin
        self.key = stream_key(core.config.state.redis_prefix)
        self.position = start
        self.sent = 0
        self.applied = 0
        self.refused = 0
        self._outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._quiet = LogLimiter(10.0)
        #: set when the stream stops: the loops end at their next turn even if a
        #: Redis call swallowed their cancellation (see ``running``)
        self._stopping = False
        url = core.config.state.redis_url
        self._send = async_client(url, socket_connect_timeout=2.0, socket_timeout=5.0)
        self._read = async_client(url, socket_connect_timeout=2.0, socket_timeout=10.0)

    # -- publishing (called on the event loop, never waits) ---------------------------

    def list_changed(self, name: str, records: list[dict[str, Any]]) -> None:
        self._outbox.put_nowait({"kind": "list", "name": name, "records": [
            {"op": r["op"], "entries": r["entries"], "expires": r["expires"]}
            for r in records]})

    def rules_changed(self) -> None:
        core = self.core
        self._outbox.put_nowait({"kind": "rules", "version": core.engine.ruleset.version,
                                 "dir": core.rules_dir or core.config.rules.dir})

    def counters(self) -> dict[str, float]:
        return {"sent": self.sent, "applied": self.applied, "refused": self.refused}

    async def _sender(self) -> None:
        message: dict[str, Any] | None = None
        data = ""
        while not self._stopping:
            if message is None:
                message = await self._outbox.get()
                message |= {"node": self.origin.node, "origin": self.origin.tag,
                            "ts": time.time()}
                size = sum(len(r["entries"]) for r in message.get("records", ()))
                data = (json.dumps(message) if size < BIG  # a bulk import: off the loop
                        else await asyncio.to_thread(json.dumps, message))
            try:
                await self._send.xadd(self.key, {"data": data},
                                      maxlen=MAXLEN, approximate=True)
            except _ERRORS as e:  # kept, and sent when Redis answers again
                self._warn("send", "change stream: Redis refused a change (retrying)", e)
                await asyncio.sleep(1.0)
                continue
            self.sent += 1
            message = None

    # -- following ----------------------------------------------------------------

    async def _follow(self) -> None:
        while not self._stopping:
            try:
                answer: Any = await self._read.xread({self.key: self.position}, count=100,
                                                block=BLOCK_MS)
            except _ERRORS as e:
                self._warn("read", "change stream: cannot read Redis (retrying)", e)
                await asyncio.sleep(1.0)
                continue
            for _key, messages in answer or ():
                for ident, fields in messages:
                    self.position = ident.decode() if isinstance(ident, bytes) else ident
                    raw = fields.get(b"data", b"")
                    try:
                        message = (json.loads(raw) if len(raw) < 64 * BIG
                                   else await asyncio.to_thread(json.loads, raw))
                    except ValueError:
                        continue
                    if message.get("origin") != self.origin.tag:
                        await self.apply(message)
                if self.origin.worker == 0 and messages:  # the node's journal is this far
                    with contextlib.suppress(OSError):
                        await asyncio.to_thread(_record_position, self.core.config.lists.dir,
                                                self.position)

    async def apply(self, message: dict[str, Any]) -> None:
        kind = message.get("kind")
        if kind == "list":
            await self._apply_list(message)
        elif kind == "rules":
            await self._apply_rules(message)

    async def _apply_list(self, message: dict[str, Any]) -> None:
        core = self.core
        changes = core.changes
        name = message["name"]
        if name not in core.lists:  # a dynamic list: the counters backend shares it
            return
        foreign = message.get("node") != self.origin.node
        async with core.list_lock:
            for rec in message["records"]:
                op, texts, expires = rec["op"], rec["entries"], rec["expires"]
                parsed = []
                for i in range(0, len(texts), CHUNK):
                    entries, _errors = changes.parse(name, texts[i:i + CHUNK])
                    changes.apply(name, op, entries, expires, time.time())
                    parsed += entries
                    await asyncio.sleep(0)
                if foreign and self.origin.worker == 0:  # this node's journal too
                    record = changes.record(name, op, parsed, expires)
                    await asyncio.to_thread(changes.journal(name).append, [record])
        self.applied += 1

    async def _apply_rules(self, message: dict[str, Any]) -> None:
        core = self.core
        engine = core.engine
        version = message["version"]
        # a rules dir is a path on the node that wrote it; other nodes read their own
        same_node = message.get("node") == self.origin.node
        directory = (message.get("dir") or None) if same_node else None
        if engine.ruleset.version == version:
            return
        known = next((rs for rs in engine.history if rs.version == version), None)
        if known is not None:
            engine.history.remove(known)
            core.activate(known)
        else:
            try:
                ruleset = await in_thread(core.candidate, directory)
            except (RuleErrors, OSError) as e:
                self.refused += 1
                log.error("rules change from another worker refused", version=version,
                          origin=message.get("origin"), error=str(e))
                return
            if ruleset.version != version:
                self.refused += 1
                log.error("rules change from another worker not applied: this node's "
                          "rules dir compiles to another version", version=version,
                          here=ruleset.version, dir=directory, origin=message.get("origin"))
                return
            core.activate(ruleset)
            if directory is not None:
                core.rules_dir = directory
        self.applied += 1
        log.info("rules changed by another worker", version=version,
                 origin=message.get("origin"))

    def _warn(self, key: str, text: str, error: BaseException) -> None:
        held = self._quiet.allow(key)
        if held is not None:
            log.warning(text, error=str(error), suppressed=held)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[ChangeStream]:
        """Follow and publish while inside; the core's list changes are published."""
        core = self.core
        core.on_list_change = self.list_changed
        core.sources["changes"] = self.counters
        loop = asyncio.get_running_loop()
        tasks = [loop.create_task(self._follow(), name="changes-follow"),
                 loop.create_task(self._sender(), name="changes-send")]
        try:
            yield self
        finally:
            core.on_list_change = None
            core.sources.pop("changes", None)
            # redis-py can swallow a cancellation that lands while a read ends (its
            # read runs inside a timeout context): measured here, 2-3 XREADs in 100
            # cancelled mid-flight went on looping, and a node's drain waited for
            # them for ever. The flag ends each loop at its next turn (an XREAD
            # returns within BLOCK_MS, or fails within its socket timeout).
            self._stopping = True
            for task in tasks:
                task.cancel()
            done, pending = await asyncio.wait(tasks, timeout=STOP_WAIT)
            for task in done:
                if not task.cancelled() and task.exception() is not None:
                    log.error("change stream task failed", task=task.get_name(),
                              error=repr(task.exception()))
            if pending:  # not seen; said, rather than a drain that never ends
                log.error("change stream: tasks did not stop", tasks=[
                    t.get_name() for t in pending])
            for client in (self._send, self._read):
                with contextlib.suppress(*_ERRORS):
                    await client.aclose()
