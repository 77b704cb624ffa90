"""A link's domain that wears the sender's name with words added
(``gateway.content.urls.names_sender``, the rules' ``url_names_sender``): the
impersonator's domain, unless the name is itself hyphenated, the domain a public
body's, or the brand list's."""

import textwrap
from pathlib import Path

import pytest

from gateway.content.urls import names_sender, sender_names
from gateway.engine import Engine
from gateway.engine.examples import event_from_fields
from gateway.engine.loader import load_ruleset
from gateway.engine.schema import RuleErrors
from gateway.lists.registry import load_lists
from gateway.model import Action
from gateway.numbers import Numbering
from gateway.state.memory import MemoryCounters

GB = Numbering("GB")


@pytest.mark.parametrize(("sender", "text", "names"), [
    ("Boots", "Boots Pharmacy: pay the fee", ("boots", "bootspharmacy")),
    ("", "TUI: Only 2 left!", ("tui",)),
    ("", "Reminder: your appointment", ()),  # a word that names no sender
    ("", "see https://x.example/a", ()),  # a scheme's colon is no name
    ("HM", "hi there", ()),  # too short to be a name
    ("Kwik-Fit", "", ("kwikfit",)),
])
def test_the_names_a_message_goes_by(sender: str, text: str, names: tuple[str, ...]) -> None:
    assert sender_names(sender, text) == names


@pytest.mark.parametrize(("names", "host", "hit"), [
    (("boots",), "boots-prescription.com", "boots"),
    (("boots",), "www.boots-prescription.com", "boots"),
    (("dpd",), "dpduk-driver.com", "dpd"),  # the name glued to the first word
    (("avanti", "avantiwestcoast"), "delay-repay-avanti.com", "avanti"),
    (("boots",), "boots.com", None),  # the name alone: no words added
    (("kwikfit", "kwik"), "kwik-fit.com", None),  # the name, hyphenated
    (("national", "nationallottery"), "national-lottery.co.uk", None),
    (("brighton",), "brighton-hove.gov.uk", None),  # a public body's domain
    (("boots",), "prescription-help.com", None),  # another name
    (("boots",), "bootsy-collins.com", None),  # a longer word is not the name
    # the name in front of someone else's hyphenated domain
    (("cgd",), "cgd-acesso.pt-seguro.info", "cgd"),
    (("vipps",), "vipps-sikkerhet.no-id.com", "vipps"),
    (("vipps",), "login.vipps-sikkerhet.no-id.com", "vipps"),
    (("vipps",), "vipps.no-id.com", None),  # a label with no words added
    (("boots",), "boots-rx.pharmacy.com", None),  # a one-word domain: a vendor's
    (("boots",), "offers.boots-sale.example-mail.com", "boots"),
    (("boots",), "news-boots.example.com", None),
    # a country's code bought as a domain under another ending, the name in front of it
    (("orange",), "orange-esim-activation.fr.cm", "orange"),
    (("iam", "maroc"), "iam-pass-roaming.ma.store", "iam"),
    (("bt",), "bt-sport.bt.com", None),  # the name's own short domain
    (("orange",), "orange.fr.cm", None),  # a label with no words added
])
def test_a_domain_wears_the_name(names: tuple[str, ...], host: str, hit: str | None) -> None:
    assert names_sender(names, host) == hit


def _engine(tmp_path: Path, rules: str, brands: str = "") -> Engine:
    d = tmp_path / "rules"
    d.mkdir(exist_ok=True)
    (d / "r.toml").write_text(textwrap.dedent(rules))
    (tmp_path / "lists").mkdir(exist_ok=True)
    (tmp_path / "lists" / "brand_domains.txt").write_text(brands)
    lists = load_lists(tmp_path / "lists", GB)
    return Engine(load_ruleset(d, lists=lists, state=MemoryCounters()),
                  emergency=lists.emergency, numbering=GB)


RULE = """
[[rule]]
id = "x.name_host"
channel = "sms"
when.url_names_sender = "brand_domains"
action = "BLOCK"
"""


@pytest.mark.parametrize(("sender", "text", "action"), [
    ("Boots", "Pay the £9.90 fee: boots-prescription.com", Action.BLOCK),
    ("+447700900001", "Boots Pharmacy: pay the fee at boots-prescription.com", Action.BLOCK),
    ("+447700900001", "Pay the fee at boots-prescription.com", Action.ALLOW),  # no name
    ("CanadaPost", "Your parcel: canadapost-postescanada.ca", Action.ALLOW),  # listed
    ("Boots", "Your order is ready: boots.com/orders", Action.ALLOW),
])
def test_the_predicate(tmp_path: Path, sender: str, text: str, action: Action) -> None:
    engine = _engine(tmp_path, RULE, "canadapost-postescanada.ca\nboots.com\n")
    ev = event_from_fields({"src": sender, "dst": "+447700900123", "text": text}, GB)
    assert engine.evaluate(ev).action is action


def test_a_list_that_is_no_domain_list_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "lists").mkdir()
    (tmp_path / "lists" / "blocked_numbers.txt").write_text("+447700900999\n")
    with pytest.raises(RuleErrors) as e:
        _engine(tmp_path, RULE.replace('"brand_domains"', '"blocked_numbers"'))
    assert "r.toml:5: x.name_host" in str(e.value)
    assert "not a domain list" in str(e.value)
