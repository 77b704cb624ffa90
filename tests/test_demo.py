"""The README's first command: `spamgw demo` runs the gateway with the simulator
upstream and shows sample traffic handled. Real processes, real sockets."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_demo_runs_the_gateway_with_the_simulator():
    res = subprocess.run([sys.executable, "-m", "gateway", "demo", "--once"], cwd=ROOT,
                         capture_output=True, text=True, timeout=90)
    assert res.returncode == 0, res.stderr[-2000:]
    lines = {line.split(" from ")[0].strip(): line for line in res.stdout.splitlines()
             if " from " in line}
    assert "delivered to the SMSC" in lines["clean person-to-person text"]
    assert "rejected 0x65" in lines["sender on blocked_numbers"]
    assert "rejected 0x65" in lines["spoofed brand sender ID"]
    assert "rejected 0x65" in lines["phishing link"]
    assert "delivered to the SMSC" in lines["allowlisted bank OTP"]
    assert "SMSC simulator: listening 127.0.0.1:2776" in res.stdout
