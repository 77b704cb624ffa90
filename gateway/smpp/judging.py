"""The pair's second job: message PDUs to verdicts, verdicts to forwarding or answers.

``Judging`` belongs to one ``Pair``. For every message PDU (submit_sm, data_sm,
submit_multi, replace_sm from the ESME; MO deliver_sm/data_sm from the SMSC) it
decodes the text, holds concatenated parts until the group is complete (or the
timeout passes) and asks the engine once per message, or once per destination for
a submit_multi. Then it carries the verdict out:

- ALLOW/WARN: the received bytes go on (``Pair.forward_up`` / ``forward_down``);
- BLOCK, reject: the sender gets the rule's command_status (0x65 by default;
  0x65 ESME_RX_R_APPN is also exactly the spec's "receiver rejects the message"
  answer a receiving ESME gives an SMSC for a deliver_sm it refuses, so a blocked
  MO is answered 0x65 to the SMSC, which does not retry it);
- BLOCK, drop: the sender gets success (a gateway message_id for submit_sm and
  data_sm; deliver_sm_resp and replace_sm_resp carry none) and nobody else sees it;
- submit_multi: per destination, see ``gateway.smpp.multi``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gateway.model import Action, Direction, SmsBlock, Verdict
from gateway.smpp.codec import response_for
from gateway.smpp.concat import Group, Reassembler, message_parts
from gateway.smpp.multi import rejection, unsuccess, without_dests
from gateway.smpp.pdu import CommandId, ReplaceSm, Status, SubmitMulti
from gateway.smpp.text import decode_text
from gateway.smpp.translate import MessagePdu

if TYPE_CHECKING:
    from gateway.smpp.pair import Pair

__all__ = ["Decision", "Judging"]

C = CommandId
#: one verdict, or one per destination of a submit_multi (in PDU order)
Decision = Verdict | tuple[Verdict, ...]
_GATEWAY_ID = frozenset({C.SUBMIT_SM, C.DATA_SM, C.SUBMIT_MULTI})


@dataclass(slots=True)
class _Held:
    pdu: MessagePdu
    raw: bytes | memoryview


class Judging:
    __slots__ = ("pair", "proxy", "reasm")

    def __init__(self, pair: Pair) -> None:
        self.pair = pair
        self.proxy = pair.proxy
        self.reasm: Reassembler[_Held] = Reassembler(pair.proxy.config.concat_timeout)

    def message(self, pdu: MessagePdu, raw: bytes | memoryview, direction: Direction) -> None:
        if isinstance(pdu, ReplaceSm):
            text = decode_text(pdu.short_message, 0)
            self.apply(self.proxy.judge(pdu, text, direction, self.pair.system_id, 1, False),
                       (_Held(pdu, raw),), direction)
            return
        concat, udh, data = message_parts(pdu.esm_class, getattr(pdu, "short_message", b""),
                                          pdu.tlvs)
        text = decode_text(data, pdu.data_coding)
        if concat is None:
            decision = self._decide(pdu, text, direction, 1, udh is not None)
            if not isinstance(decision, tuple) and decision.action is not Action.BLOCK:
                # ``apply`` for the usual case, one message passed on: no _Held for it
                if direction is Direction.IN:
                    self.pair.forward_up(raw, pdu.sequence_number, pdu.command_id)
                else:
                    self.pair.forward_down(raw, pdu.sequence_number, pdu.command_id)
                self.proxy.counters.forwarded += 1
                return
            self.apply(decision, (_Held(pdu, raw),), direction)
            return
        held = _Held(pdu, raw)
        to = (tuple(d.destination_addr for d in pdu.dest_addresses)
              if isinstance(pdu, SubmitMulti) else pdu.destination_addr)
        key = (direction, pdu.source_addr, to, concat.ref, concat.total)
        settled = self.reasm.settled(key)
        if settled is not None:  # a straggler of a group already judged
            self.apply(settled, (held,), direction)
            return
        if not isinstance(raw, bytes):
            held.raw = bytes(raw)  # held past this read: do not pin the whole chunk
        group = self.reasm.add(key, concat, text, held, time.monotonic())
        if group is None:
            self.proxy.counters.held_parts += 1
            return
        self._judge_group(group)

    def _decide(self, pdu: MessagePdu, text: str | None, direction: Direction, parts: int,
                udh: bool) -> Decision:
        judge, route = self.proxy.judge, self.pair.system_id
        if isinstance(pdu, SubmitMulti):
            return tuple(judge(pdu, text, direction, route, parts, udh, d)
                         for d in pdu.dest_addresses)
        return judge(pdu, text, direction, route, parts, udh)

    def _judge_group(self, group: Group[_Held]) -> None:
        items = group.ordered()
        direction: Direction = group.key[0]  # type: ignore[index]
        decision = self._decide(items[0].pdu, group.text, direction, group.total, True)
        self.reasm.settle(group.key, decision, time.monotonic())
        self.apply(decision, items, direction)

    def apply(self, decision: Decision, items: tuple[_Held, ...] | list[_Held],
              direction: Direction) -> None:
        if isinstance(decision, tuple):
            for h in items:
                self._apply_multi(decision, h)
            return
        pair = self.pair
        counters = self.proxy.counters
        if decision.action is not Action.BLOCK:
            for h in items:
                if direction is Direction.IN:
                    pair.forward_up(h.raw, h.pdu.sequence_number, h.pdu.command_id)
                else:
                    pair.forward_down(h.raw, h.pdu.sequence_number, h.pdu.command_id)
            counters.forwarded += len(items)
            return
        out = pair.dout if direction is Direction.IN else pair.uout
        for h in items:
            cid = h.pdu.command_id
            if decision.sms_block is SmsBlock.DROP:
                counters.dropped += 1
                mid = (self.proxy.message_id()
                       if direction is Direction.IN and cid in _GATEWAY_ID else "")
                out.append(response_for(cid, h.pdu.sequence_number, Status.ESME_ROK, mid))
            else:
                counters.rejected += 1
                out.append(response_for(cid, h.pdu.sequence_number, decision.sms_status))

    def _apply_multi(self, verdicts: tuple[Verdict, ...], h: _Held) -> None:
        pdu = h.pdu
        assert isinstance(pdu, SubmitMulti)
        counters = self.proxy.counters
        dests = pdu.dest_addresses
        blocked = {i for i, v in enumerate(verdicts) if v.action is Action.BLOCK}
        if not blocked or len(verdicts) != len(dests):
            counters.forwarded += 1
            self.pair.forward_up(h.raw, pdu.sequence_number, pdu.command_id)
            return
        failed = tuple(unsuccess(dests[i], verdicts[i].sms_status) for i in sorted(blocked)
                       if verdicts[i].sms_block is SmsBlock.REJECT)
        counters.rejected += len(failed)
        counters.dropped += len(blocked) - len(failed)
        if len(blocked) == len(dests):
            seq = pdu.sequence_number
            if failed:
                self.pair.dout.append(rejection(seq, failed[0].error_status_code, failed))
            else:
                self.pair.dout.append(response_for(pdu.command_id, seq, Status.ESME_ROK,
                                                   self.proxy.message_id()))
            return
        counters.forwarded += 1
        self.pair.forward_up(without_dests(h.raw, blocked), pdu.sequence_number,
                             pdu.command_id, failed)

    def expire(self, now: float) -> None:
        """Judge the concatenated groups held past the timeout on what arrived."""
        if len(self.reasm):
            for group in self.reasm.expire(now):
                self._judge_group(group)
        else:
            self.reasm.expire(now)

    def release(self) -> None:
        """Answer every held part with the temporary error (upstream lost, shutdown)."""
        for group in self.reasm.drain():
            for h in group.ordered():
                if group.key[0] is Direction.IN:  # type: ignore[index]
                    self.pair.refuse(h.pdu.command_id, h.pdu.sequence_number)
