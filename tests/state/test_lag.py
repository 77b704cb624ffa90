"""A sync that falls behind is said so: one warning per episode, a line when it catches
up, the episodes counted, and the age of the last sync on /metrics
(``spamgw_state_sync_age_seconds``). Real redis-server; conditions polled with
deadlines, nothing timed."""

from __future__ import annotations

import asyncio
import os
import signal
import time

from aiohttp.test_utils import TestClient, TestServer
from redis_support import RedisServer, write_gateway_files
from structlog.testing import capture_logs

from gateway.admin.app import make_app
from gateway.app import build_core
from gateway.config import load_config
from gateway.state.redis import RedisCounters

TOKEN = "lag-test-token"


async def until(cond, within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not cond():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


def events(logs: list[dict], prefix: str) -> list[dict]:
    return [e for e in logs if e["event"].startswith(prefix)]


async def metric(client: TestClient, name: str) -> float:
    r = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status == 200
    for line in (await r.text()).splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not on /metrics")


async def test_a_paused_redis_is_a_lag_episode_on_metrics_and_in_the_log(
        own_redis: RedisServer, tmp_path, prefix) -> None:
    cfg = write_gateway_files(tmp_path, own_redis.url, prefix)
    cfg.write_text(cfg.read_text().replace(
        "[admin]\nenabled = false\n", f'[admin]\ntoken = "{TOKEN}"\nlisten = "127.0.0.1:0"\n'))
    config = load_config(cfg)
    state = RedisCounters(own_redis.url, prefix=prefix, interval=0.05, timeout=0.3)
    core = build_core(config, state=state)
    client = TestClient(TestServer(make_app(core)))
    await client.start_server()
    await state.start()
    assert own_redis.proc is not None
    paused = False
    try:
        with capture_logs() as logs:
            await until(lambda: state.syncs >= 2 and state.connected)
            assert state.lag_bound == 1.0
            assert 0 <= await metric(client, "spamgw_state_sync_age_seconds") < 1.0
            episodes = state.lag_episodes
            os.kill(own_redis.proc.pid, signal.SIGSTOP)
            paused = True
            await until(lambda: bool(events(logs, "redis sync behind")))
            assert state.lag_episodes == episodes + 1
            assert await metric(client, "spamgw_state_sync_age_seconds") > 1.0
            assert await metric(client, "spamgw_state_sync_behind_episodes") == episodes + 1
            behind = events(logs, "redis sync behind")
            assert len(behind) == 1 and behind[0]["log_level"] == "warning"
            assert behind[0]["seconds"] > 1.0
            # still paused: the episode goes on, without another warning
            await until(lambda: state.sync_age() > 2.5)
            assert len(events(logs, "redis sync behind")) == 1

            os.kill(own_redis.proc.pid, signal.SIGCONT)
            paused = False
            await until(lambda: bool(events(logs, "redis sync caught up")))
            assert events(logs, "redis sync caught up")[0]["behind_seconds"] > 2.5
            assert state.sync_age() < state.lag_bound
            assert await metric(client, "spamgw_state_sync_age_seconds") < 1.0
    finally:
        if paused:
            os.kill(own_redis.proc.pid, signal.SIGCONT)
        await state.stop()
        await client.close()


async def test_a_held_loop_is_a_lag_episode(redis_server, prefix) -> None:
    """Redis answers, but the event loop does not let the sync run (a saturated worker):
    the sync task says so when it next runs, and that it caught up."""
    state = RedisCounters(redis_server.url, prefix=prefix, interval=0.05)
    await state.start()
    try:
        with capture_logs() as logs:
            await until(lambda: state.syncs >= 2)
            episodes = state.lag_episodes
            time.sleep(1.3)  # noqa: ASYNC251 - the loop held on purpose: no sync can run
            assert state.sync_age() > 1.0
            await until(lambda: bool(events(logs, "redis sync caught up")))
            assert state.lag_episodes >= episodes + 1
            assert events(logs, "redis sync behind")
    finally:
        await state.stop()
