"""Extractors and scorers never raise, whatever the text (hypothesis)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.content.classifier import DEFAULT_MODEL, load_model
from gateway.content.fingerprint import Fingerprinter
from gateway.content.phones import extract_phone_numbers
from gateway.content.urls import BrandMatcher, extract_urls
from gateway.numbers import Numbering

NUMBERING = Numbering("GB")
MODEL = load_model(DEFAULT_MODEL)
FP = Fingerprinter()
BRANDS = BrandMatcher(["paypal.com", "hsbc.co.uk", "gov.uk"])

# text biased towards the characters extractors care about
PIECES = st.sampled_from([
    ".", " . ", "[.]", "(dot)", " dot ", "hxxp://", "https://", "www.", "/", ":", "@", "+",
    "(0)", "00", "0", "9", "-", " ", "com", "co.uk", "xn--", "\u200b", "\u3002", "\uff10",
    "\u0430", "O", "l", "paypal", "\n", "\t", "£", "\ud800",
])
TEXTS = st.one_of(
    st.text(max_size=300),
    st.lists(st.one_of(PIECES, st.text(max_size=5)), max_size=60).map("".join),
)


@settings(max_examples=300, deadline=None)
@given(TEXTS)
def test_extractors_never_raise(text: str) -> None:
    for u in extract_urls(text):
        assert u.host and u.host == u.host.lower()
        BRANDS.imitates(u.host)
    for n in extract_phone_numbers(text, NUMBERING):
        assert n.key and n.digits.isdigit()
    keys = FP.keys(text)
    assert len(keys) in (0, FP.bands)
    assert isinstance(MODEL.score(text), float)
