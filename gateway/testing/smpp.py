"""An ESME on a plain socket speaking through spamgw's own SMPP codec and session
(``gateway.smpp.session``): it binds, sends any PDU the codec has (submit_sm,
submit_multi, replace_sm ...) and reads what comes back; it answers deliver_sm
itself unless ``answer`` is false (then they wait in ``read_requests``)."""

from __future__ import annotations

import socket
import ssl
from typing import Any

from gateway.smpp.codec import response_for
from gateway.smpp.pdu import RESPONSE_BIT, BindTransceiver, CommandId, SubmitSm
from gateway.smpp.session import PduReceived, Role, Session

__all__ = ["Esme", "submit_once"]


class Esme:
    """Binds as a transceiver on connect (``system_id``/``password``) and asserts the
    bind was accepted."""

    def __init__(self, port: int, system_id: str = "acme", answer: bool = True,
                 tls: ssl.SSLContext | None = None, *, host: str = "127.0.0.1",
                 password: str = "secret", timeout: float = 10.0) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        if tls is not None:  # SMPP over TLS, the listener's certificate verified
            self.sock = tls.wrap_socket(self.sock, server_hostname=host)
        self.session = Session(Role.ESME)
        self.answer = answer
        self._responses: list[Any] = []
        self._requests: list[Any] = []
        self.send(BindTransceiver(system_id=system_id, password=password))
        (resp,) = self.read(1)
        assert resp.command_status == 0, resp

    def send(self, pdu: Any) -> int:
        """Send ``pdu`` (its sequence number given by the session); returns it."""
        data = self.session.send(pdu)
        self.sock.sendall(data)
        return int.from_bytes(data[12:16], "big")

    def read(self, count: int) -> list[Any]:
        """The next ``count`` responses."""
        while len(self._responses) < count:
            self._pump()
        got, self._responses = self._responses[:count], self._responses[count:]
        return got

    def read_requests(self, count: int) -> list[Any]:
        """The next ``count`` requests from the gateway (``answer=False``), unanswered."""
        while len(self._requests) < count:
            self._pump()
        got, self._requests = self._requests[:count], self._requests[count:]
        return got

    def _pump(self) -> None:
        data = self.sock.recv(65536)
        assert data, "connection closed"
        for ev in self.session.receive_data(data):
            assert isinstance(ev, PduReceived), ev
            pdu = ev.pdu
            if pdu.command_id & RESPONSE_BIT:
                self._responses.append(pdu)
            elif pdu.command_id == CommandId.DELIVER_SM and self.answer:
                self.sock.sendall(response_for(pdu.command_id, pdu.sequence_number, 0))
            else:
                self._requests.append(pdu)

    def close(self) -> None:
        self.sock.close()


def submit_once(port: int, text: bytes, *, system_id: str = "acme",
                src: str = "447700900123", dst: str = "447700900456") -> int:
    """Bind, send one submit_sm (international numbers), read its answer (asserting
    it answers that sequence number) and close; returns its command_status. The
    check that a gateway still relays after an attack or a fuzz run."""
    esme = Esme(port, system_id=system_id)
    try:
        seq = esme.send(SubmitSm(source_addr_ton=1, source_addr=src, dest_addr_ton=1,
                                 destination_addr=dst, short_message=text))
        (resp,) = esme.read(1)
        assert resp.sequence_number == seq, (resp, seq)
        return int(resp.command_status)
    finally:
        esme.close()
