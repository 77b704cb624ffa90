"""Number sets, list files, string sets and the premium-rate list."""

import random
import re

import phonenumbers
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.lists.files import ListFileError, compile_list, read_number_list, read_string_list
from gateway.lists.intervals import Intervals, intersect, normalize, subtract
from gateway.lists.numberset import NumberSet, Prefix
from gateway.lists.premium import (
    CHARGED_EXTRA,
    ITU_SPECIAL,
    build_premium_rate,
    metadata_ranges,
)
from gateway.lists.registry import load_lists
from gateway.numbers import MAX_DIGITS, Numbering, key_of, split_cc

GB = Numbering("GB")


def test_exact_and_prefix_in_one_set():
    ns = NumberSet("t")
    ns.add_number("447700900123")
    ns.add_prefix(Prefix("4477009001"))
    assert key_of("447700900123") in ns
    assert key_of("447700900155") in ns  # under the prefix
    assert key_of("4477009001") in ns  # the prefix itself is a number of its length
    assert key_of("44770090015") in ns  # a shorter number under the prefix
    assert key_of("447700900223") not in ns
    assert key_of("447700900") not in ns  # shorter than the prefix
    assert ns.match(key_of("447700900155")).entry == "+4477009001*"
    assert ns.match(key_of("447700900123")).prefix is False or ns.match(
        key_of("447700900123")).entry == "+447700900123"


def test_exact_entry_under_a_prefix_survives_prefix_removal():
    ns = NumberSet("t")
    ns.add_number("447700900123")
    ns.add_prefix(Prefix("4477009001"))
    assert ns.match(key_of("447700900123")).entry == "+447700900123"
    assert ns.remove_prefix(Prefix("4477009001"))
    assert key_of("447700900123") in ns
    assert key_of("447700900155") not in ns
    # and the other way round: removing the exact entry leaves the prefix covering it
    ns.add_prefix(Prefix("4477009001"))
    assert ns.remove_key(key_of("447700900123"))
    assert key_of("447700900123") in ns
    assert ns.match(key_of("447700900123")).entry == "+4477009001*"


def test_broad_prefix_does_not_blow_up_memory():
    ns = NumberSet("t")
    ns.add_prefix(Prefix("882"))  # 10^12 numbers at 15 digits
    assert key_of("882123456789012") in ns
    assert key_of("881123456789012") not in ns
    assert ns.size_in_bytes() < 10_000
    assert ns.remove_prefix(Prefix("882"))
    assert key_of("882123456789012") not in ns


def test_length_limited_prefix():
    ns = NumberSet("t")
    ns.add_prefix(Prefix("449", lengths=(12,)))
    assert key_of("449098790000") in ns
    assert key_of("4490987900001") not in ns


@given(st.lists(st.integers(10**9, 10**12), max_size=200),
       st.lists(st.text("0123456789", min_size=3, max_size=9), max_size=5))
@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
def test_set_agrees_with_a_python_model(numbers, prefixes):
    prefixes = ["4" + p for p in prefixes]
    ns = NumberSet("t")
    for n in numbers:
        ns.add_number(str(n))
    for p in prefixes:
        ns.add_prefix(Prefix(p))
    probes = [str(n) for n in numbers] + [p + "0" * k for p in prefixes for k in range(4)]
    probes += [str(random.randrange(10**9, 10**12)) for _ in range(50)]
    exact = {str(n) for n in numbers}
    for d in probes:
        want = d in exact or any(d.startswith(p) for p in prefixes)
        assert (key_of(d) in ns) == want, d
    # serialized form answers the same
    ns2 = NumberSet.deserialize(ns.serialize())
    for d in probes:
        assert (key_of(d) in ns2) == (key_of(d) in ns)


def test_deserialize_rejects_garbage():
    with pytest.raises(ValueError):
        NumberSet.deserialize(b"nonsense")
    good = NumberSet("x").serialize()
    with pytest.raises(ValueError, match="truncated"):
        NumberSet.deserialize(good[:-1])


def test_intervals_algebra():
    a = normalize([(0, 10), (5, 15), (20, 30)])
    assert a == [(0, 15), (20, 30)]
    assert intersect(a, [(10, 25)]) == [(10, 15), (20, 25)]
    assert subtract(a, [(3, 4), (12, 22)]) == [(0, 3), (4, 12), (22, 30)]
    iv = Intervals(a)
    assert 0 in iv and 14 in iv and 15 not in iv and 25 in iv and 30 not in iv
    assert Intervals.from_bytes(iv.to_bytes()).spans() == a


def test_list_file_errors_name_file_and_line(tmp_path):
    p = tmp_path / "blocked_numbers.txt"
    p.write_text("# comment\n+447700900123\n07700900123\n+44abc\n+4477*\n  \n*\n")
    with pytest.raises(ListFileError) as e:
        read_number_list(p)
    errs = e.value.errors
    assert [x.split(": ")[0] for x in errs] == [f"{p}:3", f"{p}:4", f"{p}:7"]
    assert "+E.164" in errs[0]


