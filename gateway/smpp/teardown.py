"""When a leg fails or goes: the pair's teardown, and requests either side leaves
unanswered.

- ``upstream.response_timeout``: a request the SMSC has not answered in time gets
  the temporary error (``upstream.temporary_error_status``, 0x58 by default) so the
  ESME resends it; its sequence number stays reserved for twice the timeout, and a
  response arriving in that time is dropped and counted (``late_responses``), never
  passed on as a second answer. A bind left unanswered gets ESME_RBINDFAIL.
- ``esme_response_timeout``: the other way round, a deliver_sm or data_sm (MO or
  receipt) the ESME has not answered in time is answered to the SMSC with the same
  temporary error, so the SMSC delivers it again; its sequence number is reserved
  the same way and the ESME's late answer is dropped and counted
  (``esme_late_responses``). An unbind from the SMSC left unanswered is answered
  unbind_resp and the pair closed.
- ``bind_timeout``: a connection not bound in time (silent, or a bind sent a byte at
  a time) is closed; ``idle_timeout``: a bound ESME silent that long (while it is
  read) gets an enquire_link, and silent ``esme_response_timeout`` more is closed.
- upstream lost: every outstanding request gets the temporary error, held
  concatenated parts and requests waiting for room in the window too, and the ESME
  is unbound cleanly.
- ESME gone: the upstream is unbound and closed.
- shutdown (after the drain): whatever is left gets the temporary error, both legs
  are unbound and closed.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import structlog

from gateway.smpp.codec import encode_header, response_for
from gateway.smpp.pdu import CommandId, Status, Unbind
from gateway.smpp.session import State

if TYPE_CHECKING:
    from gateway.smpp.pair import Pair

__all__ = ["BINDS", "OWN", "close_silent", "close_soon", "down_lost", "expire_down",
           "expire_requests", "shutdown", "up_lost"]

log = structlog.get_logger("spamgw.smpp")
C = CommandId
BINDS = frozenset({C.BIND_TRANSMITTER, C.BIND_RECEIVER, C.BIND_TRANSCEIVER})
OWN = -1  # up_pending marker: a request the proxy itself sent (enquire_link)


def _overdue(pending: dict[int, tuple[int, int, float]], cutoff: float) -> list[int]:
    """Sequence numbers of the requests sent before ``cutoff``. ``pending`` is in send
    order, so the scan stops at the first younger one."""
    late: list[int] = []
    for seq, (_other, _cid, sent) in pending.items():
        if sent > cutoff:
            break
        late.append(seq)
    return late


def expire_requests(pair: Pair, now: float) -> None:
    """Answer what the SMSC left unanswered past ``upstream.response_timeout``."""
    late = _overdue(pair.up_pending, now - pair.proxy.config.upstream.response_timeout)
    if not late:
        return
    counters = pair.proxy.counters
    bind_failed = False
    for up_seq in late:
        down_seq, cid, _sent = pair.up_pending.pop(up_seq)
        pair.multi_failed.pop(up_seq, None)
        pair.timed_out[up_seq] = now
        if down_seq == OWN:
            continue
        counters.timeouts += 1
        if cid in BINDS:
            bind_failed = True
            pair.uncount()
            pair.hold("bind", False)
            pair.dout.append(response_for(cid, down_seq, Status.ESME_RBINDFAIL))
        else:  # the temporary error (an unbind: answered ok and closed)
            pair.refuse(cid, down_seq)
    log.warning("smsc did not answer in time", system_id=pair.system_id,
                requests=len(late), timeout=pair.proxy.config.upstream.response_timeout)
    pair.update_window()
    if bind_failed and pair.up is not None:
        pair.flush()
        pair.up.close()


def expire_down(pair: Pair, now: float) -> None:
    """Answer the SMSC for what the ESME left unanswered past ``esme_response_timeout``."""
    timeout = pair.proxy.config.esme_response_timeout
    late = _overdue(pair.down_pending, now - timeout)
    if not late:
        return
    counters = pair.proxy.counters
    status = pair.proxy.temp_status
    unbind = False
    for down_seq in late:
        up_seq, cid, _sent = pair.down_pending.pop(down_seq)
        pair.down_timed_out[down_seq] = now
        counters.esme_timeouts += 1
        if cid == C.UNBIND:
            unbind = True
            pair.uout.append(response_for(cid, up_seq, Status.ESME_ROK))
            pair.usess.sent(C.UNBIND_RESP)
        else:
            pair.uout.append(response_for(cid, up_seq, status))
    log.warning("esme did not answer in time", system_id=pair.system_id,
                requests=len(late), timeout=timeout)
    if unbind:
        close_soon(pair, 0.0)


def close_silent(pair: Pair, now: float) -> bool:
    """Close a connection that never bound in ``bind_timeout``, or a bound ESME
    that answered nothing for ``esme_response_timeout`` after ``idle_timeout`` of
    silence and an enquire_link; True when closed."""
    config = pair.proxy.config
    if pair.dsess.bound:
        if not pair.reading:  # not read by choice (window, backpressure): not silent
            pair.last_down = now
            return False
        if now - pair.last_down < config.idle_timeout:
            return False
        if not pair.probe_sent:
            pair.probe_sent = now
            pair.probe_seq = seq = pair.dsess.next_sequence()
            pair.dout.append(encode_header(C.ENQUIRE_LINK, Status.ESME_ROK, seq))
            return False
        if now - pair.probe_sent < config.esme_response_timeout:
            return False
        pair.proxy.counters.idle_closed += 1
        pair.proxy.warn("idle", "smpp esme silent: closed", system_id=pair.system_id,
                        peer=pair.peer_ip, silent=round(now - pair.last_down, 1))
    else:
        if (pair.up is not None or pair.connecting is not None
                or pair.dsess.state is not State.OPEN
                or now - pair.opened < config.bind_timeout):
            return False
        pair.proxy.counters.bind_timeouts += 1
        pair.proxy.warn("bind timeout", "smpp connection not bound in time: closed",
                        peer=pair.peer_ip, timeout=config.bind_timeout)
    close_soon(pair, 0.0)
    return True


def up_lost(pair: Pair, exc: Exception | None) -> None:
    pair.up = None
    if pair.closed:
        return
    if exc is not None or pair.dsess.bound:
        log.warning("upstream lost", system_id=pair.system_id,
                    outstanding=len(pair.up_pending), error=str(exc) if exc else "eof")
    for down_seq, cid, _sent in pair.up_pending.values():
        if down_seq == OWN:
            continue
        if cid in BINDS:
            pair.uncount()
            pair.hold("bind", False)
            pair.dout.append(response_for(cid, down_seq, Status.ESME_RBINDFAIL))
        else:
            pair.refuse(cid, down_seq)
    pair.up_pending.clear()
    _refuse_waiting(pair)
    pair.down_pending.clear()
    pair.multi_failed.clear()
    pair.judging.release()
    if pair.dsess.bound:
        pair.unbind_seq = pair.dsess.next_sequence()
        pair.dout.append(pair.dsess.send(Unbind(sequence_number=pair.unbind_seq)))
        close_soon(pair, 2.0)
    pair.flush()
    pair.update_window()
    if pair.proxy.draining:
        pair.proxy.wake()


def _refuse_waiting(pair: Pair) -> None:
    """The requests still waiting for room in the window get the temporary error."""
    waiting = pair.waiting
    while waiting:
        _raw, down_seq, cid, _failed = waiting.popleft()
        pair.refuse(cid, down_seq)


def down_lost(pair: Pair, exc: Exception | None) -> None:
    pair.closed = True
    pair.waiting.clear()
    if pair.admitted:
        pair.admitted = False
        pair.proxy.per_ip.remove(pair.peer_ip)
    pair.proxy.pairs.discard(pair)
    pair.uncount()
    if pair.connecting is not None:
        pair.connecting.cancel()
    if pair.up_pending:
        log.warning("esme left with requests outstanding", system_id=pair.system_id,
                    outstanding=len(pair.up_pending))
    if pair.up is not None:
        if pair.usess.bound:
            pair.up.write(pair.usess.send(Unbind()))
        pair.up.close()
    pair.proxy.wake()


def close_soon(pair: Pair, delay: float) -> None:
    def close() -> None:
        if pair.down is not None:
            pair.down.close()
        if pair.up is not None:
            pair.up.close()

    if delay <= 0:
        pair.flush()
        close()
    else:
        asyncio.get_running_loop().call_later(delay, close)


def shutdown(pair: Pair) -> None:
    """End of drain: answer what is still held, unbind both legs, close."""
    pair.judging.release()
    for down_seq, cid, _sent in list(pair.up_pending.values()):
        if down_seq != OWN:
            pair.refuse(cid, down_seq)
    pair.up_pending.clear()
    _refuse_waiting(pair)
    if pair.dsess.bound:
        pair.unbind_seq = pair.dsess.next_sequence()
        pair.dout.append(pair.dsess.send(Unbind(sequence_number=pair.unbind_seq)))
    if pair.up is not None and pair.usess.bound:
        pair.uout.append(pair.usess.send(Unbind()))
    pair.flush()
    close_soon(pair, 1.0)
