"""The rule predicates: one table of every ``when.<name>`` a rule may use.

Each entry is a ``Predicate``: its name, the kind of argument it takes (what
``spamgw rules check`` tells a mistake by; ``bool`` ones are checked before their
compile function runs), its cost (all predicates of a rule must hold, so they are
evaluated cheapest first: attribute tests 0, list lookups 3, text last) and its
compile function ``compile(ctx, name, value) -> pred | None``, which returns a
closure ``pred(event, facts) -> bool`` over values bound once, or reports what is
wrong through ``ctx.err(name, message)`` and returns None.

Adding a predicate is one compile function and one row of ``PREDICATES``. The
schema (``gateway.engine.schema``) takes the names from here, the compiler the
costs and compile functions. The call predicates' compile functions live in
``gateway.engine.call_predicates``; counters (``rate``, ``distinct``, ``sum``,
``count``) are not predicates (``gateway.engine.compiler``).
"""

from __future__ import annotations

import fnmatch
import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from operator import attrgetter
from typing import Any, Protocol

import structlog

from gateway.content.facts import WORD_CHARS, WORD_RUN, Facts
from gateway.content.literals import LiteralIndex
from gateway.content.phones import LINE_TYPES, candidates
from gateway.content.regex import OperatorRegex, compile_operator_regex
from gateway.content.urls import names_sender, sender_names
from gateway.engine import call_predicates as calls
from gateway.engine.call_predicates import home_group
from gateway.engine.keys import in_flagged_range
from gateway.lists.numberset import NumberSet
from gateway.lists.registry import ListRegistry
from gateway.lists.senders import SenderRegistry, SenderStatus
from gateway.lists.stringset import StringSet
from gateway.model import Event
from gateway.numbers import Number, Numbering, NumberKind
from gateway.state import Counters

__all__ = ["NUMBER_CLASSES", "PREDICATES", "Ctx", "Pred", "Predicate"]

NUMBER_CLASSES = ("e164", "short", "alphanumeric", "anonymous", "invalid")

Pred = Callable[[Event, Facts], bool]


class Ctx(Protocol):
    """What a compile function is given (``gateway.engine.compiler.RuleContext``):
    where names are looked up, and where mistakes go."""

    spec: Any  # the RuleSpec being compiled
    lists: ListRegistry
    state: Counters
    dynamic: frozenset[str]
    symbols: frozenset[str]
    home: str
    rates: Any
    literals: LiteralIndex | None

    def err(self, key: str, msg: str) -> None: ...


Compile = Callable[[Any, str, Any], "Pred | None"]


@dataclass(frozen=True, slots=True)
class Predicate:
    name: str
    #: what it takes: names, bool, classes, countries, globs, number, strings, ...
    kind: str
    #: evaluation rank, cheapest first
    cost: int
    compile: Compile


def _names(value: Any) -> tuple[str, ...]:
    return tuple(value) if isinstance(value, list) else (value,)


def _side(key: str) -> Callable[[Event], Number]:
    return attrgetter(key.split("_", 1)[0])


# -- numbers against lists -------------------------------------------------------------


def _number_membership(ctx: Ctx, key: str, names: tuple[str, ...]
                       ) -> Callable[[Number, float], bool] | None:
    """One closure testing a Number against every named list (static or dynamic)."""
    numsets: list[NumberSet] = []
    strsets: list[StringSet] = []
    dyn: list[str] = []
    for name in names:
        if not isinstance(name, str):
            ctx.err(key, f"{key} takes list names, got {name!r}")
            return None
        lst = ctx.lists.get(name)
        if isinstance(lst, NumberSet):
            numsets.append(lst)
        elif isinstance(lst, StringSet):
            if lst.kind == "domain":
                ctx.err(key, f"{name!r} is a domain list: use url_domain_in")
                return None
            strsets.append(lst)
        elif name not in ctx.dynamic:
            ctx.err(key, f"unknown list {name!r}")
            return None
        if name in ctx.dynamic:
            dyn.append(name)
    if not dyn and len(numsets) == 1 and not strsets:
        (ns,) = numsets
        return lambda n, ts: ns.contains(n.key)
    if len(dyn) == 1 and not numsets and not strsets:  # one expiring list alone
        flagged, only = ctx.state.flagged, dyn[0]
        return lambda n, ts: flagged(only, n.key or n.text, ts)
    st = ctx.state

    def test(n: Number, ts: float) -> bool:
        k = n.key
        for ns in numsets:
            if ns.contains(k):
                return True
        for ss in strsets:
            if n.text in ss:
                return True
        if dyn:
            ident = k or n.text
            for name in dyn:
                if st.flagged(name, ident, ts):
                    return True
        return False

    return test


