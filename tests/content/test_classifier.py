"""The content classifier: tricks on known spam, thresholds, training and the CLI."""

from __future__ import annotations

import json
import math
import random
import tomllib
from dataclasses import replace
from pathlib import Path

import pytest
from content_support import load_plugin_module, sms
from hypothesis import given, settings
from hypothesis import strategies as st

import gateway.content.classifier as classifier
from gateway.content import compiled
from gateway.content.classifier import (
    DEFAULT_FRAUD_MODEL,
    DEFAULT_MODEL,
    Model,
    ModelPair,
    features,
    load_model,
    prepare,
)
from gateway.content.evaluate import judge
from gateway.content.facts import Facts
from gateway.content.normalize import template
from gateway.content.train import (
    Params,
    _score,
    choose_threshold,
    main,
    read_tsv,
    train_model,
)
from gateway.engine.plugins import PluginEnv

TRAIN = Path("/work/shared/data/sms-spam-collection/train.tsv")

# known spam (SMS Spam Collection v.1, CC BY 4.0), all above the shipped threshold
KNOWN_SPAM = [
    "Free entry in 2 a wkly comp to win FA Cup final tkts 21st May 2005. Text FA to 87121 to "
    "receive entry question(std txt rate)T&C's apply 08452810075over18's",
    "You are a winner U have been specially selected 2 receive £1000 cash or a 4* holiday "
    "(flights inc) speak to a live operator 2 claim 0871277810810",
    "Todays Vodafone numbers ending with 4882 are selected to a receive a £350 award. If your "
    "number matches call 09064019014 to receive your £350 award.",
    "Congrats! 2 mobile 3G Videophones R yours. call 09063458130 now! videochat wid your mates, "
    "play java games, Dload polyH music, noline rentl.",
    "Free 1st week entry 2 TEXTPOD 4 a chance 2 win 40GB iPod or £250 cash every wk. Txt VPOD "
    "to 81303 Ts&Cs www.textpod.net custcare 08712405020.",
    "As a SIM subscriber, you are selected to receive a Bonus! Get it delivered to your door, "
    "Txt the word OK to No: 88600 to claim. 150p/msg, EXP. 30Apr",
]

# Latin letters and their Cyrillic look-alikes
CYRILLIC = str.maketrans("aeopcxyAEOPCXBHKMT",
                         "\u0430\u0435\u043e\u0440\u0441\u0445\u0443\u0410\u0415\u041e\u0420\u0421\u0425\u0412\u041d\u041a\u041c\u0422")


@pytest.fixture(scope="module")
def model() -> Model:
    return load_model(DEFAULT_MODEL)


def spaced(text: str, words: tuple[str, ...] = ("free", "win", "claim", "call", "cash",
                                                  "award", "bonus", "prize", "txt")) -> str:
    out = []
    for w in text.split(" "):
        out.append(" ".join(w) if w.lower().strip("!,.") in words else w)
    return " ".join(out)


def tricks(text: str) -> dict[str, str]:
    return {
        "homoglyphs": text.translate(CYRILLIC),
        "upper": text.upper(),
        "zero-width": "\u200b".join(text[i:i + 3] for i in range(0, len(text), 3)),
        "full-width": "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text),
        "spaced letters": spaced(text),
        "dotted letters": text.replace("FREE", "F.R.E.E").replace("Free", "F.r.e.e")
        .replace("win", "w.i.n"),
        "accents": text.replace("e", "\u00e9").replace("a", "\u00e0"),
    }


def test_known_spam_is_caught(model: Model) -> None:
    for text in KNOWN_SPAM:
        assert model.score(text) >= model.threshold


@pytest.mark.parametrize("text", KNOWN_SPAM)
def test_tricks_do_not_hide_known_spam(model: Model, text: str) -> None:
    base = model.score(text)
    for trick, variant in tricks(text).items():
        s = model.score(variant)
        assert s >= model.threshold, (trick, variant, s)
        if trick in ("homoglyphs", "upper", "zero-width", "full-width", "accents"):
            assert s == pytest.approx(base, abs=1e-9), trick  # normalised away exactly


