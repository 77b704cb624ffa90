"""Phone numbers and short codes written in message text: what a message urges its
reader to call or text, and what that would cost.

The candidates come from the one scanner (``gateway.content.scan``): numbers in the
forms people and spammers write them (``+44 909 879 0000``, ``0909-879-0000``,
``0909.879.0000``, ``00882 1234 5678``, ``+44 (0)20 7946 0000``, ``(0909) 879
0000``, ``09061749602``, letter O for zero and l/I for one inside digit groups
(``O9O6 l749 6O2``), full-width or other Unicode digits, digits spaced out one by
one; at a North American home also "(876) 297-4410", "876-297-4410" and
"1-876-340-2297", which carry no prefix a reader elsewhere would dial). ``numbers``
normalises each with ``Numbering`` (national and international
prefixes of the home country) and keeps it only if its length is possible for its
country, so times, dates, amounts and bus routes do not become numbers.

``premium_shortcode`` says whether a short code a reader is told to text is a
premium-rate one in the home country: libphonenumber's short-number metadata where
it knows the cost (``ShortNumberCost.PREMIUM_RATE``: FR, ES, IE, US, ...), and for
the UK, whose metadata leaves the cost unknown, the 5-digit 6xxxx, 7xxxx and 8xxxx
ranges (Phone-paid Services Authority: charged shortcodes).
"""

from __future__ import annotations

import functools

import phonenumbers
from phonenumbers import shortnumberinfo

from gateway.content.scan import Scan, scan
from gateway.lists.premium import ITU_SPECIAL
from gateway.numbers import Number, Numbering, NumberKind

__all__ = ["ITU_SPECIAL", "LINE_TYPES", "abroad_candidates", "candidates",
           "extract_phone_numbers", "line_type", "numbers", "premium_shortcode", "read_abroad"]

#: the kinds of line libphonenumber tells numbers apart by, as rules name them
#: (``text_number_type``): banks and networks give freephone, shared-cost and
#: non-geographic (``uan``) numbers; a "fraud team" on a mobile or a town's landline
#: is someone else
LINE_TYPES: dict[str, int] = {
    name.lower(): value for name, value in vars(phonenumbers.PhoneNumberType).items()
    if name.isupper() and isinstance(value, int)
}
_LINE_NAMES = {value: name for name, value in LINE_TYPES.items()}

#: regions whose charged short codes libphonenumber does not describe: code lengths
#: and leading digits that are charged
_CHARGED_SHORTCODES: dict[str, tuple[tuple[int, str], ...]] = {
    "GB": ((5, "678"),),
}


def candidates(sc: Scan, numbering: Numbering) -> tuple[str, ...]:
    """The scan's phone candidates as the home country reads them: with the North
    American forms ("(876) 297-4410", "1-876-340-2297") where the home is in the North
    American Numbering Plan (country code 1), where a reader dials them as written;
    elsewhere those ten digits are no number."""
    if sc.nanp and numbering.home_cc == 1:
        return sc.phones + sc.nanp
    return sc.phones


def numbers(candidates: tuple[str, ...], numbering: Numbering) -> tuple[Number, ...]:
    """The possible E.164 numbers among the scanner's candidates, in order, unique."""
    out: list[Number] = []
    seen: set[int] = set()
    for digits in candidates:
        n = numbering.e164(digits[1:]) if digits[0] == "+" else numbering.parse(digits)
        if n.kind is NumberKind.E164 and n.possible and n.key not in seen:
            seen.add(n.key)
            out.append(n)
    return tuple(out)


def abroad_candidates(sc: Scan) -> tuple[str, ...]:
    """The scan's numbers written without an international prefix, in every national
    form (from a 0, North American, in groups): what a text from abroad writes as its
    own country writes numbers."""
    return tuple(d for d in sc.phones if d[0] != "+") + sc.nanp + sc.national


@functools.lru_cache(maxsize=8192)
def read_abroad(digits: str, region: str) -> str:
    """``digits`` (a national form) as dialled in ``region``: its E.164 digits (no
    ``+``), or "" when it is no valid number there. libphonenumber's parse and
    validation (tens of microseconds), so remembered; only texts from a foreign phone
    number ask (``callback_numbers``)."""
    try:
        pn = phonenumbers.parse(digits, region)
    except phonenumbers.NumberParseException:
        return ""
    if not phonenumbers.is_valid_number_for_region(pn, region):
        return ""
    return phonenumbers.format_number(pn, phonenumbers.PhoneNumberFormat.E164)[1:]


@functools.lru_cache(maxsize=8192)
def line_type(e164: str) -> str:
    """The kind of line of a number (``+`` and digits), a ``LINE_TYPES`` name:
    libphonenumber's number-type patterns, tens of microseconds, so remembered."""
    try:
        parsed = phonenumbers.parse(e164)
    except phonenumbers.NumberParseException:
        return "unknown"
    return _LINE_NAMES.get(phonenumbers.number_type(parsed), "unknown")


def extract_phone_numbers(text: str | None, numbering: Numbering) -> tuple[Number, ...]:
    """The dialable numbers written in ``text`` (E.164 ``Number``s), in order, unique."""
    if not text:
        return ()
    return numbers(candidates(scan(text), numbering), numbering)


@functools.lru_cache(maxsize=4096)
def premium_shortcode(code: str, region: str) -> bool:
    """Is texting ``code`` (digits) charged at a premium rate in ``region``?"""
    for length, leading in _CHARGED_SHORTCODES.get(region, ()):
        if len(code) == length and code[0] in leading:
            return True
    try:
        pn = phonenumbers.parse(code, region)
    except phonenumbers.NumberParseException:
        return False
    return bool(shortnumberinfo.expected_cost_for_region(pn, region)
                == shortnumberinfo.ShortNumberCost.PREMIUM_RATE)
