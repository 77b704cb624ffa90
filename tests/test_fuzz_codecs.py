"""Hypothesis state machines on the two sans-IO codecs (issue 13, fuzzing).

``SmppSessionMachine`` is an ESME talking to spamgw's SMPP session (the proxy's
listening side, ``Role.SMSC``): binds of the three kinds, submits, enquire_links,
unbinds, responses nobody asked for, frames with random command ids and bodies,
every write cut at random places, and at the end possibly bytes that cannot be framed.
A model of the bind state says what each request must get; every reply the session
produces must decode and carry the request's sequence number.

``AgiMachine`` is Asterisk talking to spamgw's FastAGI connection: an environment
(with undecodable bytes), commands in lockstep or all at once (``send_final``),
answers, 520 usage texts, HANGUP notices, garbage lines, cuts, end of stream. The
codec may only raise its typed errors, and answers pair with commands in order.

Each step is one input; ``FIGURES`` counts them (``pytest -s`` prints the totals;
README "Limits and security" has a longer run's). ``SPAMGW_FUZZ_EXAMPLES`` sets how
many runs each machine makes (CI: the default)."""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from gateway.agi import codec as agi
from gateway.smpp import pdu as P
from gateway.smpp.codec import decode, encode
from gateway.smpp.session import BadPdu, PduReceived, Role, Session, State

