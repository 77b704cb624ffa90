"""``spamgw replay FILE [--rules DIR] [--config FILE]``: recorded events through a ruleset.

FILE holds JSON lines, one event each, with the fields ``spamgw check`` and rule
examples use (``channel``, ``direction``, ``src``, ``dst``, ``text``, ``route``,
``ts``, ``phase``, ``duration``, ``billsec``, ``dialstatus``; ``-`` reads stdin).
Events run in file order through the ruleset with fresh in-memory counters (a
configured Redis is never touched), their own timestamps driving the windows.
Prints what would have been blocked or warned, then a summary. Exit 0; 1 if the
rules are broken or a line is not an event (one without ``dst`` is not: each bad
line is named by its number); 2 on usage errors. Output cut short by its reader
(``spamgw replay FILE | head``) ends quietly.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections import Counter
from typing import IO, Any

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="spamgw replay", description=__doc__.split("\n\n")[0])
    p.add_argument("file", help="JSON-lines events ('-': stdin)")
    p.add_argument("--rules", help="rules dir (default: [rules] dir of the config)")
    p.add_argument("--config", help="TOML config (lists, home country, plugins)")
    p.add_argument("--quiet", action="store_true", help="summary only")
    p.add_argument("--json", action="store_true", help="print verdicts and summary as JSON")
    return p


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv[1:])
    from gateway.app import build_core
    from gateway.config import ConfigError, LogConfig, load_config
    from gateway.engine.examples import event_from_fields
    from gateway.engine.schema import RuleErrors
    from gateway.lists.files import ListFileError
    from gateway.observe import configure_logging
    from gateway.state.memory import MemoryCounters

    configure_logging(LogConfig(level="error", format="console"))
    try:
        cfg = load_config(args.config)
        if args.rules:
            cfg = dataclasses.replace(cfg, rules=dataclasses.replace(cfg.rules, dir=args.rules))
        cfg = dataclasses.replace(cfg, log=dataclasses.replace(cfg.log, audit=""))
        core = build_core(cfg, state=MemoryCounters())
    except RuleErrors as e:
        for err in e.errors:
            print(err, file=sys.stderr)
        return 1
    except (ConfigError, ListFileError) as e:
        print(f"spamgw replay: {e}", file=sys.stderr)
        return 1
    core.engine.observer = None  # no audit log, no live statistics: this is a rehearsal
    try:
        f: IO[str] = sys.stdin if args.file == "-" else open(args.file, encoding="utf-8")  # noqa: SIM115
    except OSError as e:
        print(f"spamgw replay: {args.file}: {e.strerror}", file=sys.stderr)
        return 2
    actions: Counter[str] = Counter()
    rules: Counter[str] = Counter()
    bad: list[str] = []
    t0 = time.perf_counter()
    with f:
        for lineno, line in enumerate(f, 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            try:
                fields: Any = json.loads(line)
                if not isinstance(fields, dict):
                    raise ValueError("not a JSON object")
                if not isinstance(fields.get("dst"), str) or not fields["dst"].strip():
                    raise ValueError("no dst: every event needs a destination")
                ev = event_from_fields(fields, core.numbering)
            except (ValueError, TypeError, KeyError) as e:
                bad.append(f"{args.file}:{lineno}: {e}")
                continue
            v = core.engine.evaluate(ev)
            actions[v.action.value] += 1
            rules.update(v.rules)
            if v.action.value != "ALLOW" and not args.quiet:
                if args.json:
                    print(json.dumps({"line": lineno, "event": fields, **v.to_json()}))
                else:
                    print(f"{lineno}: {v.action.value:5} {ev.channel.value}/{ev.direction.value}"
                          f" {ev.src} -> {ev.dst} score {v.score:g} [{', '.join(v.rules)}]"
                          f" {v.reason}")
    elapsed = time.perf_counter() - t0
    for msg in bad[:20]:
        print(msg, file=sys.stderr)
    total = sum(actions.values())
    summary = {"events": total, "block": actions["BLOCK"], "warn": actions["WARN"],
               "allow": actions["ALLOW"], "bad_lines": len(bad),
               "ruleset": core.engine.ruleset.version,
               "rules": dict(rules.most_common()), "seconds": round(elapsed, 3)}
    if args.json:
        print(json.dumps({"summary": summary}))
    else:
        print(f"replayed {total} events with ruleset {summary['ruleset']}: "
              f"{summary['block']} blocked, {summary['warn']} warned, {summary['allow']} allowed"
              + (f", {len(bad)} bad lines" if bad else ""))
        for r, n in rules.most_common(15):
            print(f"  {n:8d}  {r}")
    return 1 if bad else 0
