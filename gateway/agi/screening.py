"""Call screening: an AGI environment in, an ``Event`` to the engine, channel
variables out. The handler behind the FastAGI server, in the aiosmtpd sense: it
knows nothing of sockets, and the server knows nothing of rules.

Paths (DESIGN.md):

- ``/inbound[,TRUNK[,VERIFY_RESULT,ATTESTATION]]``: a call arriving from outside.
  ``src`` is the caller ID, ``dst`` the extension (``agi_extension``), the route the
  trunk argument or, without one, the trunk part of the channel name
  (``PJSIP/intl-gw-0000002a`` -> ``intl-gw``). Arguments 2 and 3 are what
  Asterisk's ``STIR_SHAKEN(0,verify_result)`` and ``STIR_SHAKEN(0,attestation)``
  say (empty without an Identity header), summed up in ``details["stir_shaken"]``
  by :func:`stir_shaken_trust`.
- ``/outbound[,TRUNK]``: a subscriber dialling out; ``dst`` is the extension, the
  number as typed (``00…``, ``0…``, ``+…``). Further arguments are ignored.
- ``/ended,DIALSTATUS,duration,billsec``: the hangup handler. It runs with
  ``agi_extension: s`` but keeps ``agi_uniqueid``, so the call it reports is found
  in :class:`CallMemory` (filled by the screening of the same channel).

The answer is ``SET VARIABLE`` of SPAMGW_ACTION, SPAMGW_SCORE, SPAMGW_RULES,
SPAMGW_REASON, ACTION first so that the decision is set even if the channel goes
away half way; an outbound screening adds SPAMGW_MAXDURATION, the longest call in
seconds the caller's spend budget allows (empty: no limit), reserved in the
:class:`~gateway.agi.spend.SpendLedger` and settled at ``/ended``.

Each call's trunk is classified (``[[agi.trunks]]``: national, international,
roaming_partner, pbx, call_centre...) into ``details["trunk_class"]``, which the
``trunk_class`` rule predicate tests.

A number lookup (``gateway.lookup``: HLR, roaming, portability) answered from its
cache goes into the event at once; otherwise ``handle`` returns a :class:`Pending`
the server awaits (by the lookup's own deadline, inside the call's) before the
engine runs.

Deadline: before the engine runs, ``handle`` hands its caller (the server) the
fail-open answer through ``arm``, so the server can send it when the deadline
passes while the engine is still busy (a slow plugin); a screening finished later
than the deadline answers ALLOW (and is counted) if the server did not already.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from typing import NamedTuple, Protocol

import structlog

from gateway.agi.codec import AgiCommand, AgiEnvironment
from gateway.agi.spend import SpendLedger, SpendRefusal
from gateway.lookup import StatusLookup
from gateway.model import Action, Channel, Direction, Event, Phase, Verdict
from gateway.numbers import Number, Numbering, NumberKind

__all__ = [
    "AgiCounters",
    "CallMemory",
    "Evaluator",
    "Pending",
    "ScreenedCall",
    "Screener",
    "stir_shaken_trust",
    "trunk_of_channel",
    "verdict_commands",
]

log = structlog.get_logger("spamgw.agi")

#: longest SPAMGW_REASON sent: a command line must stay under 2048 bytes
MAX_REASON_BYTES = 1024
MAX_RULES_BYTES = 512


class Evaluator(Protocol):
    def evaluate(self, event: Event) -> Verdict: ...


@dataclass(slots=True)
class AgiCounters:
    """What the FastAGI side counts (exported with the gateway's statistics)."""

    connections: int = 0
    screenings: int = 0
    allow: int = 0
    warn: int = 0
    block: int = 0
    late: int = 0
    #: fail-open answers the server sent at the deadline while the engine still ran
    late_answered: int = 0
    #: late screenings whose own verdict (not sent) was BLOCK
    late_block: int = 0
    failed_open: int = 0
    #: outbound calls refused by the spend ledger (cap reached, too many expensive calls)
    spend_refused: int = 0
    ended: int = 0
    ended_unmatched: int = 0
    unknown_path: int = 0
    protocol_errors: int = 0
    timeouts: int = 0
    hangups: int = 0
    dead_channel: int = 0

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.__slots__}


