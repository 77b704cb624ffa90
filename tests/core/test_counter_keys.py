"""Counter keys of number ranges and countries, and the sender-ID registry predicates:
errors name ``file:line: rule-id``; keys group what they say they group."""

import textwrap
from pathlib import Path

import pytest

from gateway.engine import Engine
from gateway.engine.examples import event_from_fields
from gateway.engine.loader import load_ruleset
from gateway.engine.schema import RuleErrors, parse_counter_key
from gateway.lists.files import ListFileError
from gateway.lists.registry import load_lists
from gateway.lists.senders import SenderStatus, read_sender_registry
from gateway.model import Action
from gateway.numbers import Numbering
from gateway.state.memory import MemoryCounters

GB = Numbering("GB")
REGISTRY = """\
# SENDERID  ROUTES  [COUNTRIES]
AcmeBank    acme-direct,agg-*   GB,IE
+447700900500  otp-hub          # any country
"""


def _rules(tmp_path: Path, text: str, registry: str = REGISTRY) -> Path:
    d = tmp_path / "rules"
    d.mkdir(exist_ok=True)
    (d / "r.toml").write_text(textwrap.dedent(text))
    lists = tmp_path / "lists"
    lists.mkdir(exist_ok=True)
    (lists / "registered_senders.txt").write_text(registry)
    return d


def _engine(tmp_path: Path, text: str) -> Engine:
    d = _rules(tmp_path, text)
    lists = load_lists(tmp_path / "lists", GB)
    rs = load_ruleset(d, lists=lists, state=MemoryCounters())
    return Engine(rs, emergency=lists.emergency, numbering=GB)


def _errors(tmp_path: Path, text: str) -> tuple[list[str], Path]:
    d = _rules(tmp_path, text)
    lists = load_lists(tmp_path / "lists", GB)
    with pytest.raises(RuleErrors) as e:
        load_ruleset(d, lists=lists, state=MemoryCounters())
    return [str(x) for x in e.value.errors], d / "r.toml"


def _sms(route="", src="+447700900001", dst="+447700900123", ts=0.0, text="hi"):
    return event_from_fields({"src": src, "dst": dst, "route": route, "text": text}, GB,
                             ts=1_790_000_000.0 + ts)


def test_counter_key_parts():
    assert parse_counter_key("src") == (("src", 0),)
    assert parse_counter_key("route+dst_range:9") == (("route", 0), ("dst_range", 9))
    assert parse_counter_key("src+dst_country") == (("src", 0), ("dst_country", 0))
    for bad, why in [("dst_range:0", "first 1 to 15 digits"), ("dst_range:16", "1 to 15"),
                     ("dst_range", "unknown counter key part"), ("src+src", "twice"),
                     ("route+moon", "'moon'"), ("", "must be a string"), (5, "string")]:
        with pytest.raises(ValueError, match=why):
            parse_counter_key(bad)


def test_bad_counter_keys_name_file_line_and_rule(tmp_path):
    errs, p = _errors(tmp_path, """
        [[rule]]
        id = "a"
        when.distinct = { key = "route+dst_range:99", of = "dst", window = 60, over = 5 }
        score = 1

        [[rule]]
        id = "b"
        when.distinct = { key = "route", of = "dst_country+dst_country", window = 60, over = 5 }
        score = 1

        [[rule]]
        id = "c"
        when.rate = { key = "dst_prefix:5", window = 60, over = 5 }
        score = 1
    """)
    assert errs[0] == f"{p}:4: a: 'dst_range:99': a range is the first 1 to 15 digits"
    assert errs[1] == f"{p}:9: b: counter key 'dst_country+dst_country' names a part twice"
    assert errs[2].startswith(f"{p}:14: c: unknown counter key part 'dst_prefix:5'")


def test_bad_registry_predicates_name_file_line_and_rule(tmp_path):
    errs, p = _errors(tmp_path, """
        [[rule]]
        id = "a"
        when.sender_spoofed = "registered_sendrs"
        action = "BLOCK"

        [[rule]]
        id = "b"
        when.sender_registered = ["registered_senders"]
        score = -1
    """)
    assert errs[0] == (f"{p}:4: a: unknown sender registry 'registered_sendrs' "
                       "(registered_*_senders.txt in the lists dir)")
    assert errs[1].startswith(f"{p}:9: b: sender_registered takes the name of a sender registry")