def _in_lists(ctx: Ctx, key: str, value: Any) -> Pred | None:
    """``src_in``, ``dst_in``, ``src_not_in``, ``dst_not_in``."""
    getter = _side(key)
    test = _number_membership(ctx, key, _names(value))
    if test is None:
        return None
    one = ctx.lists.get(value) if isinstance(value, str) else None
    if isinstance(one, NumberSet | StringSet) and value not in ctx.dynamic \
            and not key.endswith("_not_in"):
        # one static list (the usual rule): its lookup with no frame between;
        # ``contains`` is read per call, as a number list rebinds it when it changes
        side = key.split("_", 1)[0]
        ident = attrgetter(f"{side}.key" if isinstance(one, NumberSet) else f"{side}.text")
        return lambda ev, f: one.contains(ident(ev))
    if key.endswith("_not_in"):
        return lambda ev, f: not test(getter(ev), ev.ts)
    return lambda ev, f: test(getter(ev), ev.ts)


def _in_range_list(ctx: Ctx, key: str, value: Any) -> Pred | None:
    """``src_range_in``, ``dst_range_in``: the number or a range it falls in is on an
    expiring list of ranges."""
    getter = _side(key)
    if not isinstance(value, str) or value not in ctx.dynamic:
        ctx.err(key, f"{key} takes the name of an expiring list of ranges (a rule's "
                f"flag list or a dynamic_lists name), got {value!r}")
        return None
    in_range = in_flagged_range(ctx.state.flagged, value)
    return lambda ev, f: in_range(getter(ev), ev.ts)


# -- number attributes ---------------------------------------------------------------------


def _number_class(ctx: Ctx, key: str, value: Any) -> Pred | None:
    classes = _names(value)
    bad = [c for c in classes if c not in NUMBER_CLASSES]
    if bad:
        ctx.err(key, f"unknown number class {bad[0]!r}: one of {', '.join(NUMBER_CLASSES)}")
        return None
    kinds = frozenset(NumberKind(c) for c in classes)
    kind_of = attrgetter(f"{key.split('_', 1)[0]}.kind")
    return lambda ev, f: kind_of(ev) in kinds


def _possible(ctx: Ctx, key: str, value: Any) -> Pred | None:
    getter = _side(key)
    return lambda ev, f: getter(ev).kind is NumberKind.E164 and getter(ev).possible is value


def _international(ctx: Ctx, key: str, value: Any) -> Pred | None:
    international = attrgetter(f"{key.split('_', 1)[0]}.international")
    return lambda ev, f: international(ev) is value


def _country(ctx: Ctx, key: str, value: Any) -> Pred | None:
    codes = _names(value)
    if any(not isinstance(c, str) or not (c == "HOME" or len(c) in (2, 3)) for c in codes):
        ctx.err(key, f"{key} takes ISO 3166 codes or \"HOME\", got {value!r}")
        return None
    regions = frozenset(r for c in codes  # HOME: GB with GG, IM, JE
                        for r in (home_group(ctx.home) if c == "HOME" else (c.upper(),)))
    region_of = attrgetter(f"{key.split('_', 1)[0]}.region")
    if key.endswith("_not"):
        return lambda ev, f: region_of(ev) not in regions
    return lambda ev, f: region_of(ev) in regions


