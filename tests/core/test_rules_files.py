"""Rule-file validation errors name file:line: rule-id; the CLI exits 1 on them."""

import json
import textwrap

import pytest

from gateway.engine.loader import load_ruleset
from gateway.engine.schema import RuleErrors
from gateway.lists.registry import load_lists
from gateway.numbers import Numbering
from gateway.state.memory import MemoryCounters

GB = Numbering("GB")


def _rules_dir(tmp_path, files):
    """A rules directory holding ``files`` (name -> TOML, dedented) and an empty list set."""
    d = tmp_path / "rules"
    d.mkdir(exist_ok=True)
    for name, text in files.items():
        (d / name).write_text(textwrap.dedent(text))
    return d, load_lists(tmp_path / "nolists", GB)


def _judge(rules_dir, lists, plugins=()):
    """A function judging one text from a mobile to a mobile with the rules of
    ``rules_dir`` (an engine loaded once)."""
    from gateway.engine import Engine
    from gateway.engine.examples import event_from_fields

    engine = Engine(load_ruleset(rules_dir, lists=lists, state=MemoryCounters(),
                                 plugins=plugins),
                    emergency=lists.emergency, numbering=GB)

    def judge(text):
        return engine.evaluate(event_from_fields(
            {"src": "+447700900510", "dst": "+447700900123", "text": text}, GB))
    return judge


def errors_of(tmp_path, text, name="r.toml"):
    d, lists = _rules_dir(tmp_path, {name: text})
    with pytest.raises(RuleErrors) as e:
        load_ruleset(d, lists=lists, state=MemoryCounters())
    return [str(x) for x in e.value.errors], d / name


def test_unknown_predicate_names_its_line(tmp_path):
    errs, p = errors_of(tmp_path, """
        [[rule]]
        id = "first"
        action = "BLOCK"
        when.src_in = "premium_rate"

        [[rule]]
        id = "second"
        when.src_colour = "red"
        score = 1
    """)
    assert errs == [f"{p}:9: second: unknown predicate 'src_colour'"]


def test_unknown_list_and_bad_regex(tmp_path):
    errs, p = errors_of(tmp_path, """
        [[rule]]
        id = "a"
        when.dst_in = "no_such_list"
        action = "WARN"

        [[rule]]
        id = "b"
        when.text_regex = "([unclosed"
        score = 2
    """)
    assert errs[0] == f"{p}:4: a: unknown list 'no_such_list'"
    assert errs[1].startswith(f"{p}:9: b: bad regular expression")


def test_toml_syntax_error_has_a_line(tmp_path):
    errs, p = errors_of(tmp_path, """
        [[rule]]
        id = "a"
        action = BLOCK
    """)
    assert errs[0].startswith(f"{p}:4: -: TOML syntax")


def test_duplicate_ids_and_missing_action(tmp_path):
    errs, p = errors_of(tmp_path, """
        [[rule]]
        id = "a"
        action = "BLOCK"

        [[rule]]
        id = "a"
        action = "WARN"

        [[rule]]
        id = "c"
        description = "does nothing"
    """)
    assert f"{p}:6: a: duplicate rule id (first at {p}:2)" in errs
    assert f"{p}:10: c: a rule needs an action, a score, or a flag side effect" in errs


def test_counter_mistakes(tmp_path):
    errs, p = errors_of(tmp_path, """
        [[rule]]
        id = "v"
        when.rate = { key = "src", window = -1, over = 5 }
        score = 1

        [[rule]]
        id = "w"
        when.distinct = { key = "moon", of = "dst", window = 60, over = 5 }
        score = 1
    """)
    assert errs[0] == f"{p}:4: v: window must be seconds > 0 or \"day\", got -1"
    assert errs[1].startswith(f"{p}:9: w: unknown counter key part 'moon' in 'moon': parts are")


def test_cli_rules_check_exit_codes(spamgw, rules_copy):
    ok = spamgw("rules", "check", str(rules_copy))
    assert ok.returncode == 0, ok.stderr
    bad = rules_copy / "20-lists.toml"
    bad.write_text(bad.read_text().replace('when.src_in = "blocked_senders"',
                                           'when.src_in = "blocked_sendrs"'))
    res = spamgw("rules", "check", str(rules_copy))
    assert res.returncode == 1
    line = res.stderr.strip().splitlines()[0]
    assert line.startswith(f"{bad}:")
    assert ": list.blocked_sender_id: unknown list 'blocked_sendrs'" in line


def test_cli_rules_test_reports_a_failing_example(spamgw, rules_copy):
    assert spamgw("rules", "test", str(rules_copy)).returncode == 0
    f = rules_copy / "30-premium.toml"
    f.write_text(f.read_text().replace('dst = "+882123456789"\nexpect = "BLOCK"',
                                       'dst = "+882123456789"\nexpect = "ALLOW"'))
    res = spamgw("rules", "test", str(rules_copy))
    assert res.returncode == 1
    assert "premium.call_out: example 2: expected ALLOW, got BLOCK" in res.stderr


