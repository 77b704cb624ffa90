"""``spamgw replay`` as a process: a reader that leaves early, lines that are not
events."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def test_replay_into_head_ends_without_a_traceback(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    blocked = {"channel": "sms", "src": "+447700900666", "dst": "+447700900123", "text": "hi"}
    events.write_text("".join(json.dumps({**blocked, "ts": 1_790_000_000 + i}) + "\n"
                              for i in range(5000)))
    proc = subprocess.Popen([sys.executable, "-m", "gateway", "replay", str(events)],
                            cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()  # as head does after its lines
    err = proc.stderr.read()
    proc.stderr.close()
    code = proc.wait(60)
    assert first.startswith("1: BLOCK")
    assert "Traceback" not in err and "BrokenPipe" not in err, err
    assert code == 0


def test_replay_refuses_events_without_dst_by_line(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text('{"channel": "sms", "src": "+447700900555", "dst": "+447700900123"}\n'
                      '{"channel": "sms", "src": "+447700900555", "text": "no dst"}\n'
                      '{"channel": "call", "src": "+447700900555", "dst": ""}\n')
    res = subprocess.run([sys.executable, "-m", "gateway", "replay", str(events)], cwd=ROOT,
                         env=ENV, capture_output=True, text=True, timeout=60)
    assert res.returncode == 1
    assert f"{events}:2: no dst" in res.stderr and f"{events}:3: no dst" in res.stderr
    assert "replayed 1 events" in res.stdout and "2 bad lines" in res.stdout
