import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def rules_copy(tmp_path):
    """A writable copy of the shipped rules and lists."""
    dst = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", dst)
    return dst


@pytest.fixture
def spamgw():
    """Run the real CLI in a subprocess from the repo root."""
    import subprocess

    def run(*args, cwd=ROOT, check=False):
        return subprocess.run([sys.executable, "-m", "gateway", *args], cwd=cwd,
                              capture_output=True, text=True, timeout=60, check=check)

    return run