EXAMPLES = int(os.environ.get("SPAMGW_FUZZ_EXAMPLES", "100"))
MACHINE = settings(max_examples=EXAMPLES, stateful_step_count=40, deadline=None,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
#: inputs (steps) fed and runs made, per machine: printed at the end of the module
FIGURES: Counter[str] = Counter()

cstr = st.text(st.characters(min_codepoint=1, max_codepoint=255), max_size=16)
seqs = st.integers(1, 0x7FFFFFFF)
cuts = st.lists(st.integers(0, 400), max_size=4)


def _split(data: bytes, at: list[int]) -> list[bytes]:
    points = sorted({min(a, len(data)) for a in at})
    parts, last = [], 0
    for p in points:
        parts.append(data[last:p])
        last = p
    parts.append(data[last:])
    return [p for p in parts if p]


# -- SMPP: an ESME against the session ----------------------------------------------

BINDS = {P.BindTransmitter: State.BOUND_TX, P.BindReceiver: State.BOUND_RX,
         P.BindTransceiver: State.BOUND_TRX}
BIND_RESP = {P.BindTransmitter: P.BindTransmitterResp, P.BindReceiver: P.BindReceiverResp,
             P.BindTransceiver: P.BindTransceiverResp}


class SmppSessionMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.session = Session(Role.SMSC)
        self.model = State.OPEN
        self.framed = True  # false once bytes that cannot be framed were fed
        FIGURES["smpp session runs"] += 1

    def feed(self, data: bytes, at: list[int]) -> list[PduReceived | BadPdu]:
        FIGURES["smpp session inputs"] += 1
        events: list[PduReceived | BadPdu] = []
        for part in _split(data, at):
            events += self.session.receive_data(part)
        for ev in events:
            if isinstance(ev, BadPdu) and ev.reply is not None:
                reply = decode(ev.reply)  # every reply decodes, as the request's answer
                assert reply.sequence_number == ev.error.sequence_number
                assert reply.command_id & P.RESPONSE_BIT
        return events

    def request(self, pdu: P.Pdu, at: list[int]) -> PduReceived | BadPdu | None:
        events = self.feed(encode(pdu), at)
        if not self.framed:
            return None
        assert len(events) == 1, events
        return events[0]

    @rule(kind=st.sampled_from(sorted(BINDS, key=lambda k: k.__name__)), seq=seqs,
          system_id=cstr, password=cstr, ok=st.booleans(), at=cuts)
    def bind(self, kind: type[P.Pdu], seq: int, system_id: str, password: str, ok: bool,
             at: list[int]) -> None:
        ev = self.request(kind(sequence_number=seq, system_id=system_id,  # type: ignore[call-arg]
                               password=password), at)
        if ev is None:
            return
        if self.model is State.OPEN:
            assert isinstance(ev, PduReceived) and ev.pdu.command_id == kind.command_id
            status = 0 if ok else P.Status.ESME_RBINDFAIL
            self.session.send(BIND_RESP[kind](sequence_number=seq,  # type: ignore[index]
                                              command_status=status))
            if ok:
                self.model = BINDS[kind]
        else:
            assert isinstance(ev, BadPdu)
            want = (P.Status.ESME_RALYBND if self.model in BINDS.values()
                    else P.Status.ESME_RINVBNDSTS)
            assert ev.error.command_status == want

    @rule(seq=seqs, text=st.binary(max_size=160), dc=st.integers(0, 255), at=cuts)
    def submit(self, seq: int, text: bytes, dc: int, at: list[int]) -> None:
        ev = self.request(P.SubmitSm(sequence_number=seq, source_addr="447700900123",
                                     destination_addr="447700900456", data_coding=dc,
                                     short_message=text), at)
        if ev is None:
            return
        if self.model in (State.BOUND_TX, State.BOUND_TRX):
            assert isinstance(ev, PduReceived) and ev.pdu.sequence_number == seq
        else:
            assert isinstance(ev, BadPdu)
            assert ev.error.command_status == P.Status.ESME_RINVBNDSTS

    @rule(seq=seqs, at=cuts)
    def enquire_link(self, seq: int, at: list[int]) -> None:
        ev = self.request(P.EnquireLink(sequence_number=seq), at)
        assert ev is None or isinstance(ev, PduReceived)

    @rule(seq=seqs, at=cuts)
    def unbind(self, seq: int, at: list[int]) -> None:
        ev = self.request(P.Unbind(sequence_number=seq), at)
        if ev is None:
            return
        if self.model in BINDS.values():
            assert isinstance(ev, PduReceived)
            self.session.send(P.UnbindResp(sequence_number=seq))
            self.model = State.UNBOUND
        else:
            assert isinstance(ev, BadPdu)

    @rule(kind=st.sampled_from([P.SubmitSmResp, P.DeliverSmResp, P.EnquireLinkResp,
                                P.UnbindResp, P.GenericNack]),
          seq=seqs, status=st.integers(0, 0xFFFFFFFF), at=cuts)
    def unsolicited_response(self, kind: type[P.Pdu], seq: int, status: int,
                             at: list[int]) -> None:
        ev = self.request(kind(sequence_number=seq, command_status=status), at)
        if ev is not None and kind is P.UnbindResp:
            self.model = State.UNBOUND  # the session takes the peer's word for it

    @rule(cid=st.integers(0, 0xFFFFFFFF), status=st.integers(0, 0xFFFFFFFF), seq=seqs,
          body=st.binary(max_size=120), at=cuts)
    def random_frame(self, cid: int, status: int, seq: int, body: bytes, at: list[int]) -> None:
        """A well-framed PDU with any command id and body: answered or refused, typed."""
        frame = (16 + len(body)).to_bytes(4, "big") + cid.to_bytes(4, "big") + \
            status.to_bytes(4, "big") + seq.to_bytes(4, "big") + body
        ev = self.request_raw(frame, at)
        if ev is None or not isinstance(ev, PduReceived):
            return
        # a frame the session took: it moves the bind state as the real one would
        if cid in {k.command_id for k in BINDS} and self.model is State.OPEN:
            self.session.send(P.GenericNack(sequence_number=seq,
                                            command_status=P.Status.ESME_RBINDFAIL))
        elif cid == P.CommandId.UNBIND_RESP:
            self.model = State.UNBOUND
        elif cid == P.CommandId.UNBIND and self.model in BINDS.values():
            self.session.send(P.UnbindResp(sequence_number=seq))
            self.model = State.UNBOUND

    def request_raw(self, frame: bytes, at: list[int]) -> PduReceived | BadPdu | None:
        events = self.feed(frame, at)
        if not self.framed:
            return None
        assert len(events) == 1, events
        return events[0]

    @precondition(lambda self: self.framed)
    @rule(junk=st.binary(min_size=1, max_size=64))
    def unframeable(self, junk: bytes) -> None:
        """Bytes that may not frame: from here on only "no exception" is asked."""
        self.framed = False
        self.feed(junk, [])

    @invariant()
    def state_agrees(self) -> None:
        if self.framed:
            assert self.session.state is self.model, (self.session.state, self.model)


# -- FastAGI: Asterisk against the connection ---------------------------------------

env_value = st.binary(max_size=40).map(lambda b: b.replace(b"\n", b" "))


class AgiMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.conn = agi.AgiConnection()
        self.sent: list[agi.AgiCommand] = []  # commands whose answers are still due
        self.failed = False
        self.eof = False
        self.final = False
        self.junked = False  # garbage was fed: what a line means is no longer known
        FIGURES["agi runs"] += 1

    def drain(self) -> list[Any]:
        events = []
        while True:
            try:
                ev = self.conn.next_event()
            except agi.RemoteProtocolError:
                self.failed = True
                assert self.conn.state is agi.State.ERROR
                return events
            if ev is agi.NEED_DATA or isinstance(ev, agi.ConnectionClosed):
                return events
            events.append(ev)

    def feed(self, data: bytes, at: list[int]) -> list[Any]:
        FIGURES["agi inputs"] += 1
        for part in _split(data, at):
            self.conn.receive_data(part)
        return self.drain()

    @initialize(values=st.lists(st.tuples(st.sampled_from(
        ["network", "request", "channel", "callerid", "uniqueid", "extension", "type"]),
        env_value), max_size=8), args=st.lists(env_value, max_size=3), at=cuts)
    def environment(self, values: list[tuple[str, bytes]], args: list[bytes],
                    at: list[int]) -> None:
        block = b"".join(b"agi_" + k.encode() + b": " + v + b"\n" for k, v in values)
        block += b"".join(b"agi_arg_%d: " % i + a + b"\n" for i, a in enumerate(args, 1))
        events = self.feed(block + b"\n", at)
        if values or args:
            assert [type(e) for e in events] == [agi.AgiEnvironment], events
            env = events[0]
            assert len(env.args) == len(args)
            for k, _v in values:
                assert isinstance(env.get(k), str)  # undecodable bytes survive as text
        else:
            assert self.failed  # an empty environment is refused

    def can_send(self) -> bool:
        return not (self.failed or self.eof or self.final or self.sent
                    or self.conn.state is not agi.State.IDLE)

    @precondition(lambda self: self.can_send())
    @rule(name=st.text(st.characters(min_codepoint=65, max_codepoint=90), min_size=1,
                       max_size=12),
          value=st.text(max_size=60))
    def command(self, name: str, value: str) -> None:
        try:
            cmd = agi.AgiCommand.set_variable(name, value)
        except agi.LocalProtocolError:
            return  # a value the codec refuses to write (too long, a newline)
        self.conn.send(cmd)
        self.sent.append(cmd)

    @precondition(lambda self: self.can_send())
    @rule(n=st.integers(1, 4))
    def final_commands(self, n: int) -> None:
        cmds = [agi.AgiCommand.set_variable(f"SPAMGW_{i}", "x") for i in range(n)]
        self.conn.send_final(cmds)
        self.sent += cmds
        self.final = True

    @precondition(lambda self: not (self.failed or self.eof))
    @rule(answer=st.sampled_from([b"200 result=1", b"200 result=0 (timeout)",
                                  b"510 Invalid or unknown command",
                                  b"511 Command Not Permitted on a dead channel",
                                  b"200 result=-1", b"HANGUP"]), at=cuts)
    def answer(self, answer: bytes, at: list[int]) -> None:
        expected = bool(self.sent)
        events = self.feed(answer + b"\n", at)
        if self.junked or (self.failed and not expected):
            return
        if answer == b"HANGUP":
            assert [type(e) for e in events] == [agi.HangupNotice]
            return
        if not expected:
            assert self.failed  # an answer with no command outstanding
            return
        assert [type(e) for e in events] == [agi.AgiResponse], events
        self.sent.pop(0)

    @precondition(lambda self: not (self.failed or self.eof) and bool(self.sent))
    @rule(lines=st.lists(st.binary(max_size=30).map(lambda b: b.replace(b"\n", b"")),
                         max_size=4), at=cuts)
    def usage(self, lines: list[bytes], at: list[int]) -> None:
        text = b"520-Invalid command syntax.  Proper usage follows:\n"
        end = b"520 End of proper usage."
        text += b"".join(line + b"\n" for line in lines if not line.endswith(end))
        events = self.feed(text + end + b"\n", at)
        if not (self.failed or self.junked):
            assert [type(e) for e in events] == [agi.AgiResponse]
            assert events[0].code == 520
            self.sent.pop(0)

    @precondition(lambda self: not (self.failed or self.eof))
    @rule(junk=st.binary(max_size=80), at=cuts)
    def garbage(self, junk: bytes, at: list[int]) -> None:
        """Anything at all: events or a typed error, never another exception."""
        self.feed(junk, at)
        self.junked = True
        self.final = True  # nothing more is sent on this connection

    @precondition(lambda self: not self.eof)
    @rule()
    def end_of_stream(self) -> None:
        self.eof = True
        self.conn.receive_data(b"")
        FIGURES["agi inputs"] += 1
        self.drain()
        assert self.failed or self.conn.state is agi.State.CLOSED
        with pytest.raises(agi.LocalProtocolError):
            self.conn.receive_data(b"more")

    @precondition(lambda self: self.eof)
    @rule(data=st.binary(min_size=1, max_size=8))
    def after_the_end(self, data: bytes) -> None:
        """Bytes after the end of stream: the caller's mistake, a LocalProtocolError."""
        FIGURES["agi inputs"] += 1
        with pytest.raises(agi.LocalProtocolError):
            self.conn.receive_data(data)

    @invariant()
    def pending_agrees(self) -> None:
        if not (self.failed or self.final or self.junked):
            assert self.conn.pending == len(self.sent)


TestSmppSession = SmppSessionMachine.TestCase
TestSmppSession.settings = MACHINE
TestAgi = AgiMachine.TestCase
TestAgi.settings = MACHINE


def test_zz_figures() -> None:
    """The inputs the machines above fed (run last in this module; ``-s`` shows it)."""
    print(f"\nfuzz figures ({EXAMPLES} runs a machine): " + ", ".join(
        f"{k}: {v}" for k, v in sorted(FIGURES.items())))
