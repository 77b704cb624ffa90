"""The compiled content path (gateway/content/_native.c) against its Python reference:
the content and fraud models' scorer gives the floats the Python pass gives, on every
kind of text, whatever its word memo holds; the MinHash band keys are the Python
sketch's."""

from __future__ import annotations

import json
import os
import random
import threading
from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.content import compiled
from gateway.content.classifier import (
    DEFAULT_FRAUD_MODEL,
    DEFAULT_MODEL,
    Model,
    ModelPair,
    load_model,
    prepare_template,
    words,
)
from gateway.content.fingerprint import Fingerprinter, campaign_parts
from gateway.content.normalize import template
from gateway.content.train import read_rows, read_tsv

ROOT = Path(__file__).resolve().parents[2]
TRAIN = Path("/work/shared/data/sms-spam-collection/train.tsv")
# read sets only (loadtest/data/README.md: the unread held-out sets stay unread)
SETS = ["smishing.tsv", "smishing_ham.tsv", "openers.tsv", "busy_senders.tsv",
        "smishing_holdout12.tsv", "smishing_holdout12_ham.tsv"]

if compiled._native is None:  # pragma: no cover - a build without the extension
    if os.environ.get("SPAMGW_REQUIRE_NATIVE"):
        raise RuntimeError("SPAMGW_REQUIRE_NATIVE: gateway.content._native was not built")
    pytest.skip("the compiled content path was not built (no C compiler)",
                allow_module_level=True)
_native = compiled._native


@pytest.fixture(scope="module")
def models() -> tuple[Model, Model]:
    return load_model(DEFAULT_MODEL), load_model(DEFAULT_FRAUD_MODEL)


def _texts() -> list[str]:
    texts = [t for f in SETS for _, _, t in read_rows(ROOT / "loadtest" / "data" / f)]
    if TRAIN.exists():
        texts += read_tsv(TRAIN)[0]
    return texts


def _words(model: Model, text: str) -> list[str]:
    return words(prepare_template(template(text)), model.digits)


def test_the_same_floats_as_python_on_every_text_at_hand(models: tuple[Model, Model]) -> None:
    """The corpus, the read fraud sets and their look-alikes (every script they carry),
    each text's words scored by both passes: bit for bit the same, warm and cold."""
    a, b = models
    py, native = ModelPair(a, b, native=False), ModelPair(a, b, native=True)
    assert native.native is not None and py.native is None
    texts = _texts()
    assert len(texts) > 3000
    ws = [_words(a, t) for t in texts]
    want = [py.score_words(w) for w in ws]
    assert [native.score_words(w) for w in ws] == want  # learning the words
    assert [native.score_words(w) for w in ws] == want  # from the memo


_WORDS = st.sampled_from(["call", "free", "txt", "now", "win", "prize", "stop", "0000", "000",
                          "£", "$", "€", "ok", "u", "ur", "mum", "code", "otp", "bank",
                          "é", "ß", "ΐ", "кто", "नया", "😀", "a" * 300, "zqxjv",
                          "\U0001d41f\U0001d42b\U0001d41e\U0001d41e"])  # bold "free"


@settings(max_examples=300, deadline=None)
@given(st.lists(_WORDS | st.text(min_size=1, max_size=12).filter(lambda w: " " not in w),
                max_size=200))
def test_any_word_list_scores_alike(ws: list[str]) -> None:
    """Repeated words and pairs (each counts once), words the models know and do not,
    every width of code point, words longer than the key buffer on the stack, more
    words than the small tables on the stack: the same floats."""
    a, b = load_model(DEFAULT_MODEL), load_model(DEFAULT_FRAUD_MODEL)
    assert ModelPair(a, b, native=True).score_words(ws) == \
        ModelPair(a, b, native=False).score_words(ws)


