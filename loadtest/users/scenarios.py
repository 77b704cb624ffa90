"""Traffic scenarios and the verdicts they must get, shared by the locust users.

No locust and no sockets here: each scenario builds the next message or call with
what the gateway must answer, from the shipped rules (rules/*.toml) and lists
(rules/lists/). Numbers that must stay clean are drawn from a space of a hundred
million, and clean texts are random word sequences, so that the bulk counters
(per source, per destination fan-out, per text fingerprint) never see a clean
sender twice in a run; spam scenarios use the listed numbers and domains.

The mix is one string, ``name=weight`` pairs separated by commas (locust option
``--mix`` or env ``SPAMGW_MIX``); each user takes the scenarios of its protocol:

SMPP (submit_sm through the proxy; WARN is forwarded like ALLOW, BLOCK is 0x65):
  clean            person-to-person or A2P text                     forwarded
  blocklisted      sender on blocked_numbers/blocked_senders        0x65
  phishing         link to a blocked_domains domain                 0x65
  premium          reply bait from a premium-rate sender (WARN)     forwarded
  multipart_clean  a 3-part concatenated text                       forwarded (each part)
  multipart_spam   3 parts, the phishing link only in the last      0x65 (each part)
  bulk             a spam-like campaign to many recipients          forwarded, then 0x65
  notice           a legitimate A2P template to many recipients     forwarded, always
FastAGI (/inbound, /outbound, then the /ended hangup handler):
  call_clean       ordinary inbound and outbound calls              ALLOW
  call_blocked     caller on blocked_numbers                        BLOCK
  call_premium     dialling 00882…/00979… (BLOCK) or 09… (WARN)      BLOCK / WARN
  wangiri          7 short unanswered calls from one international
                   source to 7 subscribers, then a callback         ALLOW…, BLOCK
HTTP (POST /v1/check/sms, /v1/check/call): every SMPP and call scenario but
  the multipart and Wangiri ones, with the exact action expected.
"""

from __future__ import annotations

import itertools
import random
import string
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

__all__ = [
    "AGI_SCENARIOS",
    "DEFAULT_MIX",
    "HTTP_SCENARIOS",
    "SMPP_SCENARIOS",
    "BulkCampaign",
    "Call",
    "Check",
    "Mix",
    "Sms",
    "WangiriCampaign",
    "parse_mix",
]

DEFAULT_MIX = ("clean=60,blocklisted=8,phishing=6,premium=4,multipart_clean=4,"
               "multipart_spam=4,bulk=3,notice=3,call_clean=60,call_blocked=10,"
               "call_premium=15,wangiri=15")
SMPP_SCENARIOS = ("clean", "blocklisted", "phishing", "premium", "multipart_clean",
                  "multipart_spam", "bulk", "notice")
AGI_SCENARIOS = ("call_clean", "call_blocked", "call_premium", "wangiri")
HTTP_SCENARIOS = ("clean", "blocklisted", "phishing", "premium", "call_clean",
                  "call_blocked", "call_premium")

FORWARDED = 0x00
REJECTED = 0x65  # ESME_RX_R_APPN: what a BLOCK verdict answers (DESIGN.md)

BLOCKED_SOURCES = (("447700900666", 1, 1), ("447700900667", 1, 1), ("447700900955", 1, 1),
                   ("HMRC", 5, 0), ("DVLA", 5, 0), ("ROYALMAIL", 5, 0))
PHISHING_TEXTS = (
    "Your parcel is held: pay the fee at https://parcel-redelivery.example/pay",
    "Your account is locked, log in at http://evil-bank-login.example/verify now",
)


class MixError(ValueError):
    pass


def parse_mix(text: str) -> dict[str, float]:
    """``"clean=60,bulk=14"`` -> weights; unknown names are an error."""
    known = set(SMPP_SCENARIOS) | set(AGI_SCENARIOS)
    out: dict[str, float] = {}
    for item in text.replace(" ", "").split(","):
        if not item:
            continue
        name, sep, weight = item.partition("=")
        if name not in known:
            raise MixError(f"unknown scenario {name!r} in the mix (known: "
                           f"{', '.join(sorted(known))})")
        try:
            w = float(weight) if sep else 1.0
        except ValueError:
            raise MixError(f"bad weight for {name!r}: {weight!r}") from None
        if w < 0:
            raise MixError(f"negative weight for {name!r}")
        out[name] = w
    return out


class Mix:
    """Weighted choice among the scenarios of one protocol."""

    def __init__(self, weights: Mapping[str, float], names: tuple[str, ...],
                 rnd: random.Random) -> None:
        self.names = [n for n in names if weights.get(n, 0) > 0]
        self.weights = [weights[n] for n in self.names]
        self.rnd = rnd

    def __bool__(self) -> bool:
        return bool(self.names)

    def pick(self) -> str:
        return self.rnd.choices(self.names, self.weights)[0]


