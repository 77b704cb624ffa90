"""The SMPP relay, sans-IO: one ESME's bind and the upstream bind made for it.

Bytes and ``now`` go in, actions come out (after aioquic's ``QuicConnection``): the
asyncio shell (``gateway.smpp.proxy``) feeds what each socket received
(``receive_down``, ``receive_up``) and what happened to the sockets (``up_connected``,
``up_failed``, ``up_lost``, ``down_lost``, ``writing_paused``), calls
``handle_timer(now)`` at ``next_deadline()``, and carries out ``actions()``: ``Send``
bytes to a side, ``PauseReading`` / ``ResumeReading`` a side, ``Close`` a side,
``ConnectUpstream``, and ``Resubmitted`` (the SMSC's answer to a message the gateway
released from quarantine). Nothing here reads a clock, a socket or an event loop.

The two halves are two ``Side`` objects of one kind: ``down`` (the ESME; our session
plays the SMSC) and ``up`` (the SMSC; our session plays the ESME). Each keeps the
requests sent to its peer and not yet answered, in send order, and the sequence
numbers of those it gave up on. Requests and responses are routed by sequence number
(rewritten in place only on a collision); message PDUs are judged
(``gateway.smpp.judging``) and forwarded, or answered here.

What the relay keeps, in one place:

- the window: at most ``[smpp] window`` requests outstanding at the SMSC, counted per
  PDU; what is judged while the window is full waits in order, and the ESME is not
  read meanwhile; backpressure both ways (a full socket stops the other side's reading);
- ``upstream.response_timeout``: a request the SMSC has not answered in time gets the
  temporary error (``upstream.temporary_error_status``, 0x58 by default) so the ESME
  resends it; its sequence number stays reserved for twice the timeout and a second
  more (``gateway.smpp.side.RESERVE``), and a
  response arriving in that time is dropped and counted (``late_responses``), never
  passed on as a second answer. A bind left unanswered gets ESME_RBINDFAIL;
- ``esme_response_timeout``: the other way round, a deliver_sm or data_sm (MO or
  receipt) the ESME has not answered in time is answered to the SMSC with the same
  temporary error, so the SMSC delivers it again, with the same reservation
  (``esme_late_responses``). An unbind from the SMSC left unanswered is answered
  unbind_resp and the relay closed;
- ``bind_timeout``: a connection not bound in time (silent, or a bind sent a byte at
  a time) is closed; ``idle_timeout``: a bound ESME silent that long (while it is
  read) gets an enquire_link, and silent ``esme_response_timeout`` more is closed;
- the upstream enquire_link every ``enquire_link_interval``;
- concatenated parts held until the group is complete or ``concat_timeout``;
- upstream lost: every outstanding request gets the temporary error, held parts and
  requests waiting for room in the window too, and the ESME is unbound cleanly;
  ESME gone: the upstream is unbound and closed; shutdown (after the drain): whatever
  is left gets the temporary error, both sides are unbound and closed.
"""

from __future__ import annotations

import math
import struct
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog

from gateway.config import SmppConfig
from gateway.model import Direction
from gateway.smpp.actions import (
    DOWN,
    UP,
    Action,
    Close,
    ConnectUpstream,
    PauseReading,
    Resubmitted,
    ResumeReading,
    Send,
)
from gateway.smpp.codec import encode_header, response_for
from gateway.smpp.counters import ProxyCounters
from gateway.smpp.judging import Forward, JudgeFn, Judging, Outcome
from gateway.smpp.limits import ClientLimits
from gateway.smpp.multi import add_unsuccess
from gateway.smpp.pdu import (
    RESPONSE_BIT,
    AlertNotification,
    CommandId,
    Pdu,
    Status,
    Unbind,
    UnsuccessSme,
)
from gateway.smpp.session import BadPdu, PduReceived, Role, State
from gateway.smpp.side import Side, put
from gateway.smpp.translate import is_receipt

__all__ = ["Relay", "Shared"]

