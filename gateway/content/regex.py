"""Operator regular expressions (``text_regex``) on RE2, so no pattern can stall the loop.

Python's ``re`` backtracks: ``(a+)+$`` on thirty ``a``s and a ``!`` takes minutes, and
one such rule would stop every message behind it. RE2 (``google-re2``) matches in
time linear in the text whatever the pattern: on that text it answers in about
50 us. Searching the UTF-8 bytes, the shipped ``text_regex`` rules cost about half
of what ``re`` costs on the benchmark's templated stream and a fifth on the SMS
Spam Collection (``loadtest/bench_content.py`` prints them).

RE2 syntax is Python's without lookaround and backreferences; ``\\b``, ``\\w`` and
``\\d`` are ASCII there (``\\p{L}`` names any letter). A pattern RE2 cannot compile
is still accepted, matched with Python's ``re`` (as before, backtracking), and
``OperatorRegex.engine`` says so; the compiler logs it with the rule's place. Without
``google-re2`` installed, every pattern uses ``re``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

try:
    import re2 as _re2
except ImportError:  # pragma: no cover - google-re2 is a dependency
    _re2 = None

__all__ = ["OperatorRegex", "compile_operator_regex"]


class OperatorRegex:
    """The alternation of an operator's patterns, case-insensitive; ``search(text)``
    says whether any matches."""

    __slots__ = ("engine", "pattern", "python", "search")

    def __init__(self, pattern: str, python: re.Pattern[str], rx2: Any | None,
                 why_not: str = "") -> None:
        self.pattern = pattern
        self.python = python
        self.engine = "re2" if rx2 is not None else f"re ({why_not})" if why_not else "re"
        self.search: Callable[[str], bool]
        if rx2 is None:
            self.search = lambda text: python.search(text) is not None
            return
        search2 = rx2.search

        def search(text: str) -> bool:
            # on UTF-8 bytes: half the cost of the str interface (no offset mapping);
            # a lone surrogate (malformed UCS-2) passes as bytes RE2 skips over
            return search2(text.encode("utf-8", "surrogatepass")) is not None

        self.search = search


def compile_operator_regex(patterns: Sequence[str]) -> OperatorRegex:
    """Raises ``re.error`` (or ``TypeError``) for a pattern Python's ``re`` rejects,
    as the rule compiler always reported."""
    for p in patterns:
        re.compile(p, re.IGNORECASE)  # each alone, so an error names its pattern
    joined = "|".join(f"(?:{p})" for p in patterns)
    python = re.compile(joined, re.IGNORECASE)
    if _re2 is None:
        return OperatorRegex(joined, python, None, "google-re2 is not installed")
    options = _re2.Options()
    options.case_sensitive = False
    options.log_errors = False
    try:
        rx2 = _re2.compile(joined.encode("utf-8"), options)
    except _re2.error as e:
        msg = e.args[0].decode() if e.args and isinstance(e.args[0], bytes) else str(e)
        return OperatorRegex(joined, python, None, f"RE2 cannot compile it: {msg}")
    return OperatorRegex(joined, python, rx2)
