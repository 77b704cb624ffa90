"""The child process that does a list's heavy work for the gateway, off its event loop
and off its GIL: compiling list files to their ``.nset`` form, and folding a journal
into the list's files (compaction).

``run_worker(job, *args)`` starts ``python -m gateway.lists.worker JOB ARGS...``, waits
for it without blocking the loop and returns the JSON object it printed (with
``priority``: what the kernel said the child ran at); a failure raises
``ListFileError`` (bad lines, as ``file:line: reason``) or ``RuntimeError``. The
gateway then maps the result in slices (``gateway.lists.reload``); the child's memory
goes back to the system when it exits.

The child gives way to everything else before it starts its job (``lower_priority``):
on Linux it runs under ``SCHED_IDLE`` (a core runs it only when nothing else wants that
core; a waking gateway takes the core at once) and in the idle I/O class; elsewhere, or
where that is refused, at nice ``NICE``. It is started in a session of its own, and
where the kernel groups CPU time by session (autogroup) its group is set to nice
``NICE``: in the gateway's group, SCHED_IDLE ranks it only against the gateway, and
the group as a whole took a full share of a busy machine for it (measured: the child
ran 160 ms of a 200 ms window in which the gateway waited 190 ms for a CPU). It ends
when the gateway ends (``die_with_parent``), stopped or killed mid-job.

Jobs:

- ``compile PATH...``: each number list text to ``NAME.nset`` beside it
  (``gateway.lists.compiler``: streaming, bounded memory);
- ``fold DIR NAME KIND UPTO NOW``: ``gateway.lists.journal.fold``.
"""

from __future__ import annotations

import asyncio
import ctypes
import json
import os
import platform
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

__all__ = ["NICE", "die_with_parent", "lower_priority", "main", "run_worker"]

#: CPU priority of the child (added to the gateway's) where SCHED_IDLE is not had:
#: traffic comes first, the child gets what the gateway leaves of a busy machine
NICE = 19

# ioprio_set(2) and ioprio_get(2): no wrapper in the os module
_IOPRIO_SYSCALLS = {"x86_64": (251, 252), "aarch64": (30, 31), "arm64": (30, 31)}
_IOPRIO_WHO_PROCESS = 1
_IOPRIO_CLASS_SHIFT = 13
_IOPRIO_CLASS_IDLE = 3
_IO_CLASSES = {0: "none", 1: "realtime", 2: "best-effort", 3: "idle"}
_PR_SET_PDEATHSIG = 1
#: the gateway's pid, given to the child so it can tell its parent is gone
_PARENT_ENV = "SPAMGW_LIST_WORKER_PARENT"


async def run_worker(job: str, *args: str) -> dict[str, Any]:
    from gateway.lists.files import ListFileError

    # started and waited for in a thread: subprocess uses vfork, so a gateway holding
    # a 100M-number list is not copied (an event loop's fork would copy its page
    # tables with the loop held)
    proc = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "gateway.lists.worker", job, *args],
        capture_output=True, check=False, start_new_session=True,
        env={**os.environ, _PARENT_ENV: str(os.getpid())})
    try:
        result: dict[str, Any] = json.loads(proc.stdout.decode().strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise RuntimeError(f"list worker {job} failed (exit {proc.returncode}): "
                           f"{proc.stderr.decode(errors='replace').strip()[-2000:]}") from None
    if result.get("errors"):
        raise ListFileError(list(result["errors"]))
    return result


def _compile(paths: list[str]) -> dict[str, Any]:
    from gateway.lists.files import ListFileError, compile_list

    errors: list[str] = []
    done: list[dict[str, Any]] = []
    for p in paths:
        try:
            out, ns = compile_list(Path(p))
        except ListFileError as e:
            errors.extend(e.errors)
            continue
        done.append({"path": p, "nset": str(out), "exact": ns.exact_count(),
                     "prefixes": len(ns.prefixes)})
    return {"compiled": done, "errors": errors}


def _libc() -> Any:
    """The C library, for the system calls the os module has no wrapper for; None
    where there is none to call through."""
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:  # pragma: no cover - no C library
        return None


def _ioprio(op: int, value: int = 0) -> int:
    """ioprio_set (op 0) or ioprio_get (op 1) on this process; -1 where there is none."""
    nrs = _IOPRIO_SYSCALLS.get(platform.machine()) if sys.platform == "linux" else None
    libc = _libc()
    if nrs is None or libc is None:
        return -1
    args = (_IOPRIO_WHO_PROCESS, 0) if op else (_IOPRIO_WHO_PROCESS, 0, value)
    return int(libc.syscall(nrs[op], *args))


def lower_priority() -> dict[str, Any]:
    """Give way to the gateway (see the module's doc) and say what the kernel now
    reports: ``cpu`` ("idle", or "nice N") and ``io`` (the I/O class, or "unknown")."""
    cpu = ""
    if hasattr(os, "SCHED_IDLE"):
        try:
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        except OSError:  # refused (a seccomp filter, say): nice below
            pass
        else:
            cpu = "idle" if os.sched_getscheduler(0) == os.SCHED_IDLE else ""
    try:
        os.nice(NICE)  # also under SCHED_IDLE: if it is ever lifted, still behind
    except OSError:  # pragma: no cover - not allowed: run at the same priority
        pass
    cpu = cpu or f"nice {os.getpriority(os.PRIO_PROCESS, 0)}"
    _ioprio(0, _IOPRIO_CLASS_IDLE << _IOPRIO_CLASS_SHIFT)
    got = _ioprio(1)
    io = _IO_CLASSES.get(got >> _IOPRIO_CLASS_SHIFT, "unknown") if got >= 0 else "unknown"
    return {"cpu": cpu, "io": io, "group": _own_group()}


def _own_group() -> str:
    """Set this process's autogroup to nice ``NICE`` when the group is its own (it
    leads its session: ``run_worker`` starts it so; never the gateway's group), and
    return what /proc/self/autogroup says ("none" without autogroups)."""
    path = Path("/proc/self/autogroup")
    try:
        if os.getsid(0) == os.getpid():
            path.write_text(str(NICE))
        # empty when the task's CPU group is a cgroup's, not an autogroup (containers)
        return path.read_text().strip() or "none"
    except OSError:  # no autogroups (or not Linux): nothing to set
        return "none"


def die_with_parent() -> None:
    """End this child when the gateway that started it ends. In a session of its own
    it gets no Ctrl-C from the gateway's terminal, and a gateway stopped or killed
    mid-compile would leave it running for minutes: on Linux the kernel sends it
    SIGTERM when the parent goes (PR_SET_PDEATHSIG); a parent already gone before
    that was set is caught by comparing the pid the gateway passed."""
    parent = os.environ.get(_PARENT_ENV)
    if parent is None:  # run by hand from a shell: nobody to follow
        return
    libc = _libc() if sys.platform == "linux" else None
    if libc is not None:
        try:
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        except AttributeError:  # pragma: no cover - no prctl to call
            pass
    if os.getppid() != int(parent):
        sys.exit(f"list worker: the gateway (pid {parent}) is gone")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    die_with_parent()
    priority = lower_priority()
    job, args = argv[0], argv[1:]
    if job == "compile":
        result = _compile(args)
    elif job == "fold":
        from gateway.lists.journal import fold

        directory, name, kind, upto, now = args
        result = fold(Path(directory), name, kind, int(upto), float(now))
    else:
        print(f"unknown job {job!r}", file=sys.stderr)
        return 2
    result["priority"] = priority
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
