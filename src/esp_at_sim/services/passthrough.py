"""Network passthrough: the UART becomes the link (AT+CIPMODE=1, AT+CIPSEND).

Packing follows the firmware: bytes from the host collect in a buffer; every
full 2920-byte packet goes to the link at once, a shorter rest after
AT+TRANSINTVL milliseconds without reaching 2920 (0 ms: at once). A UDP link
sends each packet as one datagram.

When the link cannot take more (the peer's TCP window is closed), the module
stops taking UART input (``module.rx_ready``), the way hardware flow control
holds a host - nothing is dropped. With the ``uart_rx_overflow`` quirk nothing
holds the host: bytes beyond the packet buffer and the UART's receive ring are
lost, as on a board whose RTS line is not wired. A client link that breaks is re-opened
every AT+CIPRECONNINTV x 100 ms until ``+++``; bytes that arrive meanwhile are
dropped, as on the chip.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

from esp_at_sim.device.quirks import uart_rx_buffer
from esp_at_sim.services.links import Link, LinkTable, SendFailed

if TYPE_CHECKING:
    from esp_at_sim.device.module import Module

PACKET = 2920
HOLD_INPUT = 64 * 1024  # unsent bytes above which the UART is held


def reconnect_interval(module: Module) -> float:
    """Seconds between attempts to bring a passthrough link back (AT+CIPRECONNINTV, in 100 ms)."""
    return int(module.settings.get("tcpip", "reconnintv", 1) or 1) * 0.1


class PassthroughSender:
    """The passthrough sink: host bytes -> the link."""

    def __init__(self, module: Module, table: LinkTable, link: Link) -> None:
        self.module = module
        self.table = table
        self.link = link
        self.buf = bytearray()
        self.timer: asyncio.TimerHandle | None = None
        self.writer: asyncio.Task[None] | None = None
        self.queue: list[bytes] = []
        self.queued = 0
        self.closed = False
        self.reconnector: asyncio.Task[None] | None = None
        self.lost = 0  # bytes the uart_rx_overflow quirk threw away
        self.overflowing = False
        self.recipe = table.module.vars.get("passthrough_recipe")
        link.on_closed.append(self._link_gone)
        table.events.on_lost.append(self._on_lost)

    # ------------------------------------------------------------ input
    def on_data(self, data: bytes) -> None:
        if self.closed:
            return
        if self.link.gone or self.link.peer_closed:
            return  # dropped while the link is down
        if "uart_rx_overflow" in self.module.quirks:
            data = self._overflow(data)
            if not data:
                return
        self.buf += data
        if len(self.buf) >= PACKET:
            n = len(self.buf) - len(self.buf) % PACKET
            for i in range(0, n, PACKET):
                self._queue(bytes(self.buf[i : i + PACKET]))
            del self.buf[:n]
        if self.buf:
            self._arm()
        elif self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _overflow(self, data: bytes) -> bytes:
        """The ``uart_rx_overflow`` quirk: nothing holds the host, so what neither the
        packet buffer nor the UART's receive ring can take is lost."""
        if not self.queue and self.link.writable.is_set():
            self.overflowing = False
            return data  # the stack takes all of it now
        room = PACKET + uart_rx_buffer(self.module) - self.queued - len(self.buf)
        if len(data) <= room:
            if not self.queued:
                self.overflowing = False
            return data
        kept = data[: max(0, room)]
        lost = len(data) - len(kept)
        self.lost += lost
        if not self.overflowing:
            self.overflowing = True
            self.module.chip_log("at-uart: rx buffer full, passthrough data lost")
        return kept

    def _arm(self) -> None:
        if self.timer is not None:
            return
        from esp_at_sim.commands.tcpip_send import trans_interval

        ms = trans_interval(self.module)
        if ms <= 0:
            self._flush()
            return
        loop = asyncio.get_running_loop()
        self.timer = loop.call_later(self.module.clock.real_seconds(ms / 1000), self._flush)

    def _flush(self) -> None:
        self.timer = None
        if self.buf:
            self._queue(bytes(self.buf))
            self.buf.clear()

    def _queue(self, packet: bytes) -> None:
        link = self.link
        if not link.is_udp and link.writable.is_set() and not self.queue and link.transport is not None:
            # the fast path: the stack takes it now
            link.touch()
            self.table.stats_tx += len(packet)
            link.transport.write(packet)
            return
        if link.is_udp:
            link.touch()
            with contextlib.suppress(SendFailed):  # no route: the datagram is lost, as UDP's are
                link.send_datagram(packet, link.remote)
            return
        self.queue.append(packet)
        self.queued += len(packet)
        if self.queued > HOLD_INPUT:
            self.module.rx_ready.clear()
        if self.writer is None or self.writer.done():
            self.writer = self.module.scope.spawn(self._drain(), name="passthrough-tx")

    async def _drain(self) -> None:
        try:
            while self.queue:
                packet = self.queue.pop(0)
                self.queued -= len(packet)
                try:
                    await self.link.send(packet)
                except SendFailed:
                    self.queue.clear()
                    self.queued = 0
                if self.queued <= HOLD_INPUT // 2:
                    self.module.rx_ready.set()
        finally:
            self.module.rx_ready.set()

    # ------------------------------------------------------------- exit
    def on_exit(self) -> None:
        """``+++``: what is buffered goes out, the link stays."""
        self._flush()
        self._stop()
        sysmsg = int(self.module.settings.get("base", "sysmsg", 0) or 0)
        if sysmsg & 0x1:
            self.module.urc("+QUITT")

    def _stop(self) -> None:
        self.closed = True
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.reconnector is not None:
            self.reconnector.cancel()
            self.reconnector = None
        if self._on_lost in self.table.events.on_lost:
            self.table.events.on_lost.remove(self._on_lost)
        self.module.rx_ready.set()

    def _link_gone(self, link: Link) -> None:
        if self.closed or link is not self.link:
            return
        if link.server or not self.module.in_passthrough:
            if link.server and self.module.in_passthrough:
                self._stop()
                self.module.leave_passthrough()
            return

    def _on_lost(self, link: Link, exc: Exception | None) -> None:
        if self.closed or link is not self.link or link.server or link.is_udp:
            return
        if self.reconnector is None or self.reconnector.done():
            self.reconnector = self.module.scope.spawn(self._reconnect(), name="passthrough-reconnect")

    async def _reconnect(self) -> None:
        """Re-open the client link every AT+CIPRECONNINTV until it works or ``+++``."""
        from esp_at_sim.services.connections import ConnectFailed, open_client
        from esp_at_sim.services.tls import TlsError

        old = self.link
        interval = reconnect_interval(self.module)
        while not self.closed:
            await self.module.clock.sleep(interval)
            if self.closed:
                return
            if old.id in self.table.links and self.table.links[old.id] is not old:
                return
            if old.id in self.table.links:
                continue  # the old link still has data for the host; CLOSED comes first
            try:
                new = await open_client(
                    self.table,
                    old.id,
                    old.kind,
                    old.remote_ip,
                    old.remote_port,
                    ssl_config=self.module.vars.get("ssl_client", {}).get(old.id),
                )
            except (ConnectFailed, LookupError, OSError, TlsError) as exc:
                self.module.chip_log(f"at-net: reconnect failed: {exc}")
                continue
            except Exception:
                continue
            self.module.chip_log("at-net: reconnect")
            self.link = new
            new.on_closed.append(self._link_gone)
            sysmsg = int(self.module.settings.get("base", "sysmsg", 0) or 0)
            if sysmsg & 0x4:
                self.table.notice(self.table.fmt_connect(new))
            return
