"""An ESME on smpplib with a window of outstanding submit_sm, for locust (gevent).

``WindowedEsme`` binds as a transceiver, sends submit_sm without waiting for each
answer (at most ``window`` outstanding), and a reader greenlet calls ``on_response``
with the request's context, its command_status and its round trip in seconds.
It answers deliver_sm (receipts, MO) and enquire_link as an ESME must.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import gevent
import gevent.lock
import smpplib.client
import smpplib.consts
import smpplib.exceptions
import smpplib.gsm

from users.scenarios import Sms

__all__ = ["WindowedEsme"]

Response = Callable[[Any, int, float], None]


class WindowedEsme:
    def __init__(self, host: str, port: int, system_id: str, password: str = "secret",
                 window: int = 10, timeout: float = 10.0) -> None:
        self.client = smpplib.client.Client(host, port, timeout=timeout,
                                            allow_unknown_opt_params=True)
        self.system_id = system_id
        self.password = password
        self.window = window
        self.timeout = timeout
        self.slots = gevent.lock.BoundedSemaphore(window)
        self.pending: dict[int, tuple[float, Any]] = {}
        self.on_response: Response = lambda ctx, status, rt: None
        self.on_error: Callable[[str], None] = lambda msg: None
        self._reader: gevent.Greenlet | None = None
        self.closing = False
        # the reader greenlet answers deliver_sm and enquire_link on the same socket:
        # one writer at a time, or two PDUs could interleave on a full socket
        lock = gevent.lock.RLock()
        send = self.client.send_pdu

        def locked_send(p: Any) -> bool:
            with lock:
                return bool(send(p))

        self.client.send_pdu = locked_send

    def start(self) -> None:
        c = self.client
        c.set_message_sent_handler(self._sent)
        c.set_message_received_handler(lambda pdu, **kw: smpplib.consts.SMPP_ESME_ROK)
        c.set_error_pdu_handler(lambda pdu: None)  # statuses are judged in _sent
        c.connect()
        c.bind_transceiver(system_id=self.system_id, password=self.password)
        self._reader = gevent.spawn(self._read)

    def _read(self) -> None:
        while not self.closing:
            try:
                self.client.read_once()
            except (smpplib.exceptions.ConnectionError, OSError) as e:
                if not self.closing:
                    self.on_error(f"connection lost: {e or type(e).__name__}")
                self._fail_pending("connection lost")
                return
            except smpplib.exceptions.PDUError as e:
                self.on_error(f"bad PDU from the gateway: {e}")

    def _sent(self, pdu: Any, **kw: Any) -> None:
        entry = self.pending.pop(pdu.sequence, None)
        if entry is None:
            return
        t0, ctx = entry
        self.slots.release()
        self.on_response(ctx, int(pdu.status), time.perf_counter() - t0)

    def _fail_pending(self, why: str) -> None:
        pending, self.pending = self.pending, {}
        for _t0, ctx in pending.values():
            self.slots.release()
            self.on_response(ctx, -1, 0.0)

    def submit(self, sms: Sms, ctx: Callable[[int], Any]) -> int:
        """Send ``sms`` (as concatenated parts when long); ``ctx(part)`` gives the
        context handed back with each part's response. Blocks while the window is
        full. Returns the number of PDUs sent."""
        parts, coding, esm = smpplib.gsm.make_parts(sms.text)
        for i, part in enumerate(parts):
            if not self.slots.acquire(timeout=self.timeout):
                raise TimeoutError(f"window of {self.window} full for {self.timeout:g} s")
            pdu = smpplib.client.smpp.make_pdu(
                "submit_sm", client=self.client,
                source_addr_ton=sms.src_ton, source_addr_npi=sms.src_npi,
                source_addr=sms.src, dest_addr_ton=1, dest_addr_npi=1,
                destination_addr=sms.dst, short_message=part, data_coding=coding,
                esm_class=esm, registered_delivery=0)
            self.pending[pdu.sequence] = (time.perf_counter(), ctx(i))
            try:
                self.client.send_pdu(pdu)
            except smpplib.exceptions.ConnectionError:
                self.pending.pop(pdu.sequence, None)
                self.slots.release()
                raise
        return len(parts)

    def wait_idle(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self.pending and time.monotonic() < deadline:
            gevent.sleep(0.01)
        return not self.pending

    def close(self) -> None:
        self.wait_idle(self.timeout)
        self.closing = True
        try:
            if self.client.state in (smpplib.consts.SMPP_CLIENT_STATE_BOUND_TRX,):
                self.client.send_pdu(smpplib.client.smpp.make_pdu("unbind",
                                                                  client=self.client))
                gevent.sleep(0.05)
        except (smpplib.exceptions.ConnectionError, smpplib.exceptions.PDUError, OSError):
            pass
        if self._reader is not None:
            self._reader.kill(block=False)
        self.client.disconnect()
