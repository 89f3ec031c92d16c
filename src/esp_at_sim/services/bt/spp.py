"""Classic Bluetooth SPP: RFCOMM with an SDP record, one connection.

The slave (``AT+BTSPPINIT=2`` then ``AT+BTSPPSTART``) publishes a Serial
Port (0x1101) record and accepts on its RFCOMM channel; the master
(``AT+BTSPPINIT=1``) pages the slave, authenticates and encrypts when the
security mode asks for it, finds the channel over SDP and opens the DLC.
Bytes go out with ``AT+BTSPPSEND`` (counted or passthrough) and come in as
``+BTDATA:<len>,<data>`` (raw in passthrough). RFCOMM's credits hold a fast
sender back - and, through ``module.rx_ready``, the host's UART - so
nothing is lost.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bumble import rfcomm
from bumble.core import BT_SERIAL_PORT_SERVICE, PhysicalTransport

from esp_at_sim.services.bt.stack import BtError, BtStack, peer_of

if TYPE_CHECKING:
    from esp_at_sim.device.module import Module

log = logging.getLogger(__name__)
SDP_HANDLE = 0x00010001
HOLD_INPUT = 16 * 1024
SEC_AUTHENTICATE = 0x0001 | 0x0036 | 0x3000


class BtSppEvents:
    def connected(self, address: str) -> None: ...

    def disconnected(self, address: str) -> None: ...

    def data(self, data: bytes) -> None: ...


class BtSpp:
    """Per-boot service: ``module.service(BtSpp)``."""

    def __init__(self, module: Module) -> None:
        self.module = module
        self.role = 0  # 0 off, 1 master, 2 slave
        self.events = BtSppEvents()
        self.started = False
        self.dlc: Any = None
        self.connection: Any = None
        self.peer: str | None = None
        self.passthrough = False
        self.connecting = False
        self._server: Any = None
        self._buf = bytearray()
        self._writer: asyncio.Task[None] | None = None
        self.on_lost: Callable[[], None] | None = None

    @property
    def stack(self) -> BtStack:
        return self.module.service(BtStack)

    # ------------------------------------------------------------ setup
    def init(self, role: int) -> None:
        self.stack.require()
        self.role = role

    async def deinit(self) -> None:
        if self.connection is not None:
            await self.disconnect()
        if self._server is not None:
            self._server.l2cap_server.close()
            self._server = None
        self.role = 0
        self.started = False

    def start(self) -> None:
        device = self.stack.require()
        if self.role != 2:
            raise BtError("not a slave")
        if self._server is not None:
            return
        self._server = rfcomm.Server(device)
        channel = self._server.listen(self._on_dlc, 1)
        device.sdp_service_records = {
            **device.sdp_service_records,
            SDP_HANDLE: rfcomm.make_service_sdp_records(SDP_HANDLE, channel, BT_SERIAL_PORT_SERVICE),
        }
        device.on("connection", self._watch)
        self.started = True

    def _watch(self, connection: Any) -> None:
        if connection.transport == PhysicalTransport.BR_EDR:
            connection.on("disconnection", lambda _r: self._lost(connection))

    # ----------------------------------------------------------- connect
    async def connect(self, sec_mode: int, address: str) -> None:
        self.stack.require()
        if self.role != 1 or self.dlc is not None:
            raise BtError("not a master, or already connected")
        connection = await self.stack.page(address)
        try:
            if sec_mode & SEC_AUTHENTICATE:
                await connection.authenticate()
                await connection.encrypt()
            channel = await rfcomm.find_rfcomm_channel_with_uuid(connection, BT_SERIAL_PORT_SERVICE)
            if channel is None:
                raise BtError("no serial port service")
            mux = await rfcomm.Client(connection).start()
            dlc = await mux.open_dlc(channel)
        except BtError:
            await connection.disconnect()
            raise
        except Exception as exc:
            await connection.disconnect()
            raise BtError(f"spp connect failed: {exc}") from None
        self._attach(connection, dlc)
        connection.on("disconnection", lambda _r: self._lost(connection))

    def _on_dlc(self, dlc: Any) -> None:
        connection = dlc.multiplexer.l2cap_channel.connection
        if self.dlc is not None:
            self.module.scope.spawn(dlc.disconnect())
            return
        self._attach(connection, dlc)
        self.events.connected(self.peer or "")

    def _attach(self, connection: Any, dlc: Any) -> None:
        self.connection = connection
        self.dlc = dlc
        self.peer = peer_of(connection)
        dlc.sink = self._on_rx
        dlc.on("close", lambda: self._dlc_closed(dlc))

    def _on_rx(self, data: bytes) -> None:
        self.events.data(bytes(data))

    def _dlc_closed(self, dlc: Any) -> None:
        if dlc is self.dlc and self.connection is not None:
            self._lost(self.connection)

    def _lost(self, connection: Any) -> None:
        if connection is not self.connection:
            return
        peer = self.peer or ""
        self.connection = None
        self.dlc = None
        self._buf.clear()
        self.module.rx_ready.set()
        self.events.disconnected(peer)
        if self.on_lost is not None:
            self.on_lost()

    async def disconnect(self) -> str:
        if self.connection is None:
            raise BtError("not connected")
        connection, peer = self.connection, self.peer or ""
        try:
            await connection.disconnect()
        except Exception:
            log.debug("spp disconnect", exc_info=True)
        if self.connection is connection:
            self.connection = None
            self.dlc = None
        return peer

    # -------------------------------------------------------------- send
    async def send(self, data: bytes) -> None:
        if self.dlc is None:
            raise BtError("not connected")
        self.dlc.write(data)
        await self.dlc.drain()

    def on_data(self, data: bytes) -> None:
        """Passthrough input from the host."""
        if self.dlc is None:
            return
        self._buf += data
        if len(self._buf) > HOLD_INPUT:
            self.module.rx_ready.clear()
        if self._writer is None or self._writer.done():
            self._writer = self.module.scope.spawn(self._drain(), name=f"{self.module.name}-btspp-tx")

    async def _drain(self) -> None:
        try:
            while self._buf and self.dlc is not None:
                chunk = bytes(self._buf[:4096])
                del self._buf[:4096]
                if len(self._buf) <= HOLD_INPUT // 2:
                    self.module.rx_ready.set()
                try:
                    await self.send(chunk)
                except BtError:
                    return
        finally:
            self.module.rx_ready.set()

    def on_exit(self) -> None:
        self.passthrough = False
        sysmsg = int(self.module.settings.get("base", "sysmsg", 0) or 0)
        if sysmsg & 0x1:
            self.module.urc("+QUITT")
