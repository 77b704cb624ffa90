"""The one content scanner: links, phone numbers and short codes of a text, in one pass.

``scan(text)`` returns a ``Scan``: the ``urls`` (plain and obfuscated links, each
a ``Url`` with its host), the ``phones`` (dialable digit strings as written,
``+``-prefixed or starting with a trunk/international ``0``), the ``shortcodes``
a reader is told to text (``text WIN to 87121``) and the ``services`` a reader is
told to call (``call 118 118``). Every rule predicate (``has_url``,
``url_domain_in``) and every content plugin reads the same ``Scan``, once per
event (``Facts.scan``), so what counts as a link is decided here alone, against
one TLD source (``gateway.content.suffixes``).

Links, the forms recognised:

- ``https://x.example/a``, ``www.x.example``, bare ``x.com``; bare names count when
  their TLD is a real one (the Public Suffix List's, plus ``example`` and ``test``)
  and they do not read as prose: a title-cased last label is a sentence
  (``home.Com on``), and a TLD outside ``STRONG_TLDS`` (``so``, ``it``, ``now``,
  ``today``) needs a hyphen or digit in the name (``evil-bank.it``,
  ``prize-draw.win``) or a listed second-level suffix (``dbs.com.sg``);
- obfuscated: ``hxxp://``, ``h**p://``, ``x[.]example``, ``x(dot)com``, ``x . com``,
  ``x dot com``, comma for dot (``evil-bank,com``), spaced letters (``e v i l-bank.com``),
  full-width dots and zero-width characters inside the host.

Decimals (``3.50``), times (``10.30``), ``e.g.``, abbreviations and sentences
without a space after the dot are not links (``tests/content/test_scan.py``).

The work is gated by cheap tests (a dot, ``://`` or ``dot``; four digits; a
text/send verb), so a message with none of them costs a few C-level searches.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from gateway.content.chars import HOMOGLYPHS, INVISIBLE
from gateway.content.suffixes import SUFFIXES, TLDS

__all__ = ["EMPTY", "Scan", "ShortCode", "Url", "decode_host", "extract_domains", "fold_host",
           "link_pieces", "replace_urls", "scan", "scan_urls"]


@dataclass(frozen=True, slots=True)
class Url:
    host: str  # lower-case, IDNA-encoded (ASCII), no trailing dot
    unicode_host: str  # the host as a reader sees it (punycode decoded)
    obfuscated: bool  # written in a form meant to dodge link detection
    scheme: bool  # written with a scheme or www. (not a bare domain)
    path: bool  # followed by a path

    @property
    def punycode(self) -> bool:
        return "xn--" in self.host

    @property
    def ip(self) -> bool:
        return _IPV4.fullmatch(self.host) is not None


@dataclass(frozen=True, slots=True)
class ShortCode:
    code: str  # the digits: "87121"
    keyword: str  # what to text, upper-case: "WIN" ("" when none is named)


@dataclass(frozen=True, slots=True)
class Scan:
    urls: tuple[Url, ...] = ()
    #: dialable candidates, separators gone: "+4490…" or "0906…" (letters for digits
    #: undone); ``gateway.content.phones`` turns them into numbers
    phones: tuple[str, ...] = ()
    #: numbers written as North America writes them at home, with no prefix a reader
    #: elsewhere would dial ("(876) 297-4410", "876-297-4410", "1-876-340-2297"): their
    #: ten digits, area code first. Only a home in the North American Numbering Plan
    #: reads them (``gateway.content.phones.candidates``): elsewhere they are no number
    nanp: tuple[str, ...] = ()
    #: short codes the reader is told to text, opt-out instructions (STOP) left out
    shortcodes: tuple[ShortCode, ...] = ()
    #: national service numbers the reader is told to call ("call 118 118" -> "118118")
    services: tuple[str, ...] = ()
    #: keywords in capitals the reader is told to text or reply, with or without a
    #: short code ("txt HORO", "Reply REAL"): how a premium-rate service starts a
    #: subscription; opt-outs, yes/no and everyday words left out
    keywords: tuple[str, ...] = ()
    #: short codes named for an opt-out or help keyword ("Send STOP to 62468", "STOP
    #: 86688", "88066 ... HELP"): the code of a subscription already running
    optouts: tuple[str, ...] = ()
    #: the other digit runs written as a number (in groups, or from a 0 but not of a
    #: home length), 7 to 13 digits: how other countries write numbers with no trunk
    #: prefix ("806 51 73 29", "901 100 4471", "1902 554 118") or shorter than a home
    #: number ("0906-1102"). No number at home; a text from a foreign phone number is
    #: read in its sender's country (``gateway.content.phones.read_abroad``)
    national: tuple[str, ...] = ()

    @property
    def domains(self) -> tuple[str, ...]:
        """The links' hosts, in order (what ``has_url`` and ``url_domain_in`` test)."""
        return tuple(u.host for u in self.urls)


