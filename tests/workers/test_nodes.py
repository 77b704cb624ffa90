"""Two nodes (``spamgw run``, one process each, lists and rules dirs of their own)
sharing one Redis: a list edit or a rules change accepted by one is applied by the
other through the change stream, journaled there too, and a node that was down when
it happened catches up when it starts."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from workers_support import (
    BLOCKED,
    ESME_RX_R_APPN,
    LIST_RULE,
    Host,
    journal_lines,
    running_host,
    submit,
)

from gateway.engine.loader import parse_rules_dir

LATE = "447700900777"


def entries(node: Host) -> float:
    return next(v for lab, v in node.samples("spamgw_list_entries")
                if lab["list"] == "blocked_numbers")


def listed(node: Host, number: str) -> bool:
    status, body = node.http("GET", f"/v1/lists/blocked_numbers/%2B{number}")
    assert status == 200, body
    return bool(json.loads(body)["listed"])


def version(node: Host) -> str:
    return node.samples("spamgw_ruleset_info")[0][0]["version"]


def test_changes_on_one_node_reach_the_other(tmp_path: Path, any_redis_url: str, sim: int
                                             ) -> None:
    """On one redis-server and on a Redis Cluster."""
    redis_url = any_redis_url
    prefix = f"n{uuid.uuid4().hex[:8]}:"
    with running_host(tmp_path / "a", redis_url, sim, workers=1, prefix=prefix) as a, \
            running_host(tmp_path / "b", redis_url, sim, workers=1, prefix=prefix) as b:
        assert submit(b.smpp, BLOCKED) == 0
        status, body = a.http("POST", "/v1/lists/blocked_numbers", {"add": [f"+{BLOCKED}"]})
        assert status == 200, body
        b.wait_for("A's edit on B", lambda: entries(b) == 2)
        assert submit(b.smpp, BLOCKED) == ESME_RX_R_APPN
        # each node's journal has it once: A made it, B wrote down what it applied
        assert len(journal_lines(a.root, BLOCKED)) == len(journal_lines(b.root, BLOCKED)) == 1

        # the same rule file lands on both nodes; a reload on A is applied on B
        for node in (a, b):
            (node.root / "rules" / "extra.toml").write_text(
                LIST_RULE.replace("test.blocked_source", "test.extra"))
        status, body = a.http("POST", "/v1/rules/reload")
        assert status == 200, body
        new = json.loads(body)["version"]
        assert new == parse_rules_dir(b.root / "rules")[2]
        b.wait_for("A's rules on B", lambda: version(b) == new)

        # B goes down; A removes the number meanwhile; B catches up when it starts
        assert b.stop() == 0
        status, body = a.http("POST", "/v1/lists/blocked_numbers",
                              {"add": [f"+{LATE}"], "remove": [f"+{BLOCKED}"]})
        assert status == 200, body
    with running_host(tmp_path / "b", redis_url, sim, workers=1, prefix=prefix) as b:
        b.wait_for("the changes B missed", lambda: listed(b, LATE))
        assert not listed(b, BLOCKED) and entries(b) == 2
        assert submit(b.smpp, BLOCKED) == 0
        assert submit(b.smpp, LATE) == ESME_RX_R_APPN
        assert journal_lines(b.root, LATE)
