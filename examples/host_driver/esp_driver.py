"""A small host driver for an ESP-AT module, the kind that runs on a Raspberry Pi
or in a gateway: it speaks AT over a serial port with pyserial.

It is deliberately ordinary - a line reader, a command with retries on
``busy p...``, a table of status messages - so its tests show how to test a
real driver against esp-at-sim (see ``test_esp_driver.py``).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

import serial

FINAL = {b"OK", b"ERROR", b"SEND OK", b"SEND FAIL"}
URCS = (b"WIFI CONNECTED", b"WIFI GOT IP", b"WIFI DISCONNECT", b"ready")


class AtError(Exception):
    def __init__(self, command: str, lines: list[bytes]) -> None:
        super().__init__(f"{command} failed: {b' | '.join(lines).decode(errors='replace')}")
        self.command = command
        self.lines = lines

    @property
    def code(self) -> int | None:
        """The ``+CWJAP:<code>`` style error code, when the module gave one."""
        for line in self.lines:
            m = re.match(rb"\+\w+:(\d+)$", line)
            if m:
                return int(m.group(1))
        return None


@dataclass
class EspAtDriver:
    port: str
    baudrate: int = 115200
    timeout: float = 5.0
    busy_retries: int = 5
    events: list[str] = field(default_factory=list)  # status messages seen (WIFI DISCONNECT...)

    def __post_init__(self) -> None:
        self.serial = serial.Serial(self.port, self.baudrate, timeout=0.1)

    def close(self) -> None:
        self.serial.close()

    def __enter__(self) -> EspAtDriver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -------------------------------------------------------------- lines
    def _readline(self, deadline: float) -> bytes:
        buf = bytearray()
        while time.monotonic() < deadline:
            chunk = self.serial.read_until(b"\n")
            buf += chunk
            if buf.endswith(b"\n"):
                return bytes(buf).rstrip(b"\r\n")
        raise TimeoutError(f"no line from the module (got {bytes(buf)!r})")

    def _note(self, line: bytes) -> bool:
        if line in URCS:
            self.events.append(line.decode())
            return True
        return False

    # ----------------------------------------------------------- commands
    def command(self, cmd: str, timeout: float | None = None) -> list[bytes]:
        """Send ``cmd``; return the lines of its reply; raise AtError on ERROR."""
        for attempt in range(self.busy_retries + 1):
            self.serial.write(cmd.encode() + b"\r\n")
            deadline = time.monotonic() + (timeout or self.timeout)
            lines: list[bytes] = []
            busy = False
            while True:
                line = self._readline(deadline)
                if not line or line == cmd.encode() or self._note(line):
                    continue  # blank line, echo or status message
                if line.startswith(b"busy p"):
                    busy = True
                    break
                if line in FINAL:
                    if line == b"ERROR":
                        raise AtError(cmd, lines)
                    return lines
                lines.append(line)
            if busy and attempt < self.busy_retries:
                time.sleep(0.2 * (attempt + 1))
        raise AtError(cmd, [b"busy p..."])

    def wait_event(self, name: str, timeout: float = 10.0) -> None:
        """Wait for a status message such as ``WIFI DISCONNECT``."""
        deadline = time.monotonic() + timeout
        while name not in self.events:
            self._note(self._readline(deadline))

    # ------------------------------------------------------------ features
    def ping(self) -> bool:
        try:
            self.command("AT", timeout=1.0)
            return True
        except (AtError, TimeoutError):
            return False

    def version(self) -> str:
        for line in self.command("AT+GMR"):
            if line.startswith(b"AT version:"):
                return line.split(b":", 1)[1].split(b"(", 1)[0].decode()
        raise AtError("AT+GMR", [b"no version line"])

    def chip(self) -> str:
        """The target in the version line: ``AT version:4.1.1.0(s-32ff6e1 - ESP32 - ...)``."""
        for line in self.command("AT+GMR"):
            m = re.match(rb"AT version:[^(]*\(.*? - (\w+) - ", line)
            if m:
                return m.group(1).decode()
        raise AtError("AT+GMR", [b"no version line"])

    def join(self, ssid: str, password: str, timeout: float = 20.0) -> str:
        """Join an access point; returns the IP address."""
        self.command("AT+CWMODE=1")
        self.command(f'AT+CWJAP="{ssid}","{password}"', timeout=timeout)
        for line in self.command("AT+CIPSTA?"):
            m = re.match(rb'\+CIPSTA:ip:"([\d.]+)"', line)
            if m:
                return m.group(1).decode()
        raise AtError("AT+CIPSTA?", [b"no ip"])
