"""The sans-IO engine on its own: bytes in, events and bytes out."""

from __future__ import annotations

from esp_at_sim.at.engine import AtEngine
from esp_at_sim.at.events import (
    BadLine,
    BusyRejected,
    CommandLine,
    DataReceived,
    Final,
    Info,
    PassthroughData,
    PassthroughExit,
    Prompt,
    Result,
)
from esp_at_sim.at.state import EngineState


def test_line_echo_and_command_event() -> None:
    e = AtEngine()
    assert e.receive_data(b"AT+GMR\r\n", 0.0) == b"AT+GMR\r\n"
    assert e.events() == [CommandLine(b"AT+GMR")]
    assert e.state is EngineState.EXECUTING
    assert e.send(Final()) == b"\r\nOK\r\n"
    assert e.state is EngineState.COMMAND


def test_line_split_across_chunks_and_no_echo() -> None:
    e = AtEngine(echo=False)
    assert e.receive_data(b"AT+C", 0.0) == b""
    assert e.receive_data(b"WMODE?\r", 0.0) == b""
    assert e.events() == []
    assert e.receive_data(b"\n", 0.0) == b""
    assert e.events() == [CommandLine(b"AT+CWMODE?")]


def test_busy_while_executing() -> None:
    e = AtEngine(echo=False)
    out = e.receive_data(b"AT\r\nAT\r\n", 0.0)
    assert out == b"\r\nbusy p...\r\n"
    evs = e.events()
    assert evs == [CommandLine(b"AT"), BusyRejected(b"AT\r\n")]


def test_busy_with_syslog_has_err_code() -> None:
    e = AtEngine(echo=False, syslog=True)
    e.receive_data(b"AT+GMR\r\n", 0.0)
    assert e.receive_data(b" ", 0.1) == b"ERR CODE:0x010b0000\r\n\r\nbusy p...\r\n"


def test_line_without_cr_is_bad() -> None:
    e = AtEngine(echo=False)
    e.receive_data(b"AT\n", 0.0)
    assert e.events() == [BadLine(b"AT", "no_terminator")]


def test_overlong_line() -> None:
    e = AtEngine(echo=False, max_line=16)
    e.receive_data(b"AT+" + b"X" * 40, 0.0)
    assert e.events() == []
    e.receive_data(b"\r\n", 0.0)
    assert e.events() == [BadLine(b"", "too_long")]
    e.send(Final(Result.ERROR))
    e.receive_data(b"AT\r\n", 0.0)
    assert e.events() == [CommandLine(b"AT")]


def test_error_rendering() -> None:
    e = AtEngine()
    e.receive_data(b"AT+FAKE\r\n", 0.0)
    assert e.send(Final(Result.ERROR, 0x01090000)) == b"\r\nERROR\r\n"
    e.syslog = True
    e.receive_data(b"AT+FAKE\r\n", 0.0)
    assert e.send(Final(Result.ERROR, 0x01090000)) == b"ERR CODE:0x01090000\r\n\r\nERROR\r\n"


def test_info_rendering() -> None:
    e = AtEngine()
    assert e.send(Info("+CWMODE", (1,))) == b"+CWMODE:1\r\n"
    assert e.send(Info("+CMD", (0, "AT", 0))) == b'+CMD:0,"AT",0\r\n'


def test_counted_data_exact_length_and_leftover_becomes_next_command() -> None:
    e = AtEngine(echo=False)
    e.receive_data(b"AT+CIPSEND=5\r\n", 0.0)
    e.events()
    assert e.send(Prompt(5)) == b"\r\nOK\r\n\r\n>"
    assert e.state is EngineState.DATA
    assert e.receive_data(b"hel", 1.0) == b""
    assert e.events() == []
    e.receive_data(b"loAT\r\n", 1.0)
    assert e.events() == [DataReceived(b"hello")]
    assert e.state is EngineState.EXECUTING
    # the command ends: the bytes behind the payload are parsed now
    e.send(Final(Result.SEND_OK))
    assert e.events() == [CommandLine(b"AT")]


