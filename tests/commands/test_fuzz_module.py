"""A whole module under random input, spoken to the way a host does.

The host writes one line at a time (in random pieces) and waits for its
result. Lines are Basic-chapter commands with random, often broken,
parameters, garbage, overlong lines and stray ``+++``. Whatever comes:

* exactly one result line (``OK`` or ``ERROR``) per line, nothing else final;
* no handler raises (an exception would be logged and answered ``ERROR``);
* the same lines cut into different pieces give the same bytes back;
* the module still answers ``AT`` at the end.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from commands.fuzzing import LoggedErrors, fuzz_settings, one_result, run_on_virtual_time
from esp_at_sim import Module

FAST = fuzz_settings(200)
SLOW = fuzz_settings(3000)

# commands that neither reboot, sleep, prompt for data, change the UART or filter output
NAMES = [
    "",
    "+GMR",
    "+CMD",
    "+SYSLOG",
    "+SYSSTORE",
    "+SYSMSG",
    "+SYSRAM",
    "+SYSTIMESTAMP",
    "+SLEEP",
    "+SLEEPWKCFG",
    "+RFPOWER",
    "+RFCAL",
    "+TRANSINTVL",
    "+SAVETRANSLINK",
    "+SYSTEMP",
    "+SYSFLASH",
    "+SYSMFG",
    "+USERRAM",
    "+USERDOCS",
    "+USERMCUSLEEP",
    "+SYSMSGFILTERCFG",
    "+NOSUCH",
    "+",
]
# parameter atoms, good and bad
ATOMS = [
    "0",
    "1",
    "2",
    "3",
    "-1",
    "65536",
    "4294967296",
    "0x1800",
    "",
    '"factory_param"',
    '"module_name"',
    '"fs_storage"',
    '"mfg_nvs"',
    '"unterminated',
    '"es\\"cape"',
    '"a\\,b"',
    "\\",
    '""',
    "x",
    "1.5",
    "+++",
]
# forms whose parameters could open a data prompt are kept out: SYSMFG and SYSFLASH
# writes (operation 2 / 1), USERRAM writes (2), filter add/delete (1 / 2)
_PROMPTS = {"+SYSMFG": ("2",), "+SYSFLASH": ("1",), "+USERRAM": ("2",), "+SYSMSGFILTERCFG": ("1", "2")}


@st.composite
def command_line(draw: st.DrawFn) -> bytes:
    name = draw(st.sampled_from(NAMES))
    form = draw(st.sampled_from(["", "?", "=?", "="]))
    text = "AT" + name + form
    if form == "=":
        params = draw(st.lists(st.sampled_from(ATOMS), max_size=6))
        blocked = _PROMPTS.get(name, ())
        if params and params[0] in blocked:
            params[0] = "0" if name != "+SYSFLASH" else "2"
        text += ",".join(params)
    return text.encode()


garbage = st.binary(max_size=60).map(lambda b: b.replace(b"\n", b""))
line = st.one_of(
    command_line(),
    command_line(),
    garbage,
    st.just(b"+++"),
    st.integers(min_value=250, max_value=400).map(lambda n: b"AT+GMR=" + b"1" * n),
    st.sampled_from([b"at", b"AT\r", b"ATE", b"ATE2"]),
)
body = st.lists(line, min_size=1, max_size=12)
cuts = st.lists(st.integers(min_value=0, max_value=500), max_size=8)


def pieces_of(data: bytes, at: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in at} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points) if b > a]


async def converse(lines: list[bytes], at: list[int]) -> list[bytes]:
    """Send each line (cut at ``at``), wait for its result; returns what each produced."""
    replies = []
    async with Module.start("esp32c3", name="fuzz") as m:
        h = m.host
        await h.command("ATE0")
        for ln in lines:
            for piece in pieces_of(ln + b"\r\n", at):
                await h.write(piece)
            replies.append(await one_result(h, ln, timeout=30))
        await h.expect_silence(0.5)
        assert (await h.command("AT")).raw == b"\r\nOK\r\n"
    return replies


def check(lines: list[bytes], a: list[int], b: list[int], errors: LoggedErrors) -> None:
    first = run_on_virtual_time(converse(lines, a))
    second = run_on_virtual_time(converse(lines, b))
    assert first == second
    assert not errors.records, [r.getMessage() for r in errors.records]


@FAST
@given(body, cuts, cuts)
def test_every_line_gets_one_result(
    logged_errors: LoggedErrors, lines: list[bytes], a: list[int], b: list[int]
) -> None:
    check(lines, a, b, logged_errors)


@pytest.mark.slow
@SLOW
@given(body, cuts, cuts)
def test_every_line_gets_one_result_long(
    logged_errors: LoggedErrors, lines: list[bytes], a: list[int], b: list[int]
) -> None:
    check(lines, a, b, logged_errors)
