"""One downstream bind and its upstream bind (a ``Pair``): routing by sequence number.

Each leg's socket is a thin ``Leg`` protocol (``gateway.smpp.leg``) that hands its
bytes here. ``Pair`` routes requests and responses between the legs by sequence
number, answers enquire_link per leg and keeps the window (and backpressure).
Message PDUs go to the pair's ``Judging`` (``gateway.smpp.judging``), which calls back
``forward_up`` / ``forward_down`` or answers the sender itself; unanswered requests
and teardown are in ``gateway.smpp.teardown``.
"""

from __future__ import annotations

import asyncio
import struct
import time
from collections import deque
from typing import TYPE_CHECKING

import structlog

from gateway.model import Direction
from gateway.smpp.codec import encode_header, response_for
from gateway.smpp.judging import Judging
from gateway.smpp.leg import Leg
from gateway.smpp.multi import add_unsuccess
from gateway.smpp.pdu import (
    RESPONSE_BIT,
    AlertNotification,
    CommandId,
    Pdu,
    Status,
    UnsuccessSme,
)
from gateway.smpp.session import BadPdu, PduReceived, Role, Session
from gateway.smpp.teardown import (
    BINDS,
    OWN,
    close_silent,
    close_soon,
    expire_down,
    expire_requests,
)
from gateway.smpp.translate import is_receipt

if TYPE_CHECKING:
    from gateway.smpp.proxy import Proxy

__all__ = ["Pair"]

log = structlog.get_logger("spamgw.smpp")
C = CommandId
_SEQ = struct.Struct(">I")
_MESSAGES = frozenset({C.SUBMIT_SM, C.SUBMIT_MULTI, C.DATA_SM, C.DELIVER_SM, C.REPLACE_SM})
_OWN_SEQ_START = 0x70000000  # own sequence numbers start far from the ESME's


