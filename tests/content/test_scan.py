"""The one scanner: every written form of every listed domain is a link to it, clean
prose is not a link, and phone numbers, short codes and service numbers come out of
the same pass."""

from __future__ import annotations

import pytest
from content_support import ROOT, check, load_plugin_module, sms
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from gateway.content.plugin import PluginEnv
from gateway.content.scan import SPACED_TLDS, STRONG_TLDS, ShortCode, scan, scan_urls
from gateway.content.suffixes import SUFFIXES, TLDS, public_suffix, registrable
from gateway.lists.registry import load_lists
from gateway.numbers import Numbering
from gateway.state.memory import MemoryCounters


def _listed(name: str) -> list[str]:
    path = ROOT / "rules" / "lists" / f"{name}.txt"
    return [line.split("#")[0].strip() for line in path.read_text().splitlines()
            if line.split("#")[0].strip()]


NUMBERING = Numbering("GB")
URLS = load_plugin_module("urls").create(
    PluginEnv(load_lists(ROOT / "rules" / "lists", NUMBERING), MemoryCounters(), NUMBERING, {}))
BLOCKED = _listed("blocked_domains")
BRANDS = _listed("brand_domains")
SHORTENERS = _listed("shortener_domains")

# --- the public-suffix source ---------------------------------------------------------


def test_one_tld_source() -> None:
    assert {"com", "uk", "ly", "id", "example", "test", "xn--p1ai"} <= TLDS
    assert {"co.uk", "gov.uk", "com.sg"} <= SUFFIXES
    assert registrable("login.paypal.co.uk") == "paypal.co.uk"
    assert registrable("gov.uk") == "gov.uk"
    assert public_suffix("a.b.example") == "example"


# --- every form of every listed domain --------------------------------------------------

_SWAPS = str.maketrans({"o": "0", "l": "1", "i": "1", "e": "3", "a": "4", "s": "5"})


def _name_and_suffix(domain: str) -> tuple[str, str]:
    suffix = public_suffix(domain)
    if suffix == domain:  # gov.uk, nhs.uk: a public suffix listed whole
        suffix = domain.split(".", 1)[1]
    return domain[: len(domain) - len(suffix) - 1], suffix


def form(domain: str, how: str, swap: bool) -> str:
    """``domain`` as a spammer writes it: ``how`` hides the dots, ``swap`` writes digits
    for letters in the name (never in the public suffix)."""
    name, suffix = _name_and_suffix(domain)
    if swap:
        name = name.translate(_SWAPS)
    d = f"{name}.{suffix}"
    tld = suffix.rsplit(".", 1)[-1]
    if how == "plain":
        return d
    if how == "upper":
        return d.upper()
    if how == "scheme":
        return f"https://{d}/verify"
    if how == "hxxp":
        return f"hxxps://{d}/verify"
    if how == "www":
        return f"www.{d}"
    if how in ("[.]", "(.)", "{.}", "(dot)", "[dot]"):
        return d.replace(".", how)
    if how == "dot":
        return d.replace(".", " dot ")
    if how == "spaced dot":
        return d.replace(".", " . ") if tld in SPACED_TLDS else d
    if how == "comma":
        return d.replace(".", ",") if tld in STRONG_TLDS else d
    if how == "spaced letters":
        return " ".join(d)
    if how == "zero width":
        return d[0] + "\u200b" + d[1:]
    if how == "full-width dot":
        return d.replace(".", "\uff0e")
    if how == "ideographic dot":
        return d.replace(".", "\u3002")
    raise AssertionError(how)


FORMS = ["plain", "upper", "scheme", "hxxp", "www", "[.]", "(.)", "{.}", "(dot)", "[dot]",
         "dot", "spaced dot", "comma", "spaced letters", "zero width", "full-width dot",
         "ideographic dot"]
CONTEXTS = [("{} ", ""), ("Your parcel is held, pay the fee at {} today", ""),
            ("URGENT: verify your account now: {}", ""), ("Visit {}, then reply", ""),
            ("Claim at {}!", ""), ("{}\nThanks", "")]