# --- numbers and texts -------------------------------------------------------------


def subscriber(rnd: random.Random) -> str:
    """A UK mobile number (+44 74… or +44 75…) far from every listed range."""
    return f"447{rnd.choice('45')}{rnd.randrange(10**8):08d}"


def clean_text(rnd: random.Random, words: int = 7) -> str:
    """Made-up words, different for every message: no two clean texts may share the
    words the near-duplicate campaign detector (plugins/campaign.py, MinHash bands over
    words) keys on, and a common vocabulary makes them share some."""
    return " ".join(tag(rnd, rnd.randint(3, 8)) for _ in range(words)).capitalize()


def tag(rnd: random.Random, n: int = 6) -> str:
    """A letters-only token: the text fingerprint ignores digits, not letters."""
    return "".join(rnd.choice(string.ascii_lowercase) for _ in range(n))


# --- SMS ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sms:
    scenario: str
    src: str
    src_ton: int
    src_npi: int
    dst: str
    text: str
    #: command_status values that are right for this message (each part)
    expect: frozenset[int]
    multipart: bool = False


def _sms(scenario: str, rnd: random.Random, text: str, expect: int,
         src: tuple[str, int, int] | None = None, multipart: bool = False) -> Sms:
    s, ton, npi = src or (subscriber(rnd), 1, 1)
    return Sms(scenario, s, ton, npi, subscriber(rnd), text, frozenset((expect,)), multipart)


def next_sms(scenario: str, rnd: random.Random) -> Sms:
    """One message of a stateless SMPP scenario (``bulk`` is a ``BulkCampaign``)."""
    if scenario == "clean":
        return _sms(scenario, rnd, clean_text(rnd), FORWARDED)
    if scenario == "blocklisted":
        return _sms(scenario, rnd, clean_text(rnd, 4), REJECTED, rnd.choice(BLOCKED_SOURCES))
    if scenario == "phishing":
        return _sms(scenario, rnd, rnd.choice(PHISHING_TEXTS), REJECTED)
    if scenario == "premium":  # premium.sms_from_premium: score 6, WARN, forwarded
        src = rnd.choice((f"4490987{rnd.randrange(10**5):05d}", f"979{rnd.randrange(10**9):09d}"))
        # an ordinary text: the content classifier (plugins/) must not add to the 6
        return _sms(scenario, rnd, clean_text(rnd), FORWARDED, (src, 1, 1))
    if scenario == "multipart_clean":
        return _sms(scenario, rnd, clean_text(rnd, 60), FORWARDED, multipart=True)
    if scenario == "multipart_spam":  # the link only in the last part: judged whole
        text = (clean_text(rnd, 50) + " Your parcel is held, pay the small fee at "
                "https://parcel-redelivery.example/pay today")
        return _sms(scenario, rnd, text, REJECTED, multipart=True)
    raise ValueError(f"not a stateless SMS scenario: {scenario}")


class BulkCampaign:
    """One source sends one text to ever more recipients (rules/50-bulk.toml).

    Volume alone never blocks (the bulk counters are hints under WARN): a legitimate
    template (``spam=False``, an appointment notice) is forwarded to every recipient.
    A spam-like text (``spam=True``: the classifier scores it, under WARN on its
    own) is blocked by bulk.spam_campaign once its campaign has reached over 50
    recipients in 10 minutes. The campaign plugin counts near-duplicates as one, so
    other users' copies of the same template count too: before message 52 either
    answer is right; from 52 on, within the window, it must be rejected.
    ``clock`` is the campaign's time (seconds); the user's is the monotonic clock.
    """

    SURE_BLOCK = 52
    LENGTH = 120

    SURE_WITHIN = 540.0  # seconds: the campaign window (600) with a margin

    SPAM_TEXT = "Mega sale: 50% off everything this weekend, reply STOP to opt out"
    NOTICE_TEXT = ("Reminder: your appointment at the {} clinic is on {} at 10:30. "
                   "Reply C to cancel.")

    def __init__(self, rnd: random.Random, clock: Callable[[], float] = time.monotonic,
                 spam: bool = True) -> None:
        self.rnd = rnd
        self.clock = clock
        self.spam = spam
        self.started = clock()
        self.src = subscriber(rnd)
        self.k = 0

    @property
    def done(self) -> bool:
        return self.k >= self.LENGTH

    def next(self) -> Sms:
        self.k += 1
        if not self.spam:
            text = self.NOTICE_TEXT.format(tag(self.rnd).capitalize(),
                                           self.rnd.choice(("Monday", "Tuesday", "Friday")))
            return Sms("notice", self.src, 1, 1, subscriber(self.rnd), text,
                       frozenset((FORWARDED,)))
        if self.k >= self.SURE_BLOCK and self.clock() - self.started < self.SURE_WITHIN:
            expect = frozenset((REJECTED,))
        else:
            expect = frozenset((FORWARDED, REJECTED))
        return Sms("bulk", self.src, 1, 1, subscriber(self.rnd), self.SPAM_TEXT, expect)


