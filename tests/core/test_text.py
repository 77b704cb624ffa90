"""``gateway.engine.text``: the old home of the text facts re-exports the content floor's,
and the rules' ``has_url``/``url_domain_in`` see the links the one scanner sees."""

from hypothesis import example, given, settings
from hypothesis import strategies as st

from gateway.content import fingerprint as content_fingerprint
from gateway.content.scan import scan, scan_urls
from gateway.engine import text


def test_reexports_are_the_content_floor() -> None:
    assert text.fingerprint is content_fingerprint.fingerprint
    assert text.normalize_text is content_fingerprint.normalize_text
    assert text.extract_domains("See https://Secure.Example.com/x") == ("secure.example.com",)


_PIECES = st.sampled_from([
    "http://", "HTTPS://", "hxxp://", "www.", "WWW.", "bit.ly", "Example", ".com", ".CO.UK",
    ".", "..", "/", "/path", "?q=1", "#x", ":8080", ":", "-", "a", "Z", "9", "4.50",
    "file.txt", " ", "  ", "\n", ",", ")", "(", "!", "'", '"', "xn--p1ai", ".xn--p1ai",
    "bücher", ".de", "пример", ".рф", "\u017f", "\u212a", "\u0130", "\u00df", "é", "\u2603",
    "-x.", "x-", "[.]", " dot ",
])


@settings(max_examples=400, deadline=None)
@given(st.lists(_PIECES, max_size=14).map("".join))
@example("Verify at http://Secure-A1.Example/login now, or www.BIT.ly/x.")
@example("paid 4.50 for file.txt at shop.example.com:443/basket")
@example("visit bücher.de or пример.рф today")
def test_domains_are_the_scanned_hosts(s: str) -> None:
    hosts = tuple(u.host for u in scan_urls(s))
    assert text.extract_domains(s) == hosts == scan(s).domains
    assert len(set(hosts)) == len(hosts)
    assert all(h == h.lower() and not h.endswith(".") for h in hosts)
