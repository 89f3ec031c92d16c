"""The CLI's byte log reads line by line whatever pieces the bytes come in."""

from __future__ import annotations

import asyncio

from esp_at_sim.cli._bytelog import PARTIAL_AFTER, ByteLog


def _log() -> tuple[ByteLog, list[str]]:
    seen: list[str] = []
    return ByteLog(lambda stamp, module, kind, text: seen.append(f"{module} {kind} {text}"), None), seen


async def test_a_host_writing_byte_by_byte_reads_as_one_line() -> None:
    log, seen = _log()
    for b in b"AT+GMR\r\n":
        log.record("esp0", "in", bytes([b]))
    assert seen == ["esp0 >> AT+GMR\\r\\n"]


async def test_results_keep_their_leading_blank_line_and_prompts_show_up() -> None:
    log, seen = _log()
    log.record("esp0", "out", b"AT+CIPSEND=4\r\n\r\nOK\r\n\r\n>")
    assert seen == ["esp0 << AT+CIPSEND=4\\r\\n", "esp0 << \\r\\nOK\\r\\n"]
    await asyncio.sleep(PARTIAL_AFTER * 3)
    assert seen[-1] == "esp0 << \\r\\n>"
    log.record("esp0", "in", b"\x00\xff\\")
    log.flush()
    assert seen[-1] == "esp0 >> \\x00\\xff\\\\"


async def test_the_other_direction_flushes_a_partial_line() -> None:
    log, seen = _log()
    log.record("esp0", "out", b"\r\nbusy p")
    log.record("esp0", "in", b"AT\r\n")
    assert seen == ["esp0 << \\r\\nbusy p", "esp0 >> AT\\r\\n"]
