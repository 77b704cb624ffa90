"""The voice scenario benchmark, run small: the properties issue 12 asks of the
shipped rules hold (loadtest/bench_voice.py prints the full table)."""

from __future__ import annotations

import bench_voice
import pytest


@pytest.fixture(scope="module", params=[1, 2])
def result(request: pytest.FixtureRequest) -> bench_voice.Result:
    return bench_voice.simulate(scale=0.15, seed=request.param)


def test_no_clean_call_is_blocked(result: bench_voice.Result) -> None:
    clean = {k: v for k, v in result.rows.items() if k.startswith("clean")}
    assert sum(r.calls for r in clean.values()) > 2500
    assert {k: r.block for k, r in clean.items() if r.block} == {}


def test_clean_warnings_stay_under_one_percent(result: bench_voice.Result) -> None:
    clean = [v for k, v in result.rows.items() if k.startswith("clean")]
    assert sum(r.warn for r in clean) <= 0.01 * sum(r.calls for r in clean)
    # UK 084/087 service numbers are ordinary calls: never warned
    assert result.rows["clean: subscriber 084/087"].warn == 0
    # the one clean warning there is: a line's first call ever to a high-risk country
    for key in result.why:
        assert key.startswith(
            "WARN clean: first call to a high-risk country: irsf.high_risk_destination"), key


def test_wangiri_rings_are_blocked_early_and_every_callback(result: bench_voice.Result) -> None:
    rows = result.rows
    single, rotating = rows["wangiri: single number"], rows["wangiri: rotating range"]
    assert single.first_block is not None and single.first_block <= 10
    assert rotating.first_block is not None and rotating.first_block <= 20
    # once blocked, the rest of the campaign is blocked
    assert single.block == single.calls - single.first_block + 1
    assert rotating.block == rotating.calls - rotating.first_block + 1
    for name in ("wangiri callbacks: single number", "wangiri callbacks: rotating range"):
        if name in rows:
            assert rows[name].block == rows[name].calls, name


def test_irsf_is_blocked_within_three_to_five_calls(result: bench_voice.Result) -> None:
    for name, row in result.rows.items():
        if name.startswith("IRSF"):
            assert row.first_block is not None and row.first_block <= 5, name
            assert row.through <= 4, name
            assert row.money <= 200.0, name  # at most a few calls' worth gets through


def test_spoofed_home_caller_ids_are_blocked(result: bench_voice.Result) -> None:
    row = result.rows["spoofed home CLI, intl trunk"]
    assert row.block == row.calls == 200
    row = result.rows[bench_voice.SPOOFED_AT_HOME]
    assert row.block == row.calls == 50


def test_the_hlr_lookup_tells_roamers_from_spoofers(result: bench_voice.Result) -> None:
    roamers = result.rows[bench_voice.ROAMERS_INTL]
    assert roamers.calls > 0 and roamers.allow == roamers.calls