def _route(ctx: Ctx, key: str, value: Any) -> Pred | None:
    globs = _names(value)
    if any(not isinstance(g, str) for g in globs):
        ctx.err(key, f"{key} takes glob patterns, got {value!r}")
        return None
    rx = re.compile("|".join(fnmatch.translate(g) for g in globs))
    if key == "route":
        return lambda ev, f: rx.match(ev.route) is not None
    return lambda ev, f: rx.match(ev.route) is None


# -- text ---------------------------------------------------------------------------------


#: the index of a ruleset compiled without one (``prefilter=False``): never searched
_NO_INDEX = LiteralIndex()


def _operator_regex(ctx: Ctx, key: str, value: Any) -> OperatorRegex | None:
    """An operator's regexes compiled (RE2, gateway.content.regex: no pattern can stall
    the loop), or None with the error reported."""
    try:
        operator_rx = compile_operator_regex(_names(value))
    except (re.error, TypeError) as e:
        ctx.err(key, f"bad regular expression: {e}")
        return None
    if operator_rx.engine != "re2":
        structlog.get_logger("spamgw.rules").warning(
            f"{key} matched with Python re, which backtracks", engine=operator_rx.engine,
            rule=f"{ctx.spec.file}:{ctx.spec.line_of(key)}: {ctx.spec.id}")
    return operator_rx


def _text_regex(ctx: Ctx, key: str, value: Any) -> Pred | None:
    operator_rx = _operator_regex(ctx, key, value)
    if operator_rx is None:
        return None
    search = operator_rx.search
    # a text without any of the strings every match needs is no match, unsearched: one
    # pass of the ruleset's literal index finds them for all its patterns at once
    index = ctx.literals if ctx.literals is not None else _NO_INDEX
    needs = operator_rx.literals if ctx.literals is not None else None
    if needs is not None:
        index.add(needs)
    # one search a text: rules that use the same patterns (a named pattern, the same
    # list written twice) share the answer through the event's Facts.matches
    # (compile_operator_regex returns one search for one pattern list)

    parts = operator_rx.parts if ctx.literals is not None else None
    if parts is not None:
        # pattern by pattern: only those whose strings the text has are searched
        # (gateway.content.regex.Parts), each picked by its bit in the index's
        # open_parts, one mask a text for every pattern of the ruleset
        search_parts = parts.bind(index)

        def matches(ev: Event, f: Facts) -> bool:
            memo = f.matches
            found = memo.get(search)
            if found is None:
                found = bool(ev.text) and search_parts(f.open_parts(index), f.utf8)
                memo[search] = found
            return found
    else:
        def matches(ev: Event, f: Facts) -> bool:
            memo = f.matches
            found = memo.get(search)
            if found is None:
                text = ev.text
                if not text or (needs is not None and needs.isdisjoint(f.atoms(index))):
                    found = False
                else:
                    found = bool(search(text))
                memo[search] = found
            return found

    if key == "text_not_regex":
        # an exception to the rule's other conditions ("never share this code"): costs
        # as much as text_regex, so it sorts after them and runs only when they hold
        return lambda ev, f: not matches(ev, f)
    if needs is not None:  # no text without one of them matches: the engine's
        # literal gate skips the rule for it without calling this
        matches.literal_gate = needs  # type: ignore[attr-defined]
    return matches


def _url_host_regex(ctx: Ctx, key: str, value: Any) -> Pred | None:
    """A link's host (as the scanner reads it: lower case, de-obfuscated) matches."""
    operator_rx = _operator_regex(ctx, key, value)
    if operator_rx is None:
        return None
    search = operator_rx.search
    return lambda ev, f: any(search(h) for h in f.domains())


