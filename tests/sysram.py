"""The free heap as a host reads it: the first field of ``+SYSRAM:<free>,<min>``."""

from __future__ import annotations

import re

from esp_at_sim import AtHost

SYSRAM = re.compile(rb"\+SYSRAM:(\d+),(\d+)")


async def free_heap(host: AtHost) -> int:
    reply = await host.command("AT+SYSRAM?")
    found = SYSRAM.search(reply.raw)
    assert reply.ok and found, reply.raw
    return int(found.group(1))
