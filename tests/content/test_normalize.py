"""``normalize.fold``, ``template`` and ``squeeze`` are the shipped classifier's feature
definition: their outputs are held to what the model was trained on. A change here
changes the model's features; retrain (``spamgw train``) and update the digest on
purpose, never by accident. (Link recognition lives in ``gateway.content.scan``;
``normalize``'s URL-to-domain step is part of the feature definition, not a link
detector, and does not follow the scanner.)"""

from __future__ import annotations

import hashlib

from content_support import DATA

from gateway.content.normalize import fold, squeeze, template

EXTRA = [
    "WINNER!! txt CLAIM to 81010 http://Bit.LY/x1 £900",
    "Visit hxxp://evil[.]com now",
    "p\u0430ypal.com/login \u200b",
    "\uff26\uff32\uff25\uff25 \uff43\uff41\uff4c\uff4c 0906 174 9602",  # full-width
    "e v i l-bank,com",
    "www.prize-draw.co.uk/claim?x=1 10.30 3.50 e.g.",
]
#: sha256 of every text's fold, template, template with fold given, squeeze(fold)
# links are the scanner's (gateway.content.scan): "hxxp://evil[.]com" and
# "e v i l-bank,com" are hosts in templates now
DIGEST = "5aca4e38053f645a81ef0479cfacbe5a6269061a65c6f3e04609edd4ad843d56"


def test_classifier_features_unchanged() -> None:
    texts = [line for line in (DATA / "ham_200.txt").read_text(encoding="utf-8").splitlines()
             if not line.startswith("#")]
    h = hashlib.sha256()
    for t in texts + EXTRA:
        f = fold(t)
        h.update((f + "\0" + template(t) + "\0" + template(t, f) + "\0" + squeeze(f) + "\n")
                 .encode("utf-8", "surrogatepass"))
    assert h.hexdigest() == DIGEST


def test_examples() -> None:
    assert template("Visit http://Secure.Example.com/x?y=1 by 10.30") == \
        "visit  secure.example.com  by 0.0"
    assert squeeze(fold("F R E E  £5!")) == "free£5"
