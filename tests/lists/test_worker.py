"""The list worker (a real child process): it gives way to the gateway before its job
(SCHED_IDLE and the idle I/O class on Linux, nice elsewhere) and says so."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from gateway.lists.files import ListFileError
from gateway.lists.numberset import NumberSet
from gateway.lists.worker import run_worker


async def test_compile_child_runs_idle_and_reports_it(tmp_path: Path) -> None:
    txt = tmp_path / "blocked_numbers.txt"
    txt.write_text("+447700900123\n+4477009001*\n")
    result = await run_worker("compile", str(txt))
    assert [c["exact"] for c in result["compiled"]] == [1]
    nset = NumberSet.deserialize((tmp_path / "blocked_numbers.nset").read_bytes())
    assert nset.exact_count() == 1
    priority = result["priority"]
    if sys.platform == "linux":
        assert priority == {"cpu": "idle", "io": "idle"}
    else:
        assert priority["cpu"].startswith("nice ")
    # the gateway itself is untouched: only the child gives way
    if hasattr(os, "SCHED_IDLE"):
        assert os.sched_getscheduler(0) != os.SCHED_IDLE


async def test_compile_child_refuses_a_bad_file_with_its_line(tmp_path: Path) -> None:
    txt = tmp_path / "blocked_numbers.txt"
    txt.write_text("+447700900123\nnot a number\n")
    with pytest.raises(ListFileError) as e:
        await run_worker("compile", str(txt))
    assert e.value.errors[0].startswith(f"{txt}:2: ")
