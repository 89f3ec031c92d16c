"""The module's HTTP client: one request per exchange, HTTP/1.1 through h11.

Theory of operation
-------------------
:class:`HttpExchange` opens a TCP (or TLS) stream through the module's
:class:`NetIf` (no network, no request), writes one request and reads the
response with h11, which also undoes chunked transfer encoding. It knows
nothing of AT: the commands decide how to print what it yields.

Body bytes are delivered the way esp_http_client hands them to the firmware:

* ``reads(size)`` - socket reads into a ``size``-byte buffer that also holds
  the response head, so the first piece is what is left of the buffer after
  the headers (AT+HTTPCLIENT, AT+HTTPCPOST: ``+HTTPCPOST:281,...`` then 512s);
* ``fill(size)`` - full ``size``-byte pieces, the last one shorter
  (AT+HTTPCGET with its ``<rx size>``).

h11 parses the response head. A body whose length the head gives in
``Content-Length`` is then read straight from the socket and counted here:
h11 would only copy it through its receive buffer, three times per read, and
a megabyte body makes that the largest cost of the exchange. Chunked bodies,
bodies up to the close and bodies that cannot have one (HEAD, 204, 304) stay
with h11.

Failures are :class:`HttpError` with the firmware's HTTP error number:
``0x7000`` for a connection that cannot be made or breaks, the status code
for a response the firmware treats as failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import h11

from esp_at_sim.services.netif import NetIf, NoNetwork
from esp_at_sim.services.piece_reader import PieceReader
from esp_at_sim.services.tls import TlsConfigError, check_validity

if TYPE_CHECKING:
    from esp_at_sim.device.module import Module

USER_AGENT = "ESP32 HTTP Client/1.0"
CONNECTION_FAILED = 0x000
READ_SIZE = 512  # esp_http_client's default buffer
BULK_READ = 256 * 1024  # socket reads where the firmware's buffer size does not show


class HttpError(Exception):
    """``code`` is the low 12 bits of ``0x7xxx``: 0 or an HTTP status."""

    def __init__(self, code: int, why: str = "") -> None:
        super().__init__(why or f"http error {code}")
        self.code = code


@dataclass(frozen=True)
class Url:
    scheme: str
    host: str
    port: int
    target: str

    @property
    def secure(self) -> bool:
        return self.scheme in ("https", "wss")

    @property
    def host_header(self) -> str:
        default = 443 if self.secure else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"


def parse_url(url: str, *, schemes: tuple[str, ...] = ("http", "https")) -> Url:
    """Split a URL; raises ValueError for what http_parser_parse_url rejects."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in schemes or not parts.hostname:
        raise ValueError(url)
    try:
        port = parts.port
    except ValueError:
        raise ValueError(url) from None
    secure = scheme in ("https", "wss")
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    return Url(scheme, parts.hostname, port or (443 if secure else 80), target)


@dataclass
class Response:
    status: int
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)

    def header(self, name: bytes) -> bytes | None:
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    @property
    def content_length(self) -> int | None:
        v = self.header(b"content-length")
        try:
            return None if v is None else int(v)
        except ValueError:
            return None


