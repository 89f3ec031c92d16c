"""The pump between a transport and a module: baud switches after the result,
paced output, sessions that end with the host's input."""

from __future__ import annotations

import asyncio

from esp_at_sim import AtHost, Module
from esp_at_sim.at.params import Int
from esp_at_sim.at.registry import Registry
from esp_at_sim.device.config import ModuleConfig
from esp_at_sim.device.context import CommandContext
from esp_at_sim.driver import UartPump, serve
from esp_at_sim.transports.memory import MemoryEnd, memory_pair


class RecordingEnd(MemoryEnd):
    """The module's end of an in-memory UART that notes when the rate changes."""

    def __init__(self, inner: MemoryEnd) -> None:
        super().__init__(inner._rx, inner._tx, "module")
        self.written = bytearray()
        self.switches: list[tuple[int, bytes]] = []  # (baud, everything written before the switch)

    async def write(self, data: bytes) -> None:
        self.written += data
        await super().write(data)

    def write_nowait(self, data: bytes) -> int:
        taken = super().write_nowait(data)
        self.written += data[:taken]
        return taken

    def set_baud(self, baud: int) -> None:
        self.switches.append((baud, bytes(self.written)))


def _uart_registry() -> Registry:
    """AT, and a command that changes the rate the way AT+UART_CUR does."""
    reg = Registry()
    at = reg.command("")

    @at.execute
    async def _(ctx: CommandContext) -> None:
        return None

    uart = reg.command("+UARTTEST")

    @uart.set(Int("baud", lo=80, hi=5_000_000))
    async def _(ctx: CommandContext, baud: int) -> None:
        ctx.info("+UARTTEST", baud)
        ctx.module.set_uart_baud(baud)
        await asyncio.sleep(0.01)  # the result is written after more work

    return reg


async def test_rate_switches_after_the_result_left_at_the_old_rate() -> None:
    module_end, host_end = memory_pair()
    end = RecordingEnd(module_end)
    module = Module(ModuleConfig(name="pump0", boot_time=0), registry=_uart_registry())
    pump = asyncio.ensure_future(serve(module, end))
    host = AtHost.over(host_end)
    try:
        await module.power_on()
        await host.expect(b"\r\nready\r\n")
        await host.send("AT+UARTTEST=921600")
        await host.expect(b"AT+UARTTEST=921600\r\n+UARTTEST:921600\r\n\r\nOK\r\n")
        await host.send("AT")
        await host.expect(b"AT\r\n\r\nOK\r\n")
        assert end.switches == [(921600, b"\r\nready\r\nAT+UARTTEST=921600\r\n+UARTTEST:921600\r\n\r\nOK\r\n")]
        # a switch while idle takes effect at once
        module.set_uart_baud(115200)
        assert end.switches[-1][0] == 115200
    finally:
        pump.cancel()
        await asyncio.gather(pump, return_exceptions=True)
        await module.stop()


async def test_paced_output_takes_the_line_time_of_the_baud_rate() -> None:
    module_end, host_end = memory_pair()
    module = Module(ModuleConfig(name="pace0", boot_time=0, uart_baud=9600))
    pump = UartPump(module, module_end, pace=True)
    task = asyncio.ensure_future(pump.run())
    host = AtHost.over(host_end)
    loop = asyncio.get_running_loop()
    try:
        await module.power_on()
        await host.expect(b"\r\nready\r\n")
        payload = bytes(range(256)) * 8  # 2048 bytes: 2.13 s at 9600 8N1
        start = loop.time()
        module.output.write_now(payload)
        assert await host.read_exactly(len(payload), timeout=30) == payload
        elapsed = loop.time() - start
        expected = len(payload) * 10 / 9600
        # the tests' clock is virtual, so this holds without real-time jitter
        assert expected * 0.9 <= elapsed <= expected * 1.2, (elapsed, expected)

        # unpaced, the same bytes take no line time at all
        pump.pace = False
        start = loop.time()
        module.output.write_now(payload)
        await host.read_exactly(len(payload))
        assert loop.time() - start < expected / 10
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await module.stop()


async def test_session_ends_after_end_of_input_once_the_module_is_quiet() -> None:
    module_end, host_end = memory_pair()
    module = Module(ModuleConfig(name="eof0", boot_time=0))
    pump = asyncio.ensure_future(serve(module, module_end))
    host = AtHost.over(host_end)
    try:
        await module.power_on()
        await host.expect(b"\r\nready\r\n")
        await host.send("AT+GMR")
        host_end._tx.close()  # end of input right behind the command
        await asyncio.wait_for(pump, 10)
        reply = await host.read_reply()
        assert reply.ok
    finally:
        pump.cancel()
        await asyncio.gather(pump, return_exceptions=True)
        await module.stop()
