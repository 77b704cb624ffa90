"""URL extraction (plain and obfuscated forms), look-alike brands, the urls plugin."""

from __future__ import annotations

import pytest
from content_support import check, load_plugin_module, sms
from hypothesis import example, given, settings
from hypothesis import strategies as st

from gateway.content.urls import BrandMatcher, extract_urls, registrable
from gateway.engine.plugins import PluginEnv


def hosts(text: str) -> list[tuple[str, bool]]:
    return [(u.host, u.obfuscated) for u in extract_urls(text)]


@pytest.mark.parametrize(("text", "host"), [
    ("Visit https://secure.example.com/login?x=1 now", "secure.example.com"),
    ("see www.comuk.net for more", "comuk.net"),
    ("Claim at bit.ly/3xYz", "bit.ly"),
    ("SEE WWW.PRIZE-DRAW.CO.UK TODAY", "prize-draw.co.uk"),
    ("Goto http://192.168.10.4/login", "192.168.10.4"),
    ("mail me at t.co/abc", "t.co"),
])
def test_plain_urls(text: str, host: str) -> None:
    assert hosts(text) == [(host, False)]


@pytest.mark.parametrize(("text", "host"), [
    ("Visit hxxp://evil[.]com/login now", "evil.com"),
    ("hxxps://secure-pay(.)example[.]com/x", "secure-pay.example.com"),
    ("go to example(dot)com", "example.com"),
    ("go to example[dot]org today", "example.org"),
    ("example{.}net", "example.net"),
    ("win at prize . com today", "prize.com"),
    ("win at prize. com today", "prize.com"),
    ("claim at bit . ly/abc", "bit.ly"),
    ("visit mysite dot com to claim", "mysite.com"),
    ("www . evil . co . uk", "evil.co.uk"),
    ("pay at evil\u3002com now", "evil.com"),
    ("pay at evil\u200b.com now", "evil.com"),
    ("h**p://free-gift.example.com/", "free-gift.example.com"),
    ("Goto http://doit. mymoby. tv/ to collect", "doit.mymoby.tv"),
])
def test_obfuscated_urls(text: str, host: str) -> None:
    assert hosts(text) == [(host, True)]


@pytest.mark.parametrize("text", [
    "I am home. See you at 5",
    "Ok.so what now",
    "it costs £1.50 at 10.30",
    "I'm home.Com on over",
    "mail john@example.com",
    "Sun cant come to earth but send luv as rays. cloud cant come",
    "Mm feeling sleepy. today itself i shall go",
    "1Tulsi Leaf/Day=No Cancer. 1Lemon/Day=No Fat",
    "",
])
def test_not_urls(text: str) -> None:
    assert hosts(text) == []


def test_punycode_host_is_idna_encoded() -> None:
    (u,) = extract_urls("Login: https://p\u0430ypal.com/verify")  # Cyrillic a
    assert u.host.startswith("xn--") and u.punycode
    assert u.unicode_host == "p\u0430ypal.com"


def test_registrable() -> None:
    assert registrable("login.paypal.co.uk") == "paypal.co.uk"
    assert registrable("a.b.example.com") == "example.com"


BRANDS = BrandMatcher(["paypal.com", "hsbc.co.uk", "royalmail.com", "gov.uk", "nhs.uk",
                       "nhs.net"])


@pytest.mark.parametrize(("host", "brand"), [
    ("paypa1.com", "paypal"),  # digit swap
    ("xn--pypal-4ve.com", "paypal"),  # Cyrillic a
    ("paypall.com", "paypal"),  # one letter added
    ("pypal.com", "paypal"),  # one letter dropped
    ("pyapal.com", "paypal"),  # letters swapped
    ("paypal.secure-login.example", "paypal"),  # brand in a subdomain
    ("paypal-verify.com", "paypal"),
    ("mypaypalsecure.com", "paypal"),
    ("oakwood.schoolcloud.co.uk", None),  # school + cloud, no "icloud" with l for i
    ("royal-mail-redelivery.com", "royalmail"),
    ("hsbc-secure.com", "hsbc"),
    ("gov.uk.tax-refund.example", "gov.uk"),
    ("login.hsbc.co.uk.verify.ru", "hsbc.co.uk"),
    ("nhs-kits.org", "nhs"),  # nhs.uk is a public suffix, and "nhs" a brand
    # under a country code sold as a generic name, or on someone else's domain
    ("paypal.co", "paypal"), ("paypal.io", "paypal"), ("paypal.top", "paypal"),
    ("paypal.de-konto.info", "paypal"), ("paypal-de.de", "paypal"),
])
def test_lookalikes(host: str, brand: str | None) -> None:
    assert BRANDS.imitates(host) == brand


