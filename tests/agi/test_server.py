"""The FastAGI server over real loopback sockets, with Asterisk's recorded bytes
on the other side. The engine here is any object with ``evaluate`` (the policy is
tested end to end in test_e2e.py)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from agi_support import asterisk_session, environment_for, load_transcript

from gateway.agi.screening import Screener
from gateway.agi.server import AgiServer, ServerTimeouts
from gateway.model import Action, Direction, Event, Phase, Verdict
from gateway.numbers import Numbering

NUMBERING = Numbering("GB")


class RecordingEngine:
    def __init__(self, verdict: Verdict, on_evaluate: Callable[[], None] | None = None) -> None:
        self.verdict = verdict
        self.events: list[Event] = []
        self.on_evaluate = on_evaluate

    def evaluate(self, event: Event) -> Verdict:
        self.events.append(event)
        if self.on_evaluate is not None:
            self.on_evaluate()
        return self.verdict


BLOCK = Verdict(Action.BLOCK, 12.5, ("irsf.premium", "wangiri.callback"),
                'premium "+882" range\\ITU')


def run(engine: Any, body: Callable[[AgiServer], Awaitable[None]], *,
        timeouts: ServerTimeouts | None = None, server_options: dict[str, Any] | None = None,
        **screener: Any) -> AgiServer:
    async def main() -> AgiServer:
        server = AgiServer(Screener(NUMBERING, engine, **screener), timeouts=timeouts,
                           **(server_options or {}))
        await server.start("127.0.0.1", 0)
        try:
            async with asyncio.timeout(20):
                await body(server)
        finally:
            await server.close()
        return server

    return asyncio.run(main())


async def raw_session(port: int, request: bytes, answers: bytes | None = None) -> bytes:
    """Write ``request``; read what the server sends until it ends its side; then
    write ``answers`` (if any) and wait for the server to close. Returns the bytes
    the server sent."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        got = await reader.read()  # up to the server's end of stream
        if answers is not None:
            with contextlib.suppress(OSError):
                writer.write(answers)
                await writer.drain()
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    return got


VERDICT_BYTES = (
    b"SET VARIABLE SPAMGW_ACTION BLOCK\n"
    b"SET VARIABLE SPAMGW_SCORE 12.5\n"
    b"SET VARIABLE SPAMGW_RULES irsf.premium,wangiri.callback\n"
    b'SET VARIABLE SPAMGW_REASON "premium \\"+882\\" range\\\\ITU"\n'
)


def test_recorded_inbound_environment_gets_the_verdict_byte_for_byte() -> None:
    engine = RecordingEngine(BLOCK)
    env = load_transcript("normal-and-hangup-handler.txt")[0].environment

    async def body(server: AgiServer) -> None:
        ok = b"200 result=1\n"  # what Asterisk answers to SET VARIABLE
        # all four at once, then the server's end of stream (send_final)
        assert await raw_session(server.port, env, ok * 4) == VERDICT_BYTES
        result = await asterisk_session(server.port, env)
        assert result.variables == {
            "SPAMGW_ACTION": "BLOCK", "SPAMGW_SCORE": "12.5",
            "SPAMGW_RULES": "irsf.premium,wangiri.callback",
            "SPAMGW_REASON": 'premium "+882" range\\ITU',
        }

    server = run(engine, body)
    event = engine.events[0]
    assert (event.direction, event.phase, event.route) == (Direction.IN, Phase.ATTEMPT,
                                                           "trunk-intl")
    assert (str(event.src), str(event.dst)) == ("+2250700000001", "+447700900123")
    assert event.details["uniqueid"] == "1795361515.1"
    assert server.counters.block == 2 and server.counters.screenings == 2


def test_recorded_hangup_handler_is_matched_to_its_screening_by_uniqueid() -> None:
    engine = RecordingEngine(Verdict(Action.ALLOW))
    for name in ("wangiri-ring-4s-caller-hangs-up.txt", "answered-international-call.txt",
                 "normal-and-hangup-handler.txt"):
        screening, ended = load_transcript(name)

        async def body(server: AgiServer, s: bytes = screening.environment,
                       e: bytes = ended.environment) -> None:
            first = await asterisk_session(server.port, s)
            assert first.variables["SPAMGW_ACTION"] == "ALLOW"
            second = await asterisk_session(server.port, e)
            assert second.commands == [] and second.closed  # nothing to set: just learn
            assert len(server.screener.memory) == 0

        run(engine, body)
    wangiri, answered, no_dial = engine.events[1], engine.events[3], engine.events[5]
    assert wangiri.phase is Phase.ENDED and wangiri.dialstatus == "CANCEL"
    assert (str(wangiri.src), str(wangiri.dst)) == ("+2250700000001", "+447700900130")
    assert wangiri.ring_seconds == 4 and not wangiri.answered and wangiri.route == "trunk-intl"
    assert answered.dialstatus == "ANSWER" and answered.answered and answered.billsec == 1
    assert str(answered.src) == "+33612345678"
    assert no_dial.dialstatus == "" and not no_dial.answered


