"""One downstream bind and its upstream bind (a ``Pair``): the proxy's per-connection
logic. ``_Leg`` is the thin asyncio protocol that moves bytes between a socket and the
pair; everything else here is routing by sequence number, judging messages through
``Proxy.judge``, holding concatenated parts, windows and teardown.
"""

from __future__ import annotations

import asyncio
import struct
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

import structlog

from gateway.model import Action, Direction, SmsBlock, Verdict
from gateway.smpp.codec import encode_header, response_for
from gateway.smpp.concat import Group, Reassembler, message_parts
from gateway.smpp.pdu import RESPONSE_BIT, AlertNotification, CommandId, Pdu, Status, Unbind
from gateway.smpp.session import BadPdu, PduReceived, Role, Session
from gateway.smpp.text import decode_text
from gateway.smpp.translate import MessagePdu, is_receipt

if TYPE_CHECKING:
    from gateway.smpp.proxy import Proxy

__all__ = ["Pair", "ProxyCounters", "leg_factory"]

log = structlog.get_logger("spamgw.smpp")
C = CommandId
_SEQ = struct.Struct(">I")
_MESSAGES = frozenset({C.SUBMIT_SM, C.SUBMIT_MULTI, C.DATA_SM, C.DELIVER_SM})
_BINDS = frozenset({C.BIND_TRANSMITTER, C.BIND_RECEIVER, C.BIND_TRANSCEIVER})
_OWN = -1  # up_pending marker: a request the proxy itself sent (enquire_link)
_OWN_SEQ_START = 0x70000000  # own sequence numbers start far from the ESME's


@dataclass(slots=True)
class ProxyCounters:
    forwarded: int = 0
    rejected: int = 0
    dropped: int = 0
    throttled: int = 0
    temp_errors: int = 0
    receipts: int = 0
    held_parts: int = 0
    binds: int = 0
    bind_refused: int = 0
    bad_pdus: int = 0
    orphan_responses: int = 0


@dataclass(slots=True)
class _Held:
    pdu: MessagePdu
    raw: bytes | memoryview


