"""The UART as an RFC 2217 port (``rfc2217:HOST:PORT``): Telnet with COM-PORT-OPTION.

Theory of operation
-------------------
This is the TCP transport (one host at a time, the module runs on when the
host leaves) with a Telnet layer per connection. The Telnet and RFC 2217
negotiation is pyserial's own server side (:class:`serial.rfc2217.PortManager`),
given a stand-in for a serial port, :class:`EmulatedLines`, that records what
the client sets: baud rate, framing, flow control, DTR and RTS. Data bytes are
unescaped (``IAC IAC``) on the way in and escaped on the way out.

Modem lines drive the board like the auto-reset circuit of an ESP32 dev board
(two transistors between DTR/RTS and EN/IO0, as esptool expects)::

    EN  is pulled low while RTS is asserted and DTR is not   -> the chip is held in reset
    IO0 is pulled low while DTR is asserted and RTS is not   -> at EN's rising edge: download mode

so ``miniterm --rts 1`` holds the chip in reset, releasing it boots it (the
boot log and ``ready`` follow), and esptool's reset sequence lands in the ROM
download mode. Opening a port with both lines asserted (pyserial's default)
does not reset, as on the board. The transport reports these edges through
``on_reset("hold" | "run" | "download")``, which the world runner wires to the
module.

A baud rate the client sets that differs from the module's (``AT+UART_CUR``)
garbles the bytes both ways, as a mismatched UART does (see :func:`garble`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import serial
from serial import rfc2217

from esp_at_sim.transports.tcp import TcpServerTransport, _HostConnection

log = logging.getLogger(__name__)

#: seconds from EN's release to the chip sampling its strapping pins (the board's RC delay)
EN_RISE_TIME = 0.15


def garble(data: bytes, sender_baud: int, receiver_baud: int) -> bytes:
    """What a receiver sampling at the wrong rate makes of ``data``.

    The bit pattern is read at the wrong speed: roughly one byte per
    ``sender/receiver`` bytes sent, each a deterministic mangle of its source
    (framing errors give 0x00 and 0xFF often on real lines). Deterministic, so
    tests and replays stay repeatable.
    """
    if not data or sender_baud == receiver_baud or sender_baud <= 0 or receiver_baud <= 0:
        return data
    ratio = receiver_baud / sender_baud
    out = bytearray()
    acc = 0.0
    for i, b in enumerate(data):
        acc += ratio
        while acc >= 1.0:
            acc -= 1.0
            mixed = (b * 0x9D + i * 0x3B + 0x5B) & 0xFF
            out.append(0x00 if mixed < 0x18 else 0xFF if mixed > 0xE8 else mixed | 0x80)
    return bytes(out)


class EmulatedLines:
    """What pyserial's PortManager sees as the serial port: the lines of the emulated UART."""

    def __init__(self, owner: Rfc2217Transport) -> None:
        self._owner = owner
        self._baudrate = 115200
        self.bytesize = serial.EIGHTBITS
        self.parity = serial.PARITY_NONE
        self.stopbits = serial.STOPBITS_ONE
        self.xonxoff = False
        self.rtscts = False
        self.break_condition = False
        self._dtr = False
        self._rts = False
        self._io0_seen_low = False
        # the module's side of the handshake lines: the chip drives none of them
        self.cts = True
        self.dsr = True
        self.ri = False
        self.cd = True

    # baud rate ---------------------------------------------------------
    @property
    def baudrate(self) -> int:
        return self._baudrate

    @baudrate.setter
    def baudrate(self, value: int) -> None:
        if value <= 0:
            raise ValueError("baud rate must be positive")
        self._baudrate = int(value)

    # modem lines ---------------------------------------------------------
    @property
    def dtr(self) -> bool:
        return self._dtr

    @dtr.setter
    def dtr(self, value: bool) -> None:
        self._set_lines(bool(value), self._rts)

    @property
    def rts(self) -> bool:
        return self._rts

    @rts.setter
    def rts(self, value: bool) -> None:
        self._set_lines(self._dtr, bool(value))

    @staticmethod
    def en_low(dtr: bool, rts: bool) -> bool:
        return rts and not dtr

    @staticmethod
    def io0_low(dtr: bool, rts: bool) -> bool:
        return dtr and not rts

    def _set_lines(self, dtr: bool, rts: bool) -> None:
        was_low = self.en_low(self._dtr, self._rts)
        self._dtr, self._rts = dtr, rts
        now_low = self.en_low(dtr, rts)
        if now_low and not was_low:
            self._owner._modem_event("hold")
        elif was_low and not now_low:
            # EN rises through an RC network and the chip samples IO0 when it crosses the
            # threshold - after esptool's next line change. Over RFC 2217 each line change
            # is a round trip (pyserial waits for the answer), so IO0 going low at any
            # moment of a generous window counts.
            self._io0_seen_low = self.io0_low(dtr, rts)
            asyncio.get_running_loop().call_later(EN_RISE_TIME, self._en_risen)
        if self.io0_low(dtr, rts):
            self._io0_seen_low = True

    def _en_risen(self) -> None:
        if self.en_low(self._dtr, self._rts):
            return  # pulled low again before the chip started
        self._owner._modem_event("download" if self._io0_seen_low else "run")

    def reset_input_buffer(self) -> None:
        self._owner._rx.clear()

    def reset_output_buffer(self) -> None:
        pass  # nothing is queued on our side of the line


class _Connection:
    """The write side pyserial's PortManager uses for Telnet replies."""

    def __init__(self, conn: _HostConnection) -> None:
        self.conn = conn

    def write(self, data: bytes) -> None:
        if self.conn.transport is not None and not self.conn.transport.is_closing():
            self.conn.transport.write(data)


class Rfc2217Transport(TcpServerTransport):
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host, port)
        self.lines = EmulatedLines(self)
        self.module_baud = 115200
        self.on_reset: Callable[[str], None] | None = None
        self.modem_events: list[str] = []
        self._manager: Any = None

    # ------------------------------------------------------------ modem lines
    def _modem_event(self, mode: str) -> None:
        self.modem_events.append(mode)
        log.info("RFC 2217 %s:%d: EN/IO0 -> %s", self.host, self.port, mode)
        if self.on_reset is not None:
            self.on_reset(mode)

    def set_baud(self, baud: int) -> None:
        self.module_baud = baud

    # ------------------------------------------------------- TCP callbacks
    def _attach(self, conn: _HostConnection) -> None:
        previous = self.current
        super()._attach(conn)
        if self.current is conn and conn is not previous:
            self.lines = EmulatedLines(self)
            self._manager = rfc2217.PortManager(self.lines, _Connection(conn), logger=None)

    def _detach(self, conn: _HostConnection) -> None:
        was_current = conn is self.current
        super()._detach(conn)
        if was_current:
            self._manager = None
            # the USB-serial bridge goes away: both lines released, no reset edge
            self.lines._dtr = self.lines._rts = False

    def _received(self, conn: _HostConnection, data: bytes) -> None:
        if conn is not self.current or self._manager is None:
            return
        payload = b"".join(self._manager.filter(data))
        if payload:
            payload = garble(payload, self.lines.baudrate, self.module_baud)
            super()._received(conn, payload)

    async def write(self, data: bytes) -> None:
        if self._manager is None:
            return  # nobody on the line
        data = garble(data, self.module_baud, self.lines.baudrate)
        await super().write(b"".join(self._manager.escape(data)))

    def describe(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"rfc2217://{host}:{self.port}"
