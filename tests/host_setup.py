"""Putting a module's UART the way a test reads it best."""

from __future__ import annotations

from esp_at_sim import Module


async def quiet(m: Module, syslog: bool = False) -> None:
    """Echo off (and with ``syslog`` AT+SYSLOG=1: ``ERR CODE`` lines before ``ERROR``),
    so replies are easy to compare."""
    await m.host.send("ATE0")
    await m.host.read_until(b"OK\r\n")
    if syslog:
        await m.host.send("AT+SYSLOG=1")
        await m.host.read_until(b"OK\r\n")
