"""Locust load test for spamgw: SMPP, FastAGI and /v1/check users that speak the real
protocols and check the verdicts they get.

Targets (DESIGN.md): ``SPAMGW_SMPP`` (host:port of the SMPP proxy), ``SPAMGW_AGI``
(host:port of the FastAGI server), ``SPAMGW_ADMIN`` (URL of the admin API),
``SPAMGW_TOKEN`` (its Bearer token). A user whose target is unset is skipped, saying so.

    SPAMGW_SMPP=127.0.0.1:2775 SPAMGW_AGI=127.0.0.1:4573 \\
    SPAMGW_ADMIN=http://127.0.0.1:8080 SPAMGW_TOKEN=demo-token \\
    locust -f loadtest/locustfile.py --headless -u 12 -r 12 -t 60s

Without ``--headless`` locust serves its web UI (http://localhost:8089) with the
same options. Options (also as environment variables):

``--mix`` / ``SPAMGW_MIX``: scenario weights, ``clean=60,bulk=14,...``: see
loadtest/users/scenarios.py for the scenarios and the verdict each must get.
``--smpp-window`` / ``SPAMGW_SMPP_WINDOW``: outstanding submit_sm per bind (10).
``--think-time`` / ``SPAMGW_THINK_TIME``: seconds each user waits between tasks (0).

Statistics: request type ``SMPP``, ``FastAGI`` or ``HTTP``; the name is
``scenario: outcome`` (``clean: forwarded``, ``bulk: rejected 0x65``, ``wangiri:
WARN``), so locust's table and CSV show the verdict mix. An outcome the scenario
does not expect is a failure, named by the scenario, with what was expected and
what came; so is any protocol error. Run with ``--exit-code-on-error 1`` to make
those fail the run.
"""

from __future__ import annotations

import itertools
import logging
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

from locust import FastHttpUser, User, events, task
from locust.exception import StopUser

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))  # gateway, for users.agi

from users.agi import environment, run_session
from users.scenarios import (
    AGI_SCENARIOS,
    DEFAULT_MIX,
    HTTP_SCENARIOS,
    SMPP_SCENARIOS,
    BulkCampaign,
    Call,
    Mix,
    MixError,
    Sms,
    WangiriCampaign,
    next_call,
    next_check,
    next_sms,
    parse_mix,
    sms_outcome,
)

SMPP_TARGET = os.environ.get("SPAMGW_SMPP", "")
AGI_TARGET = os.environ.get("SPAMGW_AGI", "")
ADMIN_URL = os.environ.get("SPAMGW_ADMIN", "").rstrip("/")
TOKEN = os.environ.get("SPAMGW_TOKEN", "")
BULK_BATCH = 20  # messages of a bulk campaign sent per task

logging.getLogger("smpp").setLevel(logging.WARNING)  # smpplib logs every connect at INFO

_users = itertools.count(1)
_calls = itertools.count(1)
_epoch = int(time.time())


class UnexpectedVerdict(Exception):
    pass


