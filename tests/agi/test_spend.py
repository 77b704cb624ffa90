"""The spend ledger on its own: reservations, settlement, concurrency, expiry."""

from __future__ import annotations

import pytest

from gateway.agi.spend import Reservation, SpendLedger, SpendRefusal
from gateway.config import SpendConfig
from gateway.lists.rates import RateTable
from gateway.numbers import Numbering
from gateway.state.memory import MemoryCounters

N = Numbering("GB")
RATES = RateTable({"252": 1.8, "44": 0.02, "449": 1.5, "8816": 6.0}, 0.30)
SUB = N.from_caller_id("+447700900123")
SOMALIA = N.from_caller_id("+252612345678")
T = 1_790_000_000.0


def ledger(**config: object) -> SpendLedger:
    return SpendLedger(SpendConfig(**config), MemoryCounters(), lambda: RATES,  # type: ignore[arg-type]
                       {"pbx": 20.0})


def test_first_call_gets_what_the_budget_allows_and_blocks_the_next() -> None:
    led = ledger(max_concurrent_expensive=0)
    r = led.reserve("a", SUB, SOMALIA, "", T)
    assert r == Reservation(1666, pytest.approx(1666 * 1.8 / 60), 1.8)
    refused = led.reserve("b", SUB, SOMALIA, "", T)
    assert isinstance(refused, SpendRefusal) and refused.rule == "irsf.spend_cap"
    assert led.concurrent == {SUB.key: 1}
    assert led.settle("a", SOMALIA, 600, T + 600) == pytest.approx(18.0)
    assert led.spent(SUB.key, T + 600) == pytest.approx(18.0) and led.concurrent == {}
    r2 = led.reserve("c", SUB, SOMALIA, "", T + 601)
    assert isinstance(r2, Reservation) and r2.seconds == 1066


def test_cheap_destinations_are_never_capped_but_their_cost_counts() -> None:
    led = ledger()
    uk = N.from_caller_id("+447700900999")
    assert led.reserve("a", SUB, uk, "", T) == Reservation(None)
    assert led.settle("a", uk, 3000, T) == pytest.approx(1.0)
    assert led.spent(SUB.key, T) == pytest.approx(1.0)


def test_concurrent_expensive_calls_are_limited() -> None:
    led = ledger(daily_cap=1000.0, max_concurrent_expensive=2, max_call_seconds=600)
    assert isinstance(led.reserve("a", SUB, SOMALIA, "", T), Reservation)
    assert isinstance(led.reserve("b", SUB, SOMALIA, "", T), Reservation)
    third = led.reserve("c", SUB, SOMALIA, "", T)
    assert isinstance(third, SpendRefusal) and third.rule == "irsf.concurrent_expensive"
    led.release("a")  # blocked after all
    assert isinstance(led.reserve("c", SUB, SOMALIA, "", T), Reservation)


def test_a_trunk_with_a_cap_spends_its_own_budget_whatever_the_caller_id() -> None:
    led = ledger()
    sat = N.from_caller_id("+8816123456789")
    r = led.reserve("a", N.from_caller_id("+441632960001"), sat, "pbx", T)
    assert isinstance(r, Reservation) and r.seconds == 200  # 20.00 at 6.00/min
    other = led.reserve("b", N.from_caller_id("+441632960002"), sat, "pbx", T)
    assert isinstance(other, SpendRefusal)


def test_reservations_without_an_ended_report_expire() -> None:
    led = ledger(max_concurrent_expensive=0)
    r = led.reserve("a", SUB, SOMALIA, "", T)
    assert isinstance(r, Reservation) and r.seconds is not None
    assert isinstance(led.reserve("b", SUB, SOMALIA, "", T + 10), SpendRefusal)
    later = T + r.seconds + 3600  # the call cannot be up any more
    assert isinstance(led.reserve("c", SUB, SOMALIA, "", later), Reservation)
    assert led.expired == 1


def test_spend_caps_off() -> None:
    led = ledger(enabled=False)
    assert led.reserve("a", SUB, SOMALIA, "", T) == Reservation(None)


def test_the_service_exports_spend_gauges() -> None:
    import asyncio

    from agi_support import REPO

    from gateway.agi.server import service
    from gateway.app import build_core
    from gateway.config import parse_config

    core = build_core(parse_config({
        "rules": {"dir": str(REPO / "rules")},
        "lists": {"dir": str(REPO / "rules" / "lists")},
        "agi": {"listen": "127.0.0.1:0"},
        "plugins": {"missing_symbols": "disable"},
    }), with_plugins=False)

    async def main() -> dict[str, float]:
        async with service(core):
            return dict(core.sources["agi_spend"]())

    gauges = asyncio.run(main())
    assert gauges == {"open_calls": 0, "reserved": 0.0, "settled": 0, "refused": 0,
                      "expired": 0, "watchdog_fired": 0}
    assert "agi_spend" not in core.sources  # gone with the service
