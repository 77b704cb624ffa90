"""Rule files: TOML parsed into ``RuleSpec``s, every mistake reported as
``file:line: rule-id: message``.

A rule file holds ``[[rule]]`` tables, and optionally ``[settings]`` (score
thresholds), ``[symbols]`` (plugin symbol score overrides) and a top-level
``dynamic_lists = ["srs_reported"]`` naming expiring lists (counters-backend flags
filled by the admin API or spam reports) that rules may test like any list::

    [settings]
    warn = 5.0
    block = 10.0

    [[rule]]
    id = "sms.blocked_sender"
    description = "Sender is on the blocked numbers list"
    channel = "sms"            # sms | call | any
    direction = "in"           # in | out | any
    phase = "attempt"          # attempt | ended
    when.src_in = "blocked_numbers"
    action = "BLOCK"           # ALLOW | WARN | BLOCK, or: score = 4.0

    [[rule.example]]
    src = "+447700900666"
    dst = "+447700900123"
    expect = "BLOCK"

``tomllib`` gives no line numbers, so lines are found in the text: the n-th
``[[rule]]`` header starts the n-th rule, and a key's line is its first mention
inside that rule's block.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway.engine.predicates import PREDICATES

__all__ = [
    "COUNTERS",
    "COUNTER_KEYS",
    "PREDICATES",
    "RuleError",
    "RuleErrors",
    "RuleFile",
    "RuleSpec",
    "parse_counter_key",
    "parse_rule_file",
]

CHANNELS = ("sms", "call", "any")
DIRECTIONS = ("in", "out", "any")
PHASES = ("attempt", "ended")
ACTIONS = ("ALLOW", "WARN", "BLOCK")

#: counter predicate -> required keys
COUNTERS: dict[str, tuple[str, ...]] = {
    "rate": ("key", "window", "over"),
    "distinct": ("key", "of", "window", "over"),
    "sum": ("key", "value", "window", "over"),
    "count": ("name", "key", "window", "over"),
}
#: what a counter key is made of, joined with "+" ("route+dst_range:9"): the numbers,
#: the route, the text (exact fingerprint, campaign key, or template: the text with
#: links as their domain and digits as length classes), a number range (``range:N``:
#: the first N digits of the number; ``block:N``: all but its last N digits, a block of
#: 10^N consecutive numbers whatever the number's length) and a country (ISO 3166
#: region of the number)
COUNTER_KEYS = ("src", "dst", "route", "text", "campaign", "template", "src_range:N",
                "dst_range:N", "src_block:N", "dst_block:N", "src_country", "dst_country")
_KEY_ATOMS = frozenset(k for k in COUNTER_KEYS if not k.endswith(":N"))
_RANGE_RE = re.compile(r"^(src|dst)_(range|block):(\d{1,2})$")
#: what a rule's flag puts on its list: the number, or its range (the first N digits,
#: keyed as a number of N digits: ``src_range_in`` tests it)
FLAG_KEY_RE = re.compile(r"^(src|dst)(?:_range:(\d{1,2}))?$")
COUNTER_VALUES = ("one", "billsec", "duration", "parts", "cost")

def parse_counter_key(key: Any) -> tuple[tuple[str, int], ...]:
    """A counter key's parts as ``(atom, digits)`` (digits only for ``*_range:N`` and
    ``*_block:N``, 0 for the rest);
    raises ``ValueError`` saying what is wrong."""
    if not isinstance(key, str) or not key:
        raise ValueError(f"counter key must be a string such as 'src' or 'route+dst_range:9', "
                         f"got {key!r}")
    parts: list[tuple[str, int]] = []
    for raw in key.split("+"):
        atom = raw.strip()
        m = _RANGE_RE.match(atom)
        if m:
            n = int(m.group(3))
            if m.group(2) == "range" and not 1 <= n <= 15:
                raise ValueError(f"{atom!r}: a range is the first 1 to 15 digits")
            if m.group(2) == "block" and not 1 <= n <= 8:
                raise ValueError(f"{atom!r}: a block drops the last 1 to 8 digits")
            parts.append((f"{m.group(1)}_{m.group(2)}", n))
        elif atom in _KEY_ATOMS:
            parts.append((atom, 0))
        else:
            raise ValueError(f"unknown counter key part {atom!r} in {key!r}: parts are "
                             f"{', '.join(COUNTER_KEYS)}, joined with '+'")
    names = [a for a, _ in parts]
    if len(set(names)) != len(names):
        raise ValueError(f"counter key {key!r} names a part twice")
    return tuple(parts)


_RULE_KEYS = {
    "id", "description", "channel", "direction", "phase", "action", "score", "reason",
    "sms_status", "sms_block", "enabled", "when", "flag", "example",
}
_EXAMPLE_KEYS = {
    "channel", "direction", "phase", "src", "dst", "text", "route", "duration", "billsec",
    "dialstatus", "repeat", "vary", "interval", "expect", "hits", "setup", "details",
    "src_ton", "dst_ton", "note", "given",
}


@dataclass(frozen=True, slots=True)
class RuleError:
    file: str
    line: int
    rule_id: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.rule_id}: {self.message}"


class RuleErrors(ValueError):
    """Every error of a ruleset; ``str()`` is one ``file:line: rule-id: message`` a line."""

    def __init__(self, errors: list[RuleError]) -> None:
        self.errors = errors
        super().__init__("\n".join(map(str, errors)))


@dataclass(frozen=True, slots=True)
class RuleSpec:
    id: str
    file: str
    line: int
    description: str
    channels: tuple[str, ...]
    directions: tuple[str, ...]
    phase: str
    action: str | None
    score: float
    reason: str
    sms_status: int | None
    sms_block: str | None
    when: dict[str, Any]
    flag: dict[str, Any] | None
    examples: tuple[dict[str, Any], ...]
    key_lines: dict[str, int] = field(default_factory=dict)

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, self.line)


@dataclass(frozen=True, slots=True)
class RuleFile:
    path: str
    rules: tuple[RuleSpec, ...]
    settings: dict[str, Any]
    symbols: dict[str, float]
    #: expiring lists (counters-backend flags) this file's rules may test by name
    dynamic_lists: tuple[str, ...] = ()
    symbol_lines: dict[str, int] = field(default_factory=dict)
    #: named lists of regular expressions or keywords (``[patterns]``) any rule of the
    #: ruleset may use in ``text_regex``, ``text_also_regex``, ``text_not_regex``,
    #: ``url_host_regex`` and ``text_keywords`` as ``"@name"``
    patterns: dict[str, tuple[str, ...]] = field(default_factory=dict)
    pattern_lines: dict[str, int] = field(default_factory=dict)

    def symbol_line(self, name: str) -> int:
        return self.symbol_lines.get(name, 0)


_HEADER_RE = re.compile(r"^\s*\[\[\s*rule\s*\]\]\s*(?:#.*)?$")
_TABLE_RE = re.compile(r"^\s*\[\[?\s*([A-Za-z0-9_.\"-]+)\s*\]\]?\s*(?:#.*)?$")
_TOML_LINE_RE = re.compile(r"at line (\d+)")


def _blocks(lines: list[str]) -> list[tuple[int, int]]:
    """(first, last) 1-based line numbers of each ``[[rule]]`` block."""
    starts = [i for i, line in enumerate(lines) if _HEADER_RE.match(line)]
    blocks: list[tuple[int, int]] = []
    for n, start in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(lines)
        # a top-level table that is not rule.* ends the block
        for j in range(start + 1, end):
            m = _TABLE_RE.match(lines[j])
            if m and not m.group(1).startswith("rule."):
                end = j
                break
        blocks.append((start + 1, end))
    return blocks


def _key_lines(lines: list[str], first: int, last: int) -> dict[str, int]:
    out: dict[str, int] = {}
    word = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*=")
    for n in range(first, last + 1):
        text = lines[n - 1].split("#", 1)[0]
        for m in word.finditer(text):
            out.setdefault(m.group(1), n)
        m2 = _TABLE_RE.match(lines[n - 1])
        if m2:
            for part in m2.group(1).split("."):
                out.setdefault(part, n)
    return out


def _as_tuple(value: Any) -> tuple[Any, ...]:
    return tuple(value) if isinstance(value, list) else (value,)


def parse_rule_file(path: Path) -> tuple[RuleFile, list[RuleError]]:
    """Parse one file; returns what parsed and the errors found (not raised, so a
    whole ruleset's errors are reported together)."""
    fname = str(path)
    errors: list[RuleError] = []
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        return RuleFile(fname, (), {}, {}), [RuleError(fname, 0, "-", f"cannot read: {e}")]
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        m = _TOML_LINE_RE.search(str(e))
        return RuleFile(fname, (), {}, {}), [
            RuleError(fname, int(m.group(1)) if m else 0, "-", f"TOML syntax: {e}")
        ]
    lines = text.splitlines()
    blocks = _blocks(lines)
    unknown_top = set(data) - {"rule", "settings", "symbols", "dynamic_lists", "patterns"}
    for key in sorted(unknown_top):
        errors.append(RuleError(fname, _top_line(lines, key), "-", f"unknown table {key!r}"))
    raw_rules = data.get("rule", [])
    if not isinstance(raw_rules, list):
        errors.append(RuleError(fname, 1, "-", "'rule' must be [[rule]] tables"))
        raw_rules = []
    specs: list[RuleSpec] = []
    for n, raw in enumerate(raw_rules):
        first, last = blocks[n] if n < len(blocks) else (1, len(lines))
        spec, errs = _parse_rule(fname, raw, first, _key_lines(lines, first, last))
        errors.extend(errs)
        if spec is not None:
            specs.append(spec)
    settings = data.get("settings", {})
    symbols = data.get("symbols", {})
    for key, value in settings.items():
        if key not in ("warn", "block") or not isinstance(value, int | float):
            errors.append(RuleError(fname, _top_line(lines, key), "settings",
                                    f"unknown or non-numeric setting {key!r}"))
    for key, value in symbols.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            errors.append(RuleError(fname, _top_line(lines, key), "symbols",
                                    f"score of symbol {key!r} must be a number"))
    dynamic = data.get("dynamic_lists", [])
    if not isinstance(dynamic, list) or not all(
            isinstance(n, str) and re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", n) for n in dynamic):
        errors.append(RuleError(fname, _top_line(lines, "dynamic_lists"), "dynamic_lists",
                                "dynamic_lists must be an array of list names"))
        dynamic = []
    patterns, pattern_lines = _parse_patterns(fname, data.get("patterns", {}), lines, errors)
    return RuleFile(fname, tuple(specs), dict(settings),
                    {k: float(v) for k, v in symbols.items()
                     if isinstance(v, int | float)}, tuple(dynamic),
                    {k: _top_line(lines, k) for k in symbols}, patterns,
                    pattern_lines), errors


#: a pattern's name, and a reference to it in a rule's regex list
PATTERN_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,63}")
PATTERN_REF = re.compile(f"@({PATTERN_NAME.pattern})")
#: a reference inside a regex: ``{@name}`` stands for the named pattern's alternation
#: (``(?:a|b)``), so one list of words serves rules that need it inside a longer regex
#: (``'({@by_mistake}).{0,200}({@send_back})'``); ``\{@`` is a literal brace and @
PATTERN_EMBED = re.compile(r"(?<!\\)\{@(" + PATTERN_NAME.pattern + r")\}")


def _parse_patterns(fname: str, table: Any, lines: list[str], errors: list[RuleError]
                    ) -> tuple[dict[str, tuple[str, ...]], dict[str, int]]:
    """``[patterns]``: name = "regex" or ["regex", ...]. Checked here for shape; the
    regexes themselves are compiled (and their errors named) in every rule using them."""
    if not isinstance(table, dict):
        errors.append(RuleError(fname, _top_line(lines, "patterns"), "patterns",
                                "patterns must be a table: name = \"regex\" or [\"regex\", ...]"))
        return {}, {}
    out: dict[str, tuple[str, ...]] = {}
    where: dict[str, int] = {}
    for name, value in table.items():
        line = _top_line(lines, name)
        values = value if isinstance(value, list) else [value]
        if not PATTERN_NAME.fullmatch(name):
            errors.append(RuleError(fname, line, "patterns", f"bad pattern name {name!r}: a "
                                    "letter, then letters, digits, '_', '.', '-'"))
        elif not values or not all(isinstance(v, str) and v for v in values):
            errors.append(RuleError(fname, line, "patterns", f"pattern {name!r} must be a "
                                    "regular expression or a non-empty list of them"))
        else:
            out[name] = tuple(values)
            where[name] = line
    return out, where


def _top_line(lines: list[str], key: str) -> int:
    pat = re.compile(rf"^\s*(\[+\s*)?\"?{re.escape(key)}\b")
    for n, line in enumerate(lines, 1):
        if pat.match(line):
            return n
    return 1


def _parse_rule(fname: str, raw: dict[str, Any], line: int, key_lines: dict[str, int]
                ) -> tuple[RuleSpec | None, list[RuleError]]:
    rid = raw.get("id")
    errors: list[RuleError] = []

    def err(key: str | None, msg: str) -> None:
        errors.append(RuleError(fname, key_lines.get(key, line) if key else line,
                                rid if isinstance(rid, str) else "-", msg))

    if not isinstance(rid, str) or not re.fullmatch(r"[A-Za-z0-9_.:-]{1,80}", rid):
        err("id", "every rule needs an id: letters, digits, '.', '_', ':', '-'")
        return None, errors
    for key in sorted(set(raw) - _RULE_KEYS):
        err(key, f"unknown key {key!r}")
    if raw.get("enabled", True) is False:
        return None, errors
    channels = _as_tuple(raw.get("channel", "any"))
    directions = _as_tuple(raw.get("direction", "any"))
    phase = raw.get("phase", "attempt")
    for c in channels:
        if c not in CHANNELS:
            err("channel", f"channel must be one of {', '.join(CHANNELS)}, got {c!r}")
    for d in directions:
        if d not in DIRECTIONS:
            err("direction", f"direction must be one of {', '.join(DIRECTIONS)}, got {d!r}")
    if phase not in PHASES:
        err("phase", f"phase must be one of {', '.join(PHASES)}, got {phase!r}")
    action = raw.get("action")
    score = raw.get("score")
    if action is not None and action not in ACTIONS:
        err("action", f"action must be one of {', '.join(ACTIONS)}, got {action!r}")
    if score is not None and (isinstance(score, bool) or not isinstance(score, int | float)):
        err("score", f"score must be a number, got {score!r}")
    if action is not None and score is not None:
        err("score", "a rule has an action or a score, not both")
    flag = raw.get("flag")
    if action is None and score is None and flag is None:
        err(None, "a rule needs an action, a score, or a flag side effect")
    sms_status = raw.get("sms_status")
    if sms_status is not None and (not isinstance(sms_status, int) or isinstance(sms_status, bool)
                                   or not 0 < sms_status <= 0xFFFFFFFF):
        err("sms_status", f"sms_status must be an SMPP command_status > 0, got {sms_status!r}")
    sms_block = raw.get("sms_block")
    if sms_block is not None and sms_block not in ("reject", "drop"):
        err("sms_block", f"sms_block must be 'reject' or 'drop', got {sms_block!r}")
    when = raw.get("when", {})
    if not isinstance(when, dict):
        err("when", "'when' must be a table of predicates")
        when = {}
    for key in when:
        if key not in PREDICATES and key not in COUNTERS:
            err(key, f"unknown predicate {key!r}")
    if flag is not None:
        if not isinstance(flag, dict) or set(flag) - {"list", "key", "ttl"} or "list" not in flag:
            err("flag", "flag must be {list = NAME, key = src|dst, ttl = SECONDS}")
            flag = None
        elif not (m := FLAG_KEY_RE.match(str(flag.get("key", "src")))) \
                or not 1 <= int(m.group(2) or 1) <= 15:
            err("flag", "flag key must be 'src', 'dst', or a range 'src_range:N' / "
                "'dst_range:N' (the first N digits, 1 to 15)")
        elif not isinstance(flag.get("ttl", 86400), int | float):
            err("flag", "flag ttl must be seconds")
    examples = raw.get("example", [])
    if not isinstance(examples, list):
        err("example", "examples are [[rule.example]] tables")
        examples = []
    for ex in examples:
        for key in sorted(set(ex) - _EXAMPLE_KEYS):
            err(key, f"unknown example key {key!r}")
        if ex.get("expect") not in ACTIONS:
            err("expect", f"example expect must be one of {', '.join(ACTIONS)}")
    spec = RuleSpec(
        id=rid,
        file=fname,
        line=line,
        description=str(raw.get("description", "")),
        channels=("sms", "call") if "any" in channels else tuple(channels),
        directions=("in", "out") if "any" in directions else tuple(directions),
        phase=str(phase),
        action=action,
        score=float(score) if isinstance(score, int | float) else 0.0,
        reason=str(raw.get("reason") or raw.get("description") or rid),
        sms_status=sms_status,
        sms_block=sms_block,
        when=dict(when),
        flag=dict(flag) if isinstance(flag, dict) else None,
        examples=tuple(examples),
        key_lines=key_lines,
    )
    return spec, errors
