"""Testing the driver in esp_driver.py against esp-at-sim with its pytest plugin.

Run: pytest examples/host_driver   (the plugin comes with the esp-at-sim package)
"""

from __future__ import annotations

import pytest
from esp_driver import AtError, EspAtDriver

pytestmark = pytest.mark.esp_scenario("world.toml")


@pytest.fixture
def driver(esp_module):
    with EspAtDriver(esp_module.port) as drv:
        yield drv


def test_ping_and_version(driver):
    assert driver.ping()
    assert driver.version().startswith("4.")


def test_join_gets_an_address(driver):
    ip = driver.join("office", "correct horse")
    assert ip.startswith("192.168.1.")
    assert "WIFI GOT IP" in driver.events


def test_wrong_password_is_reported_with_its_code(driver):
    with pytest.raises(AtError) as err:
        driver.join("office", "wrong password")
    assert err.value.code == 2  # +CWJAP:2 - wrong password


def test_driver_notices_the_access_point_going_down(driver, esp_world):
    driver.join("office", "correct horse")
    esp_world.inject("ap_down", ssid="office")
    driver.wait_event("WIFI DISCONNECT", timeout=15)


def test_driver_retries_while_the_module_is_busy(driver, esp_world):
    esp_world.inject("uart_stuck", module="esp0", duration=0.5)
    assert driver.version()  # answered "busy p..." first, then retried


def test_a_reset_of_the_module_is_survived(driver, esp_world, esp_module):
    esp_world.inject("module_reset", module="esp0", reason="brownout")
    driver.wait_event("ready", timeout=10)
    assert driver.ping()
    assert "Brownout" in esp_module.transcript()


@pytest.mark.esp_scenario({"module": [{"name": "wroom", "chip": "esp32", "generation": 3}]})
def test_another_chip_and_firmware_generation(esp_module):
    assert esp_module.name == "wroom"
    assert esp_module.module.generation == 3
    with EspAtDriver(esp_module.port) as drv:
        assert drv.chip() == "ESP32"


def test_the_host_helper_sets_up_state_for_the_driver(esp_module, driver):
    assert esp_module.host.command("ATE0").ok  # the driver must cope without echo
    assert driver.ping()


def test_long_waits_take_no_time_on_virtual_time(driver, esp_clock):
    before = esp_clock.now()
    esp_clock.sleep(3600)  # an hour of world time
    assert esp_clock.now() - before >= 3600
    assert driver.ping()
