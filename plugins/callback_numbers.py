"""Callback numbers: phone numbers written in an SMS, checked for what a call costs.

An SMS that urges its reader to call a premium-rate or overseas number is the
charge the gateway exists to stop (IRSF, premium-rate scams, Wangiri callbacks).

Symbols (default scores; a rule file's ``[symbols]`` table may change them):

- ``callback.premium``: a premium-rate or shared-cost number (``premium_rate``);
- ``callback.premium_abroad``: a text from a foreign phone number gives a number that
  is premium-rate or shared-cost as the sender's country dials it ("08 99 19 43 27"
  from a French mobile, "060-601-2287" from a Korean one, "901 100 4471" from a Greek
  one): numbers written without an international prefix read as their writer's
  country writes them, by libphonenumber's metadata for every country;
- ``callback.special_code``: an ITU international special code (+979, +808, +870,
  +878, +881, +882, +883, +888), the classic revenue-share ranges;
- ``callback.wangiri``: a number flagged on the dynamic ``wangiri_sources`` list;
- ``callback.high_risk``: a number on ``high_risk_destinations`` (IRSF ranges);
- ``callback.international``: a number outside the home country;
- ``callback.shortcode_premium``: the reader is told to text a keyword to a
  premium-rate short code of the home country ("txt WIN to 87121"; opt-out
  instructions such as "reply STOP to 60123" are not counted);
- ``callback.reply_keyword``: the reader is told to text or reply a keyword written
  in capitals, with or without a short code ("txt HORO", "Reply REAL"): how
  premium-rate services start a subscription. No score of its own: business texts
  ask for "VOTE" or "HEART" too; a rule combines it with the classifier's doubt.
- ``callback.shortcode_optout``: names a premium-rate short code of the home country
  for STOP or HELP ("Send STOP to 62468", "£1.50/msg STOP 81122"): the opt-out of a
  subscription already running. No score of its own: the service's own short code
  writes it by regulation; a rule weighs who sends it.

Premium-rate numbers include the UK's 084/087/09 ranges, 070 personal numbers, 118
directory services ("call 118 118"), Spain's 905 and the US 1-NPA-976 exchanges
(``gateway.lists.premium``). Numbers are read as the home country writes them: at a
North American home (US, Canada, the Caribbean) "(876) 297-4410" and "1-876-340-2297"
are numbers as well (elsewhere they are not: ``gateway.content.phones.candidates``).
Default scores equal the shipped rules' ``[symbols]``.

Options (``[plugins.options.callback_numbers]``): ``premium_list``,
``high_risk_list``, ``wangiri_list`` (list names), ``max_numbers`` (numbers checked
per message, default 8).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from gateway.content.facts import Facts
from gateway.content.phones import (
    ITU_SPECIAL,
    abroad_candidates,
    candidates,
    numbers,
    premium_shortcode,
    read_abroad,
)
from gateway.content.plugin import (
    Counters,
    Hit,
    Numbering,
    NumberKind,
    NumberSet,
    PluginEnv,
    Symbol,
)
from gateway.model import Event

SYMBOLS = (
    Symbol("callback.premium", 5.0, "asks to call a premium-rate or shared-cost number"),
    Symbol("callback.special_code", 8.0,
           "asks to call an international special-code number (+979, +882, ...)"),
    Symbol("callback.premium_abroad", 5.0,
           "a text from a foreign phone number asks to call a number that is premium-rate "
           "or shared-cost as that country dials it"),
    Symbol("callback.wangiri", 8.0, "asks to call a number flagged for Wangiri calls"),
    Symbol("callback.high_risk", 6.0, "asks to call a high-risk (IRSF) destination"),
    Symbol("callback.international", 1.5, "asks to call an international number"),
    Symbol("callback.shortcode_premium", 7.0,
           "asks to text a keyword to a premium-rate short code"),
    Symbol("callback.reply_keyword", 0.0, "asks to text or reply a keyword in capitals"),
    Symbol("callback.shortcode_optout", 0.0,
           "names a premium-rate short code to text STOP or HELP to"),
)

SPECIAL_CODES = frozenset(int(code) for code in ITU_SPECIAL)
#: national forms read in a foreign sender's country, at most, a text
ABROAD_READS = 3


class CallbackPlugin:
    name = "callback_numbers"
    symbols = SYMBOLS
    channels = frozenset({"sms"})

    def __init__(self, numbering: Numbering, state: Counters, premium: NumberSet | None,
                 high_risk: NumberSet | None, wangiri_list: str, max_numbers: int) -> None:
        self.numbering = numbering
        self.state = state
        self.premium = premium
        self.high_risk = high_risk
        self.wangiri_list = wangiri_list
        self.max_numbers = max_numbers

    def check(self, event: Event, facts: Facts) -> Iterable[Hit]:
        if not event.text:
            return ()
        sc = facts.scan()
        numbering = self.numbering
        dialable = candidates(sc, numbering)
        premium, high_risk, state = self.premium, self.high_risk, self.state
        src = event.src
        # a text from a foreign phone number writes numbers as its country does:
        # "08 99 19 43 27" from a French mobile is a French premium line
        premium_abroad = premium if src.international and src.kind is NumberKind.E164 else None
        if not (dialable or sc.shortcodes or sc.services or sc.keywords or sc.optouts
                or (premium_abroad is not None and (sc.national or sc.nanp))):
            return ()
        hits: list[Hit] = ["callback.reply_keyword"] if sc.keywords else []
        found = numbers(dialable, numbering) if dialable else ()
        if sc.services and numbering.home_region == "GB":  # "call 118 118": UK services
            found += tuple(numbering.short(s) for s in sc.services)
        for n in found[: self.max_numbers]:
            if n.cc in SPECIAL_CODES:
                hits.append("callback.special_code")
            elif premium is not None and n.key in premium:
                hits.append("callback.premium")
            if high_risk is not None and n.key in high_risk:
                hits.append("callback.high_risk")
            if state.flagged(self.wangiri_list, n.key, event.ts):
                hits.append("callback.wangiri")
            if n.international:
                hits.append("callback.international")
        if premium_abroad is not None:
            # at most ABROAD_READS a text: each is a libphonenumber parse the first time
            # (about 19 µs), and the text is the sender's to write
            for digits in abroad_candidates(sc)[: min(self.max_numbers, ABROAD_READS)]:
                e164 = read_abroad(digits, src.region)
                if e164 and numbering.e164(e164).key in premium_abroad:
                    hits.append("callback.premium_abroad")
                    break
        region = numbering.home_region
        for code in sc.shortcodes:
            if premium_shortcode(code.code, region):
                hits.append("callback.shortcode_premium")
                break
        if any(premium_shortcode(code, region) for code in sc.optouts):
            hits.append("callback.shortcode_optout")
        return tuple(dict.fromkeys(hits))


def create(env: PluginEnv) -> CallbackPlugin:
    opts: dict[str, Any] = dict(env.options)
    return CallbackPlugin(
        env.numbering,
        env.state,
        env.lists.numbers(str(opts.get("premium_list", "premium_rate"))),
        env.lists.numbers(str(opts.get("high_risk_list", "high_risk_destinations"))),
        str(opts.get("wangiri_list", "wangiri_sources")),
        int(opts.get("max_numbers", 8)),
    )
