"""``spamgw eval``: the model's table and the whole gateway's, and that they add up."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SPAM = [
    "Free entry in 2 a wkly comp to win FA Cup final tkts. Text FA to 87121 to receive entry",
    "WINNER!! As a valued customer you have been selected to receive a £900 prize reward! "
    "To claim call 09061701461. Claim code KL341. Valid 12 hours only.",
    "URGENT! You have won a 1 week FREE membership in our £100,000 Prize Jackpot! Txt the "
    "word CLAIM to 81010",
    "Had your mobile 11 months or more? U R entitled to update to the latest colour mobiles "
    "with camera for Free! Call The Mobile Update Co FREE on 08002986030",
    "SIX chances to win CASH! From 100 to 20,000 pounds txt CSH11 and send to 87575. Cost "
    "150p/day",
    "Congratulations ur awarded 500 of CD vouchers or 125gift guaranteed & Free entry 2 100 "
    "wkly draw txt MUSIC to 87066",
    "You have 1 new voicemail. Please call 08719181503 now to collect your prize",
    "Your free ringtone is waiting to be collected. Simply text the password MIX to 85069",
    "PRIVATE! Your 2004 Account Statement for 07742676969 shows 786 unredeemed Bonus Points. "
    "To claim call 08719180248",
    # labelled spam in the corpus, and nothing in it a filter could act on: the gateway
    # passes it, and --errors lists it
    "Why did the scarecrow get promoted? He was outstanding in his field. Have a good day",
]

ROW = re.compile(r"^\s+(spam|ham)\s+(\d+)\s+(\d+) \([\d.]+%\)\s+(\d+) \([\d.]+%\)"
                 r"\s+(\d+) \([\d.]+%\)$")


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    ham = [line for line in (ROOT / "tests" / "data" / "ham_200.txt")
           .read_text(encoding="utf-8").splitlines() if line and not line.startswith("#")]
    path = tmp_path_factory.mktemp("eval") / "small.tsv"
    lines = [f"ham\t{t}" for t in ham[:120]] + [f"spam\t{t}" for t in SPAM]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def gateway_rows(out: str) -> dict[str, tuple[int, int, int, int]]:
    head = out.index("whole gateway")
    assert re.search(r"label\s+messages\s+BLOCK\s+WARN\s+ALLOW", out[head:])
    rows = {}
    for line in out[head:].splitlines():
        m = ROW.match(line)
        if m:
            rows[m.group(1)] = tuple(int(m.group(i)) for i in range(2, 6))
    return rows  # type: ignore[return-value]


def model_rows(out: str) -> dict[str, list[tuple[int, int]]]:
    """row name -> [(n, of) for spam, ham]"""
    rows = {}
    for line in out[:out.index("whole gateway")].splitlines():
        cells = re.findall(r"(\d+)/(\d+) \([\d.]+%\)", line)
        if len(cells) == 2:
            rows[line.split("  ")[1].strip()] = [(int(a), int(b)) for a, b in cells]
    return rows


def check_tables(out: str, spam: int, ham: int) -> None:
    gw = gateway_rows(out)
    assert set(gw) == {"spam", "ham"}
    for label, n in (("spam", spam), ("ham", ham)):
        total, block, warn, allow = gw[label]
        assert total == n == block + warn + allow
    model = model_rows(out)
    block, band, either = (model[k] for k in ("block (score >= threshold)",
                                             "warn band (suspect <= score < threshold)",
                                             "block or warn"))
    for i, n in enumerate((spam, ham)):
        assert block[i][1] == band[i][1] == either[i][1] == n
        assert block[i][0] + band[i][0] == either[i][0] <= n


def check_errors(path: Path, out: str, data: Path) -> None:
    """``--errors``: one line for every spam not blocked and ham not allowed, each a
    message of the data file, as many as the gateway's table says."""
    gw = gateway_rows(out)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert f"{path}: {len(lines)} messages the gateway got wrong" in out
    assert len(lines) == gw["spam"][2] + gw["spam"][3] + gw["ham"][1] + gw["ham"][2] >= 1
    given = {tuple(line.split("\t", 1)) for line in data.read_text(encoding="utf-8").splitlines()}
    actions = {"spam": {"WARN", "ALLOW"}, "ham": {"BLOCK", "WARN"}}
    for line in lines:
        label, action, rules, text = line.split("\t")
        assert action in actions[label] and (label, text) in given
        assert action == "ALLOW" or rules  # a WARN or BLOCK names what hit


def test_eval_shipped_model_on_other_data(data: Path, tmp_path: Path) -> None:
    """The shipped model was not trained on this file: its thresholds, one gateway."""
    errors = tmp_path / "errors.tsv"
    r = subprocess.run([sys.executable, "-m", "gateway", "eval", "--data", str(data),
                        "--model", str(ROOT / "gateway" / "content" / "models" / "sms_lr.json.gz"),
                        "--errors", str(errors)],
                       capture_output=True, text=True, cwd=ROOT, timeout=300, check=False)
    assert r.returncode == 0, r.stderr
    check_tables(r.stdout, len(SPAM), 120)
    total, block, _warn, _allow = gateway_rows(r.stdout)["spam"]
    assert block >= total // 2  # textbook spam: the classifier may block on its own
    check_errors(errors, r.stdout, data)