EMPTY = Scan()

# --- links ---------------------------------------------------------------------------

#: bare names with these TLDs are links as written: country and generic codes that are
#: no English word, spam's favourites, the reserved example names. A name under any
#: other real TLD ("home.now", "done.today", "ok.so") needs a hyphen or a digit in it
#: to count without a scheme, www. or a path.
STRONG_TLDS = frozenset("""
com net org info biz edu gov mil int xyz icu pw tk ml ga cf gq ru cn su ua pl nl de fr
es eu uk ly gl gd gy cc ws io tv ai vip mobi asia co id example test
""".split())
#: what a spaced dot ("evil . com", "evil. com") may lead to: prose has "rays. cloud"
SPACED_TLDS = frozenset("com net org info biz ly uk ru xyz top io gl gd cn tk online site "
                        "click id example vip cfd sbs icu buzz".split())
#: what a dot with white space on both sides ("evil . fr", "x . co . uk") may lead to as
#: well: prose puts no space before its full stop, and such hosts are written so to
#: dodge link detection (country codes, the cheap TLDs of phishing kits)
SPACED_BOTH_TLDS = SPACED_TLDS | frozenset(
    "fr de es it nl be pt pl at ch ie in au ca nz za sg my ph ng ke br mx us co me app cc "
    "pw live shop site help cool info store".split())
#: file names that look like domains: not links when bare ("file.zip", "cv.doc")
_FILE_EXTS = frozenset("txt pdf jpg jpeg png gif doc docx xls xlsx exe zip mov mp3 mp4 "
                       "csv".split())

# a label, atomic: a separator can only follow a label that ends where its run of label
# characters and hyphens ends (no separator starts with either), so the shorter labels
# a failed match would backtrack to can never succeed; atomic, they are not tried
# (tests/content/test_scan.py holds it to the backtracking form)
_L = r"(?>[a-z0-9\u00a1-\uffff](?:[a-z0-9\u00a1-\uffff-]{0,61}[a-z0-9\u00a1-\uffff])?)"
# obfuscated separators: [.] (.) {.} <.> [dot] (dot) {dot}, " dot ", spaced dots, and a
# comma between two labels (the second may start with digits: "53d3,4g3nc14tr1but4r14,gob,es")
_OSEP = (r"(?:\s*[\[({<]\s*(?:\.|dot)\s*[\])}>]\s*|\s+dot\s+|[ \t]+\.[ \t]*"
         r"|\.[ \t]+(?=[a-z0-9])|,(?=\d*[a-z]))")
_SEP = rf"(?:{_OSEP}|\.)"
_SCHEME = r"(?:(h(?:tt|xx|\*\*|\.\.)ps?|fxp|ftp)\s*(?:\[:\]|\(:\)|:)\s*(?:/|\[/\]|\\){2})"
_HOST_RE = re.compile(
    rf"(?<![\w@.\-]){_SCHEME}?({_L}(?:{_SEP}{_L})+)(:\d{{1,5}})?((?:/|\[/\])[^\s]*)?",
    re.IGNORECASE,
)
_SEP_SPLIT = re.compile(f"({_SEP})", re.IGNORECASE)
# every separator but a plain dot has white space, an opening bracket or a comma in it
_SPACE_OR_BRACKET = re.compile(r"[\s\[({<,]")
_IPV4 = re.compile(r"(?:\d{1,3}\.){3}\d{1,3}")
_ALL_DIGITS_DOTS = re.compile(r"[\d.]+")
_DOTLIKE = "\u2024\u3002\uff0e\uff61\u2044\u2215\u29f8\u00b7\u2027\u2219\u22c5\u30fb"
# invisible characters go, dot and slash look-alikes become "." and "/"
_PREP = MappingProxyType({
    **{ord(c): None for c in INVISIBLE},
    **{ord(c): HOMOGLYPHS[c] for c in _DOTLIKE},
})
# cheap test before the full scan: a dot (plain, bracketed or spaced) before letters,
# or a comma before a TLD that needs no more ("evil-bank,com")
_DOT_HINT = re.compile(
    r"\.(?:[\])}>]\s*)?[^\W\d_]{2}|\s\.\s*[^\W\d_]{2}"
    r"|\.\s+(?:" + "|".join(sorted(SPACED_TLDS)) + r")\b"
    r"|,(?:" + "|".join(sorted(STRONG_TLDS)) + r")\b",
    re.IGNORECASE,
)
# a bare IPv4 address with a path ("45.140.17.206/voicemail"): no dot before letters
_IP_PATH_HINT = re.compile(r"\d\.\d{1,3}(?::\d{1,5})?/")
# letters written one by one ("e v i l-bank.com", "e v i l . c o m"): single characters
# separated by single spaces, ending in one more or in a token with a dot or comma
# glued to them; collapsed when the run holds a dot or comma
_SPACED = re.compile(r"(?<!\S)(?:\S ){2,}(?:\S*[.,]\S*|\S[^\w\s]*)(?!\S)")
_SPACED_DOT = re.compile(r"[.,]")
# what every such run has, found four times faster: a space, one character, a space, one
_SPACED_HINT = re.compile(r" \S \S")


