"""Open connections by peer address, for the listeners' ``max_connections_per_ip``
(the SMPP proxy and the FastAGI server count them the same way)."""

from __future__ import annotations

__all__ = ["PeerCounts"]


class PeerCounts(dict[str, int]):
    """Peer address -> its open connections (an address with none is not a key)."""

    def add(self, peer: str, cap: int) -> bool:
        """Count one more connection from ``peer``; ``False`` (not counted) when it has
        ``cap`` open already (0: no limit)."""
        n = self.get(peer, 0)
        if cap and n >= cap:
            return False
        self[peer] = n + 1
        return True

    def remove(self, peer: str) -> None:
        """One connection from ``peer`` closed."""
        n = self.get(peer, 0) - 1
        if n > 0:
            self[peer] = n
        else:
            self.pop(peer, None)
