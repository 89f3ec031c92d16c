"""The UART as a raw TCP stream: one host at a time, the module outlives its hosts."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import pytest

from esp_at_sim import AtHost, Module
from esp_at_sim.transports.base import open_transport
from esp_at_sim.transports.tcp import TcpServerTransport

Served = Callable[..., contextlib.AbstractAsyncContextManager[Module]]


async def test_open_transport_parses_tcp_names() -> None:
    t = open_transport("tcp-server:127.0.0.1:0")
    assert isinstance(t, TcpServerTransport) and (t.host, t.port) == ("127.0.0.1", 0)
    t6 = open_transport("tcp-server:[::1]:3333")
    assert isinstance(t6, TcpServerTransport) and (t6.host, t6.port) == ("::1", 3333)


async def test_host_round_trip_refused_second_host_and_reconnect(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    transport = TcpServerTransport("127.0.0.1", 0)
    async with served(transport, name="tcp0", power=False) as module:
        assert transport.port != 0
        first = await AtHost.open_tcp("127.0.0.1", transport.port)
        try:
            await asyncio.wait_for(transport.connected.wait(), 5)
            await module.power_on()
            await first.expect(b"\r\nready\r\n", timeout=5)
            await first.send("AT")
            await first.expect(b"AT\r\n\r\nOK\r\n")

            # a second host is accepted and closed at once, with a log line
            with caplog.at_level(logging.WARNING, logger="esp_at_sim.transports.tcp"):
                reader, writer = await asyncio.open_connection("127.0.0.1", transport.port)
                try:
                    assert await asyncio.wait_for(reader.read(100), 5) == b""
                finally:
                    writer.close()
                    with contextlib.suppress(ConnectionError):
                        await writer.wait_closed()
            assert any("refused" in r.getMessage() for r in caplog.records)

            # the first host is unaffected
            await first.send("ATE0")
            await first.expect(b"ATE0\r\n\r\nOK\r\n")
        finally:
            first.close()

        # the module keeps running without a host; what it says meanwhile is lost
        for _ in range(100):
            if not transport.connected.is_set():
                break
            await asyncio.sleep(0.01)
        assert not transport.connected.is_set()
        module.urc("WIFI DISCONNECT")
        await asyncio.sleep(0.05)

        second = await AtHost.open_tcp("127.0.0.1", transport.port)
        try:
            await asyncio.wait_for(transport.connected.wait(), 5)
            await second.send("AT")
            await second.expect(b"\r\nOK\r\n")  # echo still off: same boot
            await second.expect_silence(0.1)
        finally:
            second.close()
        assert transport.hosts_served == 2


async def test_bytes_from_a_host_arrive_in_order_under_load(served: Served) -> None:
    transport = TcpServerTransport("127.0.0.1", 0)
    async with served(transport, name="tcp1", boot_time=0) as module:
        await module.wait_ready()
        host = await AtHost.open_tcp("127.0.0.1", transport.port)
        try:
            await asyncio.wait_for(transport.connected.wait(), 5)
            await host.write(b"ATE0\r\n")
            await host.expect(b"ATE0\r\n\r\nOK\r\n")
            for _ in range(200):
                await host.send("AT")
                await host.expect(b"\r\nOK\r\n")
        finally:
            host.close()


async def test_listening_twice_on_one_port_is_a_clear_error() -> None:
    from esp_at_sim.errors import TransportError

    first = TcpServerTransport("127.0.0.1", 0)
    await first.open()
    try:
        second = TcpServerTransport("127.0.0.1", first.port)
        with pytest.raises(TransportError, match="cannot listen"):
            await second.open()
        await second.close()
    finally:
        await first.close()