def _text_keywords(ctx: Ctx, key: str, value: Any) -> Pred | None:
    words = _names(value)
    if not words or any(not isinstance(w, str) or not w.strip() for w in words):
        ctx.err(key, "text_keywords takes a list of non-empty words")
        return None
    casefolded = [w.casefold() for w in words]
    folded = tuple(dict.fromkeys(casefolded))
    if len(folded) < len(casefolded):  # one keyword twice: an editing slip, named
        twice = sorted({w for w in casefolded if casefolded.count(w) > 1})
        ctx.err(key, "text_keywords lists " + ", ".join(map(repr, twice))
                + " more than once (a named pattern's words count too)")
        return None
    # a keyword of word characters only matches where it is a whole word of the text:
    # one set test against the event's words (Facts.words, split once for every rule)
    single = frozenset(w for w in folded if WORD_RUN.fullmatch(w))
    other = tuple(w for w in folded if w not in single)  # "wa.me", "gift card"
    search = re.compile(f"(?<![{WORD_CHARS}])(?:" + "|".join(map(re.escape, other))
                        + f")(?![{WORD_CHARS}])").search \
        if other else None

    def keywords(ev: Event, f: Facts) -> bool:
        if not ev.text:
            return False
        if single and not single.isdisjoint(f.words()):
            return True
        if search is None:
            return False
        text = f.fold()
        # a keyword the text does not even contain cannot match: substring tests in C
        # first (tens of ns each), the word-boundary regex only for a text that has one
        for w in other:
            if w in text:
                return search(text) is not None
        return False

    if not other:  # whole words only: the engine's keyword index can gate the rule
        keywords.gate = single  # type: ignore[attr-defined]
    return keywords


def _text_number_type(ctx: Ctx, key: str, value: Any) -> Pred | None:
    """The text gives home-country phone numbers and every one is on a line of one of
    these kinds (``mobile``, ``fixed_line``, ``toll_free``, ``uan``, ...:
    libphonenumber's types, numbers read as the home country writes them): a text that
    also gives a freephone number is not one whose only number is a mobile."""
    wanted = calls.choices(ctx, key, value, sorted(LINE_TYPES), "kinds of line")
    if wanted is None:
        return None
    numbering = _numbering(ctx.home)
    def only(ev: Event, f: Facts) -> bool:
        if not ev.text:
            return False
        kinds = f.line_types(numbering)
        return bool(kinds) and kinds <= wanted

    return only


@functools.lru_cache(maxsize=16)
def _numbering(region: str) -> Numbering:
    return Numbering(region)


def _has_text(ctx: Ctx, key: str, value: Any) -> Pred | None:
    return lambda ev, f: bool(ev.text) is value


def _has_url(ctx: Ctx, key: str, value: Any) -> Pred | None:
    return lambda ev, f: bool(f.domains()) is value


def _has_number(ctx: Ctx, key: str, value: Any) -> Pred | None:
    """The text gives a number to act on: a phone number, a short code to text or a
    service number (the scan's; a code, an amount or a date is none of them). A number
    in the North American form counts where the home country is in that plan."""
    numbering = _numbering(ctx.home)

    def gives(ev: Event, f: Facts) -> bool:
        s = f.scan()  # the empty scan without a text
        return bool(candidates(s, numbering) or s.shortcodes or s.services) is value

    return gives


def _domain_lists(ctx: Ctx, key: str, value: Any) -> Callable[[str], bool] | None:
    """Is a host on one of the named domain lists (a domain covers its subdomains)?
    None, with the error reported, if a name is no domain list."""
    sets: list[StringSet] = []
    for name in _names(value):
        lst = ctx.lists.get(name)
        if not isinstance(lst, StringSet) or lst.kind != "domain":
            ctx.err(key, f"{name!r} is not a domain list (*_domains.txt)")
            return None
        sets.append(lst)
    if len(sets) == 1:
        return sets[0].contains
    return lambda host: any(s.contains(host) for s in sets)


def _url_domain_in(ctx: Ctx, key: str, value: Any) -> Pred | None:
    """Some link's host is on the lists."""
    listed = _domain_lists(ctx, key, value)
    if listed is None:
        return None
    return lambda ev, f: any(map(listed, f.domains()))


def _url_names_sender(ctx: Ctx, key: str, value: Any) -> Pred | None:
    """A link's domain wears the sender's name with words added ("boots-prescription.com"
    from sender ID ``Boots`` or a text opening "Boots Pharmacy:"), and is not the
    name's own (``gateway.content.urls.names_sender``) nor on the named domain lists
    (the brands' own domains: "canadapost-postescanada.ca")."""
    own = _domain_lists(ctx, key, value)
    if own is None:
        return None
    alnum = NumberKind.ALPHANUMERIC

    def names(ev: Event, f: Facts) -> bool:
        hosts = f.domains()
        if not hosts:
            return False
        src = ev.src
        found = sender_names(src.text if src.kind is alnum else "", ev.text or "")
        return bool(found) and any(names_sender(found, h) is not None and not own(h)
                                   for h in hosts)

    return names