def _hostport(value: str, var: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit():
        raise SystemExit(f"{var}={value!r}: expected HOST:PORT")
    return host or "127.0.0.1", int(port)


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    parser.add_argument("--mix", type=str, env_var="SPAMGW_MIX", default=DEFAULT_MIX,
                        help="scenario weights name=weight,... (loadtest/users/scenarios.py)")
    parser.add_argument("--smpp-window", type=int, env_var="SPAMGW_SMPP_WINDOW", default=10,
                        help="outstanding submit_sm per SMPP bind")
    parser.add_argument("--think-time", type=float, env_var="SPAMGW_THINK_TIME", default=0.0,
                        help="seconds each user waits between tasks")


@events.init.add_listener
def _check(environment: Any, **kw: Any) -> None:
    opts = environment.parsed_options
    if opts is not None:
        try:
            parse_mix(opts.mix)
        except MixError as e:
            raise SystemExit(f"--mix: {e}") from None
    for name, var, value in (("SMPP", "SPAMGW_SMPP", SMPP_TARGET),
                             ("FastAGI", "SPAMGW_AGI", AGI_TARGET),
                             ("HTTP /v1/check", "SPAMGW_ADMIN", ADMIN_URL)):
        if not value:
            print(f"spamgw locust: {var} is not set: the {name} user is skipped",
                  file=sys.stderr, flush=True)


def _think(user: Any) -> float:
    opts = user.environment.parsed_options
    return float(opts.think_time) if opts is not None else 0.0


class _SpamgwUser(User):
    abstract = True

    def _setup(self, names: tuple[str, ...]) -> None:
        self.n = next(_users)
        self.rnd = random.Random(f"{os.getpid()}-{self.n}-{time.time_ns()}")
        opts = self.environment.parsed_options
        self.mix = Mix(parse_mix(opts.mix if opts is not None else DEFAULT_MIX), names,
                       self.rnd)
        if not self.mix:
            print(f"spamgw locust: {type(self).__name__}: no scenario of its protocol in "
                  "the mix; this user stops", file=sys.stderr, flush=True)
            raise StopUser()

    def wait_time(self) -> float:
        return _think(self)

    def fire(self, kind: str, scenario: str, outcome: str, ok: bool, expect: str,
             seconds: float, length: int = 0) -> None:
        self.environment.events.request.fire(
            request_type=kind,
            name=f"{scenario}: {outcome}" if ok else scenario,
            response_time=seconds * 1000.0,
            response_length=length,
            exception=None if ok else UnexpectedVerdict(f"expected {expect}, got {outcome}"),
            context={},
        )


class SmppUser(_SpamgwUser):
    """An ESME: binds as a transceiver (system_id locustN) and keeps a window of
    submit_sm; each answer is one request in locust's statistics."""

    weight = 3
    abstract = not SMPP_TARGET

    def on_start(self) -> None:
        from users.smpp import WindowedEsme

        self._setup(SMPP_SCENARIOS)
        host, port = _hostport(SMPP_TARGET, "SPAMGW_SMPP")
        opts = self.environment.parsed_options
        window = int(opts.smpp_window) if opts is not None else 10
        self.esme = WindowedEsme(host, port, f"locust{self.n}", window=window)
        self.esme.on_response = self._response
        self.esme.on_error = lambda msg: self._error("connection", msg)
        self.bulk: BulkCampaign | None = None
        self.notice: BulkCampaign | None = None
        t0 = time.perf_counter()
        try:
            self.esme.start()
        except Exception as e:
            self._error("bind_transceiver", f"{type(e).__name__}: {e}",
                        time.perf_counter() - t0)
            raise StopUser() from None
        self.fire("SMPP", "bind_transceiver", "bound", True, "", time.perf_counter() - t0)

    def _error(self, name: str, msg: str, seconds: float = 0.0) -> None:
        self.environment.events.request.fire(request_type="SMPP", name=name,
                                             response_time=seconds * 1000.0,
                                             response_length=0, exception=Exception(msg),
                                             context={})

    def _response(self, ctx: Sms, status: int, seconds: float) -> None:
        if status < 0:
            self._error(ctx.scenario, "no answer: connection lost")
            return
        expect = " or ".join(sorted(sms_outcome(s) for s in ctx.expect))
        self.fire("SMPP", ctx.scenario, sms_outcome(status), status in ctx.expect, expect,
                  seconds)

    @task
    def submit(self) -> None:
        scenario = self.mix.pick()
        if scenario in ("bulk", "notice"):
            spam = scenario == "bulk"
            for _ in range(BULK_BATCH):
                campaign = self.bulk if spam else self.notice
                if campaign is None or campaign.done:
                    campaign = BulkCampaign(self.rnd, spam=spam)
                    if spam:
                        self.bulk = campaign
                    else:
                        self.notice = campaign
                self._submit(campaign.next())
            return
        self._submit(next_sms(scenario, self.rnd))

    def _submit(self, sms: Sms) -> None:
        self.esme.submit(sms, lambda part: sms)

    def on_stop(self) -> None:
        esme = getattr(self, "esme", None)
        if esme is not None:
            esme.close()


class FastAgiUser(_SpamgwUser):
    """Asterisk: each call is a FastAGI session on /inbound or /outbound (the
    environment block, answers to every command until the server closes), then the
    hangup handler's session on /ended with DIALSTATUS, duration and billsec."""

    weight = 2
    abstract = not AGI_TARGET

    def on_start(self) -> None:
        self._setup(AGI_SCENARIOS)
        self.agi_host, self.agi_port = _hostport(AGI_TARGET, "SPAMGW_AGI")

    @task
    def call(self) -> None:
        scenario = self.mix.pick()
        if scenario == "wangiri":
            for c in WangiriCampaign(self.rnd).calls():
                self._call(c)
        else:
            self._call(next_call(scenario, self.rnd))

    def _call(self, call: Call) -> None:
        n = next(_calls)
        uniqueid = f"{_epoch}.{os.getpid() % 1000 * 10**7 + n}"
        if call.path == "inbound":
            channel, context = f"PJSIP/{call.trunk}-{n:08x}", f"from-{call.trunk}"
            dnid = call.dst
        else:
            channel, context, dnid = f"PJSIP/sub-{n:08x}", "from-subscribers", call.dst
        common = {"host": self.agi_host, "port": self.agi_port, "channel": channel,
                  "chan_type": "PJSIP", "uniqueid": uniqueid, "callerid": call.src,
                  "dnid": dnid}
        env = environment(script=call.path, context=context, extension=call.dst,
                          priority=3, args=(call.trunk,), **common)  # type: ignore[arg-type]
        result = run_session(self.agi_host, self.agi_port, env)
        expect = " or ".join(sorted(call.expect))
        if result.error is not None:
            self.fire("FastAGI", call.scenario, result.error, False, expect, result.elapsed)
            return
        action = result.variables.get("SPAMGW_ACTION", "(no SPAMGW_ACTION)")
        self.fire("FastAGI", call.scenario, action, action in call.expect, expect,
                  result.elapsed)
        # the hangup handler: Asterisk runs it when the channel goes away
        env = environment(script="ended", context="spamgw-ended", extension="s", priority=1,
                          args=(call.dialstatus, str(call.duration), str(call.billsec)),
                          **common)  # type: ignore[arg-type]
        ended = run_session(self.agi_host, self.agi_port, env)
        self.fire("FastAGI", "/ended", "closed", ended.error is None,
                  "the server to close", ended.elapsed)


class CheckUser(_SpamgwUser, FastHttpUser):
    """``POST /v1/check/sms`` and ``/v1/check/call`` with the Bearer token; checks
    the action in the verdict JSON."""

    weight = 1
    abstract = not ADMIN_URL
    host = ADMIN_URL or "http://127.0.0.1:8080"

    def on_start(self) -> None:
        self._setup(HTTP_SCENARIOS)
        self.headers = {"Authorization": f"Bearer {TOKEN}"}

    @task
    def check(self) -> None:
        c = next_check(self.mix.pick(), self.rnd)
        expect = " or ".join(sorted(c.expect))
        with self.client.post(c.path, json=c.body, headers=self.headers, name=c.scenario,
                              catch_response=True) as resp:
            if resp.status_code != 200:
                resp.failure(f"HTTP {resp.status_code}: {(resp.text or '')[:200]}")
                return
            try:
                action = str(resp.json()["action"])
            except (ValueError, KeyError, TypeError):
                resp.failure(f"not a verdict: {(resp.text or '')[:200]}")
                return
            if action in c.expect:
                resp.request_meta["name"] = f"{c.scenario}: {action}"
                resp.success()
            else:
                resp.failure(f"expected {expect}, got {action}")