def urls_check(text: str) -> set[object]:
    return set(check(URLS, sms(NUMBERING, text)))


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(BLOCKED), st.sampled_from(FORMS), st.booleans(), st.sampled_from(CONTEXTS))
@example("evil-bank-login.example", "spaced letters", False, CONTEXTS[0])
@example("evil-bank-login.example", "comma", True, CONTEXTS[1])
def test_every_form_of_a_blocked_domain_hits(domain: str, how: str, swap: bool,
                                             context: tuple[str, str]) -> None:
    text = context[0].format(form(domain, how, swap))
    assert "url.blocked_domain" in urls_check(text), text


# a brand under another listed brand's domain (ofgem.gov.uk under gov.uk) has no
# look-alikes there: every host under gov.uk is the government's
_LOOKALIKE_BRANDS = [b for b in BRANDS if b not in SUFFIXES
                     and not any(b.endswith("." + other) for other in BRANDS)
                     and len(_name_and_suffix(b)[0].split(".")[-1]) >= 5
                     and _name_and_suffix(b)[0].translate(_SWAPS) != _name_and_suffix(b)[0]]


def _reads_bare(domain: str) -> bool:
    """Is ``domain`` a link with no scheme, www. or path? Bare names under a TLD that
    is also a word (``amzn.to``, ``spoti.fi``, ``octopus.energy``: brands' short and
    vanity domains, always sent with a path) are prose without a hyphen or a digit."""
    name, suffix = _name_and_suffix(domain)
    return suffix.rsplit(".", 1)[-1] in STRONG_TLDS or "." in suffix or any(
        c == "-" or c.isdigit() for c in name)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(BRANDS), st.sampled_from(FORMS), st.booleans(), st.sampled_from(CONTEXTS))
@example("sede.agenciatributaria.gob.es", "comma", False, ("{} ", ""))  # found 27 Nov
@example("sede.agenciatributaria.gob.es", "comma", True, ("{} ", ""))  # a label led by a digit
def test_every_form_of_a_brand_domain_is_a_link_to_it(domain: str, how: str, swap: bool,
                                                      context: tuple[str, str]) -> None:
    """Written any way, a brand's domain is read as a link to it: obfuscated forms of
    its own domain hit ``url.obfuscated``; digits for letters hit ``url.lookalike``."""
    assume(_reads_bare(domain) or how in ("scheme", "hxxp", "www"))
    text = context[0].format(form(domain, how, swap))
    hosts = [u.host for u in scan_urls(text)]
    name, suffix = _name_and_suffix(domain)
    written = (name.translate(_SWAPS) if swap else name) + "." + suffix
    assert hosts[-1:] == [written] or hosts[:1] == [written], (text, hosts)
    got = urls_check(text)
    if how not in ("plain", "upper", "scheme", "www") and \
            form(domain, how, swap) != form(domain, "plain", swap):
        assert "url.obfuscated" in got, text
    if swap and domain in _LOOKALIKE_BRANDS:
        assert "url.lookalike" in got, text


@pytest.mark.parametrize("text", ["see t.ly/abc", "go to s.id/x1", "tap https://t.ly/Ab3",
                                  "s[.]id/win", "claim at T.LY/free", "v.gd/xyz now"])
def test_shorteners(text: str) -> None:
    assert "url.shortener" in urls_check(text)


def test_every_listed_shortener_is_read_with_a_path() -> None:
    for d in SHORTENERS:
        assert [u.host for u in scan_urls(f"see {d}/a1B2")] == [d]


@pytest.mark.parametrize(("text", "host"), [
    ("go to parcel-redelivery.example now", "parcel-redelivery.example"),
    ("see secure-login.test", "secure-login.test"),
    ("pay at evil-bank,com", "evil-bank.com"),
    ("e v i l-bank.com", "evil-bank.com"),
    ("E V I L - B A N K . C O M", "evil-bank.com"),
    ("prize-draw.win", "prize-draw.win"),
    ("claim at my-prize.it", "my-prize.it"),
    ("www.parcel.delivery", "parcel.delivery"),
])
def test_valid_tlds_without_a_scheme(text: str, host: str) -> None:
    assert [u.host for u in scan_urls(text)] == [host]


