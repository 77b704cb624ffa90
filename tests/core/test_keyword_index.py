"""The engine's symbol, keyword and literal indexes: a rule that needs a plugin symbol
(``symbol``, ``symbols_all``) is skipped without its predicates when no plugin emitted
one of them; a rule gated by whole keywords (``text_keywords``) is skipped the same
way when the text has none of them; a rule without them whose ``text_regex`` needs
one of the literal index's strings is skipped when the text has none of those. The
shipped rules and plugins must give the same verdicts with the indexes as without
them, message by message, on texts that open many rules (the development and
held-out sets, the corpus's spam and ham) and on texts that open none."""

from dataclasses import replace
from pathlib import Path

import pytest

from gateway.engine.examples import event_from_fields
from gateway.testing.policy import policy_core

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "loadtest" / "data"
CORPUS = ROOT.parent / "shared" / "data" / "sms-spam-collection" / "train.tsv"


def _core():  # type: ignore[no-untyped-def]
    return policy_core(ROOT)


def _texts() -> list[tuple[str, str]]:
    out = []
    for path in sorted(DATA.glob("smishing*.tsv")):
        for line in path.read_text(encoding="utf-8").splitlines():
            parts = line.split("\t")
            if len(parts) == 3:
                out.append((parts[1], parts[2]))
    if CORPUS.exists():
        for line in CORPUS.read_text(encoding="utf-8").splitlines()[:1500]:
            _label, _, text = line.partition("\t")
            out.append(("mobile", text))
    out += [("mobile", ""), ("mobile", "ok"), ("Bank", "!!!"), ("mobile", "ça va? à demain")]
    return out


# every text of the sets, judged twice: the work grows with each set written (about
# 50,000 texts by the thirty-third session, when it took over the suite's default two
# minutes beside two callgrind runs), so it has the literal checks' budget
@pytest.mark.timeout(600)
def test_the_index_changes_no_verdict() -> None:
    indexed, plain = _core(), _core()
    rs = plain.engine.ruleset
    plain.engine.ruleset = replace(rs, sym_bits={}, kw_words=frozenset(), kw_bits={},
                                   lit_bits={}, literals=None)
    gated = [r for r in indexed.engine.ruleset.rules if r.gate_bit]
    by_symbols = [r for r in gated if r.symbol_gate]
    by_keywords = [r for r in gated if r.gate and not r.symbol_gate]
    by_strings = [r for r in gated if not r.gate and not r.symbol_gate]
    assert len(by_symbols) >= 20  # the rules that combine plugin symbols with wording
    assert len(by_keywords) >= 30  # the shipped scam rules are gated by their keywords
    assert len(by_strings) >= 30  # and many others by their regexes' strings
    assert all(r.literal_gate for r in by_strings)
    # every rule with a symbol condition is gated by it, whatever else it has
    assert {r.id for r in by_symbols} == {
        r.id for r in indexed.engine.ruleset.rules
        if r.spec.when.get("symbol") or r.spec.when.get("symbols_all")}
    rules = indexed.engine.ruleset.rules  # the first rule's bit is the highest
    assert all(r.gate_bit == 1 << (len(rules) - 1 - rules.index(r)) for r in gated)
    texts = _texts()
    assert len(texts) > 2000
    opened_any = opened_strings = opened_symbols = 0
    for i, (sender, text) in enumerate(texts):
        src = f"+4477009{i % 100000:05d}" if sender in ("mobile", "intl") else sender
        fields = {"src": src, "dst": f"+4479{i:08d}", "text": text, "route": "agg-grey",
                  "ts": 1_790_000_000.0 + 30.0 * i}
        a = indexed.engine.evaluate(event_from_fields(fields, indexed.numbering))
        b = plain.engine.evaluate(event_from_fields(fields, plain.numbering))
        assert (a.action, a.rules, a.score) == (b.action, b.rules, b.score), text
        opened_any += any(r in a.rules for r in (g.id for g in by_keywords))
        opened_strings += any(r in a.rules for r in (g.id for g in by_strings))
        opened_symbols += any(r in a.rules for r in (g.id for g in by_symbols))
    assert opened_any > 200  # the comparison covered rules the index let through
    assert opened_strings > 200
    assert opened_symbols > 200
