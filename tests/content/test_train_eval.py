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


def test_eval_shipped_model_on_other_data(data: Path) -> None:
    """The shipped model was not trained on this file: its thresholds, one gateway."""
    r = subprocess.run([sys.executable, "-m", "gateway", "eval", "--data", str(data),
                        "--model", str(ROOT / "gateway" / "content" / "models" / "sms_lr.json.gz")],
                       capture_output=True, text=True, cwd=ROOT, timeout=300, check=False)
    assert r.returncode == 0, r.stderr
    check_tables(r.stdout, len(SPAM), 120)
    total, block, _warn, _allow = gateway_rows(r.stdout)["spam"]
    assert block >= total // 2  # textbook spam: the classifier may block on its own


def test_eval_nested_without_a_model(data: Path) -> None:
    """Without --model: nested cross-validation, model and gateway alike."""
    r = subprocess.run([sys.executable, "-m", "gateway", "eval", "--data", str(data),
                        "--folds", "3", "--C", "30"],
                       capture_output=True, text=True, cwd=ROOT, timeout=300, check=False)
    assert r.returncode == 0, r.stderr
    assert "nested 3-fold cross-validation" in r.stdout
    check_tables(r.stdout, len(SPAM), 120)