def _collapse(m: re.Match[str]) -> str:
    s = m.group()
    return s.replace(" ", "") if _SPACED_DOT.search(s) is not None else s


def scan_urls(text: str) -> tuple[Url, ...]:
    """Every link in ``text``, in order, one per host. Never raises."""
    if not text:
        return ()
    hidden = False
    if not text.isascii():
        prepared = text.translate(_PREP)
        hidden = len(prepared) != len(text) or any(c in text for c in _DOTLIKE)
        text = prepared
    written = ""
    if ("." in text or "," in text) and _SPACED_HINT.search(text) is not None:
        collapsed = _SPACED.sub(_collapse, text)
        if collapsed != text:
            written, text = text.lower(), collapsed
    if not ((("." in text or "," in text) and _DOT_HINT.search(text) is not None)
            or "://" in text or "dot" in text.lower()
            or ("/" in text and _IP_PATH_HINT.search(text) is not None)):
        return ()
    out: list[Url] = []
    seen: set[str] = set()
    for m in _HOST_RE.finditer(text):
        found = _judged(m, hidden)
        if found is not None and (url := found[0]).host not in seen:
            if written and not url.obfuscated and url.unicode_host not in written:
                url = Url(url.host, url.unicode_host, True, url.scheme, url.path)  # spaced
            seen.add(url.host)
            out.append(url)
    return tuple(out)


def _judged(m: re.Match[str], hidden: bool) -> Found:
    """``_url_of(m, hidden)``, remembered by what it reads of the match: hosts and
    prose ("code. Do") repeat."""
    key = (m.group(1, 2), m.group(4) is not None, hidden)
    try:
        return _URL_MEMO[key]
    except KeyError:
        if len(_URL_MEMO) >= _URL_MEMO_SIZE:
            _URL_MEMO.clear()
        found = _URL_MEMO[key] = _url_of(m, hidden)
        return found


#: (scheme word, host as written, has a path, hidden characters) -> ``_url_of``'s
#: answer, which depends on nothing else; bounded (keys are short: a match's host),
#: cleared whole when full
_URL_MEMO: dict[tuple[tuple[str | Any, ...], bool, bool], Found] = {}
_URL_MEMO_SIZE = 1 << 14


def replace_urls(folded: str, urls: tuple[Url, ...], repl: Callable[[Url], str],
                 pieces: tuple[str | Url, ...] | None = None) -> str:
    """``folded`` (``normalize.fold`` of a text) with each of the text's links
    (``urls``: ``scan_urls(text)``) replaced by ``repl(url)``, scheme, path and query
    and all: how templates and campaign fingerprints read links, by this scanner's
    decision. ``pieces``, if given, is ``link_pieces(folded, urls)`` already cut."""
    if not urls:
        return folded
    if pieces is None:
        pieces = link_pieces(folded, urls)
    return "".join([p if isinstance(p, str) else repl(p) for p in pieces])


