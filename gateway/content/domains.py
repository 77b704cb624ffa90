"""URL domains the rule predicates ask about (``has_url``, ``url_domain_in``).

Cheap, dependency-free and computed at most once per event (``Facts`` caches
them). Obfuscated URL forms belong to the content plugins; this is the baseline
the rule language stands on.
"""

from __future__ import annotations

import re

__all__ = ["extract_domains"]

_URL = (
    r"(?:(?:https?|hxxps?)://|www\.)?"  # optional scheme
    r"((?:[a-z0-9\u00a1-\uffff](?:[a-z0-9\u00a1-\uffff-]{0,61}[a-z0-9\u00a1-\uffff])?\.)+"
    r"(?:[a-z\u00a1-\uffff]{2,24}|xn--[a-z0-9-]{2,59}))"  # TLD
    r"(?::\d{1,5})?(?=[/?#\s]|$|[),.!'\"])"
)
# what every match contains: a label's last character, a dot, a TLD's first character
_LABEL_DOT_TLD = r"[a-z0-9\u00a1-\uffff]\.[a-z\u00a1-\uffff]"
# any text; and ASCII text lower-cased first, where case folding is one character to
# one and the same pattern without IGNORECASE finds the same matches, faster
_ANY = (re.compile(_URL, re.IGNORECASE), re.compile(_LABEL_DOT_TLD, re.IGNORECASE))
_LOWER_ASCII = (re.compile(_URL), re.compile(_LABEL_DOT_TLD))
# file names and amounts that look like domains ("file.txt", "4.50") are not URLs
_NOT_TLDS = frozenset({"txt", "pdf", "jpg", "png", "doc", "exe", "zip"})


def extract_domains(text: str) -> tuple[str, ...]:
    """Domains of the URLs in ``text``, lower-case, IDNA-encoded, in order, unique.

    A match never contains a space, and a space after one satisfies the same
    lookahead as the end of the string, so the text is scanned token by token
    (split on spaces), and only tokens with a dot: the same matches in the same
    order as one scan of the whole text, without trying every start position of
    every word (that scan cost most of an SMS's evaluation). A token is scanned
    only if it has what every match has (``_LABEL_DOT_TLD``), and no further than
    its last dot.
    """
    if "." not in text:
        return ()
    out: list[str] = []
    for token in text.split(" "):
        if "." in token:
            if token.isascii():
                _scan(token.lower(), _LOWER_ASCII, out)
            else:
                _scan(token, _ANY, out)
    return tuple(out)


def _scan(token: str, patterns: tuple[re.Pattern[str], re.Pattern[str]],
          out: list[str]) -> None:
    url, precheck = patterns
    if precheck.search(token) is None:
        return
    pos = 0
    # what ``url.finditer`` finds; a match holds a dot, so none starts past the last
    while (m := url.search(token, pos)) is not None:
        pos = m.end()
        host = m.group(1).lower().rstrip(".")
        if host.rsplit(".", 1)[-1] not in _NOT_TLDS:
            if not host.isascii():  # ASCII labels (at most 63 long here) encode as is
                try:
                    host = host.encode("idna").decode("ascii")
                except UnicodeError:
                    pass
            if host not in out:
                out.append(host)
        if token.find(".", pos) < 0:
            break
