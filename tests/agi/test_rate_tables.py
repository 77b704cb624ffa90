"""The shipped IRSF tables: every high-risk entry dated and sourced, every code a
real one (checked against libphonenumber), parse errors naming their line."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.lists.files import ListFileError, read_number_list
from gateway.lists.rates import read_rates
from gateway.numbers import Numbering, NumberKind

LISTS = Path(__file__).resolve().parents[2] / "rules" / "lists"
N = Numbering("GB")
_ENTRY = re.compile(r"^(\+\d+)\*\s+#\s+(\d{4}-\d{2}-\d{2})\s+(\S.{10,})$")
#: ITU international services with no region in libphonenumber
_ITU_SERVICES = {870, 881, 882, 883, 888, 979, 808, 991}


def _known_code(digits: str) -> bool:
    for n in (1, 2, 3):
        cc = int(digits[:n])
        if cc in phonenumbers.COUNTRY_CODE_TO_REGION_CODE or cc in _ITU_SERVICES:
            return True
    return False


def test_every_high_risk_destination_has_a_date_and_a_source() -> None:
    entries = 0
    for line in (LISTS / "high_risk_destinations.txt").read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = _ENTRY.match(line.strip())
        assert m, f"entry without '+PREFIX*  # YYYY-MM-DD source': {line!r}"
        dt.date.fromisoformat(m.group(2))
        assert _known_code(m.group(1)[1:]), line
        entries += 1
    assert entries >= 30
    read_number_list(LISTS / "high_risk_destinations.txt")


def test_rates_price_the_irsf_destinations_and_mark_them_high() -> None:
    rates = read_rates(LISTS / "rates.txt")
    for entry in rates.entries:
        if entry.prefix:
            assert _known_code(entry.prefix), entry
        if entry.risk == "high":
            assert entry.source and dt.date.fromisoformat(entry.reviewed)
    cases = {
        "+252612345678": (1.80, True),   # Somalia
        "+5351234567": (1.20, True),     # Cuba
        "+18765551234": (0.80, True),    # Jamaica, inside +1
        "+12125551234": (0.05, False),   # New York
        "+37161234567": (0.60, True),    # Latvia 6x
        "+37121234567": (0.40, True),    # Latvia mobile
        "+8816123456789": (6.00, True),  # Iridium
        "+88216123456": (4.00, True),    # Thuraya
        "+447700900123": (0.02, False),
        "+448445551234": (0.07, False),  # 084
        "+448712345678": (0.13, False),  # 087
        "+33612345678": (0.08, False),
        "+5511987654321": (0.30, False),  # Brazil: the default
    }
    for number, (price, high) in cases.items():
        n = N.from_caller_id(number)
        assert (rates.price_per_minute(n), rates.high_risk(n)) == (pytest.approx(price), high), \
            number
    assert rates.price_per_minute(N.from_caller_id("7726")) == 0.0  # short codes: free


@pytest.mark.parametrize(("line", "message"), [
    ("+252 abc", "price 'abc' is not a number"),
    ("252 1.0", "prefix '252' must be +DIGITS or *"),
    ("+252 1.0 high", "needs the date it was reviewed"),
    ("+252 1.0 high 25-11-2026 CFCA", "must be YYYY-MM-DD"),
    ("+252 1.0 risky 2026-11-25 CFCA", "risk 'risky'"),
    ("+252 -1", "must not be negative"),
    ("+44 0.02", "+44 is priced twice (first on line 2)"),
])
def test_rate_file_errors_name_the_line(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "rates.txt"
    path.write_text(f"# prices\n+44 0.02\n{line}\n")
    with pytest.raises(ListFileError) as e:
        read_rates(path)
    assert e.value.errors[0].startswith(f"{path}:3: ")
    assert message in e.value.errors[0]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text("0123456789", min_size=4, max_size=15), min_size=1, max_size=40))
def test_remembered_prefix_is_the_table_walk(numbers: list[str]) -> None:
    """``RateTable._match`` remembers by a number's first digits what the longest-prefix
    walk finds for the whole number (the shipped table; numbers twice, the memo warm)."""
    from gateway.lists.rates import RateTable

    rates = read_rates(Path(__file__).resolve().parents[2] / "rules" / "lists" / "rates.txt")
    assert isinstance(rates, RateTable)
    numbering = Numbering("GB")
    for digits in numbers + numbers:
        n = numbering.e164(digits)
        expected = rates._longest(n.digits) if n.kind is NumberKind.E164 else None
        assert rates._match(n) == expected
        assert rates.high_risk(n) == (expected is not None and expected in rates._high)
