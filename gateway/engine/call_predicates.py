"""Rule predicates for calls: trunk class, local time, destination price.

Compiled like every other predicate (their rows are in the predicate table,
``gateway.engine.predicates.PREDICATES``): a closure ``pred(event, facts) -> bool``
over values bound once.

- ``trunk_class = ["international"]`` / ``trunk_class_not``: the class of the trunk
  the call came in or goes out by (``[[agi.trunks]]``; the FastAGI screener puts it
  in ``details["trunk_class"]``; an event without one is ``"unknown"``).
- ``local_hours = [22, 7]``: the event's hour in the home country's time zone is in
  ``[from, to)``, wrapping past midnight when ``from > to`` (22..7 is night).
- ``weekday = ["sat", "sun"]``: the event's day in the home country's time zone.
- ``dst_price_min = 1.0``: the destination costs at least this per minute
  (rates.txt).
- ``dst_risk = "high"``: the rates.txt entry pricing the destination is marked high.
- ``src_status = ["roaming"]`` / ``dst_status`` (and ``*_not``): what the number
  status lookup said of the number (``gateway.lookup.STATUSES``: home, roaming,
  ported_in, ported_out, not_allocated, unknown; ``details["src_status"]``, put
  there by the FastAGI screener; no lookup, a late or failed one: ``unknown``).
- ``stir_shaken = ["full"]`` / ``stir_shaken_not``: the caller ID's STIR/SHAKEN
  verification (``STIR_SHAKEN_TRUST``: full, partial, gateway attestation verified;
  failed; none), ``details["stir_shaken"]``.

``home_group`` is what ``HOME`` means in the country predicates: the home region
and the territories that share its calling code (GB with GG, IM, JE), except for
the shared codes of separate countries (+1 NANP, +7 Russia and Kazakhstan).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Iterable
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from gateway.config import TRUNK_CLASSES
from gateway.lookup import STATUSES
from gateway.model import Event

__all__ = ["STIR_SHAKEN_TRUST", "choices", "detail_choice", "dst_price", "home_group",
           "home_timezone", "local_hours", "weekday"]

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
#: a caller ID's STIR/SHAKEN verification: verified with attestation A, B or C,
#: verification failed, or nothing to verify (``gateway.agi.screening.stir_shaken_trust``)
STIR_SHAKEN_TRUST = ("full", "partial", "gateway", "failed", "none")
#: calling codes shared by separate countries: HOME stays the home region alone
_SEPARATE_COUNTRIES = frozenset({1, 7})

Pred = Callable[[Event, Any], bool]


class Ctx(Protocol):
    home: str
    rates: Any

    def err(self, key: str, msg: str) -> None: ...


@functools.cache
def home_group(region: str) -> frozenset[str]:
    import phonenumbers

    region = region.upper()
    cc = phonenumbers.country_code_for_region(region)
    if not cc or cc in _SEPARATE_COUNTRIES:
        return frozenset({region})
    return frozenset(phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(cc, ())) | {region}


@functools.cache
def home_timezone(region: str) -> dt.tzinfo:
    """The home region's time zone (the first libphonenumber gives for its example
    number: Europe/London for GB); UTC when unknown."""
    try:
        import phonenumbers
        from phonenumbers import timezone

        example = phonenumbers.example_number(region.upper())
        if example is not None:
            for name in timezone.time_zones_for_geographical_number(example):
                try:
                    return ZoneInfo(name)
                except (KeyError, ValueError):
                    continue
    except ImportError:  # pragma: no cover - phonenumbers ships its timezone data
        pass
    return dt.UTC


def _local(ts: float, tz: dt.tzinfo) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, tz)


#: predicates that test one ``details`` field against a vocabulary: name (and name
#: with ``_not``) -> (field, what a value is called, the vocabulary, the value of an
#: event without the field)
_DETAIL_CHOICES = {
    "trunk_class": ("trunk_class", "trunk classes", TRUNK_CLASSES, "unknown"),
    "src_status": ("src_status", "lookup statuses", STATUSES, "unknown"),
    "dst_status": ("dst_status", "lookup statuses", STATUSES, "unknown"),
    "stir_shaken": ("stir_shaken", "verification results", STIR_SHAKEN_TRUST, "none"),
}


def choices(ctx: Ctx, key: str, value: Any, vocabulary: Iterable[str], noun: str
            ) -> frozenset[str] | None:
    """One value or a list of them, each from ``vocabulary``; None, with the error
    naming the first unknown one, otherwise."""
    values = value if isinstance(value, list) else [value]
    bad = [c for c in values if c not in vocabulary]
    if not values or bad:
        ctx.err(key, f"{key} takes {noun} ({', '.join(vocabulary)}), "
                f"got {bad[0] if bad else value!r}")
        return None
    return frozenset(values)


def detail_choice(ctx: Ctx, key: str, value: Any) -> Pred | None:
    """``details[field]`` in (or, for ``*_not``, not in) the given values:
    ``trunk_class``, ``src_status``, ``dst_status``, ``stir_shaken``."""
    field, noun, vocabulary, default = _DETAIL_CHOICES[key.removesuffix("_not")]
    wanted = choices(ctx, key, value, vocabulary, noun)
    if wanted is None:
        return None
    if key.endswith("_not"):
        return lambda ev, f: ev.details.get(field, default) not in wanted
    return lambda ev, f: ev.details.get(field, default) in wanted


def local_hours(ctx: Ctx, key: str, value: Any) -> Pred | None:
    if not (isinstance(value, list) and len(value) == 2
            and all(isinstance(h, int) and not isinstance(h, bool) and 0 <= h <= 24
                    for h in value) and value[0] != value[1]):
        ctx.err(key, f"local_hours takes [FROM, TO], hours 0..24 (22..7 wraps past "
                f"midnight), got {value!r}")
        return None
    start, end = value
    hours = frozenset(range(start, end) if start < end
                      else (*range(start, 24), *range(0, end)))
    tz = home_timezone(ctx.home)
    return lambda ev, f: _local(ev.ts, tz).hour in hours


def weekday(ctx: Ctx, key: str, value: Any) -> Pred | None:
    days = value if isinstance(value, list) else [value]
    bad = [d for d in days if not isinstance(d, str) or d.lower()[:3] not in WEEKDAYS]
    if not days or bad:
        ctx.err(key, f"weekday takes day names ({', '.join(WEEKDAYS)}), got {value!r}")
        return None
    numbers = frozenset(WEEKDAYS.index(d.lower()[:3]) for d in days)
    tz = home_timezone(ctx.home)
    return lambda ev, f: _local(ev.ts, tz).weekday() in numbers


def dst_price(ctx: Ctx, key: str, value: Any) -> Pred | None:
    """``dst_price_min``, ``dst_risk``: the destination's rates.txt entry."""
    rates = ctx.rates
    if rates is None:
        ctx.err(key, f"{key} needs a rate table (rates.txt in the lists dir)")
        return None
    if key == "dst_risk":
        if value != "high":
            ctx.err(key, f"dst_risk takes \"high\", got {value!r}")
            return None
        return lambda ev, f: rates.high_risk(ev.dst)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        ctx.err(key, f"dst_price_min takes a price per minute, got {value!r}")
        return None
    floor = float(value)
    return lambda ev, f: rates.price_per_minute(ev.dst) >= floor
