"""The web dashboard end to end in real headless Chromium: a module appears, AT gets OK, faults show."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from esp_at_sim.world_runner import WorldRunner
from headless_chromium import CHROMIUM, FLAGS

from .conftest import in_thread, start_runner, two_modules

DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"

pytestmark = [
    pytest.mark.skipif(
        not (os.access(CHROMIUM, os.X_OK) and os.access(DRIVER, os.X_OK)),
        reason="chromium and chromium-driver are not installed (make test installs them with apt where it can)",
    ),
    pytest.mark.real_time,  # the browser is another process
]


@pytest.fixture
def browser() -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="esp-at-sim-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in [*FLAGS, "--window-size=1400,1000", f"--user-data-dir={profile}"]:
        opts.add_argument(flag)
    driver = webdriver.Chrome(options=opts, service=Service(DRIVER))
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
async def world() -> AsyncIterator[WorldRunner]:
    runner = await start_runner(two_modules(access_point=[{"ssid": "lab", "password": "password123"}]))
    try:
        yield runner
    finally:
        await runner.stop()


def until(driver: Any, what: Callable[[Any], Any], timeout: float = 15) -> Any:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    # the page re-renders a card's panels on every event: an element found a moment
    # ago may be replaced before its text is read, so such a probe just retries
    return WebDriverWait(driver, timeout, ignored_exceptions=(StaleElementReferenceException,)).until(what)


def shoot(driver: Any, name: str, tmp_path: Path) -> None:
    driver.save_screenshot(str(tmp_path / f"{name}.png"))
    keep = os.environ.get("ESP_AT_SIM_SCREENSHOTS")  # e.g. docs/, to refresh the README picture
    if keep:
        driver.save_screenshot(str(Path(keep) / f"{name}.png"))


async def test_dashboard_shows_modules_sends_at_and_injects_faults(
    world: WorldRunner, browser: Any, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    server = world.control_server

    def open_page() -> None:
        browser.get(server.dashboard_url)
        until(browser, lambda d: d.find_element(By.CSS_SELECTOR, "#status.online"))
        until(browser, lambda d: d.find_element(By.CSS_SELECTOR, "article.module[data-name=esp0]"))
        until(browser, lambda d: d.find_element(By.CSS_SELECTOR, "article.module[data-name=esp1]"))

    await in_thread(open_page)
    card = "article.module[data-name=esp0]"

    def send(line: str, expect: str, timeout: float = 15) -> str:
        box = browser.find_element(By.CSS_SELECTOR, f"{card} .send-input")
        box.send_keys(line)
        browser.find_element(By.CSS_SELECTOR, f"{card} .send-button").click()
        return until(
            browser, lambda d: expect in (t := d.find_element(By.CSS_SELECTOR, f"{card} .uart-log").text) and t, timeout
        )

    log_text = await in_thread(send, "AT+GMR", "OK")
    assert ">> AT+GMR\\r\\n" in log_text
    assert "Bin version:" in log_text
    # the bytes really went through the module's UART
    from esp_at_sim.world.uart_log import UartLogs

    assert b"AT+GMR\r\n" in world.world.extension(UartLogs).log("esp0").text("in")

    def state_panels() -> str:
        until(browser, lambda d: d.find_element(By.CSS_SELECTOR, f"{card} .section-heap"))
        return str(browser.find_element(By.CSS_SELECTOR, f"{card} .state-panels").text)

    panels = await in_thread(state_panels)
    assert "heap" in panels and "module" in panels

    # join the scenario's access point from the page, then take it down with the fault button
    await in_thread(send, "AT+CWMODE=1", "<< AT+CWMODE=1\\r\\n")
    await in_thread(send, 'AT+CWJAP="lab","password123"', "WIFI GOT IP", 40)

    def wifi_panel() -> str:
        return until(
            browser, lambda d: "lab" in (t := d.find_element(By.CSS_SELECTOR, f"{card} .section-wifi").text) and t
        )

    assert "ssid lab" in await in_thread(wifi_panel)
    await in_thread(shoot, browser, "dashboard", tmp_path)

    def ap_down() -> str:
        browser.find_element(By.CSS_SELECTOR, f"{card} button[data-fault=ap_down]").click()
        return until(
            browser,
            lambda d: "WIFI DISCONNECT" in (t := d.find_element(By.CSS_SELECTOR, f"{card} .uart-log").text) and t,
            40,
        )

    assert "WIFI DISCONNECT" in await in_thread(ap_down)

    def filter_log() -> str:
        f = browser.find_element(By.CSS_SELECTOR, f"{card} .uart-filter")
        f.clear()
        f.send_keys("Bin version")
        return str(browser.find_element(By.CSS_SELECTOR, f"{card} .uart-log").text)

    filtered = await in_thread(filter_log)
    assert "Bin version" in filtered and "SDK version" not in filtered

    def watchdog() -> None:
        browser.find_element(By.CSS_SELECTOR, "article.module[data-name=esp1] button[data-reason=watchdog]").click()

    await in_thread(watchdog)
    await world.ports["esp1"].module.wait_ready()
    assert world.ports["esp1"].module.boot_reason == "watchdog"

    def see_reboot() -> None:
        sel = "article.module[data-name=esp1]"
        browser.find_element(By.CSS_SELECTOR, f"{sel} .show-log").click()
        until(browser, lambda d: "task_wdt" in d.find_element(By.CSS_SELECTOR, f"{sel} .uart-log").text)

    await in_thread(see_reboot)
    await in_thread(shoot, browser, "dashboard-watchdog", tmp_path)