def test_range_key_groups_numbers_by_their_first_digits(tmp_path):
    eng = _engine(tmp_path, """
        [[rule]]
        id = "sweep"
        channel = "sms"
        direction = "in"
        when.distinct = { key = "route+dst_range:9", of = "dst", window = 600, over = 3 }
        action = "BLOCK"
    """)
    # four numbers of +447700900xxx from one route: the fourth is over 3
    verdicts = [eng.evaluate(_sms("r1", dst=f"+447700900{n:03d}", ts=n)) for n in range(4)]
    assert [v.action for v in verdicts] == [Action.ALLOW] * 3 + [Action.BLOCK]
    # another route, another range, and a shorter number (its own range) count apart
    assert eng.evaluate(_sms("r2", dst="+447700900999", ts=5)).action is Action.ALLOW
    assert eng.evaluate(_sms("r1", dst="+447700901000", ts=6)).action is Action.ALLOW
    for n in range(5):  # 9 digits or fewer: each number is its own range
        assert eng.evaluate(_sms("r1", dst=f"+3531234{n}", ts=7 + n)).action is Action.ALLOW


def test_block_key_is_a_run_of_consecutive_numbers_of_any_length(tmp_path):
    eng = _engine(tmp_path, """
        [[rule]]
        id = "block"
        channel = "sms"
        direction = "in"
        when.distinct = { key = "dst_block:2", of = "dst", window = 600, over = 2 }
        action = "BLOCK"
    """)
    for first in ("+447700900100", "+12025550100", "+3531234500"):  # 12, 11, 10 digits
        base = int(first[1:])
        acts = [eng.evaluate(_sms(dst=f"+{base + i}", ts=i)).action for i in (0, 99, 50)]
        assert acts == [Action.ALLOW, Action.ALLOW, Action.BLOCK], first
        # the next block is another key
        assert eng.evaluate(_sms(dst=f"+{base + 100}", ts=9)).action is Action.ALLOW
    assert parse_counter_key("src_block:3") == (("src_block", 3),)
    with pytest.raises(ValueError, match="last 1 to 8 digits"):
        parse_counter_key("dst_block:9")


def test_country_keys(tmp_path):
    eng = _engine(tmp_path, """
        [[rule]]
        id = "country"
        channel = "sms"
        direction = "in"
        when.distinct = { key = "route+dst_country", of = "dst", window = 600, over = 2 }
        action = "BLOCK"

        [[rule]]
        id = "src_country"
        channel = "sms"
        direction = "in"
        when.rate = { key = "route+src_country", window = 600, over = 4 }
        score = 5
    """)
    fr = ["+33612345678", "+33698765432", "+33711223344"]
    assert [eng.evaluate(_sms("r1", dst=d, ts=i)).action for i, d in enumerate(fr)] == \
        [Action.ALLOW, Action.ALLOW, Action.BLOCK]
    assert eng.evaluate(_sms("r1", dst="+4915112345678", ts=4)).action is Action.ALLOW
    # five messages from GB numbers (different senders) to GB: src_country counts them
    vs = [eng.evaluate(_sms("r3", src=f"+44770090{n:04d}", dst=f"+4478{n:08d}", ts=9 + n))
          for n in range(5)]
    assert "src_country" in vs[-1].rules and "src_country" not in vs[-2].rules


def test_sender_registry_file(tmp_path):
    p = tmp_path / "registered_senders.txt"
    p.write_text(REGISTRY + "NorthBank   direct   GB\n")
    reg = read_sender_registry(p)
    assert len(reg) == 3
    assert reg.status("acmebank", "acme-direct", "GB") is SenderStatus.REGISTERED
    assert reg.status("acmebank", "agg-eu", "IE") is SenderStatus.REGISTERED  # glob
    assert reg.status("acmebank", "grey", "GB") is SenderStatus.SPOOFED
    assert reg.status("acmebank", "acme-direct", "FR") is SenderStatus.OUT_OF_SCOPE
    assert reg.status("447700900500", "otp-hub", "UZ") is SenderStatus.REGISTERED
    assert reg.status("someoneelse", "otp-hub", "GB") is SenderStatus.UNREGISTERED


def test_sender_registry_bad_lines_are_named(tmp_path):
    p = tmp_path / "registered_senders.txt"
    p.write_text("AcmeBank\n"                     # 1: no routes
                 "Acme  direct  GB,XX\n"           # 2: unknown country
                 "Acme2 dir#ect\n"                 # 3: '#' starts a comment: fine
                 "Acme3 a/b\n"                     # 4: bad route
                 "Acme2 other\n"                   # 5: registered twice
                 "Acme4 r1 GB extra\n")            # 6: too many fields
    with pytest.raises(ListFileError) as e:
        read_sender_registry(p)
    assert [err.split(": ", 1)[0] for err in e.value.errors] == \
        [f"{p}:{n}" for n in (1, 2, 4, 5, 6)]
    assert "unknown country 'XX'" in e.value.errors[1]
    assert "already registered on line 3" in e.value.errors[3]


