"""Helpers for the SMPP end-to-end tests: the simulator as a real process, the proxy
on real sockets in a background event loop with the real decision core
(``build_core`` over the shipped rules/ and rules/lists/, or a rules dir a test
writes), and a synchronous smpplib ESME."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import subprocess
import threading
import time
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import smpplib.client
import smpplib.consts

from gateway.app import Core, build_core
from gateway.config import (
    Config,
    ListsConfig,
    PluginsConfig,
    RulesConfig,
    SmppClientConfig,
    SmppConfig,
    UpstreamConfig,
)
from gateway.engine import Engine
from gateway.model import Event, Verdict
from gateway.smpp.proxy import Proxy
from gateway.testing.config import write_config
from gateway.testing.ports import free_port
from gateway.testing.process import GatewayProcess, start_smsc_sim, stop
from gateway.testing.smpp import Esme as RawEsme

__all__ = ["ADMIN_TOKEN", "DATA", "ROOT", "RULES", "Esme", "RawEsme", "Recorder", "RunningProxy",
           "Sim", "esme", "free_port", "gateway_config", "gateway_process", "make_core",
           "rules_dir", "running_proxy", "start_sim"]

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
RULES = ROOT / "rules"


def make_core(rules: Path = RULES, lists: Path | None = None) -> Core:
    """The real core over a rules dir (default: the shipped one) and its lists."""
    config = Config(rules=RulesConfig(str(rules)),
                    lists=ListsConfig(str(lists or RULES / "lists")),
                    plugins=PluginsConfig(dir=str(ROOT / "plugins")))
    return build_core(config)


def rules_dir(tmp: Path, extra: str) -> Path:
    """A copy of the shipped rules with ``extra`` (TOML rules) added as 90-test.toml."""
    target = tmp / "rules"
    target.mkdir()
    for f in RULES.glob("*.toml"):
        (target / f.name).write_text(f.read_text())
    (target / "90-test.toml").write_text(extra)
    return target


class Recorder:
    """The real engine, recording what it was asked and what it answered."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.events: list[Event] = []
        self.verdicts: list[Verdict] = []

    def evaluate(self, event: Event) -> Verdict:
        v = self.engine.evaluate(event)
        self.events.append(event)
        self.verdicts.append(v)
        return v


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

    def mo(self, src: str, dst: str, text: str) -> None:
        """Have the simulator send an MO deliver_sm (needs ``--mo-stdin``)."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"mo {src} {dst} {text}\n")
        self.proc.stdin.flush()

    def wait_for(self, event: str, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rows = self.records(event)
            if len(rows) >= count:
                return rows
            time.sleep(0.01)
        raise AssertionError(f"simulator recorded {len(self.records(event))} {event!r}, "
                             f"expected {count}")

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        stop(self.proc, grace=10)


def start_sim(record: Path, *args: str, port: int = 0) -> Sim:
    """``spamgw smsc-sim`` as a process (``python -m gateway smsc-sim``)."""
    proc, bound = start_smsc_sim("--record", str(record), *args, port=port, cwd=ROOT,
                                 stdin=subprocess.PIPE if "--mo-stdin" in args else None)
    return Sim(proc, bound, record)


@dataclass
class RunningProxy:
    proxy: Proxy
    loop: asyncio.AbstractEventLoop
    judge: Any  # a Recorder around the real engine, unless a test passed its own

    @property
    def port(self) -> int:
        return self.proxy.port

    def call(self, fn: Callable[[], Any]) -> Any:
        async def run() -> Any:
            return fn()
        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(10)


@contextlib.contextmanager
def running_proxy(upstream_port: int | tuple[int, ...], *,
                  clients: tuple[SmppClientConfig, ...] = (),
                  core: Core | None = None, judge: Any = None,
                  response_timeout: float = 30.0, upstream_tls_ca: str | None = None,
                  health_interval: float = 5.0, **smpp: Any) -> Iterator[RunningProxy]:
    """``upstream_port``: one SMSC's port, or a pool's; ``upstream_tls_ca``: SMPP over
    TLS to the upstream, verified against this CA file ("" for the system's CAs)."""
    core = core or make_core()
    numbering = core.numbering
    judge = judge or Recorder(core.engine)
    address = (f"127.0.0.1:{upstream_port}" if isinstance(upstream_port, int)
               else tuple(f"127.0.0.1:{p}" for p in upstream_port))
    config = SmppConfig(listen="127.0.0.1:0", clients=clients,
                        upstream=UpstreamConfig(address=address, connect_timeout=3.0,
                                                health_interval=health_interval,
                                                response_timeout=response_timeout,
                                                tls=upstream_tls_ca is not None,
                                                tls_ca=upstream_tls_ca or ""), **smpp)
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


ADMIN_TOKEN = "smpp-test-token"


def gateway_config(path: Path, smpp_port: int, upstream_port: int, *, smpp: str = "",
                   admin_port: int = 0) -> Path:
    """A config for ``python -m gateway run``: the SMPP proxy on ``smpp_port`` in front
    of the simulator, the shipped rules and lists, no plugins, no FastAGI, and no admin
    unless ``admin_port`` (token ``ADMIN_TOKEN``); ``smpp``: TOML, its keys more
    ``[smpp]`` keys, its tables more sections."""
    extra = tomllib.loads(smpp)
    sections = {k: v for k, v in extra.items() if isinstance(v, dict)}
    admin: dict[str, Any] = ({"listen": f"127.0.0.1:{admin_port}", "token": ADMIN_TOKEN}
                             if admin_port else {"enabled": False})
    (path.parent / "no-plugins").mkdir(exist_ok=True)
    return write_config(
        path,
        smpp={"listen": f"127.0.0.1:{smpp_port}",
              **{k: v for k, v in extra.items() if k not in sections},
              "upstream": {"address": f"127.0.0.1:{upstream_port}"}},
        admin=admin, agi={"enabled": False},
        rules={"dir": ROOT / "rules"}, lists={"dir": ROOT / "rules" / "lists"},
        plugins={"dir": path.parent / "no-plugins", "missing_symbols": "disable"},
        log={"level": "warning"}, **sections)


@contextlib.contextmanager
def gateway_process(config: Path, port: int) -> Iterator[subprocess.Popen[str]]:
    """``python -m gateway run --config config`` in the config's folder, once it
    accepts connections on ``port`` (its stderr is a pipe, for the test to read);
    killed on the way out if the test did not stop it."""
    gw = GatewayProcess(config, port, stdout=None, timeout=10).start()
    try:
        yield gw.proc
    finally:
        gw.stop(grace=0)