def test_cli_check_prints_the_verdict_json(spamgw):
    res = spamgw("check", "call", "--src", "+447700900123", "--dst", "+449098790000")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert set(out) == {"action", "score", "rules", "reason"}
    assert out["action"] in ("WARN", "BLOCK") and "premium.call_out_national" in out["rules"]
    res = spamgw("check", "sms", "--src", "+447700900666", "--dst", "+447700900123",
                 "--text", "hi")
    assert json.loads(res.stdout)["action"] == "BLOCK"


def test_cli_lists_lookup_and_bad_config(spamgw, tmp_path):
    res = spamgw("lists", "lookup", "+447700900955")
    assert res.returncode == 0
    assert json.loads(res.stdout.splitlines()[0])["entry"] == "+4477009009*"
    cfg = tmp_path / "bad.toml"
    cfg.write_text('[smpp.upstream]\naddress = 2775\n')
    res = spamgw("check", "call", "--src", "1", "--dst", "2", "--config", str(cfg))
    assert res.returncode == 2
    assert "smpp.upstream.address: expected a string, got 2775" in res.stderr


def test_a_symbol_no_loaded_plugin_provides_is_an_error_unless_disabled(tmp_path):
    from gateway.engine.plugins import Symbol

    class Urls:
        name = "urls"
        channels = frozenset({"sms"})
        symbols = (Symbol("url.shortener", 2.0),)

        def check(self, event):
            return ()

    d, lists = _rules_dir(tmp_path, {"r.toml": """
        [symbols]
        "content.spam" = 5.0

        [[rule]]
        id = "needs.classifier"
        when.symbol = "content.spam"
        score = 1

        [[rule]]
        id = "any.of.two"
        when.symbol = ["content.spam", "url.shortener"]
        score = 1
    """})
    with pytest.raises(RuleErrors) as e:
        load_ruleset(d, lists=lists, state=MemoryCounters(), plugins=(Urls(),))
    assert str(e.value).splitlines() == [
        f"{d / 'r.toml'}:7: needs.classifier: no loaded plugin provides symbol 'content.spam' "
        '(plugins loaded: urls); load the plugin, or set [plugins] missing_symbols = '
        '"disable" to run the rules without it',
        f"{d / 'r.toml'}:12: any.of.two: no loaded plugin provides symbol 'content.spam' "
        '(plugins loaded: urls); load the plugin, or set [plugins] missing_symbols = '
        '"disable" to run the rules without it']
    # the operator's explicit choice: a rule left with no symbol is disabled, one with
    # some keeps those; the score override waits for its plugin either way
    rs = load_ruleset(d, lists=lists, state=MemoryCounters(), plugins=(Urls(),),
                      missing_symbols="disable")
    assert [r.id for r in rs.rules] == ["any.of.two"]
    assert rs.rules[0].spec.when["symbol"] == ["url.shortener"]
    (d / "r.toml").write_text(textwrap.dedent("""
        [symbols]
        "url.shortner" = 5.0
    """))
    with pytest.raises(RuleErrors) as e:
        load_ruleset(d, lists=lists, state=MemoryCounters(), plugins=(Urls(),))
    want = f"{d / 'r.toml'}:3: symbols: no loaded plugin emits symbol 'url.shortner'"
    assert str(e.value) == want


def test_symbols_all_needs_every_symbol_and_is_disabled_without_one_of_them(tmp_path):
    """``when.symbols_all``: every named symbol was emitted (``symbol`` is any of
    them). A rule whose ``symbols_all`` names a symbol no loaded plugin provides can
    never hit: an error, or with ``missing_symbols = "disable"`` the rule is off."""
    from gateway.engine.plugins import Symbol

    class Two:
        name = "two"
        channels = frozenset({"sms"})
        symbols = (Symbol("two.a", 0.0), Symbol("two.b", 0.0))

        def check(self, event, facts):
            text = event.text or ""
            return tuple(s for s in ("two.a", "two.b") if s[-1] in text.split())

    d, lists = _rules_dir(tmp_path, {"r.toml": """
        [[rule]]
        id = "both"
        when.symbols_all = ["two.a", "two.b"]
        score = 10
    """})
    judge = _judge(d, lists, plugins=(Two(),))

    def action(text):
        return judge(text).action.value

    assert [action(t) for t in ("x a b", "x a", "x b", "x")] == [
        "BLOCK", "ALLOW", "ALLOW", "ALLOW"]
    (d / "r.toml").write_text(textwrap.dedent("""
        [[rule]]
        id = "both"
        when.symbols_all = ["two.a", "content.suspect"]
        score = 10

        [[rule]]
        id = "other"
        when.symbol = "two.a"
        score = 1
    """))
    with pytest.raises(RuleErrors) as e:
        load_ruleset(d, lists=lists, state=MemoryCounters(), plugins=(Two(),))
    assert str(e.value).startswith(
        f"{d / 'r.toml'}:4: both: no loaded plugin provides symbol 'content.suspect'")
    rs = load_ruleset(d, lists=lists, state=MemoryCounters(), plugins=(Two(),),
                      missing_symbols="disable")
    assert [r.id for r in rs.rules] == ["other"]


