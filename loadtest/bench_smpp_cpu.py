#!/usr/bin/env python3
"""SMPP proxy CPU per submit_sm, in process (no sockets): where a message's time goes.

    python3 loadtest/bench_smpp_cpu.py [--messages 100000] [--chunk 32] [--repeat 3]
                                       [--texts mix,unique] [--clock cpu|wall]

The traffic is ``bench_smpp.traffic`` (the same varied stream as the socket
benchmark), and with ``--texts unique`` the never-repeating texts of ``bench.py``
(``unique_traffic``: every content check runs in full). For each kind it ends with
``+plugins`` against ``+responses`` (the rules alone): the ratio of messages per
second on one core that issue 11's throughput target is about (>= 0.80).

Every stage runs the real code on the same stream, each adding one step,
and prints microseconds per message (best of ``--repeat``), in this process's CPU
time by default (``--clock cpu``: other load on a shared machine inflates it far
less than wall time; ``--clock wall`` times with ``time.perf_counter``):

- decode: ``Session.receive_data`` on chunks of ``--chunk`` PDUs (the other stages run
  after ``gateway.app.settle_heap``, as the gateway does);
- +judging/event: a ``Relay`` (its actions taken, as the shell does) with an engine
  that builds nothing
  but answers ALLOW: framing, decoding, text, concatenation, ``build_event``,
  forwarding;
- +evaluate: the real engine and the shipped rules (no plugins), no observer;
- +stats/audit: with ``Stats.record`` and the audit log (to a temporary file);
- +responses: plus the SMSC's submit_sm_resp for every forwarded message
  (``Relay.receive_up``): the whole per-message cost of the proxy;
- +plugins: the same with the shipped content plugins (``plugins/``) loaded.
"""

from __future__ import annotations

import argparse
import gc
import struct
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "loadtest"))

from bench import unique_traffic  # noqa: E402
from bench_smpp import traffic  # noqa: E402

from gateway.app import build_core, settle_heap  # noqa: E402
from gateway.config import parse_config  # noqa: E402
from gateway.model import ALLOW, Event, Verdict  # noqa: E402
from gateway.smpp.actions import UP, Send  # noqa: E402
from gateway.smpp.proxy import Proxy  # noqa: E402
from gateway.smpp.relay import Relay  # noqa: E402
from gateway.smpp.session import Role, Session, State  # noqa: E402

HDR = struct.Struct(">IIII")
SEQ = struct.Struct(">I")


class AllowAll:
    def evaluate(self, event: Event) -> Verdict:
        return ALLOW


def chunks(count: int, size: int, texts: str = "mix") -> list[bytes]:
    pdus = traffic(count) if texts == "mix" else unique_traffic(count, seed=1)
    out = []
    for i in range(0, len(pdus), size):
        out.append(b"".join(p[:12] + SEQ.pack(i + j + 1) + p[16:]
                            for j, p in enumerate(pdus[i:i + size])))
    return out


def _core(tmp: Path, plugins: bool = False) -> Any:
    config = parse_config({
        "smpp": {"window": 1 << 20},
        "rules": {"dir": str(ROOT / "rules")},
        "lists": {"dir": str(ROOT / "rules" / "lists")},
        "plugins": {"dir": str(ROOT / "plugins" if plugins else tmp / "no-plugins"),
                    "missing_symbols": "error" if plugins else "disable"},
        "log": {"level": "warning", "audit": str(tmp / "audit.log")},
    })
    return config, build_core(config, with_plugins=plugins)


def _relay(config: Any, engine: Any, core: Any) -> Relay:
    """A relay bound both ways, as after a bind (the proxy gives it its judge)."""
    proxy = Proxy(config.smpp, engine, core.numbering)
    relay = Relay(proxy.shared, 0.0)
    relay.system_id = "bench"
    relay.up_open = True
    relay.down.session._set_state(State.BOUND_TRX)
    relay.up.session._set_state(State.BOUND_TRX)
    return relay


def _responses(sent: list[bytes]) -> bytes:
    out = []
    for data in sent:
        pos, n = 0, len(data)
        while pos < n:
            length, _cid, _st, seq = HDR.unpack_from(data, pos)
            out.append(HDR.pack(26, 0x80000004, 0, seq) + b"msg%06d\x00" % (seq % 1000000))
            pos += length
    return b"".join(out)


def run_stage(stage: str, data: list[bytes], count: int, tmp: Path,
              perf: Callable[[], float] = time.process_time) -> float:
    config, core = _core(tmp, plugins=stage == "plugins")
    if stage == "decode":
        sess = Session(Role.SMSC)
        sess._set_state(State.BOUND_TRX)
        feed: Callable[[bytes], Any] = sess.receive_data
        gc.collect()
        t0 = perf()
        for chunk in data:
            feed(chunk)
        return perf() - t0
    if stage == "judging":
        engine: Any = AllowAll()
    else:
        engine = core.engine
        if stage == "evaluate":
            engine.observer = None
    relay = _relay(config, engine, core)
    receive_down, receive_up, actions = relay.receive_down, relay.receive_up, relay.actions
    pending = relay.up.pending
    total = 0.0
    threshold = gc.get_threshold()
    settle_heap()  # as the gateway does once started
    now = 0.0
    for chunk in data:
        now += 0.001
        t0 = perf()
        receive_down(chunk, now)
        done = actions()
        total += perf() - t0
        if stage in ("responses", "plugins"):
            resp = _responses([a.data for a in done if type(a) is Send and a.to == UP])
            t0 = perf()
            receive_up(resp, now)
            actions()
            total += perf() - t0
        else:
            pending.clear()
    gc.unfreeze()
    gc.set_threshold(*threshold)
    core.stats.close()
    return total


STAGES = (("decode", "decode"), ("judging", "+judging/event"), ("evaluate", "+evaluate"),
          ("stats", "+stats/audit"), ("responses", "+responses"), ("plugins", "+plugins"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=100_000)
    ap.add_argument("--chunk", type=int, default=32)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--texts", default="mix,unique", help="mix (bench_smpp.traffic), unique")
    ap.add_argument("--clock", default="cpu", choices=("cpu", "wall"),
                    help="cpu: process CPU time (default); wall: perf_counter")
    ap.add_argument("--only", default="",
                    help="stages, comma-separated: " + ", ".join(s for s, _ in STAGES))
    args = ap.parse_args()
    perf = time.process_time if args.clock == "cpu" else time.perf_counter
    print(f"clock: {args.clock} ({'process CPU time' if args.clock == 'cpu' else 'wall'})")
    for texts in args.texts.split(","):
        data = chunks(args.messages, args.chunk, texts)
        print(f"{texts} texts, {args.messages:,} messages:")
        us_of: dict[str, float] = {}
        with tempfile.TemporaryDirectory() as d:
            tmp = Path(d)
            (tmp / "no-plugins").mkdir()
            for stage, label in STAGES:
                if args.only and stage not in args.only.split(","):
                    continue
                # unique texts: every pass must see texts it has not seen (fresh caches)
                best = min(run_stage(stage, data, args.messages, tmp, perf)
                           for _ in range(args.repeat))
                us = us_of[stage] = best / args.messages * 1e6
                print(f"  {label:<16} {us:7.2f} us/msg  ({1e6 / us:9,.0f} msg/s on one core)")
        if "responses" in us_of and "plugins" in us_of:
            print(f"  rules+plugins / rules only, msg/s on one core: "
                  f"{us_of['responses'] / us_of['plugins']:.2f} (target >= 0.80)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
