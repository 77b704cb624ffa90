"""Per-message cost of the content checks, against baselines measured in the same run.

    python3 loadtest/bench_content.py [--data FILE.tsv] [--repeat 5]

Prints microseconds per message (best of ``--repeat`` passes over every message;
CPU time of this process, so other load on the machine inflates it less) for:
a bare loop and ``str.casefold`` (baselines), the classifier's score, the campaign
fingerprint, the one scan (links, numbers, short codes) and its link part; the shipped
``text_regex`` rules on Python's ``re``, on RE2 (``gateway.content.regex``) and on RE2
behind the literal index (``gateway.content.literals``), and ``(a+)+$`` on a text made
to stall ``re``; then each shipped plugin's ``check(event, facts)`` and the whole
default pipeline (``Engine.evaluate`` with the shipped rules), with and without the
content plugins, each with every regex searched (the baseline) and with the index.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gateway.config import LogConfig, PluginsConfig  # noqa: E402
from gateway.content.classifier import DEFAULT_MODEL, load_model  # noqa: E402
from gateway.content.facts import Facts  # noqa: E402
from gateway.content.fingerprint import Fingerprinter  # noqa: E402
from gateway.content.literals import LiteralIndex  # noqa: E402
from gateway.content.regex import compile_operator_regex  # noqa: E402
from gateway.content.scan import scan, scan_urls  # noqa: E402
from gateway.engine import Engine  # noqa: E402
from gateway.engine.loader import load_ruleset  # noqa: E402
from gateway.engine.plugins import load_plugins  # noqa: E402
from gateway.lists.registry import load_lists  # noqa: E402
from gateway.model import Channel, Direction, Event  # noqa: E402
from gateway.numbers import Numbering  # noqa: E402
from gateway.observe import configure_logging  # noqa: E402
from gateway.state.memory import MemoryCounters  # noqa: E402

DEFAULT_DATA = Path("/work/shared/data/sms-spam-collection/train.tsv")


def messages(path: Path) -> list[str]:
    if path.exists():
        return [line.rstrip("\n").split("\t", 1)[1] for line in
                path.read_text(encoding="utf-8").splitlines() if "\t" in line]
    ham = ROOT / "tests" / "data" / "ham_200.txt"
    return [m for m in ham.read_text(encoding="utf-8").splitlines() if not m.startswith("#")]


def per_item(fn: Callable[[Any], object], items: Sequence[Any], repeat: int) -> float:
    """Best CPU microseconds per item over ``repeat`` passes."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.process_time()
        for x in items:
            fn(x)
        best = min(best, time.process_time() - t0)
    return best / len(items) * 1e6


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)
    configure_logging(LogConfig(level="error", format="console"))
    texts = messages(args.data)
    r = args.repeat
    numbering = Numbering("GB")
    model = load_model(DEFAULT_MODEL)
    fp = Fingerprinter()
    print(f"{len(texts)} messages, mean {sum(map(len, texts)) / len(texts):.0f} chars; "
          f"model {DEFAULT_MODEL.name} {DEFAULT_MODEL.stat().st_size} bytes, "
          f"{len(model.weights)} weights; best of {r} passes, CPU us per message")
    rows = [
        ("baseline: bare loop", lambda t: None),
        ("baseline: str.casefold", str.casefold),
        ("classifier score", model.score),
        ("campaign fingerprint (4 band keys)", fp.keys),
        ("scan: links, numbers, short codes", scan),
        ("scan: links only (the rules' has_url)", scan_urls),
    ]
    for name, fn in rows:
        print(f"  {name:40s} {per_item(fn, texts, r):8.2f}")
    regex_rows(texts, r)

    lists = load_lists(ROOT / "rules" / "lists", numbering)
    src = numbering.parse("+447700900500")
    events = [Event(Channel.SMS, Direction.IN, src, numbering.e164(f"4477009{10000 + i % 9000}"),
                    text=t, ts=1_790_000_000.0 + i) for i, t in enumerate(texts)]
    print("plugin check(event, facts), CPU us per event (fresh facts each):")
    state = MemoryCounters()
    plugins = load_plugins(PluginsConfig(dir=str(ROOT / "plugins")), lists=lists, state=state,
                           numbering=numbering)
    for p in plugins:
        def run(ev: Event, check: Any = p.check) -> object:
            return check(ev, Facts(ev))

        print(f"  {p.name:40s} {per_item(run, events, r):8.2f}")
    # the baseline of each: the same ruleset with every text_regex searched on every text,
    # without the literal index that skips the patterns whose strings a text lacks
    for label, plugs in (("without content plugins", ()), ("with content plugins", plugins)):
        for prefilter in (False, True):
            state = MemoryCounters()
            # without the plugins, the rules naming their symbols are left out, as a
            # gateway without plugins leaves them (missing_symbols = "disable")
            rs = load_ruleset(ROOT / "rules", lists=lists, state=state, plugins=plugs,
                              home_region="GB", missing_symbols="error" if plugs else "disable",
                              prefilter=prefilter)
            engine = Engine(rs, emergency=lists.emergency, numbering=numbering)
            how = "literal index" if prefilter else "every regex searched"
            print(f"  Engine.evaluate, {label}, {how:21s} "
                  f"{per_item(engine.evaluate, events, r):8.2f}")
    return 0


