"""SMPP <-> the one vocabulary: message PDUs to ``Event``, ``Verdict`` to responses.

The adapter's only job (STYLE rule 4): it builds the ``Event`` with normalised
numbers and the SMPP facts rules may use in ``details``; it never evaluates rules.

Which PDUs become events:

- submit_sm, data_sm (ESME to SMSC): ``Direction.IN``, one event per message;
- submit_multi: one event per destination (``destination`` picks it), so every
  destination gets its own verdict and counters count every recipient;
- replace_sm: the replacement text is judged as a message from ``source_addr``
  (the PDU names no destination: ``dst`` is empty, ``details["command"]`` says
  ``replace_sm``);
- deliver_sm / data_sm from the SMSC that are not receipts: MO messages a
  subscriber sent, ``Direction.OUT``.

Spam reports (GSMA SRS, short code 7726: a subscriber's MO deliver_sm, or a
submit_sm addressed to it) are messages like any other: the engine judges them, and
the admin app's reports handling sees them through the engine's observer
(``gateway.admin.reports.Reports.from_sms``), so the proxy needs no hook of its own.
"""

from __future__ import annotations

from typing import Any, Protocol

from gateway.frozen import constructor
from gateway.model import Channel, Direction, Event, Phase, Verdict
from gateway.numbers import Number
from gateway.smpp.pdu import DataSm, DeliverSm, DestAddress, ReplaceSm, SubmitMulti, SubmitSm

__all__ = ["Judge", "MessagePdu", "build_event", "is_receipt"]

MessagePdu = SubmitSm | DeliverSm | DataSm | SubmitMulti | ReplaceSm

#: esm_class message type bits (5..2): anything but 0 is a receipt or an ack
ESM_TYPE_MASK = 0x3C

_COMMAND = {SubmitSm: "submit_sm", DeliverSm: "deliver_sm", DataSm: "data_sm",
            SubmitMulti: "submit_multi", ReplaceSm: "replace_sm"}
_ONE_DESTINATION: dict[type, str] = {SubmitSm: "submit_sm", DeliverSm: "deliver_sm",
                                     DataSm: "data_sm"}
#: ``Event(...)`` with every field given, without the frozen ``__init__`` (hot path)
_make_event = constructor(Event)


class Normaliser(Protocol):
    def from_smpp(self, addr: str, ton: int = 0, npi: int = 0) -> Number: ...


class Judge(Protocol):
    """What the proxy needs of the engine: synchronous, never raises (fails open)."""

    def evaluate(self, event: Event) -> Verdict: ...


def is_receipt(pdu: MessagePdu) -> bool:
    """A delivery receipt or SME/intermediate ack (not a message to judge)."""
    return isinstance(pdu, DeliverSm | DataSm) and bool(pdu.esm_class & ESM_TYPE_MASK)


def build_event(
    pdu: MessagePdu,
    text: str | None,
    *,
    numbering: Normaliser,
    direction: Direction,
    route: str,
    parts: int = 1,
    udh: bool = False,
    now: float,
    destination: DestAddress | None = None,
    pdus: tuple[bytes | memoryview, ...] = (),
) -> Event:
    """``destination``: the submit_multi destination this event is for (default: the
    first SME address); ``pdus``: the message's PDUs as received (every part of a
    concatenated one), ``details["pdus"]``, which the quarantine keeps of a blocked
    message so that an operator can release it."""
    command = _ONE_DESTINATION.get(type(pdu))
    if command is not None:  # submit_sm, deliver_sm, data_sm: the hot path, unrolled
        src_ton, src_npi = pdu.source_addr_ton, pdu.source_addr_npi
        dst_ton, dst_npi = pdu.dest_addr_ton, pdu.dest_addr_npi  # type: ignore[union-attr]
        from_smpp = numbering.from_smpp
        return _make_event(
            channel=Channel.SMS,
            direction=direction,
            src=from_smpp(pdu.source_addr, src_ton, src_npi),
            dst=from_smpp(pdu.destination_addr, dst_ton, dst_npi),  # type: ignore[union-attr]
            text=text,
            route=route,
            phase=Phase.ATTEMPT,
            ts=now,
            duration=None,
            billsec=None,
            dialstatus=None,
            parts=parts,
            details={
                "command": command,
                "esm_class": pdu.esm_class,  # type: ignore[union-attr]
                "data_coding": pdu.data_coding,  # type: ignore[union-attr]
                "source_addr_ton": src_ton,
                "source_addr_npi": src_npi,
                "dest_addr_ton": dst_ton,
                "dest_addr_npi": dst_npi,
                "registered_delivery": pdu.registered_delivery,
                "udh": udh,
                "pdus": pdus,
            },
        )
    esm_class = data_coding = 0
    if isinstance(pdu, SubmitMulti):
        d = destination or next((d for d in pdu.dest_addresses if d.dest_flag == 1), None)
        dst_addr, dst_ton, dst_npi = ((d.destination_addr, d.dest_addr_ton, d.dest_addr_npi)
                                      if d else ("", 0, 0))
    elif isinstance(pdu, ReplaceSm):
        dst_addr, dst_ton, dst_npi = "", 0, 0
    else:
        dst_addr, dst_ton, dst_npi = pdu.destination_addr, pdu.dest_addr_ton, pdu.dest_addr_npi
    if not isinstance(pdu, ReplaceSm):
        esm_class, data_coding = pdu.esm_class, pdu.data_coding
    details: dict[str, Any] = {
        "command": _COMMAND[type(pdu)],
        "esm_class": esm_class,
        "data_coding": data_coding,
        "source_addr_ton": pdu.source_addr_ton,
        "source_addr_npi": pdu.source_addr_npi,
        "dest_addr_ton": dst_ton,
        "dest_addr_npi": dst_npi,
        "registered_delivery": pdu.registered_delivery,
        "udh": udh,
        "pdus": pdus,
    }
    if isinstance(pdu, SubmitMulti):
        details["destinations"] = len(pdu.dest_addresses)
        if destination is not None and destination.dest_flag == 2:
            details["distribution_list"] = destination.destination_addr
    return Event(
        channel=Channel.SMS,
        direction=direction,
        src=numbering.from_smpp(pdu.source_addr, pdu.source_addr_ton, pdu.source_addr_npi),
        dst=numbering.from_smpp(dst_addr, dst_ton, dst_npi),
        text=text,
        route=route,
        ts=now,
        parts=parts,
        details=details,
    )
