"""plugins/conversation.py: who texted whom, and the answers a number's texts get.

Through the plugin alone (its memory and the ``conv.answered`` counter) and through
the engine with the shipped rules: a SIM whose first texts to strangers go
unanswered is blocked from its sixteenth opener of the day, a coach whose parents
answer is not."""

from __future__ import annotations

import random

import pytest
from content_support import ROOT, load_plugin_module

from gateway.content.facts import Facts
from gateway.content.plugin import PluginEnv
from gateway.engine.examples import event_from_fields
from gateway.numbers import Numbering
from gateway.state.memory import MemoryCounters
from gateway.testing.policy import policy_core

conversation = load_plugin_module("conversation")
T0 = 1_790_000_000.0
DAY = 86400.0


def test_pair_memory_knows_a_pair_one_way_and_forgets_it_after_two_ages() -> None:
    m = conversation.PairMemory(1 << 16, 7 * DAY)
    assert not m.known(1, 2, T0)
    m.add(1, 2, T0)
    assert m.known(1, 2, T0)
    assert not m.known(2, 1, T0)  # who texted whom, not who talked
    assert m.known(1, 2, T0 + 3.5 * DAY)  # the next age still knows it
    assert not m.known(1, 2, T0 + 7.5 * DAY)  # two ages on: forgotten, nothing cleared
    m.add(1, 2, T0 + 7.5 * DAY)
    assert m.known(1, 2, T0 + 7.5 * DAY)


def test_pair_memory_has_a_floor() -> None:
    with pytest.raises(ValueError, match="1024 slots"):
        conversation.PairMemory(100, DAY)


def test_pair_memory_false_positives_stay_near_the_bloom_rate() -> None:
    """64 Ki slots, 4,000 pairs: two slots of 65,536 each set with probability about
    1 - e^(-8000/65536) = 11.5%, so about 1.3% of unknown pairs read as known."""
    m = conversation.PairMemory(1 << 16, DAY)
    rng = random.Random(5)
    for _ in range(4000):
        m.add(rng.getrandbits(40), rng.getrandbits(40), T0)
    false = sum(m.known(rng.getrandbits(40), rng.getrandbits(40), T0) for _ in range(20000))
    assert 0.005 < false / 20000 < 0.03


def _plugin(numbering: Numbering, lists):
    state = MemoryCounters()
    plugin = conversation.create(PluginEnv(lists, state, numbering, {"memory_mb": 1}))
    return plugin, state


def _send(plugin, numbering: Numbering, src: str, dst: str, ts: float) -> None:
    ev = event_from_fields({"channel": "sms", "src": src, "dst": dst, "text": "hi",
                            "ts": ts}, numbering)
    assert tuple(plugin.check(ev, Facts(ev))) == ()  # it emits nothing, it counts


def test_an_answer_counts_for_the_number_answered(numbering: Numbering, lists) -> None:
    plugin, state = _plugin(numbering, lists)
    coach, parent = "+447700900737", "+447700906781"
    key = numbering.parse(coach).key
    _send(plugin, numbering, coach, parent, T0)
    assert state.peek("conv.answered", key, T0, DAY) == 0
    _send(plugin, numbering, parent, coach, T0 + 600)
    assert state.peek("conv.answered", key, T0 + 600, DAY) == 1
    # a stranger's text to the coach answers nothing; nor does the coach's second text
    _send(plugin, numbering, "+447700906999", coach, T0 + 700)
    _send(plugin, numbering, coach, parent, T0 + 800)
    assert state.peek("conv.answered", key, T0 + 800, DAY) == 1


def test_sender_ids_and_dry_runs_count_nothing(numbering: Numbering, lists) -> None:
    plugin, state = _plugin(numbering, lists)
    _send(plugin, numbering, "ExampleBank", "+447700906781", T0)
    _send(plugin, numbering, "+447700906781", "+447700900737", T0)
    with state.dry_run():
        _send(plugin, numbering, "+447700900737", "+447700906781", T0 + 10)
    _send(plugin, numbering, "+447700900737", "+447700906781", T0 + 20)  # not an answer:
    # the dry run left no pair behind, so this is the coach's first text
    assert state.peek("conv.answered", numbering.parse("+447700906781").key, T0 + 20, DAY) == 1


OPENER = "Hi, is this {name}? We met at Sophie's birthday last weekend, it's Lily x"
COACH = "Hi, is this {name}'s mum? It's Tom, the U10s coach. Training moves to 6pm Thursday"
NAMES = ("Sam Ava Leo Mia Noah Ella Theo Ruby Alfie Isla Jack Lily Oscar Grace Finn Rose "
         "Max Evie Zac Amber").split()


def _day(core, src: str, text: str, answered: int) -> list[str]:
    """20 openers from ``src`` to new numbers, a minute apart; the first ``answered``
    recipients answer five minutes after their text."""
    actions = []
    for i in range(20):
        dst = f"+4477009{10000 + i}"
        ts = T0 + 60.0 * i
        ev = event_from_fields({"channel": "sms", "direction": "out", "src": src, "dst": dst,
                                "text": text.format(name=NAMES[i]), "ts": ts},
                               core.numbering)
        actions.append(core.engine.evaluate(ev).action.value)
        if i < answered:
            reply = event_from_fields({"channel": "sms", "direction": "out", "src": dst,
                                       "dst": src, "text": "yes that's me, thanks",
                                       "ts": ts + 1.0}, core.numbering)
            core.engine.evaluate(reply)
    return actions


def test_unanswered_openers_block_from_the_sixteenth() -> None:
    actions = _day(policy_core(ROOT), "+447700900801", OPENER, answered=0)
    assert actions[:15] == ["ALLOW"] * 15
    assert actions[15:] == ["BLOCK"] * 5


def test_answered_openers_pass() -> None:
    actions = _day(policy_core(ROOT), "+447700900802", COACH, answered=2)
    assert actions == ["ALLOW"] * 20
    # the same coach unanswered: the rule reads his texts as openers
    assert _day(policy_core(ROOT), "+447700900804", COACH, answered=0)[15:] == ["BLOCK"] * 5


def test_without_the_plugin_no_answer_is_counted() -> None:
    """The rule's documented fallback: the same coach, answered, is blocked from his
    sixteenth opener when the conversation plugin is not loaded."""
    actions = _day(policy_core(ROOT, disabled=["conversation"]), "+447700900803", COACH,
                   answered=2)
    assert actions[15:] == ["BLOCK"] * 5
