"""The ``premium_rate`` list: every premium-rate and shared-cost range in the world.

Built from libphonenumber's metadata (the ``phonenumbers`` package): each region's
``premium_rate`` and ``shared_cost`` national-number patterns are expanded into
length-exact digit prefixes, then into key ranges of one ``NumberSet``; plus the
ITU-T international special codes that carry revenue-share fraud (+979 premium,
+808 shared cost, +881/+882/+883 global networks, +870 Inmarsat, ...); plus the
charged ranges libphonenumber files under another type or not at all
(``CHARGED_EXTRA``: UK 070 personal numbers, UK 118 directory enquiries, Spanish 905
televoting, US 1-NPA-976 pay-per-call).

Expansion works on the parsed regular expression (``re._parser``): a pattern is a
finite language over digits of bounded length, so it is the union of sequences of
digit classes. A sequence's trailing run of ``\\d`` positions becomes a range; the
rest is spelled out as concrete prefixes. Set arithmetic (shared-cost minus
toll-free, intersected with the general description, as ``number_type`` decides)
is done on sorted intervals: the whole world builds in under 0.1 s.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import product

# Python 3.11+: the regular-expression parser lives in re._parser (not in typeshed)
from re import _constants as sre_c  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import Any

from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, PhoneMetadata

from gateway.lists.intervals import Span, intersect, normalize, subtract
from gateway.lists.numberset import NumberSet, Prefix
from gateway.numbers import MAX_DIGITS

__all__ = ["CHARGED_EXTRA", "ITU_SPECIAL", "build_premium_rate", "expand_pattern",
           "load_premium_rate"]

DIGITS = frozenset("0123456789")
Seq = tuple[frozenset[str], ...]

#: ITU-T E.164 international special codes with revenue-share risk, as prefixes of
#: the full international number (no '+').
ITU_SPECIAL: dict[str, str] = {
    "979": "International Premium Rate Service (IPRS)",
    "808": "International Shared Cost Service (ISCS)",
    "870": "Inmarsat SNAC",
    "881": "Global Mobile Satellite System (GMSS)",
    "882": "International Networks",
    "883": "International Networks",
    "888": "Telecommunications for Disaster Relief (OCHA)",
    "878": "Universal Personal Telecommunications (UPT)",
}

#: charged ranges libphonenumber does not file as premium-rate or shared-cost: regex
#: over the full number (no '+'; fully matched; ``short:`` for short numbers as
#: dialled at home), with what it is. Each is a callback lure of the corpus or a known
#: pay-per-call range.
CHARGED_EXTRA: dict[str, str] = {
    # libphonenumber: personal_number; "follow-me" numbers charged up to premium rates,
    # written in scam texts because they look like 07 mobiles
    r"4470\d{8}": "UK 070 personal numbers",
    # directory enquiries, charged per call and per minute: the E.164 form, and the
    # short numbers as dialled at home (a 5- or 6-digit key is no E.164 number)
    r"44118\d{3}": "UK 118 directory enquiries (E.164 form)",
    r"short:118\d{2,3}": "118 directory enquiries as dialled (UK 118xxx, DE 118xx)",
    r"34905\d{6}": "Spain 905 televoting / mass-calling",
    r"1[2-9]\d\d976\d{4}": "US/NANP 976 pay-per-call exchanges",
}

_MAX_SPELLED = 200_000  # prefixes one sequence may spell out before we give up on it


class PatternTooBroad(ValueError):
    pass


def _cat_digit(args: list) -> frozenset[str]:  # type: ignore[type-arg,unused-ignore]
    out: set[str] = set()
    for op, av in args:
        if op is sre_c.LITERAL:
            out.add(chr(av))
        elif op is sre_c.RANGE:
            lo, hi = av
            out.update(chr(c) for c in range(lo, hi + 1))
        elif op is sre_c.CATEGORY and av is sre_c.CATEGORY_DIGIT:
            out.update(DIGITS)
        elif op is sre_c.NEGATE:
            raise PatternTooBroad("negated class")
        else:
            raise PatternTooBroad(f"unsupported class item {op}")
    return frozenset(out & DIGITS)


def _expand(items: Any, max_len: int) -> set[Seq]:
    seqs: set[Seq] = {()}
    for op, av in items:
        if op is sre_c.LITERAL:
            alts: set[Seq] = {(frozenset(chr(av)),)}
        elif op is sre_c.IN:
            alts = {(_cat_digit(av),)}
        elif op is sre_c.SUBPATTERN:
            alts = _expand(av[-1], max_len)
        elif op is sre_c.BRANCH:
            alts = set()
            for branch in av[1]:
                alts |= _expand(branch, max_len)
        elif op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT):
            lo, hi, sub = av
            inner = _expand(sub, max_len)
            hi = min(hi, max_len)
            alts = set()
            current: set[Seq] = {()}
            for count in range(hi + 1):
                if count >= lo:
                    alts |= current
                current = {a + b for a in current for b in inner if len(a) + len(b) <= max_len}
                if not current:
                    break
        elif op is sre_c.AT:
            continue
        else:
            raise PatternTooBroad(f"unsupported pattern element {op}")
        seqs = {a + b for a in seqs for b in alts if len(a) + len(b) <= max_len}
    return seqs


def expand_pattern(pattern: str, max_len: int = 17) -> set[Seq]:
    """The sequences of digit classes a libphonenumber pattern fully matches."""
    return _expand(sre_parse.parse(pattern), max_len)


def sequences_to_prefixes(seqs: set[Seq], lengths: frozenset[int]) -> Iterator[tuple[str, int]]:
    """(prefix digits, national length) pairs covering the sequences of allowed lengths."""
    for seq in seqs:
        if lengths and len(seq) not in lengths:
            continue
        cut = len(seq)
        while cut > 0 and seq[cut - 1] == DIGITS:
            cut -= 1
        head = seq[:cut]
        count = 1
        for s in head:
            count *= len(s)
        if count > _MAX_SPELLED:
            raise PatternTooBroad(f"{count} prefixes")
        for combo in product(*[sorted(s) for s in head]):
            yield "".join(combo), len(seq)


def _metadata(cc: int, region: str) -> PhoneMetadata | None:
    if region == "001":
        return PhoneMetadata.metadata_for_nongeo_region(cc)
    return PhoneMetadata.metadata_for_region(region)


def _desc_ranges(cc: int, md: PhoneMetadata, desc: object) -> list[Span]:
    pattern = getattr(desc, "national_number_pattern", None)
    if not pattern:
        return []
    general = md.general_desc
    lengths = frozenset(getattr(desc, "possible_length", None)
                        or (general.possible_length if general is not None else ()) or ())
    ccs = str(cc)
    spans: list[Span] = []
    for prefix, length in sequences_to_prefixes(expand_pattern(pattern), lengths):
        if len(ccs) + length <= MAX_DIGITS:  # E.164: 15 digits at most
            spans.extend(Prefix(ccs + prefix, lengths=(len(ccs) + length,)).ranges())
    return normalize(spans)


def metadata_ranges() -> list[Span]:
    """Premium-rate and shared-cost key ranges from libphonenumber for every region.

    Mirrors ``phonenumbers.number_type``: a shared-cost number that is also toll-free
    counts as toll-free there, so toll-free ranges are taken out of shared-cost; and
    a number must match the region's general description.
    """
    out: list[Span] = []
    for cc, regions in COUNTRY_CODE_TO_REGION_CODE.items():
        for region in regions:
            md = _metadata(cc, region)
            if md is None or (md.premium_rate is None and md.shared_cost is None):
                continue
            premium = _desc_ranges(cc, md, md.premium_rate)
            shared = _desc_ranges(cc, md, md.shared_cost)
            if not premium and not shared:
                continue
            if shared:
                shared = subtract(shared, _desc_ranges(cc, md, md.toll_free))
            general = _desc_ranges(cc, md, md.general_desc)
            out.extend(intersect(normalize(premium + shared), general))
    return normalize(out)


def itu_ranges() -> list[Span]:
    return normalize(r for code in ITU_SPECIAL for r in Prefix(code).ranges())


def extra_ranges() -> list[Span]:
    spans: list[Span] = []
    for entry in CHARGED_EXTRA:
        short = entry.startswith("short:")
        pattern = entry.removeprefix("short:")
        for prefix, length in sequences_to_prefixes(expand_pattern(pattern), frozenset()):
            spans.extend(Prefix(prefix, lengths=(length,), short=short).ranges())
    return normalize(spans)


def build_premium_rate() -> NumberSet:
    ns = NumberSet("premium_rate")
    ns.add_ranges(normalize(metadata_ranges() + itu_ranges() + extra_ranges()))
    return ns


def load_premium_rate() -> NumberSet:
    """The premium-rate set (built in well under a second, so not cached)."""
    return build_premium_rate()
