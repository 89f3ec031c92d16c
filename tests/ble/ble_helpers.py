"""Helpers for Bluetooth tests: worlds of modules that talk over the air."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator

from esp_at_sim import AtHost, Module, World

ADDR = re.compile(rb'\+BLEADDR:"([0-9a-f:]{17})"')


async def ok(host: AtHost, line: str, timeout: float = 10.0) -> bytes:
    """Send a command, require OK, return everything it printed."""
    reply = await host.command(line, timeout=timeout)
    assert reply.ok, f"{line!r} -> {reply.raw!r}"
    return reply.raw


async def address(host: AtHost) -> str:
    raw = await ok(host, "AT+BLEADDR?")
    m = ADDR.search(raw)
    assert m, raw
    return m.group(1).decode()


@contextlib.asynccontextmanager
async def modules(*specs: tuple[str, str], world: World | None = None, **config: object) -> AsyncIterator[list[Module]]:
    """``async with modules(("esp32c3", "srv"), ("esp32", "cli")) as (a, b):``"""
    world = world or World(seed="ble-tests")
    async with contextlib.AsyncExitStack() as stack:
        out = []
        for chip, name in specs:
            out.append(await stack.enter_async_context(Module.start(chip, world=world, name=name, **config)))
        yield out


async def server_advertising(host: AtHost, *, create_services: bool = True, adv: str | None = None) -> str:
    await ok(host, "AT+BLEINIT=2")
    if create_services:
        await ok(host, "AT+BLEGATTSSRVCRE")
        await ok(host, "AT+BLEGATTSSRVSTART")
    if adv is not None:
        await ok(host, f'AT+BLEADVDATA="{adv}"')
    await ok(host, "AT+BLEADVSTART")
    return await address(host)


async def connect(client: AtHost, server: AtHost, server_addr: str, index: int = 0) -> str:
    """Client connects; returns the client's address as the server reports it."""
    raw = await ok(client, f'AT+BLECONN={index},"{server_addr}"', timeout=40)
    assert f'+BLECONN:{index},"{server_addr}"'.encode() in raw
    line = await server.read_until(re.compile(rb'\+BLECONN:\d,"[0-9a-f:]{17}"\r\n'), timeout=10)
    return line.decode().split('"')[1]