class HttpExchange:
    """One request and its response over a fresh connection."""

    def __init__(self, module: Module, url: Url, *, timeout: float = 5.0, tls: ssl.SSLContext | None = None) -> None:
        self.module = module
        self.url = url
        self.timeout = timeout
        self.tls = tls
        self.conn = h11.Connection(h11.CLIENT, max_incomplete_event_size=64 * 1024)
        self.response: Response | None = None
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._pending: list[bytes] = []  # body bytes parsed but not handed out yet
        self._done = False
        self._method = "GET"
        #: body bytes still to come when the body is counted here, not by h11
        self._counted: int | None = None

    # ------------------------------------------------------------ request
    async def send(
        self, method: str, headers: list[tuple[str, str]], body: bytes = b"", *, tx_size: int | None = None
    ) -> Response:
        if self.url.secure and self.tls is None:
            raise HttpError(CONNECTION_FAILED, "TLS requested without a TLS configuration")
        names = {k.lower() for k, _ in headers}
        hdrs = [("Host", self.url.host_header), ("User-Agent", USER_AGENT)]
        hdrs = [h for h in hdrs if h[0].lower() not in names] + headers
        if method not in ("GET", "HEAD") and "content-length" not in names:
            hdrs.append(("Content-Length", str(len(body))))
        request = h11.Request(method=method, target=self.url.target, headers=hdrs)
        self._method = method
        try:
            head = self.conn.send(request)
        except h11.LocalProtocolError as exc:
            raise HttpError(CONNECTION_FAILED, str(exc)) from None
        if tx_size is not None and len(head) > tx_size:
            self.module.chip_log(f"E HTTP_CLIENT: Out of buffer ({len(head)} > {tx_size})")
            raise HttpError(CONNECTION_FAILED, "request head larger than the tx buffer")
        try:
            netif = self.module.service(NetIf)
            self._reader, self._writer = await self.module.clock.wait_for(
                netif.open_connection(
                    self.url.host,
                    self.url.port,
                    ssl=self.tls,
                    server_hostname=self.url.host if self.tls else None,
                    limit=BULK_READ,
                    reader_class=PieceReader,
                ),
                self.timeout,
            )
        except (NoNetwork, LookupError, OSError, TimeoutError, ssl.SSLError) as exc:
            self.module.chip_log(f"E HTTP_CLIENT: Connection failed, sock < 0 ({exc!r})")
            raise HttpError(CONNECTION_FAILED, repr(exc)) from None
        if self.tls is not None:
            try:
                check_validity(self.module, self._writer)
            except TlsConfigError as exc:
                self.module.chip_log(f"E esp-tls-mbedtls: {exc}")
                await self.close()
                raise HttpError(CONNECTION_FAILED, str(exc)) from None
        out = head
        if body:
            out += self.conn.send(h11.Data(data=body))
        out += self.conn.send(h11.EndOfMessage()) or b""
        try:
            self._writer.write(out)
            await self._writer.drain()
        except OSError as exc:
            raise HttpError(CONNECTION_FAILED, repr(exc)) from None
        return await self._read_head()

    async def _feed(self, size: int) -> None:
        assert self._reader is not None
        try:
            # asyncio.timeout, not wait_for: no task per read on the bulk path
            async with asyncio.timeout(self.module.clock.real_seconds(self.timeout)):
                data = await self._reader.read(size)
        except (OSError, TimeoutError, ssl.SSLError) as exc:
            raise HttpError(CONNECTION_FAILED, repr(exc)) from None
        self.conn.receive_data(data)

    def _next(self) -> h11.Event | type[h11.NEED_DATA] | type[h11.PAUSED]:
        try:
            return self.conn.next_event()
        except h11.RemoteProtocolError as exc:
            raise HttpError(CONNECTION_FAILED, str(exc)) from None

    async def _read_head(self) -> Response:
        while True:
            ev = self._next()
            if ev is h11.NEED_DATA:
                await self._feed(READ_SIZE)
                continue
            if isinstance(ev, h11.InformationalResponse):
                continue
            if isinstance(ev, h11.Response):
                self.response = Response(ev.status_code, list(ev.headers.raw_items()))
                self._counted = self._counted_length(self.response)
                if self._counted is None:
                    self._drain_parsed()
                else:
                    # what came with the head is already in h11's buffer
                    self._take_counted(self.conn.trailing_data[0])
                return self.response
            raise HttpError(CONNECTION_FAILED, f"unexpected {ev!r}")

    def _counted_length(self, resp: Response) -> int | None:
        """The body length when a plain ``Content-Length`` delimits the body
        (the head already passed h11's checks); None leaves the body to h11."""
        if self._method == "HEAD" or resp.status in (204, 304):
            return None
        lengths = [v for k, v in resp.headers if k.lower() == b"content-length"]
        if resp.header(b"transfer-encoding") is not None or len(lengths) != 1 or not lengths[0].isdigit():
            return None
        return int(lengths[0]) or None

    def _take_counted(self, data: bytes) -> None:
        assert self._counted is not None
        if len(data) > self._counted:
            data = data[: self._counted]  # anything after the body is not ours
        if data:
            self._pending.append(data)
            self._counted -= len(data)
        self._done = self._counted == 0

    async def _read_counted(self, size: int) -> bytes:
        assert self._reader is not None and self._counted is not None
        try:
            async with asyncio.timeout(self.module.clock.real_seconds(self.timeout)):
                data = await self._reader.read(min(size, self._counted))
        except (OSError, TimeoutError, ssl.SSLError) as exc:
            raise HttpError(CONNECTION_FAILED, repr(exc)) from None
        if not data:
            raise HttpError(CONNECTION_FAILED, "connection closed mid-body")
        self._counted -= len(data)
        self._done = self._counted == 0
        return data

    def _drain_parsed(self) -> None:
        """Move body bytes h11 already has (from the same socket read) to ``_pending``."""
        while not self._done:
            ev = self._next()
            if isinstance(ev, h11.Data):
                self._pending.append(bytes(ev.data))
            elif isinstance(ev, h11.EndOfMessage):
                self._done = True
            else:
                return

    # ------------------------------------------------------------- body
    async def reads(self, size: int = READ_SIZE) -> AsyncIterator[bytes]:
        """Body pieces as socket reads into a ``size``-byte buffer deliver them."""
        first = b"".join(self._pending)
        self._pending.clear()
        for i in range(0, len(first), size):
            yield first[i : i + size]
        while not self._done:
            if self._counted is not None:
                yield await self._read_counted(size)
                continue
            await self._feed(size)
            self._drain_parsed()
            got = b"".join(self._pending)
            self._pending.clear()
            if got:
                yield got
            elif not self._done and self.conn.their_state is h11.SEND_BODY and self._eof():
                raise HttpError(CONNECTION_FAILED, "connection closed mid-body")

    async def fill(self, size: int) -> AsyncIterator[list[bytes | memoryview]]:
        """The body in pieces of exactly ``size`` bytes (the last may be shorter):
        yields, for each socket read, the pieces it completed. They are views of
        the bytes read; only a piece that spans reads is put together."""
        carry = b""
        async for data in self.reads(BULK_READ):
            view = memoryview(data)
            pieces: list[bytes | memoryview] = []
            start = 0
            if carry:
                start = size - len(carry)
                if len(data) < start:
                    carry += data
                    continue
                pieces.append(carry + view[:start])
            end = start + (len(data) - start) // size * size
            pieces += [view[i : i + size] for i in range(start, end, size)]
            carry = bytes(view[end:])
            if pieces:
                yield pieces
        if carry:
            yield [carry]

    def _eof(self) -> bool:
        return self._reader is not None and self._reader.at_eof()

    async def close(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
