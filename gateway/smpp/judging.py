"""Message PDUs to verdicts, verdicts to outcomes: sans-IO, no sockets, no clock of
its own (the relay passes ``now``).

``Judging`` belongs to one ``Relay``. For every message PDU (submit_sm, data_sm,
submit_multi, replace_sm from the ESME; MO deliver_sm/data_sm from the SMSC) it
decodes the text, holds concatenated parts until the group is complete (or the
timeout passes) and asks the judge once per message, or once per destination for
a submit_multi. It returns what to do, and the relay does it:

- ``None``: the usual case, one message allowed (ALLOW/WARN): forward it as received;
- a list of outcomes: ``Forward`` (the bytes go on, perhaps with destinations of a
  submit_multi left out) or ``bytes`` (the answer to the sender):
- BLOCK, reject: the sender gets the rule's command_status (0x65 by default;
  0x65 ESME_RX_R_APPN is also exactly the spec's "receiver rejects the message"
  answer a receiving ESME gives an SMSC for a deliver_sm it refuses, so a blocked
  MO is answered 0x65 to the SMSC, which does not retry it);
- BLOCK, drop: the sender gets success (a gateway message_id for submit_sm and
  data_sm; deliver_sm_resp and replace_sm_resp carry none) and nobody else sees it;
- submit_multi: per destination, see ``gateway.smpp.multi``;
- held parts: an empty list (the group is not complete yet).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from gateway.model import Action, Direction, SmsBlock, Verdict
from gateway.smpp.codec import response_for
from gateway.smpp.concat import Group, Reassembler, message_parts
from gateway.smpp.counters import ProxyCounters
from gateway.smpp.multi import rejection, unsuccess, without_dests
from gateway.smpp.pdu import CommandId, DestAddress, ReplaceSm, Status, SubmitMulti, UnsuccessSme
from gateway.smpp.text import decode_text
from gateway.smpp.translate import MessagePdu

__all__ = ["Decision", "Forward", "JudgeFn", "Judging", "Outcome"]

C = CommandId
#: one verdict, or one per destination of a submit_multi (in PDU order)
Decision = Verdict | tuple[Verdict, ...]
_GATEWAY_ID = frozenset({C.SUBMIT_SM, C.DATA_SM, C.SUBMIT_MULTI})

#: ``judge(pdu, text, direction, route, parts, udh, destination, pdus)``: the engine's
#: verdict on one message (``pdus``: the received bytes of every part, for the
#: quarantine); synchronous, never raises (the engine fails open)
JudgeFn = Callable[[MessagePdu, str | None, Direction, str, int, bool, DestAddress | None,
                    tuple[bytes | memoryview, ...]], Verdict]


class Forward(NamedTuple):
    """A request to pass on: ``raw`` with sequence number ``seq`` (the sender's)."""

    raw: bytes | memoryview
    seq: int
    cid: int
    failed: tuple[UnsuccessSme, ...] = ()  # submit_multi destinations rejected here


#: what to do with one message PDU: pass it on, or answer the sender these bytes
Outcome = Forward | bytes


@dataclass(slots=True)
class _Held:
    pdu: MessagePdu
    raw: bytes | memoryview


class Judging:
    __slots__ = ("counters", "judge", "message_id", "reasm")

    def __init__(self, judge: JudgeFn, counters: ProxyCounters,
                 message_id: Callable[[], str], concat_timeout: float) -> None:
        self.judge = judge
        self.counters = counters
        self.message_id = message_id
        self.reasm: Reassembler[_Held] = Reassembler(concat_timeout)

    def message(self, pdu: MessagePdu, raw: bytes | memoryview, direction: Direction,
                route: str, now: float) -> list[Outcome] | None:
        """What to do with a message PDU; ``None``: forward it as received."""
        if isinstance(pdu, ReplaceSm):
            text = decode_text(pdu.short_message, 0)
            verdict = self.judge(pdu, text, direction, route, 1, False, None, (raw,))
            return self._apply(verdict, (_Held(pdu, raw),), direction)
        concat, udh, data = message_parts(pdu.esm_class, getattr(pdu, "short_message", b""),
                                          pdu.tlvs)
        text = decode_text(data, pdu.data_coding)
        if concat is None:
            decision = self._decide(pdu, text, direction, route, 1, udh is not None, (raw,))
            if not isinstance(decision, tuple) and decision.action is not Action.BLOCK:
                self.counters.forwarded += 1  # the usual case: no _Held, no list
                return None
            return self._apply(decision, (_Held(pdu, raw),), direction)
        held = _Held(pdu, raw)
        to = (tuple(d.destination_addr for d in pdu.dest_addresses)
              if isinstance(pdu, SubmitMulti) else pdu.destination_addr)
        key = (direction, route, pdu.source_addr, to, concat.ref, concat.total)
        settled = self.reasm.settled(key)
        if settled is not None:  # a straggler of a group already judged
            return self._apply(settled, (held,), direction)
        if not isinstance(raw, bytes):
            held.raw = bytes(raw)  # held past this read: do not pin the whole chunk
        group = self.reasm.add(key, concat, text, held, now)
        if group is None:
            self.counters.held_parts += 1
            return []
        return self._judge_group(group, now)

    def _decide(self, pdu: MessagePdu, text: str | None, direction: Direction, route: str,
                parts: int, udh: bool, raws: tuple[bytes | memoryview, ...]) -> Decision:
        judge = self.judge
        if isinstance(pdu, SubmitMulti):
            return tuple(judge(pdu, text, direction, route, parts, udh, d, raws)
                         for d in pdu.dest_addresses)
        return judge(pdu, text, direction, route, parts, udh, None, raws)

    def _judge_group(self, group: Group[_Held], now: float) -> list[Outcome]:
        items = group.ordered()
        direction: Direction = group.key[0]  # type: ignore[index]
        route: str = group.key[1]  # type: ignore[index]
        decision = self._decide(items[0].pdu, group.text, direction, route, group.total, True,
                                tuple(h.raw for h in items))
        self.reasm.settle(group.key, decision, now)
        return self._apply(decision, items, direction)

    def _apply(self, decision: Decision, items: tuple[_Held, ...] | list[_Held],
               direction: Direction) -> list[Outcome]:
        if isinstance(decision, tuple):
            return [self._apply_multi(decision, h) for h in items]
        counters = self.counters
        if decision.action is not Action.BLOCK:
            counters.forwarded += len(items)
            return [Forward(h.raw, h.pdu.sequence_number, h.pdu.command_id) for h in items]
        out: list[Outcome] = []
        for h in items:
            cid = h.pdu.command_id
            if decision.sms_block is SmsBlock.DROP:
                counters.dropped += 1
                mid = self.message_id() if direction is Direction.IN and cid in _GATEWAY_ID else ""
                out.append(response_for(cid, h.pdu.sequence_number, Status.ESME_ROK, mid))
            else:
                counters.rejected += 1
                out.append(response_for(cid, h.pdu.sequence_number, decision.sms_status))
        return out

    def _apply_multi(self, verdicts: tuple[Verdict, ...], h: _Held) -> Outcome:
        pdu = h.pdu
        assert isinstance(pdu, SubmitMulti)
        counters = self.counters
        dests = pdu.dest_addresses
        blocked = {i for i, v in enumerate(verdicts) if v.action is Action.BLOCK}
        if not blocked or len(verdicts) != len(dests):
            counters.forwarded += 1
            return Forward(h.raw, pdu.sequence_number, pdu.command_id)
        failed = tuple(unsuccess(dests[i], verdicts[i].sms_status) for i in sorted(blocked)
                       if verdicts[i].sms_block is SmsBlock.REJECT)
        counters.rejected += len(failed)
        counters.dropped += len(blocked) - len(failed)
        if len(blocked) == len(dests):
            seq = pdu.sequence_number
            if failed:
                return rejection(seq, failed[0].error_status_code, failed)
            return response_for(pdu.command_id, seq, Status.ESME_ROK, self.message_id())
        counters.forwarded += 1
        return Forward(without_dests(h.raw, blocked), pdu.sequence_number, pdu.command_id,
                       failed)

    def next_deadline(self) -> float | None:
        """When the oldest held group times out (``None``: nothing held)."""
        return self.reasm.next_deadline()

    def expire(self, now: float) -> list[tuple[Direction, list[Outcome]]]:
        """Judge the concatenated groups held past the timeout on what arrived."""
        return [(g.key[0], self._judge_group(g, now))  # type: ignore[index]
                for g in self.reasm.expire(now)]

    def release(self) -> list[tuple[int, int]]:
        """Every held part, dropped: (command_id, sequence number) of those the ESME
        sent, which it must be answered the temporary error (upstream lost, shutdown);
        an SMSC delivers its unanswered MO parts again."""
        return [(h.pdu.command_id, h.pdu.sequence_number)
                for group in self.reasm.drain() if group.key[0] is Direction.IN  # type: ignore[index]
                for h in group.ordered()]
