"""The audit log: one JSON line per non-ALLOW verdict, as the structlog chain renders it."""

import json
import re

from gateway.model import Action, Channel, Direction, Event, Verdict
from gateway.numbers import Numbering
from gateway.observe import Stats


def _event() -> Event:
    n = Numbering("GB")
    return Event(channel=Channel.SMS, direction=Direction.IN, src=n.from_smpp("MyBank", 5, 0),
                 dst=n.from_smpp("447700900123", 1, 1), text="hi \"there\" \u00e9\u4e2d",
                 route="esme-1", ts=1.0)


def test_audit_line_is_the_structlog_line(tmp_path):
    path = tmp_path / "audit.jsonl"
    stats = Stats(str(path))
    ev = _event()
    v = Verdict(Action.BLOCK, 12.5, ("phishing_link", "bad \"sender\""), "reason \u00e9 \u2603")
    stats.record(ev, Verdict(Action.ALLOW, 0.0, ("allow_rule",), "ok"))  # no line
    stats.record(ev, v)
    # the same fields through the structlog chain ``record`` used to log with
    stats.audit.warning(
        "verdict", action=v.action.value, score=v.score, rules=list(v.rules),
        reason=v.reason, channel=ev.channel.value, direction=ev.direction.value,
        src=str(ev.src), dst=str(ev.dst), route=ev.route, phase=ev.phase.value,
    )
    stats.close()
    direct, chain = path.read_text().splitlines()
    strip = [json.loads(x) for x in (direct, chain)]
    assert list(strip[0]) == list(strip[1])  # same keys, same order
    stamp = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")
    assert stamp.fullmatch(strip[0].pop("timestamp"))
    assert stamp.fullmatch(strip[1].pop("timestamp"))
    assert strip[0] == strip[1]
    cut = [x[:x.index('"timestamp"')] for x in (direct, chain)]
    assert cut[0] == cut[1]  # byte for byte up to the timestamp
    assert direct.endswith('Z"}') and chain.endswith('Z"}')
