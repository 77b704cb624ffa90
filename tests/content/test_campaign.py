"""Near-duplicate campaigns: one template with random names, amounts and links is one
campaign; 200 distinct real ham messages are not."""

from __future__ import annotations

import random
from collections import Counter
from itertools import pairwise

import pytest
from content_support import DATA, check, load_plugin_module, sms
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.content.fingerprint import Fingerprinter, campaign_text
from gateway.engine.plugins import PluginEnv

NAMES = ["John", "Mary", "Aisha", "Wei", "Priya", "Tom", "Olga", "Kwame", "Lucia", "Sam",
         "Fatima", "Chen", "Ravi", "Emma", "Noah", "Zoe", "Dmitri", "Ana", "Yusuf", "Grace"]
TEMPLATE = ("Dear {name}, your parcel could not be delivered. A redelivery fee of £{amount} "
            "is due, pay within 24 hours at {link} or it will be returned to the sender.")


def campaign(n: int, seed: int = 7) -> list[str]:
    rnd = random.Random(seed)
    out = []
    for _ in range(n):
        host = rnd.choice(["parcel-help", "redeliver-now", "uk-post-fee", "track-item"])
        path = "".join(rnd.choices("abcdefghijkmnpqrstuvwxyz0123456789", k=8))
        link = f"https://{host}{rnd.choice(['.com', '.info', '.top'])}/{path}"
        amount = f"{rnd.randint(1, 9)}.{rnd.randint(10, 99)}"
        out.append(TEMPLATE.format(name=rnd.choice(NAMES), amount=amount, link=link))
    return out


def ham() -> list[str]:
    lines = (DATA / "ham_200.txt").read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line and not line.startswith("#")]


def test_ham_file_is_200_distinct_messages() -> None:
    msgs = ham()
    assert len(msgs) == 200
    assert len({" ".join(campaign_text(m)) for m in msgs}) == 200


def test_normalised_words_hide_names_amounts_links() -> None:
    words = campaign_text("Pay £3.50 at hxxps://x-y[.]com/abc NOW")
    assert words == ["pay", "£", "\x02", "at", "\x01", "now"]


def test_template_is_one_campaign_by_keys() -> None:
    fp = Fingerprinter()
    counts: Counter[int] = Counter()
    for m in campaign(200):
        counts.update(fp.keys(m))
    assert max(counts.values()) >= 150  # the template's band key, shared by most


def test_distinct_ham_shares_no_campaign() -> None:
    fp = Fingerprinter()
    counts: Counter[int] = Counter()
    for m in ham():
        counts.update(fp.keys(m))
    assert max(counts.values()) <= 3


def test_homoglyphs_and_case_do_not_split_a_campaign() -> None:
    fp = Fingerprinter()
    a = "Dear Tom, your parcel could not be delivered, pay the fee at https://x.com/1 today ok"
    b = ("DEAR OLGA, YOUR P\u0410RCEL COULD NOT BE DELIVERED, PAY THE FEE AT "
         "https://y.top/2 today ok")
    assert fp.similar(a, b)
    assert fp.keys("ok see you") == ()  # too short to be a campaign


def test_plugin_counts_recipients(env: PluginEnv) -> None:
    plugin = load_plugin_module("campaign").create(env)
    n = env.numbering
    verdicts = []
    for i, text in enumerate(campaign(200)):
        verdicts.append(list(plugin.check(sms(n, text, dst=f"+4477009{10000 + i}",
                                              ts=1_790_000_000.0 + i))))
    assert verdicts[40] == []  # under the 50-recipient threshold
    (name, weight), = verdicts[-1]
    assert name == "campaign.bulk" and weight == pytest.approx(1.0)
    assert sum(1 for v in verdicts if v) >= 120


def test_plugin_ignores_ham(env: PluginEnv) -> None:
    plugin = load_plugin_module("campaign").create(env)
    n = env.numbering
    for i, text in enumerate(ham()):
        assert list(plugin.check(sms(n, text, dst=f"+4477009{10000 + i}",
                                     ts=1_790_000_000.0 + i))) == []


def test_window_slides(env: PluginEnv) -> None:
    plugin = load_plugin_module("campaign").create(env)
    n = env.numbering
    msgs = campaign(120)
    for i, text in enumerate(msgs[:60]):  # 60 recipients, an hour apart: never bulk
        assert list(plugin.check(sms(n, text, dst=f"+4477009{10000 + i}",
                                     ts=1_790_000_000.0 + 3600 * i))) == []


def test_allowlisted_senders_not_counted(env: PluginEnv) -> None:
    plugin = load_plugin_module("campaign").create(env)
    n = env.numbering
    text = "Your MyBank one-time passcode is 556677. Never share it, not even with us."
    for i in range(100):
        ev = sms(n, text, src="MyBank", dst=f"+4477009{10000 + i}", ts=1_790_000_000.0 + i)
        assert list(plugin.check(ev)) == []
        ev = sms(n, text, src="+447700900100", dst=f"+4477009{10000 + i}",
                 ts=1_790_000_000.0 + i)
        assert list(plugin.check(ev)) == []
    # nothing was counted: the first unlisted sender starts from one recipient
    assert plugin.size(sms(n, text, src="+447700900999", ts=1_790_000_100.0)) == 1


