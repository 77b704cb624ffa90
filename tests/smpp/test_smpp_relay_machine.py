"""The relay under a hypothesis state machine: an ESME writes submit_sm (single
messages, concatenated parts, some its rules block) in chunks cut anywhere and
answers the receipts it is sent, or not; the SMSC answers whatever it holds in any
order, sends receipts, or crashes; time passes by any step. The machine is the
relay alone (``relay_support``): bytes and ``now`` in, actions out.

After every step:
- no submit_sm was answered twice, no receipt answered twice to the SMSC;
- the relay never has more than ``[smpp] window`` requests outstanding at the SMSC,
  and the SMSC holds no more than that beyond what the relay gave up on (timeouts);
- while anything waits for room in the window, the ESME is not read;
- the SMSC received only PDUs the ESME sent, byte for byte (the sequence number
  aside), each at most once, and none that the rules block;
- what the relay answered the ESME itself for a blocked message is 0x65.

At the end (the ESME's bytes all written, the SMSC answering everything, time past
every timeout): every submit_sm the relay read was answered exactly once.
"""

from __future__ import annotations

import math
import random

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from relay_support import T0, Harness, block_marked, bound

from gateway.config import UpstreamConfig
from gateway.smpp.codec import encode, response_for
from gateway.smpp.pdu import CommandId, DeliverSm, SubmitSm
from gateway.smpp.relay import Relay
from gateway.smpp.session import PduReceived, Role, Session, State

C = CommandId
RESPONSE_TIMEOUT = 5.0


def _traffic(messages: list[tuple[int, bool]], rnd: random.Random) -> list[bytes]:
    """submit_sm PDUs, numbered from 1: (parts, blocked) per message, the parts of all
    messages shuffled together."""
    pdus = []
    for ref, (parts, blocked) in enumerate(messages):
        word = b"BLOCK" if blocked else b"fine"
        for n in range(1, parts + 1):
            sm = (bytes([5, 0, 3, ref % 256, parts, n]) + word if parts > 1
                  else word + b" message %d" % ref)
            pdus.append((sm, parts > 1))
    rnd.shuffle(pdus)
    return [encode(SubmitSm(sequence_number=i + 1, source_addr_ton=1,
                            source_addr="447700900123", dest_addr_ton=1,
                            destination_addr="447700900456", esm_class=0x40 if udh else 0,
                            short_message=sm))
            for i, (sm, udh) in enumerate(pdus)]


def plain_deadline(relay: Relay) -> float | None:
    """``Relay.next_deadline`` as first written (min over the sides' ``deadline``):
    the one the relay computes inline must be the same."""
    at = min(relay.close_at, relay.up.deadline(), relay.down.deadline())
    held = relay.judging.next_deadline()
    if held is not None:
        at = min(at, held)
    config = relay.config
    dsess = relay.down.session
    if dsess.bound:
        if relay.reading:
            at = min(at, (relay.probe_sent + config.esme_response_timeout if relay.probe_sent
                          else relay.down.last + config.idle_timeout))
    elif not relay.closed and not relay.up_open and not relay.connecting \
            and dsess.state is State.OPEN:
        at = min(at, relay.opened + config.bind_timeout)
    if relay.up_open and relay.up.session.bound:
        at = min(at, relay.up.last + config.enquire_link_interval)
    return None if at == math.inf else at


def _body(raw: bytes) -> bytes:
    return raw[:12] + raw[16:]