def test_the_word_memo_is_bounded_and_starts_over(models: tuple[Model, Model]) -> None:
    """More distinct new words than the memo holds: it starts over (at most
    ``WORD_MEMO`` words) and the scores stay the Python pass's."""
    a, b = models
    native, py = ModelPair(a, b, native=True), ModelPair(a, b, native=False)
    rng = random.Random(5)
    alphabet = "abcdefghijklmnopqrstuvwxyz"
    batches = [["".join(rng.choices(alphabet, k=rng.randint(3, 9))) for _ in range(1000)]
               for _ in range(130)]
    sizes = []
    for ws in batches:
        assert native.score_words(ws) == py.score_words(ws)
        sizes.append(native.native.memo_size())
    assert max(sizes) <= _native.WORD_MEMO
    assert any(later < earlier for earlier, later in pairwise(sizes))  # started over


def test_pairs_of_the_same_models_share_one_scorer(models: tuple[Model, Model]) -> None:
    """Every plugin built from the same two model files (a reload, an examples check)
    shares one compiled scorer: its memo caches a pure function of the word, and a call
    runs whole under the GIL. Another bias is another scorer."""
    a, b = models
    a2, b2 = load_model(DEFAULT_MODEL), load_model(DEFAULT_FRAUD_MODEL)
    assert ModelPair(a, b).native is ModelPair(a2, b2).native
    from dataclasses import replace
    other = ModelPair(replace(a, bias=a.bias + 1.0, pairs=a.pairs), b, native=True)
    assert other.native is not ModelPair(a, b).native
    ws = ["call", "now", "to", "claim", "your", "prize"]
    assert other.score_words(ws)[0] == pytest.approx(ModelPair(a, b).score_words(ws)[0] + 1.0)


def test_threads_scoring_with_one_scorer_agree(models: tuple[Model, Model]) -> None:
    """The event loop and a reload's examples check score with one scorer at once, both
    learning words: every answer is the Python pass's."""
    a, b = models
    py = ModelPair(a, b, native=False)
    texts = _texts()[:1500]
    rng = random.Random(9)
    lists = [[*_words(a, t), "".join(rng.choices("qxzjkv", k=7))] for t in texts]
    want = [py.score_words(w) for w in lists]
    native = ModelPair(a, b, native=True)
    wrong: list[int] = []

    def run(order: list[int]) -> None:
        for i in order:
            if native.score_words(lists[i]) != want[i]:
                wrong.append(i)

    orders = [rng.sample(range(len(lists)), len(lists)) for _ in range(4)]
    threads = [threading.Thread(target=run, args=(o,)) for o in orders]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wrong == []


def test_bad_arguments_are_type_and_value_errors(models: tuple[Model, Model]) -> None:
    a, b = models
    scorer = ModelPair(a, b, native=True).native
    with pytest.raises(TypeError, match="list of str"):
        scorer.score(("call", "now"))
    with pytest.raises(TypeError, match="list of str"):
        scorer.score(["call", 7])
    assert scorer.score([]) == (a.bias, b.bias)
    with pytest.raises(ValueError, match="16 bytes"):
        _native.Scorer({}, {}, (3,), True, 0.0, 0.0, 0, b"short")
    with pytest.raises(TypeError, match="str"):
        _native.Scorer({1: 1.0}, {}, (3,), True, 0.0, 0.0, 0, bytes(16)).load()
    unloaded = _native.Scorer({"w:call": 1.0}, {}, (3,), True, 0.0, 0.0, 0, bytes(16))
    with pytest.raises(RuntimeError, match="not loaded"):
        unloaded.score(["call"])
    assert unloaded.load() and unloaded.score(["call"])[0] > 0
    with pytest.raises(ValueError, match="n-gram sizes"):
        _native.Scorer({}, {}, (0,), True, 0.0, 0.0, 0, bytes(16))
    with pytest.raises(RuntimeError, match="not loaded"):
        _native.Scorer.__new__(_native.Scorer).score(["call"])


