"""The conversation plugin's answers are counters like any other: an answer counted
on one gateway node is read on another through Redis (real redis-server), so a
number's texts answered on node A spare it on node B. The memory of who texted
whom stays with the process that carried the texts (plugins/conversation.py)."""

from __future__ import annotations

import time
from pathlib import Path

from gateway.content.facts import Facts
from gateway.content.plugin import PluginEnv
from gateway.engine.examples import event_from_fields
from gateway.lists.registry import load_lists
from gateway.numbers import Numbering
from gateway.testing.policy import plugin_module

ROOT = Path(__file__).resolve().parents[2]
DAY = 86400.0


async def test_an_answer_counted_on_one_node_is_read_on_the_other(pair) -> None:
    a, b = pair
    numbering = Numbering("GB")
    lists = load_lists(ROOT / "rules" / "lists", numbering)
    conversation = plugin_module(ROOT / "plugins" / "conversation.py")
    plugin = conversation.create(PluginEnv(lists, a, numbering, {"memory_mb": 1}))
    coach = numbering.parse("+447700900737")
    now = time.time()
    for src, dst, ts in (("+447700900737", "+447700906781", now),
                         ("+447700906781", "+447700900737", now + 1)):
        ev = event_from_fields({"channel": "sms", "src": src, "dst": dst, "text": "hi",
                                "ts": ts}, numbering)
        plugin.check(ev, Facts(ev))
    assert a.peek("conv.answered", coach.key, now + 1, DAY) == 1
    assert b.peek("conv.answered", coach.key, now + 1, DAY) == 0  # not synced yet
    await a.sync()
    await b.sync()
    assert b.peek("conv.answered", coach.key, now + 1, DAY) == 1
