"""What a link's host imitates: look-alikes of brand domains and of listed domains.

The links themselves come from the one scanner (``gateway.content.scan``:
``extract_urls`` is ``scan_urls``, re-exported here), the registrable domain from
the one public-suffix source (``gateway.content.suffixes``).

``BrandMatcher`` says whether a host imitates a configured brand:
homoglyphs and digit swaps (``paypa1``, ``paypal`` in Cyrillic letters), one edit away (``paypall``,
``hsbcc``), or the brand used in a host that is not the brand's own
(``paypal.secure-login.example``, ``paypal-verify.com``).

Pure functions over text, no network lookups: a URL's destination is judged by its
host alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from gateway.content.normalize import fold
from gateway.content.scan import Url, decode_host, scan_urls
from gateway.content.suffixes import SUFFIXES, registrable

__all__ = ["BrandMatcher", "DomainSkeletons", "Url", "extract_urls", "names_sender", "registrable",
           "sender_names", "skeleton"]

#: every link in a text (``gateway.content.scan.scan_urls``)
extract_urls = scan_urls


_DIGIT_SWAPS = str.maketrans({"0": "o", "1": "l", "i": "l", "|": "l", "3": "e", "5": "s",
                              "4": "a", "@": "a", "$": "s", "7": "t", "8": "b"})


def skeleton(label: str) -> str:
    """What a label looks like: homoglyphs, digit swaps and ``rn``/``vv`` folded."""
    s = fold(label).translate(_DIGIT_SWAPS)
    return s.replace("rn", "m").replace("vv", "w").replace("-", "")


def _deletes(s: str) -> set[str]:
    return {s[:i] + s[i + 1:] for i in range(len(s))}


#: first labels of public suffixes that name no one: "gov" of gov.uk is every
#: country's government (gov.au, gov.sg are their own), not a brand to imitate
_GENERIC_SUFFIX_LABELS = frozenset("gov govt ac co com org net edu mil ltd plc sch mod "
                                   "police nic me int".split())


#: country-code TLDs sold to anyone as generic names (and the free ones of old): a
#: brand's name under one of these is not the brand's national domain
_GENERIC_CCTLDS = frozenset("tk ml ga cf gq cc ws io ly me co tv pw su to gg ai st la vu nu "
                            "fm am cx sh ac gl gd gy ms so bz cm vg li sx tc ki nf cd re".split())


def _national(suffix: str) -> bool:
    """``suffix`` is a country's own: a country code ("ca", "de") or a second level
    under one ("com.au", "co.uk"), not one sold as a generic name ("io", "co", "me").
    Brands hold their names under the countries they serve ("bestbuy.ca", "amazon.de");
    a country's registry rarely lets a stranger register a famous name, while the cheap
    generic TLDs do."""
    last = suffix.rsplit(".", 1)[-1]
    return len(last) == 2 and last.isascii() and last.isalpha() and last not in _GENERIC_CCTLDS


class BrandMatcher:
    """Look-alikes of brand domains (``paypal.com``, ``hsbc.co.uk``)."""

    __slots__ = ("_by_deletion", "_by_skeleton", "_domains", "_inside", "_long_skeletons",
                 "_names", "_near", "_words")

    def __init__(self, brand_domains: Iterable[str], min_fuzzy: int = 5) -> None:
        self._domains: frozenset[str] = frozenset(d.casefold().strip(".") for d in brand_domains)
        names: dict[str, str] = {}
        for d in self._domains:
            if d in SUFFIXES:  # gov.uk: matched as a whole, see imitates()
                first = d.split(".")[0]
                if len(first) >= 3 and first not in _GENERIC_SUFFIX_LABELS:
                    names[first] = d  # nhs.uk's "nhs" is a brand: "nhs-kits.org"
                continue
            name = registrable(d).split(".")[0]
            if len(name) >= 3:
                names[name] = d
        self._names = names
        self._by_skeleton = {skeleton(n): n for n in names}
        self._long_skeletons = {n: skeleton(n) for n in names if len(n) >= 5}
        #: every place a long brand name starts in a word, overlapping ones too: one
        #: C-level scan instead of a loop over the brands
        self._inside = re.compile("(?=(" + "|".join(
            map(re.escape, sorted(self._long_skeletons, key=len, reverse=True))) + "))") \
            if self._long_skeletons else None
        by_del: dict[str, str] = {}
        for n in names:
            if len(n) >= min_fuzzy:
                sk = skeleton(n)
                for d in _deletes(sk):
                    by_del.setdefault(d, n)
        self._by_deletion = by_del
        #: what a one-letter deletion of a word must be to lead anywhere (one set
        #: intersection in C instead of two lookups per deletion)
        self._near = frozenset(self._by_skeleton) | frozenset(by_del)
        #: words already judged: hosts are often unique ("secure-3f9a1c.example") while
        #: their words repeat ("secure"); cleared whole when full
        self._words: dict[str, str | None] = {}

    def __bool__(self) -> bool:
        return bool(self._names)

    def own(self, host: str) -> bool:
        """``host`` is a brand's own domain or a subdomain of one."""
        h = host
        while True:
            if h in self._domains:
                return True
            dot = h.find(".")
            if dot < 0:
                return False
            h = h[dot + 1:]

    def imitates(self, host: str) -> str | None:
        """The brand ``host`` imitates, or None (also None for the brand's own hosts)."""
        if not self._domains or self.own(host):
            return None
        uhost = decode_host(host)
        reg = registrable(uhost)
        name, _, suffix = reg.partition(".")
        if name in self._names and _national(suffix):
            return None  # the brand's own name under a country's domain: "bestbuy.ca"
        parts = host.split(".")
        domains = self._domains
        for i in range(len(parts) - 1):  # "paypal.com.login.example", "gov.uk.refund.example"
            for j in range(i + 2, min(len(parts), i + 4) + 1):
                d = ".".join(parts[i:j])
                if d in domains:
                    return d
        labels = uhost.split(".")
        suffix_labels = len(reg.split(".")) - 1
        for label in labels[: len(labels) - suffix_labels]:
            if label == "www":
                continue
            words = [label, *label.split("-")] if "-" in label else [label]
            for w in words:
                brand = self._match(w)
                if brand is not None:
                    return brand
        return None

    def _match(self, word: str) -> str | None:
        words = self._words
        if word in words:
            return words[word]
        if len(words) >= 1 << 15:
            words.clear()
        brand = words[word] = self._judge(word)
        return brand

    def _judge(self, word: str) -> str | None:
        if len(word) < 3:
            return None
        if word in self._names:
            return word  # the brand's name on a host that is not the brand's
        sk = skeleton(word)
        brand = self._by_skeleton.get(sk)
        if brand is not None:
            return brand
        if len(sk) >= 4:
            brand = self._by_deletion.get(sk)  # one letter added
            if brand is not None:
                return brand
            for d in self._near.intersection(_deletes(sk)):  # one dropped, changed, swapped
                brand = self._by_skeleton.get(d) or self._by_deletion.get(d)
                if brand is not None and len(brand) >= 5:
                    return brand
        # inside a longer word: "mypaypalsecure". Written as it is: with its letters
        # swapped too, a longer word holds brands it never meant ("schoolcloud" is
        # "school" + "cloud", not "icloud" with an l for its i)
        if self._inside is None:
            return None
        for m in self._inside.finditer(fold(word).replace("-", "")):
            name = m.group(1)
            if self._long_skeletons[name] in sk:
                return name
        return None


