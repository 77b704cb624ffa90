"""Upstream pools: which SMSC a new bind's upstream connection goes to.

``[smpp.upstream] address`` names one SMSC or several (an array of ``"host:port"``).
A new ESME bind opens its upstream connection to the next healthy SMSC in turn
(round robin over the healthy ones). When that connection cannot be opened (refused,
timed out, TLS refused), the SMSC is marked down and the same bind tries the next
healthy one; the ESME's bind fails (``ESME_RBINDFAIL``, as with one SMSC) only when
every one it tried failed. A down SMSC gets no new binds until its health check
passes: a plain TCP connect (closed at once, no bind, no TLS handshake) every
``health_interval`` seconds (5 by default). When every SMSC is down, a bind still
tries one, the next in turn, as it does with a single SMSC: the ESME gets the answer
it gets today, and an SMSC that came back is found at once (a connect that succeeds
marks its SMSC up).

Binds already open stay where they are: a pool places new binds, never moves live
ones; what is in flight on a connection that dies is answered by the relay as
before. This module is plain state; ``gateway.smpp.proxy`` connects and probes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from gateway.config import hostport

__all__ = ["Pool", "Upstream"]


@dataclass(slots=True, eq=False)
class Upstream:
    """One SMSC of the pool."""

    address: str  # "host:port", as configured (the metrics' label)
    host: str
    port: int
    up: bool = True  # gets new binds; an SMSC is taken as up until a connect fails
    binds: int = 0  # upstream connections open to it now
    failures: int = 0  # connects to it that failed


class Pool:
    """The SMSCs of ``[smpp.upstream] address``, their health and their binds."""

    def __init__(self, addresses: Sequence[str]) -> None:
        if not addresses:
            raise ValueError("an upstream pool needs at least one address")
        self.members = tuple(Upstream(a, *hostport(a)) for a in addresses)
        self._next = 0  # index of the member whose turn is next

    def candidates(self) -> list[Upstream]:
        """The SMSCs a new bind tries, in order: the healthy ones from the one whose
        turn it is (the turn passes to the one after the first); none healthy: the
        one whose turn it is, alone."""
        members, n = self.members, len(self.members)
        order = [(i % n, members[i % n]) for i in range(self._next, self._next + n)]
        healthy = [(i, m) for i, m in order if m.up] or order[:1]
        self._next = (healthy[0][0] + 1) % n
        return [m for _i, m in healthy]

    def connected(self, member: Upstream) -> bool:
        """An upstream connection to ``member`` opened; true if it was down."""
        member.binds += 1
        was_down, member.up = not member.up, True
        return was_down

    def closed(self, member: Upstream) -> None:
        """An upstream connection to ``member`` closed."""
        member.binds -= 1

    def passed(self, member: Upstream) -> None:
        """A health check of ``member`` passed: it gets new binds again."""
        member.up = True

    def failed(self, member: Upstream) -> bool:
        """A connect to ``member`` failed; true if it was up (now down: probe it)."""
        member.failures += 1
        was_up, member.up = member.up, False
        return was_up

    def __call__(self) -> Mapping[str, float]:
        """Counters for ``/metrics`` (``spamgw_smpp_upstream_<name>``): the pool is a
        ``Core.sources`` entry, with ``labeled`` beside it."""
        return {"connect_failures": sum(m.failures for m in self.members)}

    def labeled(self) -> Mapping[str, tuple[str, Mapping[str, float]]]:
        """Gauges per SMSC for ``/metrics``: name -> (label, {address: value})."""
        return {"up": ("address", {m.address: float(m.up) for m in self.members}),
                "binds": ("address", {m.address: float(m.binds) for m in self.members})}