def test_patterns_are_named_once_and_used_by_rules_of_any_file(tmp_path):
    """``[patterns]``: a named list of regexes or keywords, defined in one rule file and
    used as ``"@name"`` by rules of any file, in text_regex, text_not_regex,
    url_host_regex and text_keywords (the keyword gate included)."""
    d, lists = _rules_dir(tmp_path, {"10-a.toml": r"""
        [patterns]
        charge = ['\b\d+p/msg\b', 'std ntwk chg']
        words = ["ringtone", "tones"]

        [[rule]]
        id = "a.charge"
        when.text_keywords = ["@words"]
        when.text_regex = ["@charge"]
        score = 6
    """, "20-b.toml": r"""
        [[rule]]
        id = "b.charge_not_quoted"
        when.text_regex = ["@charge", 'xmas']
        when.text_not_regex = ["@quoted"]
        score = 4

        [patterns]
        quoted = 'got a (txt|text) saying'
    """})
    judge = _judge(d, lists)

    def verdict(text):
        v = judge(text)
        return v.action.value, v.rules

    assert verdict("New ringtone every week, 150p/msg") == (
        "BLOCK", ("a.charge", "b.charge_not_quoted"))
    assert verdict("New game every week, std ntwk chg") == (
        "ALLOW", ("b.charge_not_quoted",))  # no gate word: a.charge is not even tried
    assert verdict("got a text saying ringtone 150p/msg lol") == ("WARN", ("a.charge",))
    assert verdict("happy xmas") == ("ALLOW", ("b.charge_not_quoted",))
    assert verdict("see you at 5") == ("ALLOW", ())


def test_pattern_mistakes_name_their_place(tmp_path):
    """An unknown ``@name``, a name defined in two files, a pattern of the wrong shape,
    a pattern that names another and a bad regex inside a pattern each name file:line
    and the rule or table."""
    d, lists = _rules_dir(tmp_path, {"10-a.toml": r"""
        [patterns]
        charge = '\b\d+p/msg\b'
        broken = '([unclosed'
        empty = []

        [[rule]]
        id = "a.unknown"
        when.text_regex = ["@chrage"]
        score = 1

        [[rule]]
        id = "a.broken"
        when.text_regex = ["@broken"]
        score = 1
    """, "20-b.toml": r"""
        [patterns]
        charge = 'other'
        nested = ['\bfree\b', "@broken"]

        [[rule]]
        id = "b.literal_at"
        when.text_regex = ["@ home"]
        score = 1
    """})
    with pytest.raises(RuleErrors) as e:
        load_ruleset(d, lists=lists, state=MemoryCounters())
    errs = [str(x) for x in e.value.errors]
    a, b = d / "10-a.toml", d / "20-b.toml"
    assert f"{a}:5: patterns: pattern 'empty' must be a regular expression or a non-empty " \
        "list of them" in errs
    assert f"{b}:3: patterns: pattern 'charge' defined twice (first at {a}:3)" in errs
    assert f"{a}:9: a.unknown: text_regex: unknown pattern '@chrage' (define it under " \
        "[patterns] in any rule file)" in errs
    assert any(x.startswith(f"{a}:14: a.broken: bad regular expression") for x in errs), errs
    assert f"{b}:8: b.literal_at: text_regex: '@ home' is no pattern name; a regex " \
        "starting with a literal @ writes it \\@" in errs
    # a pattern that names another would be searched as the text "@broken"
    assert f"{b}:4: patterns: pattern 'nested' names '@broken': patterns do not nest; " \
        "list both in the rule" in errs


