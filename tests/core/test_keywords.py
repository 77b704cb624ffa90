"""``text_keywords``: a keyword matches where it stands as a whole word of the casefolded
text (not inside a longer word), however it is tested. Word characters are ``\\w`` and
the combining marks (``WORD_CHARS``: the vowel signs of Devanagari and Thai are part of
their words, as readers see them). Keywords of word characters are
looked up in the event's words (``Facts.words``, split once per event); others
(``wa.me``, ``gift card``) by substring and a word-boundary regex. Both must say what
one word-boundary regex over the text says."""

import re
import textwrap
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.content.facts import WORD_CHARS, Facts
from gateway.engine.examples import event_from_fields
from gateway.engine.loader import load_ruleset
from gateway.lists.registry import load_lists
from gateway.model import Action
from gateway.numbers import Numbering
from gateway.state.memory import MemoryCounters

GB = Numbering("GB")
KEYWORDS = ["mum", "gift card", "wa.me", "naïve", "x_y", "call", "2fa", "नया", "नया नंबर"]
_TOKENS = st.sampled_from(["mum", "Mum", "MUM,", "mummy", "summum", "gift card", "gift  card",
                           "giftcard", "wa.me/44", "twa.me", "naïve", "NAÏVE", "naive",
                           "x_y", "x_yz", "call", "recall", "call_me", "2fa", "22fa",
                           " ", ", ", ".", "-", "_", "'", "é", "\u00a0", "\n", "£5", "!",
                           "नया", "नयाब", "न", "नंबर", "\u093e", "\u0301", "माँ"])


def _engine(tmp_path: Path):  # type: ignore[no-untyped-def]
    from gateway.engine import Engine

    d = tmp_path / "rules"
    d.mkdir(exist_ok=True)
    words = ", ".join(f'"{w}"' for w in KEYWORDS)
    (d / "r.toml").write_text(textwrap.dedent(f"""
        [[rule]]
        id = "x.words"
        channel = "sms"
        when.text_keywords = [{words}]
        action = "BLOCK"
        """))
    (tmp_path / "lists").mkdir(exist_ok=True)
    lists = load_lists(tmp_path / "lists", GB)
    rs = load_ruleset(d, lists=lists, state=MemoryCounters())
    return Engine(rs, emergency=lists.emergency, numbering=GB)


def _reference(text: str) -> bool:
    kw = "|".join(re.escape(w.casefold()) for w in KEYWORDS)
    return re.search(rf"(?<![{WORD_CHARS}])(?:{kw})(?![{WORD_CHARS}])", text.casefold()) is not None


def test_keywords_match_as_one_word_boundary_regex_does(tmp_path: Path) -> None:
    engine = _engine(tmp_path)

    @settings(max_examples=400, deadline=None)
    @given(st.lists(_TOKENS, max_size=12).map("".join))
    def check(text: str) -> None:
        ev = event_from_fields({"src": "+447700900001", "dst": "+447700900123", "text": text},
                               GB, ts=1_790_000_000.0)
        got = engine.evaluate(ev).action is Action.BLOCK
        assert got == _reference(text), (text, sorted(Facts(ev).words()))

    check()


def test_words_are_the_runs_of_word_characters() -> None:
    ev = event_from_fields({"src": "+447700900001", "dst": "+447700900123",
                            "text": "Hi MUM, it's me: wa.me/44 x_y £5 naïve! माँ, यह मेरा नया नंबर है"},
                           GB, ts=1.0)
    words = Facts(ev).words()
    assert words == frozenset(re.findall(f"[{WORD_CHARS}]+", ev.text.casefold()))
    assert {"नया", "नंबर", "माँ", "naïve", "x_y"} <= words  # vowel signs inside their words
