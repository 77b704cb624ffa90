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


def test_route_labels_are_valid_utf8_and_bounded():
    from gateway.observe import OTHER_ROUTE

    stats = Stats(bucket=5.0, max_routes=3)
    ev = _event()
    ok = Verdict(Action.ALLOW, 0.0, (), "")
    import dataclasses

    for route in ("a", "b\udcff", "c\ud800", "d", "e", "a"):
        stats.record(dataclasses.replace(ev, route=route), ok)
    routes = {r: n for (r, _a), n in stats.routes.items()}
    assert routes.pop("a") == 2 and routes.pop("b\ufffd") == 1
    assert routes.pop(OTHER_ROUTE) == 2  # d and e: past max_routes
    ((c, n),) = routes.items()
    assert c.startswith("c\ufffd") and n == 1
    for (route, _action) in stats.routes:
        route.encode("utf-8")
    stats.close()


def test_log_limiter_and_url_redaction():
    from gateway.observe import LogLimiter, redact_url

    now = [0.0]
    lim = LogLimiter(10.0, clock=lambda: now[0])
    assert lim.allow("k") == 0
    assert lim.allow("k") is None and lim.allow("k") is None
    assert lim.allow("other") == 0
    now[0] = 10.5
    assert lim.allow("k") == 2
    assert redact_url("redis://:pw@10.0.0.1:6379/0") == "redis://:***@10.0.0.1:6379/0"
    assert redact_url("rediss://user:p4ss@h/1") == "rediss://user:***@h/1"
    assert redact_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"
