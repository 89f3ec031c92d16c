"""BLE SPP: the UART as a byte pipe over two GATT characteristics.

``AT+BLESPPCFG`` names a tx and an rx characteristic (client: tx is written,
rx notifies/indicates; server: tx notifies/indicates, rx is written);
``AT+BLESPP`` prints ``OK`` and ``>`` and from then on every UART byte goes
to the peer, MTU-3 bytes per write or notification, and what the peer sends
on rx comes out of the UART as it is, until ``+++``.

Entering on the client writes rx's CCCD itself (the firmware's
``at_ble_auto_wrire_description``); on the server it needs the client to
have switched the tx characteristic's notifications (or indications) on,
else ``ERROR``. The UART is held (``module.rx_ready``) while the link has
more than a few packets queued, so a fast host is paced by the radio and
nothing is lost. With auto-reconnection (the default) a lost link is made
again (the client reconnects to the same address, the server advertises)
without leaving passthrough; without it the module leaves passthrough.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from esp_at_sim.services.ble import gatt_client
from esp_at_sim.services.ble import gatt_table as table

if TYPE_CHECKING:
    from esp_at_sim.services.ble.stack import BleLink, BleStack

log = logging.getLogger(__name__)

HOLD_INPUT = 8 * 1024  # unsent bytes above which the UART is held
RECONNECT_INTERVAL = 1.0


class SppError(Exception):
    """BLE SPP cannot start (not configured, not connected, not subscribed)."""


@dataclass
class SppConfig:
    enabled: bool = False
    tx_srv: int = 0
    tx_char: int = 0
    rx_srv: int = 0
    rx_char: int = 0
    auto_conn: int = 1


class BleSpp:
    """The BLE SPP sink of one LE stack (``stack.spp``)."""

    def __init__(self, stack: BleStack) -> None:
        self.stack = stack
        self.module = stack.module
        self.active = False
        self.link: BleLink | None = None
        self.peer_address: str | None = None
        self._buf = bytearray()
        self._writer: asyncio.Task[None] | None = None
        self._reconnector: asyncio.Task[None] | None = None
        self._tx: Any = None
        self._client = False

    # -------------------------------------------------------------- config
    @property
    def config(self) -> SppConfig:
        raw = self.module.settings.get("ble", "sppcfg")
        return SppConfig(**raw) if raw else SppConfig()

    def configure(self, cfg: SppConfig, persist: bool | None) -> None:
        self.module.settings.set("ble", "sppcfg", cfg.__dict__, persist=persist)

    # --------------------------------------------------------------- enter
    async def enter(self) -> None:
        cfg = self.config
        s = self.stack
        if not cfg.enabled or s.role not in (1, 2) or not s.links:
            raise SppError("not ready")
        link = s.links[min(s.links)]
        self._client = link.central
        if link.central:
            self._tx = self._client_tx(link, cfg)
        else:
            self._tx = self._server_tx(cfg)
        self.link = link
        self.peer_address = link.address
        self.active = True

    def _client_tx(self, link: BleLink, cfg: SppConfig) -> gatt_client.RemoteCharacteristic:
        try:
            tx = gatt_client.characteristic(link, cfg.tx_srv, cfg.tx_char)
            rx = gatt_client.characteristic(link, cfg.rx_srv, cfg.rx_char)
        except gatt_client.GattClientError:
            raise SppError("characteristics not discovered") from None
        if not tx.properties & (table.PROP_WRITE | table.PROP_WRITE_NR):
            raise SppError("tx cannot be written")
        if not rx.properties & (table.PROP_NOTIFY | table.PROP_INDICATE):
            raise SppError("rx cannot notify")
        cccd = next((d for d in rx.descriptors if d.uuid.short == table.CCCD), None)
        if cccd is None:
            raise SppError("rx has no CCCD")
        gatt_client.register(link, cfg.rx_srv, rx, self.stack.notification_sink(link))
        value = b"\x01\x00" if rx.properties & table.PROP_NOTIFY else b"\x02\x00"
        self.module.scope.spawn(self._write_cccd(link, cccd.proxy.handle, value))
        return tx

    async def _write_cccd(self, link: BleLink, handle: int, value: bytes) -> None:
        try:
            await link.connection.gatt_client.write_value(handle, value, with_response=True)
        except Exception:
            log.debug("BLE SPP: enabling notifications failed", exc_info=True)

    def _server_tx(self, cfg: SppConfig) -> table.Characteristic:
        g = self.stack.gatts
        if g is None or not g.created:
            raise SppError("no services")
        tx = g.characteristic(cfg.tx_srv, cfg.tx_char)
        rx = g.characteristic(cfg.rx_srv, cfg.rx_char)
        if tx is None or rx is None:
            raise SppError("no such characteristic")
        if not rx.properties & (table.PROP_WRITE | table.PROP_WRITE_NR):
            raise SppError("rx cannot be written")
        if not g.cccd(cfg.tx_srv, cfg.tx_char) & 0x03:
            raise SppError("the client has not enabled notifications")
        return tx

    # --------------------------------------------------------------- data in
    def on_data(self, data: bytes) -> None:
        if not self.active:
            return
        self._buf += data
        if len(self._buf) > HOLD_INPUT:
            self.module.rx_ready.clear()
        if self._writer is None or self._writer.done():
            self._writer = self.module.scope.spawn(self._drain(), name=f"{self.module.name}-blespp-tx")

    async def _drain(self) -> None:
        try:
            while self._buf and self.active:
                link = self.link
                if link is None or self.stack.links.get(link.index) is not link:
                    await asyncio.sleep(self.module.clock.real_seconds(0.1))
                    continue
                size = max(1, min(link.connection.att_mtu - 3, 512))  # an attribute holds 512 bytes at most
                chunk = bytes(self._buf[:size])
                del self._buf[:size]
                if len(self._buf) <= HOLD_INPUT // 2:
                    self.module.rx_ready.set()
                try:
                    await self._send(link, chunk)
                except Exception:
                    log.debug("BLE SPP send failed", exc_info=True)
        finally:
            self.module.rx_ready.set()

    async def _send(self, link: BleLink, chunk: bytes) -> None:
        cfg = self.config
        c = link.connection
        if self._client:
            tx = self._tx
            if tx.properties & table.PROP_WRITE_NR:
                await gatt_client.write_no_response(link, tx, chunk)
            else:
                await c.gatt_client.write_value(tx.proxy.handle, chunk, with_response=True)
        else:
            g = self.stack.gatts
            assert g is not None
            indicate = not self._tx.properties & table.PROP_NOTIFY
            await g.notify(c, cfg.tx_srv, cfg.tx_char, chunk, indicate=indicate)
        await c.drain()

    # --------------------------------------------------------------- data out
    def on_client_notification(self, link: BleLink, srv: int, char: int, value: bytes) -> bool:
        cfg = self.config
        if not self.active or link is not self.link or (srv, char) != (cfg.rx_srv, cfg.rx_char):
            return False
        self.stack.listener.spp_data(value)
        return True

    def on_server_write(self, link: BleLink, srv: int, char: int, desc: int | None, value: bytes) -> bool:
        if not self.active or link is not self.link:
            return False
        cfg = self.config
        if desc is not None:
            if (srv, char) == (cfg.tx_srv, cfg.tx_char):
                self.stack.listener.spp_subscribed(link.index)
                return True
            return False
        if (srv, char) != (cfg.rx_srv, cfg.rx_char):
            return False
        self.stack.listener.spp_data(value)
        return True

    # ------------------------------------------------------------------ exit
    def on_exit(self) -> None:
        """``+++``: the data already taken still goes out."""
        self.active = False
        self.module.rx_ready.set()
        if self._reconnector is not None:
            self._reconnector.cancel()
            self._reconnector = None
        sysmsg = int(self.module.settings.get("base", "sysmsg", 0) or 0)
        if sysmsg & 0x1:
            self.module.urc("+QUITT")

    def link_lost(self, link: BleLink) -> None:
        if not self.active or link is not self.link:
            return
        self.link = None
        if self.config.auto_conn:
            if self._reconnector is None or self._reconnector.done():
                self._reconnector = self.module.scope.spawn(self._reconnect(), name=f"{self.module.name}-blespp-re")
            return
        self.active = False
        self._buf.clear()
        self.module.rx_ready.set()
        self.module.leave_passthrough()

    async def _reconnect(self) -> None:
        """Make the link again, as the firmware does, without the host knowing."""
        from esp_at_sim.services.ble.stack import BleError

        s = self.stack
        while self.active and self.link is None:
            try:
                if self._client and self.peer_address is not None:
                    await s.connect(0, self.peer_address, 0, 10)
                elif not s.advertising:
                    await s.start_advertising()
            except BleError:
                pass
            await asyncio.sleep(self.module.clock.real_seconds(RECONNECT_INTERVAL))
            if s.links:
                link = s.links[min(s.links)]
                try:
                    self._tx = self._client_tx(link, self.config) if link.central else self._server_tx(self.config)
                except (SppError, gatt_client.GattClientError):
                    if link.central:
                        try:
                            await gatt_client.discover_services(link)
                            cfg = self.config
                            for srv in {cfg.tx_srv, cfg.rx_srv}:
                                await gatt_client.discover_characteristics(link, srv)
                            self._tx = self._client_tx(link, cfg)
                        except Exception:
                            continue
                    else:
                        continue
                self.link = link
        if self._buf and (self._writer is None or self._writer.done()):
            self._writer = self.module.scope.spawn(self._drain())
