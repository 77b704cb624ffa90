"""Shared helpers for the AGI tests: the recorded Asterisk transcripts, and (from the
testing kit, gateway.testing.agi) a client that speaks to a FastAGI server exactly as
Asterisk 22 does."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

from gateway.testing.agi import AgiResult, asterisk_session

__all__ = ["DATA", "REPO", "AgiResult", "Connection", "asterisk_session", "environment_for",
           "load_transcript", "transcripts"]

DATA = Path(__file__).resolve().parents[1] / "data" / "agi"
REPO = Path(__file__).resolve().parents[2]


@dataclass
class Connection:
    """One recorded FastAGI connection: ``steps`` are (direction, bytes) with
    direction ``<`` (Asterisk -> server), ``>`` (server -> Asterisk), ``!`` (an
    error the recording server saw) or ``x`` (the recording server closed)."""

    steps: list[tuple[str, bytes]] = field(default_factory=list)

    def sent_by_asterisk(self) -> list[bytes]:
        return [b for d, b in self.steps if d == "<"]

    @property
    def environment(self) -> bytes:
        """The environment block, byte for byte (up to and including the blank line)."""
        out = b""
        for d, b in self.steps:
            if d != "<":
                break
            out += b
            if b == b"\n":
                return out
        raise AssertionError("no complete environment in the transcript")


def load_transcript(name: str) -> list[Connection]:
    conns: list[Connection] = []
    for line in (DATA / name).read_text().splitlines():
        if line.startswith("=== connection"):
            conns.append(Connection())
        elif line[:2] in ("< ", "> ", "! ", "x "):
            conns[-1].steps.append((line[0], ast.literal_eval(line[2:])))
    return conns


def transcripts() -> list[str]:
    return sorted(p.name for p in DATA.glob("*.txt"))


def environment_for(path: str, callerid: str, extension: str, *args: str,
                    uniqueid: str = "1795361515.1", channel: str | None = None) -> bytes:
    """An environment block exactly as Asterisk 22.10.1 writes it (same keys, same
    order, same formatting as the recordings), for a given call."""
    template = load_transcript("normal-and-hangup-handler.txt")[0].environment
    lines = template.split(b"\n")[:-2]  # drop the blank line and the final ""
    out: list[bytes] = []
    for raw in lines:
        key, _, value = raw.partition(b": ")
        k = key.decode()
        if k.startswith("agi_arg_"):
            continue
        v = value.decode()
        if k == "agi_network_script":
            v = path
        elif k == "agi_request":
            v = f"agi://127.0.0.1:4573/{path}"
        elif k == "agi_callerid":
            v = callerid
        elif k == "agi_extension":
            v = extension
        elif k == "agi_uniqueid":
            v = uniqueid
        elif k == "agi_channel" and channel is not None:
            v = channel
        elif k == "agi_context" and path == "ended":
            v = "spamgw-ended"
        out.append(f"{k}: {v}\n".encode())
    for i, a in enumerate(args, 1):
        out.append(f"agi_arg_{i}: {a}\n".encode())
    return b"".join(out) + b"\n"
