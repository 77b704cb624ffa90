"""``spamgw-agi``: a classic (stdin/stdout) AGI script for sites that run AGI
scripts rather than FastAGI. Built on pyst2's ``asterisk.agi``.

    exten => _X.,n,AGI(spamgw-agi,outbound)

It reads the AGI environment, asks the running gateway over HTTP
(``POST /v1/check/call`` with ``{"src", "dst"}`` and the admin token), and sets
the same channel variables as the FastAGI service: SPAMGW_ACTION, SPAMGW_SCORE,
SPAMGW_RULES, SPAMGW_REASON. It fails open: any error or timeout sets
SPAMGW_ACTION=ALLOW with the reason, and the script still exits 0.

Settings: ``--url`` / ``SPAMGW_ADMIN`` (default ``http://127.0.0.1:8080``),
``--token`` / ``SPAMGW_TOKEN``, ``--timeout`` / ``SPAMGW_TIMEOUT`` seconds
(default 0.5). Arguments as for the FastAGI paths: ``inbound`` or ``outbound``
(the call's direction), then optionally the trunk (else taken from the channel
name). The check sends ``{"src", "dst", "direction", "route"}``.
Call endings (``/ended``) need the FastAGI service: this script has no
equivalent.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import IO, Any

from gateway.agi.codec import quote_arg
from gateway.agi.screening import (
    MAX_REASON_BYTES,
    MAX_RULES_BYTES,
    clean_value,
    format_score,
    trunk_of_channel,
)

__all__ = ["check_call", "main"]

DEFAULT_URL = "http://127.0.0.1:8080"


def check_call(url: str, token: str, src: str, dst: str, timeout: float, *,
               direction: str = "out", route: str = "") -> dict[str, Any]:
    """Ask the gateway; raises on any failure (HTTP status, timeout, bad JSON)."""
    fields = {"src": src, "dst": dst, "direction": direction}
    if route:
        fields["route"] = route
    body = json.dumps(fields).encode()
    req = urllib.request.Request(
        url.rstrip("/") + "/v1/check/call",
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        verdict = json.loads(resp.read(65536))
    if not isinstance(verdict, dict) or verdict.get("action") not in ("ALLOW", "WARN", "BLOCK"):
        raise ValueError(f"unexpected answer {str(verdict)[:100]!r}")
    return verdict


def _variables(verdict: dict[str, Any]) -> list[tuple[str, str]]:
    try:
        score = format_score(float(verdict.get("score", 0.0)))
    except (TypeError, ValueError):
        score = "0"
    rules = verdict.get("rules") or []
    return [
        ("SPAMGW_ACTION", str(verdict["action"])),
        ("SPAMGW_SCORE", score),
        ("SPAMGW_RULES", clean_value(",".join(map(str, rules)), MAX_RULES_BYTES)),
        ("SPAMGW_REASON", clean_value(str(verdict.get("reason", "")), MAX_REASON_BYTES)),
    ]


def main(
    argv: Sequence[str] | None = None,
    stdin: IO[str] | None = None,
    stdout: IO[str] | None = None,
) -> int:
    ap = argparse.ArgumentParser(prog="spamgw-agi", description="spamgw call screening (AGI)")
    ap.add_argument("path", nargs="?", default="inbound", help="inbound or outbound")
    ap.add_argument("trunk", nargs="?", default="")
    ap.add_argument("--url", default=os.environ.get("SPAMGW_ADMIN", DEFAULT_URL))
    ap.add_argument("--token", default=os.environ.get("SPAMGW_TOKEN", ""))
    ap.add_argument("--timeout", type=float, default=float(os.environ.get("SPAMGW_TIMEOUT", "0.5")))
    ap.add_argument("--debug", action="store_true", help="let pyst2 log to stderr")
    args = ap.parse_args(argv)

    from asterisk.agi import AGI, AGIException  # pyst2

    with open(os.devnull, "w") as devnull:
        agi = AGI(
            stdin=stdin or sys.stdin,
            stdout=stdout or sys.stdout,
            stderr=sys.stderr if args.debug else devnull,
        )
        src = agi.env.get("agi_callerid", "")
        dst = agi.env.get("agi_extension", "")
        direction = "in" if args.path.strip("/") == "inbound" else "out"
        route = args.trunk or trunk_of_channel(agi.env.get("agi_channel", ""))
        try:
            verdict = check_call(args.url, args.token, src, dst, args.timeout,
                                 direction=direction, route=route)
        except Exception as e:  # fail open, whatever went wrong
            verdict = {"action": "ALLOW", "score": 0.0, "rules": [],
                       "reason": f"spamgw unavailable: {type(e).__name__}: {e}"}
        try:
            for name, value in _variables(verdict):
                agi.execute("SET VARIABLE", name, quote_arg(value))
        except (AGIException, OSError):
            pass  # the channel went away: nothing left to tell it
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