def test_eval_nested_without_a_model(data: Path, tmp_path: Path) -> None:
    """Without --model: nested cross-validation, model and gateway alike."""
    errors = tmp_path / "errors.tsv"
    r = subprocess.run([sys.executable, "-m", "gateway", "eval", "--data", str(data),
                        "--folds", "3", "--C", "30", "--errors", str(errors)],
                       capture_output=True, text=True, cwd=ROOT, timeout=300, check=False)
    assert r.returncode == 0, r.stderr
    assert "nested 3-fold cross-validation" in r.stdout
    check_tables(r.stdout, len(SPAM), 120)
    check_errors(errors, r.stdout, data)


# --- the fraud model: trained on fraud sets and their look-alikes ------------------------

FRAUD_WORDS = ["verify your account now", "earn 500 daily part-time job", "claim your refund",
               "guaranteed crypto profit", "your parcel fee is unpaid, pay now",
               "suspended card, confirm details"]
HAM_WORDS = ["see you at dinner", "your appointment is confirmed", "thanks for the lift",
             "parcel delivered to your porch", "meeting moved to 3pm", "happy birthday mate"]


def write_sets(d: Path, n: int = 5) -> list[Path]:
    import random

    rng = random.Random(7)
    files = []
    for k in range(n):
        for ham in (False, True):
            words = HAM_WORDS if ham else FRAUD_WORDS
            path = d / f"set{k}{'_ham' if ham else ''}.tsv"
            lines = ["# family<TAB>sender<TAB>text"]
            for _ in range(30):
                text = f"{rng.choice(words)} {rng.choice(words)} {rng.choice(words)} ok"
                lines.append(f"fam\tmobile\t{text}")
            path.write_text("\n".join(lines) + "\n", encoding="utf-8")
            files.append(path)
    return files


def test_group_folds_keep_each_set_whole() -> None:
    from gateway.content.train import _group_folds

    groups = [f"g{i % 7}" for i in range(70)]
    folds = _group_folds(groups, 5, 0)
    assert len(folds) == 5 and sorted(i for f in folds for i in f) == list(range(70))
    for f in folds:
        for g in {groups[i] for i in f}:
            assert all(groups[i] != g for other in folds if other is not f for i in other)


def test_read_sets_names_the_bad_line(tmp_path: Path) -> None:
    from gateway.content.train import read_sets

    good = tmp_path / "a.tsv"
    good.write_text("# comment\nfam\tmobile\tpay now\n", encoding="utf-8")
    texts, labels, groups = read_sets([good], ham=[good])
    assert (texts, groups) == (["pay now", "pay now"], ["a", "a"])
    assert labels == [0, 0]  # a ham file is ham, whatever it is called
    bad = tmp_path / "b_ham.tsv"
    bad.write_text("fam\tmobile\tfine\nonly two\tfields\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"b_ham.tsv:2: want family<TAB>sender<TAB>text"):
        read_sets([bad])


def test_train_the_fraud_model_and_eval_retrains_it_per_fold(tmp_path: Path, data: Path) -> None:
    """``spamgw train --sets``: frauds against look-alikes and --data's ham, folds of whole
    sets; ``spamgw eval`` on that --data then trains it anew for each fold."""
    from gateway.content.classifier import load_model
    from gateway.content.train import Params, fraud_recipe, nested_cv, read_tsv

    sets = write_sets(tmp_path)
    out = tmp_path / "fraud.json.gz"
    r = subprocess.run([sys.executable, "-m", "gateway", "train", "--sets", *map(str, sets),
                        "--data", str(data), "--out", str(out)],
                       capture_output=True, text=True, cwd=ROOT, timeout=300, check=False)
    assert r.returncode == 0, r.stderr
    assert "fraud model: 150 frauds of 10 files, 270 ham (look-alikes and the ham of " \
        "small.tsv); folds of whole sets" in r.stdout
    m = load_model(out)
    assert m.meta["kind"] == "fraud" and sorted(m.meta["sets"]) == sorted(p.name for p in sets)
    assert m.score("verify your account now claim your refund ok") >= m.threshold
    assert m.score("see you at dinner thanks for the lift ok") < m.threshold
    # not trained on the shared corpus: eval keeps it as it is
    assert fraud_recipe(m, ROOT / "tests" / "data" / "ham_200.txt", ROOT) is None
    # trained on small.tsv's ham: eval needs its sets in loadtest/data, as they were
    with pytest.raises(ValueError, match=r"retraining it per fold needs .*set0.tsv"):
        fraud_recipe(m, data, ROOT)
    r = subprocess.run([sys.executable, "-m", "gateway", "eval", "--data", str(data),
                        "--fraud-model", str(out)],
                       capture_output=True, text=True, cwd=ROOT, timeout=300, check=False)
    assert r.returncode == 1 and "retraining it per fold needs" in r.stderr, r.stderr
    root = tmp_path / "tree"
    (root / "loadtest" / "data").mkdir(parents=True)
    for f in sets:
        (root / "loadtest" / "data" / f.name).write_bytes(f.read_bytes())
    recipe = fraud_recipe(m, data, root)
    assert recipe is not None
    assert sorted(f.name for f in recipe[0]) == sorted(f.name for f in sets)
    assert recipe[1] == data and recipe[2] == []
    texts, labels = read_tsv(data)
    nested = nested_cv(texts, labels, Params(Cs=(30.0,), folds=3), {"seed": 0}, recipe)
    assert {k: sum(v.values()) for k, v in nested.gateway.items()} == {
        "spam": len(SPAM), "ham": 120}