class RelayMachine(RuleBasedStateMachine):
    h: Harness

    @initialize(window=st.integers(1, 8),
                messages=st.lists(st.tuples(st.integers(1, 4), st.booleans()),
                                  min_size=1, max_size=15),
                seed=st.integers(0, 2**32 - 1))
    def start(self, window: int, messages: list[tuple[int, bool]], seed: int) -> None:
        self.rnd = random.Random(seed)
        self.window = window
        self.now = T0
        self.h = bound(block_marked, T0, window=window, concat_timeout=2.0,
                       esme_response_timeout=RESPONSE_TIMEOUT,
                       upstream=UpstreamConfig(response_timeout=RESPONSE_TIMEOUT))
        self.pdus = _traffic(messages, self.rnd)
        self.by_body = {_body(p): i + 1 for i, p in enumerate(self.pdus)}
        self.blocked = {i + 1 for i, p in enumerate(self.pdus) if b"BLOCK" in p}
        self.kernel = b"".join(self.pdus)  # written by the ESME, not read yet
        self.boundaries = {0}  # offsets in it where a PDU starts
        for p in self.pdus:
            self.boundaries.add(max(self.boundaries) + len(p))
        self.read = 0  # bytes of it the relay has read
        self.answers: dict[int, list[int]] = {}  # ESME seq -> statuses it was sent
        self.forwarded: set[int] = set()  # ESME seqs the SMSC received
        self.smsc = Session(Role.SMSC)
        self.smsc._set_state(State.BOUND_TRX)
        self.held: list[int] = []  # seqs the SMSC holds unanswered
        self.esme = Session(Role.ESME)
        self.esme._set_state(State.BOUND_TRX)
        self.receipts: list[int] = []  # deliver_sm the ESME was sent, not answered
        self.receipt_answers: dict[int, int] = {}  # SMSC's deliver_sm seq -> answers
        self.next_receipt = 1000
        self.crashed = False

    # -- what the peers read ---------------------------------------------------------

    def _smsc_reads(self) -> None:
        if self.crashed:
            self.h.up.data.clear()
            return
        for raw in self.h.up.take_raw():
            (ev,) = self.smsc.receive_data(raw)
            assert isinstance(ev, PduReceived)
            cid = ev.pdu.command_id
            if cid == C.SUBMIT_SM:
                seq = self.by_body.get(_body(raw))
                assert seq is not None, "the SMSC got bytes the ESME never sent"
                assert seq not in self.blocked, f"blocked message {seq} reached the SMSC"
                assert seq not in self.forwarded, f"message {seq} forwarded twice"
                self.forwarded.add(seq)
                self.held.append(ev.pdu.sequence_number)
            elif cid == C.DELIVER_SM_RESP:
                s = ev.pdu.sequence_number
                self.receipt_answers[s] = self.receipt_answers.get(s, 0) + 1
                assert self.receipt_answers[s] == 1, f"receipt {s} answered twice"

    def _esme_reads(self) -> None:
        for raw in self.h.down.take_raw():
            (ev,) = self.esme.receive_data(raw)
            assert isinstance(ev, PduReceived)
            pdu = ev.pdu
            if pdu.command_id == C.SUBMIT_SM_RESP:
                seq, status = pdu.sequence_number, pdu.command_status
                statuses = self.answers.setdefault(seq, [])
                statuses.append(status)
                assert len(statuses) == 1, f"submit_sm {seq} answered twice"
                if seq in self.blocked:  # rejected here, or lost with the SMSC
                    assert status in (0x65, 0x58)
                else:  # the SMSC's answer, or the temporary error
                    assert status == 0x58 or (status == 0 and seq in self.forwarded)
            elif pdu.command_id == C.DELIVER_SM:
                self.receipts.append(pdu.sequence_number)

    def _after(self) -> None:
        self._smsc_reads()
        self._esme_reads()

    # -- rules -----------------------------------------------------------------------

    @rule(n=st.integers(1, 300))
    def esme_writes(self, n: int) -> None:
        if not self.kernel or self.h.down.paused or self.h.down.closed:
            return
        chunk, self.kernel = self.kernel[:n], self.kernel[n:]
        self.read += len(chunk)
        self.h.from_esme(chunk, self.now)
        self._after()

    @rule(n=st.integers(1, 50))
    def smsc_answers(self, n: int) -> None:
        if not self.held or self.crashed:
            return
        self.rnd.shuffle(self.held)
        batch, self.held = self.held[:n], self.held[n:]
        self.h.from_smsc(b"".join(response_for(C.SUBMIT_SM, s, 0, f"m{s}")
                                  for s in batch), self.now)
        self._after()

    @rule()
    def smsc_sends_receipt(self) -> None:
        if self.crashed:
            return
        self.next_receipt += 1
        self.h.from_smsc(DeliverSm(sequence_number=self.next_receipt, esm_class=0x04,
                                   source_addr="447700900456",
                                   destination_addr="447700900123",
                                   short_message=b"id:1 stat:DELIVRD"), self.now)
        self._after()

    @rule()
    def esme_answers_receipt(self) -> None:
        if not self.receipts or self.h.down.closed or self.read not in self.boundaries:
            return  # (not in the middle of a submit_sm it is writing)
        seq = self.receipts.pop(self.rnd.randrange(len(self.receipts)))
        self.h.from_esme(response_for(C.DELIVER_SM, seq, 0), self.now)
        self._after()

    @rule(dt=st.sampled_from((0.1, 0.5, 1.0, 2.0, RESPONSE_TIMEOUT)))
    def time_passes(self, dt: float) -> None:
        self.now += dt
        deadline = self.h.relay.next_deadline()
        if deadline is not None and deadline <= self.now:
            self.h.timer(self.now)
        self._after()

    @rule()
    def smsc_crashes(self) -> None:
        if self.crashed or self.rnd.random() < 0.7:  # now and then
            return
        self.crashed = True
        self.held.clear()
        self.h.relay.up_lost("connection reset", self.now)
        self.h.act()
        self._after()

    # -- invariants ------------------------------------------------------------------

    @invariant()
    def deadline_is_the_plain_one(self) -> None:
        assert self.h.relay.next_deadline() == plain_deadline(self.h.relay)

    @invariant()
    def window_holds(self) -> None:
        relay = self.h.relay
        assert len(relay.up.pending) <= self.window
        if not self.crashed:
            assert len(self.held) <= self.window + relay.counters.timeouts
        if relay.waiting:
            assert self.h.down.paused, "requests wait for the window but the ESME is read"

    def teardown(self) -> None:
        if not hasattr(self, "h"):
            return
        for _ in range(4 * len(self.pdus) + 20):  # the ESME writes, the SMSC answers
            self.esme_writes(4096)
            self.smsc_answers(10**6)
            self.time_passes(RESPONSE_TIMEOUT)
            if not self.kernel and not self.held and not self.h.relay.busy:
                break
        self.time_passes(RESPONSE_TIMEOUT)
        # every submit_sm the relay read whole: answered exactly once (0x58 if lost)
        whole, pos = 0, 0
        while pos + 4 <= self.read:
            n = int.from_bytes(b"".join(self.pdus)[pos:pos + 4], "big")
            if pos + n > self.read:
                break
            whole, pos = whole + 1, pos + n
        assert sorted(self.answers) == list(range(1, whole + 1))
        if not self.crashed:  # the ESME's answer, or the temporary error for it
            assert all(self.receipt_answers.get(s, 0) == 1
                       for s in range(1001, self.next_receipt + 1))