def test_spacing_tricks_normalise_to_the_plain_word() -> None:
    assert prepare("F R E E entry") == prepare("free entry")
    assert prepare("w.i.n a prize") == prepare("win a prize")
    assert prepare("c-a-s-h now") == prepare("cash now")


def test_ham_stays_ham(model: Model) -> None:
    for text in ["Sorry, I'll call later in a meeting", "Are you coming to dinner tonight?",
                 "Ok lar... Joking wif u oni...", "Can you pick up milk on the way home"]:
        assert model.score(text) < model.threshold


def test_choose_threshold() -> None:
    ham = [float(i) for i in range(3999)]  # 0..3998
    for rate in (0.001, 0.005, 0.01):
        t = choose_threshold(ham, rate)
        above = sum(1 for s in ham if s >= t)
        # a new ham message ranks anywhere among the n + 1: it passes t with
        # probability (above + 1) / (n + 1), the largest such rate not over ``rate``
        assert (above + 1) / (len(ham) + 1) <= rate < (above + 2) / (len(ham) + 1)
    assert sum(1 for s in ham if s >= choose_threshold(ham, 0.0)) == 0
    assert sum(1 for s in ham[:500] if s >= choose_threshold(ham[:500], 0.001)) == 0


def subset(n: int, seed: int = 3) -> tuple[list[str], list[int]]:
    texts, labels = read_tsv(TRAIN)
    idx = random.Random(seed).sample(range(len(texts)), n)
    return [texts[i] for i in idx], [labels[i] for i in idx]


def test_train_on_a_subset_and_reload(tmp_path: Path) -> None:
    texts, labels = subset(900)
    p = Params(folds=3, max_features=5000, Cs=(30.0, 100.0))
    m = train_model(texts, labels, p)
    assert 0 < len(m.weights) <= 5000
    assert m.suspect <= m.threshold
    assert m.meta["C"] in p.Cs
    # scoring at run time (per-word sums) equals the training-time feature function
    for t in texts[:200] + [spaced(x) for x in KNOWN_SPAM]:
        assert m.score(t) == pytest.approx(_score(dict(m.weights), m.bias, p.features(t),
                                                  p.min_count))
    path = tmp_path / "m.json.gz"
    m.save(path)
    m2 = load_model(path)
    assert m2.threshold == m.threshold and m2.weights == m.weights
    assert m2.score(texts[0]) == m.score(texts[0])
    caught, spam, blocked, ham = m.meta["cv_counts"]
    assert blocked <= math.floor(0.001 * ham) and caught > spam // 2


def test_word_memo_overflow_and_cold_start_score_the_same(
        model: Model, monkeypatch: pytest.MonkeyPatch) -> None:
    texts, _ = subset(300, seed=11)
    warm = [model.score(t) for t in texts]
    cold = load_model(DEFAULT_MODEL)
    monkeypatch.setattr(classifier, "WORD_MEMO", len(cold.sums) + 50)
    assert [cold.score(t) for t in texts] == pytest.approx(warm, abs=1e-12)
    assert len(cold.sums) <= classifier.WORD_MEMO and cold.sums.keys() == cold.counts.keys()


def test_word_memo_overflow_keeps_the_known_words_of_the_message(
        model: Model, monkeypatch: pytest.MonkeyPatch) -> None:
    """The memo fills on a message with known and new words: all of them are summed
    (the known ones were dropped with the memo, and the sum raised KeyError)."""
    text = "call the zqxjv wkpfy office about your prize"
    warm = model.score(text)
    cold = load_model(DEFAULT_MODEL)
    monkeypatch.setattr(classifier, "WORD_MEMO", len(cold.sums) + 1)
    assert cold.score(text) == pytest.approx(warm, abs=1e-12)