def _url_domain_all_in(ctx: Ctx, key: str, value: Any) -> Pred | None:
    """The text has links and every one's host is on one of the lists."""
    listed = _domain_lists(ctx, key, value)
    if listed is None:
        return None

    def all_in(ev: Event, f: Facts) -> bool:
        domains = f.domains()
        return bool(domains) and all(map(listed, domains))

    return all_in


def _url_domain_not_in(ctx: Ctx, key: str, value: Any) -> Pred | None:
    """Some link's host is on none of the lists (a text of only a brand's own links,
    or of no link, does not match)."""
    listed = _domain_lists(ctx, key, value)
    if listed is None:
        return None
    return lambda ev, f: not all(map(listed, f.domains()))


# -- senders, plugins ----------------------------------------------------------------------

#: registry predicate -> the status it tests (``sender_not_registered``: any but this)
_SENDER_STATUS = {
    "sender_registered": SenderStatus.REGISTERED,
    "sender_not_registered": SenderStatus.REGISTERED,
    "sender_spoofed": SenderStatus.SPOOFED,
    "sender_out_of_scope": SenderStatus.OUT_OF_SCOPE,
}


def _sender(ctx: Ctx, key: str, value: Any) -> Pred | None:
    """The source against a sender registry: its route and destination country."""
    if not isinstance(value, str):
        ctx.err(key, f"{key} takes the name of a sender registry, got {value!r}")
        return None
    reg: SenderRegistry | None = ctx.lists.registry(value)
    if reg is None:
        ctx.err(key, f"unknown sender registry {value!r} (registered_*_senders.txt "
                "in the lists dir)")
        return None
    wanted = _SENDER_STATUS[key]
    status = reg.status_of
    if key == "sender_not_registered":
        return lambda ev, f: status(ev) is not wanted
    return lambda ev, f: status(ev) is wanted


def _symbol(ctx: Ctx, key: str, value: Any) -> Pred | None:
    """``symbol``: a plugin emitted any of the symbols; ``symbols_all``: every one
    of them ("the classifier doubts it and it asks for a keyword to be texted")."""
    wanted = _names(value)
    # a typo within a loaded plugin's namespace is an error; a symbol of a plugin
    # that is not loaded (disabled by the operator) simply never hits
    spaces = {s.split(".", 1)[0] for s in ctx.symbols}
    typos = [s for s in wanted if s not in ctx.symbols and s.split(".", 1)[0] in spaces]
    if typos:
        ctx.err(key, f"no loaded plugin emits symbol {typos[0]!r}")
        return None
    wanted_set = frozenset(wanted)
    # no symbols (most events, or no plugins loaded) answers with one truth test
    if key == "symbols_all":
        def every(ev: Event, f: Facts) -> bool:
            return bool(f.symbols) and wanted_set.issubset(f.symbols)

        pred = every
    else:
        def any_of(ev: Event, f: Facts) -> bool:
            return bool(f.symbols) and not wanted_set.isdisjoint(f.symbols)

        pred = any_of
    # the rule cannot hold unless one of these symbols was emitted: the engine skips
    # it, without calling a predicate, on an event whose plugins emitted none of them
    pred.symbol_gate = wanted_set  # type: ignore[attr-defined]
    return pred


# -- how a call ended, protocol details ----------------------------------------------------


def _ring_under(ctx: Ctx, key: str, value: Any) -> Pred | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        ctx.err(key, "ring_under takes seconds")
        return None
    limit = float(value)

    def ring(ev: Event, f: Facts) -> bool:
        r = ev.ring_seconds
        return r is not None and r < limit

    return ring


def _answered(ctx: Ctx, key: str, value: Any) -> Pred | None:
    return lambda ev, f: ev.answered is value


