"""SMPP <-> the one vocabulary: message PDUs to ``Event``, ``Verdict`` to responses.

The adapter's only job (STYLE rule 4): it builds the ``Event`` with normalised
numbers and the SMPP facts rules may use in ``details``; it never evaluates rules.
"""

from __future__ import annotations

from typing import Any, Protocol

from gateway.model import Channel, Direction, Event, Verdict
from gateway.numbers import Number
from gateway.smpp.pdu import DataSm, DeliverSm, SubmitMulti, SubmitSm

__all__ = ["Judge", "MessagePdu", "build_event", "is_receipt"]

MessagePdu = SubmitSm | DeliverSm | DataSm | SubmitMulti

#: esm_class message type bits (5..2): anything but 0 is a receipt or an ack
ESM_TYPE_MASK = 0x3C

_COMMAND = {SubmitSm: "submit_sm", DeliverSm: "deliver_sm", DataSm: "data_sm",
            SubmitMulti: "submit_multi"}


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
) -> Event:
    if isinstance(pdu, SubmitMulti):
        first = next((d for d in pdu.dest_addresses if d.dest_flag == 1), None)
        dst_addr, dst_ton, dst_npi = ((first.destination_addr, first.dest_addr_ton,
                                       first.dest_addr_npi) if first else ("", 0, 0))
    else:
        dst_addr, dst_ton, dst_npi = pdu.destination_addr, pdu.dest_addr_ton, pdu.dest_addr_npi
    details: dict[str, Any] = {
        "command": _COMMAND[type(pdu)],
        "esm_class": pdu.esm_class,
        "data_coding": pdu.data_coding,
        "source_addr_ton": pdu.source_addr_ton,
        "source_addr_npi": pdu.source_addr_npi,
        "dest_addr_ton": dst_ton,
        "dest_addr_npi": dst_npi,
        "registered_delivery": pdu.registered_delivery,
        "udh": udh,
    }
    if isinstance(pdu, SubmitMulti):
        details["destinations"] = len(pdu.dest_addresses)
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