class _Leg(asyncio.Protocol):
    """Moves bytes between one socket and its pair; no protocol logic here."""

    __slots__ = ("pair", "upstream")

    def __init__(self, pair: Pair, upstream: bool) -> None:
        self.pair = pair
        self.upstream = upstream

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        if self.upstream:
            self.pair.up = transport
        else:
            self.pair.down_made(transport)

    def data_received(self, data: bytes) -> None:
        if self.upstream:
            self.pair.on_up(data)
        else:
            self.pair.on_down(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.upstream:
            self.pair.up_lost(exc)
        else:
            self.pair.down_lost(exc)

    def pause_writing(self) -> None:  # this leg's socket is full: stop reading the other
        self.pair.hold("down_full" if not self.upstream else "up_full", True)

    def resume_writing(self) -> None:
        self.pair.hold("down_full" if not self.upstream else "up_full", False)


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
        self.up_pending: dict[int, tuple[int, int]] = {}  # up seq -> (down seq, command)
        self.down_pending: dict[int, tuple[int, int]] = {}  # down seq -> (up seq, command)
        self.dout: list[bytes | memoryview] = []
        self.uout: list[bytes | memoryview] = []
        self.reasm: Reassembler[_Held] = Reassembler(proxy.config.concat_timeout)
        self.last_up = time.monotonic()
        self.unbind_seq = 0
        self.closed = False
        self._holds: set[str] = set()
        self._reading = True

    # -- byte movement ---------------------------------------------------------------

    def down_made(self, transport: asyncio.Transport) -> None:
        self.down = transport
        peer = transport.get_extra_info("peername")
        self.peer_ip = peer[0] if peer else ""
        self.proxy.pairs.add(self)

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

    def _window(self) -> None:
        full = len(self.up_pending) >= self.proxy.config.window
        if full != ("window" in self._holds):
            self.hold("window", full)

    # -- downstream: the ESME --------------------------------------------------------

    def on_down(self, data: bytes) -> None:
        proxy = self.proxy
        for ev in self.dsess.receive_data(data):
            if isinstance(ev, PduReceived):
                pdu = ev.pdu
                cid = pdu.command_id
                if cid in _MESSAGES:
                    self._message(pdu, ev.raw, Direction.IN)  # type: ignore[arg-type]
                elif cid & RESPONSE_BIT:
                    self._down_response(pdu, ev.raw)
                elif cid == C.ENQUIRE_LINK:
                    self.dout.append(response_for(cid, pdu.sequence_number, Status.ESME_ROK))
                elif cid in _BINDS:
                    self._bind(pdu, ev.raw)
                elif self.up is None:
                    self._refuse(cid, pdu.sequence_number)
                else:  # unbind, query_sm, cancel_sm, replace_sm: pass on
                    self._forward_up(ev.raw, pdu.sequence_number, cid)
            else:
                self._bad(ev, self.dout)
        self.flush()
        self._window()
        if proxy.draining and not self.up_pending:
            proxy.wake()

    def _refuse(self, cid: int, seq: int, status: int | None = None) -> None:
        """Answer a request the SMSC cannot take now with the temporary error."""
        if cid == C.UNBIND:
            self.dout.append(response_for(cid, seq, Status.ESME_ROK))
            self.dsess.sent(C.UNBIND_RESP)
            self._close_soon(0.0)
            return
        self.proxy.counters.temp_errors += 1
        self.dout.append(response_for(cid, seq, status or self.proxy.temp_status))

    def _bad(self, ev: BadPdu, out: list[bytes | memoryview]) -> None:
        self.proxy.counters.bad_pdus += 1
        log.warning("bad pdu", system_id=self.system_id, error=str(ev.error),
                    status=ev.error.command_status, pdu=ev.error.data[:64].hex())
        if ev.reply is not None:
            out.append(ev.reply)
        if ev.error.fatal:
            self.flush()
            self._close_soon(0.0)

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
                asyncio.get_running_loop().create_connection(lambda: _Leg(self, True), host, port),
                proxy.config.upstream.connect_timeout)
        except (OSError, TimeoutError) as e:
            log.warning("upstream connect failed", system_id=self.system_id,
                        upstream=f"{host}:{port}", error=str(e) or type(e).__name__)
            self._uncount()
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
        self.up_pending[seq] = (seq, cid)
        self.usess.sent(cid)
        self.uout.append(raw)
        self.flush()

    def _uncount(self) -> None:
        if self.counted:
            self.counted = False
            self.proxy.limits.unbound(self.system_id)

    def _down_response(self, pdu: Pdu, raw: bytes | memoryview) -> None:
        seq = pdu.sequence_number
        if pdu.command_id == C.UNBIND_RESP and seq == self.unbind_seq and self.unbind_seq:
            self._close_soon(0.0)
            return
        entry = self.down_pending.pop(seq, None)
        if entry is None:
            self.proxy.counters.orphan_responses += 1
            return
        self._put(self.uout, raw, entry[0], seq)

    # -- upstream: the SMSC ----------------------------------------------------------

    def on_up(self, data: bytes) -> None:
        self.last_up = time.monotonic()
        for ev in self.usess.receive_data(data):
            if isinstance(ev, PduReceived):
                pdu = ev.pdu
                cid = pdu.command_id
                if cid & RESPONSE_BIT:
                    self._up_response(pdu, ev.raw)
                elif cid == C.DELIVER_SM or cid == C.DATA_SM:
                    if is_receipt(pdu):  # type: ignore[arg-type]
                        self.proxy.counters.receipts += 1
                        self._forward_down(ev.raw, pdu.sequence_number, cid)
                    else:
                        self._message(pdu, ev.raw, Direction.OUT)  # type: ignore[arg-type]
                elif cid == C.ENQUIRE_LINK:
                    self.uout.append(response_for(cid, pdu.sequence_number, Status.ESME_ROK))
                elif isinstance(pdu, AlertNotification):
                    self.dout.append(ev.raw)  # no response exists for it
                elif cid == C.UNBIND:
                    self._forward_down(ev.raw, pdu.sequence_number, cid)
                else:
                    log.warning("unexpected pdu from smsc", system_id=self.system_id,
                                command_id=hex(cid))
            else:
                self._bad(ev, self.uout)
        self.flush()
        self._window()
        if self.proxy.draining and not self.up_pending:
            self.proxy.wake()

    def _up_response(self, pdu: Pdu, raw: bytes | memoryview) -> None:
        seq = pdu.sequence_number
        entry = self.up_pending.pop(seq, None)
        if entry is None:
            self.proxy.counters.orphan_responses += 1
            return
        down_seq, cid = entry
        if down_seq == _OWN:
            return
        self._put(self.dout, raw, down_seq, seq)
        status = pdu.command_status
        if cid in _BINDS:
            self.dsess.sent(pdu.command_id, status)
            self.hold("bind", False)
            if status == Status.ESME_ROK:
                self.proxy.counters.binds += 1
            else:
                self._uncount()
                self.flush()
                if self.up is not None:
                    self.up.close()
        elif cid == C.UNBIND:
            self.dsess.sent(C.UNBIND_RESP)
            self.flush()
            self._close_soon(0.0)

    # -- forwarding ------------------------------------------------------------------

    @staticmethod
    def _put(out: list[bytes | memoryview], raw: bytes | memoryview, seq: int, was: int) -> None:
        if seq == was:
            out.append(raw)
        else:
            out += (raw[:12], _SEQ.pack(seq), raw[16:])

    def _forward_up(self, raw: bytes | memoryview, seq: int, cid: int) -> None:
        pending = self.up_pending
        up_seq = seq
        while up_seq in pending:
            up_seq = self.usess.next_sequence()
        pending[up_seq] = (seq, cid)
        self._put(self.uout, raw, up_seq, seq)

    def _forward_down(self, raw: bytes | memoryview, seq: int, cid: int) -> None:
        pending = self.down_pending
        down_seq = seq
        while down_seq in pending:
            down_seq = self.dsess.next_sequence()
        pending[down_seq] = (seq, cid)
        self._put(self.dout, raw, down_seq, seq)

    # -- judging ---------------------------------------------------------------------

    def _message(self, pdu: MessagePdu, raw: bytes | memoryview, direction: Direction) -> None:
        proxy = self.proxy
        if direction is Direction.IN:
            if self.up is None or proxy.draining:
                self._refuse(pdu.command_id, pdu.sequence_number)
                return
            bucket = proxy.limits.bucket(self.system_id) if proxy.limits.clients else None
            if bucket is not None and not bucket.take(time.monotonic()):
                proxy.counters.throttled += 1
                self.dout.append(response_for(pdu.command_id, pdu.sequence_number,
                                              Status.ESME_RTHROTTLED))
                return
        sm: bytes = getattr(pdu, "short_message", b"")
        concat, udh, data = message_parts(pdu.esm_class, sm, pdu.tlvs)
        text = decode_text(data, pdu.data_coding)
        held = _Held(pdu, raw)
        if concat is None:
            self._apply(proxy.judge(pdu, text, direction, self.system_id, 1, udh is not None),
                        (held,), direction)
            return
        key = (direction, pdu.source_addr, getattr(pdu, "destination_addr", ""), concat.ref,
               concat.total)
        settled = self.reasm.settled(key)
        if settled is not None:  # a straggler of a group already judged
            self._apply(settled, (held,), direction)
            return
        if not isinstance(raw, bytes):
            held.raw = bytes(raw)  # held past this read: do not pin the whole chunk
        group = self.reasm.add(key, concat, text, held, time.monotonic())
        if group is None:
            proxy.counters.held_parts += 1
            return
        self._judge_group(group)

    def _judge_group(self, group: Group[_Held]) -> None:
        items = group.ordered()
        first = items[0].pdu
        direction: Direction = group.key[0]  # type: ignore[index]
        verdict = self.proxy.judge(first, group.text, direction, self.system_id, group.total,
                                   True)
        self.reasm.settle(group.key, verdict, time.monotonic())
        self._apply(verdict, items, direction)

    def _apply(self, verdict: Verdict, items: tuple[_Held, ...] | list[_Held],
               direction: Direction) -> None:
        counters = self.proxy.counters
        if verdict.action is not Action.BLOCK:
            for h in items:
                if direction is Direction.IN:
                    self._forward_up(h.raw, h.pdu.sequence_number, h.pdu.command_id)
                else:
                    self._forward_down(h.raw, h.pdu.sequence_number, h.pdu.command_id)
            counters.forwarded += len(items)
            return
        out = self.dout if direction is Direction.IN else self.uout
        for h in items:
            if verdict.sms_block is SmsBlock.DROP:
                counters.dropped += 1
                out.append(response_for(h.pdu.command_id, h.pdu.sequence_number,
                                        Status.ESME_ROK, self.proxy.message_id()))
            else:
                counters.rejected += 1
                out.append(response_for(h.pdu.command_id, h.pdu.sequence_number,
                                        verdict.sms_status))

    def tick(self, now: float) -> None:
        """Periodic work: concat timeouts, upstream keepalive."""
        if len(self.reasm):
            for group in self.reasm.expire(now):
                self._judge_group(group)
        else:
            self.reasm.expire(now)
        if (self.up is not None and self.usess.bound
                and now - self.last_up >= self.proxy.config.enquire_link_interval):
            self.last_up = now
            seq = self.usess.next_sequence()
            while seq in self.up_pending:
                seq = self.usess.next_sequence()
            self.up_pending[seq] = (_OWN, C.ENQUIRE_LINK)
            self.uout.append(encode_header(C.ENQUIRE_LINK, Status.ESME_ROK, seq))
        self.flush()

    # -- teardown --------------------------------------------------------------------

    def up_lost(self, exc: Exception | None) -> None:
        self.up = None
        if self.closed:
            return
        if exc is not None or self.dsess.bound:
            log.warning("upstream lost", system_id=self.system_id,
                        outstanding=len(self.up_pending), error=str(exc) if exc else "eof")
        for down_seq, cid in self.up_pending.values():
            if down_seq == _OWN:
                continue
            if cid in _BINDS:
                self._uncount()
                self.hold("bind", False)
                self.dout.append(response_for(cid, down_seq, Status.ESME_RBINDFAIL))
            else:
                self._refuse(cid, down_seq)
        self.up_pending.clear()
        self.down_pending.clear()
        self._release_held()
        if self.dsess.bound:
            self.unbind_seq = self.dsess.next_sequence()
            self.dout.append(self.dsess.send(Unbind(sequence_number=self.unbind_seq)))
            self._close_soon(2.0)
        self.flush()
        self._window()
        if self.proxy.draining:
            self.proxy.wake()

    def _release_held(self) -> None:
        for group in self.reasm.drain():
            for h in group.ordered():
                if group.key[0] is Direction.IN:  # type: ignore[index]
                    self._refuse(h.pdu.command_id, h.pdu.sequence_number)

    def down_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.proxy.pairs.discard(self)
        self._uncount()
        if self.connecting is not None:
            self.connecting.cancel()
        if self.up_pending:
            log.warning("esme left with requests outstanding", system_id=self.system_id,
                        outstanding=len(self.up_pending))
        if self.up is not None:
            if self.usess.bound:
                self.up.write(self.usess.send(Unbind()))
            self.up.close()
        self.proxy.wake()

    def _close_soon(self, delay: float) -> None:
        def close() -> None:
            if self.down is not None:
                self.down.close()
            if self.up is not None:
                self.up.close()

        if delay <= 0:
            self.flush()
            close()
        else:
            asyncio.get_running_loop().call_later(delay, close)

    def shutdown(self) -> None:
        """End of drain: answer what is still held, unbind both legs, close."""
        self._release_held()
        for down_seq, cid in list(self.up_pending.values()):
            if down_seq != _OWN:
                self._refuse(cid, down_seq)
        self.up_pending.clear()
        if self.dsess.bound:
            self.unbind_seq = self.dsess.next_sequence()
            self.dout.append(self.dsess.send(Unbind(sequence_number=self.unbind_seq)))
        if self.up is not None and self.usess.bound:
            self.uout.append(self.usess.send(Unbind()))
        self.flush()
        self._close_soon(1.0)



def leg_factory(proxy: Proxy) -> _Leg:
    """The protocol for a new downstream connection (``loop.create_server``)."""
    return _Leg(Pair(proxy), False)

