"""Deprecated home of the text facts; they live on the content floor now.

Kept so existing imports work: ``extract_domains`` is ``gateway.content.scan``'s (the
one scanner every rule and plugin reads), ``fingerprint`` and ``normalize_text`` are
``gateway.content.fingerprint``'s.
"""

from gateway.content.fingerprint import fingerprint, normalize_text
from gateway.content.scan import extract_domains

__all__ = ["extract_domains", "fingerprint", "normalize_text"]
