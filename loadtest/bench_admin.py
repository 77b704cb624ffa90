"""Throughput of ``POST /v1/check/sms`` on one gateway process.

Starts ``python -m gateway run`` (admin only, uvloop) on a free loopback port and
drives it with ``wrk`` (apt-get install wrk) when installed, else with an aiohttp
client of many concurrent connections in a separate process. Prints requests/s.
A benchmark prints figures; it asserts nothing about them.

    python3 loadtest/bench_admin.py [--seconds 10] [--connections 64]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from gateway.testing.config import write_config  # noqa: E402

TOKEN = "bench-token"
BODIES = [
    {"src": "+447700900666", "dst": "+447700900123", "text": "hello"},
    {"src": "+447700900555", "dst": "+447700900124", "text": "See you at the station at 5"},
    {"src": "MyBank", "dst": "+447700900125", "text": "Your one-time code is 556677"},
    {"src": "+33612345678", "dst": "+447700900126",
     "text": "URGENT: verify now http://bit.ly/zz", "route": "intl-agg"},
]

WRK_LUA = """
local bodies = {%s}
local i = 0
request = function()
  i = i + 1
  return wrk.format("POST", "/v1/check/sms", {["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer %s"}, bodies[(i %% #bodies) + 1])
end
"""


def start_gateway(tmp: Path) -> tuple[subprocess.Popen[str], int]:
    cfg = write_config(
        tmp / "bench.toml", admin={"listen": "127.0.0.1:0", "token": TOKEN},
        smpp={"enabled": False}, agi={"enabled": False},
        quarantine={"path": tmp / "q.sqlite3"},
        log={"level": "error", "audit": tmp / "audit.jsonl"})
    proc = subprocess.Popen([sys.executable, "-m", "gateway", "run", "--config", str(cfg)],
                            cwd=REPO, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    # the port is logged at INFO, which level = "error" hides: find it from the socket
    deadline = time.time() + 30
    while time.time() < deadline:
        out = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            if f"pid={proc.pid}," in line:
                return proc, int(line.split()[3].rsplit(":", 1)[1])
        time.sleep(0.2)
    proc.kill()
    raise SystemExit("gateway did not start")


async def aiohttp_load(port: int, seconds: float, connections: int) -> tuple[int, float]:
    import aiohttp

    url = f"http://127.0.0.1:{port}/v1/check/sms"
    payloads = [json.dumps(b).encode() for b in BODIES]
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    done = 0
    stop = time.perf_counter() + seconds
    conn = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=conn) as s:
        async def worker(k: int) -> None:
            nonlocal done
            i = k
            while time.perf_counter() < stop:
                async with s.post(url, data=payloads[i % len(payloads)], headers=headers) as r:
                    await r.read()
                i += 1
                done += 1

        t0 = time.perf_counter()
        await asyncio.gather(*(worker(k) for k in range(connections)))
        return done, time.perf_counter() - t0


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--client", choices=("auto", "wrk", "aiohttp"), default="auto")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as d:
        proc, port = start_gateway(Path(d))
        try:
            wrk = shutil.which("wrk")
            if args.client == "wrk" or (args.client == "auto" and wrk):
                lua = Path(d) / "check.lua"
                quoted = ", ".join(json.dumps(json.dumps(b)) for b in BODIES)
                lua.write_text(WRK_LUA % (quoted, TOKEN))
                subprocess.run([wrk or "wrk", "-t1", f"-c{args.connections}", "-d2s", "-s",
                                str(lua), f"http://127.0.0.1:{port}"], capture_output=True)
                out = subprocess.run([wrk or "wrk", "-t1", f"-c{args.connections}",
                                      f"-d{int(args.seconds)}s", "--latency", "-s", str(lua),
                                      f"http://127.0.0.1:{port}"],
                                     capture_output=True, text=True).stdout
                print(out)
                rps = next(line.split()[1] for line in out.splitlines()
                           if line.startswith("Requests/sec"))
                print(f"/v1/check/sms: {float(rps):.0f} requests/s (wrk, 1 thread, "
                      f"{args.connections} connections, one gateway process)")
            else:
                n, secs = asyncio.run(aiohttp_load(port, args.seconds, args.connections))
                print(f"/v1/check/sms: {n / secs:.0f} requests/s (aiohttp client, "
                      f"{args.connections} connections; the client may be the bottleneck)")
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(20)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