def link_pieces(folded: str, urls: tuple[Url, ...]) -> tuple[str | Url, ...]:
    """``folded`` cut at its links: text and ``Url`` pieces in turn (one text piece when
    there is no link). A match in the folded text is a link only when its host is one
    the scanner found in the text (as it is, or folded: a Cyrillic letter in a host is
    its Latin look-alike there): casefolding makes prose like ``home.Com on`` look
    like a link. Cut once per event (``Facts.link_pieces``) for templates and campaign
    fingerprints alike."""
    if not urls:
        return (folded,)
    hosts = {u.host for u in urls} | {fold_host(u.unicode_host) for u in urls}
    text = folded
    if ("." in text or "," in text) and _SPACED_HINT.search(text) is not None:
        text = _SPACED.sub(_collapse, text)
    out: list[str | Url] = []
    pos = 0
    for m in _HOST_RE.finditer(text):
        found = _judged(m, False)
        if found is None:
            continue
        url, lead, keep = found
        if url.host not in hosts and url.unicode_host not in hosts:
            continue
        start = m.start() if m.group(1) is not None and not lead else m.start(2) + lead
        if keep < len(m.group(2)):  # the sentence after it is not the link's
            end = m.start(2) + keep
        else:  # "?id=3", "!" after the host or path: the link's
            tail = _NOT_SPACE.match(text, m.end())
            end = m.end() if tail is None else tail.end()
        out.append(text[pos:start])
        out.append(url)
        pos = end
    if not out:
        return (text,)
    out.append(text[pos:])
    return tuple(out)


def fold_host(host: str) -> str:
    """A host as folded text reads it (homoglyphs as their Latin look-alike)."""
    if host.isascii():
        return host
    from gateway.content.normalize import fold

    return fold(host)


_NOT_SPACE = re.compile(r"\S+")


def extract_domains(text: str | None) -> tuple[str, ...]:
    """The hosts of the links in ``text``, in order, unique (``scan(text).domains``)."""
    return tuple(u.host for u in scan_urls(text)) if text else ()


def _suffix_labels(labels: list[str]) -> int:
    """How many trailing labels form the public suffix (1 if none is listed)."""
    n = len(labels)
    for i in range(max(0, n - 4), n - 1):
        if ".".join(labels[i:]).lower() in SUFFIXES:
            return n - i
    return 1


def _url_of(m: re.Match[str], hidden: bool) -> Found:
    """The link a ``_HOST_RE`` match holds, if any, with where its host starts and
    ends in the match's host group (``lead``, ``keep``: a sentence the match ran
    into before or after the link is not part of it)."""
    scheme_word = m.group(1)
    raw_host = m.group(2)
    path = m.group(4)
    if _SPACE_OR_BRACKET.search(raw_host) is None:  # only plain dots: "a.b.com"
        labels = raw_host.split(".")
        seps = ["."] * (len(labels) - 1)
    else:  # one split, separators kept: label, sep, label, ...
        parts = _SEP_SPLIT.split(raw_host)
        labels, seps = parts[::2], parts[1::2]
    if len(labels) < 2 or len(labels) != len(seps) + 1:
        return None
    lead, keep = 0, len(raw_host)
    # a spaced dot or a comma joins the public suffix ("evil . com", "evil,com") or
    # follows www or a scheme; anywhere else it ends a sentence or a clause: the link
    # ends before it when what follows is no suffix ("evil.com. Your parcel"), and
    # starts after it when the suffix follows ("mates. www.getzed.co.uk")
    for i, sep in enumerate(seps):
        if sep != "." and sep.strip() in (".", ",") and i >= 1 and path is None \
                and not _both_spaced(sep) and not _joins_suffix(sep, labels[i + 1:]):
            keep = len("".join(parts[:2 * i + 1]))
            labels, seps, path = labels[:i + 1], seps[:i], None
            break
    # a host written with commas for every dot ("sede,agenciatributaria,gob,es") is one
    # host throughout: none of its commas ends a clause
    if scheme_word is None and not all(s == "," for s in seps):
        n_suffix = _suffix_labels(labels)
        start = 0
        for i, sep in enumerate(seps):
            if sep != "." and sep.strip() in (".", ",") and (
                    i + 1 < len(labels) - n_suffix
                    or (path is not None and i + 1 == len(labels) - n_suffix
                        and ".".join(labels[i + 1:]).lower() in _SITE_SUFFIXES)) \
                    and labels[i].lower() != "www" and not _both_spaced(sep):
                start = i + 1
        if start:
            lead = len("".join(parts[:2 * start]))
            labels, seps = labels[start:], seps[start:]
            if len(labels) < 2:
                return None
    # Hebrew glues a one-letter prefix to a foreign word with a hyphen or a maqaf
    # ("היכנסו ל-elal.com", "go to elal.com"): the prefix is no part of the host (no
    # registry lets one label mix Hebrew and Latin letters)
    prefix = _HEBREW_PREFIX.match(labels[0])
    if prefix is not None:
        lead += prefix.end()
        labels = [labels[0][prefix.end():], *labels[1:]]
    host = ".".join(labels).lower()
    obf = hidden or any(s != "." for s in seps)
    scheme = scheme_word is not None or labels[0].lower() == "www"
    if scheme_word is not None and scheme_word.lower() not in ("http", "https", "ftp"):
        obf = True
    if host.startswith("www.") and host.count(".") >= 2:
        host = host[4:]
    if not _plausible(host, labels, seps, scheme_word is not None, scheme, path is not None):
        return None
    try:
        ascii_host = host.encode("idna").decode("ascii") if not host.isascii() else host
    except UnicodeError:
        ascii_host = host
    if ascii_host.startswith("www.") and ascii_host.count(".") >= 2:  # full-width "www" too
        ascii_host = ascii_host[4:]
    unicode_host = decode_host(ascii_host) if "xn--" in ascii_host or not host.isascii() \
        else host
    return Url(ascii_host, unicode_host, obf, scheme, path is not None), lead, keep


