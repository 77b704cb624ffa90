"""examples/systemd: the unit verifies with systemd-analyze (where it is installed)
and carries what an operator relies on: reload by SIGHUP, a dedicated user, the
hardening, the writable state dir."""

from __future__ import annotations

import configparser
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
UNIT = ROOT / "examples" / "systemd" / "spamgw.service"
SYSUSERS = ROOT / "examples" / "systemd" / "spamgw.sysusers"


def service_section() -> dict[str, str]:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(UNIT.read_text())
    return dict(parser["Service"])


@pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                    reason="systemd-analyze is not installed")
def test_the_unit_verifies(tmp_path: Path) -> None:
    exe = shutil.which("spamgw")
    if exe is None:  # verify wants ExecStart's program to exist
        stub = tmp_path / "spamgw"
        stub.write_text("#!/bin/sh\n")
        stub.chmod(0o755)
        exe = str(stub)
    unit = tmp_path / "spamgw.service"
    unit.write_text(UNIT.read_text().replace("/usr/bin/spamgw", exe))
    res = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True,
                         text=True, timeout=120)
    # a mistyped setting is only a warning (exit 0): none may be printed either
    assert res.returncode == 0 and not res.stderr.strip(), res.stderr


def test_the_unit_reloads_by_sighup_and_is_hardened() -> None:
    s = service_section()
    assert s["ExecStart"].startswith("/usr/bin/spamgw run --config /etc/spamgw/spamgw.toml")
    assert s["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert s["KillSignal"] == "SIGTERM"  # drains every worker
    assert s["User"] == s["Group"] == "spamgw"
    assert s["ReadWritePaths"] == "/var/lib/spamgw" and s["StateDirectory"] == "spamgw"
    for key, value in (("ProtectSystem", "strict"), ("NoNewPrivileges", "yes"),
                       ("ProtectHome", "yes"), ("PrivateTmp", "yes"),
                       ("CapabilityBoundingSet", "")):
        assert s[key] == value, key
    assert int(s["LimitNOFILE"]) >= 65536
    user = [line.split() for line in SYSUSERS.read_text().splitlines()
            if line.startswith("u ")]
    assert user and user[0][1] == "spamgw"