# --- clean prose is not a link ------------------------------------------------------------

_WORDS = ["home", "ok", "so", "it", "now", "today", "love", "see", "you", "late", "done",
          "sorry", "work", "party", "fun", "live", "news", "world", "call", "me", "in",
          "to", "is", "at", "be", "no", "go", "win", "top", "shop", "online", "date",
          "bye", "thanks", "there", "soon", "tomorrow", "tonight", "then", "back", "all",
          "the", "and", "we", "are", "will", "cu", "night", "lunch", "care", "one"]
_CLEAN = st.one_of(
    st.sampled_from(_WORDS),
    st.sampled_from(_WORDS).map(str.title),
    st.builds("{}.{:02d}".format, st.integers(0, 999), st.integers(0, 99)),  # 3.50, 10.30
    st.sampled_from(["e.g.", "i.e.", "etc.", "a.m.", "p.m.", "U.S.", "Mr.", "Dr.", "St.",
                     "approx.", "vs.", "no.1", "v1.2", "ver.2.0", "£4.50", "$3.99", "4.5%",
                     "...", "1.", "!", "?", ","]),
)


@settings(max_examples=600, deadline=None)
@given(st.lists(st.tuples(_CLEAN, st.sampled_from([" ", ".", ". ", ", ", ",", "  ", "\n"])),
                max_size=14))
@example([("home", "."), ("it", " ")])
@example([("done", "."), ("today", " ")])
@example([("v1.2", "."), ("so", " ")])
@example([("v1.2", "."), ("home", "."), ("so", " ")])
@example([("I'm", " "), ("home", "."), ("Com", " ")])
def test_clean_prose_is_not_a_link(parts: list[tuple[str, str]]) -> None:
    text = "".join(w + sep for w, sep in parts)
    assert scan_urls(text) == (), text


@pytest.mark.parametrize("text", [
    "It costs 3.50, see you at 10.30", "e.g. the one on the left, i.e. this one",
    "I am home.See you at 5", "ok.so what now", "got home.now sleeping", "Mr.Smith called",
    "U.S.A. trip at 9 a.m.", "done.today was long", "apples,pears,plums", "yes,it is",
    "the file.zip and cv.doc", "meet at St.John's", "v2.0.1 is out",
])
def test_clean_texts(text: str) -> None:
    assert scan(text).urls == ()


# --- numbers, short codes, services in the same pass ------------------------------------


def test_one_pass_finds_all_kinds() -> None:
    sc = scan("WIN! txt CLAIM to 81010 or call 09061749602 or 118 811, see bit.ly/x")
    assert sc.domains == ("bit.ly",)
    assert sc.phones == ("09061749602",)
    assert sc.shortcodes == (ShortCode("81010", "CLAIM"),)
    assert sc.services == ()  # "or 118 811": not after a call verb
    assert scan("call 118 811 now").services == ("118811",)
    assert scan("please call us back urgently on 118 327 re your results").services == ("118327",)
    assert scan("call 0800 123 4567 or pop in, 118 327 high st").services == ()
    assert scan("").urls == () and scan(None).phones == ()


