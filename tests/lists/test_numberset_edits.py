"""Number sets under edits with many (nested) prefixes, against a naive model; counts
with nested prefixes; the compiled form in parts; a compiled file alone."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from gateway.lists.compiler import compile_file
from gateway.lists.files import compile_list, compiled_path
from gateway.lists.numberset import NumberSet, Prefix
from gateway.lists.registry import load_lists
from gateway.numbers import Numbering, key_of

ROOT = Path(__file__).resolve().parents[2]
GB = Numbering("GB")


class Model:
    """What a set with exact entries and prefixes should answer, the slow way."""

    def __init__(self) -> None:
        self.exact: set[str] = set()
        self.prefixes: set[str] = set()

    def listed(self, digits: str) -> bool:
        return digits in self.exact or any(digits.startswith(p) for p in self.prefixes)

    def match(self, digits: str) -> tuple[str, bool] | None:
        if digits in self.exact:
            return "+" + digits, False
        covering = [p for p in self.prefixes if digits.startswith(p)]
        return ("+" + max(covering, key=len) + "*", True) if covering else None


# digits under one national range, so prefixes nest and numbers fall under them
_digits = st.text("0123", min_size=1, max_size=5).map(lambda s: "44770" + s)
_numbers = st.text("0123", min_size=5, max_size=7).map(lambda s: "44770" + s)
_ops = st.lists(st.one_of(
    st.tuples(st.just("add"), _numbers), st.tuples(st.just("remove"), _numbers),
    st.tuples(st.just("add*"), _digits), st.tuples(st.just("remove*"), _digits)),
    max_size=60)


@given(_ops)
@example([("add*", "447700"), ("add*", "4477000"), ("remove*", "447700")])
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_edits_with_nested_prefixes_agree_with_a_model(ops: list[tuple[str, str]]) -> None:
    ns, model = NumberSet("t"), Model()
    for op, d in ops:
        if op == "add":
            ns.add_key(key_of(d))
            model.exact.add(d)
        elif op == "remove":
            assert ns.remove_key(key_of(d)) == (d in model.exact)
            model.exact.discard(d)
        elif op == "add*":
            ns.add_prefix(Prefix(d))
            model.prefixes.add(d)
        else:
            assert ns.remove_prefix(Prefix(d)) == (d in model.prefixes)
            model.prefixes.discard(d)
    probes = {d for _, d in ops} | {d + x for _, d in ops for x in ("0", "1", "33")}
    again = NumberSet.deserialize(ns.serialize())
    for d in probes:
        want = model.listed(d)
        assert (key_of(d) in ns) == want, d
        assert (key_of(d) in again) == want, d
        m = ns.match(key_of(d))
        assert (None if m is None else (m.entry, m.prefix)) == model.match(d), d
    assert ns.exact_count() == len(model.exact) == again.exact_count()
    assert set(ns.prefixes) == {Prefix(p) for p in model.prefixes}


def test_nested_prefixes_count_right(tmp_path: Path) -> None:
    txt = tmp_path / "blocked_numbers.txt"
    txt.write_text("+447700900*\n+4477009001*\n+447700900123\n+447700900555\n+447911000111\n")
    ns = compile_file(txt)
    assert (ns.exact_count(), len(ns.prefixes)) == (3, 2)
    out = subprocess.run([sys.executable, "-m", "gateway", "lists", "compile", str(txt)],
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert ": 3 numbers, 2 prefixes" in out.stdout


def test_compiled_form_in_parts_and_alone(tmp_path: Path, monkeypatch: object) -> None:
    import gateway.lists.numberset as numberset

    monkeypatch.setattr(numberset, "PART_KEYS", 1000)  # type: ignore[attr-defined]
    txt = tmp_path / "blocked_numbers.txt"
    with txt.open("w") as f:
        f.write("# a comment\n+4477009*\n")
        for i in range(0, 50_000, 7):
            f.write(f"+4479{i:08d}\n")
    _out, ns = compile_list(txt)
    comp = compiled_path(txt)
    steps = list(NumberSet.loader(comp.read_bytes()))
    assert len(steps) > 7  # one step a part, then the set
    loaded = steps[-1]
    assert loaded is not None and loaded.exact_count() == ns.exact_count() == 7143
    txt.unlink()  # the compiled file alone is the list
    lists = load_lists(tmp_path, GB)
    alone = lists.numbers("blocked_numbers")
    assert alone is not None
    assert key_of("447900000007") in alone and key_of("447900000008") not in alone
    assert alone.match(key_of("4477009123456")).entry == "+4477009*"  # type: ignore[union-attr]


def test_bad_lines_named_with_their_line(tmp_path: Path) -> None:
    txt = tmp_path / "blocked_numbers.txt"
    lines = [f"+4479{i:08d}" for i in range(100_000)]
    lines[70_000] = "+44 79 oops"
    txt.write_text("\n".join(lines) + "\n")
    out = subprocess.run([sys.executable, "-m", "gateway", "lists", "compile", str(txt)],
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 1
    assert f"{txt}:70001: '+4479oops' is not a number" in out.stderr \
        or f"{txt}:70001:" in out.stderr, out.stderr
    assert not compiled_path(txt).exists()


def test_text_newer_than_its_compiled_form_is_compiled_again(tmp_path: Path) -> None:
    import os

    txt = tmp_path / "blocked_numbers.txt"
    txt.write_text("+447700900111\n")
    compile_list(txt)
    txt.write_text("+447700900111\n+447700900222\n")
    st = txt.stat()
    os.utime(txt, ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))
    ns = load_lists(tmp_path, GB).numbers("blocked_numbers")
    assert ns is not None and key_of("447700900222") in ns
    comp = compiled_path(txt)
    assert comp.stat().st_mtime >= txt.stat().st_mtime  # the next start maps it
    assert key_of("447700900222") in NumberSet.deserialize(comp.read_bytes())
