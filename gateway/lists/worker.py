"""The child process that does a list's heavy work for the gateway, off its event loop
and off its GIL: compiling list files to their ``.nset`` form, and folding a journal
into the list's files (compaction).

``run_worker(job, *args)`` starts ``python -m gateway.lists.worker JOB ARGS...`` at a
lower CPU priority (``NICE``), waits for it without blocking the loop and returns
the JSON object it printed; a failure raises ``ListFileError`` (bad lines, as
``file:line: reason``) or ``RuntimeError``. The gateway then maps the result in slices
(``gateway.lists.reload``); the child's memory goes back to the system when it exits.

Jobs:

- ``compile PATH...``: each number list text to ``NAME.nset`` beside it
  (``gateway.lists.compiler``: streaming, bounded memory);
- ``fold DIR NAME KIND UPTO NOW``: ``gateway.lists.journal.fold``.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

__all__ = ["NICE", "main", "run_worker"]

#: CPU priority of the child (added to the gateway's): traffic comes first, the
#: child gets what the gateway leaves of a busy machine
NICE = 19


async def run_worker(job: str, *args: str) -> dict[str, Any]:
    from gateway.lists.files import ListFileError

    # started and waited for in a thread: subprocess uses vfork, so a gateway holding
    # a 100M-number list is not copied (an event loop's fork would copy its page
    # tables with the loop held)
    proc = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "gateway.lists.worker", job, *args],
        capture_output=True, check=False)
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


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        os.nice(NICE)
    except OSError:  # pragma: no cover - not allowed: run at the same priority
        pass
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
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
