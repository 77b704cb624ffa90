"""The live dashboard in a real headless Chromium (Debian's, via selenium): it asks
for the token, loads, shows counts that move when traffic is sent, logs no console
errors, and leaves a screenshot in test-artifacts/dashboard.png."""

from __future__ import annotations

import asyncio
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from admin_support import AUTH, TOKEN, new_site
from aiohttp import ClientSession, web

from gateway.admin.app import make_app
from gateway.app import build_core

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
DRIVER = "/usr/bin/chromedriver"

pytestmark = pytest.mark.skipif(not (Path(CHROMIUM).exists() and Path(DRIVER).exists()),
                                reason="Debian chromium and chromium-driver are needed")


class Server:
    """The admin app on a loopback port, in a thread with its own event loop."""

    def __init__(self, tmp: Path) -> None:
        self.core = build_core(new_site(tmp).config())
        self.loop = asyncio.new_event_loop()
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(20)

    async def _start(self) -> None:
        self._runner = web.AppRunner(make_app(self.core), handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    def send(self, n: int, blocked: int) -> None:
        async def go() -> None:
            async with ClientSession() as s:
                for i in range(n):
                    src = "+447700900666" if i < blocked else f"+4477009005{i % 100:02d}"
                    async with s.post(f"http://127.0.0.1:{self.port}/v1/check/sms",
                                      json={"src": src, "dst": "+447700900123", "text": "hi",
                                            "route": "acme-intl" if i % 3 else "bulk1"},
                                      headers=AUTH) as r:
                        assert r.status == 200
        asyncio.run_coroutine_threadsafe(go(), self.loop).result(30)

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self.loop).result(20)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    srv = Server(tmp_path)
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                f"--user-data-dir={tmp_path / 'chromium-profile'}", "--window-size=1600,1000"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(tmp_path / "chromium-profile", ignore_errors=True)


def test_dashboard_shows_live_counts(server: Server, browser: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, 20)
    browser.get(f"http://127.0.0.1:{server.port}/")
    wait.until(ec.visibility_of_element_located((By.ID, "token")))  # asks for the token
    browser.find_element(By.ID, "token").send_keys(TOKEN)
    browser.find_element(By.CSS_SELECTOR, "#login-form button").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "status"), "live"))
    assert browser.execute_script("return sessionStorage.getItem('spamgw.token')") == TOKEN
    wait.until(ec.text_to_be_present_in_element((By.ID, "version"),
                                                server.core.engine.ruleset.version))
    assert browser.find_element(By.ID, "k-events").text == "0"

    server.send(40, blocked=7)
    wait.until(ec.text_to_be_present_in_element((By.ID, "k-events"), "40"))
    wait.until(ec.text_to_be_present_in_element((By.ID, "k-block"), "7"))
    server.send(20, blocked=5)
    wait.until(ec.text_to_be_present_in_element((By.ID, "k-events"), "60"))
    wait.until(ec.text_to_be_present_in_element((By.ID, "k-block"), "12"))
    rules = browser.find_element(By.ID, "rules").text
    assert "list.blocked_source" in rules
    assert "acme-intl" in browser.find_element(By.ID, "routes").text
    assert "GB" in browser.find_element(By.ID, "sources").text
    assert browser.find_elements(By.CSS_SELECTOR, "#chart path")

    out = REPO / "test-artifacts"
    out.mkdir(exist_ok=True)
    browser.save_screenshot(str(out / "dashboard.png"))
    errors = [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
    assert errors == []

    browser.refresh()  # the token is kept for the session: no second prompt
    wait.until(ec.text_to_be_present_in_element((By.ID, "status"), "live"))
    assert not browser.find_element(By.ID, "login").is_displayed()