def test_list_file_and_compiled_form(tmp_path):
    p = tmp_path / "blocked_numbers.txt"
    p.write_text("+447700900123  # a note\n+4477009001*\n7726\n")
    out, _ = compile_list(p)
    assert out.name == "blocked_numbers.nset"
    reg = load_lists(tmp_path, GB)
    loaded = reg.numbers("blocked_numbers")
    assert key_of("447700900123") in loaded
    assert key_of("447700900188") in loaded
    assert key_of("7726", short=True) in loaded
    assert key_of("447700900200") not in loaded


def test_string_lists(tmp_path):
    s = tmp_path / "blocked_senders.txt"
    s.write_text("HMRC\nPayPal-Secure\n")
    senders = read_string_list(s, "sender")
    assert "hmrc" in senders and "paypal-secure" in senders and "paypal" not in senders
    d = tmp_path / "blocked_domains.txt"
    d.write_text("evil.example\nbücher.example\nnot a domain\n")
    with pytest.raises(ListFileError, match=r":3: 'not a domain'"):
        read_string_list(d, "domain")
    d.write_text("evil.example\nbücher.example\n")
    domains = read_string_list(d, "domain")
    assert "login.evil.example" in domains
    assert "xn--bcher-kva.example" in domains
    assert "notevil.example" not in domains


def test_unknown_list_kind_is_an_error(tmp_path):
    (tmp_path / "mystery.txt").write_text("+447700900123\n")
    with pytest.raises(ListFileError, match="unknown list kind"):
        load_lists(tmp_path, GB)


# --- premium_rate against libphonenumber ------------------------------------------

PREMIUM = build_premium_rate()
SPANS = metadata_ranges()


def _is_itu(digits: str) -> bool:
    return any(digits.startswith(code) for code in ITU_SPECIAL)


_EXTRA = [re.compile(p) for p in CHARGED_EXTRA if not p.startswith("short:")]


def _charged_extra(digits: str) -> bool:
    """A charged range the list adds to libphonenumber's on purpose (``CHARGED_EXTRA``)."""
    return any(p.fullmatch(digits) for p in _EXTRA)


def _lpn_premium(digits: str) -> bool:
    """libphonenumber's type of the number as dialled: built from calling code and
    national number, not re-parsed (``parse`` strips a national prefix even from an
    international number: +375 810... would become +375 10...)."""
    cc, national = split_cc(digits)
    if not cc or not national:
        return False
    zeros = len(national) - len(national.lstrip("0"))
    pn = phonenumbers.PhoneNumber(country_code=cc, national_number=int(national),
                                  italian_leading_zero=zeros > 0 or None,
                                  number_of_leading_zeros=zeros if zeros > 1 else None)
    return phonenumbers.number_type(pn) in (
        phonenumbers.PhoneNumberType.PREMIUM_RATE, phonenumbers.PhoneNumberType.SHARED_COST)


def _sample_in_range(rng: random.Random) -> str:
    """A number drawn from inside the premium ranges (most random numbers are not)."""
    lo, hi = SPANS[rng.randrange(len(SPANS))]
    k = rng.randrange(lo, hi)
    length = k >> 50
    assert length <= MAX_DIGITS
    return str(k & ((1 << 50) - 1)).zfill(length)


@given(st.randoms(use_true_random=False))
@settings(max_examples=400, deadline=None)
def test_premium_list_agrees_with_libphonenumber_inside_ranges(rng):
    digits = _sample_in_range(rng)
    if _is_itu(digits):
        return
    assert (key_of(digits) in PREMIUM) == (_lpn_premium(digits) or _charged_extra(digits)), \
        digits


@given(st.sampled_from(sorted(phonenumbers.SUPPORTED_REGIONS)), st.randoms(use_true_random=False))
@settings(max_examples=400, deadline=None)
def test_premium_list_agrees_with_libphonenumber_for_random_numbers(region, rng):
    """Random numbers of each region's possible lengths, led by digits its premium and
    shared-cost patterns start with half the time, so both sides of the line are hit."""
    md = phonenumbers.PhoneMetadata.metadata_for_region(region)
    cc = str(md.country_code)
    lengths = list(md.general_desc.possible_length or (9,))
    length = rng.choice(lengths)
    lead = ""
    for desc in (md.premium_rate, md.shared_cost):
        if desc is not None and desc.national_number_pattern and rng.random() < 0.5:
            lead = desc.national_number_pattern.lstrip("(?:")[:1]
            if not lead.isdigit():
                lead = ""
    national = lead + "".join(rng.choice("0123456789") for _ in range(length - len(lead)))
    digits = cc + national[:length]
    if _is_itu(digits):
        return
    assert (key_of(digits) in PREMIUM) == (_lpn_premium(digits) or _charged_extra(digits)), \
        digits


@pytest.mark.parametrize("number", ["+449098790000", "+19005551234", "+33899123456",
                                    "+882123456789", "+979123456789", "+8081234567",
                                    "+870123456789"])
def test_known_premium_and_special_numbers(number):
    assert GB.from_caller_id(number).key in PREMIUM


@pytest.mark.parametrize("number", ["+447700900123", "+12125551234", "+33612345678"])
def test_ordinary_numbers_are_not_premium(number):
    assert GB.from_caller_id(number).key not in PREMIUM


def test_every_premium_range_stays_within_one_e164_length():
    """Keys of more than 15 digits would overflow into the length bits and collide."""
    for lo, hi in SPANS:
        assert 1 <= lo >> 50 <= MAX_DIGITS
        assert (hi - 1) >> 50 == lo >> 50
