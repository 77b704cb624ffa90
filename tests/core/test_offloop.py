"""``gateway.offloop``: the short GIL switch interval while a thread builds or checks
a ruleset, restored when the last such block ends, however they overlap."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading

from gateway.offloop import SWITCH_INTERVAL, in_thread, short_switches


def test_overlapping_blocks_restore_the_interval_when_the_last_ends() -> None:
    before = sys.getswitchinterval()
    assert before > SWITCH_INTERVAL
    with contextlib.ExitStack() as outer:
        a = contextlib.ExitStack()
        a.enter_context(short_switches())
        assert sys.getswitchinterval() == SWITCH_INTERVAL
        outer.enter_context(short_switches())  # a second reload while the first runs
        a.close()  # the first ends first: the second still runs short
        assert sys.getswitchinterval() == SWITCH_INTERVAL
    assert sys.getswitchinterval() == before


def test_in_thread_runs_off_the_loop_with_short_switches() -> None:
    before = sys.getswitchinterval()
    seen: dict[str, object] = {}

    def work(x: int) -> int:
        seen["thread"] = threading.get_ident()
        seen["interval"] = sys.getswitchinterval()
        if x < 0:
            raise ValueError("refused")
        return x * 2

    async def main() -> None:
        assert await in_thread(work, 21) == 42
        assert seen["thread"] != threading.get_ident()
        assert seen["interval"] == SWITCH_INTERVAL
        try:
            await in_thread(work, -1)
        except ValueError as e:  # an error reaches the caller, the interval comes back
            assert str(e) == "refused"
        else:
            raise AssertionError("no error")

    asyncio.run(main())
    assert sys.getswitchinterval() == before
