"""The one vocabulary every part of spamgw speaks: ``Event`` in, ``Verdict`` out.

Adapters (SMPP proxy, FastAGI server, HTTP API) build an ``Event`` once, with its
numbers already normalised (see ``gateway.numbers``); the engine returns a
``Verdict``; the adapter carries it out. Nothing here knows about protocols.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from gateway.numbers import Number

__all__ = [
    "ESME_RX_R_APPN",
    "Action",
    "Channel",
    "Direction",
    "Event",
    "Phase",
    "SmsBlock",
    "Verdict",
]

#: SMPP command_status a rejected submit_sm gets unless a rule says otherwise.
ESME_RX_R_APPN = 0x65

_EMPTY: Mapping[str, Any] = MappingProxyType({})


class Channel(StrEnum):
    SMS = "sms"
    CALL = "call"


class Direction(StrEnum):
    """Seen from the operator's subscribers.

    ``IN`` is traffic terminating on subscribers (A2P submit_sm from an ESME, a call
    arriving from a trunk); ``OUT`` is traffic a subscriber originates (an MO SMS
    coming back as deliver_sm, a subscriber dialling out).
    """

    IN = "in"
    OUT = "out"


class Phase(StrEnum):
    """``ATTEMPT`` asks for a decision before delivery; ``ENDED`` reports how a call
    ended (FastAGI ``/ended``) so counters can learn from it (Wangiri, spend caps)."""

    ATTEMPT = "attempt"
    ENDED = "ended"


class Action(StrEnum):
    ALLOW = "ALLOW"
    WARN = "WARN"
    BLOCK = "BLOCK"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Action.ALLOW: 0, Action.WARN: 1, Action.BLOCK: 2}


class SmsBlock(StrEnum):
    """How a BLOCK is carried out on SMPP."""

    REJECT = "reject"  # answer the sender with a command_status
    DROP = "drop"  # answer success with a gateway message_id; the SMSC never sees it


@dataclass(frozen=True, slots=True)
class Event:
    """One message or call, as every adapter hands it to the engine.

    ``details`` carries protocol facts a rule or plugin may need (SMPP esm_class,
    data_coding, TON/NPI; AGI channel name, trunk) without the engine parsing bytes.
    For ``Phase.ENDED`` call events, ``duration``/``billsec``/``dialstatus`` say how the
    call ended (ring time = duration - billsec).
    """

    channel: Channel
    direction: Direction
    src: Number
    dst: Number
    text: str | None = None
    route: str = ""
    phase: Phase = Phase.ATTEMPT
    ts: float = field(default_factory=time.time)
    duration: float | None = None
    billsec: float | None = None
    dialstatus: str | None = None
    parts: int = 1
    details: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)

    @property
    def ring_seconds(self) -> float | None:
        if self.duration is None:
            return None
        return max(0.0, self.duration - (self.billsec or 0.0))

    @property
    def answered(self) -> bool:
        if self.dialstatus is not None:
            return self.dialstatus.upper() == "ANSWER"
        return bool(self.billsec)


@dataclass(frozen=True, slots=True)
class Verdict:
    """The engine's answer.

    ``rules`` are the ids of the rules (and plugin symbols) that hit, in order.
    ``sms_status``/``sms_block`` say how an SMPP adapter carries out a BLOCK.
    ``failed_open`` marks a verdict produced because the engine failed; adapters
    count it.
    """

    action: Action
    score: float = 0.0
    rules: tuple[str, ...] = ()
    reason: str = ""
    sms_status: int = ESME_RX_R_APPN
    sms_block: SmsBlock = SmsBlock.REJECT
    failed_open: bool = False

    def to_json(self) -> dict[str, Any]:
        """The stable JSON form: CLI ``spamgw check`` and ``/v1/check`` print this."""
        return {
            "action": self.action.value,
            "score": round(self.score, 3),
            "rules": list(self.rules),
            "reason": self.reason,
        }


ALLOW = Verdict(Action.ALLOW)