def host_skeleton(host: str) -> str:
    """A host as it looks, label by label (``evil-l0gin.example`` ->
    ``evllogln.example``); punycode decoded first, so homoglyph hosts match too."""
    return ".".join(map(skeleton, decode_host(host).split(".")))


class DomainSkeletons:
    """A domain list by how its names look: a host hits when it is a listed domain, a
    subdomain of one, or written to look like one (digits for letters ``l0gin``,
    ``paypa1``; homoglyphs; ``rn`` for ``m``). With the scanner's obfuscated forms
    (spaced letters, comma or ``[.]`` for dots, ``hxxp``), every way of writing a
    listed domain hits."""

    __slots__ = ("_by_skeleton",)

    def __init__(self, domains: Iterable[str]) -> None:
        self._by_skeleton: dict[str, str] = {}
        for d in domains:
            d = d.casefold().strip(".")
            if d:
                self._by_skeleton.setdefault(host_skeleton(d), d)

    def __bool__(self) -> bool:
        return bool(self._by_skeleton)

    def match(self, host: str) -> str | None:
        """The listed domain ``host`` is, is under, or looks like; else None."""
        by = self._by_skeleton
        labels = host_skeleton(host).split(".")
        for i in range(len(labels) - 1):
            d = by.get(".".join(labels[i:]))
            if d is not None:
                return d
        return None


