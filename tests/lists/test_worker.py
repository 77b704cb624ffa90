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


def _children(pid: int) -> list[int]:
    """The pids of ``pid``'s children that run the list worker."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid and b"gateway.lists.worker" in cmdline:
            found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_PDEATHSIG is Linux's")
def test_the_child_ends_when_the_gateway_is_killed_mid_compile(tmp_path: Path) -> None:
    """A gateway killed during a long compile takes its child with it (the child is in
    a session of its own, so nothing else would reach it)."""
    import signal
    import subprocess
    import time

    txt = tmp_path / "blocked_numbers.txt"
    with txt.open("w") as f:  # long enough to still be compiling when the parent dies
        f.writelines(f"+4477{n:08d}\n" for n in range(0, 6_000_000, 2))
    parent = subprocess.Popen([sys.executable, "-c", (
        "import asyncio, sys\n"
        "from gateway.lists.worker import run_worker\n"
        "asyncio.run(run_worker('compile', sys.argv[1]))\n"), str(txt)])
    try:
        deadline = time.monotonic() + 30
        kids: list[int] = []
        while not kids and time.monotonic() < deadline:
            assert parent.poll() is None, "the compile ended before the test could stop it"
            kids = _children(parent.pid)
            time.sleep(0.02)
        assert kids, "no list worker child appeared"
        time.sleep(0.3)  # past its start-up: it is compiling
        assert parent.poll() is None, "the compile ended before the test could stop it"
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 10
        while _alive(kids[0]) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not _alive(kids[0]), "the list worker outlived the gateway"
        assert not (tmp_path / "blocked_numbers.nset").exists()
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
