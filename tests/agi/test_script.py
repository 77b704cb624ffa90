"""``spamgw-agi``, the classic AGI script, run as Asterisk runs it: a process with
the environment on stdin and the answers to its commands after it. The HTTP side
is the gateway's real admin app on the real core; failure cases use a tiny aiohttp
app or a silent socket."""

from __future__ import annotations

import asyncio
import socket
import sys

from agi_support import REPO, load_transcript
from aiohttp import web

from gateway.agi.codec import parse_args

TOKEN = "s3cret"


def classic_environment() -> bytes:
    """A classic AGI environment: what Asterisk writes to a script's stdin (the
    FastAGI block without the two agi_network lines)."""
    env = load_transcript("wangiri-ring-4s-caller-hangs-up.txt")[0].environment
    lines = env.split(b"\n")
    return b"\n".join(line for line in lines if not line.startswith(b"agi_network"))


async def run_script(url: str, *extra: str, path: str = "outbound", trunk: str = "",
                     env: bytes | None = None) -> dict[str, str]:
    stdin = (env or classic_environment()) + b"200 result=1\n" * 4
    positional = (path, trunk) if trunk else (path,)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway.agi.script", *positional, "--url", url, *extra,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, cwd=REPO,
    )
    async with asyncio.timeout(30):
        out, _ = await proc.communicate(stdin)
    assert proc.returncode == 0
    variables = {}
    for line in out.decode().splitlines():
        words = parse_args(line)  # as res_agi.c reads it
        assert words[:2] == ["SET", "VARIABLE"], line
        variables[words[2]] = words[3]
    return variables


def with_app(handler: web.RequestHandler, body: object) -> None:
    async def main() -> None:
        app = web.Application()
        app.router.add_post("/v1/check/call", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        try:
            await body(f"http://127.0.0.1:{port}")  # type: ignore[operator]
        finally:
            await runner.cleanup()

    asyncio.run(main())


def test_script_against_the_real_admin_api() -> None:
    from gateway.admin.app import make_app
    from gateway.app import build_core
    from gateway.config import parse_config

    core = build_core(parse_config({
        "rules": {"dir": str(REPO / "rules")},
        "lists": {"dir": str(REPO / "rules" / "lists")},
        "plugins": {"dir": str(REPO / "plugins")},
        "admin": {"token": TOKEN},
        "agi": {"trunks": [{"name": "trunk-intl", "class": "international"}]},
    }))

    def classic(callerid: bytes, extension: bytes) -> bytes:
        return (classic_environment()
                .replace(b"agi_callerid: +2250700000001", b"agi_callerid: " + callerid)
                .replace(b"agi_extension: 447700900130", b"agi_extension: " + extension))

    async def main() -> None:
        runner = web.AppRunner(make_app(core))
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        try:
            v = await run_script(url, "--token", TOKEN,
                                 env=classic(b"+447700900123", b"00882123456789"))
            assert v["SPAMGW_ACTION"] == "BLOCK" and "premium.call_out" in v["SPAMGW_RULES"]
            v = await run_script(url, "--token", TOKEN, env=classic(b"+447700900123", b"999"))
            assert v["SPAMGW_ACTION"] == "ALLOW"
            # inbound, trunk as argument: a home-country caller ID on an intl trunk (the
            # check API classifies the trunk from [[agi.trunks]] as the screener does)
            v = await run_script(url, "--token", TOKEN, path="inbound", trunk="trunk-intl",
                                 env=classic(b"+447700900321", b"447700900123"))
            assert v["SPAMGW_ACTION"] == "BLOCK"
            assert v["SPAMGW_RULES"] == "spoof.home_cli_on_international_trunk"
            v = await run_script(url, "--token", "wrong",
                                 env=classic(b"+447700900123", b"00882123456789"))
            assert v["SPAMGW_ACTION"] == "ALLOW" and "401" in v["SPAMGW_REASON"]
        finally:
            await runner.cleanup()

    asyncio.run(main())


def test_script_sets_the_gateway_verdict() -> None:
    seen: list[dict[str, str]] = []

    async def check(request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return web.json_response({"error": "unauthorized"}, status=401)
        seen.append(await request.json())
        return web.json_response({"action": "BLOCK", "score": 10.0,
                                  "rules": ["wangiri.callback"],
                                  "reason": 'callback to a "Wangiri" source'})

    async def body(url: str) -> None:
        variables = await run_script(url, "--token", TOKEN)
        assert variables == {"SPAMGW_ACTION": "BLOCK", "SPAMGW_SCORE": "10",
                             "SPAMGW_RULES": "wangiri.callback",
                             "SPAMGW_REASON": 'callback to a "Wangiri" source'}
        bad = await run_script(url, "--token", "wrong")  # 401: fail open
        assert bad["SPAMGW_ACTION"] == "ALLOW" and "401" in bad["SPAMGW_REASON"]

    with_app(check, body)
    assert seen == [{"src": "+2250700000001", "dst": "447700900130", "direction": "out"}]


def test_script_fails_open_when_the_gateway_is_down_or_slow() -> None:
    async def slow() -> None:
        release = asyncio.Event()

        async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await release.wait()  # accepts, reads nothing, answers nothing
            writer.close()

        server = await asyncio.start_server(silent, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            variables = await run_script(f"http://127.0.0.1:{port}", "--token", TOKEN,
                                         "--timeout", "0.2")
        finally:
            release.set()
            server.close()
            await server.wait_closed()
        assert variables["SPAMGW_ACTION"] == "ALLOW"
        assert variables["SPAMGW_REASON"].startswith("spamgw unavailable")

    asyncio.run(slow())

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    async def down() -> None:
        variables = await run_script(f"http://127.0.0.1:{port}", "--token", TOKEN)
        assert variables["SPAMGW_ACTION"] == "ALLOW"
        assert set(variables) == {"SPAMGW_ACTION", "SPAMGW_SCORE", "SPAMGW_RULES",
                                  "SPAMGW_REASON"}

    asyncio.run(down())
