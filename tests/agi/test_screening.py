"""The screening handler's own pieces: the uniqueid map, trunk names, variables."""

from __future__ import annotations

import gc

from gateway.agi.screening import CallMemory, ScreenedCall, trunk_of_channel, verdict_commands
from gateway.model import Action, Verdict

CALL = ScreenedCall("+2250700000001", "447700900123", "in", "trunk-intl")


def test_call_memory_expires_bounds_and_forgets_on_recall() -> None:
    now = [0.0]
    memory = CallMemory(ttl=100.0, max_entries=3, clock=lambda: now[0])
    memory.remember("a", CALL)
    assert memory.recall("a") == CALL
    assert memory.recall("a") is None  # a channel hangs up once
    memory.remember("b", CALL)
    now[0] = 101.0
    assert memory.recall("b") is None  # expired
    for uid in "cdefg":
        memory.remember(uid, CALL)
    assert len(memory) == 3 and memory.recall("c") is None and memory.recall("g") == CALL
    memory.remember("", CALL)  # no uniqueid: nothing to match later
    assert memory.recall("") is None


def test_call_memory_entries_are_not_tracked_by_the_gc() -> None:
    memory = CallMemory()
    for i in range(100):
        memory.remember(f"1795361515.{i}", CALL)
    gc.collect()
    assert not any(gc.is_tracked(v) for v in memory._entries.values())


def test_trunk_of_channel() -> None:
    assert trunk_of_channel("PJSIP/intl-gw-0000002a") == "intl-gw"
    assert trunk_of_channel("SIP/carrier1-00000001") == "carrier1"
    assert trunk_of_channel("IAX2/peer-a-1a2b3c4d") == "peer-a"
    assert trunk_of_channel("Local/447700900123@screen-in-00000000;2") == ""
    assert trunk_of_channel("garbage") == ""


def test_verdict_variables_survive_any_reason() -> None:
    reason = 'line\r\nbreak "quoted" \\ ' + "é" * 2000
    cmds = verdict_commands(Verdict(Action.WARN, 7.456, ("a", "b"), reason))
    assert [c.words[2] for c in cmds] == ["SPAMGW_ACTION", "SPAMGW_SCORE", "SPAMGW_RULES",
                                          "SPAMGW_REASON"]
    assert cmds[1].words[3] == "7.456" and cmds[2].words[3] == "a,b"
    data = cmds[3].encode()
    assert data.count(b"\n") == 1 and len(data) < 2047
