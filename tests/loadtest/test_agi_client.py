"""The locust FastAGI user plays Asterisk: checked against the recordings of
Asterisk 22.10.1 in tests/data/agi/, byte for byte, without sockets."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from users.agi import AgiResult, answer, environment, parse_args

DATA = Path(__file__).resolve().parents[1] / "data" / "agi"
RECORDINGS = sorted(DATA.glob("*.txt"))


def _connections(path: Path) -> list[list[tuple[str, bytes]]]:
    """Each FastAGI connection of a recording as (direction, bytes) lines."""
    conns: list[list[tuple[str, bytes]]] = []
    for line in path.read_text().splitlines():
        if line.startswith("=== connection"):
            conns.append([])
        elif line[:2] in ("< ", "> ") and conns:
            conns[-1].append((line[0], ast.literal_eval(line[2:])))
    return conns


def _env_of(conn: list[tuple[str, bytes]]) -> tuple[bytes, dict[str, str], list[str]]:
    raw = b""
    fields: dict[str, str] = {}
    args: list[str] = []
    for direction, data in conn:
        assert direction == "<"
        raw += data
        if data == b"\n":
            return raw, fields, args
        key, _, value = data.decode().rstrip("\n").partition(": ")
        if key.startswith("agi_arg_"):
            args.append(value)
        fields[key] = value
    raise AssertionError("no end of environment")


@pytest.mark.parametrize("path", RECORDINGS, ids=lambda p: p.stem)
def test_environment_is_byte_identical_to_asterisk(path: Path) -> None:
    conns = _connections(path)
    assert conns
    for conn in conns:
        raw, f, args = _env_of(conn)
        host, port = f["agi_request"].split("/")[2].split(":")
        built = environment(
            host=host, port=int(port), script=f["agi_network_script"],
            channel=f["agi_channel"], chan_type=f["agi_type"], uniqueid=f["agi_uniqueid"],
            callerid=f["agi_callerid"], calleridname=f["agi_calleridname"],
            callingpres=int(f["agi_callingpres"]),
            context=f["agi_context"], extension=f["agi_extension"],
            priority=int(f["agi_priority"]), args=args, dnid=f["agi_dnid"],
            threadid=int(f["agi_threadid"]), version=f["agi_version"])
        assert built == raw


@pytest.mark.parametrize("path", RECORDINGS, ids=lambda p: p.stem)
def test_answers_are_asterisks(path: Path) -> None:
    """Every command the recording's server sent gets the answer Asterisk gave."""
    for conn in _connections(path):
        _raw, f, _args = _env_of(conn)
        channel_vars = {"CALLERID(num)": f["agi_callerid"], "CHANNEL": f["agi_channel"]}
        result = AgiResult()
        unanswered: list[bytes] = []
        for direction, data in conn[len(f) + 1:]:
            if direction == ">":
                unanswered.append(data)
            elif data != b"HANGUP\n":  # Asterisk's notice that the channel went
                command = unanswered.pop(0)
                words = parse_args(command.decode().rstrip("\n"))
                assert answer(words, channel_vars, result, 0.0) == data, command


def test_set_variable_values_are_read_as_asterisk_parses_them() -> None:
    result = AgiResult()
    for line in ('SET VARIABLE SPAMGW_ACTION BLOCK',
                 'SET VARIABLE SPAMGW_REASON "Source is on the \\"blocked\\" list"',
                 'SET VARIABLE SPAMGW_RULES ""'):
        assert answer(parse_args(line), {}, result, 0.0) == b"200 result=1\n"
    assert result.variables == {"SPAMGW_ACTION": "BLOCK",
                                "SPAMGW_REASON": 'Source is on the "blocked" list',
                                "SPAMGW_RULES": ""}
    assert answer(parse_args("GET VARIABLE SPAMGW_ACTION"), {}, result, 0.0) == \
        b"200 result=1 (BLOCK)\n"
    assert answer(parse_args("GET VARIABLE NOPE"), {}, result, 0.0) == b"200 result=0\n"
