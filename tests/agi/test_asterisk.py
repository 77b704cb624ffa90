"""A real Asterisk 22.10.1 runs the sample dialplan (examples/extensions.conf)
against the gateway: inbound and outbound screening, a Wangiri campaign and its
callback, the Dial L() cut-off at SPAMGW_MAXDURATION, and /ended reported by the
hangup handler. The dialplan is the shipped one; only its [globals] change (the
gateway's port, Local channels instead of PJSIP peers) and a few test contexts are
appended (callers with a caller ID, a far end that answers, one that only rings).

Asterisk comes from ``shared/tools/build-asterisk PREFIX`` (.ci/run builds it into
``.ci/asterisk``); the test looks for ``$SPAMGW_ASTERISK`` (the binary), then
``.ci/asterisk``, ``/opt/asterisk-22`` and ``/tmp/asterisk-22``, and is skipped,
saying so, when none is there.
"""

from __future__ import annotations

import asyncio
import csv
import os
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from agi_support import REPO

from gateway.agi.server import AgiServer, make_screener
from gateway.app import Core, build_core
from gateway.config import parse_config
from gateway.model import Event, Phase, Verdict

PREFIXES = (REPO / ".ci" / "asterisk", Path("/opt/asterisk-22"), Path("/tmp/asterisk-22"))


def find_asterisk() -> Path | None:
    env = os.environ.get("SPAMGW_ASTERISK")
    if env:
        return Path(env) if Path(env).is_file() else None
    for prefix in PREFIXES:
        binary = prefix / "sbin" / "asterisk"
        if binary.is_file() and os.access(binary, os.X_OK):
            return binary
    return None


ASTERISK = find_asterisk()
pytestmark = pytest.mark.skipif(
    ASTERISK is None,
    reason=f"no Asterisk built (looked at $SPAMGW_ASTERISK="
           f"{os.environ.get('SPAMGW_ASTERISK', '')!r} and "
           f"{', '.join(str(p / 'sbin' / 'asterisk') for p in PREFIXES)}): run "
           "shared/tools/build-asterisk .ci/asterisk (as .ci/run does) or set "
           "SPAMGW_ASTERISK to an asterisk binary")

TEST_CONTEXTS = """
; --- test contexts (tests/agi/test_asterisk.py) -------------------------------------
[test-sub-a]
exten => _X.,1,Set(CALLERID(num)=+447700900123)
 same => n,Goto(from-subscribers,${EXTEN},1)
[test-sub-b]
exten => _X.,1,Set(CALLERID(num)=+447700900124)
 same => n,Goto(from-subscribers,${EXTEN},1)
[test-wangiri]
; the fraudster's switch gives up after 3 s of ringing (the test hangs the
; originating leg up): DIALSTATUS=CANCEL
exten => _X.,1,Set(CALLERID(num)=+2250700000001)
 same => n,Goto(from-intl-carrier,${EXTEN},1)
[test-spoof]
exten => _X.,1,Set(CALLERID(num)=+447700900321)
 same => n,Goto(from-intl-carrier,${EXTEN},1)
[test-answer]
; the far end: answers after a second, stays on the line for 40 s
exten => _X.,1,Wait(1)
 same => n,Answer()
 same => n,Wait(40)
 same => n,Hangup()
[test-ring]
; a subscriber's phone: rings, never answered
exten => _X.,1,Ringing()
 same => n,Wait(40)
[test-hold]
exten => s,1,Answer()
 same => n,Wait(60)
"""


def dialplan(port: int) -> str:
    text = (REPO / "examples" / "extensions.conf").read_text()
    values = {"SPAMGW": f"agi://127.0.0.1:{port}", "SUBSCRIBER_TECH": "Local",
              "SUBSCRIBER_PEER": "test-ring", "CARRIER_TECH": "Local",
              "CARRIER_PEER": "test-answer"}
    for name, value in values.items():
        text, n = re.subn(rf"^{name}=.*$", f"{name}={value}", text, flags=re.MULTILINE)
        assert n == 1, name
    return text + TEST_CONTEXTS