def test_model_pair_scores_as_each_model_alone(
        model: Model, fraud_model: Model, monkeypatch: pytest.MonkeyPatch) -> None:
    """One pass for the content and the fraud model gives the floats each gives alone,
    warm and cold, and after its word memo starts over mid-stream; the compiled scorer
    too (tests/content/test_native.py holds it to the Python pass on more)."""
    texts, _ = subset(300, seed=12)
    texts += [*FRAUD, *KNOWN_SPAM, *A2P, "", "ok", "zqxjv wkpfy qqqq"]
    want = [(model.score(t), fraud_model.score(t)) for t in texts]
    warm = ModelPair(model, fraud_model, native=False)
    assert [warm.score_template(template(t)) for t in texts] == want
    if compiled.available():
        assert [ModelPair(model, fraud_model).score_template(template(t))
                for t in texts] == want
    cold = ModelPair(load_model(DEFAULT_MODEL), load_model(DEFAULT_FRAUD_MODEL), native=False)
    monkeypatch.setattr(classifier, "WORD_MEMO", len(cold.counts) + 40)
    assert [cold.score_template(template(t)) for t in texts] == want
    assert len(cold.counts) <= classifier.WORD_MEMO
    assert cold.counts.keys() == cold.sums_a.keys() == cold.sums_b.keys()
    with pytest.raises(ValueError, match="alike"):
        ModelPair(model, replace(fraud_model, digits=not fraud_model.digits))


def test_a_model_file_is_parsed_once_a_process(tmp_path: Path) -> None:
    """A reload, and each check of a ruleset's examples, builds the classifier again:
    a file read before (the same bytes) shares its weights, and each model and pair
    has a word memo of its own (the live plugin's and a reload thread's never mix).
    Other bytes at the same path are a new model."""
    texts, _ = subset(50, seed=13)
    a, b = load_model(DEFAULT_MODEL), load_model(DEFAULT_MODEL)
    assert a.weights is b.weights and a.pairs is b.pairs
    assert a.sums is not b.sums and a.sums == b.sums
    a.score("zqxjv wkpfy is a word neither knows")
    assert "zqxjv" in a.sums and "zqxjv" not in b.sums
    assert [a.score(t) for t in texts] == [b.score(t) for t in texts]
    f1, f2 = load_model(DEFAULT_FRAUD_MODEL), load_model(DEFAULT_FRAUD_MODEL)
    p1, p2 = ModelPair(a, f1, native=False), ModelPair(b, f2, native=False)
    assert p1.joint is p2.joint and p1.counts is not p2.counts
    p1.score_words(["qpzmvx", "wkpfy"])
    assert "qpzmvx" in p1.counts and "qpzmvx" not in p2.counts
    assert ([p1.score_template(template(t)) for t in texts]
            == [p2.score_template(template(t)) for t in texts])
    path = tmp_path / "m.json.gz"
    path.write_bytes(DEFAULT_MODEL.read_bytes())
    assert load_model(path).weights is a.weights  # the bytes, not the path
    a.save(path)  # saved again: the same bytes
    assert load_model(path).weights is a.weights
    replace(a, bias=a.bias + 1.0).save(path)  # another model: read anew
    c = load_model(path)
    assert c.bias == a.bias + 1.0 and c.weights == a.weights and c.weights is not a.weights


_TOKENS = st.sampled_from(["a", "b", "i", "0", "00", "000", "0000", "1", "12", "_", "-", ".",
                           "*", "+", " ", "  ", " . ", "$", "£", "é", "free", "w1n", "2day",
                           "0000x", "x0000", "\n", "\t", "/", ",", "!"])


