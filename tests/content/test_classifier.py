"""The content classifier: tricks on known spam, thresholds, training and the CLI."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest
from content_support import load_plugin_module, sms

from gateway.content.classifier import DEFAULT_MODEL, Model, features, load_model, prepare
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
    ham = [float(i) for i in range(1000)]  # 0..999
    t = choose_threshold(ham, 0.001)  # one ham may be at or above
    assert sum(1 for s in ham if s >= t) == 1
    t = choose_threshold(ham, 0.0)
    assert sum(1 for s in ham if s >= t) == 0
    assert choose_threshold(ham, 0.01) > 989


def subset(n: int, seed: int = 3) -> tuple[list[str], list[int]]:
    texts, labels = read_tsv(TRAIN)
    idx = random.Random(seed).sample(range(len(texts)), n)
    return [texts[i] for i in idx], [labels[i] for i in idx]


def test_train_on_a_subset_and_reload(tmp_path: Path) -> None:
    texts, labels = subset(900)
    p = Params(folds=3, max_features=5000)
    m = train_model(texts, labels, p)
    assert 0 < len(m.weights) <= 5000
    assert m.suspect <= m.threshold
    # scoring at run time equals the training-time feature function
    for t in texts[:50]:
        assert m.score(t) == pytest.approx(_score(dict(m.weights), m.bias, features(t)))
    path = tmp_path / "m.json.gz"
    m.save(path)
    m2 = load_model(path)
    assert m2.threshold == m.threshold and m2.weights == m.weights
    assert m2.score(texts[0]) == m.score(texts[0])
    caught, spam, blocked, ham = m.meta["cv_counts"]
    assert blocked <= math.floor(0.001 * ham) and caught > spam // 2


def test_cli_train_and_eval(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    texts, labels = subset(600, seed=5)
    data = tmp_path / "d.tsv"
    data.write_text("".join(f"{'spam' if y else 'ham'}\t{t}\n" for t, y in
                            zip(texts, labels, strict=True)), encoding="utf-8")
    out = tmp_path / "m.json.gz"
    assert main(["train", "--data", str(data), "--out", str(out), "--folds", "3",
                 "--max-features", "3000"]) == 0
    assert "cross-validated: spam caught" in capsys.readouterr().out
    assert main(["eval", "--data", str(data), "--model", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "nested 3-fold cross-validation" in printed and "ham blocked" in printed
    other = tmp_path / "o.tsv"
    other.write_text("spam\tWIN £1000 cash now! call 09061749602\nham\tsee you soon\n",
                     encoding="utf-8")
    assert main(["eval", "--data", str(other), "--model", str(out)]) == 0
    assert "at threshold" in capsys.readouterr().out
    bad = tmp_path / "bad.tsv"
    bad.write_text("maybe\tx\n", encoding="utf-8")
    assert main(["eval", "--data", str(bad), "--model", str(out)]) == 1


def test_plugin(env: PluginEnv) -> None:
    plugin = load_plugin_module("classifier").create(env)
    n = env.numbering
    (hit,) = plugin.check(sms(n, KNOWN_SPAM[2]))
    assert hit[0] == "content.spam" and 0.5 <= hit[1] <= 1.0
    assert list(plugin.check(sms(n, "See you at the station at 5, love"))) == []
    assert list(plugin.check(sms(n, None))) == []
    assert list(plugin.check(sms(n, "ok"))) == []
