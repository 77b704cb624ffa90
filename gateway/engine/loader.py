"""Load a rules directory into a compiled ``Ruleset`` (or every error it has)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

import structlog

from gateway.content.literals import new_index
from gateway.engine import Ruleset
from gateway.engine.compiler import CompiledRule, RuleContext, compile_rule
from gateway.engine.plugins import Plugin, adapt
from gateway.engine.schema import (
    PATTERN_EMBED,
    PATTERN_REF,
    RuleError,
    RuleErrors,
    RuleFile,
    RuleSpec,
    parse_rule_file,
)
from gateway.lists.registry import ListRegistry
from gateway.state import Counters

__all__ = ["MISSING_SYMBOLS", "RuleErrors", "load_ruleset", "parse_rules_dir",
           "unprovided_symbols"]

log = structlog.get_logger("spamgw.rules")

DEFAULT_WARN = 5.0
DEFAULT_BLOCK = 10.0
#: what a rule naming a symbol no loaded plugin provides does (``[plugins]
#: missing_symbols``): stop the load naming it, or run without it
MISSING_SYMBOLS = ("error", "disable")
#: (file, rule id, symbols) already logged as run without a symbol: once a process,
#: not at every reload or example run
_REPORTED: set[tuple[str, str, tuple[str, ...]]] = set()


def parse_rules_dir(directory: str | Path) -> tuple[list[RuleFile], list[RuleError], str]:
    d = Path(directory)
    if not d.is_dir():
        return [], [RuleError(str(d), 0, "-", "rules directory not found")], ""
    files: list[RuleFile] = []
    errors: list[RuleError] = []
    digest = hashlib.sha256()
    paths = sorted(d.glob("*.toml"))
    if not paths:
        errors.append(RuleError(str(d), 0, "-", "no rule files (*.toml)"))
    for path in paths:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
        rf, errs = parse_rule_file(path)
        files.append(rf)
        errors.extend(errs)
    return files, errors, digest.hexdigest()[:12]


def load_ruleset(
    directory: str | Path,
    *,
    lists: ListRegistry,
    state: Counters,
    plugins: Iterable[Plugin] = (),
    home_region: str = "GB",
    extra_dynamic: Iterable[str] = (),
    missing_symbols: str = "error",
    prefilter: bool = True,
) -> Ruleset:
    """Parse, validate and compile; raises ``RuleErrors`` naming ``file:line: rule-id``.
    ``prefilter=False`` searches every text_regex of every text, without the literal
    index (the benchmarks' baseline; the verdicts are the same)."""
    files, errors, version = parse_rules_dir(directory)
    plugins = tuple(plugins)
    return compile_ruleset(files, errors, version, lists=lists, state=state, plugins=plugins,
                           home_region=home_region, extra_dynamic=extra_dynamic,
                           missing_symbols=missing_symbols, prefilter=prefilter)


#: the ``when`` keys that name plugin symbols: any of them, every one of them
SYMBOL_KEYS = ("symbol", "symbols_all")


def _wanted(spec: RuleSpec, key: str) -> list[str]:
    wanted = spec.when.get(key)
    names = [wanted] if isinstance(wanted, str) else wanted
    if not isinstance(names, list):
        return []  # absent, or not a name or a list of names: the compiler says so
    return [n for n in names if isinstance(n, str)]


def unprovided_symbols(spec: RuleSpec, symbols: frozenset[str]) -> list[str]:
    """The symbols ``spec`` tests (``when.symbol``, ``when.symbols_all``) that no
    loaded plugin provides and whose plugin is not loaded at all (a misspelt symbol
    of a loaded plugin is the compiler's error, whatever ``missing_symbols`` says)."""
    spaces = {s.split(".", 1)[0] for s in symbols}
    return [n for key in SYMBOL_KEYS for n in _wanted(spec, key)
            if n not in symbols and n.split(".", 1)[0] not in spaces]


def without_symbols(spec: RuleSpec, missing: list[str]) -> RuleSpec | None:
    """``spec`` testing only the symbols that are provided, or ``None`` when it can
    never hit: every ``symbol`` is missing, or any of ``symbols_all``."""
    if any(n in missing for n in _wanted(spec, "symbols_all")):
        return None
    if "symbol" not in spec.when:
        return spec
    left = [n for n in _wanted(spec, "symbol") if n not in missing]
    return replace(spec, when={**spec.when, "symbol": left}) if left else None


def symbol_line(spec: RuleSpec) -> int:
    """The line of the rule's first symbol test."""
    return min(spec.line_of(k) for k in SYMBOL_KEYS if k in spec.when)


def _symbols(names: list[str]) -> str:
    return ("symbol " if len(names) == 1 else "symbols ") + ", ".join(map(repr, names))


def _without_missing(specs: list[RuleSpec], symbols: frozenset[str], mode: str,
                     plugins: tuple[Plugin, ...], errors: list[RuleError]) -> list[RuleSpec]:
    """The rules to compile. A rule testing symbols no loaded plugin provides is an
    error (``mode == "error"``); with ``"disable"`` it tests the symbols that are
    provided, and a rule left with none (or missing one of its ``symbols_all``) is
    disabled, each logged once a process (not again at every reload or example run)."""
    kept: list[RuleSpec] = []
    loaded = ", ".join(sorted(p.name for p in plugins)) or "none"
    for spec in specs:
        missing = unprovided_symbols(spec, symbols)
        if not missing:
            kept.append(spec)
            continue
        line = symbol_line(spec)
        if mode == "error":
            errors.append(RuleError(
                spec.file, line, spec.id,
                f"no loaded plugin provides {_symbols(missing)} (plugins loaded: {loaded}); "
                f'load the plugin, or set [plugins] missing_symbols = "disable" to run '
                f"the rules without it"))
            continue
        left = without_symbols(spec, missing)
        if left is not None:
            kept.append(left)
        once = (spec.file, spec.id, tuple(missing))
        if once not in _REPORTED:
            _REPORTED.add(once)
            log.warning("rule runs without symbols no loaded plugin provides" if left
                        else "rule disabled: no loaded plugin provides its symbols",
                        rule=spec.id, at=f"{spec.file}:{line}", missing=missing,
                        **({"kept": left.when["symbol"]} if left else {}))
    return kept


#: the ``when`` keys whose lists may name a ``[patterns]`` entry as ``"@name"``: regexes,
#: and the keywords that gate them
PATTERN_KEYS = ("text_regex", "text_also_regex", "text_not_regex", "url_host_regex",
                "text_keywords")


def _patterns(files: list[RuleFile], errors: list[RuleError]) -> dict[str, tuple[str, ...]]:
    """Every file's ``[patterns]``, one namespace for the ruleset (a rule in
    70-content.toml may use a pattern of 30-premium.toml); a name defined twice is an
    error naming both places."""
    out: dict[str, tuple[str, ...]] = {}
    first: dict[str, str] = {}
    for rf in files:
        for name, regexes in rf.patterns.items():
            line = rf.pattern_lines.get(name, 0)
            if name in out:
                errors.append(RuleError(rf.path, line, "patterns", f"pattern {name!r} "
                                        f"defined twice (first at {first[name]})"))
                continue
            nested = next((v for v in regexes
                           if PATTERN_REF.fullmatch(v) or PATTERN_EMBED.search(v)), None)
            if nested is not None:
                # a rule's list is resolved once: "@other" here would be searched as
                # the literal text "@other" and never match
                errors.append(RuleError(rf.path, line, "patterns", f"pattern {name!r} "
                                        f"names {nested!r}: patterns do not nest; list both "
                                        "in the rule"))
                continue
            out[name] = regexes
            first[name] = f"{rf.path}:{line}"
    return out


def _with_patterns(spec: RuleSpec, patterns: dict[str, tuple[str, ...]],
                   errors: list[RuleError]) -> RuleSpec:
    """``spec`` with each ``"@name"`` of its regex and keyword lists replaced by that
    pattern's entries, and each ``{@name}`` inside a regex by the pattern's alternation.
    An unknown name is an error at the key's line (a regex that must start with a
    literal @ writes it ``\\@``, a literal brace before an @ ``\\{@``)."""
    when = None
    for key in PATTERN_KEYS:
        value = spec.when.get(key)
        items = value if isinstance(value, list) else [value]
        if not any(isinstance(v, str) and (v.startswith("@") or "{@" in v) for v in items):
            continue
        out: list[Any] = []
        for v in items:
            m = PATTERN_REF.fullmatch(v) if isinstance(v, str) else None
            if m is None:
                if isinstance(v, str) and v.startswith("@"):
                    errors.append(RuleError(spec.file, spec.line_of(key), spec.id,
                                            f"{key}: {v!r} is no pattern name; a regex "
                                            "starting with a literal @ writes it \\@"))
                    continue
                if isinstance(v, str) and "{@" in v and key != "text_keywords":
                    v = _embedded(v, key, spec, patterns, errors)
                out.append(v)
            elif m.group(1) in patterns:
                out.extend(patterns[m.group(1)])
            else:
                errors.append(RuleError(spec.file, spec.line_of(key), spec.id,
                                        f"{key}: unknown pattern {v!r} (define it under "
                                        "[patterns] in any rule file)"))
        when = dict(spec.when if when is None else when)
        when[key] = out
    return spec if when is None else replace(spec, when=when)


def _embedded(regex: str, key: str, spec: RuleSpec, patterns: dict[str, tuple[str, ...]],
              errors: list[RuleError]) -> str:
    """``regex`` with each ``{@name}`` replaced by the named pattern's alternation,
    ``(?:(?:a)|(?:b))``; an unknown name is an error at the key's line."""
    def expand(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in patterns:
            errors.append(RuleError(spec.file, spec.line_of(key), spec.id,
                                    f"{key}: unknown pattern {{@{name}}} in a regex (define "
                                    "it under [patterns] in any rule file; a literal brace "
                                    "before an @ is written \\{@)"))
            return m.group()
        return "(?:" + "|".join(f"(?:{p})" for p in patterns[name]) + ")"
    return PATTERN_EMBED.sub(expand, regex)


def resolved_specs(directory: str | Path) -> tuple[list[RuleSpec], list[RuleError]]:
    """Every rule of the directory's files with its named patterns resolved, and the
    errors met on the way (what the compiler sees before it compiles a rule)."""
    files, errors, _version = parse_rules_dir(directory)
    return _resolved(files, errors), errors


def _resolved(files: list[RuleFile], errors: list[RuleError]) -> list[RuleSpec]:
    patterns = _patterns(files, errors)
    return [_with_patterns(spec, patterns, errors) for rf in files for spec in rf.rules]


def compile_ruleset(
    files: list[RuleFile],
    errors: list[RuleError],
    version: str,
    *,
    lists: ListRegistry,
    state: Counters,
    plugins: tuple[Plugin, ...],
    home_region: str,
    extra_dynamic: Iterable[str] = (),
    missing_symbols: str = "error",
    prefilter: bool = True,
) -> Ruleset:
    if missing_symbols not in MISSING_SYMBOLS:
        raise ValueError(f"missing_symbols must be one of {MISSING_SYMBOLS}, "
                         f"got {missing_symbols!r}")
    errors = list(errors)
    plugins = tuple(adapt(p) for p in plugins)  # every plugin called as check(event, facts)
    specs = _resolved(files, errors)
    seen: dict[str, str] = {}
    for spec in specs:
        if spec.id in seen:
            errors.append(RuleError(spec.file, spec.line, spec.id,
                                    f"duplicate rule id (first at {seen[spec.id]})"))
        else:
            seen[spec.id] = f"{spec.file}:{spec.line}"
    dynamic = frozenset(
        {spec.flag["list"] for spec in specs if spec.flag} | set(extra_dynamic)
        | {name for rf in files for name in rf.dynamic_lists}
    )
    symbol_scores: dict[str, float] = {}
    symbol_reasons: dict[str, str] = {}
    for p in plugins:
        for sym in p.symbols:
            symbol_scores[sym.name] = sym.score
            symbol_reasons[sym.name] = sym.description or sym.name
    settings: dict[str, float] = {}
    for rf in files:
        for name, score in rf.symbols.items():
            if name in symbol_scores:
                symbol_scores[name] = score
            elif name.split(".", 1)[0] in {s.split(".", 1)[0] for s in symbol_scores}:
                errors.append(RuleError(rf.path, rf.symbol_line(name), "symbols",
                                        f"no loaded plugin emits symbol {name!r}"))
            # else: the plugin is not loaded; its score override waits for it
        for key, value in rf.settings.items():
            settings[key] = float(value)
    symbols = frozenset(symbol_scores)
    compiled: list[CompiledRule] = []
    context = RuleContext(lists, state, dynamic, symbols, home_region, lists.rates,
                          errors=errors, literals=new_index() if prefilter else None)
    for spec in _without_missing(specs, symbols, missing_symbols, plugins, errors):
        rule = compile_rule(spec, context)
        if rule is not None:
            compiled.append(rule)
    if context.literals is not None:
        context.literals.build()  # here, where the ruleset compiles: not on a message
    warn = settings.get("warn", DEFAULT_WARN)
    block = settings.get("block", DEFAULT_BLOCK)
    if warn > block:
        errors.append(RuleError(files[0].path if files else "-", 0, "settings",
                                f"warn threshold {warn} is above block threshold {block}"))
    if errors:
        raise RuleErrors(errors)
    # the keyword index: one bit a rule gated by whole keywords, and for every keyword
    # the bits of the rules it opens (Engine._evaluate skips a gated rule whose
    # keywords the text has none of, without calling its predicates)
    # A rule without whole keywords but with a text_regex whose required strings the
    # literal index knows is gated the same way by those strings (the predicate would
    # answer no for a text with none of them: Facts.atoms, one pass for all)
    # A rule that needs a plugin symbol is gated by its symbols first: on most events
    # no plugin emits one, so none of those rules is looked at
    # Every rule has a position bit, the first rule the highest (1 << (n - 1)): written
    # out with format(mask, "0nb") a mask reads in rule order, and Engine._evaluate
    # walks only the rules it selects (itertools.compress) instead of testing every
    # rule's bit in Python.
    sym_bits: dict[str, int] = {}
    kw_bits: dict[str, int] = {}
    lit_bits: dict[str, int] = {}
    n = len(compiled)
    ungated = 0
    for i, r in enumerate(compiled):
        bit = 1 << (n - 1 - i)
        if r.symbol_gate is not None:
            strings, bits = r.symbol_gate, sym_bits
        elif r.gate is not None:
            strings, bits = r.gate, kw_bits
        elif r.literal_gate is not None and context.literals is not None:
            strings, bits = r.literal_gate, lit_bits
        else:
            ungated |= bit
            continue
        compiled[i] = replace(r, gate_bit=bit)
        for w in strings:
            bits[w] = bits.get(w, 0) | bit
    # per scope, its ALLOW rules (judged first, in order) and the bits of its other rules
    # and of those no index gates (Engine._evaluate walks those by the bits)
    index: dict[tuple[str, str, str], tuple[CompiledRule, ...]] = {}
    masks: dict[tuple[str, str, str], tuple[int, int]] = {}
    for channel in ("sms", "call"):
        for direction in ("in", "out"):
            for phase in ("attempt", "ended"):
                allow: list[CompiledRule] = []
                scope = 0
                for i, r in enumerate(compiled):
                    if channel in r.spec.channels and direction in r.spec.directions \
                            and r.spec.phase == phase:
                        if r.action == "ALLOW":
                            allow.append(r)
                        else:
                            scope |= 1 << (n - 1 - i)
                index[(channel, direction, phase)] = tuple(allow)
                masks[(channel, direction, phase)] = (scope, scope & ungated)
    return Ruleset(
        version=version,
        rules=tuple(compiled),
        index=index,
        masks=masks,
        bit_format=f"0{n}b",
        warn=warn,
        block=block,
        plugins=plugins,
        symbol_scores=symbol_scores,
        symbol_reasons=symbol_reasons,
        files=tuple(rf.path for rf in files),
        dynamic=dynamic,
        sym_bits=sym_bits,
        kw_bits=kw_bits,
        kw_words=frozenset(kw_bits),
        lit_bits=lit_bits,
        literals=context.literals if lit_bits else None,
    )
