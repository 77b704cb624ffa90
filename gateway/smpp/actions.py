"""What the relay asks of its shell (``Relay.actions()``), as small immutable
events (after h11's ``_events``): send bytes to a side, pause or resume reading a
side, close a side, open the upstream connection, and the SMSC's answer to a
message the gateway itself sent (a released quarantined one)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DOWN", "UP", "Action", "Close", "ConnectUpstream", "PauseReading",
           "Resubmitted", "ResumeReading", "Send"]

DOWN = "down"  # the ESME's side
UP = "up"  # the SMSC's side


# -- actions ---------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Send:
    to: str  # DOWN or UP
    data: bytes


@dataclass(frozen=True, slots=True)
class PauseReading:
    side: str


@dataclass(frozen=True, slots=True)
class ResumeReading:
    side: str


@dataclass(frozen=True, slots=True)
class Close:
    side: str


@dataclass(frozen=True, slots=True)
class ConnectUpstream:
    """Open the upstream connection; then ``up_connected`` or ``up_failed``."""


@dataclass(frozen=True, slots=True)
class Resubmitted:
    """The SMSC's answer to one part of a released message (``token`` as given to
    ``resubmit``); a temporary error status when it never came (timeout, SMSC lost)."""

    token: int
    status: int
    message_id: str = ""


Action = Send | PauseReading | ResumeReading | Close | ConnectUpstream | Resubmitted
