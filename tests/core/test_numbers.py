"""Address normalisation: SMPP TON/NPI and caller-ID strings to numbers and keys."""

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from gateway.numbers import (
    LEN_SHIFT,
    SHORT_FLAG,
    Numbering,
    NumberKind,
    key_of,
    number_of_key,
    split_cc,
)

GB = Numbering("GB")
US = Numbering("US")


@pytest.mark.parametrize(
    "raw",
    ["+447700900123", "00447700900123", "07700900123", "447700900123", "+44 7700 900123",
     "(0)7700-900-123"],
)
def test_caller_id_forms_of_one_uk_mobile(raw):
    n = GB.from_caller_id(raw)
    assert n.kind is NumberKind.E164
    assert n.digits == "447700900123"
    assert n.region == "GB" and not n.international and n.possible
    assert n.key == key_of("447700900123")


def test_key_scheme_keeps_lengths_apart():
    assert key_of("4470") != key_of("44700")
    assert key_of("4470") >> LEN_SHIFT == 4
    assert key_of("447700900123") == (12 << 50) | 447700900123
    assert key_of("7726", short=True) & SHORT_FLAG
    assert key_of("7726", short=True) != key_of("7726")


@given(st.text(alphabet="0123456789", min_size=1, max_size=15), st.booleans())
def test_key_round_trip(digits, short):
    if not short:
        digits = "1" + digits[1:]  # E.164 numbers never start with 0
    k = key_of(digits, short)
    assert number_of_key(k) == (digits if short else "+" + digits)


@pytest.mark.parametrize("raw", ["anonymous", "Anonymous", "unknown", "", "restricted"])
def test_withheld_caller_ids(raw):
    assert GB.from_caller_id(raw).kind is NumberKind.ANONYMOUS


@pytest.mark.parametrize(
    "raw", ["12ab34", "+44abc", "+" + "1" * 16, "*#21#", "+44¹23", "٠٧٧٠٠٩٠٠١٢٣"]
)
def test_garbage_is_invalid_not_an_error(raw):
    n = GB.from_caller_id(raw)
    assert n.kind is NumberKind.INVALID
    assert n.key == 0


@pytest.mark.parametrize("raw", ["7726", "112", "999", "118118"])
def test_short_codes(raw):
    n = GB.from_caller_id(raw)
    assert n.kind is NumberKind.SHORT
    assert n.key == key_of(raw, short=True)


def test_international_relative_to_home():
    assert GB.from_caller_id("+33612345678").international
    assert GB.from_caller_id("+33612345678").region == "FR"
    assert not US.from_caller_id("+12125551234").international
    assert US.from_caller_id("011447700900123").digits == "447700900123"
    # Jamaica shares +1 with the US: a classic Wangiri origin must not look domestic
    assert US.from_caller_id("+18765551234").region == "JM"
    assert US.from_caller_id("+18765551234").international


def test_impossible_lengths_are_marked():
    assert not GB.from_caller_id("+4412345").possible
    assert GB.from_caller_id("+442079460000").possible


def test_smpp_ton_npi():
    assert GB.from_smpp("447700900123", 1, 1).digits == "447700900123"
    assert GB.from_smpp("07700900123", 2, 1).digits == "447700900123"
    alpha = GB.from_smpp("MyBank", 5, 0)
    assert alpha.kind is NumberKind.ALPHANUMERIC and alpha.text == "mybank"
    assert GB.from_smpp("7726", 3, 0).kind is NumberKind.SHORT
    # TON unknown with letters: an ESME sending a sender ID without TON 5
    assert GB.from_smpp("PayPal", 0, 0).kind is NumberKind.ALPHANUMERIC


@given(st.text(max_size=40), st.integers(0, 7), st.integers(0, 18))
def test_never_raises_on_any_address(addr, ton, npi):
    n = GB.from_smpp(addr, ton, npi)
    assert n.kind in NumberKind
    m = GB.from_caller_id(addr)
    assert (m.key == 0) == (m.kind not in (NumberKind.E164, NumberKind.SHORT))


def test_unknown_home_country():
    with pytest.raises(ValueError, match="unknown home country"):
        Numbering("XX")


@given(st.text("0123456789", max_size=16))
def test_split_cc_finds_the_calling_code_the_digits_start_with(digits):
    import phonenumbers

    cc, national = split_cc(digits)
    codes = [c for c in phonenumbers.COUNTRY_CODE_TO_REGION_CODE if digits.startswith(str(c))]
    assert len(codes) <= 1  # calling codes are prefix-free
    if codes:
        assert (cc, national) == (codes[0], digits[len(str(codes[0])):])
    else:
        assert (cc, national) == (0, digits)  # "07...": no calling code starts with 0


@given(st.text("0123456789", min_size=4, max_size=15))
def test_e164_region_and_possible_length_agree_with_libphonenumber(digits):
    import phonenumbers

    num = Numbering("GB").e164(digits)
    cc, national = split_cc(digits)
    if cc == 0:
        assert num.kind is NumberKind.INVALID
        return
    regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE[cc]
    if len(regions) == 1:
        assert num.region == regions[0]
    else:  # a shared code: resolved by the first six national digits
        head = phonenumbers.PhoneNumber(country_code=cc, national_number=int(national[:6] or "0"))
        assert num.region == (phonenumbers.region_code_for_number(head) or regions[0])


_SHARED = sorted(cc for cc, r in __import__("phonenumbers").COUNTRY_CODE_TO_REGION_CODE.items()
                 if len(r) > 1)


@given(st.sampled_from(_SHARED), st.text("0123456789", min_size=1, max_size=13))
@example(44, "7781123456")  # Guernsey
@example(44, "7624123456")  # Isle of Man (leading digits)
@example(44, "7797123456")  # Jersey
@example(1, "2642351234")  # Anguilla
@example(7, "7012345678")  # Kazakhstan
@example(39, "0669812345")  # Vatican City: a leading zero libphonenumber does not keep
def test_shared_calling_code_region_is_libphonenumbers(cc, national):
    import phonenumbers

    from gateway.numbers import _region_for

    pn = phonenumbers.PhoneNumber(country_code=cc, national_number=int(national))
    expected = phonenumbers.region_code_for_number(pn) \
        or phonenumbers.COUNTRY_CODE_TO_REGION_CODE[cc][0]
    assert _region_for(cc, national) == expected


@given(st.lists(st.tuples(st.sampled_from(["447700900123", "33612345678", "1212555", "MyBank",
                                           "+447700900123", "7726", ""]),
                          st.sampled_from([0, 1, 2, 5]), st.sampled_from([0, 1])),
                max_size=40))
def test_memo_answers_what_numbering_answers(calls):
    from gateway.numbers import NumberMemo

    memo = NumberMemo(GB, size=3)  # tiny: the memo and its first-sighting set fill and clear
    for addr, ton, npi in calls:
        assert memo.from_smpp(addr, ton, npi) == GB.from_smpp(addr, ton, npi)