#: public suffixes that are a public body's website too ("Ref DC8821934. gov.uk/pay"):
#: after a full stop and a space, the link starts at them, not at the word before
_SITE_SUFFIXES = frozenset("gov.uk nhs.uk police.uk gov.ie gov.pl gov.sg gov.br gov.za "
                           "gov.il".split())
#: one to three Hebrew letters and a hyphen or maqaf before a Latin letter or digit
_HEBREW_PREFIX = re.compile(r"[\u05d0-\u05ea]{1,3}[-\u05be](?=[a-z0-9])", re.IGNORECASE)


def _both_spaced(sep: str) -> bool:
    """A dot with white space on both sides (" . "): no full stop is written so."""
    return sep[0].isspace() and sep[-1].isspace() and sep.strip() == "."


def _joins_suffix(sep: str, rest: list[str]) -> bool:
    """Can a spaced dot or a comma be a link's dot before ``rest``, the labels after
    it? Before a public suffix ("evil . co . uk") or a TLD written so ("evil . com",
    "evil,com")."""
    if len(rest) == 1:
        tld = rest[0].lower()
        return tld in (SPACED_TLDS if sep.strip() == "." else STRONG_TLDS)
    return ".".join(rest).lower() in SUFFIXES


#: a link, where its host starts and ends in the match's host group; None for none
Found = tuple[Url, int, int] | None


def decode_host(host: str) -> str:
    """``host`` as a reader sees it: its punycode (``xn--``) labels decoded; as it is
    when they do not decode."""
    if "xn--" in host:
        try:
            return host.encode("ascii").decode("idna")
        except UnicodeError:
            pass
    return host


def _tld(label: str) -> str:
    low = label.lower()
    if low.isascii():
        return low
    try:
        return low.encode("idna").decode("ascii")
    except UnicodeError:
        return low


def _plausible(host: str, labels: list[str], seps: list[str], has_scheme: bool,
               scheme: bool, path: bool) -> bool:
    """Is this word.word pair a link, not an amount, a time or chat without spaces?"""
    tld = _tld(labels[-1])
    if _ALL_DIGITS_DOTS.fullmatch(host):  # "4.50", "10.30"; IPs only as links
        return _IPV4.fullmatch(host) is not None and (scheme or path)
    if tld.isdigit() or len(tld) < 2:
        return False
    plain = all(s == "." for s in seps)  # no spaced dot, comma or bracket
    if has_scheme or (scheme and len(labels) >= 3 and plain):
        return True  # anything goes after a scheme or www. ("www.ldew.com1win150ppm")
    if tld not in TLDS:
        return False
    if "," in seps and (tld not in STRONG_TLDS or labels[-1].istitle()):
        return False  # "apples,pears": a list
    spaced = [s for s in seps if s != "." and s.strip() == "."]
    if spaced and all(label.isdigit() for label in labels[:-1]):
        return False  # "da khop 200. TK 0001234567": a number ends a sentence
    if spaced and tld not in SPACED_TLDS and not path and not (
            tld in SPACED_BOTH_TLDS and all(map(_both_spaced, spaced))):
        return False  # "rays. cloud": prose; "evil . fr", "evil . it/x": a link
    if scheme or path:
        return True
    # bare: "ok.so", "home.it", "home.Com on" are chat; a hyphen or a digit in a name
    # joined by plain dots is no prose ("Royal-Mail.Com", "Evil-Bank.Com"; not the
    # "4 a moment. Gd" that spaced letters collapse to)
    if tld in _FILE_EXTS or (labels[-1].istitle() and not (
            plain and any(map(_marked, labels[:-1])))):
        return False
    if tld in STRONG_TLDS or tld.startswith("xn--"):
        return True
    n_suffix = _suffix_labels(labels)
    if n_suffix >= 2 and len(labels) > n_suffix and not (
            n_suffix == 2 and labels[-2].lower() in _CHAT_LABELS
            and labels[-1].lower() in _CHAT_LABELS):
        return True  # under a listed second-level suffix: "dbs.com.sg", "x.co.uk" (not
        # under one made of chat words, "home.me.so": judged by its name below)
    if len(labels) - n_suffix >= 2 and plain and any(
            c.isalpha() for c in labels[-1 - n_suffix]) and any(
            "-" in n and any(c.isalpha() for c in n) for n in labels[:-n_suffix]):
        # a host under a name: "aldi-uk.giveaway.shop"; a digit is no sign, versions
        # and clauses run together ("v1.2.home.so")
        return True
    # a listed suffix alone ("me.so", "co.uk") names nobody's host: judged by its name
    name = labels[-1 - n_suffix] if len(labels) > n_suffix else labels[0]
    return _marked(name) and any(c.isalpha() for c in name)


