"""Per-message cost of the content classifier, against the first shipped model.

    python3 loadtest/bench_classifier.py [--data FILE.tsv] [--model M] [--baseline B]
                                         [--repeat 5]

Prints CPU microseconds per message (this process only, so other load on the
machine inflates it less) over every text of ``--data`` (default: the shared
train.tsv), for the model (default: the shipped one) and a baseline in the same
run (default: the first shipped model, format 1, read from git at ``BASELINE_COMMIT``):

- ``score, first pass``: ``Model.score(text)`` on a freshly loaded model (no
  template cache; the word memo holds only the model's own words);
- ``score, uncached``: the best of ``--repeat`` further passes (word memo warm,
  still no template cache: every text normalised and scored again);
- ``plugin check, cached``: the plugin's ``check(event, facts)`` once its
  template cache has seen every text (what repeated templates cost);
- ``plugin check, cache off``: ``cache_size = 0``.

Then the shipped plugin as it runs (the content and the fraud model scored in one
pass, ``ModelPair``), cache off, by the compiled scorer (``gateway/content/_native.c``)
and by the Python pass it is held to, in the same run: the text preparation both
share, and the scoring each adds.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gateway.content.classifier import DEFAULT_MODEL, Model, load_model  # noqa: E402
from gateway.engine.compiler import Facts  # noqa: E402
from gateway.model import Channel, Direction, Event  # noqa: E402
from gateway.numbers import Numbering  # noqa: E402

sys.path.insert(0, str(ROOT / "loadtest"))
from bench_content import DEFAULT_DATA, messages, per_item  # noqa: E402

#: the commit whose gateway/content/models/sms_lr.json.gz is the baseline
BASELINE_COMMIT = "3f577e8"


def baseline_model(tmp: Path) -> Path | None:
    try:
        data = subprocess.run(
            ["git", "-C", str(ROOT), "show",
             f"{BASELINE_COMMIT}:gateway/content/models/sms_lr.json.gz"],
            check=True, capture_output=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    path = tmp / "baseline.json.gz"
    path.write_bytes(data)
    return path


def plugin_module() -> Any:
    from gateway.testing.policy import plugin_module as load

    return load(ROOT / "plugins" / "classifier.py", "spamgw_bench_classifier")


def measure(path: Path, texts: list[str], events: list[Event], repeat: int) -> list[float]:
    model: Model = load_model(path)
    t0 = time.process_time()
    for t in texts:
        model.score(t)
    first = (time.process_time() - t0) / len(texts) * 1e6
    warm = per_item(model.score, texts, repeat)
    mod = plugin_module()
    cached = mod.ClassifierPlugin(load_model(path), cache_size=1 << 20)
    for ev in events:
        cached.check(ev, Facts(ev))
    hit = per_item(lambda ev: cached.check(ev, Facts(ev)), events, repeat)
    off = mod.ClassifierPlugin(load_model(path), cache_size=0)
    miss = per_item(lambda ev: off.check(ev, Facts(ev)), events, repeat)
    return [first, warm, hit, miss]


def measure_pair(events: list[Event], repeat: int) -> list[tuple[str, float]]:
    """The shipped plugin (both models), cache off: compiled against Python."""
    from gateway.content import compiled
    from gateway.content.classifier import DEFAULT_FRAUD_MODEL, ModelPair

    mod = plugin_module()
    out = []
    facts = [Facts(ev) for ev in events]
    for f in facts:
        f.template()
    prep = per_item(lambda f: words_of(f.template()), facts, repeat)
    out.append(("preparation (prepare_template, words)", prep))
    runs = [("Python", False)] + ([("compiled", True)] if compiled.available() else [])
    for name, native in runs:
        pair = ModelPair(load_model(DEFAULT_MODEL), load_model(DEFAULT_FRAUD_MODEL), native)
        ws = [words_of(f.template()) for f in facts]
        out.append((f"scoring both models, {name}", per_item(pair.score_words, ws, repeat)))
        plugin = mod.ClassifierPlugin(load_model(DEFAULT_MODEL), cache_size=0,
                                      fraud=load_model(DEFAULT_FRAUD_MODEL))
        plugin.pair = pair
        out.append((f"plugin check, cache off, {name}",
                     per_item(lambda ev, p=plugin: p.check(ev, Facts(ev)), events, repeat)))
    return out


def words_of(template_text: str) -> list[str]:
    from gateway.content.classifier import prepare_template, words

    return words(prepare_template(template_text), False)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    ap.add_argument("--baseline", type=Path, help=f"default: the model at {BASELINE_COMMIT}")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)
    texts = messages(args.data)
    n = Numbering("GB")
    events = [Event(channel=Channel.SMS, direction=Direction.IN,
                    src=n.from_caller_id("+447700900001"), dst=n.from_caller_id("+447700900002"),
                    text=t) for t in texts]
    with tempfile.TemporaryDirectory() as tmp:
        base = args.baseline or baseline_model(Path(tmp))
        columns = [("model", args.model)] + ([("baseline", base)] if base else [])
        results = {name: measure(path, texts, events, args.repeat) for name, path in columns}
    print(f"{len(texts)} messages from {args.data}; CPU us per message")
    rows = ["score, first pass", "score, uncached", "plugin check, cached",
            "plugin check, cache off"]
    print(f"  {'':26}" + "".join(f" {name:>10}" for name, _ in columns))
    for i, row in enumerate(rows):
        print(f"  {row:26}" + "".join(f" {results[name][i]:10.2f}" for name, _ in columns))
    for name, path in columns:
        print(f"  {name}: {path}")
    print("the shipped plugin, content and fraud model in one pass, cache off; CPU us per message")
    for row, us in measure_pair(events, args.repeat):
        print(f"  {row:42} {us:10.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
