"""Helpers for the SMPP end-to-end tests: the simulator as a real process, the proxy
on real sockets in a background event loop, and a synchronous smpplib ESME."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import smpplib.client
import smpplib.consts

from gateway.config import SmppClientConfig, SmppConfig, UpstreamConfig
from gateway.model import Action, Event, Verdict
from gateway.numbers import Numbering
from gateway.smpp.proxy import Proxy

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"


class ListJudge:
    """Stand-in for the engine until it lands on main: BLOCK senders on the blocked list
    and texts containing a spam phrase; ALLOW the rest."""

    def __init__(self, numbering: Numbering, blocked_file: Path = DATA / "smpp_blocked_numbers.txt",
                 phrases: tuple[str, ...] = ("claim your prize",)) -> None:
        self.blocked = {numbering.parse(line.strip()).key
                        for line in blocked_file.read_text().splitlines()
                        if line.strip() and not line.startswith("#")}
        self.phrases = phrases
        self.events: list[Event] = []

    def evaluate(self, event: Event) -> Verdict:
        self.events.append(event)
        if event.src.key in self.blocked:
            return Verdict(Action.BLOCK, rules=("blocked_numbers",))
        text = (event.text or "").casefold()
        if any(p in text for p in self.phrases):
            return Verdict(Action.BLOCK, rules=("spam_phrase",))
        return Verdict(Action.ALLOW)


@dataclass
class Sim:
    proc: subprocess.Popen[str]
    port: int
    record: Path

    def records(self, event: str | None = None) -> list[dict[str, Any]]:
        if not self.record.exists():
            return []
        rows = [json.loads(line) for line in self.record.read_text().splitlines() if line]
        return [r for r in rows if event is None or r["event"] == event]

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def start_sim(record: Path, *args: str, port: int = 0) -> Sim:
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway.smpp.sim", "--listen", f"127.0.0.1:{port}",
         "--record", str(record), *args],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("listening"):
        proc.kill()
        raise RuntimeError(f"simulator did not start: {line!r}")
    return Sim(proc, int(line.rsplit(":", 1)[1]), record)


@dataclass
class RunningProxy:
    proxy: Proxy
    loop: asyncio.AbstractEventLoop
    judge: Any

    @property
    def port(self) -> int:
        return self.proxy.port

    def call(self, fn: Callable[[], Any]) -> Any:
        async def run() -> Any:
            return fn()
        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(10)


@contextlib.contextmanager
def running_proxy(upstream_port: int, *, clients: tuple[SmppClientConfig, ...] = (),
                  judge: Any = None, **smpp: Any) -> Iterator[RunningProxy]:
    numbering = Numbering("GB")
    judge = judge or ListJudge(numbering)
    config = SmppConfig(listen="127.0.0.1:0", clients=clients,
                        upstream=UpstreamConfig(address=f"127.0.0.1:{upstream_port}",
                                                connect_timeout=3.0), **smpp)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    proxy = Proxy(config, judge, numbering)
    try:
        asyncio.run_coroutine_threadsafe(proxy.start(), loop).result(10)
        yield RunningProxy(proxy, loop, judge)
    finally:
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(proxy.stop(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


@dataclass
class Esme:
    """smpplib as the independent synchronous client, collecting what comes back."""

    client: smpplib.client.Client
    sent: list[Any] = field(default_factory=list)  # submit_sm_resp PDUs, any status
    received: list[Any] = field(default_factory=list)  # deliver_sm PDUs
    unbound: bool = False

    def submit(self, src: str, dst: str, short_message: bytes, **kw: Any) -> Any:
        return self.client.send_message(
            source_addr_ton=1, source_addr_npi=1, source_addr=src, dest_addr_ton=1,
            dest_addr_npi=1, destination_addr=dst, short_message=short_message, **kw)

    def read_until(self, done: Callable[[], bool], max_reads: int = 200) -> None:
        for _ in range(max_reads):
            if done():
                return
            try:
                pdu = self.client.read_pdu()
            except smpplib.exceptions.ConnectionError:
                return
            except TimeoutError:
                continue
            if pdu.command == "submit_sm_resp":
                self.sent.append(pdu)
            elif pdu.command == "deliver_sm":
                self.received.append(pdu)
                self.client._message_received(pdu)
            elif pdu.command == "unbind":
                self.unbound = True
                resp = smpplib.smpp.make_pdu("unbind_resp", client=self.client)
                resp.sequence = pdu.sequence
                self.client.send_pdu(resp)
        assert done(), "expected PDUs did not arrive"


@contextlib.contextmanager
def esme(port: int, system_id: str = "acme", password: str = "secret") -> Iterator[Esme]:
    client = smpplib.client.Client("127.0.0.1", port, timeout=10,
                                   allow_unknown_opt_params=True)
    client.connect()
    client.set_message_received_handler(lambda pdu: smpplib.consts.SMPP_ESME_ROK)
    try:
        client.bind_transceiver(system_id=system_id, password=password)
        yield Esme(client)
    finally:
        with contextlib.suppress(Exception):
            client.disconnect()