@pytest.mark.parametrize(("text", "hosts"), [
    ("Pay now at evil-bank.com. Your account is locked", ["evil-bank.com"]),
    ("Go to www.txt82228.com. Questions: call", ["txt82228.com"]),
    ("http://evil.com. Your parcel", ["evil.com"]),
    ("visit evil-bank.com,then pay", ["evil-bank.com"]),
    ("www . evil . co . uk", ["evil.co.uk"]),
    ("Goto http://doit. mymoby. tv/ to collect", ["doit.mymoby.tv"]),
    ("tell ur mates. www.getzed.co.uk pobox", ["getzed.co.uk"]),
    ("www.ldew.com1win150ppmx3age16", ["ldew.com1win150ppmx3age16"]),
    ("Visit Royal-Mail.Com to pay", ["royal-mail.com"]),  # title-cased, but hyphenated
    ("Evil-Bank.Com now", ["evil-bank.com"]),
    ("see you at home.Com on fri", []),
    ("thinking of U at least 4 a moment. Gd nt.swt drms", []),
    ("Tap to play: 45.140.17.206/voicemail", ["45.140.17.206"]),  # a bare IP with a path
    ("scored 3.50/4 and version 1.2.3/4", []),
    # a public body's site that is a public suffix too starts after the full stop
    ("Ref DC8821934. gov.uk/pay-dartford-crossing-charge", ["gov.uk"]),
    ("Queries: 01 738 3636. nhs.uk/conditions", ["nhs.uk"]),
    ("pay at evil. gov.uk", ["evil.gov.uk"]),  # no path: as written
    # a number at a sentence's end is no host ("TK": Vietnamese for an account)
    ("Lenh MUA 200 FPT da khop 200. TK 0001234567", []),
    # Hebrew's one-letter prefixes glued with a hyphen or maqaf are not the host's
    ("היכנסו ל-elal.com או לאפליקציה", ["elal.com"]),
    ("כנסו ב־leumi-verify.top עכשיו", ["leumi-verify.top"]),
    ("היכנסו ל-www.leumi.co.il/x", ["leumi.co.il"]),
    ("www.textpod.net now".translate({c: c + 0xFEE0 for c in range(0x21, 0x7F)}),
     ["textpod.net"]),  # full-width
])
def test_a_link_ends_where_its_sentence_does(text: str, hosts: list[str]) -> None:
    """A spaced dot or a comma after a link ends the sentence when what follows is no
    public suffix: the link before it is found, the next sentence is not its host."""
    assert [u.host for u in scan_urls(text)] == hosts


def test_templates_read_links_as_the_scanner_does() -> None:
    from gateway.content.normalize import template

    assert template("Pay at evil-bank.com. Your parcel") == "pay at  evil-bank.com . your parcel"
    assert template("tap https://x-pay.cfd/a?id=3 now") == "tap  x-pay.cfd  now"
    assert template("visit p\u0430ypal.com now") == "visit  paypal.com  now"
    assert template("see you at home.Com on fri") == "see you at home.com on fri"
    assert template("mail info@evil.com now") == "mail info@evil.com now"


@pytest.mark.parametrize(("text", "codes"), [
    # a keyword of several words: the first is kept
    ("Txt ur national team to 87077", (ShortCode("87077", "UR"),)),
    ("You can donate by texting DONATE to 864233", (ShortCode("864233", "DONATE"),)),
    ("Text the word WIN to 81010", (ShortCode("81010", "WIN"),)),
    # opt-out instructions are what legitimate senders write
    ("Reply STOP to 60000", ()),
    ("Text STOP to 81234 to opt out", ()),
    # four words between the verb and "to" are a sentence, not a keyword
    ("text me when you get to 85000 steps", ()),
    ("sending my love to 80000 fans", ()),
])
def test_short_codes(text: str, codes: tuple[ShortCode, ...]) -> None:
    assert scan(text).shortcodes == codes


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(["code. Do", "x.com", "hxxp://evil[.]com/a", "evil . com",
                                 "E v i l-bank.com", "3.50", "www.x.co.uk", "a,com", "ok.so",
                                 "me.so", "p\u0430ypal.com", "x\u200b.com/p", " ", ". ", ", ",
                                 "\n", "dot", "10.30"]), max_size=12))
def test_remembered_link_judgements_equal_fresh_ones(parts: list[str]) -> None:
    """``scan_urls`` remembers ``_url_of`` by the match's scheme, host and path flag and
    the text's hidden characters: the same links as judging every match afresh."""
    from gateway.content import scan as sc

    text = "".join(parts)
    sc._URL_MEMO.clear()
    first = sc.scan_urls(text)
    again = sc.scan_urls(text)  # every judgement remembered

    class Forgetful(dict):  # type: ignore[type-arg]
        def __setitem__(self, key: object, value: object) -> None:
            pass

    kept, sc._URL_MEMO = sc._URL_MEMO, Forgetful()  # every match judged afresh
    try:
        fresh = sc.scan_urls(text)
    finally:
        sc._URL_MEMO = kept
    assert first == again == fresh


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["Pay at evil-bank.com. Your", "https://x-pay.cfd/a?id=3", " ",
                                 "p\u0430ypal.com", "home.Com on", "e v i l-bank.com", "£5",
                                 "evil[.]com/x", "www.x.co.uk", "info@evil.com", "2024",
                                 "Mum,", "code 123456", ". ", "\n"]), max_size=10).map("".join))
