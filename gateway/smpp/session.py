"""The SMPP session state machine, sans-IO (after h11's ``Connection``).

``Session(role)`` is one side of one SMPP connection. ``receive_data(bytes)``
frames the stream (several PDUs in one chunk, one PDU over many chunks), decodes
each PDU, checks it against the bind state (SMPP 3.4 section 2.3) and returns
events: ``PduReceived`` for a PDU the application must handle, ``BadPdu`` for one
the session refused, with the reply bytes (generic_nack or the command's
response with the right command_status) that the application sends back. The
session lives on after a bad PDU unless the stream can no longer be framed.

``send(pdu)`` encodes a PDU (assigning a sequence number to a request that has
none) and ``sent(command_id, status)`` records a PDU forwarded as raw bytes;
both move the bind state.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import Enum

from gateway.smpp.codec import (
    HEADER,
    MAX_PDU,
    LocalProtocolError,
    RemoteProtocolError,
    decode_body,
    encode,
    response_for,
)
from gateway.smpp.pdu import RESPONSE_BIT, CommandId, Pdu, Status

__all__ = ["BadPdu", "PduReceived", "Role", "Session", "State"]

C = CommandId


class Role(Enum):
    """Which side of the link this session plays."""

    SMSC = "smsc"  # the peer is an ESME (downstream leg of the proxy, the simulator)
    ESME = "esme"  # the peer is an SMSC (upstream leg of the proxy)


class State(Enum):
    OPEN = "open"
    BOUND_TX = "bound_tx"
    BOUND_RX = "bound_rx"
    BOUND_TRX = "bound_trx"
    UNBOUND = "unbound"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class PduReceived:
    pdu: Pdu
    raw: bytes | memoryview  # the PDU exactly as received, header included


@dataclass(frozen=True, slots=True)
class BadPdu:
    error: RemoteProtocolError
    reply: bytes | None  # what to send back; None when nothing may be sent


_BIND_STATE = {
    C.BIND_TRANSMITTER: State.BOUND_TX,
    C.BIND_RECEIVER: State.BOUND_RX,
    C.BIND_TRANSCEIVER: State.BOUND_TRX,
}
_ANY = frozenset({C.ENQUIRE_LINK, C.GENERIC_NACK})
_ESME_TX = frozenset({C.SUBMIT_SM, C.SUBMIT_MULTI, C.DATA_SM, C.QUERY_SM, C.CANCEL_SM,
                      C.REPLACE_SM})
_SMSC_TO_RX = frozenset({C.DELIVER_SM, C.DATA_SM, C.ALERT_NOTIFICATION})

# requests the peer may send to us, by our role and state
_ALLOWED: dict[tuple[Role, State], frozenset[int]] = {
    (Role.SMSC, State.OPEN): _ANY | set(_BIND_STATE),
    (Role.SMSC, State.BOUND_TX): _ANY | _ESME_TX | {C.UNBIND},
    (Role.SMSC, State.BOUND_RX): _ANY | {C.UNBIND},
    (Role.SMSC, State.BOUND_TRX): _ANY | _ESME_TX | {C.UNBIND},
    (Role.SMSC, State.UNBOUND): _ANY,
    (Role.ESME, State.OPEN): _ANY | {C.OUTBIND},
    (Role.ESME, State.BOUND_TX): _ANY | {C.UNBIND},
    (Role.ESME, State.BOUND_RX): _ANY | _SMSC_TO_RX | {C.UNBIND},
    (Role.ESME, State.BOUND_TRX): _ANY | _SMSC_TO_RX | {C.UNBIND},
    (Role.ESME, State.UNBOUND): _ANY,
}
# requests a peer in this role may ever send: anything else is an invalid command id
_PEER_SENDS = {
    Role.SMSC: _ANY | set(_BIND_STATE) | _ESME_TX | {C.UNBIND},
    Role.ESME: _ANY | _SMSC_TO_RX | {C.UNBIND, C.OUTBIND},
}

MAX_SEQUENCE = 0x7FFFFFFF


class Session:
    def __init__(self, role: Role, first_sequence: int = 1) -> None:
        self.role = role
        self.state = State.OPEN
        self._allowed = _ALLOWED[(role, State.OPEN)]
        self._peer_sends = _PEER_SENDS[role]
        self._buf = bytearray()
        self._seq = max(0, min(first_sequence, MAX_SEQUENCE) - 1)
        self._pending_bind = 0  # ESME role: the bind command we sent, awaiting its resp

    # -- state -----------------------------------------------------------------------

    def _set_state(self, state: State) -> None:
        self.state = state
        self._allowed = _ALLOWED.get((self.role, state), frozenset())

    @property
    def bound(self) -> bool:
        return self.state in (State.BOUND_TX, State.BOUND_RX, State.BOUND_TRX)

    def next_sequence(self) -> int:
        self._seq = self._seq + 1 if self._seq < MAX_SEQUENCE else 1
        return self._seq

    def close(self) -> None:
        self._set_state(State.CLOSED)
        self._buf.clear()

    # -- receiving -------------------------------------------------------------------

    def receive_data(self, data: bytes) -> list[PduReceived | BadPdu]:
        """Feed bytes from the peer; returns the events for every complete PDU."""
        if self.state is State.CLOSED:
            return []
        if self._buf:
            self._buf += data
            data = bytes(self._buf)
            self._buf.clear()
        events: list[PduReceived | BadPdu] = []
        n = len(data)
        pos = 0
        view = memoryview(data)
        unpack = HEADER.unpack_from
        while n - pos >= 16:
            length, cid, status, seq = unpack(data, pos)
            if length < 16 or length > MAX_PDU:
                err = RemoteProtocolError(
                    f"command_length {length} out of range", Status.ESME_RINVCMDLEN,
                    data[pos:pos + 16], command_id=cid, sequence_number=seq, fatal=True)
                events.append(BadPdu(err, response_for(C.GENERIC_NACK, seq,
                                                       Status.ESME_RINVCMDLEN)))
                self.close()
                return events
            end = pos + length
            if end > n:
                break
            raw = view[pos:end] if (pos or end != n) else data
            events.append(self._one(cid, status, seq, data, pos, end, raw))
            pos = end
        if pos < n:
            self._buf += view[pos:]
        return events

    def _one(self, cid: int, status: int, seq: int, data: bytes, pos: int, end: int,
             raw: bytes | memoryview) -> PduReceived | BadPdu:
        if cid & RESPONSE_BIT and cid != C.GENERIC_NACK:
            try:
                pdu = decode_body(cid, status, seq, data, pos + 16, end)
            except RemoteProtocolError as e:
                # an unknown response: nothing can be answered to a response
                return BadPdu(e, None)
            if self._pending_bind and cid == self._pending_bind | RESPONSE_BIT:
                self._pending_bind = 0
                if status == Status.ESME_ROK:
                    self._set_state(_BIND_STATE[cid & ~RESPONSE_BIT])
            elif cid == C.UNBIND_RESP:
                self._set_state(State.UNBOUND)
            return PduReceived(pdu, raw)
        if cid not in self._allowed:
            if cid not in self._peer_sends and cid != C.GENERIC_NACK:
                err = RemoteProtocolError(f"command_id 0x{cid:08x} not valid here",
                                          Status.ESME_RINVCMDID, bytes(raw), command_id=cid,
                                          sequence_number=seq)
                return BadPdu(err, response_for(C.GENERIC_NACK, seq, Status.ESME_RINVCMDID))
            code = Status.ESME_RALYBND if cid in _BIND_STATE and self.bound \
                else Status.ESME_RINVBNDSTS
            err = RemoteProtocolError(f"command_id 0x{cid:08x} not allowed in {self.state.value}",
                                      code, bytes(raw), command_id=cid, sequence_number=seq)
            return BadPdu(err, response_for(cid, seq, code))
        try:
            pdu = decode_body(cid, status, seq, data, pos + 16, end)
        except RemoteProtocolError as e:
            reply = None if cid == C.GENERIC_NACK else response_for(cid, seq, e.command_status)
            return BadPdu(e, reply)
        return PduReceived(pdu, raw)

    # -- sending ---------------------------------------------------------------------

    def send(self, pdu: Pdu) -> bytes:
        """Encode ``pdu`` for the peer; a request without a sequence number gets one."""
        if self.state is State.CLOSED:
            raise LocalProtocolError("session closed", Status.ESME_RINVBNDSTS)
        if not pdu.is_response and pdu.sequence_number == 0:
            pdu = dataclasses.replace(pdu, sequence_number=self.next_sequence())
        data = encode(pdu)
        self.sent(pdu.command_id, pdu.command_status)
        return data

    def sent(self, command_id: int, status: int = 0) -> None:
        """Record that a PDU was sent (by ``send`` or forwarded as raw bytes)."""
        if command_id in _BIND_STATE and self.role is Role.ESME:
            self._pending_bind = command_id
        elif command_id & RESPONSE_BIT and self.role is Role.SMSC:
            req = command_id & ~RESPONSE_BIT
            if req in _BIND_STATE and status == Status.ESME_ROK and self.state is State.OPEN:
                self._set_state(_BIND_STATE[req])
            elif command_id == C.UNBIND_RESP:
                self._set_state(State.UNBOUND)
        elif command_id == C.UNBIND_RESP:
            self._set_state(State.UNBOUND)
