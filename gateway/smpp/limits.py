"""Per-client limits from ``[[smpp.clients]]``: allowed source IPs, bind count and a
throughput cap (token bucket; over it the proxy answers ESME_RTHROTTLED)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from gateway.config import SmppClientConfig

__all__ = ["ClientLimits", "TokenBucket"]


@dataclass(slots=True)
class TokenBucket:
    rate: float
    burst: float
    tokens: float = 0.0
    stamp: float = 0.0

    def take(self, now: float) -> bool:
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


@dataclass(slots=True)
class _Client:
    config: SmppClientConfig
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
    bucket: TokenBucket | None
    binds: int = 0


@dataclass(slots=True)
class ClientLimits:
    """Live limit state for the configured clients (one instance per proxy)."""

    clients: dict[str, _Client] = field(default_factory=dict)

    @classmethod
    def from_config(cls, configs: tuple[SmppClientConfig, ...], now: float) -> ClientLimits:
        out = cls()
        for c in configs:
            nets = tuple(ipaddress.ip_network(a, strict=False) for a in c.allowed_ips)
            bucket = (TokenBucket(c.max_tps, max(1.0, c.max_tps), max(1.0, c.max_tps), now)
                      if c.max_tps > 0 else None)
            out.clients[c.system_id] = _Client(c, nets, bucket)
        return out

    def refuse_bind(self, system_id: str, peer_ip: str) -> str | None:
        """Why a bind must be refused, or ``None``. A granted bind is counted."""
        client = self.clients.get(system_id)
        if client is None:
            return None
        if client.networks:
            try:
                ip = ipaddress.ip_address(peer_ip)
            except ValueError:
                return f"unparsable peer address {peer_ip!r}"
            if not any(ip in net for net in client.networks):
                return f"{peer_ip} not in allowed_ips"
        if client.config.max_binds and client.binds >= client.config.max_binds:
            return f"max_binds {client.config.max_binds} reached"
        client.binds += 1
        return None

    def unbound(self, system_id: str) -> None:
        client = self.clients.get(system_id)
        if client is not None and client.binds > 0:
            client.binds -= 1

    def bucket(self, system_id: str) -> TokenBucket | None:
        client = self.clients.get(system_id)
        return None if client is None else client.bucket