RelayMachine.TestCase.settings = settings(
    max_examples=200, stateful_step_count=40, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
test_relay_machine = RelayMachine.TestCase


def test_deadline_before_and_after_the_bind() -> None:
    """The inline ``next_deadline`` against the plain one where the machine does not
    go: a connection not bound yet, its bind waiting for the upstream, an idle ESME
    probed, the relay closing."""
    from relay_support import allow

    from gateway.config import SmppConfig
    from gateway.smpp.pdu import BindTransceiver
    from gateway.smpp.relay import Shared

    relay = Relay(Shared(SmppConfig(idle_timeout=30.0), allow), T0, "127.0.0.1")
    assert relay.next_deadline() == plain_deadline(relay) == T0 + relay.config.bind_timeout
    relay.receive_down(encode(BindTransceiver(sequence_number=1, system_id="acme",
                                              password="secret")), T0 + 1)
    relay.actions()
    assert relay.next_deadline() == plain_deadline(relay)
    relay.up_connected(T0 + 2)
    relay.actions()
    assert relay.next_deadline() == plain_deadline(relay)
    h = bound(allow, T0, idle_timeout=30.0, enquire_link_interval=20.0)
    for now in (T0 + 1, T0 + 25, T0 + 31, T0 + 70):
        h.timer(now)
        assert h.relay.next_deadline() == plain_deadline(h.relay)
    h.relay.down_lost(T0 + 71)
    h.act()
    assert h.relay.next_deadline() == plain_deadline(h.relay)
