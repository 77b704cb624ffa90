"""Releasing a quarantined message sends it to the SMSC, end to end with real sockets
and processes: smpplib as the ESME, ``python -m gateway run`` (SMPP proxy, admin
API, quarantine), ``spamgw smsc-sim`` as the SMSC.

A message from a blocked sender is answered 0x65 and kept; ``POST
/v1/quarantine/{id}/release`` sends it through the ESME's bound session; the
simulator receives exactly the bytes smpplib wrote (the sequence number aside); the
SMSC's submit_sm_resp is the gateway's (recorded on the row), never the ESME's. With
no session of that system_id bound, the answer says so (503) and nothing is sent or
lost: released again once the ESME binds, it goes.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import smpplib.client
import smpplib.consts
import smpplib.smpp
from smpp_support import ADMIN_TOKEN, Sim, free_port, gateway_config, gateway_process, start_sim

BLOCKED_SRC, DST = "447700900666", "447700900456"


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[Sim]:
    s = start_sim(tmp_path / "sim.jsonl")
    try:
        yield s
    finally:
        s.stop()


def api(port: int, method: str, path: str) -> tuple[int, Any]:
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                 data=b"{}" if method == "POST" else None,
                                 headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def bind(port: int) -> smpplib.client.Client:
    client = smpplib.client.Client("127.0.0.1", port, timeout=10,
                                   allow_unknown_opt_params=True)
    client.connect()
    client.bind_transceiver(system_id="acme", password="secret")
    return client


def submit(client: smpplib.client.Client, text: str) -> bytes:
    """A UCS2 submit_sm from the blocked sender, as smpplib writes it; its 0x65."""
    pdu = smpplib.smpp.make_pdu(
        "submit_sm", client=client, source_addr_ton=1, source_addr_npi=1,
        source_addr=BLOCKED_SRC, dest_addr_ton=1, dest_addr_npi=1, destination_addr=DST,
        data_coding=smpplib.consts.SMPP_ENCODING_ISO10646, registered_delivery=1,
        short_message=text.encode("utf-16-be"))
    raw = pdu.generate()
    client.send_pdu(pdu)
    resp = client.read_pdu()
    assert (resp.command, resp.status) == ("submit_sm_resp", 0x65)
    return bytes(raw)


def quarantined(admin: int, count: int) -> list[dict[str, Any]]:
    """The quarantine's rows for the blocked sender, once ``count`` are written
    (the writer runs every half second)."""
    for _ in range(500):
        status, body = api(admin, "GET", f"/v1/quarantine?src=%2B{BLOCKED_SRC}")
        assert status == 200, body
        if len(body["items"]) >= count:
            return sorted(body["items"], key=lambda r: r["id"])
        time.sleep(0.02)
    raise AssertionError("the blocked messages were not quarantined")


def test_release_sends_the_held_bytes_through_a_bound_session(sim: Sim, tmp_path: Path) -> None:
    port, admin = free_port(), free_port()
    config = gateway_config(tmp_path / "spamgw.toml", port, sim.port, admin_port=admin)
    with gateway_process(config, port):
        client = bind(port)
        first = submit(client, "Réunion à 10 h — ok?")
        second = submit(client, "second held message")
        one, two = quarantined(admin, 2)
        assert one["held"] and not one["resubmitted"] and one["route"] == "acme"
        assert sim.records("received") == []

        status, body = api(admin, "POST", f"/v1/quarantine/{one['id']}/release")
        assert status == 200, body
        assert body["outcome"] == "resubmitted" and body["system_id"] == "acme"
        ((part),) = body["parts"]
        assert part["command_status"] == 0 and part["message_id"]
        (got,) = sim.wait_for("received", 1)
        raw = bytes.fromhex(got["pdu"])
        assert raw[:12] + raw[16:] == first[:12] + first[16:]  # byte for byte
        assert got["message_id"] == part["message_id"]

        # the SMSC's answer went to the gateway: the ESME's next PDU is its own answer
        client.send_pdu(smpplib.smpp.make_pdu("enquire_link", client=client))
        assert client.read_pdu().command == "enquire_link_resp"
        status, row = api(admin, "GET", f"/v1/quarantine/{one['id']}")
        assert part["message_id"] in row["resubmitted"]
        status, body = api(admin, "POST", f"/v1/quarantine/{one['id']}/release")
        assert status == 409  # not twice

        # no session of acme bound: said so, nothing sent, nothing marked
        client.unbind()
        client.disconnect()
        for _ in range(500):
            status, body = api(admin, "POST", f"/v1/quarantine/{two['id']}/release")
            if status == 503:
                break
            time.sleep(0.02)  # the gateway may not have seen the unbind yet
        assert status == 503 and "acme" in body["error"], body
        assert len(sim.records("received")) == 1
        assert not api(admin, "GET", f"/v1/quarantine/{two['id']}")[1]["resubmitted"]

        # acme binds again: the same release goes
        client = bind(port)
        status, body = api(admin, "POST", f"/v1/quarantine/{two['id']}/release")
        assert status == 200 and body["outcome"] == "resubmitted", body
        raw = bytes.fromhex(sim.wait_for("received", 2)[1]["pdu"])
        assert raw[:12] + raw[16:] == second[:12] + second[16:]
        client.unbind()
        client.disconnect()


def test_a_quarantine_written_before_release_existed_opens_and_gains_its_columns(
        tmp_path: Path) -> None:
    import sqlite3

    from gateway.config import QuarantineConfig
    from gateway.quarantine import Quarantine

    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as db:  # the table as the previous version made it
        db.execute("CREATE TABLE quarantine (id INTEGER PRIMARY KEY AUTOINCREMENT, ts REAL "
                   "NOT NULL, direction TEXT, src TEXT, src_kind TEXT, dst TEXT, route TEXT, "
                   "text TEXT, score REAL, rules TEXT, reason TEXT, released TEXT)")
        db.execute("INSERT INTO quarantine (ts, src, rules) VALUES (1.0, '+447700900666', "
                   "'r1')")
    q = Quarantine(QuarantineConfig(path=str(path)))
    q.open()
    try:
        (row,) = q.search()
        assert (row["src"], row["held"], row["resubmitted"]) == ("+447700900666", False, None)
        assert q.held(row["id"]) is None
    finally:
        q.close()
