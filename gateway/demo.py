"""``spamgw demo``: the gateway with the bundled SMSC simulator as upstream.

Starts the simulator as a child process, runs the gateway (SMPP proxy, FastAGI
server, admin HTTP) in this process with ``examples/demo.toml``, sends a few
messages through the proxy as an ESME would, prints what happened to each, and
keeps serving until Ctrl-C (``--once`` stops after the sample traffic).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gateway.app import build_core, running
from gateway.config import hostport, load_config
from gateway.observe import configure_logging
from gateway.smpp.pdu import BindTransceiver, SubmitSm, Unbind
from gateway.smpp.session import PduReceived, Role, Session

__all__ = ["main"]

#: the demo runs from a spamgw checkout: its config names rules/ and rules/lists/
DEMO_CONFIG = Path("examples") / "demo.toml"


@dataclass(frozen=True, slots=True)
class Sample:
    what: str
    src: str
    src_ton: int
    dst: str
    text: str


SAMPLES = (
    Sample("clean person-to-person text", "447700900123", 1, "447700900456",
           "See you at the station at 5"),
    Sample("sender on blocked_numbers", "447700900666", 1, "447700900456", "Hello"),
    Sample("spoofed brand sender ID", "HMRC", 5, "447700900456",
           "You are due a tax refund of 310.50 GBP"),
    Sample("phishing link", "447700900301", 1, "447700900456",
           "Your parcel is held: pay the fee at https://parcel-redelivery.example/pay"),
    Sample("allowlisted bank OTP", "MyBank", 5, "447700900456", "Your code is 556677"),
)
STATUS = {0x00: "delivered to the SMSC", 0x65: "rejected 0x65 ESME_RX_R_APPN",
          0x58: "0x58 ESME_RTHROTTLED (temporary)"}


async def _send_samples(address: str) -> list[tuple[Sample, int, str]]:
    host, port = hostport(address)
    reader, writer = await asyncio.open_connection(host, port)
    session = Session(Role.ESME)
    writer.write(session.send(BindTransceiver(system_id="demo", password="demo")))
    results: list[tuple[Sample, int, str]] = []
    pending: dict[int, Sample] = {}

    async def read_until(done: Callable[[], bool]) -> None:
        while not done():
            data = await asyncio.wait_for(reader.read(65536), 10)
            if not data:
                raise ConnectionError("gateway closed the connection")
            for ev in session.receive_data(data):
                if isinstance(ev, PduReceived):
                    pdu = ev.pdu
                    if pdu.sequence_number in pending and pdu.is_response:
                        sample = pending.pop(pdu.sequence_number)
                        results.append((sample, pdu.command_status,
                                        getattr(pdu, "message_id", "")))

    await read_until(lambda: session.bound)
    for s in SAMPLES:
        text = s.text.encode("utf-8" if s.text.isascii() else "utf-16-be")
        pdu = SubmitSm(source_addr_ton=s.src_ton, source_addr_npi=0 if s.src_ton == 5 else 1,
                       source_addr=s.src, dest_addr_ton=1, dest_addr_npi=1,
                       destination_addr=s.dst, short_message=text)
        data = session.send(pdu)
        pending[session._seq] = s
        writer.write(data)
    await read_until(lambda: not pending)
    writer.write(session.send(Unbind()))
    with contextlib.suppress(ConnectionError, TimeoutError):
        await read_until(lambda: not session.bound)
    writer.close()
    return results


async def _demo(config_path: Path, once: bool) -> int:
    config = load_config(config_path)
    configure_logging(config.log)
    sim = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway", "smsc-sim", "--listen", config.smpp.upstream.addresses[0],
        "--dlr", stdout=asyncio.subprocess.PIPE)
    try:
        assert sim.stdout is not None
        line = (await asyncio.wait_for(sim.stdout.readline(), 30)).decode()
        print(f"SMSC simulator: {line.strip()} (pid {sim.pid})")
        core = build_core(config)
        async with running(core):
            print(f"spamgw: SMPP on {config.smpp.listen} -> upstream "
                  f"{config.smpp.upstream.address}; FastAGI on {config.agi.listen}; admin on "
                  f"http://{config.admin.listen}/ (token {config.admin.token!r})")
            print(f"rules version {core.engine.ruleset.version}: "
                  f"{len(core.engine.ruleset.rules)} rules\n")
            results = await _send_samples(config.smpp.listen)
            for sample, status, msgid in results:
                outcome = STATUS.get(status, f"status 0x{status:02x}")
                print(f"  {sample.what:32s} from {sample.src:14s} -> {outcome}"
                      + (f" (message_id {msgid})" if msgid else ""))
            if once:
                return 0
            print("\nRunning. Bind an ESME to the SMPP port, point Asterisk at the FastAGI "
                  "port, open the dashboard. Ctrl-C stops.")
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            await stop.wait()
        return 0
    finally:
        with contextlib.suppress(ProcessLookupError):
            sim.terminate()
        try:
            await asyncio.wait_for(sim.wait(), 5)
        except TimeoutError:
            sim.kill()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="spamgw demo", description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=str(DEMO_CONFIG),
                    help="default: examples/demo.toml of the spamgw checkout you run it in")
    ap.add_argument("--once", action="store_true", help="stop after the sample traffic")
    args = ap.parse_args(argv)
    config = Path(args.config)
    if not config.is_file():
        print(f"spamgw demo: {config} not found: run it from the spamgw checkout "
              "(the demo uses its examples/, rules/ and plugins/)", file=sys.stderr)
        return 2
    return asyncio.run(_demo(config, args.once))
