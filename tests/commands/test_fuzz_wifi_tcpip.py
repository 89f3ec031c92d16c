"""Wi-Fi and TCP/IP commands under random, often broken, parameters, in a world with
access points: every line gets exactly one result, no handler raises, and the module
still answers ``AT`` at the end. (The Basic chapter has its own, test_fuzz_module.py.)
Commands that open a data prompt (AT+CIPSEND...) are left out."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.wifi.support import default_world

from commands.fuzzing import LoggedErrors, fuzz_settings, one_result, run_on_virtual_time
from esp_at_sim import Module

FAST = fuzz_settings(40)
SLOW = fuzz_settings(1500)

NAMES = [
    *[
        "+CWINIT",
        "+CWMODE",
        "+CWBANDWIDTH",
        "+CWSTATE",
        "+CWCONFIG",
        "+CWJAP",
        "+CWRECONNCFG",
        "+CWLAPOPT",
        "+CWLAP",
        "+CWQAP",
    ],
    *[
        "+CWSAP",
        "+CWLIF",
        "+CWQIF",
        "+CWDHCP",
        "+CWDHCPS",
        "+CWAUTOCONN",
        "+CWAPPROTO",
        "+CWSTAPROTO",
        "+CIPSTAMAC",
        "+CIPAPMAC",
    ],
    *[
        "+CIPSTA",
        "+CIPAP",
        "+CWSTARTSMART",
        "+CWSTOPSMART",
        "+WPS",
        "+CWJEAP",
        "+CWHOSTNAME",
        "+CWCOUNTRY",
        "+CWBANDMODE",
    ],
    *[
        "+CIPV6",
        "+CIPSTATE",
        "+CIPSTATUS",
        "+CIPDOMAIN",
        "+CIPSTART",
        "+CIPSTARTEX",
        "+CIPCLOSE",
        "+CIPCONNPERSIST",
        "+CIFSR",
    ],
    *[
        "+CIPMUX",
        "+CIPSERVER",
        "+CIPSERVERMAXCONN",
        "+CIPSTO",
        "+CIPSNTPCFG",
        "+CIPSNTPTIME",
        "+CIPSNTPINTV",
        "+CIPDINFO",
    ],
    *["+CIPSSLCCONF", "+CIPSSLCCIPHER", "+CIPSSLCCN", "+CIPSSLCSNI", "+CIPSSLCALPN", "+CIPSSLCPSK", "+CIPSSLCPSKHEX"],
    *["+CIPRECONNINTV", "+CIPRECVTYPE", "+CIPRECVMODE", "+CIPRECVDATA", "+CIPRECVLEN", "+PING", "+CIPDNS", "+MDNS"],
    *["+CIPTCPOPT", "+CIPSENDLCFG", "+CWJAP_CUR", "+CWMODE_DEF", "+CWSAP_CUR", "+CIPSTA_DEF", "+CWDHCP_CUR"],
]
ATOMS = [
    *["0", "1", "2", "3", "5", "-1", "255", "65536", "4294967296", "0x1F", "1.5", "x", "-129", "7200"],
    "",
    '""',
    '"esp-at-sim"',
    '"espressif"',
    '"esp-at-sim-open"',
    '"TCP"',
    '"UDP"',
    '"SSL"',
    '"127.0.0.1"',
    '"192.168.4.1"',
    '"255.255.255.0"',
    '"::1"',
    '"aa:bb:cc:00:00:01"',
    '"zz:zz"',
    '"US"',
    '"unterminated',
    '"a\\,b"',
    '"_tcp"',
    '"' + "a" * 70 + '"',
]


@st.composite
def command_line(draw: st.DrawFn) -> bytes:
    text = "AT" + draw(st.sampled_from(NAMES)) + (form := draw(st.sampled_from(["", "?", "=?", "=", "="])))
    if form == "=":
        text += ",".join(draw(st.lists(st.sampled_from(ATOMS), max_size=8)))
    return text.encode()


body = st.tuples(st.sampled_from(["esp32c3", "esp32", "esp32c5", "esp8266"]), st.lists(command_line(), max_size=10))


async def converse(chip: str, lines: list[bytes], errors: LoggedErrors) -> None:
    async with Module.start(chip, world=default_world(), name="fuzz") as m:
        h = m.host
        await h.command("ATE0")
        for ln in lines:
            await h.write(ln + b"\r\n")
            await one_result(h, ln, timeout=300)
            assert not errors.records, (ln, [r.getMessage() for r in errors.records])
        assert (await h.command("AT", timeout=60)).final == b"OK"


def check(case: tuple[str, list[bytes]], errors: LoggedErrors) -> None:
    run_on_virtual_time(converse(*case, errors))


@FAST
@given(body)
def test_every_wifi_and_tcpip_line_gets_one_result(logged_errors: LoggedErrors, case: tuple[str, list[bytes]]) -> None:
    check(case, logged_errors)


@pytest.mark.slow
@SLOW
@given(body)
def test_every_wifi_and_tcpip_line_gets_one_result_long(
    logged_errors: LoggedErrors, case: tuple[str, list[bytes]]
) -> None:
    check(case, logged_errors)