def test_counted_data_takes_crlf_and_plus_as_data() -> None:
    e = AtEngine(echo=False)
    e.receive_data(b"AT+CIPSEND=6\r\n", 0.0)
    e.events()
    e.send(Prompt(6))
    e.receive_data(b"a+\r\n+b", 0.0)
    assert e.events() == [DataReceived(b"a+\r\n+b")]


def test_cipsendex_zero_terminates_and_escapes() -> None:
    e = AtEngine(echo=False)
    e.receive_data(b"AT+CIPSENDEX=100\r\n", 0.0)
    e.events()
    e.send(Prompt(100, zero_terminates=True))
    e.receive_data(b"a\\\\b\\,c\\0tail", 0.0)
    assert e.events() == [DataReceived(b"a\\b,c", complete=False)]


def test_plus_cancels_data_mode_after_guard() -> None:
    e = AtEngine(echo=False)
    e.receive_data(b"AT+CIPSEND=10\r\n", 0.0)
    e.events()
    e.send(Prompt(10))
    e.receive_data(b"+++", 1.0)
    assert e.events() == []
    assert e.next_deadline() == 1.0 + e.guard
    e.tick(1.01)
    assert e.events() == []
    e.tick(1.03)
    assert e.events() == [DataReceived(b"", complete=False, cancelled=True)]


def _passthrough() -> AtEngine:
    e = AtEngine(echo=False)
    e.receive_data(b"AT+CIPSEND\r\n", 0.0)
    e.events()
    assert e.send(Prompt(passthrough=True)) == b"\r\nOK\r\n\r\n>"
    assert e.state is EngineState.PASSTHROUGH
    return e


def test_passthrough_forwards_everything() -> None:
    e = _passthrough()
    payload = bytes(range(256))
    e.receive_data(payload, 0.5)
    data = b"".join(ev.data for ev in e.events() if isinstance(ev, PassthroughData))
    assert data == payload


def test_plus_with_guard_exits_passthrough() -> None:
    e = _passthrough()
    e.receive_data(b"data", 0.5)
    e.events()
    e.receive_data(b"+++", 1.0)
    assert e.events() == []
    e.tick(1.0 + e.guard)
    assert e.events() == [PassthroughExit()]
    assert e.state is EngineState.COMMAND


def test_plus_without_guard_is_data() -> None:
    e = _passthrough()
    e.receive_data(b"x", 1.0)
    e.receive_data(b"+++", 1.005)  # less than the guard after the previous byte
    e.tick(2.0)
    evs = e.events()
    assert PassthroughExit() not in evs
    assert b"".join(ev.data for ev in evs if isinstance(ev, PassthroughData)) == b"x+++"


def test_plus_followed_by_data_is_data() -> None:
    e = _passthrough()
    e.receive_data(b"+++", 1.0)
    e.receive_data(b"y", 1.01)
    evs = e.events()
    assert b"".join(ev.data for ev in evs if isinstance(ev, PassthroughData)) == b"+++y"
    assert e.state is EngineState.PASSTHROUGH


def test_plus_inside_packet_is_data() -> None:
    e = _passthrough()
    e.receive_data(b"ab+++", 1.0)
    e.tick(2.0)
    evs = e.events()
    assert b"".join(ev.data for ev in evs if isinstance(ev, PassthroughData)) == b"ab+++"


def test_plus_split_over_packets_within_guard_exits() -> None:
    e = _passthrough()
    e.receive_data(b"+", 1.0)
    e.receive_data(b"+", 1.005)
    e.receive_data(b"+", 1.010)
    e.tick(1.031)
    assert e.events() == [PassthroughExit()]


def test_power_off_drops_input() -> None:
    e = AtEngine()
    e.power_off()
    assert e.receive_data(b"AT\r\n", 0.0) == b""
    assert e.events() == []
    e.power_on()
    assert e.receive_data(b"AT\r\n", 0.0) == b"AT\r\n"