def _dialstatus(ctx: Ctx, key: str, value: Any) -> Pred | None:
    statuses = frozenset(str(s).upper() for s in _names(value))
    return lambda ev, f: (ev.dialstatus or "").upper() in statuses


def _details(ctx: Ctx, key: str, value: Any) -> Pred | None:
    if not isinstance(value, dict):
        ctx.err(key, "details takes a table of protocol fields")
        return None
    items = tuple(value.items())
    return lambda ev, f: all(ev.details.get(k) == v for k, v in items)


def _table(*rows: tuple[str, str, int, Compile]) -> Mapping[str, Predicate]:
    return {name: Predicate(name, kind, cost, fn) for name, kind, cost, fn in rows}


#: every predicate: name, argument kind, cost, compile function. Cost: attribute tests
#: first, list lookups next, text last; URL domains before keywords and regexes, as
#: ``Facts`` extracts them once for every URL predicate of the event
PREDICATES: Mapping[str, Predicate] = _table(
    ("src_in", "names", 3, _in_lists), ("dst_in", "names", 3, _in_lists),
    ("src_not_in", "names", 3, _in_lists), ("dst_not_in", "names", 3, _in_lists),
    ("src_range_in", "name", 3, _in_range_list), ("dst_range_in", "name", 3, _in_range_list),
    ("src_class", "classes", 0, _number_class), ("dst_class", "classes", 0, _number_class),
    ("src_possible", "bool", 0, _possible), ("dst_possible", "bool", 0, _possible),
    ("src_international", "bool", 0, _international),
    ("dst_international", "bool", 0, _international),
    ("src_country", "countries", 0, _country), ("dst_country", "countries", 0, _country),
    ("src_country_not", "countries", 0, _country),
    ("dst_country_not", "countries", 0, _country),
    ("route", "globs", 2, _route), ("route_not", "globs", 2, _route),
    ("text_regex", "regexes", 7, _text_regex), ("text_not_regex", "regexes", 8, _text_regex),
    ("text_also_regex", "regexes", 7, _text_regex),
    ("text_keywords", "strings", 5, _text_keywords),
    ("text_number_type", "strings", 9, _text_number_type),
    ("has_text", "bool", 0, _has_text), ("has_url", "bool", 4, _has_url),
    ("has_number", "bool", 9, _has_number),
    ("url_domain_in", "names", 4, _url_domain_in),
    ("url_domain_not_in", "names", 4, _url_domain_not_in),
    ("url_domain_all_in", "names", 4, _url_domain_all_in),
    ("url_host_regex", "regexes", 6, _url_host_regex),
    ("url_names_sender", "names", 6, _url_names_sender),
    ("symbol", "strings", 1, _symbol), ("symbols_all", "strings", 1, _symbol),
    ("sender_registered", "registry", 3, _sender),
    ("sender_not_registered", "registry", 3, _sender),
    ("sender_spoofed", "registry", 3, _sender),
    ("sender_out_of_scope", "registry", 3, _sender),
    ("ring_under", "number", 0, _ring_under), ("answered", "bool", 0, _answered),
    ("dialstatus", "strings", 0, _dialstatus),
    ("details", "table", 1, _details),
    # calls (gateway/engine/call_predicates.py)
    ("trunk_class", "trunk_classes", 0, calls.detail_choice),
    ("trunk_class_not", "trunk_classes", 0, calls.detail_choice),
    ("local_hours", "hours", 1, calls.local_hours), ("weekday", "weekdays", 1, calls.weekday),
    ("dst_price_min", "number", 3, calls.dst_price), ("dst_risk", "strings", 3, calls.dst_price),
    ("src_status", "lookup_statuses", 0, calls.detail_choice),
    ("src_status_not", "lookup_statuses", 0, calls.detail_choice),
    ("dst_status", "lookup_statuses", 0, calls.detail_choice),
    ("dst_status_not", "lookup_statuses", 0, calls.detail_choice),
    ("stir_shaken", "stir_results", 0, calls.detail_choice),
    ("stir_shaken_not", "stir_results", 0, calls.detail_choice),
)
