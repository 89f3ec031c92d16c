"""AT+SAVETRANSLINK=3: the spec's example, played to the end. After a reset the module
starts a TCP server; the first client gets a passthrough connection (UART bytes are
its bytes both ways), a second one is not let in while it lasts, and ``+++`` leaves
passthrough with the server still running. No CONNECT is printed for the passthrough
client (AT+SYSMSG bit 2 is off by default), as for every passthrough connection."""

from __future__ import annotations

import asyncio
import contextlib
import socket

from tests.wifi.support import quiet

from esp_at_sim import Module, World


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def connect(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    for _ in range(40):
        try:
            return await asyncio.open_connection("127.0.0.1", port)
        except ConnectionRefusedError:
            await asyncio.sleep(0.05)
    return await asyncio.open_connection("127.0.0.1", port)


async def test_server_passthrough_on_power_up_as_in_the_spec_example() -> None:
    port = free_port()
    async with Module.start("esp32c3", world=World(seed="savetrans3")) as m:
        await quiet(m)
        h = m.host
        assert (await h.command("AT+CWMODE=2")).ok
        assert (await h.command('AT+CWSAP="esp-ap-001","",11,0,3')).ok
        assert (await h.command(f'AT+SAVETRANSLINK=3,{port},"TCP",2')).ok
        await h.send("AT+RST")
        await h.read_until(b"ready\r\n", timeout=10)
        # the server is up after the boot; the PC connects and is in passthrough at once
        reader, writer = await connect(port)  # the server comes up just after "ready"
        try:
            await asyncio.sleep(0.2)
            writer.write(b"from the PC")
            await writer.drain()
            assert await h.read_exactly(11, timeout=5) == b"from the PC"  # raw, no +IPD
            await h.write(b"from the MCU")
            assert await asyncio.wait_for(reader.readexactly(12), 5) == b"from the MCU"
            # a second client gets no passthrough while the first one holds it
            r2, w2 = await asyncio.open_connection("127.0.0.1", port)
            try:
                w2.write(b"intruder")
                await w2.drain()
                with contextlib.suppress(ConnectionError):
                    assert await asyncio.wait_for(r2.read(100), 2) == b""
            finally:
                w2.close()
            await h.expect_silence(0.3)  # nothing of the second client reached the UART
            # +++ alone, with silence around it, leaves passthrough
            await asyncio.sleep(1.1)
            await h.write(b"+++")
            await asyncio.sleep(1.1)
            assert (await h.command("AT")).raw == b"AT\r\n\r\nOK\r\n"  # echo is on again after the reset
            state = (await h.command("AT+CIPSTATE?")).info("+CIPSTATE")  # the connection is still there
            assert len(state) == 1 and state[0].startswith('+CIPSTATE:0,"TCP","127.0.0.1",')
        finally:
            writer.close()
