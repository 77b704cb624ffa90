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


def _group() -> str | None:
    """This process's autogroup ("/autogroup-N nice K"); None without autogroups, or
    when the kernel shows none because the CPU group is a cgroup's (containers)."""
    path = Path("/proc/self/autogroup")
    return (path.read_text().strip() or None) if path.exists() else None


async def test_compile_child_runs_idle_and_reports_it(tmp_path: Path) -> None:
    txt = tmp_path / "blocked_numbers.txt"
    txt.write_text("+447700900123\n+4477009001*\n")
    before = _group()
    result = await run_worker("compile", str(txt))
    assert [c["exact"] for c in result["compiled"]] == [1]
    nset = NumberSet.deserialize((tmp_path / "blocked_numbers.nset").read_bytes())
    assert nset.exact_count() == 1
    priority = result["priority"]
    if sys.platform == "linux":
        assert (priority["cpu"], priority["io"]) == ("idle", "idle")
    else:
        assert priority["cpu"].startswith("nice ")
    # the gateway itself is untouched: only the child gives way
    if hasattr(os, "SCHED_IDLE"):
        assert os.sched_getscheduler(0) != os.SCHED_IDLE
    if before is not None:  # the child's own group, at nice 19; ours as it was
        assert priority["group"].endswith(" nice 19")
        assert priority["group"].split()[0] != before.split()[0]
        assert _group() == before
    else:  # ours is not shown; the child, leading its own session, may have one
        assert priority["group"] == "none" or priority["group"].endswith(" nice 19")


def test_a_worker_run_from_a_shell_leaves_its_group_alone(tmp_path: Path) -> None:
    """Not leading its session, the worker must not renice the group it shares."""
    import subprocess

    txt = tmp_path / "blocked_numbers.txt"
    txt.write_text("+447700900123\n")
    before = _group()
    out = subprocess.run([sys.executable, "-m", "gateway.lists.worker", "compile", str(txt)],
                         capture_output=True, check=True, text=True)
    assert '"priority"' in out.stdout
    assert _group() == before


async def test_compile_child_refuses_a_bad_file_with_its_line(tmp_path: Path) -> None:
    txt = tmp_path / "blocked_numbers.txt"
    txt.write_text("+447700900123\nnot a number\n")
    with pytest.raises(ListFileError) as e:
        await run_worker("compile", str(txt))
    assert e.value.errors[0].startswith(f"{txt}:2: ")
