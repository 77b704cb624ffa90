"""Asterisk's side of a FastAGI session, on the project's own AGI codec: write the
environment block, answer each command as res_agi.c does for SET VARIABLE, split
each command line with ``gateway.agi.codec.parse_args`` (Asterisk's own splitting)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from gateway.agi.codec import parse_args

__all__ = ["AgiResult", "asterisk_session"]


@dataclass
class AgiResult:
    variables: dict[str, str]
    commands: list[bytes]
    closed: bool


async def asterisk_session(port: int, environment: bytes, *,
                           answer: bytes = b"200 result=1\n",
                           host: str = "127.0.0.1", line_timeout: float = 10.0) -> AgiResult:
    """Play Asterisk's side of one FastAGI session: write the environment, answer
    every command the way res_agi.c does for SET VARIABLE (``200 result=1``, or
    ``answer``) and ``510 Invalid or unknown command`` to the rest, until the server
    closes (each line waited for up to ``line_timeout`` seconds). Returns the
    variables the server set and every command line."""
    reader, writer = await asyncio.open_connection(host, port)
    variables: dict[str, str] = {}
    commands: list[bytes] = []
    try:
        writer.write(environment)
        await writer.drain()
        while True:
            async with asyncio.timeout(line_timeout):
                line = await reader.readline()
            if not line:
                return AgiResult(variables, commands, True)
            commands.append(line)
            words = parse_args(line.rstrip(b"\n").decode())
            if len(words) == 4 and [w.upper() for w in words[:2]] == ["SET", "VARIABLE"]:
                variables[words[2]] = words[3]
                writer.write(answer)
            else:
                writer.write(b"510 Invalid or unknown command\n")
            await writer.drain()
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except OSError:
            pass
