"""URLs in message text, including the forms spammers write to dodge filters.

``extract_urls`` finds plain links (``https://x.example/a``, ``www.x.example``,
bare ``x.com``) and obfuscated ones: ``hxxp://``, ``x[.]example``, ``x(dot)com``,
``x . com``, ``x dot com``, full-width dots and zero-width characters inside the
host. Each ``Url`` carries its host (lower-case, IDNA ``xn--`` form) and whether it
was obfuscated. ``BrandMatcher`` says whether a host imitates a configured brand:
homoglyphs and digit swaps (``paypa1``, ``paypal`` in Cyrillic letters), one edit away (``paypall``,
``hsbcc``), or the brand used in a host that is not the brand's own
(``paypal.secure-login.example``, ``paypal-verify.com``).

Pure functions over text, no network lookups: a URL's destination is judged by its
host alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from types import MappingProxyType

from gateway.content.normalize import HOMOGLYPHS, INVISIBLE, fold

__all__ = ["BrandMatcher", "Url", "extract_urls", "registrable", "skeleton"]


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


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Top-level domains a bare word.word pair must end in to count as a link ("ok.so" in
# a chat message is not one); anything goes after a scheme, www. or before a path.
BARE_TLDS = _words("""
com net org info biz edu gov mil int xyz top online site club shop app link click icu
live store tech website space fun pw tk ml ga cf gq ru cn su ua pl nl de fr es eu uk
ly gl gd gy cc ws io tv ai vip win bid loan men work date party review trade science
cloud digital email support services center today world mobi name pro asia news
""")
#: what a spaced dot ("evil . com", "evil. com") may lead to: prose has "rays. cloud"
SPACED_TLDS = _words("com net org info biz ly uk ru xyz top io gl gd cn tk online site click")
#: two-label public suffixes (enough for registrable-domain and brand checks)
TWO_LABEL_SUFFIXES = _words("""
co.uk org.uk gov.uk ac.uk me.uk net.uk ltd.uk plc.uk nhs.uk com.au net.au org.au
gov.au co.nz com.sg gov.sg com.my co.in gov.in com.br co.jp co.za com.cn com.hk
co.kr com.tw com.mx com.ar co.id com.ph com.ng co.ke com.tr com.pk com.eg com.sa
""")

# a label, atomic: a separator can only follow a label that ends where its run of label
# characters and hyphens ends (no separator starts with either), so the shorter labels
# a failed match would backtrack to can never succeed; atomic, they are not tried
# (40% of the scan; tests/content/test_urls.py holds it to the backtracking form)
_L = r"(?>[a-z0-9\u00a1-\uffff](?:[a-z0-9\u00a1-\uffff-]{0,61}[a-z0-9\u00a1-\uffff])?)"
# obfuscated separators: [.] (.) {.} <.> [dot] (dot) {dot}, " dot ", spaced dots
_OSEP = (r"(?:\s*[\[({<]\s*(?:\.|dot)\s*[\])}>]\s*|\s+dot\s+|[ \t]+\.[ \t]*"
         r"|\.[ \t]+(?=[a-z0-9]))")
_SEP = rf"(?:{_OSEP}|\.)"
_SCHEME = r"(?:(h(?:tt|xx|\*\*|\.\.)ps?|fxp|ftp)\s*(?:\[:\]|\(:\)|:)\s*(?:/|\[/\]|\\){2})"
_HOST_RE = re.compile(
    rf"(?<![\w@.\-]){_SCHEME}?({_L}(?:{_SEP}{_L})+)(:\d{{1,5}})?((?:/|\[/\])[^\s]*)?",
    re.IGNORECASE,
)
_SEP_SPLIT = re.compile(f"({_SEP})", re.IGNORECASE)
# every separator but a plain dot has white space or an opening bracket in it
_SPACE_OR_BRACKET = re.compile(r"[\s\[({<]")
_IPV4 = re.compile(r"(?:\d{1,3}\.){3}\d{1,3}")
_ALL_DIGITS_DOTS = re.compile(r"[\d.]+")
_DOTLIKE = "\u2024\u3002\uff0e\uff61\u2044\u2215\u29f8"
# invisible characters go, dot and slash look-alikes become "." and "/"
_PREP = MappingProxyType({
    **{ord(c): None for c in INVISIBLE},
    **{ord(c): HOMOGLYPHS[c] for c in _DOTLIKE},
})
# cheap test before the full scan: a dot (plain, bracketed or spaced) before letters
_DOT_HINT = re.compile(
    r"\.(?:[\])}>]\s*)?[^\W\d_]{2}|\s\.\s*[^\W\d_]{2}"
    r"|\.\s+(?:com|net|org|info|biz|ly|uk|ru|xyz|top|io|gl|gd|cn|tk|online|site|click)\b",
    re.IGNORECASE,
)


def extract_urls(text: str) -> tuple[Url, ...]:
    """Every link in ``text``, in order, one per host. Never raises."""
    if not text:
        return ()
    hidden = False
    if not text.isascii():
        prepared = text.translate(_PREP)
        hidden = len(prepared) != len(text) or any(c in text for c in _DOTLIKE)
        text = prepared
    if not (("." in text and _DOT_HINT.search(text) is not None) or "://" in text
            or "dot" in text.lower()):
        return ()
    out: list[Url] = []
    seen: set[str] = set()
    for m in _HOST_RE.finditer(text):
        url = _url_of(m, hidden)
        if url is not None and url.host not in seen:
            seen.add(url.host)
            out.append(url)
    return tuple(out)


def _url_of(m: re.Match[str], hidden: bool) -> Url | None:
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
    # a spaced dot joins the public suffix ("evil . com") or follows www or a scheme;
    # anywhere else it ends a sentence, and the link starts after it
    if scheme_word is None:
        n_suffix = 2 if ".".join(labels[-2:]).lower() in TWO_LABEL_SUFFIXES else 1
        start = 0
        for i, sep in enumerate(seps):
            if sep != "." and sep.strip() == "." and i + 1 < len(labels) - n_suffix \
                    and labels[i].lower() != "www":
                start = i + 1
        if start:
            labels, seps = labels[start:], seps[start:]
            if len(labels) < 2:
                return None
    host = ".".join(labels).lower()
    obf = hidden or any(s != "." for s in seps)
    scheme = scheme_word is not None or labels[0].lower() == "www"
    if scheme_word is not None and scheme_word.lower() not in ("http", "https", "ftp"):
        obf = True
    if host.startswith("www.") and host.count(".") >= 2:
        host = host[4:]
    if not _plausible(host, labels, seps, scheme_word is not None, scheme,
                      path is not None):
        return None
    try:
        ascii_host = host.encode("idna").decode("ascii") if not host.isascii() else host
    except UnicodeError:
        ascii_host = host
    unicode_host = host
    if "xn--" in ascii_host:
        try:
            unicode_host = ascii_host.encode("ascii").decode("idna")
        except UnicodeError:
            unicode_host = ascii_host
    return Url(ascii_host, unicode_host, obf, scheme, path is not None)


def _plausible(host: str, labels: list[str], seps: list[str], has_scheme: bool,
               scheme: bool, path: bool) -> bool:
    """Is this word.word pair a link, not an amount, a time or chat without spaces?"""
    tld = labels[-1].lower()
    if _ALL_DIGITS_DOTS.fullmatch(host):  # "4.50", "10.30"; IPs only as links
        return _IPV4.fullmatch(host) is not None and (scheme or path)
    if tld.isdigit() or len(tld) < 2:
        return False
    if not has_scheme and tld not in SPACED_TLDS \
            and any(s != "." and s.strip() == "." for s in seps):
        return False  # "rays. cloud": prose
    if not (scheme or path):  # "ok.so", "home.it", "home.Com on": chat
        return (tld in BARE_TLDS or tld.startswith("xn--")) and not labels[-1].istitle()
    return True


def registrable(host: str) -> str:
    """The registrable domain: ``login.paypal.co.uk`` -> ``paypal.co.uk``."""
    parts = host.split(".")
    if len(parts) >= 3 and ".".join(parts[-2:]) in TWO_LABEL_SUFFIXES:
        return ".".join(parts[-3:])
    return ".".join(parts[-2:])


_DIGIT_SWAPS = str.maketrans({"0": "o", "1": "l", "i": "l", "|": "l", "3": "e", "5": "s",
                              "4": "a", "@": "a", "$": "s", "7": "t", "8": "b"})


def skeleton(label: str) -> str:
    """What a label looks like: homoglyphs, digit swaps and ``rn``/``vv`` folded."""
    s = fold(label).translate(_DIGIT_SWAPS)
    return s.replace("rn", "m").replace("vv", "w").replace("-", "")


def _deletes(s: str) -> set[str]:
    return {s[:i] + s[i + 1:] for i in range(len(s))}


class BrandMatcher:
    """Look-alikes of brand domains (``paypal.com``, ``hsbc.co.uk``)."""

    __slots__ = ("_by_deletion", "_by_skeleton", "_domains", "_long_skeletons", "_names")

    def __init__(self, brand_domains: Iterable[str], min_fuzzy: int = 5) -> None:
        self._domains: frozenset[str] = frozenset(d.casefold().strip(".") for d in brand_domains)
        names: dict[str, str] = {}
        for d in self._domains:
            if d in TWO_LABEL_SUFFIXES:  # gov.uk: matched as a whole, see imitates()
                continue
            name = registrable(d).split(".")[0]
            if len(name) >= 3:
                names[name] = d
        self._names = names
        self._by_skeleton = {skeleton(n): n for n in names}
        self._long_skeletons = tuple((skeleton(n), n) for n in names if len(n) >= 5)
        by_del: dict[str, str] = {}
        for n in names:
            if len(n) >= min_fuzzy:
                sk = skeleton(n)
                for d in _deletes(sk):
                    by_del.setdefault(d, n)
        self._by_deletion = by_del

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
        dotted = "." + host + "."
        for d in self._domains:  # "paypal.com.login.example", "gov.uk.refund.example"
            if "." + d + "." in dotted:
                return d
        uhost = host
        if "xn--" in host:
            try:
                uhost = host.encode("ascii").decode("idna")
            except UnicodeError:
                uhost = host
        labels = uhost.split(".")
        reg = registrable(uhost)
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
            for d in _deletes(sk):  # one letter dropped, changed or swapped
                brand = self._by_skeleton.get(d) or self._by_deletion.get(d)
                if brand is not None and len(brand) >= 5:
                    return brand
        for bsk, name in self._long_skeletons:  # inside a longer word: "paypalsecure"
            if bsk in sk:
                return name
        return None
