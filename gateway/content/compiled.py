"""Whether the content path's compiled part (``gateway/content/_native.c``) is built
and in use: the one place the classifier's scorer and the campaign's band keys ask.

``pip install`` builds it where there is a C compiler; ``SPAMGW_PURE_PYTHON`` (any
non-empty value) turns it off. Each content object decides when it is built (a model
pair, a fingerprinter: at plugin load), so a process set up before it starts is
consistent throughout.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

try:
    from gateway.content import _native
except ImportError:  # pragma: no cover - a build without the extension
    _native = None  # type: ignore[assignment]

__all__ = ["available", "content_path", "takes_bins", "takes_grams"]


def available() -> bool:
    """The compiled part is built and not turned off."""
    return _native is not None and not os.environ.get("SPAMGW_PURE_PYTHON")


def content_path() -> str:
    """``compiled``, ``python`` (not built) or ``python (SPAMGW_PURE_PYTHON)``: what
    ``spamgw run`` names in its start-up line."""
    if _native is None:
        return "python"
    return "compiled" if available() else "python (SPAMGW_PURE_PYTHON)"


def takes_grams(sizes: Iterable[int]) -> bool:
    """The compiled scorer takes a model with these word n-gram sizes."""
    wb = tuple(sizes)
    return _native is not None and len(wb) <= _native.MAX_WB \
        and all(1 <= n <= _native.MAX_GRAM for n in wb)


def takes_bins(bins: int) -> bool:
    """The compiled band keys take a sketch of this many bins (bands x rows)."""
    return _native is not None and bins <= _native.MAX_BINS
