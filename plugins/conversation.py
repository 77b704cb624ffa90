"""Conversations: which texts get an answer.

A person who texts people they have never texted (a coach texting a squad's parents,
a recruiter texting candidates, a plumber confirming a job) mostly gets answers. A
SIM that sends romance, wrong-number or job-scam openers to strangers mostly does
not: the few who answer are the scam's victims. This plugin remembers who has
texted whom, and when an SMS between two phone numbers is a **reply** (its
recipient texted its sender before, within ``pair_window``) it counts one answer
for that recipient: the counter ``conv.answered``, keyed by the number answered,
over ``window``, in the state backend like every counter, so rules read it as
``when.count = { name = "conv.answered", key = "src", window = 86400, under = 2 }``
(rules/56-openers.toml: ``scam.unanswered_openers``). It emits no symbol.

The memory of who texted whom is this process's own: an age-stamped Bloom filter
of ``memory_mb`` one-byte slots. Each pair (sender, recipient) sets two slots to the
current age (``pair_window / 2`` long); a pair is known while both its slots hold
the current or the previous age. Nothing is ever cleared, so there is no pause on
the event loop; a slot set 255 ages ago (about 2.4 years with the default window)
may read as fresh. False positives (a pair read as known: a text counted as an
answer it is not) grow with the pairs of two ages against the slots: 2 million
pairs in 32 MB make about 1.3%. With several workers or nodes the answers are
counted in the shared state, but each process remembers only the pairs it carried:
an answer carried by another process than the text it answers is not counted.

Options (``[plugins.options.conversation]``): ``window`` (86400 s), ``pair_window``
(7 days), ``memory_mb`` (32).
"""

from __future__ import annotations

import mmap
from collections.abc import Iterable
from typing import Any

from gateway.content.facts import Facts
from gateway.content.plugin import Counters, Hit, NumberKind, PluginEnv, Symbol
from gateway.model import Event

ANSWERED = "conv.answered"
_MASK64 = (1 << 64) - 1


class PairMemory:
    """Who has texted whom, within about ``window`` seconds: a Bloom filter whose
    slots hold the age (``window / 2`` long, 1-255, 0 for never) they were last set
    in, so that old pairs fade without the filter ever being cleared."""

    __slots__ = ("period", "size", "slots")

    def __init__(self, size: int, window: float) -> None:
        if size < 1024:
            raise ValueError("pair memory needs at least 1024 slots")
        self.size = size
        self.period = max(1.0, window / 2)
        # anonymous memory the kernel hands out zeroed, a page when first touched: no
        # 32 MB memset at start or on a reload's example check (a bytearray's takes
        # about 10 ms with the GIL held)
        self.slots = mmap.mmap(-1, size)

    def age(self, now: float) -> int:
        return int(now // self.period) % 255 + 1

    def _slots(self, a: int, b: int) -> tuple[int, int]:
        h = hash((a, b)) & _MASK64
        return h % self.size, (h >> 32) % self.size

    def known(self, a: int, b: int, now: float) -> bool:
        """Has ``a`` texted ``b`` in this age or the one before?"""
        i, j = self._slots(a, b)
        age = self.age(now)
        prev = age - 1 if age > 1 else 255
        s = self.slots
        x, y = s[i], s[j]
        return x in (age, prev) and y in (age, prev)

    def add(self, a: int, b: int, now: float) -> None:
        i, j = self._slots(a, b)
        age = self.age(now)
        self.slots[i] = age
        self.slots[j] = age


class ConversationPlugin:
    name = "conversation"
    symbols: tuple[Symbol, ...] = ()
    channels = frozenset({"sms"})

    def __init__(self, state: Counters, memory: PairMemory, window: float = 86400.0) -> None:
        self.state = state
        self.memory = memory
        self.window = window

    def reset(self, state: Counters) -> None:
        """Forget every pair and count into ``state`` from now on: each example of
        ``spamgw rules test`` runs on counters of its own, and a memory of 64 Ki slots
        (a few pairs each)."""
        self.state = state
        self.memory = PairMemory(1 << 16, self.memory.period * 2)

    def check(self, event: Event, facts: Facts | None = None) -> Iterable[Hit]:
        src, dst = event.src, event.dst
        if src.kind is not NumberKind.E164 or dst.kind is not NumberKind.E164 \
                or not src.key or not dst.key or getattr(self.state, "dry", False):
            return ()  # a check or replay that must leave no trace counts nothing
        a, b, now = src.key, dst.key, event.ts
        memory = self.memory
        if memory.known(b, a, now):  # b texted a: this is a's answer to b
            self.state.hit(ANSWERED, b, now, self.window)
        memory.add(a, b, now)
        return ()


def create(env: PluginEnv) -> ConversationPlugin:
    opts: dict[str, Any] = dict(env.options)
    size = int(float(opts.get("memory_mb", 32)) * (1 << 20))
    return ConversationPlugin(
        env.state, PairMemory(size, float(opts.get("pair_window", 7 * 86400))),
        float(opts.get("window", 86400)))
