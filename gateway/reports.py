"""Spam reports, GSMA Spam Reporting Service style.

Two ways in: ``POST /v1/reports {"reporter", "reported", "text"?}``, and an SMS to
the short code (``[reports] shortcode``, 7726) that reaches the engine through the
SMPP proxy (a subscriber's MO ``deliver_sm`` or a ``submit_sm`` addressed to 7726):
the core's engine observer (``gateway.services``) watches every judged event for that
destination (``Reports.from_sms``), whatever adapters run; ``gateway.admin.reports``
serves it over HTTP.
An SMS report names the spam sender first (``+447700900666 the spam text``,
optionally after ``SPAM``); a forwarded spam text without a sender waits (per
reporter, an hour) for the reporter's next message naming it, the two-step 7726 flow.

Reports are counted per reported number or sender ID by distinct reporter: the
reporter's identity is an HMAC (``[reports] salt``) kept only inside the counters
backend, never returned or logged. Each report puts the sender on the expiring list
``srs_reported`` (rules raise its score); at ``threshold`` distinct reporters within
``window`` it goes on ``srs_listed`` (a rule blocks), journaled so it survives a
restart, until ``list_ttl`` passes.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gateway.lists.journal import Entry
from gateway.model import Event
from gateway.numbers import Number, NumberKind, key_of, number_of_key

if TYPE_CHECKING:
    from gateway.app import Core

__all__ = ["ReportResult", "Reports", "record_report", "reporter_id"]

_ADDRESS = re.compile(r"^(?:spam\s+|report\s+)?(\+?\d[\d ]{2,18}\d)(?:\s+(.*))?$",
                      re.IGNORECASE | re.DOTALL)
_SENDER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._&-]{0,10}$")
PENDING_MAX = 10000
PENDING_SECONDS = 3600.0


@dataclass(frozen=True, slots=True)
class ReportResult:
    reported: str
    distinct_reporters: int
    threshold: int
    listed: bool
    newly_listed: bool
    entry: Entry

    def to_json(self) -> dict[str, Any]:
        return {"reported": self.reported, "distinct_reporters": self.distinct_reporters,
                "threshold": self.threshold, "listed": self.listed}


def _reported_number(core: Core, value: str) -> Number:
    s = value.strip()
    if s.lstrip("+").replace(" ", "").isdigit():
        n = core.numbering.from_caller_id(s)
    elif _SENDER_ID.match(s):
        n = core.numbering.alphanumeric(s)
    else:
        raise ValueError(f"reported {value!r} is neither a number nor a sender ID "
                         "(up to 11 letters and digits)")
    if n.kind in (NumberKind.INVALID, NumberKind.ANONYMOUS) or not (n.key or n.text):
        raise ValueError(f"reported {value!r} is neither a number nor a sender ID")
    return n


def reporter_id(secret: bytes, reporter: str) -> str:
    return hmac.new(secret, reporter.strip().casefold().encode(), hashlib.sha256).hexdigest()[:24]


def record_report(core: Core, reporter: str, reported: str, text: str | None = None,
                  now: float | None = None, secret: bytes | None = None) -> ReportResult:
    """Count one report; raises ``ValueError`` naming a bad field."""
    cfg = core.config.reports
    now = time.time() if now is None else now
    if not reporter.strip():
        raise ValueError("reporter is empty")
    n = _reported_number(core, reported)
    ident = n.key or n.text
    secret = secret if secret is not None else _secret(cfg.salt, core.config.admin)
    rid = reporter_id(secret, reporter)
    st = core.state
    was_listed = st.flagged(cfg.listed_list, ident, now)
    count = st.distinct("srs.reporters", ident, rid, now, cfg.window)
    st.flag(cfg.reported_list, ident, now, cfg.window)
    listed = was_listed or count >= cfg.threshold
    if count >= cfg.threshold:
        st.flag(cfg.listed_list, ident, now, cfg.list_ttl)
    entry = Entry(str(n), key=n.key or None, string=None if n.key else n.text)
    return ReportResult(str(n), count, cfg.threshold, listed, listed and not was_listed, entry)


class Reports:
    """Report intake and counts. ``on_listed(entry, expires)`` journals a new listing."""

    def __init__(self, core: Core,
                 on_listed: Callable[[Entry, float], None] | None = None) -> None:
        self.core = core
        cfg = core.config.reports
        self.secret = _secret(cfg.salt, core.config.admin)
        self.shortcode_key = key_of(cfg.shortcode, short=True) if cfg.shortcode.isdigit() else -1
        self.on_listed = on_listed
        self.received = 0
        self.by_sms = 0
        self.rejected = 0
        self.listed = 0
        self._pending: OrderedDict[str, tuple[float, str]] = OrderedDict()

    def report(self, reporter: str, reported: str, text: str | None = None,
               now: float | None = None) -> ReportResult:
        res = record_report(self.core, reporter, reported, text, now, self.secret)
        self.received += 1
        if res.newly_listed:
            self.listed += 1
            if self.on_listed is not None:
                self.on_listed(res.entry, time.time() + self.core.config.reports.list_ttl)
        return res

    def from_sms(self, ev: Event) -> ReportResult | None:
        """An SMS to the short code: the reporter is its source. Never raises."""
        text = (ev.text or "").strip()
        reporter = str(ev.src)
        if not text or not (ev.src.key or ev.src.text):
            self.rejected += 1
            return None
        rid = reporter_id(self.secret, reporter)
        m = _ADDRESS.match(text)
        reported: str | None = None
        spam: str | None = None
        if m:
            reported, spam = m.group(1), m.group(2)
        elif rid in self._pending and _SENDER_ID.match(text):
            reported = text  # second step: the sender ID of the forwarded spam
        if reported is None:
            self._remember(rid, text, ev.ts)
            return None
        if spam is None:
            held = self._pending.pop(rid, None)
            spam = held[1] if held is not None and held[0] > ev.ts - PENDING_SECONDS else None
        try:
            res = self.report(reporter, reported, spam, ev.ts)
        except Exception:  # on the engine's path: count it, never raise
            self.rejected += 1
            return None
        self.by_sms += 1
        return res

    def _remember(self, rid: str, text: str, ts: float) -> None:
        self._pending[rid] = (ts, text[:500])
        self._pending.move_to_end(rid)
        while len(self._pending) > PENDING_MAX:
            self._pending.popitem(last=False)

    def summary(self, now: float | None = None) -> dict[str, Any]:
        now = time.time() if now is None else now
        cfg = self.core.config.reports
        listed = self.core.state.flags(cfg.listed_list, now)
        return {
            "received": self.received, "by_sms": self.by_sms, "rejected": self.rejected,
            "listed_total": self.listed, "threshold": cfg.threshold, "shortcode": cfg.shortcode,
            "listed": [{"sender": _show(k), "expires": e}
                       for k, e in sorted(listed.items(), key=lambda kv: -kv[1])[:100]],
            "reported_now": len(self.core.state.flags(cfg.reported_list, now)),
        }


def _show(ident: Any) -> str:
    return number_of_key(ident) if isinstance(ident, int) else str(ident)


def _secret(salt: str, admin: Any) -> bytes:
    """The HMAC key of reporter identities: ``[reports] salt``, else the admin
    tokens (the ``admin`` one first)."""
    return (salt or admin.token or "".join(sorted(t.token for t in admin.tokens))).encode()
