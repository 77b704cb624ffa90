"""Reloading list files: SIGHUP on a real gateway process, and the reload itself on a
core (changed files only, journal on top, a bad file refused with its line and the
running lists kept); compaction in a child process keeping changes made meanwhile."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway.app import Core, build_core
from gateway.config import Config, parse_config
from gateway.lists.journal import parse_entry
from gateway.lists.reload import ReloadRefused, reload_lists
from gateway.services import apply_change
from gateway.testing.config import write_config

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "test-token-lists-0123"


def _site(tmp: Path) -> tuple[Path, Path]:
    rules = tmp / "rules"
    shutil.copytree(ROOT / "rules", rules, ignore=shutil.ignore_patterns("*.nset", "*.journal"))
    (tmp / "no-plugins").mkdir()
    return rules, rules / "lists"


def _config(tmp: Path, rules: Path) -> Config:
    return parse_config({
        "admin": {"token": TOKEN, "listen": "127.0.0.1:0"},
        "smpp": {"enabled": False}, "agi": {"enabled": False},
        "rules": {"dir": str(rules)}, "lists": {"dir": str(rules / "lists")},
        "plugins": {"dir": str(tmp / "no-plugins"), "missing_symbols": "disable"},
        "quarantine": {"path": str(tmp / "q.sqlite3")},
        "log": {"level": "error", "audit": str(tmp / "audit.jsonl")},
    })


def _listed(core: Core, name: str, number: str) -> bool:
    ns = core.lists.numbers(name)
    assert ns is not None
    return core.numbering.parse(number).key in ns


def _touch_later(path: Path) -> None:
    """Make a rewrite visible to an mtime check however fast the test runs."""
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))


async def test_reload_reads_changed_files_and_keeps_journal_changes(tmp_path: Path) -> None:
    rules, lists = _site(tmp_path)
    core = build_core(_config(tmp_path, rules))
    held = core.lists.numbers("blocked_numbers")  # what the compiled rules hold
    before = core.engine.ruleset.version
    add = [parse_entry("numbers", "+447700900111")]
    await apply_change(core, "blocked_numbers", add, [], None)  # journaled

    txt = lists / "blocked_numbers.txt"
    txt.write_text(txt.read_text() + "+447700900222\n+4477009008*\n")
    _touch_later(txt)
    result = await reload_lists(core, trigger="test")
    assert result["changed"] == ["blocked_numbers"]
    assert core.lists.numbers("blocked_numbers") is held  # same object, new content
    for number in ("+447700900222", "+447700900855", "+447700900111", "+447700900666"):
        assert _listed(core, "blocked_numbers", number), number
    assert (lists / "blocked_numbers.nset").exists()  # compiled by the child process
    assert core.engine.ruleset.version == before  # same rules: same version
    verdict = core.engine.evaluate(_sms(core, "+447700900222"))
    assert verdict.action.name == "BLOCK"

    # nothing changed: nothing read again
    assert (await reload_lists(core, trigger="test"))["changed"] == []


async def test_bad_file_is_refused_with_its_line_and_running_lists_stay(tmp_path: Path
                                                                        ) -> None:
    rules, lists = _site(tmp_path)
    core = build_core(_config(tmp_path, rules))
    txt = lists / "blocked_numbers.txt"
    txt.write_text(txt.read_text() + "+447700900333\n+44770090x\n")
    _touch_later(txt)
    with pytest.raises(ReloadRefused) as info:
        await reload_lists(core, trigger="test")
    assert any(e.startswith(f"{txt}:8: ") for e in info.value.errors), info.value.errors
    assert not _listed(core, "blocked_numbers", "+447700900333")
    assert _listed(core, "blocked_numbers", "+447700900666")
    # fixed: the next reload takes it
    txt.write_text(txt.read_text().replace("+44770090x\n", ""))
    _touch_later(txt)
    await reload_lists(core, trigger="test")
    assert _listed(core, "blocked_numbers", "+447700900333")


async def test_compaction_keeps_changes_made_while_it_runs(tmp_path: Path) -> None:
    rules, lists = _site(tmp_path)
    core = build_core(_config(tmp_path, rules))
    first = [parse_entry("numbers", f"+4479{i:08d}") for i in range(2000)]
    await apply_change(core, "blocked_numbers", first, [], None)
    task = core.changes.compact("blocked_numbers", core.list_lock)
    import asyncio

    running = asyncio.ensure_future(task)
    await asyncio.sleep(0.05)  # the child is folding
    await apply_change(core, "blocked_numbers", [parse_entry("numbers", "+447800000001")],
                       [], None)
    result = await running
    assert result["appended"] == 2000
    journal = (lists / "blocked_numbers.journal").read_text().splitlines()
    assert [json.loads(x)["entries"] for x in journal] == [["+447800000001"]]
    assert "+447900001999" in (lists / "blocked_numbers.txt").read_text()
    again = build_core(_config(tmp_path, rules))
    assert _listed(again, "blocked_numbers", "+447800000001")
    assert _listed(again, "blocked_numbers", "+447900001999")


def _sms(core: Core, src: str) -> Any:
    from gateway.engine.examples import event_from_fields
    from gateway.model import Channel

    del Channel
    return event_from_fields({"src": src, "dst": "+447700900123", "text": "hello"},
                             core.numbering, channel="sms", direction="in")


# -- a real gateway process --------------------------------------------------------


class _Gateway:
    def __init__(self, tmp: Path, rules: Path) -> None:
        self.log = tmp / "gateway.log"
        self.config = write_config(
            tmp / "spamgw.toml", admin={"listen": "127.0.0.1:0", "token": TOKEN},
            smpp={"enabled": False}, agi={"enabled": False},
            rules={"dir": rules}, lists={"dir": rules / "lists"},
            plugins={"dir": tmp / "no-plugins", "missing_symbols": "disable"},
            quarantine={"path": tmp / "q.sqlite3"}, log={"format": "json"})
        with self.log.open("w") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "gateway", "run", "--config", str(self.config)],
                cwd=ROOT, stderr=out, stdout=subprocess.DEVNULL)
        self.port = int(self.wait_for('"admin listening"')["port"])

    def wait_for(self, text: str, timeout: float = 30) -> dict[str, Any]:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for line in self.log.read_text().splitlines():
                if text in line:
                    out: dict[str, Any] = json.loads(line)
                    return out
            assert self.proc.poll() is None, self.log.read_text()
            time.sleep(0.05)
        raise AssertionError(f"no {text} in {self.log.read_text()}")

    def lookup(self, name: str, number: str) -> dict[str, Any]:
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}/v1/lists/{name}/{number}",
                                     headers={"Authorization": f"Bearer {TOKEN}"})
        with urllib.request.urlopen(req, timeout=10) as r:
            out: dict[str, Any] = json.loads(r.read())
            return out


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[tuple[_Gateway, Path]]:
    rules, lists = _site(tmp_path)
    gw = _Gateway(tmp_path, rules)
    try:
        yield gw, lists
    finally:
        gw.proc.send_signal(signal.SIGTERM)
        gw.proc.wait(timeout=20)


def test_list_file_edited_on_disk_is_live_after_sighup(gateway: tuple[_Gateway, Path]) -> None:
    gw, lists = gateway
    assert not gw.lookup("blocked_numbers", "+447700900444")["listed"]
    txt = lists / "blocked_numbers.txt"
    txt.write_text(txt.read_text() + "+447700900444\n")
    _touch_later(txt)
    gw.proc.send_signal(signal.SIGHUP)
    gw.wait_for('"lists reloaded"')
    hit = gw.lookup("blocked_numbers", "+447700900444")
    assert (hit["listed"], hit["match"]) == (True, "exact")

    # a bad line: refused, named, and the running list stays
    txt.write_text(txt.read_text() + "+4477oops\n")
    _touch_later(txt)
    gw.proc.send_signal(signal.SIGHUP)
    refused = gw.wait_for('"reload refused')
    assert f"{txt}:8:" in refused["error"]
    assert gw.lookup("blocked_numbers", "+447700900444")["listed"]


async def test_reload_endpoint_answers_changes_and_refusals(tmp_path: Path) -> None:
    from aiohttp.test_utils import TestClient, TestServer

    from gateway.admin.app import make_app

    rules, lists = _site(tmp_path)
    core = build_core(_config(tmp_path, rules))
    auth = {"Authorization": f"Bearer {TOKEN}"}
    async with TestClient(TestServer(make_app(core))) as client:
        txt = lists / "blocked_senders.txt"
        txt.write_text(txt.read_text() + "NEWSCAM\n")
        _touch_later(txt)
        r = await client.post("/v1/lists/reload", headers=auth)
        out = await r.json()
        assert r.status == 200 and out["changed"] == ["blocked_senders"], out
        senders = core.lists.strings("blocked_senders")
        assert senders is not None and "newscam" in senders
        (lists / "new_numbers.txt").write_text("+447700900999\nnot a number\n")
        r = await client.post("/v1/lists/reload", headers=auth)
        out = await r.json()
        assert r.status == 422 and out["errors"] == [
            f"{lists / 'new_numbers.txt'}:2: 'not a number' is not a number entry: expected "
            "+E.164, +prefix* or a short code"], out
        assert core.lists.get("new_numbers") is None