@pytest.mark.parametrize("host", ["paypal.com", "www.paypal.com", "hsbc.co.uk", "www.gov.uk",
                                  "tax.service.gov.uk", "gov.sg", "google.com", "example.com",
                                  "www.nhs.uk", "mail.nhs.net", "nhs.net",
                                  "gov-services.example.org",
                                  # the brand's name under a country's own domain
                                  "paypal.de", "www.paypal.com.au", "royalmail.ie"])
def test_not_lookalikes(host: str) -> None:
    assert BRANDS.imitates(host) is None


def test_plugin_symbols(env: PluginEnv) -> None:
    plugin = load_plugin_module("urls").create(env)
    n = env.numbering
    assert list(check(plugin, sms(n, "hi there"))) == []
    assert list(check(plugin, sms(n, ""))) == []
    got = set(check(plugin, sms(n, "Pay the fee at hxxps://royalmail-redelivery[.]com/pay")))
    assert got == {"url.lookalike", "url.obfuscated"}
    got = set(check(plugin, sms(n, "Held parcel: parcel-redelivery[.]example/x, or bit.ly/q")))
    assert got == {"url.blocked_domain", "url.obfuscated", "url.shortener"}
    got = set(check(plugin, sms(n, "Verify: https://p\u0430ypal.com/login")))
    assert got == {"url.lookalike", "url.punycode"}
    assert set(check(plugin, sms(n, "See https://www.paypal.com/help"))) == set()


_PIECES = st.sampled_from([
    "http://", "HXXPS://", "h**p://", "www.", "bit", "ly", "Evil", "paypal", "co", "uk",
    "com", ".", " . ", ". ", " .", "[.]", "(dot)", " dot ", " DOT ", "{.}", "<.>", "-", "--",
    "/", "/x", ":8080", "@", " ", "\n", "4", "50", "a" * 70, "xn--p1ai", "пример", "\u3002",
    "\uff0e", "\u200b", ",", ")", "Com", "on", "ok", "so", "file.txt",
])


@settings(max_examples=800, deadline=None)
@given(st.lists(_PIECES, max_size=16).map("".join))
@example("Verify at hxxp://secure-login[.]example[.]com/x or www . evil . com today")
@example("a-b-c-" + "d" * 80 + ".com and x--.com, -a.com")
def test_atomic_labels_find_what_backtracking_labels_find(text: str) -> None:
    import re

    from gateway.content import scan as urls

    backtracking = urls._L[3:-1]  # the same label without the atomic group
    assert f"(?>{backtracking})" == urls._L
    oracle = re.compile(urls._HOST_RE.pattern.replace(urls._L, backtracking), re.IGNORECASE)
    assert [m.groups() for m in urls._HOST_RE.finditer(text)] == \
        [m.groups() for m in oracle.finditer(text)]


@settings(max_examples=500, deadline=None)
@given(st.lists(_PIECES, max_size=16).map("".join))
def test_host_split_fast_path_is_the_separator_split(text: str) -> None:
    from gateway.content import scan as urls

    for m in urls._HOST_RE.finditer(text):
        raw = m.group(2)
        if urls._SPACE_OR_BRACKET.search(raw) is None:
            parts = urls._SEP_SPLIT.split(raw)
            assert raw.split(".") == parts[::2] and set(parts[1::2]) <= {"."}


def test_look_alikes_of_blocked_domains_follow_an_edit_of_the_same_size(env: PluginEnv) -> None:
    """One blocked domain swapped for another (the list's size unchanged, as a
    remove + add through the lists API leaves it): look-alikes of the new one hit at
    once, those of the old one no longer do."""
    plugin = load_plugin_module("urls").create(env)
    n = env.numbering
    blocked = env.lists.strings("blocked_domains")
    assert blocked is not None
    old = next(iter(blocked))
    name, tld = old.rsplit(".", 1)
    look = name.replace("i", "1").replace("o", "0") + "." + tld  # digits for letters
    assert look != old
    assert "url.blocked_domain" in set(check(plugin, sms(n, f"see {look}/x")))
    size = len(blocked)
    blocked.discard(old)
    blocked.add("grabmoney-bank.example")
    assert len(blocked) == size
    assert "url.blocked_domain" in set(check(plugin, sms(n, "see grabm0ney-bank.example/x")))
    assert "url.blocked_domain" not in set(check(plugin, sms(n, f"see {look}/x")))