def test_links_cut_once_read_as_cut_each_time(text: str) -> None:
    """The event's link pieces (cut once, ``Facts.link_pieces``) give the template and
    the campaign words that cutting the text afresh gives."""
    from gateway.content.facts import Facts
    from gateway.content.fingerprint import campaign_parts
    from gateway.content.normalize import template
    from gateway.engine.examples import event_from_fields
    from gateway.numbers import Numbering

    ev = event_from_fields({"src": "+447700900001", "dst": "+447700900123", "text": text},
                           Numbering("GB"), ts=1.0)
    f = Facts(ev)
    assert f.template() == template(text)
    urls = f.urls()
    assert campaign_parts(text, f.folded(), urls, f.link_pieces() if urls else None) == \
        campaign_parts(text)


@pytest.mark.parametrize(("text", "hosts"), [
    # a dot with white space on both sides ends no sentence: the whole host is the link
    ("verifica i tuoi dati: intesa-sicurezza . it-app . net", ["intesa-sicurezza.it-app.net"]),
    ("Bitte bestätigen: dhl-paket . de-zoll . com", ["dhl-paket.de-zoll.com"]),
    # a country code or a cheap TLD after such a dot; any TLD before a path
    ("vous avez droit: impots-remboursement . fr/dossier", ["impots-remboursement.fr"]),
    ("Anhören: mailbox-abrufen . de/v?8821", ["mailbox-abrufen.de"]),
    ("Listen: vm-inbox . co/l/8841 (copy into browser)", ["vm-inbox.co"]),
    # middle dots for dots; a country the suffix list names only by its second levels
    ("Click hdfcbnk-kyc\u00b7in/upd now", ["hdfcbnk-kyc.in"]),
    ("Claim: ofgem-rebate.co\u00b7uk", ["ofgem-rebate.co.uk"]),
    ("Reactivate: dstv-reactivate [.] co [.] za", ["dstv-reactivate.co.za"]),
    ("Visit www.fnb.co.za today", ["fnb.co.za"]),
    # prose keeps its spaced dots: a plain word under a country code is no link
    ("I went to the shop . it was closed", []),
    ("see you at 5 . me and Jo", []),
    ("rays. cloud later", []),
])
def test_spaced_and_dotlike_links(text: str, hosts: list[str]) -> None:
    urls = scan_urls(text)
    assert [u.host for u in urls] == hosts
    assert all(u.obfuscated for u in urls if "www." not in text)


@pytest.mark.parametrize(("text", "keywords"), [
    ("85233 FREE>Ringtone!Reply REAL", ("REAL",)),
    ("2 find out free, txt HORO followed by ur star sign", ("HORO",)),
    ("REPLY with NAME & AGE eg Sam 25", ("NAME",)),
    ("To bid, send BIDS e. g. 10 (to bid £10) to 83383", ("BIDS",)),
    ("Text 'LOVE' + ur star sign", ("LOVE",)),
    ("Text HEART to 70099 to give £5", ("HEART",)),  # found; a rule decides what it means
    ("Text your AGE followed by your GENDER", ("AGE",)),
    ("Please reply with your AGE and GENDER to begin", ("AGE",)),
    # opt-outs in their spellings, answers to a business's question, everyday words
    ("Reply STOP to opt out", ()),
    ("Stop? Send STOP to 62468", ()),
    ("To opt out of calls reply NOCALL", ()),
    ("unsub txt STOPSMS 2 89070", ()),
    ("Reply YES to confirm your appointment or reply C to cancel", ()),
    ("text ME when u get home", ()),
    ("text YOUR mum back", ()),
    ("reply asap, love", ()),  # lower case: people do not write keywords in capitals
    ("I'll text Harry later", ()),
])
def test_keywords_the_reader_is_told_to_text(text: str, keywords: tuple[str, ...]) -> None:
    assert scan(text).keywords == keywords
