"""``extract_domains``: the token-by-token scan, the ASCII fast path (lower-cased text,
case-sensitive pattern) and the early stop after a token's last dot must find what
one case-insensitive scan of the whole text finds."""

from hypothesis import example, given, settings
from hypothesis import strategies as st

from gateway.engine.text import _ANY, _NOT_TLDS, extract_domains


def _reference(text: str) -> tuple[str, ...]:
    out: list[str] = []
    for m in _ANY[0].finditer(text):
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


_PIECES = st.sampled_from([
    "http://", "HTTPS://", "hxxp://", "www.", "WWW.", "bit.ly", "Example", ".com", ".CO.UK",
    ".", "..", "/", "/path", "?q=1", "#x", ":8080", ":", "-", "a", "Z", "9", "4.50",
    "file.txt", " ", "  ", "\n", ",", ")", "(", "!", "'", '"', "xn--p1ai", ".xn--p1ai",
    "bücher", ".de", "пример", ".рф", "\u017f", "\u212a", "\u0130", "\u00df", "é", "\u2603",
    "-x.", "x-",
])


@settings(max_examples=600, deadline=None)
@given(st.lists(_PIECES, max_size=14).map("".join))
@example("Verify at http://Secure-A1.Example/login now, or www.BIT.ly/x.")
@example("paid 4.50 for file.txt at shop.example.com:443/basket")
@example("visit bücher.de or пример.рф today")
def test_same_domains_as_one_scan_of_the_text(text: str) -> None:
    assert extract_domains(text) == _reference(text)