log = structlog.get_logger("spamgw.smpp")
C = CommandId
_MESSAGES = frozenset({C.SUBMIT_SM, C.SUBMIT_MULTI, C.DATA_SM, C.DELIVER_SM, C.REPLACE_SM})
BINDS = frozenset({C.BIND_TRANSMITTER, C.BIND_RECEIVER, C.BIND_TRANSCEIVER})
#: origin of a request the relay itself sent (enquire_link); below it, ``-token`` of a
#: message released from quarantine
OWN = -1
_CAN_SUBMIT = (State.BOUND_TX, State.BOUND_TRX)
_BOUND = (State.BOUND_TX, State.BOUND_RX, State.BOUND_TRX)  # ``Session.bound``
#: bind PDUs carry a password: logged as their header only
_SECRET = frozenset({C.BIND_TRANSMITTER, C.BIND_RECEIVER, C.BIND_TRANSCEIVER, C.OUTBIND})


def _warn_always(key: str, message: str, **fields: Any) -> None:
    log.warning(message, **fields)


@dataclass(slots=True)
class Shared:
    """What the relays of one listener share: the config, the judge, client limits,
    counters, gateway message ids, a rate-limited warning, and whether the listener
    drains (no new messages are taken then)."""

    config: SmppConfig
    judge: JudgeFn
    limits: ClientLimits = field(default_factory=ClientLimits)
    counters: ProxyCounters = field(default_factory=ProxyCounters)
    #: ``warn(key, message, **fields)``: a warning logged at most so often per key
    warn: Callable[..., None] = _warn_always
    draining: bool = False
    _msgid: int = 0

    def message_id(self) -> str:
        self._msgid += 1
        return f"gw{self._msgid:08x}"


