"""The compiled content path under valgrind's memcheck: no invalid read or write, no
use of an uninitialised value, in any error context that passes through it.

CPython itself reports errors under memcheck (its allocator and collector, unless
built for valgrind), the same with or without this code: the test counts only the
error contexts whose stack names ``_native``. The workload walks every path: words of
every code point width, repeats, lists past the stack buffers, the memo's restart,
the tables' growth, the band keys of any layout, and the errors."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from gateway.content import compiled

ROOT = Path(__file__).resolve().parents[2]

WORKLOAD = textwrap.dedent("""
    import random, sys
    sys.path.insert(0, sys.argv[1])
    from gateway.content._native import Scorer, band_keys
    rng = random.Random(3)
    wa = {"w:call": 1.5, " ca": 0.25, "cal": -0.5, "call now": 2.0, "now": 0.1, "w:é": 0.3}
    wb = {"w:call": -1.0, "call now": 0.5, "x y": 1.0}
    s = Scorer(wa, wb, (3, 4, 5), True, 0.1, -0.2, 10, bytes(range(16)))
    while not s.load(2):
        pass
    alphabet = ["call", "now", "é", "\\U0001F600", "x", "y", "a" * 300, "zz", "Ω", "नया"]
    alphabet += ["".join(rng.choices("abcxyz", k=rng.randint(1, 7))) for _ in range(50)]
    for i in range(2000):
        ws = rng.choices(alphabet, k=rng.randint(0, 150))
        s.score(ws)
        band_keys([w.encode() for w in ws], rng.randint(1, 8), rng.randint(1, 8))
    big = {f"w:{i}": float(i) for i in range(3000)}
    s2 = Scorer(big, {"a b": 1.0}, (3,), True, 0.0, 0.0, 0, bytes(16))
    while not s2.load():
        pass
    for j in range(110):  # past the memo's 100,000 words: it starts over
        s2.score([f"{j}x{i}" for i in range(1000)])
    pairs = {f"a{i} b{i}": 1.0 for i in range(6000)}  # the pair table grows
    s3 = Scorer(pairs, {}, (3,), True, 0.0, 0.0, 0, bytes(16))
    while not s3.load():
        pass
    assert s3.score(["a5", "b5"])[0] > 0
    for bad in (lambda: s.score(("x",)), lambda: s.score(["x", 1]),
                lambda: band_keys(["x"], 4, 3), lambda: band_keys([b"x"], 9, 9),
                lambda: Scorer.__new__(Scorer).score(["x"])):
        try:
            bad()
        except (TypeError, ValueError, RuntimeError):
            pass
    print("done")
""")


@pytest.mark.timeout(600)
def test_no_memory_error_passes_through_the_compiled_code(tmp_path: Path) -> None:
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        pytest.skip("valgrind is not installed")
    if compiled._native is None:
        pytest.skip("the compiled content path was not built")
    script = tmp_path / "workload.py"
    script.write_text(WORKLOAD)
    # the interpreter itself, not a launcher script (valgrind would check the shell)
    python = Path(sys.executable).resolve()
    run = subprocess.run(
        [valgrind, "--tool=memcheck", "--leak-check=no", "--num-callers=40", str(python),
         str(script), str(ROOT)],
        capture_output=True, text=True, timeout=540, env={"PYTHONMALLOC": "malloc"})
    assert run.returncode == 0 and "done" in run.stdout, run.stderr[-3000:]
    assert "ERROR SUMMARY" in run.stderr  # memcheck ran
    contexts = re.split(r"\n==\d+== \n", run.stderr)
    ours = [c for c in contexts if "_native" in c and re.search(
        r"Invalid (read|write|free)|uninitialised|Mismatched|overlap", c)]
    assert ours == [], "\n\n".join(ours)[:5000]
