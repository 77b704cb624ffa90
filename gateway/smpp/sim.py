"""``spamgw smsc-sim``: an SMSC simulator for the demo, the tests and the load tests.

Accepts any bind (or only the configured credentials), answers submit_sm,
submit_multi and data_sm with message ids (after an optional latency), sends a
delivery receipt (deliver_sm, esm_class 0x04) to the bind that submitted when
registered_delivery asks for one (``--dlr``), answers enquire_link and unbind, and
counts what it received. ``--record FILE`` writes one JSON line per message event
so tests can check what arrived, byte for byte and how many times:
``{"event": "received"|"accepted", "system_id", "seq", "message_id", "pdu": hex}``
("accepted" is written when the success response is sent; query_sm, cancel_sm
and replace_sm are answered without a store and recorded as "request").

``--mo-stdin`` reads lines ``mo SRC DST TEXT`` from stdin and sends each as an MO
deliver_sm (GSM text; TON international for ``+`` numbers, else unknown) to every
bound receiver or transceiver, recorded as "mo"; the answers to deliver_sm (MO or
receipt) are recorded as "deliver_resp" with their ``status``. It prints
``listening HOST:PORT`` on stdout once ready (``--listen 127.0.0.1:0`` picks a port)
and its counters as JSON on stderr when it stops (SIGINT/SIGTERM).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import time
from dataclasses import asdict, dataclass
from typing import IO, cast

from gateway.config import hostport
from gateway.smpp.codec import encode_header, response_for
from gateway.smpp.pdu import DeliverSm, Status, SubmitSm, Unbind
from gateway.smpp.session import PduReceived, Role, Session, State
from gateway.smpp.text import encode_gsm

__all__ = ["Simulator", "main"]

_MESSAGES = frozenset({0x04, 0x21, 0x103})
_BINDS = frozenset({0x01, 0x02, 0x09})


@dataclass(slots=True)
class SimCounters:
    binds: int = 0
    submits: int = 0
    receipts_sent: int = 0
    receipt_resps: int = 0
    bad_pdus: int = 0


@dataclass(frozen=True, slots=True)
class SimOptions:
    latency: float = 0.0
    dlr: bool = False
    system_id: str = ""
    password: str = ""


class Simulator:
    def __init__(self, options: SimOptions, record: IO[str] | None = None) -> None:
        self.options = options
        self.record = record
        self.counters = SimCounters()
        self._next_id = 0
        self.conns: set[_SmscConn] = set()

    def message_id(self) -> str:
        self._next_id += 1
        return f"{self._next_id:010x}"

    def write(self, event: str, system_id: str, seq: int, message_id: str,
              raw: bytes, **extra: int) -> None:
        if self.record is not None:
            self.record.write(json.dumps({"event": event, "system_id": system_id, "seq": seq,
                                          "message_id": message_id, "pdu": raw.hex(),
                                          **extra}) + "\n")
            self.record.flush()

    def send_mo(self, src: str, dst: str, text: str) -> int:
        """An MO deliver_sm to every bound receiver/transceiver; how many were sent."""
        sent = 0
        for conn in list(self.conns):
            if conn.transport is None or conn.session.state not in (State.BOUND_RX,
                                                                    State.BOUND_TRX):
                continue
            raw = conn.session.send(DeliverSm(
                source_addr_ton=_ton(src), source_addr_npi=1, source_addr=src.lstrip("+"),
                dest_addr_ton=_ton(dst), dest_addr_npi=1, destination_addr=dst.lstrip("+"),
                short_message=encode_gsm(text)))
            conn.transport.write(raw)
            self.write("mo", conn.system_id, int.from_bytes(raw[12:16], "big"), "", raw)
            sent += 1
        return sent


def _ton(addr: str) -> int:
    """International for ``+E.164``, unknown for the rest (short codes)."""
    return 1 if addr.startswith("+") else 0


class _SmscConn(asyncio.Protocol):
    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.session = Session(Role.SMSC)
        self.transport: asyncio.Transport | None = None
        self.system_id = ""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.transport = transport
        self.sim.conns.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.sim.conns.discard(self)
        self.transport = None

    def data_received(self, data: bytes) -> None:
        sim = self.sim
        out: list[bytes] = []
        later: list[tuple[int, int, str, bytes, SubmitSm | None]] = []
        for ev in self.session.receive_data(data):
            if not isinstance(ev, PduReceived):
                sim.counters.bad_pdus += 1
                if ev.reply:
                    out.append(ev.reply)
                continue
            pdu, cid, seq = ev.pdu, ev.pdu.command_id, ev.pdu.sequence_number
            if cid in _MESSAGES:
                sim.counters.submits += 1
                mid = sim.message_id()
                raw = bytes(ev.raw) if sim.record is not None or sim.options.dlr else b""
                sim.write("received", self.system_id, seq, mid, raw)
                later.append((cid, seq, mid, raw, pdu if isinstance(pdu, SubmitSm) else None))
            elif cid in _BINDS:
                opts = sim.options
                status = Status.ESME_ROK
                if opts.system_id and getattr(pdu, "system_id", "") != opts.system_id:
                    status = Status.ESME_RINVSYSID
                elif opts.password and getattr(pdu, "password", "") != opts.password:
                    status = Status.ESME_RINVPASWD
                if status == Status.ESME_ROK:
                    self.system_id = getattr(pdu, "system_id", "")
                    sim.counters.binds += 1
                body = b"smsc-sim\x00"
                out.append(encode_header(cid | 0x80000000, status, seq, len(body)) + body)
                self.session.sent(cid | 0x80000000, status)
            elif cid == 0x15:
                out.append(response_for(cid, seq, Status.ESME_ROK))
            elif cid == 0x06:
                out.append(response_for(cid, seq, Status.ESME_ROK))
                self.session.sent(0x80000006)
                self._write(out)
                if self.transport is not None:
                    self.transport.close()
                return
            elif cid == 0x80000005:
                sim.counters.receipt_resps += 1
                sim.write("deliver_resp", self.system_id, seq, "", b"",
                          status=pdu.command_status)
            elif cid & 0x80000000:
                pass
            else:  # query_sm, cancel_sm, replace_sm: accepted without a store
                sim.write("request", self.system_id, seq, "", bytes(ev.raw))
                out.append(response_for(cid, seq, Status.ESME_ROK))
        self._write(out)
        if later:
            if sim.options.latency > 0:
                asyncio.get_running_loop().call_later(sim.options.latency, self._answer, later)
            else:
                self._answer(later)

    def _write(self, out: list[bytes]) -> None:
        if out and self.transport is not None:
            self.transport.write(b"".join(out))

    def _answer(self, items: list[tuple[int, int, str, bytes, SubmitSm | None]]) -> None:
        if self.transport is None or self.transport.is_closing():
            return  # connection gone before the answer: not accepted
        sim = self.sim
        out = []
        for cid, seq, mid, raw, pdu in items:
            out.append(response_for(cid, seq, Status.ESME_ROK, mid))
            sim.write("accepted", self.system_id, seq, mid, raw)
            if sim.options.dlr and pdu is not None and pdu.registered_delivery & 0x03:
                out.append(self._receipt(pdu, mid))
        self._write(out)

    def _receipt(self, pdu: SubmitSm, mid: str) -> bytes:
        self.sim.counters.receipts_sent += 1
        stamp = time.strftime("%y%m%d%H%M")
        text = (f"id:{mid} sub:001 dlvrd:001 submit date:{stamp} done date:{stamp} "
                f"stat:DELIVRD err:000 text:{pdu.short_message[:20].decode('latin-1')}")
        dlr = DeliverSm(
            source_addr_ton=pdu.dest_addr_ton, source_addr_npi=pdu.dest_addr_npi,
            source_addr=pdu.destination_addr, dest_addr_ton=pdu.source_addr_ton,
            dest_addr_npi=pdu.source_addr_npi, destination_addr=pdu.source_addr,
            esm_class=0x04, short_message=text.encode("latin-1")[:255],
            tlvs=((0x001E, mid.encode() + b"\x00"), (0x0427, b"\x02")))
        return self.session.send(dlr)

    def unbind(self) -> None:
        if self.transport is not None and self.session.bound:
            self.transport.write(self.session.send(Unbind()))


async def _mo_from_stdin(sim: Simulator) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        parts = line.decode().rstrip("\n").split(" ", 3)
        if len(parts) == 4 and parts[0] == "mo":
            sim.send_mo(parts[1], parts[2], parts[3])


async def serve(listen: str, options: SimOptions, record: IO[str] | None,
                stop: asyncio.Event | None = None, mo_stdin: bool = False) -> SimCounters:
    sim = Simulator(options, record)
    host, port = hostport(listen)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _SmscConn(sim), host, port, reuse_address=True)
    sock = next(iter(getattr(server, "sockets", [])))
    print(f"listening {host}:{sock.getsockname()[1]}", flush=True)
    control = loop.create_task(_mo_from_stdin(sim)) if mo_stdin else None
    if stop is None:
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    if control is not None:
        control.cancel()
    server.close()
    for conn in list(sim.conns):
        conn.unbind()
    await asyncio.sleep(0.1)
    for conn in list(sim.conns):
        if conn.transport is not None:
            conn.transport.close()
    return sim.counters


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="spamgw smsc-sim", description=__doc__.splitlines()[0])
    ap.add_argument("--listen", default="127.0.0.1:2776", help="HOST:PORT (port 0: any)")
    ap.add_argument("--latency-ms", type=float, default=0.0, help="delay before each answer")
    ap.add_argument("--dlr", action="store_true", help="send delivery receipts when asked")
    ap.add_argument("--record", help="append JSON lines of received/accepted messages here")
    ap.add_argument("--system-id", default="", help="accept only this system_id")
    ap.add_argument("--password", default="", help="accept only this password")
    ap.add_argument("--mo-stdin", action="store_true",
                    help="send an MO deliver_sm for each stdin line 'mo SRC DST TEXT'")
    args = ap.parse_args(argv)
    options = SimOptions(args.latency_ms / 1000.0, args.dlr, args.system_id, args.password)
    record = open(args.record, "a", encoding="utf-8") if args.record else None  # noqa: SIM115
    try:
        try:
            import uvloop
        except ImportError:  # pragma: no cover
            counters = asyncio.run(serve(args.listen, options, record, mo_stdin=args.mo_stdin))
        else:
            counters = uvloop.run(serve(args.listen, options, record, mo_stdin=args.mo_stdin))
    finally:
        if record is not None:
            record.close()
    print(json.dumps(asdict(counters)), file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
