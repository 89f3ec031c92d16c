"""Pumps a transport into a module: the only glue between asyncio I/O and the core.

Theory of operation
-------------------
Host bytes go to :meth:`Module.receive`: straight from the transport's
reader callback where the transport can push (pty, TCP), else from a receive
loop. Module output leaves the same way: while nothing is queued and the line
is free, the output scheduler hands a reply straight to the transport
(``write_nowait``), so a command that needs no waiting is answered within the
loop turn that brought it in (its handler starts eagerly, see
``device/eager.py``). Otherwise the transmit loop drains the scheduler;
``transport.write`` waits when the host does not read, which leaves bytes in
the scheduler and back-pressures producers. When the module stops taking
input (``rx_ready`` cleared: flow control), the transport stops reading.

Baud changes (``module.on_uart_change``): the firmware answers ``AT+UART_CUR``
with ``OK`` at the old rate and then switches. The pump notes how many bytes
had been queued when the command's final result was written, sends exactly
those at the old rate, and only then calls ``transport.set_baud``.

With ``pace`` the transmit loop sends at most about 10 ms of line time per
write and sleeps so that the average rate matches the line (8N1: 10 bits a
byte); an idle line does not earn credit for a later burst.

A transport that ``waits_for_ready`` (stdio: input waits in a pipe) is read
only from the first ``ready``. When the host's side ends for good (end of
input), the pump lets the module finish what it is doing and returns once it
has been quiet for :data:`LINGER` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from esp_at_sim.device.module import Module
from esp_at_sim.transports.base import Transport

#: seconds of silence after the end of input before the session ends
LINGER = 0.5
#: bits on the line per byte (8N1: start + 8 data + stop)
BITS_PER_BYTE = 10


class UartPump:
    """Moves bytes between one module and one transport (see the module docstring)."""

    def __init__(self, module: Module, transport: Transport, *, pace: bool = False) -> None:
        self.module = module
        self.transport = transport
        self.pace = pace
        self.line_baud = module.uart_baud  # the rate bytes currently leave at
        self._switches: list[tuple[int, int]] = []  # (output position, baud), in order
        self._awaiting_final: int | None = None
        self._unsubscribe: Callable[[], None] | None = None  # listening for the result
        self._writing = False
        self._rx_failed: asyncio.Future[None] | None = None
        self._resume: asyncio.Task[None] | None = None

    # ------------------------------------------------------------ baud rate
    def _on_uart_change(self, baud: int) -> None:
        if self.module.busy:
            self._awaiting_final = baud  # switch after the command's result
            if self._unsubscribe is None:
                self._unsubscribe = self.module.subscribe(self._on_module_event)
        else:
            self._mark_switch(baud)

    def _on_module_event(self, event: str, fields: dict[str, Any]) -> None:
        if event == "final" and self._awaiting_final is not None:
            baud, self._awaiting_final = self._awaiting_final, None
            self._stop_listening()
            self._mark_switch(baud)

    def _stop_listening(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def _mark_switch(self, baud: int) -> None:
        out = self.module.output
        self._switches.append((out.total_out + out.pending(), baud))
        if not self._writing:
            self._apply_due_switches()  # nothing in flight: the line is free now

    def _apply_due_switches(self) -> None:
        sent = self.module.output.total_out
        while self._switches and self._switches[0][0] <= sent:
            _, baud = self._switches.pop(0)
            if baud != self.line_baud:
                self.line_baud = baud
                self.transport.set_baud(baud)

    def _write_direct(self, data: bytes) -> int:
        """The scheduler's sink: bytes go out at once while the line is free."""
        if self.pace or self._writing or self._switches:
            return 0
        return self.transport.write_nowait(data)

    # ----------------------------------------------------------------- loops
    async def _rx(self) -> None:
        module, transport = self.module, self.transport
        if transport.waits_for_ready:
            while True:
                with contextlib.suppress(TimeoutError):
                    await module.wait_ready(timeout=3600)
                    break
        if transport.start_push(self._deliver):
            # the transport calls us with each piece as it arrives; this task
            # only carries an error out, or lets flow control resume reading
            self._rx_failed = asyncio.get_running_loop().create_future()
            await self._rx_failed
            return
        read, receive, rx_ready = transport.read, module.receive, module.rx_ready
        while True:
            if not rx_ready.is_set():
                await rx_ready.wait()  # flow control: the module cannot take more input now
            data = await read()
            if not data:
                return
            receive(data)

    def _deliver(self, data: bytes) -> None:
        """Push mode: host bytes straight from the transport's reader callback."""
        try:
            self.module.receive(data)
        except Exception as exc:
            if self._rx_failed is not None and not self._rx_failed.done():
                self._rx_failed.set_exception(exc)
            return
        if not self.module.rx_ready.is_set() and self._resume is None:
            # flow control: stop reading until the module can take more
            self.transport.pause_push()
            self._resume = asyncio.ensure_future(self._resume_when_ready())

    async def _resume_when_ready(self) -> None:
        try:
            await self.module.rx_ready.wait()
            self.transport.resume_push()
        finally:
            self._resume = None

    async def _tx(self) -> None:
        out = self.module.output
        loop = asyncio.get_running_loop()
        budget_start = loop.time()
        budget_bits = 0
        while True:
            line_idle = not out.pending()
            await out.wait_readable()
            self._apply_due_switches()
            limit = 65536
            if self.pace and self.line_baud > 0:
                limit = max(16, self.line_baud // (BITS_PER_BYTE * 100))  # ~10 ms of line time
            if self._switches:
                limit = min(limit, self._switches[0][0] - out.total_out)
            data = out.take(limit)
            started = loop.time()
            self._writing = True
            try:
                await self.transport.write(data)
            finally:
                self._writing = False
            self._apply_due_switches()
            if self.pace and self.line_baud > 0:
                now = loop.time()
                if line_idle:  # nothing was queued: the line starts afresh, no credit
                    budget_start, budget_bits = started, 0
                budget_bits += len(data) * BITS_PER_BYTE
                delay = budget_start + budget_bits / self.line_baud - now
                if delay > 0:
                    await asyncio.sleep(delay)

    async def _quiet(self) -> None:
        """Returns once the module has had nothing to do or say for LINGER seconds."""
        module, out = self.module, self.module.output
        loop = asyncio.get_running_loop()
        last_total, last_change = out.total_out, loop.time()
        while True:
            await asyncio.sleep(0.05)
            now = loop.time()
            if out.total_out != last_total or out.pending() or self._writing or module.busy:
                last_total, last_change = out.total_out, now
            elif now - last_change >= LINGER:
                return

    async def run(self) -> None:
        await self.transport.open()
        self.line_baud = self.module.uart_baud
        self.module.on_uart_change.append(self._on_uart_change)
        out = self.module.output
        out.sink = self._write_direct
        tx = asyncio.ensure_future(self._tx())
        rx = asyncio.ensure_future(self._rx())
        try:
            done, _ = await asyncio.wait((rx, tx), return_when=asyncio.FIRST_COMPLETED)
            if rx in done and not tx.done():
                rx.result()  # a failing transport ends the session with its error
                quiet = asyncio.ensure_future(self._quiet())
                try:
                    await asyncio.wait((quiet, tx), return_when=asyncio.FIRST_COMPLETED)
                finally:
                    quiet.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await quiet
            for t in done:
                t.result()
            if tx.done():
                tx.result()
        finally:
            for t in (rx, tx):
                t.cancel()
            for t in (rx, tx):
                with contextlib.suppress(asyncio.CancelledError):
                    await t
            if self._resume is not None:
                self._resume.cancel()
            self._stop_listening()
            if out.sink == self._write_direct:
                out.sink = None
            with contextlib.suppress(ValueError):
                self.module.on_uart_change.remove(self._on_uart_change)


async def serve(module: Module, transport: Transport, *, pace: bool = False) -> None:
    """Run until the host side ends for good or the task is cancelled."""
    await UartPump(module, transport, pace=pace).run()