class Relay:
    """One downstream bind and its upstream bind, sans-IO."""

    def __init__(self, shared: Shared, now: float, peer_ip: str = "") -> None:
        config = shared.config
        self.shared = shared
        self.config = config
        self.counters = shared.counters
        self.peer_ip = peer_ip
        self.down = Side(DOWN, Role.SMSC, config.esme_response_timeout, now)
        self.up = Side(UP, Role.ESME, config.upstream.response_timeout, now)
        self.judging = Judging(shared.judge, shared.counters, shared.message_id,
                               config.concat_timeout)
        self.system_id = ""
        self.counted = False  # counted in the client's max_binds
        self.up_open = False  # the upstream connection is there
        self.connecting = False
        self._bind: tuple[bytes, int, int] | None = None  # waits for the connection
        self.multi_failed: dict[int, tuple[UnsuccessSme, ...]] = {}  # up seq -> rejected
        # requests judged and due upstream while the window is full, in order:
        # (raw, its seq, origin, command, rejected destinations); the ESME waits meanwhile
        self.waiting: deque[tuple[bytes | memoryview, int, int, int,
                                  tuple[UnsuccessSme, ...]]] = deque()
        self.unbind_seq = 0
        self.closed = False  # the ESME is gone
        self.opened = now
        self.probe_seq = 0  # an enquire_link sent to a silent ESME
        self.probe_sent = 0.0
        self.close_at = math.inf
        self._holds: set[str] = set()
        self._reading = True
        self._actions: list[Action] = []

    # -- the interface -------------------------------------------------------------

    def actions(self) -> list[Action]:
        """What to do now, in order; the bytes queued for each side come last."""
        self._flush()
        out, self._actions = self._actions, []
        return out

    @property
    def reading(self) -> bool:
        """The ESME's socket is read (not paused by the window or backpressure)."""
        return self._reading

    @property
    def busy(self) -> bool:
        """Requests are outstanding at the SMSC or wait for room (the drain waits)."""
        return bool(self.up.pending or self.waiting)

    @property
    def can_submit(self) -> bool:
        """Bound to the SMSC as a transmitter: a released message can go."""
        return (self.up_open and not self.closed and not self.shared.draining
                and self.up.session.state in _CAN_SUBMIT)

    def next_deadline(self) -> float | None:
        """When ``handle_timer`` has work next (``None``: no timer needed).

        The shell asks after every read (twice a message): written out, without
        ``min`` calls or the sides' ``deadline`` methods, it costs a third of what it
        did (the same deadline: ``tests/smpp/test_smpp_relay_machine.py`` holds it to
        the plain formula)."""
        at = self.close_at
        up, down = self.up, self.down
        for _origin, _cid, sent in up.pending.values():  # the oldest request
            t = sent + up.timeout
            if t < at:
                at = t
            break
        for when in up.timed_out.values():  # the oldest reservation
            t = when + up.reserve
            if t < at:
                at = t
            break
        for _origin, _cid, sent in down.pending.values():
            t = sent + down.timeout
            if t < at:
                at = t
            break
        for when in down.timed_out.values():
            t = when + down.reserve
            if t < at:
                at = t
            break
        held = self.judging.reasm.next_deadline()
        if held is not None and held < at:
            at = held
        config = self.config
        dstate = down.session.state
        if dstate in _BOUND:
            if self._reading:
                t = (self.probe_sent + config.esme_response_timeout if self.probe_sent
                     else down.last + config.idle_timeout)
                if t < at:
                    at = t
        elif not self.closed and not self.up_open and not self.connecting \
                and dstate is State.OPEN:
            t = self.opened + config.bind_timeout
            if t < at:
                at = t
        if self.up_open and up.session.state in _BOUND:
            t = up.last + config.enquire_link_interval
            if t < at:
                at = t
        return None if at == math.inf else at

    def _flush(self) -> None:
        for side in (self.down, self.up):
            if side.out:
                self._actions.append(Send(side.name, b"".join(side.out)))
                side.out.clear()

    def _close_now(self) -> None:
        self._flush()
        self._actions += (Close(DOWN), Close(UP))

    def _close_later(self, now: float, delay: float) -> None:
        self.close_at = min(self.close_at, now + delay)

    def hold(self, reason: str, on: bool, now: float) -> None:
        """Stop (or resume) reading the ESME for ``reason``."""
        if on:
            self._holds.add(reason)
        else:
            self._holds.discard(reason)
        reading = not self._holds
        if reading != self._reading and not self.closed:
            self._reading = reading
            if reading:
                self.down.last = now  # not read by choice is not silence
                self._actions.append(ResumeReading(DOWN))
            else:
                self._actions.append(PauseReading(DOWN))
        if reason == "down_full" and self.up_open and not self.closed:
            # the ESME is not reading: stop taking deliver_sm from the SMSC
            self._actions.append(PauseReading(UP) if on else ResumeReading(UP))

    def writing_paused(self, side: str, paused: bool, now: float) -> None:
        """The socket to ``side`` is full (or has room again): stop (resume) reading
        the other one."""
        self.hold("down_full" if side == DOWN else "up_full", paused, now)

    def _update_window(self, now: float) -> None:
        """Send what waits for room in the window; stop reading the ESME while
        anything still waits or the window is full."""
        window = self.config.window
        waiting, pending = self.waiting, self.up.pending
        if waiting and self.up_open and len(pending) < window:
            while waiting and len(pending) < window:
                raw, seq, origin, cid, failed = waiting.popleft()
                up_seq = self.up.request(raw, seq, origin, cid, now)
                if failed:
                    self.multi_failed[up_seq] = failed
        full = bool(waiting) or len(pending) >= window
        if full != ("window" in self._holds):
            self.hold("window", full, now)

    # -- downstream: the ESME ------------------------------------------------------

    def receive_down(self, data: bytes, now: float) -> None:
        down = self.down
        down.last = now
        self.probe_sent = 0.0
        for ev in down.session.receive_data(data):
            if isinstance(ev, PduReceived):
                pdu = ev.pdu
                cid = pdu.command_id
                if cid in _MESSAGES:
                    self._message(pdu, ev.raw, now)
                elif cid & RESPONSE_BIT:
                    self._down_response(pdu, ev.raw)
                elif cid == C.ENQUIRE_LINK:
                    down.out.append(response_for(cid, pdu.sequence_number, Status.ESME_ROK))
                elif cid in BINDS:
                    self._bind_received(pdu, ev.raw, now)
                elif not self.up_open:
                    self._refuse(cid, pdu.sequence_number)
                else:  # unbind, query_sm, cancel_sm: pass on
                    self._forward_up(ev.raw, pdu.sequence_number, pdu.sequence_number, cid,
                                     (), now)
            else:
                self._bad(ev, down)
        self._update_window(now)

    def _refuse(self, cid: int, seq: int) -> None:
        """Answer a request the SMSC cannot take now with the temporary error."""
        if cid == C.UNBIND:
            self.down.out.append(response_for(cid, seq, Status.ESME_ROK))
            self.down.session.sent(C.UNBIND_RESP)
            self._close_now()
            return
        self.counters.temp_errors += 1
        self.down.out.append(response_for(cid, seq, self.config.upstream.temporary_error_status))

    def _bad(self, ev: BadPdu, side: Side) -> None:
        self.counters.bad_pdus += 1
        err = ev.error
        self.shared.warn(f"bad pdu {self.system_id}", "bad pdu", system_id=self.system_id,
                         error=str(err), status=err.command_status,
                         command_id=hex(err.command_id), pdu=_loggable(err.data))
        if ev.reply is not None:
            side.out.append(ev.reply)
        if err.fatal:
            self._close_now()

    def _bind_received(self, pdu: Pdu, raw: bytes | memoryview, now: float) -> None:
        cid, seq = pdu.command_id, pdu.sequence_number
        if self.up_open or self.connecting:
            self.down.out.append(response_for(cid, seq, Status.ESME_RALYBND))
            return
        system_id: str = getattr(pdu, "system_id", "")
        reason = self.shared.limits.refuse_bind(system_id, self.peer_ip)
        if reason is not None:
            self.counters.bind_refused += 1
            log.warning("bind refused", system_id=system_id, peer=self.peer_ip, reason=reason)
            self.down.out.append(response_for(cid, seq, Status.ESME_RBINDFAIL))
            return
        self.counted = True
        self.system_id = system_id
        self.hold("bind", True, now)
        self.connecting = True
        self._bind = (bytes(raw), cid, seq)
        self._actions.append(ConnectUpstream())

    def up_connected(self, now: float) -> None:
        """The upstream connection is open: the ESME's bind goes on as received."""
        self.connecting = False
        bind, self._bind = self._bind, None
        if self.closed or bind is None:
            self._actions.append(Close(UP))
            return
        self.up_open = True
        self.up.last = now
        raw, cid, seq = bind
        self.up.pending[seq] = (seq, cid, now)
        self.up.session.sent(cid)
        self.up.out.append(raw)

    def up_failed(self, error: str, now: float) -> None:
        """The upstream connection could not be opened: the bind fails."""
        self.connecting = False
        bind, self._bind = self._bind, None
        if self.closed or bind is None:
            return
        log.warning("upstream connect failed", system_id=self.system_id,
                    upstream=self.config.upstream.address, error=error)
        self._uncount()
        self.down.out.append(response_for(bind[1], bind[2], Status.ESME_RBINDFAIL))
        self.hold("bind", False, now)

    def _uncount(self) -> None:
        if self.counted:
            self.counted = False
            self.shared.limits.unbound(self.system_id)

    def _down_response(self, pdu: Pdu, raw: bytes | memoryview) -> None:
        seq = pdu.sequence_number
        if pdu.command_id == C.UNBIND_RESP and seq == self.unbind_seq and self.unbind_seq:
            self._close_now()
            return
        if pdu.command_id == C.ENQUIRE_LINK_RESP and seq == self.probe_seq and seq:
            self.probe_seq = 0  # the answer to the relay's own probe
            return
        entry = self.down.pending.pop(seq, None)
        if entry is None:
            if self.down.timed_out.pop(seq, None) is not None:
                self.counters.esme_late_responses += 1  # answered: never twice
            else:
                self.counters.orphan_responses += 1
            return
        put(self.up.out, raw, entry[0], seq)

    def _message(self, pdu: Pdu, raw: bytes | memoryview, now: float) -> None:
        shared = self.shared
        seq, cid = pdu.sequence_number, pdu.command_id
        if not self.up_open or shared.draining:
            self._refuse(cid, seq)
            return
        limits = shared.limits
        if limits.clients:
            bucket = limits.bucket(self.system_id)
            if bucket is not None and not bucket.take(now):
                self.counters.throttled += 1
                self.down.out.append(response_for(cid, seq, Status.ESME_RTHROTTLED))
                return
        outcomes = self.judging.message(pdu, raw, Direction.IN,  # type: ignore[arg-type]
                                        self.system_id, now)
        if outcomes is None:
            self._forward_up(raw, seq, seq, cid, (), now)
        elif outcomes:
            self._carry_out(outcomes, Direction.IN, now)

    def _carry_out(self, outcomes: list[Outcome], direction: Direction, now: float) -> None:
        """Forward what judging let through, answer the sender the rest."""
        sender = self.down if direction is Direction.IN else self.up
        for o in outcomes:
            if isinstance(o, Forward):
                if direction is Direction.IN:
                    self._forward_up(o.raw, o.seq, o.seq, o.cid, o.failed, now)
                else:
                    self.down.request(o.raw, o.seq, o.seq, o.cid, now)
            else:
                sender.out.append(o)

    # -- upstream: the SMSC --------------------------------------------------------

    def receive_up(self, data: bytes, now: float) -> None:
        up = self.up
        up.last = now
        for ev in up.session.receive_data(data):
            if isinstance(ev, PduReceived):
                pdu = ev.pdu
                cid = pdu.command_id
                if cid & RESPONSE_BIT:
                    self._up_response(pdu, ev.raw, now)
                elif cid == C.DELIVER_SM or cid == C.DATA_SM:
                    seq = pdu.sequence_number
                    if is_receipt(pdu):  # type: ignore[arg-type]
                        self.counters.receipts += 1
                        self.down.request(ev.raw, seq, seq, cid, now)
                    else:  # MO: a subscriber's message
                        outcomes = self.judging.message(
                            pdu, ev.raw, Direction.OUT, self.system_id, now)  # type: ignore[arg-type]
                        if outcomes is None:
                            self.down.request(ev.raw, seq, seq, cid, now)
                        elif outcomes:
                            self._carry_out(outcomes, Direction.OUT, now)
                elif cid == C.ENQUIRE_LINK:
                    up.out.append(response_for(cid, pdu.sequence_number, Status.ESME_ROK))
                elif isinstance(pdu, AlertNotification):
                    self.down.out.append(ev.raw)  # no response exists for it
                elif cid == C.UNBIND:
                    self.down.request(ev.raw, pdu.sequence_number, pdu.sequence_number, cid,
                                      now)
                else:
                    log.warning("unexpected pdu from smsc", system_id=self.system_id,
                                command_id=hex(cid))
            else:
                self._bad(ev, up)
        self._update_window(now)

    def _up_response(self, pdu: Pdu, raw: bytes | memoryview, now: float) -> None:
        seq = pdu.sequence_number
        up = self.up
        entry = up.pending.pop(seq, None)
        if entry is None:
            if up.timed_out.pop(seq, None) is not None:
                self.counters.late_responses += 1  # already answered: never twice
            else:
                self.counters.orphan_responses += 1
            return
        origin, cid, _sent = entry
        status = pdu.command_status
        if origin < 0:
            if origin < OWN:  # a released message: the answer is the gateway's
                self._actions.append(Resubmitted(-origin, status,
                                                 getattr(pdu, "message_id", "")))
            return
        if self.multi_failed:
            failed = self.multi_failed.pop(seq, None)
            if failed and status == Status.ESME_ROK and cid == C.SUBMIT_MULTI:
                raw = add_unsuccess(raw, failed)
        put(self.down.out, raw, origin, seq)
        if cid in BINDS:
            self.down.session.sent(pdu.command_id, status)
            self.hold("bind", False, now)
            if status == Status.ESME_ROK:
                self.counters.binds += 1
            else:
                self._uncount()
                self._flush()
                self._actions.append(Close(UP))
        elif cid == C.UNBIND:
            self.down.session.sent(C.UNBIND_RESP)
            self._close_now()

    # -- forwarding ------------------------------------------------------------------

    def _forward_up(self, raw: bytes | memoryview, seq: int, origin: int, cid: int,
                    failed: tuple[UnsuccessSme, ...], now: float) -> None:
        """Send a request to the SMSC, or queue it while the window is full (every
        PDU counts: a whole read, or a concatenated message released at once, never
        takes the SMSC past ``[smpp] window``); ``failed``: destinations of a
        submit_multi rejected here, added to the SMSC's response."""
        if self.waiting or len(self.up.pending) >= self.config.window:
            self.waiting.append((raw, seq, origin, cid, failed))
            if "window" not in self._holds:
                self.hold("window", True, now)
            return
        up_seq = self.up.request(raw, seq, origin, cid, now)
        if failed:
            self.multi_failed[up_seq] = failed

    def resubmit(self, raw: bytes, token: int, now: float) -> bool:
        """Send a message the gateway holds (a part of a quarantined message an
        operator released) to the SMSC on this bind, as it was received (only the
        sequence number is the relay's). Its answer comes back as a ``Resubmitted``
        action with ``token`` (> 1), never to the ESME. False: not bound to send."""
        if not self.can_submit:
            return False
        cid, seq = _HDR_CID_SEQ.unpack_from(raw, 4)
        self._forward_up(raw, seq, -token, cid, (), now)
        self.counters.resubmitted += 1
        self._update_window(now)
        return True

    def _answer_lost(self, origin: int, cid: int, now: float) -> None:
        """The SMSC will not answer a request: answer it here (the temporary error;
        a bind fails, an unbind is confirmed and the relay closed)."""
        if origin == OWN:
            return
        if origin < OWN:
            self._actions.append(Resubmitted(-origin, self.config.upstream.temporary_error_status))
        elif cid in BINDS:
            self._uncount()
            self.hold("bind", False, now)
            self.down.out.append(response_for(cid, origin, Status.ESME_RBINDFAIL))
        else:
            self._refuse(cid, origin)

    # -- time ------------------------------------------------------------------------

    def handle_timer(self, now: float) -> None:
        """Whatever is due at ``now``: closes, timeouts of both sides, held parts,
        the upstream keepalive."""
        if self.close_at <= now:
            self.close_at = math.inf
            self._close_now()
            return
        if not self.closed and self._close_silent(now):
            return
        if self.judging.next_deadline() is not None:
            for direction, outcomes in self.judging.expire(now):
                self._carry_out(outcomes, direction, now)
        else:
            self.judging.expire(now)  # forgets old verdicts of stragglers
        if self.up.pending:
            self._expire_up(now)
        if self.down.pending:
            self._expire_down(now)
        self.up.forget(now)
        self.down.forget(now)
        config = self.config
        if (self.up_open and self.up.session.bound
                and self.up.last + config.enquire_link_interval <= now):
            self.up.last = now
            seq = self.up.session.next_sequence()
            while seq in self.up.pending:
                seq = self.up.session.next_sequence()
            self.up.pending[seq] = (OWN, C.ENQUIRE_LINK, now)
            self.up.out.append(encode_header(C.ENQUIRE_LINK, Status.ESME_ROK, seq))
        self._update_window(now)

    def _expire_up(self, now: float) -> None:
        """Answer what the SMSC left unanswered past ``upstream.response_timeout``."""
        late = self.up.overdue(now)
        if not late:
            return
        bind_failed = False
        for up_seq, origin, cid in late:
            self.multi_failed.pop(up_seq, None)
            if origin != OWN:
                self.counters.timeouts += 1
            bind_failed = bind_failed or cid in BINDS
            self._answer_lost(origin, cid, now)
        log.warning("smsc did not answer in time", system_id=self.system_id,
                    requests=len(late), timeout=self.up.timeout)
        if bind_failed and self.up_open:
            self._flush()
            self._actions.append(Close(UP))

    def _expire_down(self, now: float) -> None:
        """Answer the SMSC for what the ESME left unanswered past ``esme_response_timeout``."""
        late = self.down.overdue(now)
        if not late:
            return
        status = self.config.upstream.temporary_error_status
        unbind = False
        for _down_seq, origin, cid in late:
            self.counters.esme_timeouts += 1
            if cid == C.UNBIND:
                unbind = True
                self.up.out.append(response_for(cid, origin, Status.ESME_ROK))
                self.up.session.sent(C.UNBIND_RESP)
            else:
                self.up.out.append(response_for(cid, origin, status))
        log.warning("esme did not answer in time", system_id=self.system_id,
                    requests=len(late), timeout=self.down.timeout)
        if unbind:
            self._close_now()

    def _close_silent(self, now: float) -> bool:
        """Close a connection that never bound in ``bind_timeout``, or a bound ESME
        that answered nothing for ``esme_response_timeout`` after ``idle_timeout`` of
        silence and an enquire_link; True when closed."""
        config = self.config
        dsess = self.down.session
        if dsess.bound:
            if not self._reading:  # not read by choice (window, backpressure): not silent
                self.down.last = now
                return False
            if self.down.last + config.idle_timeout > now:
                return False
            if not self.probe_sent:
                self.probe_sent = now
                self.probe_seq = seq = dsess.next_sequence()
                self.down.out.append(encode_header(C.ENQUIRE_LINK, Status.ESME_ROK, seq))
                return False
            if self.probe_sent + config.esme_response_timeout > now:
                return False
            self.counters.idle_closed += 1
            self.shared.warn("idle", "smpp esme silent: closed", system_id=self.system_id,
                             peer=self.peer_ip, silent=round(now - self.down.last, 1))
        else:
            if (self.up_open or self.connecting or dsess.state is not State.OPEN
                    or self.opened + config.bind_timeout > now):
                return False
            self.counters.bind_timeouts += 1
            self.shared.warn("bind timeout", "smpp connection not bound in time: closed",
                             peer=self.peer_ip, timeout=config.bind_timeout)
        self._close_now()
        return True

    # -- the sockets go --------------------------------------------------------------

    def up_lost(self, error: str | None, now: float) -> None:
        """The upstream connection closed (``error``: why, ``None`` at a clean end)."""
        self.up_open = False
        if self.closed:
            return
        if error is not None or self.down.session.bound:
            log.warning("upstream lost", system_id=self.system_id,
                        outstanding=len(self.up.pending), error=error or "eof")
        for origin, cid, _sent in self.up.pending.values():
            self._answer_lost(origin, cid, now)
        self.up.pending.clear()
        self._refuse_waiting(now)
        self.down.pending.clear()
        self.multi_failed.clear()
        self._release_held()
        if self.down.session.bound:
            self._unbind_down()
            self._close_later(now, 2.0)
        self._update_window(now)

    def _refuse_waiting(self, now: float) -> None:
        """The requests still waiting for room in the window get the temporary error."""
        waiting = self.waiting
        while waiting:
            _raw, _seq, origin, cid, _failed = waiting.popleft()
            self._answer_lost(origin, cid, now)

    def _release_held(self) -> None:
        for cid, seq in self.judging.release():
            self._refuse(cid, seq)

    def _unbind_down(self) -> None:
        dsess = self.down.session
        self.unbind_seq = dsess.next_sequence()
        self.down.out.append(dsess.send(Unbind(sequence_number=self.unbind_seq)))

    def down_lost(self, now: float) -> None:
        """The ESME's connection closed: unbind and close the upstream."""
        self.closed = True
        for origin, cid, _sent in self.up.pending.values():
            if origin < OWN:  # released messages will get no answer now
                self._answer_lost(origin, cid, now)
        self._refuse_waiting(now)
        self.down.out.clear()
        self._uncount()
        if self.up.pending:
            log.warning("esme left with requests outstanding", system_id=self.system_id,
                        outstanding=len(self.up.pending))
        if self.up_open:
            if self.up.session.bound:
                self.up.out.append(self.up.session.send(Unbind()))
            self._flush()
            self._actions.append(Close(UP))

    def shutdown(self, now: float) -> None:
        """End of the drain: answer what is still held, unbind both sides, close soon."""
        self._release_held()
        for origin, cid, _sent in list(self.up.pending.values()):
            self._answer_lost(origin, cid, now)
        self.up.pending.clear()
        self._refuse_waiting(now)
        if self.down.session.bound:
            self._unbind_down()
        if self.up_open and self.up.session.bound:
            self.up.out.append(self.up.session.send(Unbind()))
        self._close_later(now, 1.0)


_HDR_CID_SEQ = struct.Struct(">I4xI")  # command_id, (status), sequence_number


def _loggable(data: bytes) -> str:
    """The hex of a bad PDU for the log: at most 64 bytes, and of a bind (or outbind)
    the 16-byte header only: its body has the password."""
    if len(data) < 8 or int.from_bytes(data[4:8], "big") in _SECRET:
        return data[:16].hex()
    return data[:64].hex()