def test_registered_senders_on_their_routes_not_counted(env: PluginEnv) -> None:
    """ParcelNow is registered for agg-uk (rules/lists/registered_senders.txt): there its
    notices are not counted; the same sender ID on another route is."""
    from dataclasses import replace

    plugin = load_plugin_module("campaign").create(env)
    n = env.numbering
    text = ("ParcelNow: your parcel from Argos will arrive today between 10:00-12:00. "
            "Track or change: https://parcelnow.example/t/AB12")
    for i in range(80):
        ev = replace(sms(n, text, src="ParcelNow", dst=f"+4477009{10000 + i}",
                         ts=1_790_000_000.0 + i), route="agg-uk")
        assert check(plugin, ev) == ()
    spoofed = replace(sms(n, text, src="ParcelNow", ts=1_790_000_100.0), route="grey-1")
    assert plugin.size(spoofed) == 1  # nothing counted before it; it is


RULE = """
[[rule]]
id = "bulk.campaign_many_recipients"
description = "A near-duplicate template sent to more than 50 recipients in 10 minutes"
channel = "sms"
direction = "in"
when.has_text = true
when.distinct = {{ key = "{key}", of = "dst", window = 600, over = 50 }}
score = 6.0
"""


@pytest.mark.parametrize("key", ["campaign", "text"])
def test_rule_counter_counts_a_template_campaign_as_one(env: PluginEnv, tmp_path, key) -> None:
    """``key = "campaign"`` counts the plugin's near-duplicate key: a template with
    varying names, amounts and links is one text; ``key = "text"`` (exact text,
    digits ignored) sees as many texts as there are names and links."""
    from gateway.engine import Engine
    from gateway.engine.loader import load_ruleset

    (tmp_path / "r.toml").write_text(RULE.format(key=key))
    plugin = load_plugin_module("campaign").create(env)
    rs = load_ruleset(tmp_path, lists=env.lists, state=env.state, plugins=(plugin,),
                      home_region="GB")
    engine = Engine(rs, emergency=env.lists.emergency, numbering=env.numbering)
    n = env.numbering
    hits = [
        "bulk.campaign_many_recipients" in engine.evaluate(
            sms(n, text, dst=f"+4477009{10000 + i}", ts=1_790_000_000.0 + i)).rules
        for i, text in enumerate(campaign(100))
    ]
    assert len(set(campaign(100))) == 100  # every text differs
    if key == "campaign":
        assert not any(hits[:40])
        assert all(hits[60:])  # the whole campaign is one text, past 50 recipients
    else:
        assert not any(hits)


def test_text_key_is_digit_blind_for_cached_results() -> None:
    """The caches key on digits zeroed: every digit must be alike to the template and
    the campaign words, or a cached result would belong to another text."""
    from gateway.content.classifier import prepare
    from gateway.content.facts import _DIGITS_TO_ZERO

    odd = "x1.com 9 £4.50 \u0663\u0664 \uff15\uff16 1-2-3 v2.top/a9 12:30"
    texts = [*campaign(50), *ham(), odd]
    for t in texts:
        z = t.encode("utf-8", "surrogatepass").translate(_DIGITS_TO_ZERO).decode("utf-8")
        assert prepare(z) == prepare(t)
        assert campaign_text(z) == campaign_text(t)


def _reference_sketch(fp: Fingerprinter, words: list[str]) -> list[int] | None:
    """The one-permutation MinHash of words and word pairs, spelt out: every shingle
    ("a" and "a b") hashed as its own UTF-8 string, every bin's minimum by a loop."""
    import zlib

    if len(words) < fp.min_words:
        return None
    parts = words
    shingles = parts + [f"{a} {b}" for a, b in pairwise(parts)]
    hs = [zlib.crc32(s.encode("utf-8", "surrogatepass")) for s in shingles]
    k = fp.bands * fp.rows
    mins: list[int | None] = [None] * k
    for h in hs:
        b = h % k
        if mins[b] is None or h < mins[b]:  # type: ignore[operator]
            mins[b] = h
    if all(m is None for m in mins):
        return None
    # densified in place, in bin order: a bin wrapping round takes a densified value
    for i in range(k):
        if mins[i] is None:
            j = (i + 1) % k
            while mins[j] is None:
                j = (j + 1) % k
            mins[i] = (mins[j] * 0x9E3779B1 + i) & 0xFFFFFFFF  # type: ignore[operator]
    out = [m for m in mins if m is not None]
    return out


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zs", "Zl",
                                                                     "Zp")),
                        min_size=1, max_size=8), min_size=0, max_size=30))