@settings(max_examples=500, deadline=None)
@given(st.lists(_TOKENS, max_size=30).map("".join) | st.text(max_size=40))
def test_byte_paths_equal_the_patterns(text: str) -> None:
    """words, prepare_template and template take byte paths on ASCII text; the
    patterns they stand for give the same."""
    from gateway.content import normalize
    from gateway.content.scan import scan_urls

    for d in (True, False):
        assert classifier.words(text, d) == \
            (classifier._WORDS if d else classifier._LETTER_WORDS).findall(text)
    spaced = classifier._SPACED.sub(classifier._join, text) if len(text) > 6 else text
    assert classifier.prepare_template(text) == spaced
    folded = normalize.fold(text)
    assert normalize.template(text) == normalize._DIGITS.sub(
        normalize._digit_class, normalize.url_to_domain(folded, scan_urls(text)))


def test_format_1_models_still_score(tmp_path: Path) -> None:
    """A model written by the first ``spamgw train`` (squeezed 5-grams and words,
    every occurrence counted) loads and scores as its training features say."""
    texts, labels = subset(400, seed=7)
    docs = [features(t, (5,), True, wb=(), bigrams=False, unique=False, digits=True)
            for t in texts]
    weights: dict[str, float] = {}
    for d, y in zip(docs, labels, strict=True):
        for g in d:
            weights[g] = weights.get(g, 0.0) + (0.01 if y else -0.002)
    path = tmp_path / "v1.json"
    path.write_text(json.dumps({"format": "spamgw-content-lr/1", "bias": -1.5,
                                "threshold": 0.5, "suspect": 0.0, "spread": 1.0,
                                "ngrams": [5], "words": True, "meta": {},
                                "weights": weights}), encoding="utf-8")
    m = load_model(path)
    assert (m.ngrams, m.wb, m.bigrams, m.unique, m.digits, m.min_count) == \
        ((5,), (), False, False, True, 0)
    for t, d in zip(texts, docs, strict=True):
        assert m.score(t) == pytest.approx(_score(weights, -1.5, d))


