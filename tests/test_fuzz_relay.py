"""A hypothesis state machine against the real relay (issue 13, fuzzing): ESMEs on
loopback sockets to a ``python -m gateway run`` process whose SMPP proxy sits in front
of the bundled SMSC simulator (which sends delivery receipts), with a small window.
Each run opens up to three connections and interleaves at random binds of the three
kinds, submits (receipts asked or not), enquire_links, unbinds, answers to the
proxy's deliver_sm (on time, late, never, with a wrong sequence number), responses
nobody asked for, garbage and closes.

What must hold whatever the order:
- everything the proxy sends frames and decodes as a PDU;
- a response answers a request this connection sent, once (a connection fed garbage
  may also get generic_nack for what the garbage looked like);
- on a connection still open at the end, every request is answered;
- after each run a new ESME binds and submits through the same process, and the
  process never writes a traceback.

Each step is one input; ``FIGURES`` counts them. ``SPAMGW_FUZZ_EXAMPLES`` sets the
runs (CI: the default)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "smpp"))
from smpp_support import free_port, gateway_config, start_sim  # noqa: E402

from gateway.smpp import pdu as P  # noqa: E402
from gateway.smpp.codec import HEADER, decode, encode, response_for  # noqa: E402
from gateway.testing.smpp import submit_once  # noqa: E402

pytestmark = pytest.mark.timeout(600)

EXAMPLES = int(os.environ.get("SPAMGW_FUZZ_EXAMPLES", "25"))
FIGURES: Counter[str] = Counter()
RESP = P.RESPONSE_BIT
NUMBERS = ["447700900123", "447700900456", "447700900555", "12345", "ACMEBANK", ""]


@dataclass
class Conn:
    sock: socket.socket
    seq: int = 0
    #: our requests by sequence number: command id
    requests: dict[int, int] = field(default_factory=dict)
    #: responses the proxy sent: (command id, status, sequence number)
    responses: list[tuple[int, int, int]] = field(default_factory=list)
    #: the proxy's requests (deliver_sm, enquire_link...) we have not answered: seq
    asked: list[tuple[int, int]] = field(default_factory=list)
    buf: bytearray = field(default_factory=bytearray)
    closed: bool = False  # by the proxy (EOF, reset) or by us
    tainted: bool = False  # garbage was sent: the proxy may nack what it looked like

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def send(self, data: bytes) -> None:
        if self.closed:
            return
        try:
            self.sock.sendall(data)
        except OSError:
            self.closed = True

    def request(self, pdu: P.Pdu) -> None:
        if self.closed:
            return
        seq = self.next_seq()
        self.requests[seq] = pdu.command_id
        self.send(encode(_with_seq(pdu, seq)))

    def pump(self, wait: float = 0.0) -> None:
        """Read what has arrived (waiting up to ``wait`` for the first bytes)."""
        if self.closed:
            return
        self.sock.settimeout(wait if wait else 0.0)
        while True:
            try:
                data = self.sock.recv(65536)
            except (BlockingIOError, TimeoutError):
                break
            except OSError:
                self.closed = True
                break
            if not data:
                self.closed = True
                break
            self.buf += data
            self.sock.settimeout(0.0)
        while len(self.buf) >= 16:
            length, cid, status, seq = HEADER.unpack_from(self.buf)
            assert 16 <= length <= 65536, bytes(self.buf[:16]).hex()
            if len(self.buf) < length:
                break
            frame = bytes(self.buf[:length])
            del self.buf[:length]
            decode(frame)  # whatever the proxy sends is a PDU
            if cid & RESP:
                self.responses.append((cid, status, seq))
            else:
                self.asked.append((cid, seq))


def _with_seq(pdu: P.Pdu, seq: int) -> P.Pdu:
    import dataclasses

    return dataclasses.replace(pdu, sequence_number=seq)


@dataclass
class Gateway:
    proc: subprocess.Popen[bytes]
    port: int
    log: Path


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    tmp = tmp_path_factory.mktemp("relay-fuzz")
    sim = start_sim(tmp / "sim.jsonl", "--dlr")
    port = free_port()
    config = gateway_config(tmp / "spamgw.toml", port, sim.port, smpp="""