def test_registry_predicates(tmp_path):
    eng = _engine(tmp_path, """
        [[rule]]
        id = "spoofed"
        channel = "sms"
        direction = "in"
        when.sender_spoofed = "registered_senders"
        action = "BLOCK"

        [[rule]]
        id = "trusted"
        channel = "sms"
        direction = "in"
        when.sender_registered = "registered_senders"
        score = -10

        [[rule]]
        id = "elsewhere"
        channel = "sms"
        direction = "in"
        when.sender_out_of_scope = "registered_senders"
        score = 5

        [[rule]]
        id = "volume"
        channel = "sms"
        direction = "in"
        when.sender_not_registered = "registered_senders"
        score = 1
    """)
    assert eng.evaluate(_sms("grey", src="AcmeBank")).rules == ("spoofed", "volume")
    assert eng.evaluate(_sms("acme-direct", src="ACMEBANK")).rules == ("trusted",)
    v = eng.evaluate(_sms("acme-direct", src="AcmeBank", dst="+33612345678"))
    assert v.rules == ("elsewhere", "volume") and v.action is Action.WARN
    assert eng.evaluate(_sms("acme-direct", src="Other")).rules == ("volume",)


def test_count_under_reads_another_counter_from_below(tmp_path):
    eng = _engine(tmp_path, """
        [[rule]]
        id = "history"
        channel = "sms"
        direction = "in"
        when.rate = { name = "day", key = "src", window = 86400, over = 1e12 }
        score = 0.0

        [[rule]]
        id = "new_sender"
        channel = "sms"
        direction = "in"
        when.count = { name = "day", key = "src", window = 86400, under = 3 }
        score = 5
    """)
    acts = [eng.evaluate(_sms(src="+447700900777", ts=i)).action for i in range(4)]
    assert acts == [Action.WARN, Action.WARN, Action.ALLOW, Action.ALLOW]
    errs, p = _errors(tmp_path, """
        [[rule]]
        id = "both"
        when.count = { name = "day", key = "src", window = 60, over = 1, under = 3 }
        score = 1

        [[rule]]
        id = "rate_under"
        when.rate = { key = "src", window = 60, under = 3 }
        score = 1
    """)
    assert errs[0].startswith(f"{p}:4: both: count takes {{name, key, window, over}} (or under "
                              "instead of over) and optionally name; unknown under")
    assert errs[1] == (f"{p}:9: rate_under: rate takes {{key, window, over}} and optionally "
                       "name; missing over; unknown under")


def test_several_counters_of_one_kind_must_all_hold(tmp_path):
    eng = _engine(tmp_path, """
        [[rule]]
        id = "two"
        channel = "sms"
        direction = "in"
        when.distinct = [
          { key = "text", of = "src", window = 600, over = 2 },
          { key = "text", of = "dst", window = 600, over = 2 },
        ]
        action = "BLOCK"
    """)
    text = "the same words every time"
    # three senders to one recipient: only the first counter is over
    for n in range(3):
        assert eng.evaluate(_sms(src=f"+44770090010{n}", text=text, ts=n)).action is Action.ALLOW
    # one of them to two more recipients: now both are (the counters did not mix)
    assert eng.evaluate(_sms(src="+447700900100", dst="+447700900200", text=text, ts=4)
                        ).action is Action.ALLOW
    assert eng.evaluate(_sms(src="+447700900100", dst="+447700900201", text=text, ts=5)
                        ).action is Action.BLOCK
    errs, p = _errors(tmp_path, """
        [[rule]]
        id = "bad"
        when.rate = [{ key = "src", window = 60, over = 1 }, { key = "moon", window = 6, over = 1 }]
        score = 1
    """)
    assert errs[0].startswith(f"{p}:4: bad: unknown counter key part 'moon'")


def test_template_key_ignores_links_and_digits_not_words(tmp_path):
    eng = _engine(tmp_path, """
        [[rule]]
        id = "templates"
        channel = "sms"
        direction = "in"
        when.distinct = { key = "src", of = "template", window = 600, over = 1 }
        action = "BLOCK"
    """)
    same = ["Join me at https://app.example/i/ab12 code 1234",
            "Join me at https://app.example/i/zz99 code 5678"]
    assert [eng.evaluate(_sms(text=t, ts=i)).action for i, t in enumerate(same)] == \
        [Action.ALLOW, Action.ALLOW]
    assert eng.evaluate(_sms(text="Join us at https://app.example/i/ab12 code 1234", ts=3)
                        ).action is Action.BLOCK


def test_a_lists_dir_without_the_registry_has_an_empty_one(tmp_path):
    lists = load_lists(tmp_path / "nolists", GB)
    reg = lists.registry("registered_senders")
    assert reg is not None and len(reg) == 0
    assert reg.status("examplebank", "any", "GB") is SenderStatus.UNREGISTERED
    assert lists.registry("registered_sendrs") is None