def test_cli_train_and_eval(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                            monkeypatch: pytest.MonkeyPatch) -> None:
    # eval configures the gateway's logging; here it would bind it to pytest's capture
    monkeypatch.setattr("gateway.observe.configure_logging", lambda config: None)
    texts, labels = subset(600, seed=5)
    data = tmp_path / "d.tsv"
    data.write_text("".join(f"{'spam' if y else 'ham'}\t{t}\n" for t, y in
                            zip(texts, labels, strict=True)), encoding="utf-8")
    out = tmp_path / "m.json.gz"
    assert main(["train", "--data", str(data), "--out", str(out), "--folds", "3",
                 "--max-features", "3000", "--C", "30"]) == 0
    assert "cross-validated: spam caught" in capsys.readouterr().out
    assert main(["eval", "--data", str(data), "--model", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "nested 3-fold cross-validation" in printed and "block (score >= threshold)" in printed
    other = tmp_path / "o.tsv"
    other.write_text("spam\tWIN £1000 cash now! call 09061749602\nham\tsee you soon\n",
                     encoding="utf-8")
    assert main(["eval", "--data", str(other), "--model", str(out)]) == 0
    assert "block threshold" in capsys.readouterr().out
    bad = tmp_path / "bad.tsv"
    bad.write_text("maybe\tx\n", encoding="utf-8")
    assert main(["eval", "--data", str(bad), "--model", str(out)]) == 1


def test_plugin(env: PluginEnv, model: Model) -> None:
    """The content model's symbols (the fraud model, off here, has its own tests)."""
    plugin = load_plugin_module("classifier").create(replace(env, options={"fraud_model": ""}))
    n = env.numbering
    assert list(plugin.check(sms(n, KNOWN_SPAM[2]))) == ["content.spam"]
    assert list(plugin.check(sms(n, "See you at the station at 5, love"))) == []
    band = band_texts(model, 30)
    assert band, "no text in the warn band"
    for t in band:
        assert list(plugin.check(sms(n, t))) == ["content.suspect"]
    assert list(plugin.check(sms(n, None))) == []
    assert list(plugin.check(sms(n, "ok"))) == []


def band_texts(model: Model, n: int) -> list[str]:
    """Texts in the warn band: ham with more and more of a known spam appended (the
    shipped model fits its training data, so few of its texts score in between)."""
    ham = [t for t in (Path(__file__).resolve().parents[1] / "data" / "ham_200.txt")
           .read_text(encoding="utf-8").splitlines() if t and not t.startswith("#")]
    out = []
    for h in ham:
        for spam in KNOWN_SPAM:
            words = spam.split()
            for k in range(1, len(words)):
                t = h + " " + " ".join(words[:k])
                if model.suspect <= model.score(t) < model.threshold:
                    out.append(t)
                    break
        if len(out) >= n:
            break
    return out[:n]


def test_scores_let_the_classifier_decide() -> None:
    """content.spam reaches the block score on its own; content.suspect stays under the
    warn score alone (the A2P templates the corpus never saw fall in its band) but
    reaches it with any signal of 2 or more, in the plugin's defaults and the shipped
    rules."""
    root = Path(__file__).resolve().parents[2]
    settings = tomllib.loads((root / "rules" / "00-settings.toml").read_text())["settings"]
    symbols = tomllib.loads((root / "rules" / "70-content.toml").read_text())["symbols"]
    defaults = {s.name: s.score for s in load_plugin_module("classifier").SYMBOLS}
    for scores in (symbols, defaults):
        assert scores["content.spam"] >= settings["block"]
        assert 0 < scores["content.suspect"] < settings["warn"]
        assert scores["content.suspect"] + 2.0 >= settings["warn"]


def test_the_gateway_blocks_what_the_classifier_blocks(model: Model) -> None:
    """Through the shipped rules and plugins, a text at or above the block threshold
    is blocked (the band below it is a hint: test_scores_let_the_classifier_decide)."""
    texts, _ = subset(1500, seed=17)
    spam = [t for t in texts if model.score(t) >= model.threshold
            and len(t.split()) >= 6][:40]  # the plugin blocks no shorter text
    assert spam
    assert set(judge(spam)) == {"BLOCK"}


A2P = [
    "Your verification code is 482913. Do not share it with anyone.",
    "Your one-time code is 556677",
    "Your parcel from ShopCo is out for delivery today between 10:00 and 14:00. "
    "Track it at https://track.example.com/a1b2",
    "Reminder: your appointment at Riverside Dental is on 12/03 at 09:30. Reply C to cancel",
    "Your ExampleBank card ending 4821 was used for 25.00 GBP at TESCO. Not you? Call us",
]


def test_a2p_is_not_blocked_for_its_numbers(model: Model) -> None:
    """Codes, times and amounts are no spam evidence (the corpus's ham is chat, so a
    model reading them would block every one-time password)."""
    for text in A2P:
        assert model.score(text) < model.threshold, text


def test_short_texts_and_reports_are_not_blocked_by_the_classifier(env: PluginEnv,
                                                                   model: Model) -> None:
    plugin = load_plugin_module("classifier").create(env)
    n = env.numbering
    short = "WIN a £900 prize, claim"
    assert len(short.split()) < plugin.min_words <= len(KNOWN_SPAM[1].split())
    assert model.score(short) >= model.threshold
    assert list(plugin.check(sms(n, short))) == ["content.suspect"]
    assert "content.spam" in plugin.check(sms(n, KNOWN_SPAM[1]))
    # a subscriber forwarding spam to the reporting short code is reporting it
    assert list(plugin.check(sms(n, KNOWN_SPAM[1], dst="7726"))) == []


# today's frauds, written for this test (no training set holds them): the corpus model
# of the 2000s' premium-rate spam blocks none (it may doubt them), the fraud model all
FRAUD = [
    "Hello, I am Linda from a recruitment agency. Part-time online job, like videos and "
    "earn 300-800 per day, salary paid daily. Contact us on WhatsApp to start",
    "Congratulations! You have been selected to join our VIP crypto trading group, "
    "guaranteed daily profit of 15%. Message our mentor on Telegram",
    "Your tax refund of 326.50 is pending. Complete the claim form to receive your refund "
    "before it expires",
]


@pytest.fixture(scope="module")
def fraud_model() -> Model:
    return load_model(DEFAULT_FRAUD_MODEL)


def test_the_fraud_model_reads_todays_frauds_the_corpus_model_does_not(
        env: PluginEnv, model: Model, fraud_model: Model) -> None:
    assert fraud_model.meta["kind"] == "fraud"
    plugin = load_plugin_module("classifier").create(env)
    for text in FRAUD:
        assert model.score(text) < model.threshold, text
        assert fraud_model.score(text) >= fraud_model.threshold, text
        hits = list(plugin.check(sms(env.numbering, text)))
        assert "content.fraud" in hits and "content.spam" not in hits, text
    # the genuine notices frauds imitate, and chat
    for text in [*A2P, "Hi, are we still on for dinner on Friday? Let me know what time suits you"]:
        assert fraud_model.score(text) < fraud_model.threshold, text
        assert "content.fraud" not in plugin.check(sms(env.numbering, text)), text


def test_fraud_band(env: PluginEnv, fraud_model: Model) -> None:
    """Below the fraud model's block threshold, down to its ``suspect`` edge (about 1%
    of the out-of-fold genuine texts), the plugin says ``content.fraud_suspect``, which
    blocks nothing alone (the shipped score is 0); above, ``content.fraud``; below, no
    fraud symbol. The texts: the read sets' look-alikes and frauds, each in one band."""
    assert fraud_model.suspect < fraud_model.threshold
    assert fraud_model.meta["suspect_ham"] == 0.01
    plugin = load_plugin_module("classifier").create(env)
    assert {s.name: s.score for s in plugin.symbols}["content.fraud_suspect"] == 0.0
    root = Path(__file__).resolve().parents[2]
    texts = [line.split("\t")[2] for line in (root / "loadtest" / "data" /
             "smishing_holdout60.tsv").read_text(encoding="utf-8").splitlines()
             if line and not line.startswith("#")]
    seen = {"content.fraud": 0, "content.fraud_suspect": 0, "": 0}
    for text in texts:
        if len(text.split()) < plugin.min_words:
            continue
        score = fraud_model.score(text)
        hits = [h for h in plugin.check(sms(env.numbering, text)) if "fraud" in h]
        want = ("content.fraud" if score >= fraud_model.threshold else
                "content.fraud_suspect" if score >= fraud_model.suspect else "")
        assert hits == ([want] if want else []), (text, score)
        seen[want] += 1
    assert all(seen.values()), seen  # each band holds some of the set


def test_fraud_model_option(env: PluginEnv, model: Model, fraud_model: Model) -> None:
    """``fraud_model = ""`` turns it off; the two models share one split into words and
    score as each does alone; a short text is never blocked by it."""
    mod = load_plugin_module("classifier")
    off = mod.create(replace(env, options={"fraud_model": ""}))
    assert off.fraud is None
    for text in FRAUD:
        hits = list(off.check(sms(env.numbering, text)))
        assert hits == [] or hits == ["content.suspect"], text
    on = mod.create(env)
    assert on.pair is not None
    for text in [*FRAUD, *KNOWN_SPAM, *A2P]:
        f = Facts(sms(env.numbering, text))
        assert on.scores(f) == (model.score(text), fraud_model.score(text))
    short = "Tax refund pending: claim now"
    assert len(short.split()) < on.min_words
    assert fraud_model.score(short) >= fraud_model.threshold
    assert "content.fraud" not in on.check(sms(env.numbering, short))