class Gateway:
    """The gateway's FastAGI service on the real core, in a thread with its own loop;
    every event and verdict the engine sees is recorded."""

    def __init__(self, core: Core) -> None:
        self.core = core
        self.seen: list[tuple[Event, Verdict]] = []
        inner = core.engine.observer

        def observe(ev: Event, v: Verdict) -> None:
            self.seen.append((ev, v))
            if inner is not None:
                inner(ev, v)

        core.engine.observer = observe
        self.loop = asyncio.new_event_loop()
        self.server: AgiServer | None = None
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def start(self) -> int:
        self.thread.start()

        async def up() -> AgiServer:
            server = AgiServer(make_screener(self.core))
            await server.start("127.0.0.1", 0)
            return server

        self.server = asyncio.run_coroutine_threadsafe(up(), self.loop).result(10)
        return self.server.port

    def stop(self) -> None:
        if self.server is not None:
            asyncio.run_coroutine_threadsafe(self.server.close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    def attempts(self, src: str = "", dst: str = "") -> list[tuple[Event, Verdict]]:
        return [(e, v) for e, v in list(self.seen) if e.phase is Phase.ATTEMPT
                and (not src or e.src.e164 == src) and (not dst or e.dst.e164 == dst)]

    def endings(self) -> list[Event]:
        return [e for e, _ in list(self.seen) if e.phase is Phase.ENDED]


@contextmanager
def running(tmp_path: Path) -> Iterator[tuple[Gateway, Callable[[str], str], Path]]:
    assert ASTERISK is not None
    prefix = ASTERISK.parent.parent
    core = build_core(parse_config({
        "rules": {"dir": str(REPO / "rules")},
        "lists": {"dir": str(REPO / "rules" / "lists")},
        "plugins": {"dir": str(REPO / "plugins")},
        "log": {"level": "warning", "audit": os.devnull},
        "agi": {
            "trunks": [{"name": "intl-carrier", "class": "international"},
                       {"name": "subscribers", "class": "subscribers"}],
            # a tiny budget, so that the L() cut-off comes after seconds: 0.30 buys
            # 10 s to Somalia (1.80/min)
            "spend": {"daily_cap": 0.30, "min_call_seconds": 5},
        },
    }))
    gw = Gateway(core)
    port = gw.start()
    etc = tmp_path / "etc"
    for d in ("etc", "run", "log", "log/cdr-csv", "lib", "spool"):
        (tmp_path / d).mkdir()
    (etc / "extensions.conf").write_text(dialplan(port))
    (etc / "modules.conf").write_text("[modules]\nautoload=yes\n")
    (etc / "logger.conf").write_text("[general]\n[logfiles]\nmessages => notice,warning,"
                                     "error,verbose(3)\n")
    # cdr_csv reads its [csv] section from cdr.conf
    (etc / "cdr.conf").write_text("[general]\nenable=yes\nunanswered=yes\ncongestion=yes\n"
                                  "[csv]\nusegmtime=yes\n")
    conf = tmp_path / "asterisk.conf"
    conf.write_text(
        "[directories]\n"
        f"astetcdir => {etc}\n"
        f"astmoddir => {prefix / 'lib' / 'asterisk' / 'modules'}\n"
        f"astvarlibdir => {tmp_path / 'lib'}\n"
        f"astdbdir => {tmp_path / 'lib'}\n"
        f"astkeydir => {tmp_path / 'lib'}\n"
        f"astdatadir => {prefix / 'var' / 'lib' / 'asterisk'}\n"
        f"astagidir => {tmp_path / 'lib'}\n"
        f"astspooldir => {tmp_path / 'spool'}\n"
        f"astrundir => {tmp_path / 'run'}\n"
        f"astlogdir => {tmp_path / 'log'}\n"
        "[options]\nverbose = 3\n")
    proc = subprocess.Popen([str(ASTERISK), "-C", str(conf), "-f", "-n"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def cli(command: str) -> str:
        out = subprocess.run([str(ASTERISK), "-C", str(conf), "-rx", command],
                             capture_output=True, text=True, timeout=20)
        return out.stdout + out.stderr

    try:
        for _ in range(200):  # until the CLI socket answers
            if proc.poll() is not None:
                pytest.fail(f"asterisk exited {proc.returncode}")
            if "Asterisk" in cli("core show version"):
                break
            time.sleep(0.1)
        cli("core waitfullybooted")  # originating earlier is refused
        if "test-sub-a" not in cli("dialplan show test-sub-a"):
            pytest.fail("asterisk did not load the dialplan")
        yield gw, cli, tmp_path
    finally:
        with_timeout = shutil.which("timeout")
        subprocess.run([*([with_timeout, "10"] if with_timeout else []), str(ASTERISK),
                        "-C", str(conf), "-rx", "core stop now"], capture_output=True)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        gw.stop()


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")


def originate(cli: Callable[[str], str], exten: str, context: str) -> None:
    cli(f"channel originate Local/{exten}@{context} extension s@test-hold")


def give_up(cli: Callable[[str], str], context: str) -> int:
    """Hang up the originating legs of calls placed into ``context``: the caller
    gives up while the callee rings."""
    names = [line.split("!", 1)[0] for line in cli("core show channels concise").splitlines()]
    mine = [n for n in names if f"@{context}-" in n and n.endswith(";1")]
    for name in mine:
        cli(f"channel request hangup {name}")
    return len(mine)


def cdrs(tmp_path: Path) -> list[list[str]]:
    path = tmp_path / "log" / "cdr-csv" / "Master.csv"
    if not path.exists():
        return []
    with path.open(newline="") as f:
        return list(csv.reader(f))


def test_sample_dialplan_against_the_gateway(tmp_path: Path) -> None:
    with running(tmp_path) as (gw, cli, tmp):
        # 1. outbound to Somalia: WARN, SPAMGW_MAXDURATION 10, Dial's L() cuts the
        # answered call after 10 s, the hangup handler reports it to /ended
        originate(cli, "00252612345678", "test-sub-a")
        wait_for(lambda: any(e.dst.e164 == "+252612345678" for e in gw.endings()), 40,
                 "the Somalia call's /ended")
        (ev, v), = gw.attempts("+447700900123", "+252612345678")
        assert v.action.value == "WARN" and ev.route == "subscribers"
        ended = next(e for e in gw.endings() if e.dst.e164 == "+252612345678")
        assert ended.dialstatus == "ANSWER"
        assert ended.billsec is not None and 9 <= ended.billsec <= 11, ended.billsec
        assert ended.duration is not None and ended.duration < 20
        ledger = gw.server.screener.ledger if gw.server else None
        assert ledger is not None and len(ledger) == 0  # settled
        # the budget is spent: the next priced call is blocked, never dialled
        originate(cli, "00252612345679", "test-sub-a")
        wait_for(lambda: bool(gw.attempts("+447700900123", "+252612345679")), 20,
                 "the second Somalia call")
        (_, v2), = gw.attempts("+447700900123", "+252612345679")
        assert v2.action.value == "BLOCK" and "irsf.spend_cap" in v2.rules

        # 2. a home caller ID on the international carrier: blocked, never rings
        originate(cli, "447700900555", "test-spoof")
        wait_for(lambda: bool(gw.attempts("+447700900321")), 20, "the spoofed call")
        (ev, v), = gw.attempts("+447700900321")
        assert v.action.value == "BLOCK" and ev.route == "intl-carrier"
        assert "spoof.home_cli_on_international_trunk" in v.rules
        # no Identity header (and no res_stir_shaken in this build): the dialplan's
        # STIR_SHAKEN(count) is empty, arguments 2 and 3 are empty, nothing is trusted
        assert ev.details["stir_shaken"] == "none"

        # 3. Wangiri: one number rings six subscribers for 3 s (the caller gives up:
        # CANCEL); the hangup handlers report it; it is flagged
        for i in range(6):
            originate(cli, f"4477009006{i:02d}", "test-wangiri")
        time.sleep(3)
        assert give_up(cli, "test-wangiri") == 6
        wait_for(lambda: sum(e.src.e164 == "+2250700000001" for e in gw.endings()) >= 6, 40,
                 "six Wangiri /ended reports")
        rings = [e for e in gw.endings() if e.src.e164 == "+2250700000001"]
        assert {e.dialstatus for e in rings} == {"CANCEL"}
        assert all(e.billsec == 0 and e.duration is not None and e.duration <= 5 for e in rings)
        # its seventh ring is blocked, and the callback of a rung subscriber too
        originate(cli, "447700900700", "test-wangiri")
        originate(cli, "002250700000001", "test-sub-b")
        wait_for(lambda: len(gw.attempts("+2250700000001")) >= 7
                 and bool(gw.attempts("+447700900124")), 20, "the 7th ring and the callback")
        assert gw.attempts("+2250700000001")[-1][1].action.value == "BLOCK"
        (_, callback), = gw.attempts("+447700900124")
        assert callback.action.value == "BLOCK" and "wangiri.callback" in callback.rules

        # every screened call's hangup handler reached /ended, matched to its screening
        wait_for(lambda: len(gw.endings()) >= len(gw.attempts()), 30, "every /ended")
        counters = gw.server.screener.counters if gw.server else None
        assert counters is not None
        assert counters.ended_unmatched == 0 and counters.failed_open == 0
        assert counters.late == 0 and counters.protocol_errors == 0

        # the dialplan acted on the answers: blocked calls never reached Dial, and the
        # answer-then-close ended every AGI normally (no fail-open branch taken)
        messages = (tmp / "log" / "messages").read_text(errors="replace")
        assert "spamgw unavailable" not in messages
        assert "spamgw BLOCK" in messages and "spamgw WARN" in messages
        rows = cdrs(tmp)
        somalia = [r for r in rows if "00252612345678" in r and "Dial" in r]
        assert somalia, rows
        # Asterisk's own record: the bridged call was cut at 10 s (billsec, column 14)
        assert any(r[7] == "Dial" and "L(10000)" in r[8] and 9 <= int(r[13]) <= 11
                   for r in somalia), somalia
        blocked = [r for r in rows if "00252612345679" in r]
        assert blocked and not any("Dial" in r for r in blocked), blocked