window = 3
esme_response_timeout = 0.5
concat_timeout = 0.5
""")
    log = tmp / "gateway.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "gateway", "run", "--config",
                                 str(config)], stdout=out, stderr=subprocess.STDOUT,
                                env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    try:
        for _ in range(1500):
            assert proc.poll() is None, log.read_text()
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port)):
                break
            time.sleep(0.02)
        yield Gateway(proc, port, log)
    finally:
        proc.kill()
        proc.wait(10)
        sim.stop()
    FIGURES["relay log lines"] = len(log.read_text(errors="replace").splitlines())


class RelayMachine(RuleBasedStateMachine):
    gw: Gateway  # set by the test below
    conns = Bundle("conns")

    def __init__(self) -> None:
        super().__init__()
        self.open: list[Conn] = []
        self.held = 0
        FIGURES["relay runs"] += 1

    def step(self, conn: Conn) -> None:
        FIGURES["relay inputs"] += 1
        conn.pump()

    # how many are open as far as the steps know (the proxy closing one would make the
    # precondition depend on timing, and hypothesis replays steps exactly)
    @precondition(lambda self: self.held < 3)
    @rule(target=conns)
    def connect(self) -> Conn:
        FIGURES["relay inputs"] += 1
        conn = Conn(socket.create_connection(("127.0.0.1", self.gw.port), timeout=10))
        self.open.append(conn)
        self.held += 1
        return conn

    @rule(conn=conns, kind=st.sampled_from([P.BindTransceiver, P.BindTransmitter,
                                            P.BindReceiver]),
          system_id=st.sampled_from(["acme", "beta", "fuzz"]))
    def bind(self, conn: Conn, kind: type[P.Pdu], system_id: str) -> None:
        conn.request(kind(system_id=system_id, password="secret"))  # type: ignore[call-arg]
        self.step(conn)

    @rule(conn=conns, src=st.sampled_from(NUMBERS), dst=st.sampled_from(NUMBERS),
          text=st.binary(max_size=160), dlr=st.sampled_from([0, 1]),
          udh=st.booleans())
    def submit(self, conn: Conn, src: str, dst: str, text: bytes, dlr: int, udh: bool) -> None:
        esm = 0x40 if udh else 0  # a UDH flag whatever the text says: a lying UDH
        conn.request(P.SubmitSm(source_addr_ton=1 if src.isdigit() else 5, source_addr=src,
                                dest_addr_ton=1, destination_addr=dst, esm_class=esm,
                                registered_delivery=dlr, short_message=text))
        self.step(conn)

    @rule(conn=conns)
    def enquire_link(self, conn: Conn) -> None:
        conn.request(P.EnquireLink())
        self.step(conn)

    @rule(conn=conns)
    def unbind(self, conn: Conn) -> None:
        conn.request(P.Unbind())
        self.step(conn)

    @rule(conn=conns, status=st.sampled_from([0, 0, 0x58, 0x08]), wrong=st.booleans())
    def answer_the_proxy(self, conn: Conn, status: int, wrong: bool) -> None:
        """Answer the oldest request the proxy sent us (a receipt, an enquire_link)."""
        conn.pump()
        if conn.asked:
            cid, seq = conn.asked.pop(0)
            conn.send(response_for(cid, seq + 7 if wrong else seq, status))
        self.step(conn)

    @rule(conn=conns, cid=st.sampled_from([P.CommandId.SUBMIT_SM_RESP,
                                           P.CommandId.DELIVER_SM_RESP,
                                           P.CommandId.ENQUIRE_LINK_RESP,
                                           P.CommandId.GENERIC_NACK,
                                           P.CommandId.UNBIND_RESP]),
          seq=st.integers(1, 0x7FFFFFFF), status=st.integers(0, 0xFF))
    def stray_response(self, conn: Conn, cid: int, seq: int, status: int) -> None:
        conn.send(response_for(cid, seq, status))
        self.step(conn)

    @rule(conn=conns, junk=st.binary(min_size=1, max_size=48))
    def garbage(self, conn: Conn, junk: bytes) -> None:
        conn.tainted = True
        conn.send(junk)
        self.step(conn)

    @rule(conn=consumes(conns))
    def close(self, conn: Conn) -> None:
        FIGURES["relay inputs"] += 1
        self.held -= 1
        conn.pump()
        conn.closed = True
        conn.sock.close()

    @invariant()
    def responses_answer_requests(self) -> None:
        for conn in self.open:
            _check_responses(conn)

    def teardown(self) -> None:
        try:
            for conn in self.open:
                self.finish(conn)
            _alive(self.gw)
        finally:
            for conn in self.open:
                conn.sock.close()

    def finish(self, conn: Conn) -> None:
        """Until every request of an open connection is answered, or it closes."""
        if conn.closed:
            return
        conn.request(P.EnquireLink())
        deadline = time.monotonic() + 20
        while not conn.closed and time.monotonic() < deadline:
            answered = {seq for _cid, _st, seq in conn.responses}
            if set(conn.requests) <= answered:
                break
            for cid, seq in conn.asked:  # keep the proxy's own requests answered
                conn.send(response_for(cid, seq, 0))
            conn.asked.clear()
            conn.pump(wait=0.2)
        _check_responses(conn)
        if not conn.closed:
            answered = {seq for _cid, _st, seq in conn.responses}
            missing = {s: hex(c) for s, c in conn.requests.items() if s not in answered}
            assert not missing, f"unanswered on an open connection: {missing}"


def _check_responses(conn: Conn) -> None:
    seen: Counter[int] = Counter()
    for cid, _status, seq in conn.responses:
        if cid == P.CommandId.GENERIC_NACK and (conn.tainted or seq not in conn.requests):
            assert conn.tainted or seq == 0 or seq in conn.requests, (hex(cid), seq)
            continue
        assert seq in conn.requests, f"response 0x{cid:08x} to seq {seq} nobody sent"
        assert cid in (conn.requests[seq] | RESP, P.CommandId.GENERIC_NACK), (hex(cid), seq)
        seen[seq] += 1
        assert seen[seq] == 1, f"seq {seq} answered twice"


def _alive(gw: Gateway) -> None:
    assert gw.proc.poll() is None, gw.log.read_text()[-3000:]
    assert submit_once(gw.port, b"after the fuzz", system_id="checker") == 0


def test_relay_state_machine(gateway: Gateway) -> None:
    RelayMachine.gw = gateway
    run_state_machine_as_test(RelayMachine, settings=settings(
        max_examples=EXAMPLES, stateful_step_count=30, deadline=None,
        suppress_health_check=list(HealthCheck)))
    assert "Traceback" not in gateway.log.read_text(errors="replace")
    print(f"\nfuzz figures ({EXAMPLES} runs): " + ", ".join(
        f"{k}: {v}" for k, v in sorted(FIGURES.items())))
