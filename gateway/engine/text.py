"""Text facts the rules ask about: URL domains and a template fingerprint.

Cheap, dependency-free and computed at most once per event (``Facts`` caches
them). Obfuscated URL forms and near-duplicate campaign fingerprints belong to
the content plugins; this is the baseline the rule language stands on.
"""

from __future__ import annotations

import re
import zlib

__all__ = ["extract_domains", "fingerprint", "normalize_text"]

_URL_RE = re.compile(
    r"(?:(?:https?|hxxps?)://|www\.)?"  # optional scheme
    r"((?:[a-z0-9\u00a1-\uffff](?:[a-z0-9\u00a1-\uffff-]{0,61}[a-z0-9\u00a1-\uffff])?\.)+"
    r"(?:[a-z\u00a1-\uffff]{2,24}|xn--[a-z0-9-]{2,59}))"  # TLD
    r"(?::\d{1,5})?(?=[/?#\s]|$|[),.!'\"])",
    re.IGNORECASE,
)
# what every match contains: a label's last character, a dot, a TLD's first character
_LABEL_DOT_TLD = re.compile(r"[a-z0-9\u00a1-\uffff]\.[a-z\u00a1-\uffff]", re.IGNORECASE)
_DIGITS = re.compile(r"\d+")
# file names and amounts that look like domains ("file.txt", "4.50") are not URLs
_NOT_TLDS = frozenset({"txt", "pdf", "jpg", "png", "doc", "exe", "zip"})


def extract_domains(text: str) -> tuple[str, ...]:
    """Domains of the URLs in ``text``, lower-case, IDNA-encoded, in order, unique.

    A match never contains a space, and a space after one satisfies the same
    lookahead as the end of the string, so the text is scanned token by token
    (split on spaces), and only tokens with a dot: the same matches in the same
    order as one scan of the whole text, without trying every start position of
    every word (that scan cost most of an SMS's evaluation). A token is scanned
    only if it has what every match has (``_LABEL_DOT_TLD``).
    """
    if "." not in text:
        return ()
    out: list[str] = []
    for token in text.split(" "):
        if "." not in token or _LABEL_DOT_TLD.search(token) is None:
            continue
        for m in _URL_RE.finditer(token):
            host = m.group(1).lower().rstrip(".")
            if host.rsplit(".", 1)[-1] in _NOT_TLDS:
                continue
            try:
                host = host.encode("idna").decode("ascii")
            except UnicodeError:
                pass
            if host not in out:
                out.append(host)
    return tuple(out)


def normalize_text(text: str) -> str:
    """Casefolded, digit runs as '#', white space folded: one form per template."""
    # str.split() and re's \s agree on what white space is (Py_UNICODE_ISSPACE)
    return " ".join(_DIGITS.sub("#", text.casefold()).split())


def fingerprint(text: str) -> int:
    """A 32-bit fingerprint of the normalized text (same-text bulk counting)."""
    return zlib.crc32(normalize_text(text).encode("utf-8"))