def test_without_the_extension_python_scores(models: tuple[Model, Model],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """``SPAMGW_PURE_PYTHON`` (and a build without a C compiler) scores in Python."""
    monkeypatch.setenv("SPAMGW_PURE_PYTHON", "1")
    assert not compiled.available()
    assert compiled.content_path() == "python (SPAMGW_PURE_PYTHON)"
    assert ModelPair(*models).native is None
    monkeypatch.delenv("SPAMGW_PURE_PYTHON")
    assert ModelPair(*models).native is not None


# -- the MinHash band keys ---------------------------------------------------------

_PARTS = st.lists(st.sampled_from([b"call", b"now", b"\x01", b"\x02", b"win", b"free", b"a",
                                   "é".encode(), "नया".encode(), b"prize", b"x" * 70])
                  | st.binary(min_size=1, max_size=12), max_size=60)


@settings(max_examples=500, deadline=None)
@given(_PARTS, st.integers(1, 8), st.integers(1, 8))
def test_band_keys_are_the_python_sketchs(parts: list[bytes], bands: int, rows: int) -> None:
    """Any words, any layout: the same keys as the Python sketch and band hashing (bins
    left empty by few words densified in the same order)."""
    fp = Fingerprinter(bands, rows, min_words=1)
    assert fp.keys_of_parts(parts, native=True) == fp.keys_of_parts(parts, native=False)


def test_band_keys_of_every_text_at_hand() -> None:
    """Every corpus and read-set text through campaign_parts: the same keys, so a
    campaign counted by a node with the extension and one without is one campaign."""
    fp = Fingerprinter()
    for text in _texts():
        parts = campaign_parts(text)
        assert fp.keys_of_parts(parts, native=True) == fp.keys_of_parts(parts, native=False)


def test_band_keys_refuse_what_they_cannot_take() -> None:
    with pytest.raises(TypeError, match="list of bytes"):
        _native.band_keys(["call"], 4, 3)
    with pytest.raises(ValueError, match="bands"):
        _native.band_keys([b"call"], 16, 8)


@pytest.mark.parametrize("pure", [False, True])
def test_the_gateway_says_which_content_path_it_runs(tmp_path: Path, pure: bool) -> None:
    """``spamgw run`` with the shipped plugins names its content path in the start-up
    line, and warns when it is Python (a build without a C compiler scores several
    times slower)."""
    from gateway.testing.config import write_config
    from gateway.testing.ports import free_port
    from gateway.testing.process import GatewayProcess

    port = free_port()
    config = write_config(
        tmp_path / "spamgw.toml",
        smpp={"enabled": False},
        agi={"listen": f"127.0.0.1:{port}"},
        admin={"enabled": False},
        rules={"dir": ROOT / "rules"},
        lists={"dir": tmp_path / "lists"},
        plugins={"dir": ROOT / "plugins"},
        log={"audit": ""},
    )
    import shutil

    shutil.copytree(ROOT / "rules" / "lists", tmp_path / "lists")
    env = {**os.environ, "SPAMGW_PURE_PYTHON": "1" if pure else ""}
    gw = GatewayProcess(config, port, env=env, timeout=60)
    with gw:
        assert gw.proc.stderr is not None
        for line in gw.proc.stderr:
            record = json.loads(line)
            if record["event"] == "spamgw running":
                break
        want = "python (SPAMGW_PURE_PYTHON)" if pure else "compiled"
        assert record["content_path"] == want, record
        if pure:
            warning = json.loads(gw.proc.stderr.readline())
            assert warning["level"] == "warning" and "not in use" in warning["event"], warning


def test_layouts_the_compiled_code_does_not_take_are_computed_in_python(
        models: tuple[Model, Model]) -> None:
    """An operator's campaign layout of more than 64 bins, a model with n-grams the
    scorer does not take: Python computes them, nothing fails."""
    wide = Fingerprinter(bands=16, rows=8)
    parts = campaign_parts("Your parcel is waiting, pay the fee of 1.99 at the link today")
    assert wide.keys_of_parts(parts) == wide.keys_of_parts(parts, native=False)
    assert len(wide.keys_of_parts(parts)) == 16
    from dataclasses import replace

    a, b = models
    odd_a = replace(a, wb=(3, 70), pairs=a.pairs)
    odd_b = replace(b, wb=(3, 70), pairs=b.pairs)
    pair = ModelPair(odd_a, odd_b)
    assert pair.native is None
    assert all(isinstance(x, float) for x in pair.score_words(["call", "now", "to", "win"]))
