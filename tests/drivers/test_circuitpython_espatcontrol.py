"""Adafruit's CircuitPython ESP-AT driver (``adafruit_espatcontrol``, from PyPI,
unmodified) against the module over a pty, as it runs on a board with a
pyserial port for its UART (Blinka provides ``digitalio`` and ``micropython``).

The driver blocks on real time (``time.sleep``, ``time.monotonic``), so it runs
in a thread while the module runs in this event loop, or in an ``esp-at-sim``
process of its own.

Notes on the driver itself (not the module), so the session avoids them:
``remote_AP`` compares bytes with a str prefix, which CircuitPython accepts and
CPython rejects, so it is only called while not connected; the WiFi manager's
``ping`` passes a ``ttl`` the driver's ``ping`` does not take. Its socket has
``recv`` but no ``recv_into``, which is why the requests library is pinned to
the last release that falls back to ``recv``.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
import serial
from adafruit_espatcontrol import adafruit_espatcontrol_socket as espat_socket
from adafruit_espatcontrol.adafruit_espatcontrol import ESP_ATcontrol, OKError
from adafruit_espatcontrol.adafruit_espatcontrol_wifimanager import ESPAT_WiFiManager
from tests.drivers.board import (
    ResetLine,
    module_on_pty,
    peers,
    shared_interpreter,
    write_world,
)

pytestmark = pytest.mark.real_time

SECRETS = {"ssid": "esp-at-sim", "password": "espressif"}


def _http_over_socket(esp: ESP_ATcontrol, port: int) -> bytes:
    """The driver's own socket calls: CIPSTART, CIPSEND with its prompt, +IPD."""
    assert esp.socket_connect(ESP_ATcontrol.TYPE_TCP, "127.0.0.1", port)
    assert esp.status == ESP_ATcontrol.STATUS_SOCKETOPEN
    assert esp.socket_send(b"GET /hello HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n")
    got = b""
    deadline = time.monotonic() + 10
    while b"\r\n\r\n" not in got or not got.endswith(b"hello from aiohttp\n" * 40):
        assert time.monotonic() < deadline, got
        got += bytes(esp.socket_receive(timeout=2))
    esp.socket_disconnect()  # the server already closed: the driver accepts the ERROR
    return got


def _session(link: Path, http_port: int, udp_port: int, reset: ResetLine | None, full: bool = True) -> None:
    """One driver session over the whole API (``full``) or its main path; asserts
    what the driver reports."""
    uart = serial.Serial(str(link), 115200, timeout=1)
    try:
        esp = ESP_ATcontrol(uart, 115200, reset_pin=reset)  # type: ignore[arg-type]
        if reset is not None:
            esp.hard_reset()  # EN low then high: a power-on boot, "ready" again
            assert reset.resets == 1
        esp.begin()  # AT, ATE0, AT+UART_CUR, AT+GMR, AT+CIPMUX?, CIPSSLSIZE (ERROR) -> CIPSSLCCONF?, CWSTATE?
        assert esp.version is not None and esp.version.startswith("AT version:")
        assert esp.baudrate == 115200
        assert esp.soft_reset()  # AT+RST, waits for "ready"
        assert esp.sync()

        # station idle: CWSTATE 0 maps to the driver's status 1
        assert esp.status_wifi == 0
        assert esp.status == 1
        assert esp.remote_AP == [None] * 4
        assert esp.mode == ESP_ATcontrol.MODE_STATION
        if full:
            esp.mode = ESP_ATcontrol.MODE_SOFTAPSTATION
            assert esp.mode == ESP_ATcontrol.MODE_SOFTAPSTATION

        aps = esp.scan_APs()  # puts the module back in station mode first
        assert aps is not None
        by_ssid = {ap[1]: ap for ap in aps}
        assert by_ssid["esp-at-sim"][:5] == [3, "esp-at-sim", -55, "aa:bb:cc:00:00:01", 6]
        assert by_ssid["esp-at-sim-open"][0] == 0
        assert esp.mode == ESP_ATcontrol.MODE_STATION

        if full:
            with pytest.raises(OKError):  # +CWJAP:2 then ERROR
                esp.join_AP("esp-at-sim", "not-the-password", timeout=20, retries=1)
            assert esp.status_wifi == ESP_ATcontrol.STATUS_WIFI_DISCONNECTED
            assert esp.status == ESP_ATcontrol.STATUS_NOTCONNECTED
            assert not esp.is_connected

        esp.connect(SECRETS, timeout=20)  # remote_AP, join_AP: WIFI CONNECTED, WIFI GOT IP
        assert esp.is_connected
        assert esp.status == ESP_ATcontrol.STATUS_APCONNECTED
        ip = esp.local_ip
        assert ip is not None and ip.startswith("192.168.1.")
        assert esp.nslookup("example.test") == "127.0.0.1"
        assert isinstance(esp.ping("127.0.0.1"), int)

        reply = _http_over_socket(esp, http_port)
        assert reply.startswith(b"HTTP/1.1 200 OK\r\n")
        assert esp.status == ESP_ATcontrol.STATUS_APCONNECTED

        if full:
            # UDP: the driver connects with keepalive 10 as the fourth field (the local port)
            assert esp.socket_connect(ESP_ATcontrol.TYPE_UDP, "127.0.0.1", udp_port)
            assert esp.socket_send(b"ping")
            assert bytes(esp.socket_receive(timeout=3)) == b"echo:ping"
            esp.socket_disconnect()

        # the requests-style helper: getaddrinfo (CIPDOMAIN), connect, send, recv
        manager = ESPAT_WiFiManager(esp, SECRETS)
        response = manager.get(f"http://example.test:{http_port}/hello")
        assert response.status_code == 200
        assert response.text == "hello from aiohttp\n" * 40
        response.close()
        if full:
            response = manager.post(f"http://example.test:{http_port}/json", json={"sensor": 21.5})
            assert response.status_code == 200
            assert json.loads(response.text)["got"] == {"sensor": 21.5}
            response.close()

            esp.sntp_config(True, 0, "127.0.0.1")
            when = esp.sntp_time
            assert when is not None and when[:3] in {b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat", b"Sun"}

        esp.disconnect()  # AT+CWQAP and WIFI DISCONNECT
        assert esp.status == ESP_ATcontrol.STATUS_NOTCONNECTED

        if full and reset is not None:
            assert esp.deep_sleep(60_000)  # a minute of deep sleep: the UART is silent
            uart.reset_input_buffer()
            uart.write(b"AT\r\n")
            uart.timeout = 0.5
            assert uart.read(64) == b""
            esp.factory_reset()  # hard reset, then AT+RESTORE
            assert reset.resets == 2
            assert esp.mode == ESP_ATcontrol.MODE_STATION  # begin() again after the restore's reboot
            assert esp.status == 1
    finally:
        espat_socket.set_interface(None)  # type: ignore[arg-type]
        uart.close()


async def test_driver_against_a_module_in_this_process(tmp_path: Path) -> None:
    link = tmp_path / "esp.pty"
    async with peers() as (http_port, udp_port), module_on_pty(write_world(tmp_path), link) as module:
        reset = ResetLine(module, asyncio.get_running_loop())
        with shared_interpreter():
            await asyncio.to_thread(_session, link, http_port, udp_port, reset)
