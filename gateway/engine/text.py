"""Deprecated home of the text facts; they live in ``gateway.content`` now.

Kept so existing imports work: ``extract_domains`` is ``gateway.content.domains``'s,
``fingerprint`` and ``normalize_text`` are ``gateway.content.fingerprint``'s.
"""

from gateway.content.domains import _ANY, _NOT_TLDS, extract_domains
from gateway.content.fingerprint import fingerprint, normalize_text

__all__ = ["_ANY", "_NOT_TLDS", "extract_domains", "fingerprint", "normalize_text"]