def test_unmatched_ended_and_unknown_paths_close_without_commands() -> None:
    engine = RecordingEngine(BLOCK)

    async def body(server: AgiServer) -> None:
        ended = load_transcript("normal-and-hangup-handler.txt")[1].environment
        assert (await asterisk_session(server.port, ended)).commands == []
        for recorded in ("server-silent-8s.txt", "channel-hung-up-during-agi.txt"):
            env = load_transcript(recorded)[0].environment  # paths /silent, /hangup
            assert (await asterisk_session(server.port, env)).commands == []

    server = run(engine, body)
    assert engine.events == []
    assert server.counters.ended_unmatched == 1 and server.counters.unknown_path == 2


def test_hangup_notice_mid_session_is_counted_and_the_answers_still_read() -> None:
    engine = RecordingEngine(BLOCK)
    env = load_transcript("normal-and-hangup-handler.txt")[0].environment

    async def body(server: AgiServer) -> None:
        # as recorded: HANGUP where an answer was expected, then the answers
        got = await raw_session(server.port, env, b"200 result=1\nHANGUP\n" + b"200 result=1\n" * 3)
        assert got == VERDICT_BYTES

    server = run(engine, body)
    assert server.counters.hangups == 1 and server.counters.protocol_errors == 0


def test_dead_channel_511_ends_the_session() -> None:
    env = load_transcript("normal-and-hangup-handler.txt")[0].environment

    async def body(server: AgiServer) -> None:
        got = await raw_session(
            server.port, env, b"200 result=1\n511 Command Not Permitted on a dead channel\n")
        assert got == VERDICT_BYTES

    server = run(RecordingEngine(BLOCK), body)
    assert server.counters.dead_channel == 1


def test_garbage_is_answered_by_closing() -> None:
    async def body(server: AgiServer) -> None:
        for junk in (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"\x16\x03\x01\x02\x00\x01\x00",
                     b"\n"):
            assert await raw_session(server.port, junk) == b""
        env = load_transcript("normal-and-hangup-handler.txt")[0].environment
        got = await raw_session(server.port, env, b"banana\n")  # garbage as an answer
        assert got == VERDICT_BYTES
        # the server is still fine afterwards
        assert (await asterisk_session(server.port, env)).variables["SPAMGW_ACTION"] == "BLOCK"

    server = run(RecordingEngine(BLOCK), body)
    assert server.counters.protocol_errors == 4  # the lone "\n" is an empty environment


def test_silent_peers_are_dropped_by_our_own_timeouts() -> None:
    env = load_transcript("normal-and-hangup-handler.txt")[0].environment

    async def body(server: AgiServer) -> None:
        # connects and says nothing; half an environment; never answers a command
        assert await raw_session(server.port, b"") == b""
        assert await raw_session(server.port, env[:100]) == b""
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(env)
        assert await reader.read() == VERDICT_BYTES  # then the server's end of stream
        while server.active:  # noqa: ASYNC110 - Asterisk stays silent: the server times out
            await asyncio.sleep(0.05)
        writer.close()

    server = run(RecordingEngine(BLOCK), body, timeouts=ServerTimeouts(0.2, 0.2))
    assert server.counters.timeouts == 3


def test_late_screening_answers_allow_and_is_counted() -> None:
    now = [1000.0]

    def slow() -> None:
        now[0] += 0.080  # the engine took 80 ms on the injected clock

    engine = RecordingEngine(BLOCK, on_evaluate=slow)
    env = load_transcript("normal-and-hangup-handler.txt")[0].environment

    async def body(server: AgiServer) -> None:
        result = await asterisk_session(server.port, env)
        assert result.variables["SPAMGW_ACTION"] == "ALLOW"
        assert result.variables["SPAMGW_REASON"].startswith("late: screening took 80.0 ms")

    # the screener's own check after the engine, on the injected clock; the deadline
    # thread (on the same clock) would race the clock's 80 ms jump inside the engine
    # and answer first: that path is tests/agi/test_deadline.py's
    server = run(engine, body, deadline_ms=50, monotonic=lambda: now[0],
                 server_options={"watchdog": False})
    assert server.counters.late == 1 and server.counters.allow == 1
    assert server.counters.block == 0


