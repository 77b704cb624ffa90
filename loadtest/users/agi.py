"""Asterisk's side of a FastAGI session, as Asterisk 22 does it (res_agi.c).

On ``AGI(agi://host:port/script,arg1,...)`` Asterisk connects, writes the
environment block (``agi_network``, ``agi_network_script``, then the ``agi_*``
variables in its fixed order, one ``agi_arg_N`` per argument, a blank line), then
reads one command line at a time and answers each: ``200 result=1`` for SET
VARIABLE, ``200 result=1 (value)`` or ``200 result=0`` for GET VARIABLE, ``510
Invalid or unknown command`` for what it does not know, until the server closes.
The hangup handler runs a second session on ``/ended`` with ``agi_extension: s``,
the same ``agi_uniqueid`` and the arguments DIALSTATUS, duration, billsec.
The recordings in tests/data/agi/ are the reference (tests/loadtest checks that
``environment`` reproduces them byte for byte).

Blocking sockets: under locust, gevent makes them cooperative.
"""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from gateway.agi.codec import parse_args  # res_agi.c's splitting, the gateway's own

__all__ = ["AgiResult", "answer", "environment", "parse_args", "run_session"]

_VAR = re.compile(r"\$\{([^}]*)\}")


def environment(*, host: str, port: int, script: str, channel: str, chan_type: str,
                uniqueid: str, callerid: str, context: str, extension: str,
                priority: int, args: Sequence[str], dnid: str = "unknown",
                calleridname: str = "unknown", callingpres: int = 0,
                threadid: int = 140283458823872,
                version: str = "22.10.1") -> bytes:
    """The environment block Asterisk writes when a FastAGI session starts."""
    lines = [
        ("agi_network", "yes"),
        ("agi_network_script", script),
        ("agi_request", f"agi://{host}:{port}/{script}"),
        ("agi_channel", channel),
        ("agi_language", "en"),
        ("agi_type", chan_type),
        ("agi_uniqueid", uniqueid),
        ("agi_version", version),
        ("agi_callerid", callerid),
        ("agi_calleridname", calleridname),
        ("agi_callingpres", str(callingpres)),
        ("agi_callingani2", "0"),
        ("agi_callington", "0"),
        ("agi_callingtns", "0"),
        ("agi_dnid", dnid),
        ("agi_rdnis", "unknown"),
        ("agi_context", context),
        ("agi_extension", extension),
        ("agi_priority", str(priority)),
        ("agi_enhanced", "0.0"),
        ("agi_accountcode", ""),
        ("agi_threadid", str(threadid)),
    ]
    lines += [(f"agi_arg_{i}", a) for i, a in enumerate(args, 1)]
    return "".join(f"{k}: {v}\n" for k, v in lines).encode() + b"\n"


@dataclass
class AgiResult:
    variables: dict[str, str] = field(default_factory=dict)
    commands: list[str] = field(default_factory=list)
    #: seconds from connect to the server's close: how long the call was held
    elapsed: float = 0.0
    #: seconds from connect to the SET VARIABLE SPAMGW_ACTION line
    to_action: float | None = None
    error: str | None = None


def answer(words: list[str], channel_vars: Mapping[str, str], result: AgiResult,
            t0: float) -> bytes:
    """Asterisk's answer to one command line (split by ``parse_args``)."""
    verb = " ".join(w.upper() for w in words[:2])
    if verb == "SET VARIABLE" and len(words) >= 3:
        value = words[3] if len(words) > 3 else ""
        result.variables[words[2]] = value
        if words[2] == "SPAMGW_ACTION" and result.to_action is None:
            result.to_action = time.perf_counter() - t0
        return b"200 result=1\n"
    if verb == "GET VARIABLE" and len(words) >= 3:
        found = result.variables.get(words[2], channel_vars.get(words[2]))
        return b"200 result=0\n" if found is None else f"200 result=1 ({found})\n".encode()
    if verb == "GET FULL" and len(words) >= 4 and words[2].upper() == "VARIABLE":
        expanded = _VAR.sub(lambda m: result.variables.get(m[1], channel_vars.get(m[1], "")),
                            words[3])
        return f"200 result=1 ({expanded})\n".encode()
    if words and words[0].upper() in ("VERBOSE", "NOOP"):
        return b"200 result=1\n"
    return b"510 Invalid or unknown command\n"


def run_session(host: str, port: int, env: bytes, *, timeout: float = 10.0,
                channel_vars: Mapping[str, str] | None = None) -> AgiResult:
    """One FastAGI session: connect, send ``env``, answer every command until the
    server closes. Never raises; a failure is in ``error``."""
    result = AgiResult()
    t0 = time.perf_counter()
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError as e:
        result.error = f"connect: {e}"
        return result
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(env)
        buf = b""
        while True:
            data = sock.recv(65536)
            if not data:
                break
            buf += data
            out = []
            while b"\n" in buf:
                raw, buf = buf.split(b"\n", 1)
                line = raw.decode("utf-8", "replace").rstrip("\r")
                result.commands.append(line)
                out.append(answer(parse_args(line), channel_vars or {}, result, t0))
            if out:
                try:
                    sock.sendall(b"".join(out))
                except OSError:
                    break  # the server half-closed and went: its commands are read
        result.elapsed = time.perf_counter() - t0
    except OSError as e:
        result.error = f"{type(e).__name__}: {e}"
    finally:
        sock.close()
    return result
