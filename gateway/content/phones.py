"""Phone numbers written in message text: what a message urges its reader to call.

``extract_phone_numbers`` finds numbers in the forms people and spammers write
them: ``+44 909 879 0000``, ``0909-879-0000``, ``0909.879.0000``, ``00882 1234
5678``, ``+44 (0)20 7946 0000``, ``(0909) 879 0000``, ``09061749602``, with letter
O for zero and l/I for one inside digit groups (``O9O6 l749 6O2``), full-width or
other Unicode digits, and digits spaced out one by one (``0 9 0 6 ...``). Each
candidate is normalised by ``Numbering`` (national and international prefixes of
the home country) and kept only if its length is possible for its country, so
times, dates, amounts and bus routes do not become numbers.
"""

from __future__ import annotations

import re
import unicodedata

from gateway.numbers import Number, Numbering, NumberKind

__all__ = ["extract_phone_numbers"]

# a digit, then digits and single separators (space, dot, dash, parentheses)
_CANDIDATE = re.compile(
    r"(?<![\d+])(\+|\(\+?)?(\d(?:[ \t.\-]?\(?\d\)?|[ \t.\-]?\([ \t]?\d)*)(?!\d)"
)
_TRUNK_ZERO = re.compile(r"\(\s*0\s*\)")
_NOT_DIGIT = re.compile(r"\D+")
# O for 0 and l/I for 1 inside a run of digits
_LETTER_DIGITS = re.compile(r"(?<![A-Za-z])[\dOoIl]*\d[\dOoIl]*(?![A-Za-z])")
_LETTER_TABLE = str.maketrans("OoIl", "0011")
# a run of _LETTER_DIGITS with a letter in it has a letter next to a digit
_LETTER_BY_DIGIT = re.compile(r"\d[OoIl]|[OoIl]\d")
_HAS_RUN = re.compile(r"\d(?:\D{0,3}\d){6}")
_HAS_FOUR = re.compile(r"\d(?:\D{0,4}\d){3}")


_OTHER_DIGIT = re.compile(r"(?![0-9])\d")  # \d is Unicode category Nd, as str.isdecimal


def _unicode_digits(text: str) -> str:
    """Any Unicode decimal digit (full-width, Arabic-Indic, ...) as ASCII."""
    if text.isascii() or _OTHER_DIGIT.search(text) is None:  # "£5": no per-char loop
        return text
    return "".join(str(unicodedata.decimal(c)) if c.isdecimal() and not c.isascii() else c
                   for c in text)


def extract_phone_numbers(text: str, numbering: Numbering) -> tuple[Number, ...]:
    """The dialable numbers written in ``text`` (E.164 ``Number``s), in order, unique."""
    if not text:
        return ()
    if not text.isascii():
        text = unicodedata.normalize("NFKC", _unicode_digits(text))
    if _HAS_FOUR.search(text) is None:
        return ()
    if _LETTER_BY_DIGIT.search(text) is not None:  # else every run is digits only
        text = _LETTER_DIGITS.sub(lambda m: m.group().translate(_LETTER_TABLE), text)
    if _HAS_RUN.search(text) is None:
        return ()
    out: list[Number] = []
    seen: set[int] = set()
    for m in _CANDIDATE.finditer(text):
        n = _number_of(m, numbering)
        if n is not None and n.key not in seen:
            seen.add(n.key)
            out.append(n)
    return tuple(out)


def _number_of(m: re.Match[str], numbering: Numbering) -> Number | None:
    lead, body = m.group(1) or "", m.group(2)
    plus = "+" in lead
    if plus:
        body = _TRUNK_ZERO.sub("", body, count=1)  # "+44 (0)20 ..." drops the trunk 0
    digits = _NOT_DIGIT.sub("", body)
    if plus:
        if not 8 <= len(digits) <= 15:
            return None
        n = numbering.e164(digits)
    else:
        if len(digits) < 9 or len(digits) > 17 or digits[0] != "0":
            return None  # dialable forms start with a trunk or international prefix
        n = numbering.parse(digits)
    if n.kind is not NumberKind.E164 or not n.possible:
        return None
    return n
