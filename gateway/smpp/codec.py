"""Bytes <-> PDUs for SMPP 3.4. No sockets, no state (see ``session`` for that).

``decode(data)`` takes one complete PDU (header included) and returns its dataclass;
``encode(pdu)`` returns the bytes. Errors are typed and carry the command_status a
peer should get and the offending bytes. Decoding is liberal where the spec allows
it (C-octet strings longer than the spec's maximum are accepted: the SMSC decides;
a response with a short or empty body, as SMSCs send with an error status, gets
default values), strict where a wrong guess would lose data (truncated fields,
broken TLV stream).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from gateway.frozen import constructor
from gateway.smpp import pdu as P
from gateway.smpp.pdu import CommandId, Pdu, Status, Tlv

__all__ = [
    "HEADER",
    "MAX_PDU",
    "LocalProtocolError",
    "RemoteProtocolError",
    "SmppError",
    "decode",
    "decode_body",
    "encode",
    "encode_header",
    "response_for",
]

HEADER = struct.Struct(">IIII")
MAX_PDU = 65536 + 1024  # a message_payload of 64 KiB plus the fixed fields
_U16U16 = struct.Struct(">HH")
_U32 = struct.Struct(">I")


class SmppError(Exception):
    """A protocol error: ``command_status`` is what the peer is answered with,
    ``data`` the offending bytes."""

    def __init__(
        self,
        message: str,
        command_status: int,
        data: bytes = b"",
        *,
        command_id: int = 0,
        sequence_number: int = 0,
    ) -> None:
        super().__init__(message)
        self.command_status = command_status
        self.data = bytes(data)
        self.command_id = command_id
        self.sequence_number = sequence_number


class RemoteProtocolError(SmppError):
    """The peer broke the protocol. ``fatal`` when the byte stream can no longer be
    framed (bad command_length): the session must close after answering."""

    def __init__(self, *args: Any, fatal: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fatal = fatal


class LocalProtocolError(SmppError):
    """We tried to send something the protocol (or the session state) forbids."""


# --- field layouts --------------------------------------------------------------
# kinds: C = C-octet string, B = 1-octet integer, SM = sm_length + short_message,
# TLVS = optional parameters to the end, DESTS / UNSUCC = submit_multi lists.
C, B, SM, TLVS, DESTS, UNSUCC = range(6)

_ADDR_STATUS = {
    "source_addr": Status.ESME_RINVSRCADR,
    "destination_addr": Status.ESME_RINVDSTADR,
    "short_message": Status.ESME_RINVMSGLEN,
    "tlvs": Status.ESME_RINVOPTPARSTREAM,
}

_BIND = (("system_id", C), ("password", C), ("system_type", C), ("interface_version", B),
         ("addr_ton", B), ("addr_npi", B), ("address_range", C))
_SRC = (("source_addr_ton", B), ("source_addr_npi", B), ("source_addr", C))
_DST = (("dest_addr_ton", B), ("dest_addr_npi", B), ("destination_addr", C))
_SM_TAIL = (("esm_class", B), ("protocol_id", B), ("priority_flag", B),
            ("schedule_delivery_time", C), ("validity_period", C), ("registered_delivery", B),
            ("replace_if_present_flag", B), ("data_coding", B), ("sm_default_msg_id", B),
            ("short_message", SM), ("tlvs", TLVS))
_SHORT_MESSAGE = (("service_type", C), *_SRC, *_DST, *_SM_TAIL)
_MSGID_RESP = (("message_id", C), ("tlvs", TLVS))

Layout = tuple[tuple[str, int], ...]
LAYOUTS: dict[int, tuple[type[Pdu], Layout]] = {
    CommandId.GENERIC_NACK: (P.GenericNack, ()),
    CommandId.BIND_RECEIVER: (P.BindReceiver, _BIND),
    CommandId.BIND_TRANSMITTER: (P.BindTransmitter, _BIND),
    CommandId.BIND_TRANSCEIVER: (P.BindTransceiver, _BIND),
    CommandId.BIND_RECEIVER_RESP: (P.BindReceiverResp, (("system_id", C), ("tlvs", TLVS))),
    CommandId.BIND_TRANSMITTER_RESP: (P.BindTransmitterResp, (("system_id", C), ("tlvs", TLVS))),
    CommandId.BIND_TRANSCEIVER_RESP: (P.BindTransceiverResp, (("system_id", C), ("tlvs", TLVS))),
    CommandId.OUTBIND: (P.Outbind, (("system_id", C), ("password", C))),
    CommandId.UNBIND: (P.Unbind, ()),
    CommandId.UNBIND_RESP: (P.UnbindResp, ()),
    CommandId.ENQUIRE_LINK: (P.EnquireLink, ()),
    CommandId.ENQUIRE_LINK_RESP: (P.EnquireLinkResp, ()),
    CommandId.SUBMIT_SM: (P.SubmitSm, _SHORT_MESSAGE),
    CommandId.SUBMIT_SM_RESP: (P.SubmitSmResp, _MSGID_RESP),
    CommandId.DELIVER_SM: (P.DeliverSm, _SHORT_MESSAGE),
    CommandId.DELIVER_SM_RESP: (P.DeliverSmResp, _MSGID_RESP),
    CommandId.DATA_SM: (P.DataSm, (("service_type", C), *_SRC, *_DST, ("esm_class", B),
                                   ("registered_delivery", B), ("data_coding", B),
                                   ("tlvs", TLVS))),
    CommandId.DATA_SM_RESP: (P.DataSmResp, _MSGID_RESP),
    CommandId.SUBMIT_MULTI: (P.SubmitMulti, (("service_type", C), *_SRC,
                                             ("dest_addresses", DESTS), *_SM_TAIL)),
    CommandId.SUBMIT_MULTI_RESP: (P.SubmitMultiResp, (("message_id", C),
                                                      ("unsuccess_smes", UNSUCC),
                                                      ("tlvs", TLVS))),
    CommandId.QUERY_SM: (P.QuerySm, (("message_id", C), *_SRC)),
    CommandId.QUERY_SM_RESP: (P.QuerySmResp, (("message_id", C), ("final_date", C),
                                              ("message_state", B), ("error_code", B))),
    CommandId.CANCEL_SM: (P.CancelSm, (("service_type", C), ("message_id", C), *_SRC, *_DST)),
    CommandId.CANCEL_SM_RESP: (P.CancelSmResp, ()),
    CommandId.REPLACE_SM: (P.ReplaceSm, (("message_id", C), *_SRC,
                                         ("schedule_delivery_time", C), ("validity_period", C),
                                         ("registered_delivery", B), ("sm_default_msg_id", B),
                                         ("short_message", SM))),
    CommandId.REPLACE_SM_RESP: (P.ReplaceSmResp, ()),
    CommandId.ALERT_NOTIFICATION: (P.AlertNotification, (*_SRC, ("esme_addr_ton", B),
                                                         ("esme_addr_npi", B), ("esme_addr", C),
                                                         ("tlvs", TLVS))),
}


class _Truncated(Exception):
    def __init__(self, field: str) -> None:
        self.field = field


def _cstr(data: bytes, pos: int, end: int, name: str) -> tuple[str, int]:
    i = data.find(b"\x00", pos, end)
    if i < 0:
        raise _Truncated(name)
    return data[pos:i].decode("latin-1"), i + 1


def _tlvs(data: bytes, pos: int, end: int) -> tuple[tuple[Tlv, ...], int]:
    out: list[Tlv] = []
    while pos < end:
        if end - pos < 4:
            raise _Truncated("tlvs")
        tag, length = _U16U16.unpack_from(data, pos)
        pos += 4
        if end - pos < length:
            raise _Truncated("tlvs")
        out.append((tag, data[pos:pos + length]))
        pos += length
    return tuple(out), pos


def _fields(data: bytes, pos: int, end: int, layout: Layout, out: dict[str, Any]) -> int:
    for name, kind in layout:
        if kind == C:
            out[name], pos = _cstr(data, pos, end, name)
        elif kind == B:
            if pos >= end:
                raise _Truncated(name)
            out[name] = data[pos]
            pos += 1
        elif kind == SM:
            if pos >= end:
                raise _Truncated(name)
            n = data[pos]
            if end - pos - 1 < n:
                raise _Truncated(name)
            out[name] = data[pos + 1:pos + 1 + n]
            pos += 1 + n
        elif kind == TLVS:
            out[name], pos = _tlvs(data, pos, end)
        elif kind == DESTS:
            if pos >= end:
                raise _Truncated("destination_addr")
            count, pos = data[pos], pos + 1
            dests = []
            for _ in range(count):
                if pos >= end:
                    raise _Truncated("destination_addr")
                flag, pos = data[pos], pos + 1
                if flag == 1:
                    if end - pos < 2:
                        raise _Truncated("destination_addr")
                    ton, npi = data[pos], data[pos + 1]
                    addr, pos = _cstr(data, pos + 2, end, "destination_addr")
                    dests.append(P.DestAddress(1, ton, npi, addr))
                elif flag == 2:
                    dl, pos = _cstr(data, pos, end, "destination_addr")
                    dests.append(P.DestAddress(2, 0, 0, dl))
                else:
                    raise _Truncated("destination_addr")
            out[name] = tuple(dests)
        else:  # UNSUCC
            if pos >= end:
                raise _Truncated(name)
            count, pos = data[pos], pos + 1
            smes = []
            for _ in range(count):
                if end - pos < 2:
                    raise _Truncated(name)
                ton, npi = data[pos], data[pos + 1]
                addr, pos = _cstr(data, pos + 2, end, name)
                if end - pos < 4:
                    raise _Truncated(name)
                (err,) = _U32.unpack_from(data, pos)
                pos += 4
                smes.append(P.UnsuccessSme(ton, npi, addr, err))
            out[name] = tuple(smes)
    return pos


# built field by field without the frozen __init__ (see gateway.frozen)
_MAKE_SHORT_MESSAGE = {cls.command_id: constructor(cls) for cls in (P.SubmitSm, P.DeliverSm)}
_MAKE_MSGID_RESP = {cls.command_id: constructor(cls)
                    for cls in (P.SubmitSmResp, P.DeliverSmResp, P.DataSmResp)}


def _short_message(command_id: int, status: int, seq: int, data: bytes, pos: int,
                   end: int) -> Pdu:
    """``_fields`` unrolled for submit_sm/deliver_sm (the hot path of the proxy), straight
    into the constructor."""
    find = data.find
    i = find(b"\x00", pos, end)
    if i < 0:
        raise _Truncated("service_type")
    service_type = data[pos:i].decode("latin-1")
    pos = i + 1
    if end - pos < 2:
        raise _Truncated("source_addr_ton")
    source_addr_ton = data[pos]
    source_addr_npi = data[pos + 1]
    i = find(b"\x00", pos + 2, end)
    if i < 0:
        raise _Truncated("source_addr")
    source_addr = data[pos + 2:i].decode("latin-1")
    pos = i + 1
    if end - pos < 2:
        raise _Truncated("dest_addr_ton")
    dest_addr_ton = data[pos]
    dest_addr_npi = data[pos + 1]
    i = find(b"\x00", pos + 2, end)
    if i < 0:
        raise _Truncated("destination_addr")
    destination_addr = data[pos + 2:i].decode("latin-1")
    pos = i + 1
    if end - pos < 3:
        raise _Truncated("esm_class")
    esm_class = data[pos]
    protocol_id = data[pos + 1]
    priority_flag = data[pos + 2]
    pos += 3
    i = find(b"\x00", pos, end)
    if i < 0:
        raise _Truncated("schedule_delivery_time")
    schedule_delivery_time = data[pos:i].decode("latin-1")
    pos = i + 1
    i = find(b"\x00", pos, end)
    if i < 0:
        raise _Truncated("validity_period")
    validity_period = data[pos:i].decode("latin-1")
    pos = i + 1
    if end - pos < 4:
        raise _Truncated("registered_delivery")
    registered_delivery = data[pos]
    replace_if_present_flag = data[pos + 1]
    data_coding = data[pos + 2]
    sm_default_msg_id = data[pos + 3]
    pos += 4
    if pos >= end:
        raise _Truncated("short_message")
    n = data[pos]
    if end - pos - 1 < n:
        raise _Truncated("short_message")
    short_message = data[pos + 1:pos + 1 + n]
    pos += 1 + n
    tlvs: tuple[Tlv, ...] = ()
    if pos < end:
        tlvs, pos = _tlvs(data, pos, end)
    # _tlvs reads to ``end`` or raises: no stray bytes after a short message
    return _MAKE_SHORT_MESSAGE[command_id](
        sequence_number=seq, command_status=status, service_type=service_type,
        source_addr_ton=source_addr_ton, source_addr_npi=source_addr_npi,
        source_addr=source_addr, dest_addr_ton=dest_addr_ton, dest_addr_npi=dest_addr_npi,
        destination_addr=destination_addr, esm_class=esm_class, protocol_id=protocol_id,
        priority_flag=priority_flag, schedule_delivery_time=schedule_delivery_time,
        validity_period=validity_period, registered_delivery=registered_delivery,
        replace_if_present_flag=replace_if_present_flag, data_coding=data_coding,
        sm_default_msg_id=sm_default_msg_id, short_message=short_message, tlvs=tlvs)


def decode_body(
    command_id: int, command_status: int, sequence_number: int, data: bytes, start: int, end: int
) -> Pdu:
    """Decode the body ``data[start:end]`` of a PDU whose header was already read."""
    entry = LAYOUTS.get(command_id)
    if entry is None:
        raise RemoteProtocolError(
            f"unknown command_id 0x{command_id:08x}", Status.ESME_RINVCMDID, data[start - 16:end],
            command_id=command_id, sequence_number=sequence_number,
        )
    cls, layout = entry
    if layout is _SHORT_MESSAGE:
        try:
            return _short_message(command_id, command_status, sequence_number, data, start, end)
        except _Truncated as t:
            raise RemoteProtocolError(
                f"truncated {cls.__name__}.{t.field}",
                _ADDR_STATUS.get(t.field, Status.ESME_RINVCMDLEN),
                data[start - 16:end], command_id=command_id, sequence_number=sequence_number,
            ) from None
    make = _MAKE_MSGID_RESP.get(command_id)
    if make is not None:
        # the usual response: message_id and nothing after it
        i = data.find(b"\x00", start, end)
        if i + 1 == end:
            return make(sequence_number=sequence_number, command_status=command_status,
                        message_id=data[start:i].decode("latin-1"), tlvs=())
    kwargs: dict[str, Any] = {"sequence_number": sequence_number, "command_status": command_status}
    try:
        pos = _fields(data, start, end, layout, kwargs)
    except _Truncated as t:
        if command_id & P.RESPONSE_BIT:
            # liberal with responses: SMSCs leave out message_id on errors and some
            # send a bare header for any response.
            return cls(**kwargs)
        raise RemoteProtocolError(
            f"truncated {cls.__name__}.{t.field}",
            _ADDR_STATUS.get(t.field, Status.ESME_RINVCMDLEN),
            data[start - 16:end], command_id=command_id, sequence_number=sequence_number,
        ) from None
    if pos != end and not command_id & P.RESPONSE_BIT:
        raise RemoteProtocolError(
            f"{end - pos} stray bytes after {cls.__name__}", Status.ESME_RINVCMDLEN,
            data[start - 16:end], command_id=command_id, sequence_number=sequence_number,
        )
    return cls(**kwargs)


def decode(data: bytes) -> Pdu:
    """Decode one complete PDU (header included)."""
    data = bytes(data)
    if len(data) < 16:
        raise RemoteProtocolError("shorter than a PDU header", Status.ESME_RINVCMDLEN, data,
                                  fatal=True)
    length, command_id, status, seq = HEADER.unpack_from(data)
    if length != len(data):
        raise RemoteProtocolError(
            f"command_length {length} but {len(data)} bytes", Status.ESME_RINVCMDLEN, data,
            command_id=command_id, sequence_number=seq, fatal=True,
        )
    return decode_body(command_id, status, seq, data, 16, length)


# --- encoding -------------------------------------------------------------------


def _enc_cstr(value: str, name: str) -> bytes:
    b = value.encode("latin-1")
    if b"\x00" in b:
        raise LocalProtocolError(f"{name} contains NUL", Status.ESME_RINVCMDLEN, b)
    return b + b"\x00"


def _enc_tlvs(tlvs: tuple[Tlv, ...]) -> bytes:
    out = bytearray()
    for tag, value in tlvs:
        if not 0 <= tag <= 0xFFFF or len(value) > 0xFFFF:
            raise LocalProtocolError(f"bad TLV 0x{tag:04x}", Status.ESME_RINVPARLEN, value)
        out += _U16U16.pack(tag, len(value))
        out += value
    return bytes(out)


def _enc_fields(pdu: Pdu, layout: Layout) -> bytes:
    out = bytearray()
    for name, kind in layout:
        v = getattr(pdu, name)
        if kind == C:
            out += _enc_cstr(v, name)
        elif kind == B:
            if not 0 <= v <= 255:
                raise LocalProtocolError(f"{name}={v} is not one octet", Status.ESME_RINVCMDLEN)
            out.append(v)
        elif kind == SM:
            if len(v) > 255:
                raise LocalProtocolError("short_message over 255 octets: use message_payload",
                                         Status.ESME_RINVMSGLEN, v)
            out.append(len(v))
            out += v
        elif kind == TLVS:
            out += _enc_tlvs(v)
        elif kind == DESTS:
            out.append(len(v))
            for d in v:
                out.append(d.dest_flag)
                if d.dest_flag == 1:
                    out += bytes((d.dest_addr_ton, d.dest_addr_npi))
                out += _enc_cstr(d.destination_addr, "destination_addr")
        else:
            out.append(len(v))
            for u in v:
                out += bytes((u.dest_addr_ton, u.dest_addr_npi))
                out += _enc_cstr(u.destination_addr, "destination_addr")
                out += _U32.pack(u.error_status_code)
    return bytes(out)


def encode_header(command_id: int, status: int, seq: int, body_length: int = 0) -> bytes:
    return HEADER.pack(16 + body_length, command_id, status, seq)


def encode(pdu: Pdu) -> bytes:
    _cls, layout = LAYOUTS[pdu.command_id]
    body = _enc_fields(pdu, layout) if layout else b""
    return HEADER.pack(16 + len(body), pdu.command_id, pdu.command_status,
                       pdu.sequence_number) + body


def response_for(command_id: int, sequence_number: int, status: int,
                 message_id: str = "") -> bytes:
    """The bytes of the response to a request, with ``status``.

    Responses that carry a message_id get it (empty: a bare NUL, as SMSCs answer
    errors); for a command with no response (or an unknown one) a generic_nack.
    """
    resp_id = command_id | P.RESPONSE_BIT
    if command_id & P.RESPONSE_BIT or resp_id not in LAYOUTS:
        return HEADER.pack(16, CommandId.GENERIC_NACK, status, sequence_number)
    _cls, layout = LAYOUTS[resp_id]
    if not layout:
        return HEADER.pack(16, resp_id, status, sequence_number)
    body = _enc_cstr(message_id, "message_id")
    if resp_id == CommandId.SUBMIT_MULTI_RESP:
        body += b"\x00"  # no_unsuccess
    elif resp_id == CommandId.QUERY_SM_RESP:
        body += b"\x00\x00\x00"  # final_date, message_state, error_code
    return HEADER.pack(16 + len(body), resp_id, status, sequence_number) + body


#: decode a body given (command_id, status, seq, data, start, end)
BodyDecoder = Callable[[int, int, int, bytes, int, int], Pdu]
