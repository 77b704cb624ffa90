"""The content benchmark runs on the shipped rules as the gateway loads them.

It read the rule files itself and broke when rules began to use named patterns
(``"@name"``); it now asks the loader for the resolved rules.
"""

from __future__ import annotations

from pathlib import Path

import bench_content
import pytest

from gateway.engine.loader import PATTERN_KEYS, resolved_specs
from gateway.engine.schema import PATTERN_REF

ROOT = Path(__file__).resolve().parents[2]


def test_resolved_specs_leave_no_pattern_name() -> None:
    specs, errors = resolved_specs(ROOT / "rules")
    assert not errors
    named = [s for s in specs for k in PATTERN_KEYS
             if any(isinstance(v, str) and PATTERN_REF.fullmatch(v)
                    for v in (s.when.get(k) if isinstance(s.when.get(k), list)
                              else [s.when.get(k)]))]
    assert not named
    assert sum(1 for s in specs if s.when.get("text_regex")) > 50


def test_bench_content_runs_every_row(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                      ) -> None:
    data = tmp_path / "texts.tsv"
    data.write_text("".join(f"{label}\t{text}\n" for label, text in (
        ("spam", "WINNER!! Txt CLAIM to 87121 to claim your £900 prize, 150p/msg"),
        ("spam", "Your parcel is held, pay the fee at https://parcel-fee.example/a1"),
        ("ham", "Are you coming to the pub later? I'll be there at 8"),
        ("ham", "Your verification code is 482913. Do not share it."),
    )), encoding="utf-8")
    assert bench_content.main(["--data", str(data), "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    for row in ("classifier score", "campaign fingerprint", "shipped text_regex rules, RE2",
                "callback_numbers", "Engine.evaluate, without content plugins",
                "Engine.evaluate, with content plugins"):
        assert row in out
