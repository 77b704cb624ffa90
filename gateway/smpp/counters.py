"""``ProxyCounters``: what the SMPP relays of one listener count (``/metrics``
exports them as ``spamgw_smpp_<name>``)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ProxyCounters"]


@dataclass(slots=True)
class ProxyCounters:
    forwarded: int = 0
    rejected: int = 0
    dropped: int = 0
    throttled: int = 0
    temp_errors: int = 0
    receipts: int = 0
    held_parts: int = 0
    binds: int = 0
    bind_refused: int = 0
    bad_pdus: int = 0
    orphan_responses: int = 0
    timeouts: int = 0  # requests the SMSC did not answer in upstream.response_timeout
    late_responses: int = 0  # their responses, when they came after all: dropped
    esme_timeouts: int = 0  # deliver_sm/data_sm/unbind the ESME left unanswered
    esme_late_responses: int = 0  # its responses to them, when they came after all: dropped
    connections_refused: int = 0  # over max_connections or max_connections_per_ip
    bind_timeouts: int = 0  # connections closed for not binding in bind_timeout
    idle_closed: int = 0  # bound ESMEs closed for silence (idle_timeout, enquire_link)
    resubmitted: int = 0  # quarantined messages released and sent to the SMSC again