def sms_outcome(status: int) -> str:
    if status == FORWARDED:
        return "forwarded"
    if status == REJECTED:
        return "rejected 0x65"
    return f"status 0x{status:02x}"


# --- calls ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Call:
    scenario: str
    path: str  # "inbound" | "outbound"
    src: str  # caller ID as Asterisk shows it
    dst: str  # the extension as dialled
    trunk: str
    expect: frozenset[str]  # SPAMGW_ACTION values that are right
    #: what the hangup handler reports: DIALSTATUS, duration, billsec
    dialstatus: str = "ANSWER"
    duration: int = 65
    billsec: int = 60


def next_call(scenario: str, rnd: random.Random) -> Call:
    """One call of a stateless call scenario (``wangiri`` is a ``WangiriCampaign``)."""
    allow = frozenset(("ALLOW",))
    if scenario == "call_clean":
        if rnd.random() < 0.5:
            return Call(scenario, "inbound", f"+336{rnd.randrange(10**8):08d}",
                        subscriber(rnd), "trunk-intl", allow)
        return Call(scenario, "outbound", "+" + subscriber(rnd),
                    "0" + subscriber(rnd)[2:], "subscribers", allow)
    if scenario == "call_blocked":
        return Call(scenario, "inbound", rnd.choice(("+447700900666", "+447700900667")),
                    subscriber(rnd), "trunk-uk", frozenset(("BLOCK",)), "CANCEL", 0, 0)
    if scenario == "call_premium":
        if rnd.random() < 0.6:  # international special codes: premium.call_out, BLOCK
            dst = rnd.choice(("00882", "00979")) + f"{rnd.randrange(10**9):09d}"
            return Call(scenario, "outbound", "+" + subscriber(rnd), dst, "subscribers",
                        frozenset(("BLOCK",)), "CANCEL", 0, 0)
        # a national premium-rate number: premium.call_out_national, WARN
        return Call(scenario, "outbound", "+" + subscriber(rnd), "09098790000",
                    "subscribers", frozenset(("WARN",)), "ANSWER", 30, 25)
    raise ValueError(f"not a stateless call scenario: {scenario}")


class WangiriCampaign:
    """Wangiri (rules/calls.toml): one international source rings ``RINGS``
    subscribers for a few seconds, unanswered (each call screened on /inbound and
    reported on /ended as CANCEL); past 5 distinct subscribers in an hour the
    source is flagged, so the last ring is blocked (wangiri.flagged_source_calls) and
    so is a subscriber's callback (wangiri.callback), dialled as 00 + the number.
    Each campaign's source is in a number range (first 9 digits) of its own: the
    range counters (wangiri.range_rings) must not see two campaigns as one.
    """

    RINGS = 7

    def __init__(self, rnd: random.Random) -> None:
        self.rnd = rnd
        self.source = f"+22507{next(_campaign_ranges) % 10_000:04d}{rnd.randrange(10**4):04d}"

    def calls(self) -> Iterator[Call]:
        for k in range(1, self.RINGS + 1):
            expect = ("ALLOW",) if k <= 6 else ("BLOCK",)
            yield Call("wangiri", "inbound", self.source, subscriber(self.rnd), "trunk-intl",
                       frozenset(expect), "CANCEL", self.rnd.randint(2, 5), 0)
        yield Call("wangiri callback", "outbound", "+" + subscriber(self.rnd),
                   "00" + self.source[1:], "subscribers", frozenset(("BLOCK",)), "ANSWER",
                   40, 35)


#: a distinct number range for each Wangiri campaign of this process
_campaign_ranges = itertools.count(random.randrange(10_000))


# --- HTTP checks -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Check:
    scenario: str
    path: str  # "/v1/check/sms" | "/v1/check/call"
    body: dict[str, str]
    expect: frozenset[str]


def next_check(scenario: str, rnd: random.Random) -> Check:
    if scenario.startswith("call_"):
        c = next_call(scenario, rnd)
        body = {"src": c.src, "dst": c.dst, "direction": "in" if c.path == "inbound" else "out"}
        if c.path == "inbound":
            body["route"] = c.trunk
        return Check(scenario, "/v1/check/call", body, c.expect)
    m = next_sms(scenario, rnd)
    src = m.src if m.src_ton == 5 else "+" + m.src
    action = {"premium": "WARN"}.get(scenario, "BLOCK" if REJECTED in m.expect else "ALLOW")
    return Check(scenario, "/v1/check/sms", {"src": src, "dst": "+" + m.dst, "text": m.text},
                 frozenset((action,)))