#: two-letter words of chat: a listed second-level suffix made of two of them ("me.so",
#: "or.at") reads as prose run together ("home.me.so"), so a bare host under it must
#: look made up; under any other ("com.sg", "co.uk", "govt.nz", "go.id") it is a link
_CHAT_LABELS = frozenset({"me", "so", "it", "no", "to", "is", "at", "be", "go", "in", "on",
                          "up", "us", "we", "do", "my", "of", "or", "an", "as", "by", "he",
                          "hi", "ok", "am", "if", "ya", "yo"})


def _marked(name: str) -> bool:
    """A hyphen or a digit in a name that is not a number: what prose rarely has and
    made-up hosts do ("evil-bank", "login3")."""
    return ("-" in name or any(c.isdigit() for c in name)) and not name.isdigit()


# --- phone numbers -------------------------------------------------------------------

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
    if _OTHER_DIGIT.search(text) is None:  # "£5": no per-char loop
        return text
    import unicodedata

    return "".join(str(unicodedata.decimal(c)) if c.isdecimal() and not c.isascii() else c
                   for c in text)


# ASCII text as one byte a class: digits "0", O o I l "L", anything else a space;
# what the two prechecks below ask of it is a substring test and a count, in C
_CLASSES = bytes(48 if 48 <= b <= 57 else 76 if b in b"OoIl" else 32 for b in range(256))


#: what ``_dialable`` finds: the dialable candidates, the North American forms and the
#: other national forms (``Scan.national``)
Dialable = tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]
_NO_PHONES: Dialable = ((), (), ())
#: a North American number's digits: an optional 1, an area code and an exchange that
#: start with 2-9, four more digits
_NANP_DIGITS = re.compile(r"1?[2-9]\d\d[2-9]\d{6}")


def _phones(text: str) -> Dialable:
    """Dialable candidates (``+`` and digits, or digits from a leading 0), in order, the
    North American forms (``Scan.nanp``) and the other national forms
    (``Scan.national``)."""
    if text.isascii():
        # _LETTER_BY_DIGIT and _HAS_RUN's first need (seven digits) on the byte classes,
        # four times cheaper than the two searches (tests/content/test_phones.py)
        classes = text.encode("ascii").translate(_CLASSES)
        if b"0L" in classes or b"L0" in classes:
            text = _LETTER_DIGITS.sub(lambda m: m.group().translate(_LETTER_TABLE), text)
        elif classes.count(48) < 7:  # no letters to rewrite, too few digits for a run
            return _NO_PHONES
    elif _LETTER_BY_DIGIT.search(text) is not None:  # else every run is digits only
        text = _LETTER_DIGITS.sub(lambda m: m.group().translate(_LETTER_TABLE), text)
    if _HAS_RUN.search(text) is None:
        return _NO_PHONES
    return _dialable(text)