def test_a_pattern_named_inside_a_regex_is_its_alternation(tmp_path):
    r"""``{@name}`` inside a regex stands for the named pattern's alternation, so one word
    list serves rules that need it inside a longer regex (in either order around a
    window); ``\{@`` is a literal brace. An unknown name names file:line and the rule; a
    pattern may not name another this way either."""
    d, lists = _rules_dir(tmp_path, {"10-a.toml": r"""
        [patterns]
        mistake = ['\bby mistake\b', 'por error']
        back = ['\bsend (it )?back\b', '\bdevu[eé]lv\w*']

        [[rule]]
        id = "a.plea"
        when.text_regex = ['({@mistake}).{0,40}({@back})|({@back}).{0,40}({@mistake})']
        when.text_not_regex = ['\b({@mistake}) (in|from) the bank\b', '\{@braces\}']
        score = 6
    """})
    judge = _judge(d, lists)

    def rules(text):
        return judge(text).rules

    assert rules("sent you 20 by mistake, please send it back") == ("a.plea",)
    assert rules("devuélvemelo, te lo mandé por error") == ("a.plea",)
    assert rules("by mistake") == ()
    assert rules("paid by mistake from the bank, send it back") == ()
    assert rules("{@braces} by mistake, send back") == ()  # the literal brace and @

    (d / "20-b.toml").write_text(textwrap.dedent(r"""
        [patterns]
        nested = '\bfree\b.{0,9}({@mistake})'

        [[rule]]
        id = "b.unknown"
        when.text_regex = ['\bsend\b.{0,20}({@mistak})']
        score = 1
    """))
    with pytest.raises(RuleErrors) as e:
        load_ruleset(d, lists=lists, state=MemoryCounters())
    errs = [str(x) for x in e.value.errors]
    b = d / "20-b.toml"
    assert f"{b}:7: b.unknown: text_regex: unknown pattern {{@mistak}} in a regex (define " \
        "it under [patterns] in any rule file; a literal brace before an @ is written " \
        "\\{@)" in errs, errs
    assert any(x.startswith(f"{b}:3: patterns: pattern 'nested' names ") and
               "patterns do not nest" in x for x in errs), errs


def test_rules_sharing_a_pattern_search_a_text_once(tmp_path, monkeypatch):
    """Rules that use the same patterns (a named pattern, or the same list) share one
    search an event (``Facts.matches``), as a text_regex and a text_not_regex do; each
    event searches afresh."""
    from gateway.content import regex as rx
    from gateway.engine import predicates

    searched: list[tuple[str, ...]] = []
    wrapped: dict[tuple[str, ...], object] = {}

    def counting(patterns):
        key = tuple(patterns)
        if key not in wrapped:
            inner = rx.compile_operator_regex(key)

            def count(search, _key=key):
                def counted(b):
                    searched.append(_key)
                    return search(b)
                return counted

            class Counting:
                engine = inner.engine
                literals = inner.literals
                # the rules search pattern by pattern: each search of a part counts
                parts = rx.Parts(tuple((s, count(p)) for s, p in inner.parts.gated),
                                 inner.parts.ungated and count(inner.parts.ungated)) \
                    if inner.parts is not None else None

                @staticmethod
                def search(text, _inner=inner.search, _key=key):
                    searched.append(_key)
                    return _inner(text)

            wrapped[key] = Counting()
        return wrapped[key]

    monkeypatch.setattr(predicates, "compile_operator_regex", counting)
    d, lists = _rules_dir(tmp_path, {"10-a.toml": r"""
        [patterns]
        opener = ['\bis this \w+\?', 'we met at']

        [[rule]]
        id = "a.one"
        when.text_regex = ["@opener"]
        score = 1

        [[rule]]
        id = "a.two"
        when.text_regex = ["@opener"]
        when.has_text = true
        score = 1

        [[rule]]
        id = "a.three"
        when.text_keywords = ["hi"]
        when.text_not_regex = ["@opener"]
        score = 1
    """})
    judge = _judge(d, lists)
    once = [(r"\bis this \w+\?", "we met at")]
    # a text with none of the strings every match needs ("is this ", "we met at") is
    # answered by the ruleset's literal index, with no search at all
    for text, rules, searches in (("hi, is this Anna?", ("a.one", "a.two"), once),
                                  ("hi there, is this ok", ("a.three",), once),
                                  ("hi there", ("a.three",), [])):
        searched.clear()
        v = judge(text)
        assert v.rules == rules
        assert searched == searches


def test_a_keyword_written_twice_names_its_line(tmp_path):
    """A keyword listed twice (case aside), inline or through a named pattern's words,
    is an error at the key's line: one of the two was meant to be another word."""
    errs, p = errors_of(tmp_path, """
        [patterns]
        loan_words = ["loan", "credit"]

        [[rule]]
        id = "twice"
        when.text_keywords = ["Parcel", "parcel", "fee"]
        score = 1

        [[rule]]
        id = "through_a_pattern"
        when.text_keywords = ["@loan_words", "Credit"]
        score = 1

        [[rule]]
        id = "once"
        when.text_keywords = ["parcel", "fee"]
        score = 1
    """)
    assert errs == [
        f"{p}:7: twice: text_keywords lists 'parcel' more than once (a named pattern's "
        "words count too)",
        f"{p}:12: through_a_pattern: text_keywords lists 'credit' more than once (a named "
        "pattern's words count too)",
    ]