def test_outbound_trunk_from_channel_name_and_typed_number() -> None:
    engine = RecordingEngine(Verdict(Action.WARN, 5.0, ("x",), "r"))

    async def body(server: AgiServer) -> None:
        env = environment_for("outbound", "+447700900001", "00882123456789",
                              channel="PJSIP/intl-gw-0000002a")
        result = await asterisk_session(server.port, env)
        assert result.variables["SPAMGW_ACTION"] == "WARN"
        env = environment_for("outbound", "+447700900001", "09098790000")
        await asterisk_session(server.port, env)

        env = environment_for("spamgw/v1/outbound", "+447700900001", "112")  # a path prefix
        assert (await asterisk_session(server.port, env)).variables["SPAMGW_ACTION"] == "WARN"

    run(engine, body)
    first, second, _ = engine.events
    assert first.direction is Direction.OUT and first.route == "intl-gw"
    assert str(first.dst) == "+882123456789"
    assert str(second.dst) == "+449098790000" and second.route == ""  # Local channel


def test_many_concurrent_sessions() -> None:
    engine = RecordingEngine(Verdict(Action.ALLOW))

    async def body(server: AgiServer) -> None:
        envs = [environment_for("inbound", f"+3361234{i:04d}", "447700900123",
                                uniqueid=f"1795361515.{i}") for i in range(200)]
        results = await asyncio.gather(*(asterisk_session(server.port, e) for e in envs))
        assert all(r.variables["SPAMGW_ACTION"] == "ALLOW" for r in results)

    server = run(engine, body)
    assert server.counters.screenings == 200 and len(server.screener.memory) == 200
    assert not server.active


def test_an_engine_that_raises_still_gets_the_call_allowed() -> None:
    class Broken:
        def evaluate(self, event: Event) -> Verdict:
            raise RuntimeError("boom")

    env = load_transcript("normal-and-hangup-handler.txt")[0].environment

    async def body(server: AgiServer) -> None:
        result = await asterisk_session(server.port, env)
        assert result.variables["SPAMGW_ACTION"] == "ALLOW"
        assert result.variables["SPAMGW_REASON"] == "screening error: RuntimeError"

    server = run(Broken(), body)
    assert server.counters.failed_open == 1


def test_peers_outside_allowed_peers_are_closed_unanswered() -> None:
    engine = RecordingEngine(BLOCK)
    env = environment_for("inbound", "+447700900123", "+447700900456")

    async def refused(server: AgiServer) -> None:
        assert await raw_session(server.port, env) == b""

    server = run(engine, refused, server_options={"allowed_peers": ("10.0.0.0/8", "::1")})
    assert server.refused == 1 and not engine.events

    async def allowed(server: AgiServer) -> None:
        assert await raw_session(server.port, env, b"200 result=1\n" * 4) == VERDICT_BYTES

    server = run(engine, allowed, server_options={"allowed_peers": ("127.0.0.0/8",)})
    assert server.refused == 0 and len(engine.events) == 1


def test_connections_past_max_connections_are_closed_at_once() -> None:
    engine = RecordingEngine(BLOCK)
    env = environment_for("inbound", "+447700900123", "+447700900456")

    async def body(server: AgiServer) -> None:
        idle = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(3)]
        await asyncio.sleep(0.1)
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        async with asyncio.timeout(2):  # closed at once, not after the 5 s timeout
            assert await reader.read() == b""
        writer.close()
        for _r, w in idle:
            w.close()
        await asyncio.sleep(0.1)  # the slots are free again
        assert await raw_session(server.port, env, b"200 result=1\n" * 4) == VERDICT_BYTES

    server = run(engine, body, server_options={"max_connections": 3})
    assert server.refused == 1


def test_connections_past_max_connections_per_ip_are_closed_at_once() -> None:
    engine = RecordingEngine(BLOCK)
    env = environment_for("inbound", "+447700900123", "+447700900456")

    async def body(server: AgiServer) -> None:
        idle = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(2)]
        await asyncio.sleep(0.1)
        assert server.per_ip == {"127.0.0.1": 2}
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        async with asyncio.timeout(2):
            assert await reader.read() == b""
        writer.close()
        for _r, w in idle:
            w.close()
        await asyncio.sleep(0.1)
        assert server.per_ip == {}
        assert await raw_session(server.port, env, b"200 result=1\n" * 4) == VERDICT_BYTES

    server = run(engine, body, server_options={"max_connections_per_ip": 2})
    assert server.refused == 1