#: public suffixes under which nobody buys a name (a council, a surgery, a school):
#: a sender's name there is the sender's own
_PUBLIC_SECTOR_LABELS = frozenset("gov govt nhs police ac sch edu mil mod parliament "
                                  "judiciary".split())
#: first words of "Name:" that name no sender ("Reminder: ...", "Your GP surgery: ...")
_NOT_NAMES = frozenset("your the our my a an reminder alert notice update info hi hello dear "
                       "urgent important final new re fwd fw ps note warning attention "
                       "congratulations congrats welcome thanks thank ref".split())
#: words an impersonator glues to the name ("dpduk", "hmrconline"); a longer word
#: that starts with the name is another word ("bootsy")
_GLUED_WORDS = frozenset("online official secure help support pay info app service services "
                         "mail post track delivery login verify account".split())
_OPENING_NAME = re.compile(r"\s*([^\W\d_][\w&'.]*(?: [\w&'.]+){0,3}) ?:(?!//)")
_NON_ALNUM = re.compile(r"[\W_]+")


def sender_names(sender_id: str, text: str) -> tuple[str, ...]:
    """The names a message goes by: its alphanumeric sender ID, and the name its text
    opens with ("Boots Pharmacy: ...": ``boots`` and ``bootspharmacy``), casefolded
    letters and digits, three characters or more."""
    names: list[str] = []
    if sender_id:
        names.append(_NON_ALNUM.sub("", sender_id.casefold()))
    m = _OPENING_NAME.match(text)
    if m is not None:
        words = [_NON_ALNUM.sub("", w) for w in m.group(1).casefold().split()]
        if words and words[0] not in _NOT_NAMES:
            names.append(words[0])
            names.append("".join(words))
    return tuple(dict.fromkeys(n for n in names if len(n) >= 3))


def names_sender(names: tuple[str, ...], host: str) -> str | None:
    """The name of ``names`` that ``host``'s registrable domain wears with words
    added ("boots-prescription.com", "dpduk-driver.com" for ``boots``, ``dpd``), on a
    domain that is not that name's own: None when the domain is the name written with
    hyphens ("kwik-fit.com" for ``kwikfit``) or a public-sector one (gov.uk, nhs.uk).
    A hyphenated registrable domain is someone's made-up name, so a label in front of
    it that wears the name counts too ("cgd-acesso.pt-seguro.info" for ``cgd``), as does
    one in front of a registrable domain of two or three letters that is not the name
    (a country's code bought under another ending: "orange-esim-activation.fr.cm")."""
    full = decode_host(host)
    reg = registrable(full)
    label, _, suffix = reg.partition(".")
    if suffix.split(".", 1)[0] in _PUBLIC_SECTOR_LABELS or label in _PUBLIC_SECTOR_LABELS:
        return None
    if "-" in label:
        joined = label.replace("-", "")
        if any(n == joined or n.startswith(joined) for n in names):
            return None  # the name itself, hyphenated ("kwik-fit", "brighton-hove")
        found = _wears(names, label)
    elif len(label) <= 3 and len(full) > len(reg) and label not in names:
        # a country's code bought as a domain under another ending, the brand's name in
        # front of it: "orange-esim-activation.fr.cm", "iam-pass-roaming.ma.store" (set
        # 143, read); the name's own short domain ("bt-sport.bt.com" for ``bt``) is not
        found = None
    else:
        return None
    if found is None and len(full) > len(reg):
        # the name in front of someone else's hyphenated domain: "cgd-acesso" on
        # pt-seguro.info, "vipps-sikkerhet" on no-id.com
        for sub in full[:-len(reg) - 1].split("."):
            if "-" in sub and (found := _wears(names, sub)) is not None:
                break
    return found


def _wears(names: tuple[str, ...], label: str) -> str | None:
    """The name of ``names`` that ``label`` wears with words added: a part between its
    hyphens, or its first part glued to a country code or a service word."""
    parts = label.split("-")
    first = parts[0]
    for n in names:
        if n in parts or (first.startswith(n) and (len(first) == len(n) + 2 or
                                                   first[len(n):] in _GLUED_WORDS)):
            return n  # the name alone, or glued to a country code or a service word
    return None

