"""Two real gateway processes (``python -m gateway run``) sharing one Redis, each with
its own SMPP proxy in front of the bundled SMSC simulator: what one learns, the other
acts on. Also ``spamgw check`` with the redis backend configured."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from redis_support import RedisServer, Store, free_port, write_gateway_files

from gateway.testing.process import GatewayProcess

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "smpp"))
from smpp_support import esme, start_sim  # noqa: E402

SRC, OTHER = "447700900001", "447700900050"


def statuses(port: int, messages: list[tuple[str, str]], pause: float = 0.0) -> list[int]:
    with esme(port) as e:
        for n, (src, dst) in enumerate(messages, 1):
            e.submit(src, dst, b"hello")
            e.read_until(lambda n=n: len(e.sent) == n)
            time.sleep(pause)
        return [p.status for p in e.sent]


def test_two_gateways_share_counts_and_flags(store: Store, tmp_path, prefix):
    """On one redis-server and on a Redis Cluster (``redis+cluster://`` seed nodes)."""
    sim = start_sim(tmp_path / "sim.jsonl")
    pa, pb = free_port(), free_port()
    cfg_a = write_gateway_files(tmp_path / "a", store.url, prefix, smpp=pa,
                                upstream=sim.port)
    cfg_b = write_gateway_files(tmp_path / "b", store.url, prefix, smpp=pb,
                                upstream=sim.port)
    try:
        with GatewayProcess(cfg_a, pa, cwd=ROOT, timeout=20), \
                GatewayProcess(cfg_b, pb, cwd=ROOT, timeout=20):
            # through A: one source to four recipients; the fan-out rule flags it
            fanout = [(SRC, f"44770090010{i}") for i in range(4)]
            assert statuses(pa, fanout) == [0, 0, 0, 0]
            time.sleep(0.3)  # a few sync intervals
            # through B: a message to the number A flagged is blocked
            assert statuses(pb, [(OTHER, SRC)]) == [0x65]
            # and the source's 5th and 6th messages: the 6th is over the rate limit of 5,
            # which B alone (2 messages) would never have reached. B's first use of the
            # key reads it from Redis within a sync, hence the pause.
            assert statuses(pb, [(SRC, "447700900200"), (SRC, "447700900201")],
                            pause=0.3) == [0, 0x65]
    finally:
        sim.stop()
    accepted = [json.loads(line) for line in (tmp_path / "sim.jsonl").read_text().splitlines()
                if '"accepted"' in line]
    assert len(accepted) == 5


def test_check_command_reads_live_flags(redis_server: RedisServer, tmp_path, prefix):
    import asyncio

    from gateway.numbers import key_of
    from gateway.state.redis import RedisCounters

    async def seed() -> None:
        c = RedisCounters(redis_server.url, prefix=prefix, interval=3600)
        await c.start()
        c.flag("fanout", key_of("447700900001"), time.time(), 600)
        await c.stop()

    asyncio.run(seed())
    cfg = write_gateway_files(tmp_path, redis_server.url, prefix)

    def check(dst: str, config: Path) -> dict[str, object]:
        res = subprocess.run([sys.executable, "-m", "gateway", "check", "sms", "--src",
                              "+447700900050", "--dst", dst, "--text", "hi", "--config",
                              str(config)], cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert res.returncode == 0, res.stderr
        return json.loads(res.stdout)  # type: ignore[no-any-return]

    assert check("+447700900001", cfg)["action"] == "BLOCK"
    assert check("+447700900002", cfg)["action"] == "ALLOW"
    # Redis unreachable: the check still answers, from the local view
    dead = write_gateway_files(tmp_path / "dead", "redis://127.0.0.1:1/0", prefix)
    assert check("+447700900001", dead)["action"] == "ALLOW"