def test_sketch_equals_the_spelt_out_minhash(words: list[str]) -> None:
    """For words as ``campaign_text`` gives them (no white space in a word),
    sketch_words' C-level pass (pair hashes continued from the first word's CRC,
    bins by a dict of sorted hashes) is the plain MinHash of words and pairs."""
    fp = Fingerprinter()
    assert fp.sketch_words(words) == _reference_sketch(fp, words)


def test_sketch_of_campaign_texts_equals_the_spelt_out_minhash() -> None:
    fp = Fingerprinter()
    for text in campaign(50) + ham():
        words = campaign_text(text)
        assert fp.sketch_words(words) == _reference_sketch(fp, words)


@pytest.mark.parametrize(("src", "route", "dst"), [
    ("ParcelNow", "agg-uk", "+447700900123"),  # registered on its route
    ("ParcelNow", "grey-1", "+447700900123"),  # spoofed
    ("ParcelNow", "agg-uk", "+33612345678"),  # out of its countries, if it has any
    ("NoSuchBrand", "agg-uk", "+447700900123"),
    ("+447700900100", "agg-uk", "+447700900123"),
])
def test_allowed_reads_the_registry_memo_as_registered_would(env: PluginEnv, src: str,
                                                             route: str, dst: str) -> None:
    """``allowed(event.src, event)`` asks ``status_of`` (remembered for the rules);
    any other source asks ``registered``: the same answer."""
    from dataclasses import replace

    plugin = load_plugin_module("campaign").create(env)
    ev = replace(sms(env.numbering, "hello there", src=src, dst=dst), route=route)
    other = replace(ev.src)  # equal, not the event's own: the general path
    assert other is not ev.src
    assert plugin.allowed(ev.src, ev) == plugin.allowed(other, ev)
    assert plugin.allowed(ev.src, ev) == plugin.allowed(ev.src, ev)  # memo warm


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 6), st.integers(1, 5), st.data())
def test_band_keys_are_the_spelt_out_crcs(bands: int, rows: int, data: st.DataObject) -> None:
    import struct
    import zlib

    mins = data.draw(st.lists(st.integers(0, 0xFFFFFFFF), min_size=bands * rows,
                              max_size=bands * rows))
    packed = struct.pack(f"<{len(mins)}I", *mins)
    step = 4 * rows
    expected = tuple(zlib.crc32(packed[i * step:(i + 1) * step], i) | (i << 32)
                     for i in range(bands))
    assert Fingerprinter(bands, rows).keys_of_sketch(mins) == expected


def test_links_are_the_scanners() -> None:
    """A link is one token by the scanner's decision, under any real TLD and however
    written: a template whose link changes host every message is one campaign."""
    fp = Fingerprinter()
    rnd = random.Random(3)
    texts = []
    for name in NAMES[:10]:
        host = "".join(rnd.choices("abcdefghkmnpqrstuvwxyz", k=7))
        tld = rnd.choice([".cfd", ".sbs", ".vip", ".bond", ".pro"])
        texts.append(f"Dear {name}, your toll is unpaid. Pay today at {host}-pay{tld}/t "
                     "to avoid a penalty. Thank you.")
    words = campaign_text(texts[0])
    assert words.count("\x01") == 1 and not {"cfd", "sbs", "vip", "bond", "pro"} & set(words)
    keys = [set(fp.keys(t)) for t in texts]
    assert all(k & keys[0] for k in keys[1:])
    # a link that ends a sentence is the link alone; the next sentence stays words
    assert campaign_text("Pay at evil-bank.com. Your parcel waits") == \
        ["pay", "at", "\x01", "your", "parcel", "waits"]
    assert campaign_text("pay at evil[.]com today") == ["pay", "at", "\x01", "today"]
    # prose with a dot is no link
    assert "\x01" not in campaign_text("see you at home.Com on fri, ok.so")


_TRICKY = st.sampled_from(["http://", "hxxps://", "www.", ".", ",", " ", "  ", "[.]", "(dot)",
                           " dot ", "com", "co.uk", "x-y", "3", "4.50", "12:30", "1-2", "$",
                           "£", "€", "\x01", "\x02", "é", "Ünï", "\u200b", "_", "a", "Bc",
                           "win", "\t", "\n", "/", "?", "!"])


@settings(max_examples=500, deadline=None)
@given(st.lists(_TRICKY, max_size=30).map("".join) | st.text(max_size=60))
def test_campaign_parts_are_campaign_text_as_bytes(text: str) -> None:
    """The byte path of campaign_parts (ASCII text) finds campaign_text's words."""
    from gateway.content.fingerprint import campaign_parts

    assert campaign_parts(text) == [w.encode("utf-8", "surrogatepass")
                                    for w in campaign_text(text)]


def test_campaign_parts_of_real_texts() -> None:
    from gateway.content.fingerprint import campaign_parts

    fp = Fingerprinter()
    for text in campaign(50) + ham():
        parts = campaign_parts(text)
        assert parts == [w.encode("utf-8") for w in campaign_text(text)]
        assert fp.keys_of_parts(parts) == fp.keys_of_words(campaign_text(text))
