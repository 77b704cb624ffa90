#!/usr/bin/env python3
"""The rules' legitimate examples as look-alikes for the fraud model.

    python3 loadtest/rule_examples_ham.py [RULES_DIR] > FILE.tsv

Every ``[[rule.example]]`` of the rule files that expects ALLOW and gives a text (a
bank's own alert, a school's notice, a friend's "call me") is a legitimate text the
policy has promised to deliver. ``make fraud-model`` passes them to ``spamgw train
--ham`` with the sets' look-alikes, so the model learns them as the genuine side too
(docs/classifier.md); a text another example expects blocked or warned (the same
words from another sender) is left out. Writes ``example<TAB>sender<TAB>text`` lines
(the sets' form: ``mobile`` for a phone number, the sender ID or short code as it is),
one per distinct text.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gateway.engine.loader import parse_rules_dir  # noqa: E402


def allowed_examples(directory: str) -> list[tuple[str, str]]:
    """(sender, text) of every example expecting ALLOW, first occurrence of each text."""
    files, errors, _version = parse_rules_dir(directory)
    if errors:
        raise SystemExit("\n".join(str(e) for e in errors))
    examples = [ex for rf in files for spec in rf.rules
                if "sms" in spec.channels for ex in spec.examples
                if isinstance(ex.get("text"), str) and ex["text"].strip()]
    # a text some example expects blocked or warned from another sender or route (the
    # same words from a phone number and from the brand's sender ID) is not the model's
    # to call genuine: the rules judge it by who sends it
    judged = {" ".join(ex["text"].split()) for ex in examples if ex.get("expect") != "ALLOW"}
    seen: set[str] = set()
    out: list[tuple[str, str]] = []
    for ex in examples:
        text = " ".join(ex["text"].split())
        if ex.get("expect") != "ALLOW" or text in judged or text in seen:
            continue
        seen.add(text)
        src = str(ex.get("src", ""))
        out.append(("mobile" if src.startswith("+") or not src else src, text))
    return out


def main() -> None:
    directory = sys.argv[1] if len(sys.argv) > 1 else str(ROOT / "rules")
    rows = allowed_examples(directory)
    print(f"# the rules' ALLOW examples ({len(rows)}), written by loadtest/rule_examples_ham.py")
    for sender, text in rows:
        print(f"example\t{sender.replace(chr(9), ' ')}\t{text}")


if __name__ == "__main__":
    main()