def _dialable(text: str) -> Dialable:
    """The candidates of ``text`` (digits already rewritten), with no precheck."""
    out: list[str] = []
    nanp: list[str] = []
    national: list[str] = []
    for m in _CANDIDATE.finditer(text):
        lead, body = m.group(1) or "", m.group(2)
        # a parenthesis opened after the number and never closed starts a note or a
        # price, not a group of the number: "0900 5 118 442 (1,99 EUR/Min)"
        opened = body.rfind("(")
        if opened > 0 and ")" not in body[opened:]:
            body = body[:opened]
        if "+" in lead:
            body = _TRUNK_ZERO.sub("", body, count=1)  # "+44 (0)20 ..." drops the trunk 0
            digits = _NOT_DIGIT.sub("", body)
            if 8 <= len(digits) <= 15:
                out.append("+" + digits)
        else:
            digits = _NOT_DIGIT.sub("", body)
            if 9 <= len(digits) <= 17 and digits[0] == "0":
                out.append(digits)  # dialable forms start with a trunk or intl prefix
            elif (lead or len(digits) == 11 or len(digits) != len(body)) \
                    and _NANP_DIGITS.fullmatch(digits):
                # written as a number ("(876) 297-4410", "876.297.4410", "18763402297"),
                # not a bare run of ten digits (an order or account number)
                nanp.append(digits[-10:])
            elif 7 <= len(digits) <= 13 and (digits[0] == "0" or len(digits) != len(body)):
                # written as a number elsewhere writes one: in groups ("806 51 73 29"),
                # or from a 0 ("0906-1102"); a bare run is an order or account number
                national.append(digits)
    return tuple(dict.fromkeys(out)), tuple(dict.fromkeys(nanp)), tuple(dict.fromkeys(national))


# --- short codes and service numbers -------------------------------------------------

#: a verb that sends a text, a keyword of up to three words (optional, maybe quoted;
#: the first one is kept), "to"/"2"/"on", 4-6 digits
_SHORTCODE = re.compile(
    r"(?i)\b(?:te?xt(?:ing)?|txting|send|sms|reply|msg)[:\s]+"
    r"(?:(?:the\s+)?(?:word|keyword)\s+)?"
    r"(?:[\"'\u2018\u201c]?([a-z][a-z0-9]{0,19})(?:\s[a-z][a-z0-9]{0,19}){0,2}"
    r"[\"'\u2019\u201d]?[\s:,]+)?"
    r"(?:to|2|on)[:\s]+(\d{4,6})(?![\d.,:/]\d|\d)"
)
#: opt-out and service keywords: "Reply STOP to 60000" is what legitimate senders write
OPT_OUT = frozenset("STOP END CANCEL QUIT UNSUBSCRIBE UNSUB OPTOUT HELP INFO STOPALL "
                    "NO".split())
#: an opt-out or help keyword and the short code it goes to ("Stop? Send STOP 2 62468",
#: "STOP 86688", "unsub txt STOP 82810"), or a code and, after it, HELP or STOP in
#: capitals in the same sentence, close by ("FROM 88066 LOST £12 HELP"; "Austin, TX 78704.
#: Reply HELP for help" is a ZIP code). The codes are found first (few a text), then
#: the words before or after each one are read: one pass of a case-insensitive
#: alternation over every text cost twice as much.
_CODE_RUN = re.compile(r"(?<!\d)\d{4,6}(?![\d.,:/]\d|\d)")
_OPT_OUT_BEFORE = re.compile(
    r"(?i)\b(?:stop|help|end|quit|cancel|unsub(?:scribe)?)\b\??[\s:]*(?:(?:to|2|on)[\s:]+)?\Z")
_OPT_OUT_AFTER = re.compile(r"[^\n.!?]{0,20}?\b(?:HELP|STOP)\b")
#: how far before a code the opt-out word is looked for: "unsubscribe? to " and its
#: spaces, with room to spare
_OPT_OUT_LOOKBACK = 24
#: "call 118 118", "call us back urgently on 118 327": a call verb, a few of the words
#: that go with it, the number
_SERVICE = re.compile(r"(?i)\b(?:call|ring|dial|phone|contact)(?:\s+(?:us|me|back|now|urgently|"
                      r"immediately|asap|today|on|at)){0,4}\s+(118[ \-]?\d{3})(?![\d])")


#: a verb that sends a text, then a keyword written in capitals (maybe quoted): case
#: matters, as premium services write their keywords in capitals and people do not
_REPLY_KEYWORD = re.compile(
    r"\b(?:[Rr]eply|REPLY|[Tt]e?xt(?:ing)?|TE?XT|[Ss]end|SEND)[:\s]+"
    r"(?:with\s+|the\s+word\s+|WITH\s+)?(?:(?:your|ur|YOUR|UR)\s+)?"
    r"[\"'\u2018\u201c]?([A-Z][A-Z0-9]{1,19})\b")
#: capitals that are no service keyword: opt-outs, answers to a business's question
#: ("Reply YES to confirm", "reply C to cancel" is one letter), everyday words
NOT_KEYWORDS = OPT_OUT | frozenset(
    "YES Y N OK OKAY CONFIRM START UNSTOP RESCHEDULE CHANGE ARRIVED DONE LATER NOW ASAP "
    "ME US BACK BCK U UR YOUR PLS PLZ PLEASE SOON THX THANKS MSG SMS TXT IT".split())


