"""A change stream stops when its node drains, whatever moment the stop lands on.

redis-py can swallow a cancellation that arrives while a read ends: the follower's
XREAD loop then went on reading, and a node's drain waited for it for ever (seen as a
gateway killed after its 60 s grace in 1 run of about 15 of test_nodes.py). Here a
real redis-server, a real gateway core and the follower's wait cut to 5 ms, so a stop
lands on a read's end often: every one of many starts and stops must end within a
bound (before the stop flag, 2-3 in 100 did not).
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from pathlib import Path

import pytest
from workers_support import ROOT

from gateway import fanout
from gateway.app import build_core
from gateway.config import parse_config
from gateway.fanout import ChangeStream, Origin

ROUNDS = 120


def test_the_stream_stops_whenever_the_stop_lands(tmp_path: Path, redis_url: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fanout, "BLOCK_MS", 5)
    config = parse_config({
        "rules": {"dir": str(ROOT / "rules")},
        "lists": {"dir": str(ROOT / "rules" / "lists")},
        "plugins": {"dir": str(tmp_path / "no-plugins"), "missing_symbols": "disable"},
        "state": {"backend": "redis", "redis_url": redis_url,
                  "redis_prefix": f"stop{random.getrandbits(32):x}:"},
        "log": {"level": "error", "audit": ""},
    })
    core = build_core(config, with_plugins=False)
    rng = random.Random(11)

    async def rounds() -> list[float]:
        took = []
        for n in range(ROUNDS):
            stream = ChangeStream(core, Origin("node", 1))
            async with stream.running():
                if n % 3 == 0:  # something to read as well as nothing
                    stream.rules_changed()
                await asyncio.sleep(rng.uniform(0.0, 0.03))
                t0 = time.monotonic()
            took.append(time.monotonic() - t0)
        return took

    # in a thread: a stop that never ends must fail the test, not hang it (the old
    # drain also swallowed the cancellation of whatever awaited it)
    result: list[list[float]] = []
    runner = threading.Thread(target=lambda: result.append(asyncio.run(rounds())),
                              daemon=True)
    runner.start()
    runner.join(120)
    assert not runner.is_alive(), "a change stream did not stop"
    took = result[0]
    assert len(took) == ROUNDS
    # the bound stops a broken build from hanging; a stop that waits out STOP_WAIT
    # (a swallowed cancellation the flag did not end) fails here
    assert max(took) < 3.0, sorted(took)[-5:]
