"""The ``spamgw`` command line (stable names: DESIGN.md "Stable interfaces")."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

__all__ = ["main"]


def _die(msg: str, code: int = 2) -> int:
    print(f"spamgw: {msg}", file=sys.stderr)
    return code


def _quiet_logging() -> None:
    from gateway.config import LogConfig
    from gateway.observe import configure_logging

    configure_logging(LogConfig(level="error", format="console"))


def _config(path: str | None) -> Any:
    from gateway.config import load_config

    return load_config(path)


def cmd_run(args: argparse.Namespace) -> int:
    from gateway.app import run
    from gateway.supervisor import supervise, worker_count

    config = _config(args.config)
    if args.workers is None:
        workers = worker_count(config.gateway.workers)
    else:
        workers = worker_count(args.workers, "--workers")
    if workers > 1:
        return supervise(config, workers, args.config)
    if config.state.backend == "redis":  # one of several nodes: follow their changes
        from gateway.workers import alone

        return run(config, around=alone(config))
    return run(config)


def _core(args: argparse.Namespace) -> Any:
    from gateway.app import build_core

    _quiet_logging()
    return build_core(_config(getattr(args, "config", None)))


def cmd_check(args: argparse.Namespace) -> int:
    from gateway.engine.examples import event_from_fields

    core = _core(args)
    preload = getattr(core.state, "preload", None)
    if preload is not None:  # redis backend: one synchronous read of the live flags
        preload()
    fields: dict[str, Any] = {"src": args.src, "dst": args.dst, "route": args.route}
    if args.text is not None:
        fields["text"] = args.text
    direction = args.direction or ("in" if args.kind == "sms" else "out")
    ev = event_from_fields(fields, core.numbering, channel=args.kind, direction=direction)
    # a dry run: its own counters aside (a redis backend's are read once, never pushed),
    # no line goes to the live audit log and no blocked SMS to the quarantine
    verdict = core.dry_run(ev)
    print(json.dumps(verdict.to_json()))
    return 0


def _rules_env(args: argparse.Namespace) -> tuple[Any, str]:
    """Lists, numbering and plugins for checking a rules dir."""
    from dataclasses import replace

    cfg = _config(args.config)
    directory = args.dir or cfg.rules.dir
    if args.dir and not args.config:
        lists_dir = Path(args.dir) / "lists"
        cfg = replace(cfg, lists=replace(cfg.lists, dir=str(lists_dir)))
    return cfg, directory


def cmd_rules(args: argparse.Namespace) -> int:
    from gateway.engine.examples import run_examples
    from gateway.engine.loader import load_ruleset
    from gateway.engine.plugins import PluginError, load_plugins
    from gateway.engine.schema import RuleErrors
    from gateway.lists.files import ListFileError
    from gateway.lists.registry import load_lists
    from gateway.numbers import Numbering
    from gateway.state.memory import MemoryCounters

    _quiet_logging()
    cfg, directory = _rules_env(args)
    try:
        numbering = Numbering(cfg.gateway.home_country)
        lists = load_lists(cfg.lists.dir, numbering, cfg.gateway.protected_numbers)
        state = MemoryCounters()
        plugins = load_plugins(cfg.plugins, lists=lists, state=state, numbering=numbering)
        missing = cfg.plugins.missing_symbols
        if args.action == "check":
            rs = load_ruleset(directory, lists=lists, state=state, plugins=plugins,
                              home_region=numbering.home_region, missing_symbols=missing)
            for note in _without_symbols(directory, plugins):
                print(note, file=sys.stderr)
            print(f"{directory}: {len(rs.rules)} rules in {len(rs.files)} files, "
                  f"version {rs.version}: ok")
            return 0
        count, failures = run_examples(directory, lists=lists, numbering=numbering,
                                       plugins=plugins, missing_symbols=missing)
    except RuleErrors as e:
        for err in e.errors:
            print(err, file=sys.stderr)
        return 1
    except (ListFileError, PluginError) as e:
        print(e, file=sys.stderr)
        return 1
    for f in failures:
        print(f, file=sys.stderr)
    print(f"{directory}: {count - len(failures)} of {count} examples passed")
    return 1 if failures else 0


def _without_symbols(directory: str, plugins: Any) -> list[str]:
    """``file:line: rule-id: ...`` for each rule that runs without a symbol no loaded
    plugin provides (``[plugins] missing_symbols = "disable"``)."""
    from gateway.engine.loader import (
        parse_rules_dir,
        symbol_line,
        unprovided_symbols,
        without_symbols,
    )

    symbols = frozenset(s.name for p in plugins for s in p.symbols)
    notes = []
    for rf in parse_rules_dir(directory)[0]:
        for spec in rf.rules:
            missing = unprovided_symbols(spec, symbols)
            if missing:
                what = "disabled" if without_symbols(spec, missing) is None else "runs without"
                notes.append(f"{spec.file}:{symbol_line(spec)}: {spec.id}: {what}: no "
                             f"loaded plugin provides {', '.join(map(repr, missing))} "
                             f'([plugins] missing_symbols = "disable")')
    return notes


def cmd_lists(args: argparse.Namespace) -> int:
    from gateway.lists.files import ListFileError, compile_list, list_kind
    from gateway.lists.numberset import NumberSet
    from gateway.lists.registry import load_lists
    from gateway.numbers import Numbering

    _quiet_logging()
    cfg = _config(args.config)
    if args.action == "compile":
        target = Path(args.path or cfg.lists.dir)
        paths = sorted(target.glob("*.txt")) if target.is_dir() else [target]
        status = 0
        for path in paths:
            if list_kind(path.stem) != "numbers":
                continue
            try:
                t0 = time.perf_counter()
                out, ns = compile_list(path)
                print(f"{path} -> {out}: {ns.exact_count()} numbers, {len(ns.prefixes)} "
                      f"prefixes, {ns.size_in_bytes()} bytes, {time.perf_counter() - t0:.2f} s")
            except ListFileError as e:
                print(e, file=sys.stderr)
                status = 1
        return status
    numbering = Numbering(cfg.gateway.home_country)
    try:
        lists = load_lists(args.dir or cfg.lists.dir, numbering, cfg.gateway.protected_numbers)
    except ListFileError as e:
        print(e, file=sys.stderr)
        return 1
    if args.action == "stats":
        for name, lst in lists.items():
            if isinstance(lst, NumberSet):
                print(f"{name}: numbers, {lst.exact_count()} exact, {len(lst.prefixes)} "
                      f"prefixes, {lst.size_in_bytes()} bytes")
            else:
                print(f"{name}: {lst.kind} strings, {len(lst)} entries")
        return 0
    # lookup
    number = numbering.from_caller_id(args.number)
    found = False
    for name, lst in lists.items():
        if args.list and name != args.list:
            continue
        if isinstance(lst, NumberSet):
            m = lst.match(number.key) if number.key else None
            if m is not None:
                found = True
                print(json.dumps({"list": name, "number": str(number), "entry": m.entry,
                                  "prefix": m.prefix}))
        else:
            hit = lst.match(number.text) if number.text else None
            if hit is not None:
                found = True
                print(json.dumps({"list": name, "number": str(number), "entry": hit,
                                  "prefix": False}))
    if not found:
        print(json.dumps({"number": str(number), "listed": False}))
    return 0 if found else 1


def _delegate(module: str, argv: list[str]) -> int:
    try:
        mod = importlib.import_module(module)
    except ImportError as e:
        return _die(f"{module} is not available in this build: {e}")
    result: int = mod.main(argv)
    return result


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The parser, and the subcommands that take their own arguments."""
    delegated: dict[str, argparse.ArgumentParser] = {}
    p = argparse.ArgumentParser(prog="spamgw", description="Voice and SMS spam and fraud "
                                "filtering gateway: SMPP proxy, FastAGI call screening, "
                                "one rule engine.")
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the SMPP proxy, FastAGI server and admin HTTP")
    run.add_argument("--config", help="TOML config file (default: built-in defaults)")
    run.add_argument("--workers", help="worker processes sharing the ports, or 'auto' "
                     "(one per core); default: [gateway] workers, 1")
    run.set_defaults(func=cmd_run)

    sim = sub.add_parser("smsc-sim", help="run the bundled SMSC simulator", add_help=False)
    delegated["smsc-sim"] = sim
    sim.set_defaults(func=lambda a: _delegate("gateway.smpp.sim", a.rest))

    rules = sub.add_parser("rules", help="check rule files or run their examples")
    rules.add_argument("action", choices=("check", "test"))
    rules.add_argument("dir", nargs="?", help="rules directory (default: [rules] dir); "
                       "its lists/ subdirectory is used for list names")
    rules.add_argument("--config")
    rules.set_defaults(func=cmd_rules)

    check = sub.add_parser("check", help="judge one message or call and print the verdict")
    check.add_argument("kind", choices=("sms", "call"))
    check.add_argument("--src", required=True)
    check.add_argument("--dst", required=True)
    check.add_argument("--text")
    check.add_argument("--route", default="")
    check.add_argument("--direction", choices=("in", "out"),
                       help="default: in for sms (A2P to subscribers), out for calls")
    check.add_argument("--config")
    check.set_defaults(func=cmd_check)

    lists = sub.add_parser("lists", help="compile, inspect and query number lists")
    lists.add_argument("action", choices=("compile", "stats", "lookup"))
    lists.add_argument("path", nargs="?", help="compile: a list file or directory")
    lists.add_argument("--number", help="lookup: the number to look up")
    lists.add_argument("--list", help="lookup: only this list")
    lists.add_argument("--dir", help="stats/lookup: lists directory")
    lists.add_argument("--config")
    lists.set_defaults(func=cmd_lists)

    for name, module, text in (
        ("demo", "gateway.demo", "run the gateway with the bundled SMSC simulator upstream"),
        ("replay", "gateway.replay", "run recorded events through a ruleset"),
        ("train", "gateway.content.train", "train the SMS content classifier"),
        ("eval", "gateway.content.train", "evaluate the SMS content classifier"),
    ):
        sp = sub.add_parser(name, help=text, add_help=False)
        delegated[name] = sp
        sp.set_defaults(func=lambda a, m=module, n=name: _delegate(
            m, a.rest if n == "demo" else [n, *a.rest]))
    return p, delegated


def main(argv: list[str] | None = None) -> int:
    from gateway.config import ConfigError

    argv = list(sys.argv[1:] if argv is None else argv)
    parser, delegated = build_parser()
    if argv and argv[0] in delegated:  # they parse their own arguments
        ns = argparse.Namespace(rest=argv[1:])
        ns.func = delegated[argv[0]].get_default("func")
        args = ns
    else:
        args = parser.parse_args(argv)
    if args.func is cmd_lists and args.action == "lookup" and not args.number:
        if args.path:
            args.number = args.path
        else:
            return _die("lists lookup needs a number")
    try:
        result: int = args.func(args)
        return result
    except ConfigError as e:
        return _die(str(e))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader left (``spamgw replay ... | head``): no traceback
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # nothing left to flush at exit either
        os.close(devnull)
        return 0
    except Exception as e:  # startup errors that name their file and line
        from gateway.engine.plugins import PluginError
        from gateway.engine.schema import RuleErrors
        from gateway.lists.files import ListFileError

        if isinstance(e, RuleErrors | ListFileError | PluginError):
            return _die(str(e), 1)
        raise