def regex_rows(texts: list[str], r: int) -> None:
    """The shipped text_regex rules, each as the compiler joins them (named patterns
    resolved), on re and RE2."""
    import re

    from gateway.engine.loader import resolved_specs

    specs, errors = resolved_specs(ROOT / "rules")
    if errors:
        raise SystemExit("\n".join(map(str, errors)))
    patterns = []
    for spec in specs:
        v = spec.when.get("text_regex")
        if v:
            patterns.append(v if isinstance(v, list) else [v])
    py = [re.compile("|".join(f"(?:{p})" for p in ps), re.IGNORECASE) for ps in patterns]
    ops = [compile_operator_regex(ps) for ps in patterns]
    t_re = sum(per_item(rx.search, texts, r) for rx in py)
    t_re2 = sum(per_item(op.search, texts, r) for op in ops)
    on_re2 = sum(o.engine == "re2" for o in ops)
    print(f"  {len(patterns)} shipped text_regex rules, re {'':19s} {t_re:8.2f}")
    print(f"  {len(patterns)} shipped text_regex rules, RE2 ({on_re2} on RE2) {'':5s} {t_re2:8.2f}")
    # the same behind the literal index: one pass finds the strings every pattern needs,
    # and only the patterns whose strings the text has are searched
    index = LiteralIndex()
    for op in ops:
        if op.literals is not None:
            index.add(op.literals)
    index.build()

    def prefiltered(text: str) -> None:
        found = index.find(text.casefold())
        for op in ops:
            if op.literals is None or not op.literals.isdisjoint(found):
                op.search(text)

    t_pre = per_item(prefiltered, texts, r)
    with_strings = sum(op.literals is not None for op in ops)
    print(f"  {len(patterns)} shipped text_regex rules, RE2 behind the literal index "
          f"({with_strings} with strings) {t_pre:8.2f}")
    # and pattern by pattern, as the rules search: each pattern of a list only where
    # the text has one of its own strings (gateway.content.regex.Parts)
    split = LiteralIndex()
    whole = [op for op in ops if op.parts is None]  # searched whole, behind the index
    for op in whole:
        if op.literals is not None:
            split.add(op.literals)
    lists = [op.parts.bind(split) for op in ops if op.parts is not None]
    split.build()

    def by_pattern(text: str) -> None:
        found = split.find(text.casefold())
        open_ = split.open_parts(found)
        b = text.encode("utf-8", "surrogatepass")

        def utf8() -> bytes:
            return b
        for search in lists:
            search(open_, utf8)
        for op in whole:
            if op.literals is None or not op.literals.isdisjoint(found):
                op.search(text)

    t_split = per_item(by_pattern, texts, r)
    split_lists = len(lists)
    print(f"  {len(patterns)} shipped text_regex rules, RE2 pattern by pattern "
          f"({split_lists} lists split) {t_split:8.2f}")
    bad = "a" * 22 + "!"
    for name, rx in (("re", re.compile(r"(a+)+$")), ("RE2", compile_operator_regex([r"(a+)+$"]))):
        t0 = time.perf_counter()
        rx.search(bad)
        print(f"  (a+)+$ on 22 a's and '!', {name:4s} {(time.perf_counter() - t0) * 1e6:26,.0f} us")


if __name__ == "__main__":
    raise SystemExit(main())
