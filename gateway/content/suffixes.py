"""The one public-suffix source: which names are top-level domains, which suffixes
are public, and a host's registrable domain.

Read once from ``data/public_suffixes.txt`` (the ICANN section of the Public Suffix
List, shipped in the package: no network at run time) plus the names reserved for
examples and tests (``example``, ``test``, ``invalid``, ``localhost``). Every URL
recogniser of the gateway asks here (``gateway.content.scan``), so a TLD is valid
in one place for all of them.
"""

from __future__ import annotations

from importlib.resources import files

__all__ = ["SUFFIXES", "TLDS", "public_suffix", "registrable"]


def _load() -> frozenset[str]:
    text = files("gateway.content").joinpath("data/public_suffixes.txt").read_text("utf-8")
    return frozenset(line for line in map(str.strip, text.splitlines())
                     if line and not line.startswith("#"))


#: every public suffix, lower-case ASCII (IDNA ``xn--`` labels), one or more labels
SUFFIXES: frozenset[str] = _load()
#: the top-level domains, with the reserved names: the last label of every suffix (the
#: list names some countries only by their second levels: "co.za", never "za")
TLDS: frozenset[str] = frozenset(s.rsplit(".", 1)[-1] for s in SUFFIXES)


def public_suffix(host: str) -> str:
    """The longest public suffix of ``host`` (its last label if none is listed)."""
    labels = host.split(".")
    for i in range(len(labels)):
        cand = ".".join(labels[i:])
        if cand in SUFFIXES:
            return cand
    return labels[-1]


def registrable(host: str) -> str:
    """The registrable domain: ``login.paypal.co.uk`` -> ``paypal.co.uk``; a host that
    is a public suffix itself (``gov.uk``) is its own."""
    suffix = public_suffix(host)
    if len(suffix) >= len(host):
        return host
    head = host[: len(host) - len(suffix) - 1]
    return head.rsplit(".", 1)[-1] + "." + suffix
