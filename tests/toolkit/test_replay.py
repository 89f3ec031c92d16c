"""Record a UART session, replay it against a fresh module, convert plain serial logs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from esp_at_sim.errors import ConfigError
from esp_at_sim.replay import Chunk, Transcript, convert_log, load, loads, replay, unescape
from esp_at_sim.testing import AtHost

from .conftest import start_runner, two_modules


async def record_session(tmp_path: Path) -> Path:
    runner = await start_runner(two_modules(), control=False, record_dir=tmp_path)
    try:
        host = await AtHost.open_pty(runner.ports["esp0"].inner.path)  # type: ignore[attr-defined]
        try:
            assert (await host.command("AT")).ok
            assert (await host.command("AT+GMR")).ok
            assert (await host.command("AT+BOGUS")).final == b"ERROR"
            await host.command("ATE0")
            assert (await host.command("AT")).raw == b"\r\nOK\r\n"
        finally:
            host.close()
    finally:
        await runner.stop()
    return tmp_path / "esp0.jsonl"


@pytest.mark.real_time
async def test_recorded_session_replays_cleanly(tmp_path: Path) -> None:
    path = await record_session(tmp_path)
    lines = path.read_text().splitlines()
    header = json.loads(lines[0])
    assert header["transcript"] == "esp-at-sim" and header["chip"] == "esp32c3"
    tr = load(path)
    uart = [c for c in tr.chunks if c.direction != "log"]
    assert uart[0] == Chunk(uart[0].t, "out", b"\r\nready\r\n")
    assert any(c.direction == "log" and c.data.startswith(b"ESP-ROM:") for c in tr.chunks)
    result = await replay(tr)
    assert result.ok, result.divergence and result.divergence.report()
    assert result.lines_compared > 8


@pytest.mark.real_time
async def test_first_divergence_is_reported_with_context(tmp_path: Path) -> None:
    tr = load(await record_session(tmp_path))
    # pretend the board answered AT+BOGUS with OK
    for i, c in enumerate(tr.chunks):
        if c.direction == "out" and b"ERROR" in c.data:
            tr.chunks[i] = Chunk(c.t, "out", c.data.replace(b"ERROR", b"OK"))
            break
    result = await replay(tr)
    div = result.divergence
    assert div is not None
    assert div.expected == b"OK\r\n" and div.got == b"ERROR\r\n"
    assert div.last_sent == b"AT+BOGUS\r\n"
    report = div.report()
    assert "after the host sent: AT+BOGUS\\r\\n" in report
    assert "<< AT+BOGUS\\r\\n" in report and "Bin version" in report
    assert div.t > 0 and f"near t={div.t:.3f}s" in report


async def test_ignore_patterns_mask_what_may_differ() -> None:
    tr = convert_log(">> AT+SYSRAM?\\r\\n\n<< AT+SYSRAM?\\r\\n+SYSRAM:123,456\\r\\n\\r\\nOK\\r\\n\n")
    assert not (await replay(tr)).ok
    assert (await replay(tr, ignore=[r"\d+,\d+"])).ok


async def test_missing_output_is_a_divergence() -> None:
    tr = convert_log(">> AT\\r\\n\n<< AT\\r\\n\\r\\nOK\\r\\n\n<< WIFI CONNECTED\n")
    result = await replay(tr, timeout=2)
    assert result.divergence is not None
    assert result.divergence.reason == "expected output did not come"
    assert result.divergence.expected == b"WIFI CONNECTED\r\n"


async def test_extra_output_is_a_divergence() -> None:
    tr = convert_log(">> AT+GMR\\r\\n\n<< AT+GMR\\r\\n\n")
    result = await replay(tr)
    assert result.divergence is not None
    assert "extra output" in result.divergence.reason or result.divergence.got.startswith(b"AT version")


def test_marker_log_format() -> None:
    log = """\
# captured on a DevKitC
10:00:01.100 esp0 >> AT\\r\\n
10:00:01.102 esp0 << AT\\r\\n\\r\\nOK\\r\\n
[10:00:02.500] >> AT+CIPSEND=0,3
<< >
>> abc\\x00
<< \\r\\nRecv 3 bytes\\r\\n
random line from the log port
"""
    tr = convert_log(log)
    assert [(c.direction, c.data) for c in tr.chunks] == [
        ("in", b"AT\r\n"),
        ("out", b"AT\r\n\r\nOK\r\n"),
        ("in", b"AT+CIPSEND=0,3\r\n"),
        ("out", b">\r\n"),
        ("in", b"abc\x00"),
        ("out", b"\r\nRecv 3 bytes\r\n"),
    ]
    assert tr.chunks[1].t == pytest.approx(0.002)
    assert tr.chunks[2].t == pytest.approx(1.4)


async def test_raw_echoed_capture_replays() -> None:
    capture = "AT\r\n\r\nOK\r\nAT+GMR\r\nAT version:4.1.1.0(32ff6e1 - ESP32C3 - Nov 18 2025 10:23:15)\r\n"
    tr = convert_log(capture, "raw")
    assert tr.chunks[0] == Chunk(0.0, "in", b"AT\r\n")
    assert [c.data for c in tr.chunks if c.direction == "in"] == [b"AT\r\n", b"AT+GMR\r\n"]
    # the capture stops mid-reply: everything it has must match
    result = await replay(tr, settle=0)
    assert result.divergence is None or "extra output" in result.divergence.reason


def test_transcript_roundtrip_and_errors(tmp_path: Path) -> None:
    tr = Transcript({"chip": "esp32"}, [Chunk(0.5, "in", b"AT\r\n"), Chunk(0.6, "out", b"\xff\r\n")])
    p = tmp_path / "t.jsonl"
    tr.save(p)
    back = load(p)
    assert back.chunks == tr.chunks and back.header["chip"] == "esp32"
    assert loads('{"t": 1, "dir": "in", "text": "AT\\\\r\\\\n"}').chunks[0].data == b"AT\r\n"
    assert unescape("a\\x41\\\\b\\r") == b"aA\\b\r"
    for bad, msg in [
        ("{nope", "not JSON"),
        ('{"dir": "up", "hex": ""}', "dir"),
        ('{"dir": "in", "hex": "zz"}', "bad hex"),
        ('{"dir": "in"}', "hex or text"),
    ]:
        with pytest.raises(ConfigError, match=msg):
            loads(bad)
    with pytest.raises(ConfigError, match="no >> or <<"):
        convert_log("hello", "markers")