class ScreenedCall(NamedTuple):
    """What ``/ended`` needs to rebuild the call it reports: the caller ID and the
    dialled number as Asterisk gave them, the direction and the route. Plain
    strings in a tuple, so the garbage collector stops tracking the entries of a
    map that holds hundreds of thousands of them (a full collection over tracked
    objects would pause the loop for tens of milliseconds)."""

    src: str
    dst: str
    direction: str
    route: str


class CallMemory:
    """Bounded, expiring map ``agi_uniqueid -> ScreenedCall``.

    Entries live ``ttl`` seconds (a call longer than that reports nothing: its
    ``/ended`` is counted as unmatched) and at most ``max_entries`` are kept, the
    oldest dropped first. ``recall`` removes the entry: a channel hangs up once.
    """

    __slots__ = ("_clock", "_entries", "max_entries", "ttl")

    def __init__(
        self,
        *,
        ttl: float = 12 * 3600.0,
        max_entries: int = 200_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._clock = clock
        # plain tuples of str/float: the GC untracks them (a NamedTuple it would not)
        self._entries: dict[str, tuple[float, str, str, str, str]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def remember(self, uniqueid: str, call: ScreenedCall) -> None:
        if not uniqueid:
            return
        now = self._clock()
        entries = self._entries
        entries.pop(uniqueid, None)  # re-screened: move to the young end
        entries[uniqueid] = (now + self.ttl, *call)
        self._expire(now)

    def recall(self, uniqueid: str) -> ScreenedCall | None:
        found = self._entries.pop(uniqueid, None)
        if found is None or found[0] <= self._clock():
            return None
        return ScreenedCall(*found[1:])

    def _expire(self, now: float) -> None:
        entries = self._entries
        while entries:
            oldest = next(iter(entries))
            if entries[oldest][0] > now and len(entries) <= self.max_entries:
                break
            del entries[oldest]


_CHANNEL_SUFFIX = re.compile(r"-[0-9a-fA-F]{8}(?:;\d)?$")


def trunk_of_channel(channel: str) -> str:
    """The endpoint/peer part of a channel name: ``PJSIP/intl-gw-0000002a`` ->
    ``intl-gw``, ``SIP/carrier1-00000001`` -> ``carrier1``. Local and other
    internal channels have no trunk (``""``)."""
    tech, sep, resource = channel.partition("/")
    if not sep or tech.lower() in ("local", "message", "recorder", "announcer"):
        return ""
    return _CHANNEL_SUFFIX.sub("", resource)


def clean_value(text: str, limit: int) -> str:
    """A channel variable value: no CR/LF/NUL (they would end the command line),
    at most ``limit`` UTF-8 bytes, cut on a character boundary."""
    text = text.replace("\r", " ").replace("\n", " ").replace("\x00", "")
    data = text.encode("utf-8", "surrogateescape")
    if len(data) <= limit:
        return text
    return data[:limit].decode("utf-8", "ignore")


def format_score(score: float) -> str:
    return f"{round(score, 3):g}"


def verdict_commands(verdict: Verdict, max_duration: str | None = None
                     ) -> tuple[AgiCommand, ...]:
    """The four SET VARIABLE commands that carry a verdict, ACTION first, and
    SPAMGW_MAXDURATION (seconds, empty for no limit) when ``max_duration`` is given."""
    commands = (
        AgiCommand.set_variable("SPAMGW_ACTION", verdict.action.value),
        AgiCommand.set_variable("SPAMGW_SCORE", format_score(verdict.score)),
        AgiCommand.set_variable(
            "SPAMGW_RULES", clean_value(",".join(verdict.rules), MAX_RULES_BYTES)
        ),
        AgiCommand.set_variable("SPAMGW_REASON", clean_value(verdict.reason, MAX_REASON_BYTES)),
    )
    if max_duration is None:
        return commands
    return (*commands, AgiCommand.set_variable("SPAMGW_MAXDURATION", max_duration))


def _seconds(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if value >= 0 else None


Arm = Callable[[tuple[AgiCommand, ...]], None]


class Pending(NamedTuple):
    """A screening waiting for a number lookup: the server awaits ``wait`` (it never
    raises, and ends by the lookup's deadline with ``unknown``), then calls
    ``resume(status, arm)`` for the commands, as ``Screener.handle`` would."""

    wait: Awaitable[str]
    resume: Callable[[str, Arm | None], tuple[AgiCommand, ...]]


def stir_shaken_trust(verify_result: str, attestation: str) -> str:
    """What Asterisk's ``STIR_SHAKEN(0,verify_result)`` and ``STIR_SHAKEN(0,attestation)``
    say of the caller ID, as the ``stir_shaken`` rule predicate names it: ``full``,
    ``partial`` or ``gateway`` (verified, attestation A, B or C), ``failed`` (any other
    result: ``signature_validation``, ``cert_not_trusted``, ``cid_orig_tn_mismatch``...),
    ``none`` (no Identity header, or verification disabled)."""
    result = verify_result.strip().lower()
    if not result or result == "disabled":
        return "none"
    if result != "success":
        return "failed"
    return {"A": "full", "B": "partial"}.get(attestation.strip().upper(), "gateway")

#: why the answer was ALLOW although the engine had not finished
_LATE_REASON = "late: no decision within the deadline (fail-open)"


class Screener:
    """Turns one AGI environment into the commands that answer it.

    ``clock`` stamps events (wall time, what counters and day boundaries use; a
    test injects its own); ``monotonic`` measures the deadline. ``trunk_classes``
    maps a route to its class (``[[agi.trunks]]``), ``default_trunk_class`` is the
    class of every other route; ``ledger`` reserves outbound spend; ``lookup`` asks
    a number's status (``gateway.lookup``) into ``details["src_status"]`` (inbound)
    or ``details["dst_status"]`` (outbound).
    """

    def __init__(
        self,
        numbering: Numbering,
        engine: Evaluator,
        *,
        deadline_ms: float = 50.0,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.perf_counter,
        memory: CallMemory | None = None,
        counters: AgiCounters | None = None,
        trunk_classes: Mapping[str, str] | None = None,
        default_trunk_class: str = "unknown",
        ledger: SpendLedger | None = None,
        lookup: StatusLookup | None = None,
        lookup_directions: Collection[Direction] = (Direction.IN,),
        lookup_regions: Collection[str] = (),
    ) -> None:
        self.numbering = numbering
        self.engine = engine
        self.deadline = deadline_ms / 1000.0
        self.clock = clock
        self.monotonic = monotonic
        self.memory = memory if memory is not None else CallMemory()
        self.counters = counters if counters is not None else AgiCounters()
        self.trunk_classes = dict(trunk_classes or {})
        self.default_trunk_class = default_trunk_class
        self.ledger = ledger
        #: number status lookup: asked about the caller of inbound calls, the dialled
        #: number of outbound calls (``lookup_directions``), numbers of
        #: ``lookup_regions`` only (empty: any)
        self.lookup = lookup
        self.lookup_directions = frozenset(lookup_directions)
        self.lookup_regions = frozenset(lookup_regions)
        #: encoded answers of recent verdicts (most calls get the same few)
        self._answers: dict[tuple[Verdict, str | None], tuple[AgiCommand, ...]] = {}

    def handle(self, env: AgiEnvironment, received: float | None = None,
               arm: Arm | None = None) -> tuple[AgiCommand, ...] | Pending:
        """Commands to send for this environment (empty: just close), or a
        :class:`Pending` screening that waits for a number lookup first.

        ``received`` is the ``monotonic()`` time the environment was complete.
        ``arm``, if given, is called with the fail-open answer before the engine
        runs: the server sends it if the deadline passes first.
        """
        path = env.script.rpartition("/")[2]  # agi://host/any/prefix/inbound works too
        try:
            if path == "inbound":
                return self.screen(env, Direction.IN, received, arm)
            if path == "outbound":
                return self.screen(env, Direction.OUT, received, arm)
            if path == "ended":
                self.ended(env)
                return ()
        except Exception as e:  # the engine fails open itself; this is the last guard
            return self._screening_failed(path, e)
        self.counters.unknown_path += 1
        return ()

    def _screening_failed(self, path: str, e: Exception) -> tuple[AgiCommand, ...]:
        self.counters.failed_open += 1
        log.error("call screening failed: allowing", path=path, error=repr(e))
        if path == "ended":
            return ()
        return verdict_commands(
            Verdict(Action.ALLOW, reason=f"screening error: {type(e).__name__}",
                    failed_open=True)
        )

    @staticmethod
    def call_of(env: AgiEnvironment, direction: Direction) -> ScreenedCall:
        return ScreenedCall(
            env.callerid,
            env.extension,
            direction.value,
            env.arg(1) or trunk_of_channel(env.channel),
        )

    def trunk_class(self, route: str) -> str:
        return self.trunk_classes.get(route, self.default_trunk_class)

    def details_of(self, env: AgiEnvironment, route: str) -> dict[str, object]:
        return {
            "channel": env.channel,
            "uniqueid": env.uniqueid,
            "callingpres": env.callingpres,
            "context": env.context,
            "trunk_class": self.trunk_class(route),
        }

    def _lookup_side(self, direction: Direction, src: Number, dst: Number
                     ) -> tuple[str, Number] | None:
        """Which number of this call the lookup is asked about, if any."""
        if self.lookup is None or direction not in self.lookup_directions:
            return None
        side, number = ("src", src) if direction is Direction.IN else ("dst", dst)
        if number.kind is not NumberKind.E164:
            return None
        if self.lookup_regions and number.region not in self.lookup_regions:
            return None
        return side, number

    def _commands(self, verdict: Verdict, max_duration: str | None) -> tuple[AgiCommand, ...]:
        cache = self._answers
        key = (verdict, max_duration)
        commands = cache.get(key)
        if commands is None:
            if len(cache) >= 4096:
                cache.clear()
            commands = cache[key] = verdict_commands(verdict, max_duration)
        return commands

    def screen(
        self, env: AgiEnvironment, direction: Direction, received: float | None = None,
        arm: Arm | None = None,
    ) -> tuple[AgiCommand, ...] | Pending:
        start = received if received is not None else self.monotonic()
        call = self.call_of(env, direction)
        src = self.numbering.from_caller_id(call.src)
        dst = self.numbering.from_caller_id(call.dst)
        details = self.details_of(env, call.route)
        if direction is Direction.IN:
            details["stir_shaken"] = stir_shaken_trust(env.arg(2), env.arg(3))
        asked = self._lookup_side(direction, src, dst)
        if asked is not None:
            lookup = self.lookup
            assert lookup is not None
            side, number = asked
            status = lookup.cached(number)
            if status is None:  # the server awaits the answer, then resumes here
                def resume(status: str, arm: Arm | None) -> tuple[AgiCommand, ...]:
                    details[f"{side}_status"] = status
                    try:
                        return self._decide(env, direction, call, src, dst, details, start,
                                            arm)
                    except Exception as e:
                        return self._screening_failed(direction.value, e)

                return Pending(lookup.wait(number, lookup.deadline - (self.monotonic() - start)),
                               resume)
            details[f"{side}_status"] = status
        return self._decide(env, direction, call, src, dst, details, start, arm)

    def _decide(self, env: AgiEnvironment, direction: Direction, call: ScreenedCall,
                src: Number, dst: Number, details: dict[str, object], start: float,
                arm: Arm | None) -> tuple[AgiCommand, ...]:
        ts = self.clock()
        counters = self.counters
        # spend first: it is cheap, the fail-open answer carries its limit, and a
        # refusal is a fact the rules judge (irsf.spend_cap in calls.toml blocks it)
        max_duration: str | None = None
        refusal: SpendRefusal | None = None
        ledger = self.ledger
        if direction is Direction.OUT and ledger is not None:
            reserved = ledger.reserve(env.uniqueid, src, dst, call.route, ts)
            if isinstance(reserved, SpendRefusal):
                refusal = reserved
                max_duration = ""
                details["spend_refused"] = refusal.rule
                counters.spend_refused += 1
                log.debug("spend refused", rule=refusal.rule, reason=refusal.reason,
                         src=str(src), dst=str(dst), route=call.route)
            else:
                max_duration = "" if reserved.seconds is None else str(reserved.seconds)
        event = Event(
            channel=Channel.CALL,
            direction=direction,
            src=src,
            dst=dst,
            route=call.route,
            phase=Phase.ATTEMPT,
            ts=ts,
            details=details,
        )
        if refusal is not None:
            fallback = Verdict(Action.BLOCK, 0.0, (refusal.rule,), refusal.reason)
        else:
            fallback = Verdict(Action.ALLOW, reason=_LATE_REASON, failed_open=True)
        if arm is not None:
            arm(self._commands(fallback, max_duration))
        verdict = self.engine.evaluate(event)
        self.memory.remember(env.uniqueid, call)
        counters.screenings += 1
        elapsed = self.monotonic() - start
        if elapsed > self.deadline:
            counters.late += 1
            if verdict.action is Action.BLOCK:
                counters.late_block += 1
            log.warning("call screening late: answered fail-open",
                        elapsed_ms=round(elapsed * 1000, 1), would_be=verdict.action.value,
                        rules=",".join(verdict.rules))
            verdict = fallback if refusal is not None else Verdict(
                Action.ALLOW,
                reason=f"late: screening took {elapsed * 1000:.1f} ms, deadline "
                f"{self.deadline * 1000:g} ms",
                failed_open=True,
            )
        if verdict.action is Action.BLOCK and ledger is not None and refusal is None:
            ledger.release(env.uniqueid)  # not placed: nothing to reserve
            max_duration = "" if max_duration is not None else None
        if verdict.failed_open:
            counters.failed_open += 1
        action = verdict.action
        if action is Action.ALLOW:
            counters.allow += 1
        elif action is Action.WARN:
            counters.warn += 1
        else:
            counters.block += 1
        return self._commands(verdict, max_duration)

    def ended(self, env: AgiEnvironment) -> Verdict | None:
        """Hand the engine how the call ended, so counters learn (ring time,
        spend), and settle the call's spend reservation. Unmatched reports (no
        earlier screening) are counted and dropped."""
        self.counters.ended += 1
        call = self.memory.recall(env.uniqueid)
        if call is None:
            self.counters.ended_unmatched += 1
            if self.ledger is not None:
                self.ledger.release(env.uniqueid)
            return None
        dialstatus = env.arg(1).strip().upper()
        event = Event(
            channel=Channel.CALL,
            direction=Direction(call.direction),
            src=self.numbering.from_caller_id(call.src),
            dst=self.numbering.from_caller_id(call.dst),
            route=call.route,
            phase=Phase.ENDED,
            ts=self.clock(),
            duration=_seconds(env.arg(2)),
            billsec=_seconds(env.arg(3)),
            dialstatus=dialstatus,
            details=self.details_of(env, call.route),
        )
        if self.ledger is not None and event.direction is Direction.OUT:
            self.ledger.settle(env.uniqueid, event.dst, event.billsec or 0.0, event.ts)
        return self.engine.evaluate(event)