class Pair:
    """One downstream bind and its upstream bind."""

    def __init__(self, proxy: Proxy) -> None:
        self.proxy = proxy
        self.down: asyncio.Transport | None = None
        self.up: asyncio.Transport | None = None
        self.dsess = Session(Role.SMSC, _OWN_SEQ_START)
        self.usess = Session(Role.ESME, _OWN_SEQ_START)
        self.system_id = ""
        self.peer_ip = ""
        self.counted = False
        self.connecting: asyncio.Task[None] | None = None
        # up seq -> (down seq, command, monotonic time sent); insertion order is send
        # order, so the oldest requests are at the front
        self.up_pending: dict[int, tuple[int, int, float]] = {}
        # down seq -> (up seq, command, monotonic time sent); send order, as up_pending
        self.down_pending: dict[int, tuple[int, int, float]] = {}
        self.timed_out: dict[int, float] = {}  # up seq -> when; reserved until forgotten
        self.down_timed_out: dict[int, float] = {}  # down seq -> when; the same
        self.multi_failed: dict[int, tuple[UnsuccessSme, ...]] = {}  # up seq -> rejected
        # requests judged and due upstream while the window is full, in order:
        # (raw, down seq, command, rejected destinations); reading waits meanwhile
        self.waiting: deque[tuple[bytes | memoryview, int, int, tuple[UnsuccessSme, ...]]] \
            = deque()
        self.dout: list[bytes | memoryview] = []
        self.uout: list[bytes | memoryview] = []
        self.judging = Judging(self)
        self.now = self.last_up = time.monotonic()
        self.unbind_seq = 0
        self.closed = False
        self.admitted = False  # counted in the proxy's connection caps
        self.opened = self.last_down = self.now  # last_down: when the ESME last spoke
        self.probe_seq = 0  # an enquire_link the proxy sent a silent ESME
        self.probe_sent = 0.0
        self._holds: set[str] = set()
        self._reading = True

    # -- byte movement ---------------------------------------------------------------

    def down_made(self, transport: asyncio.Transport) -> None:
        self.down = transport
        peer = transport.get_extra_info("peername")
        self.peer_ip = peer[0] if peer else ""
        proxy = self.proxy
        reason = proxy.admit(self.peer_ip)
        if reason is not None:  # over a connection cap: closed before a byte is read
            self.closed = True
            proxy.counters.connections_refused += 1
            proxy.warn("refused", "smpp connection refused", peer=self.peer_ip, reason=reason)
            transport.abort()
            return
        self.admitted = True
        proxy.pairs.add(self)

    def flush(self) -> None:
        if self.dout:
            if self.down is not None:
                self.down.write(b"".join(self.dout))
            self.dout.clear()
        if self.uout:
            if self.up is not None:
                self.up.write(b"".join(self.uout))
            self.uout.clear()

    def hold(self, reason: str, on: bool) -> None:
        """Stop (or resume) reading from the ESME for ``reason``."""
        if on:
            self._holds.add(reason)
        else:
            self._holds.discard(reason)
        reading = not self._holds
        if reading != self._reading and self.down is not None and not self.closed:
            self._reading = reading
            if reading:
                self.down.resume_reading()
            else:
                self.down.pause_reading()
        if reason == "down_full" and self.up is not None and not self.closed:
            # the ESME is not reading: stop taking deliver_sm from the SMSC
            if on:
                self.up.pause_reading()
            else:
                self.up.resume_reading()

    @property
    def reading(self) -> bool:
        """The ESME's socket is read (not paused by the window or backpressure)."""
        return self._reading

    def update_window(self) -> None:
        """Send what waits for room in the window; stop reading the ESME while
        anything still waits or the window is full."""
        window = self.proxy.config.window
        waiting = self.waiting
        if waiting and self.up is not None and len(self.up_pending) < window:
            while waiting and len(self.up_pending) < window:
                self._send_up(*waiting.popleft())
            self.flush()
        full = bool(waiting) or len(self.up_pending) >= window
        if full != ("window" in self._holds):
            self.hold("window", full)

    # -- downstream: the ESME --------------------------------------------------------

    def on_down(self, data: bytes) -> None:
        proxy = self.proxy
        self.now = self.last_down = time.monotonic()
        self.probe_sent = 0.0
        for ev in self.dsess.receive_data(data):
            if isinstance(ev, PduReceived):
                pdu = ev.pdu
                cid = pdu.command_id
                if cid in _MESSAGES:
                    self._message(pdu, ev.raw)
                elif cid & RESPONSE_BIT:
                    self._down_response(pdu, ev.raw)
                elif cid == C.ENQUIRE_LINK:
                    self.dout.append(response_for(cid, pdu.sequence_number, Status.ESME_ROK))
                elif cid in BINDS:
                    self._bind(pdu, ev.raw)
                elif self.up is None:
                    self.refuse(cid, pdu.sequence_number)
                else:  # unbind, query_sm, cancel_sm: pass on
                    self.forward_up(ev.raw, pdu.sequence_number, cid)
            else:
                self._bad(ev, self.dout)
        self.flush()
        self.update_window()
        if proxy.draining and not self.up_pending and not self.waiting:
            proxy.wake()

    def refuse(self, cid: int, seq: int, status: int | None = None) -> None:
        """Answer a request the SMSC cannot take now with the temporary error."""
        if cid == C.UNBIND:
            self.dout.append(response_for(cid, seq, Status.ESME_ROK))
            self.dsess.sent(C.UNBIND_RESP)
            close_soon(self, 0.0)
            return
        self.proxy.counters.temp_errors += 1
        self.dout.append(response_for(cid, seq, status or self.proxy.temp_status))

    def _bad(self, ev: BadPdu, out: list[bytes | memoryview]) -> None:
        self.proxy.counters.bad_pdus += 1
        err = ev.error
        self.proxy.warn(f"bad pdu {self.system_id}", "bad pdu", system_id=self.system_id,
                        error=str(err), status=err.command_status,
                        command_id=hex(err.command_id), pdu=_loggable(err.data))
        if ev.reply is not None:
            out.append(ev.reply)
        if ev.error.fatal:
            self.flush()
            close_soon(self, 0.0)

    def _bind(self, pdu: Pdu, raw: bytes | memoryview) -> None:
        cid, seq = pdu.command_id, pdu.sequence_number
        if self.up is not None or self.connecting is not None:
            self.dout.append(response_for(cid, seq, Status.ESME_RALYBND))
            return
        system_id: str = getattr(pdu, "system_id", "")
        reason = self.proxy.limits.refuse_bind(system_id, self.peer_ip)
        if reason is not None:
            self.proxy.counters.bind_refused += 1
            log.warning("bind refused", system_id=system_id, peer=self.peer_ip, reason=reason)
            self.dout.append(response_for(cid, seq, Status.ESME_RBINDFAIL))
            return
        self.counted = True
        self.system_id = system_id
        self.hold("bind", True)
        self.connecting = asyncio.get_running_loop().create_task(
            self._connect(bytes(raw), cid, seq))

    async def _connect(self, raw: bytes, cid: int, seq: int) -> None:
        proxy = self.proxy
        host, port = proxy.upstream
        try:
            await asyncio.wait_for(
                asyncio.get_running_loop().create_connection(
                    lambda: Leg(self, True), host, port, ssl=proxy.upstream_tls,
                    server_hostname=host if proxy.upstream_tls is not None else None),
                proxy.config.upstream.connect_timeout)
        except (OSError, TimeoutError) as e:  # ssl.SSLError (a bad certificate) is one
            log.warning("upstream connect failed", system_id=self.system_id,
                        upstream=f"{host}:{port}", error=str(e) or type(e).__name__)
            self.uncount()
            self.dout.append(response_for(cid, seq, Status.ESME_RBINDFAIL))
            self.connecting = None
            self.hold("bind", False)
            self.flush()
            return
        finally:
            self.connecting = None
        if self.closed:
            if self.up is not None:
                self.up.close()
            return
        self.up_pending[seq] = (seq, cid, time.monotonic())
        self.usess.sent(cid)
        self.uout.append(raw)
        self.flush()

    def uncount(self) -> None:
        if self.counted:
            self.counted = False
            self.proxy.limits.unbound(self.system_id)

    def _down_response(self, pdu: Pdu, raw: bytes | memoryview) -> None:
        seq = pdu.sequence_number
        if pdu.command_id == C.UNBIND_RESP and seq == self.unbind_seq and self.unbind_seq:
            close_soon(self, 0.0)
            return
        if pdu.command_id == C.ENQUIRE_LINK_RESP and seq == self.probe_seq and seq:
            self.probe_seq = 0  # the answer to the proxy's own probe
            return
        entry = self.down_pending.pop(seq, None)
        if entry is None:
            if self.down_timed_out.pop(seq, None) is not None:
                self.proxy.counters.esme_late_responses += 1  # answered: never twice
            else:
                self.proxy.counters.orphan_responses += 1
            return
        self._put(self.uout, raw, entry[0], seq)

    def _message(self, pdu: Pdu, raw: bytes | memoryview) -> None:
        proxy = self.proxy
        if self.up is None or proxy.draining:
            self.refuse(pdu.command_id, pdu.sequence_number)
            return
        if proxy.limits.clients:
            bucket = proxy.limits.bucket(self.system_id)
            if bucket is not None and not bucket.take(self.now):
                proxy.counters.throttled += 1
                self.dout.append(response_for(pdu.command_id, pdu.sequence_number,
                                              Status.ESME_RTHROTTLED))
                return
        self.judging.message(pdu, raw, Direction.IN)  # type: ignore[arg-type]

    # -- upstream: the SMSC ----------------------------------------------------------

    def on_up(self, data: bytes) -> None:
        self.now = self.last_up = time.monotonic()  # now: forward_down's send time
        for ev in self.usess.receive_data(data):
            if isinstance(ev, PduReceived):
                pdu = ev.pdu
                cid = pdu.command_id
                if cid & RESPONSE_BIT:
                    self._up_response(pdu, ev.raw)
                elif cid == C.DELIVER_SM or cid == C.DATA_SM:
                    if is_receipt(pdu):  # type: ignore[arg-type]
                        self.proxy.counters.receipts += 1
                        self.forward_down(ev.raw, pdu.sequence_number, cid)
                    else:  # MO: a subscriber's message
                        self.judging.message(pdu, ev.raw, Direction.OUT)  # type: ignore[arg-type]
                elif cid == C.ENQUIRE_LINK:
                    self.uout.append(response_for(cid, pdu.sequence_number, Status.ESME_ROK))
                elif isinstance(pdu, AlertNotification):
                    self.dout.append(ev.raw)  # no response exists for it
                elif cid == C.UNBIND:
                    self.forward_down(ev.raw, pdu.sequence_number, cid)
                else:
                    log.warning("unexpected pdu from smsc", system_id=self.system_id,
                                command_id=hex(cid))
            else:
                self._bad(ev, self.uout)
        self.flush()
        self.update_window()
        if self.proxy.draining and not self.up_pending and not self.waiting:
            self.proxy.wake()

    def _up_response(self, pdu: Pdu, raw: bytes | memoryview) -> None:
        seq = pdu.sequence_number
        entry = self.up_pending.pop(seq, None)
        if entry is None:
            if self.timed_out.pop(seq, None) is not None:
                self.proxy.counters.late_responses += 1  # already answered: never twice
            else:
                self.proxy.counters.orphan_responses += 1
            return
        down_seq, cid, _sent = entry
        if down_seq == OWN:
            return
        status = pdu.command_status
        if self.multi_failed:
            failed = self.multi_failed.pop(seq, None)
            if failed and status == Status.ESME_ROK and cid == C.SUBMIT_MULTI:
                raw = add_unsuccess(raw, failed)
        self._put(self.dout, raw, down_seq, seq)
        if cid in BINDS:
            self.dsess.sent(pdu.command_id, status)
            self.hold("bind", False)
            if status == Status.ESME_ROK:
                self.proxy.counters.binds += 1
            else:
                self.uncount()
                self.flush()
                if self.up is not None:
                    self.up.close()
        elif cid == C.UNBIND:
            self.dsess.sent(C.UNBIND_RESP)
            self.flush()
            close_soon(self, 0.0)

    # -- forwarding ------------------------------------------------------------------

    @staticmethod
    def _put(out: list[bytes | memoryview], raw: bytes | memoryview, seq: int, was: int) -> None:
        if seq == was:
            out.append(raw)
        else:
            out += (raw[:12], _SEQ.pack(seq), raw[16:])

    def forward_up(self, raw: bytes | memoryview, seq: int, cid: int,
                   multi_failed: tuple[UnsuccessSme, ...] = ()) -> None:
        """Send a request to the SMSC, or queue it while the window is full (every
        PDU counts: a whole read, or a concatenated message released at once, never
        takes the SMSC past ``[smpp] window``); ``multi_failed``: destinations of a
        submit_multi the proxy rejected, added to the SMSC's response."""
        if self.waiting or len(self.up_pending) >= self.proxy.config.window:
            self.waiting.append((raw, seq, cid, multi_failed))
            if "window" not in self._holds:
                self.hold("window", True)
            return
        self._send_up(raw, seq, cid, multi_failed)

    def _send_up(self, raw: bytes | memoryview, seq: int, cid: int,
                 multi_failed: tuple[UnsuccessSme, ...]) -> None:
        pending = self.up_pending
        up_seq = seq
        while up_seq in pending or up_seq in self.timed_out:
            up_seq = self.usess.next_sequence()
        pending[up_seq] = (seq, cid, self.now)
        if multi_failed:
            self.multi_failed[up_seq] = multi_failed
        self._put(self.uout, raw, up_seq, seq)

    def forward_down(self, raw: bytes | memoryview, seq: int, cid: int) -> None:
        pending = self.down_pending
        down_seq = seq
        while down_seq in pending or down_seq in self.down_timed_out:
            down_seq = self.dsess.next_sequence()
        pending[down_seq] = (seq, cid, self.now)
        self._put(self.dout, raw, down_seq, seq)

    def tick(self, now: float) -> None:
        """Periodic work: concat timeouts, response timeouts (both legs), upstream
        keepalive."""
        self.now = now
        config = self.proxy.config
        if self.down is not None and not self.closed and close_silent(self, now):
            return
        self.judging.expire(now)
        if self.up_pending:
            expire_requests(self, now)
        if self.down_pending:
            expire_down(self, now)
        if self.timed_out:
            _forget(self.timed_out, now - 2 * config.upstream.response_timeout)
        if self.down_timed_out:
            _forget(self.down_timed_out, now - 2 * config.esme_response_timeout)
        if (self.up is not None and self.usess.bound
                and now - self.last_up >= config.enquire_link_interval):
            self.last_up = now
            seq = self.usess.next_sequence()
            while seq in self.up_pending:
                seq = self.usess.next_sequence()
            self.up_pending[seq] = (OWN, C.ENQUIRE_LINK, now)
            self.uout.append(encode_header(C.ENQUIRE_LINK, Status.ESME_ROK, seq))
        self.flush()


#: bind PDUs carry a password: logged as their header only
_SECRET = frozenset({C.BIND_TRANSMITTER, C.BIND_RECEIVER, C.BIND_TRANSCEIVER, C.OUTBIND})


def _loggable(data: bytes) -> str:
    """The hex of a bad PDU for the log: at most 64 bytes, and of a bind (or outbind)
    the 16-byte header only: its body has the password."""
    if len(data) < 8 or int.from_bytes(data[4:8], "big") in _SECRET:
        return data[:16].hex()
    return data[:64].hex()


def _forget(reserved: dict[int, float], before: float) -> None:
    """Free the sequence numbers of requests timed out before ``before``."""
    for s in [s for s, t in reserved.items() if t < before]:
        del reserved[s]
