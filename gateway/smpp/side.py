"""``Side``: one half of the relay (the ESME's or the SMSC's), the same object for
both: the session with that peer, the requests sent to it and not answered yet (in
send order), the sequence numbers given up on, the bytes to send it. Sans-IO: times
are the ``now`` the relay is given."""

from __future__ import annotations

import math
import struct

from gateway.smpp.session import Role, Session

__all__ = ["RESERVE", "Side", "put"]

_SEQ = struct.Struct(">I")
_OWN_SEQ_START = 0x70000000  # own sequence numbers start far from the ESME's
#: a sequence number given up on stays reserved twice the timeout and this much more:
#: an answer that late is still known as late (counted, never passed on)
RESERVE = 1.0


def put(out: list[bytes | memoryview], raw: bytes | memoryview, seq: int, was: int) -> None:
    """Queue ``raw`` with sequence number ``seq`` (it carries ``was``)."""
    if seq == was:
        out.append(raw)
    else:
        out += (raw[:12], _SEQ.pack(seq), raw[16:])


class Side:
    """One half of the relay: the session with one peer, the requests sent to it and
    not answered yet (in send order), those given up on, what to send it."""

    __slots__ = ("last", "name", "out", "pending", "reserve", "session", "timed_out",
                 "timeout")

    def __init__(self, name: str, role: Role, timeout: float, now: float) -> None:
        self.name = name
        self.session = Session(role, _OWN_SEQ_START)
        #: seq sent to this peer -> (origin: the other side's seq, or OWN or -token;
        #: command_id; when sent)
        self.pending: dict[int, tuple[int, int, float]] = {}
        #: seq -> when it was given up on; reserved (not reused) for ``reserve``
        self.timed_out: dict[int, float] = {}
        self.out: list[bytes | memoryview] = []
        self.timeout = timeout  # how long this peer has to answer a request
        self.reserve = 2 * timeout + RESERVE
        self.last = now  # when this peer last sent bytes

    def request(self, raw: bytes | memoryview, seq: int, origin: int, cid: int,
                now: float) -> int:
        """Send a request (carrying sequence number ``seq``) to this peer: ``seq``
        again unless still in use here, else the next own one. Returns the number used."""
        pending, reserved = self.pending, self.timed_out
        mine = seq
        while mine in pending or mine in reserved:
            mine = self.session.next_sequence()
        pending[mine] = (origin, cid, now)
        put(self.out, raw, mine, seq)
        return mine

    def overdue(self, now: float) -> list[tuple[int, int, int]]:
        """The requests unanswered for ``timeout``, taken out of ``pending`` and reserved:
        (seq, origin, command_id). ``pending`` is in send order: the scan stops at the
        first younger one."""
        timeout, late = self.timeout, []
        for seq, (origin, cid, sent) in self.pending.items():
            if sent + timeout > now:
                break
            late.append((seq, origin, cid))
        for seq, _origin, _cid in late:
            del self.pending[seq]
            self.timed_out[seq] = now
        return late

    def forget(self, now: float) -> None:
        """Free the sequence numbers given up on ``reserve`` ago (in time order)."""
        reserved, keep = self.timed_out, self.reserve
        while reserved:
            seq = next(iter(reserved))
            if reserved[seq] + keep > now:
                break
            del reserved[seq]

    def deadline(self) -> float:
        """When the oldest request times out, or its reservation ends (inf: never)."""
        at = math.inf
        for _origin, _cid, sent in self.pending.values():
            at = sent + self.timeout
            break
        for when in self.timed_out.values():
            at = min(at, when + self.reserve)
            break
        return at
