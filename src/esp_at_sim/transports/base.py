"""The transport interface: something that moves UART bytes, nothing more.

Transports are opened from URL-like names::

    pty:/tmp/esp0            a pseudo-terminal with a stable symlink
    tcp-server:HOST:PORT     the raw byte stream on TCP, one host at a time
    serial:/dev/ttyUSB0      a real serial device (optionally ",BAUD")
    rfc2217:HOST:PORT        an RFC 2217 serial port server
    stdio                    standard input and output

Every transport has the awaitable pair ``read()``/``write()``. Two optional
fast paths let a reply leave in the same turn of the event loop as the command
that caused it: ``start_push(deliver)`` hands the host's bytes to a callback
straight from the loop's reader callback (with ``pause_push``/``resume_push``
for flow control), and ``write_nowait(data)`` writes what fits without
waiting. The driver uses them where a transport offers them (pty, TCP) and
falls back to ``read``/``write`` otherwise.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from types import TracebackType

from esp_at_sim.errors import ConfigError


class Transport(ABC):
    """Moves bytes between a host and a module's UART."""

    #: set by transports that learn about a reset line (RTS/DTR) or a baud change
    on_reset: object = None
    #: the host's bytes wait (in a pipe) until the module has printed ``ready``
    #: instead of being lost during boot, as on a real UART (stdio)
    waits_for_ready: bool = False

    @abstractmethod
    async def read(self) -> bytes:
        """Bytes from the host; ``b""`` once the transport is closed for good."""

    @abstractmethod
    async def write(self, data: bytes) -> None:
        """Bytes to the host; waits when the host does not keep up."""

    async def open(self) -> None:  # noqa: B027 - optional hook
        """Acquire resources (called once before the first read/write)."""

    @abstractmethod
    async def close(self) -> None: ...

    def start_push(self, deliver: Callable[[bytes], None]) -> bool:
        """Hand the host's bytes to ``deliver`` as they arrive (from the event
        loop's reader callback) instead of through :meth:`read`. Returns False
        if this transport cannot; then :meth:`read` is used."""
        return False

    def pause_push(self) -> None:  # noqa: B027 - optional hook
        """Stop taking the host's bytes for now (flow control); they wait in
        the host's buffers."""

    def resume_push(self) -> None:  # noqa: B027 - optional hook
        """Take the host's bytes again after :meth:`pause_push`."""

    def write_nowait(self, data: bytes) -> int:
        """Write what can be written without waiting; returns how many bytes
        were taken (0: none, use :meth:`write`). Bytes a transport drops
        (nobody listening) count as taken."""
        return 0

    def describe(self) -> str:
        return type(self).__name__

    def set_baud(self, baud: int) -> None:  # noqa: B027 - optional hook
        """The module changed its baud rate (AT+UART_CUR)."""

    async def __aenter__(self) -> Transport:
        await self.open()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()


def open_transport(url: str) -> Transport:
    """Make a transport from its name (see the module docstring)."""
    kind, _, rest = url.partition(":")
    if kind == "pty":
        from esp_at_sim.transports.pty import PtyTransport

        transport: Transport = PtyTransport(rest or None)
        return transport
    if kind in ("tcp", "tcp-server"):
        from esp_at_sim.transports.tcp import TcpServerTransport

        host, _, port = rest.rpartition(":")
        if not port.isdigit():
            raise ConfigError(f"bad TCP address {rest!r}; expected HOST:PORT")
        transport = TcpServerTransport(host.strip("[]") or "127.0.0.1", int(port))
        return transport
    if kind == "serial":
        from esp_at_sim.transports.serial import SerialTransport

        dev, _, baud = rest.partition(",")
        if baud and not baud.isdigit():
            raise ConfigError(f"bad baud rate {baud!r} in {url!r}")
        transport = SerialTransport(dev, int(baud) if baud else 115200)
        return transport
    if kind == "rfc2217":
        from esp_at_sim.transports.rfc2217 import Rfc2217Transport

        host, _, port = rest.rpartition(":")
        if not port.isdigit():
            raise ConfigError(f"bad RFC 2217 address {rest!r}; expected HOST:PORT")
        transport = Rfc2217Transport(host or "127.0.0.1", int(port))
        return transport
    if kind == "stdio":
        from esp_at_sim.transports.stdio import StdioTransport

        transport = StdioTransport()
        return transport
    raise ConfigError(f"unknown transport {url!r}")