#: opt-out keywords come in many spellings: STOPSMS, STOPTXT, NOCALL, NOMSG, UNSUBSCRIBE
_OPT_OUT_PREFIXES = ("STOP", "NO", "UNSUB", "OPTOUT")


#: two capitals in a row: without them there is no keyword (most texts), one C search
_CAPITALS = re.compile(r"[A-Z][A-Z0-9]")


def _keywords(text: str) -> tuple[str, ...]:
    if _CAPITALS.search(text) is None:
        return ()
    out = [k for k in _REPLY_KEYWORD.findall(text)
           if k not in NOT_KEYWORDS and not k.startswith(_OPT_OUT_PREFIXES)]
    return tuple(dict.fromkeys(out))


def _optouts(text: str) -> tuple[str, ...]:
    out: list[str] = []
    caps = "HELP" in text or "STOP" in text
    for m in _CODE_RUN.finditer(text):
        start, end = m.span()
        if _OPT_OUT_BEFORE.search(text, max(0, start - _OPT_OUT_LOOKBACK), start) is not None or (
                caps and (start == 0 or not text[start - 1].isalnum())
                and (end == len(text) or not text[end].isalnum())
                and _OPT_OUT_AFTER.match(text, end) is not None):
            out.append(m.group())
    return tuple(dict.fromkeys(out))


#: an opt-out keyword's usual spellings: a charity's "text NOINFO to 70550", "NOCALL",
#: "STOPSMS", "UNSUBALL" (what ``_keywords`` leaves out by prefix alone, spelled out
#: here: "NOKIA" to a short code is a premium lure's keyword)
_OPT_OUT_SPELLING = re.compile(
    r"(?:STOP|NO|UNSUB|OPTOUT)(?:INFO|CALLS?|SMS|TXT|TEXT|MSGS?|MKT|MARKETING|ALL|MORE|"
    r"CONTACT|PROMOS?|ADS?|MAIL|POST)?")


def _shortcodes(text: str) -> tuple[ShortCode, ...]:
    out: list[ShortCode] = []
    for m in _SHORTCODE.finditer(text):
        keyword = (m.group(1) or "").upper()
        if keyword in OPT_OUT or _OPT_OUT_SPELLING.fullmatch(keyword) is not None:
            continue
        sc = ShortCode(m.group(2), keyword)
        if sc not in out:
            out.append(sc)
    return tuple(out)


# --- the one pass ----------------------------------------------------------------------


def _sends(low: str) -> bool:
    """A sending verb in the lower-cased text (substring tests in C, before any pattern)."""
    return "txt" in low or "text" in low or "send" in low or "reply" in low


def scan(text: str | None, urls: tuple[Url, ...] | None = None) -> Scan:
    """Links, phone numbers, short codes and service numbers in ``text``; ``urls``, if
    given, is ``scan_urls(text)`` already computed."""
    if not text:
        return EMPTY
    if urls is None:
        urls = scan_urls(text)
    phones: tuple[str, ...] = ()
    nanp: tuple[str, ...] = ()
    national: tuple[str, ...] = ()
    shortcodes: tuple[ShortCode, ...] = ()
    services: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    optouts: tuple[str, ...] = ()
    low = text.lower()
    verb = _sends(low)
    if verb:
        keywords = _keywords(text)  # capitals as written: [A-Z] is ASCII
    digits = text if text.isascii() else _unicode_digits(text)
    if _HAS_FOUR.search(digits) is not None:
        if not digits.isascii():
            import unicodedata

            digits = unicodedata.normalize("NFKC", digits)
            low = digits.lower()  # full-width letters (U+FF54 U+FF58 U+FF54) are "txt" now
            verb = _sends(low)
        phones, nanp, national = _phones(digits)
        if verb or "sms" in low or "msg" in low:
            shortcodes = _shortcodes(digits)
        if "stop" in low or "help" in low or "end" in low or "quit" in low \
                or "cancel" in low or "unsub" in low:
            optouts = _optouts(digits)
        if "118" in digits:
            services = tuple(dict.fromkeys(
                _NOT_DIGIT.sub("", m.group(1)) for m in _SERVICE.finditer(digits)))
    if not (urls or phones or nanp or shortcodes or services or keywords or optouts
            or national):
        return EMPTY
    return Scan(urls, phones, nanp, shortcodes, services, keywords, optouts, national)
