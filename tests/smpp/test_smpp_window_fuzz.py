"""The relay's window under hypothesis: an ESME writes submit_sm (single messages and
concatenated parts, in any order) in chunks cut anywhere, the SMSC answers whatever
it holds in any order, and time passes. Whatever the interleaving:

- the SMSC never holds more than ``[smpp] window`` requests unanswered;
- while requests wait for room, the ESME is not read (its reading is paused);
- once the SMSC has answered everything, every request got exactly one answer.

The relay without sockets (``relay_support``): the ESME's bytes wait in the
"kernel" while its reading is paused, as they would on a real socket.
"""

from __future__ import annotations

import dataclasses
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from relay_support import bound

from gateway.smpp.codec import encode, response_for
from gateway.smpp.pdu import CommandId, SubmitSm
from gateway.smpp.session import PduReceived, Role, Session

C = CommandId


def _traffic(messages: list[int], rnd: random.Random) -> tuple[bytes, int]:
    """submit_sm bytes: each entry a message of that many parts (1: no UDH); the parts
    of all messages shuffled together. Returns (bytes, how many PDUs)."""
    pdus = []
    for ref, parts in enumerate(messages):
        for n in range(1, parts + 1):
            sm = (bytes([5, 0, 3, ref % 256, parts, n]) + b"part" if parts > 1
                  else f"message {ref}".encode())
            pdus.append(SubmitSm(source_addr_ton=1, source_addr="447700900123",
                                 dest_addr_ton=1, destination_addr="447700900456",
                                 esm_class=0x40 if parts > 1 else 0, short_message=sm))
    rnd.shuffle(pdus)
    out = b"".join(encode(dataclasses.replace(p, sequence_number=i + 1))
                   for i, p in enumerate(pdus))
    return out, len(pdus)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(window=st.integers(1, 12),
       messages=st.lists(st.integers(1, 6), min_size=1, max_size=25),
       seed=st.integers(0, 2**32 - 1),
       steps=st.lists(st.tuples(st.sampled_from(("esme", "smsc", "tick")),
                                st.integers(1, 400)), min_size=1, max_size=80))
def test_window_holds_under_any_interleaving(window: int, messages: list[int], seed: int,
                                             steps: list[tuple[str, int]]) -> None:
    rnd = random.Random(seed)
    h = bound(window=window, concat_timeout=1000.0)
    relay, down, up = h.relay, h.down, h.up
    kernel, total = _traffic(messages, rnd)  # what the ESME wrote, not yet read
    smsc = Session(Role.SMSC)
    smsc._set_state(smsc.state.BOUND_TRX)
    held: list[int] = []  # sequence numbers the SMSC holds unanswered
    esme = Session(Role.ESME)
    answers: dict[int, int] = {}
    now = 1000.0

    def smsc_reads() -> None:
        for ev in smsc.receive_data(bytes(up.data)):
            assert isinstance(ev, PduReceived)
            assert ev.pdu.command_id == C.SUBMIT_SM
            held.append(ev.pdu.sequence_number)
        up.data.clear()
        assert len(held) <= window, f"the SMSC holds {len(held)} > window {window}"

    def esme_reads() -> None:
        for ev in esme.receive_data(bytes(down.data)):
            assert isinstance(ev, PduReceived) and ev.pdu.command_id == C.SUBMIT_SM_RESP
            seq = ev.pdu.sequence_number
            answers[seq] = answers.get(seq, 0) + 1
        down.data.clear()

    def step(kind: int | str, n: int) -> None:
        nonlocal kernel, now
        if kind == "esme" and kernel and not down.paused:
            chunk, kernel = kernel[:n], kernel[n:]
            h.from_esme(chunk, now)
        elif kind == "smsc" and held:
            rnd.shuffle(held)
            k = 1 + n % len(held)
            batch, held[:] = held[:k], held[k:]
            h.from_smsc(b"".join(response_for(C.SUBMIT_SM, s, 0, "m") for s in batch), now)
        elif kind == "tick":
            now += 0.25
            h.timer(now)
        smsc_reads()
        esme_reads()
        if relay.waiting:
            assert down.paused, "requests wait for the window but the ESME is still read"

    for kind, n in steps:
        step(kind, n)
    for _ in range(10 * total + 10):  # drain: the ESME writes, the SMSC answers all
        if not kernel and not held and not relay.waiting and not relay.judging.reasm._groups:
            break
        step("esme", 4096)
        step("smsc", 10**6)
    assert not kernel and not held and not relay.waiting
    assert sorted(answers) == list(range(1, total + 1))
    assert set(answers.values()) == {1}  # exactly one answer each
