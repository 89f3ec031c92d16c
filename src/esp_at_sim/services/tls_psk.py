"""TLS-PSK links (AT+CIPSSLCPSK / AT+CIPSSLCPSKHEX) with mbed TLS.

Theory of operation
-------------------
esp-tls configures a pre-shared key with ``mbedtls_ssl_conf_psk`` only when no
CA certificate is set (AT+CIPSSLCCONF auth mode 0 or 1): the key is the PSK
and the AT "hint" is the identity the client sends; the handshake is TLS 1.2
with one of the PSK cipher suites. Python's ``ssl`` has no PSK before 3.13,
and the pure-Python stack tlslite-ng only knows TLS 1.3 external PSKs, not the
TLS 1.2 ``TLS_PSK_WITH_*`` suites. python-mbedtls wraps mbed TLS itself, the
library the firmware is built on, and works on memory buffers - so it runs
over any transport.

:class:`MbedTlsTransport` is that: an ``asyncio.Transport`` whose bytes go
through an mbed TLS context (:class:`mbedtls.tls.TLSWrappedBuffer`) to another
transport below it, a host socket or an in-world :class:`FabricTransport`.
:func:`start_psk_client` upgrades a connected link the way ``loop.start_tls``
does for certificate links; :func:`start_psk_server` does the server side (the
tests' PSK server). Flow control passes through: pausing the TLS transport
pauses the one below, and the lower transport's write pressure reaches the
protocol above.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from mbedtls import tls as mbedtls_tls
from mbedtls.exceptions import TLSError as MbedTlsError

#: the TLS 1.2 PSK suites mbed TLS offers (in its order of preference), as esp-tls does
PSK_CIPHERS = tuple(c for c in mbedtls_tls.ciphers_available() if "-PSK-" in c and "RSA-PSK" not in c)
RECORD = 16 * 1024  # bytes handed to mbed TLS per write: one record
PEER_CLOSE_NOTIFY = 0x7880  # MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY


class PskHandshakeError(Exception):
    """The handshake failed: the peer refused the key, or spoke no PSK suite."""


class _MbedTlsLayer(asyncio.Protocol):
    """The protocol of the lower transport: feeds mbed TLS and delivers plaintext up."""

    def __init__(
        self, buffer: mbedtls_tls.TLSWrappedBuffer, app: asyncio.BaseProtocol, *, call_connection_made: bool
    ) -> None:
        loop = asyncio.get_running_loop()
        self.call_connection_made = call_connection_made
        # Any: the package's stubs miss the ring buffers and the handshake state
        self.buffer: Any = buffer
        self.app = app
        self.raw: asyncio.Transport | None = None
        self.handshake: asyncio.Future[None] = loop.create_future()
        self.transport = MbedTlsTransport(self)
        self.pending = bytearray()  # ciphertext mbed TLS has no room for yet
        self.app_paused = False
        self.eof = False
        self.raw_eof = False
        self.closed_up = False
        self.lost = False

    # ----------------------------------------------------- lower transport
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.raw = transport
        self._advance()

    def data_received(self, data: bytes) -> None:
        self.pending += data
        self._advance()

    def eof_received(self) -> bool:
        self.raw_eof = True  # a FIN without close_notify: what arrived before it still counts
        self._advance()
        return True  # the layer closes once the plaintext is delivered

    def connection_lost(self, exc: Exception | None) -> None:
        if self.lost:
            return
        self.lost = True
        if not self.handshake.done():
            self.handshake.set_exception(PskHandshakeError(str(exc) if exc else "connection closed in the handshake"))
            return
        self.app.connection_lost(exc)

    def pause_writing(self) -> None:
        if self.handshake.done():
            self.app.pause_writing()

    def resume_writing(self) -> None:
        if self.handshake.done():
            self.app.resume_writing()

    # ------------------------------------------------------------- engine
    def _feed(self) -> bool:
        """Give mbed TLS the next whole record, once it has used up the last one.

        One record at a time because the binding's ``read`` keeps reading until
        it has as many bytes as asked for, and drops what it has when an alert
        follows in the same buffer (data and close_notify often arrive together).
        """
        ring = self.buffer._input_buffer
        if len(ring) or len(self.pending) < 5:
            return False
        size = 5 + int.from_bytes(self.pending[3:5], "big")
        if len(self.pending) < size:
            return False
        record = bytes(self.pending[:size])
        del self.pending[:size]
        self.buffer.receive_from_network(record)
        return True

    def flush(self) -> None:
        while True:
            out = self.buffer.peek_outgoing(RECORD * 2)
            if not out:
                return
            self.buffer.consume_outgoing(len(out))
            if self.raw is not None and not self.raw.is_closing():
                self.raw.write(out)

    def _advance(self) -> None:
        if self.lost:
            return
        try:
            if not self.handshake.done():
                self._handshake_step()
                if not self.handshake.done():
                    return
            self._read_plaintext()
        except MbedTlsError as exc:
            self.flush()  # the alert, if mbed TLS made one
            if not self.handshake.done():
                self.handshake.set_exception(PskHandshakeError(str(exc)))
            if self.raw is not None:
                self.raw.abort()

    def _handshake_step(self) -> None:
        over = mbedtls_tls.HandshakeStep.HANDSHAKE_OVER
        while self.buffer._handshake_state is not over:
            self._feed()
            try:
                self.buffer.do_handshake()  # one step; raises when it needs the peer
            except mbedtls_tls.WantWriteError:
                self.flush()  # records are out; the next step can go on at once
                continue
            except mbedtls_tls.WantReadError:
                self.flush()
                if self._feed():
                    continue
                if self.raw_eof:
                    raise MbedTlsError(msg="connection closed in the handshake") from None
                return
            self.flush()
        self.flush()
        self.handshake.set_result(None)
        if self.call_connection_made:
            self.app.connection_made(self.transport)

    def _read_plaintext(self) -> None:
        while not self.app_paused and not self.eof:
            self._feed()
            before = len(self.buffer._input_buffer)
            try:
                data = self.buffer.read(RECORD)
            except (mbedtls_tls.WantReadError, mbedtls_tls.WantWriteError):
                data = b""
            except MbedTlsError as exc:
                if getattr(exc, "err", None) != PEER_CLOSE_NOTIFY:
                    raise
                self.eof = True  # close_notify: the peer is done
                break
            if data:
                self.app.data_received(data)  # type: ignore[attr-defined]  # a BaseProtocol has none
                continue
            # nothing decrypted (a record without application data, or none yet)
            ring = len(self.buffer._input_buffer)
            if (ring and ring < before) or (not ring and len(self.pending) >= 5 and self._feed()):
                continue
            break
        self.flush()
        if self.raw_eof and not self.pending and not self.app_paused:
            self.eof = True
        if self.eof and not self.app_paused and not self.closed_up:
            self.closed_up = True
            keep = self.app.eof_received() if hasattr(self.app, "eof_received") else False
            if not keep and self.raw is not None:
                self.raw.close()

    # ------------------------------------------------------------ writing
    def write(self, data: bytes) -> None:
        # one record at a time: the buffer takes a whole record (and returns the
        # ciphertext size), the output ring holds two
        for i in range(0, len(data), RECORD):
            self.buffer.write(data[i : i + RECORD])
            self.flush()


class MbedTlsTransport(asyncio.Transport):
    """The plaintext side of a TLS session run by mbed TLS."""

    def __init__(self, layer: _MbedTlsLayer) -> None:
        super().__init__()
        self._layer = layer
        self._closing = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name == "cipher":
            return self._layer.buffer.cipher()
        if name == "mbedtls":
            return self._layer.buffer
        if name in ("ssl_object", "peercert"):
            return default
        raw = self._layer.raw
        return raw.get_extra_info(name, default) if raw is not None else default

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._layer.app = protocol

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._layer.app

    def is_reading(self) -> bool:
        return not self._layer.app_paused

    def pause_reading(self) -> None:
        self._layer.app_paused = True
        if self._layer.raw is not None and not self._layer.raw.is_closing():
            self._layer.raw.pause_reading()

    def resume_reading(self) -> None:
        if not self._layer.app_paused:
            return
        self._layer.app_paused = False
        if self._layer.raw is not None and not self._layer.raw.is_closing():
            self._layer.raw.resume_reading()
        asyncio.get_running_loop().call_soon(self._layer._advance)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._closing or self._layer.lost:
            return
        self._layer.write(bytes(data))

    def writelines(self, list_of_data: Any) -> None:
        for data in list_of_data:
            self.write(data)

    def can_write_eof(self) -> bool:
        return False

    def get_write_buffer_size(self) -> int:
        raw = self._layer.raw
        return raw.get_write_buffer_size() if raw is not None else 0

    def is_closing(self) -> bool:
        return self._closing or self._layer.lost

    def close(self) -> None:
        """close_notify, then close the transport below."""
        if self._closing:
            return
        self._closing = True
        with contextlib.suppress(Exception):
            self._layer.buffer.shutdown()
            self._layer.flush()
        if self._layer.raw is not None:
            self._layer.raw.close()

    def abort(self) -> None:
        self._closing = True
        if self._layer.raw is not None:
            self._layer.raw.abort()


def client_configuration(identity: str, key: bytes, ciphers: list[str] | None = None) -> mbedtls_tls.TLSConfiguration:
    return mbedtls_tls.TLSConfiguration(
        validate_certificates=False,
        ciphers=tuple(ciphers or PSK_CIPHERS),
        lowest_supported_version=mbedtls_tls.TLSVersion.TLSv1_2,
        highest_supported_version=mbedtls_tls.TLSVersion.TLSv1_2,
        pre_shared_key=(identity, key),
    )


def server_configuration(keys: dict[str, bytes]) -> mbedtls_tls.TLSConfiguration:
    return mbedtls_tls.TLSConfiguration(
        validate_certificates=False,
        ciphers=PSK_CIPHERS,
        lowest_supported_version=mbedtls_tls.TLSVersion.TLSv1_2,
        highest_supported_version=mbedtls_tls.TLSVersion.TLSv1_2,
        pre_shared_key_store=keys,
    )


async def _upgrade(
    raw: asyncio.Transport, app: asyncio.BaseProtocol, buffer: mbedtls_tls.TLSWrappedBuffer, call_connection_made: bool
) -> MbedTlsTransport:
    layer = _MbedTlsLayer(buffer, app, call_connection_made=call_connection_made)
    raw.set_protocol(layer)
    layer.connection_made(raw)
    if hasattr(raw, "resume_reading") and not raw.is_reading():
        raw.resume_reading()
    try:
        await layer.handshake
    except BaseException:
        if not raw.is_closing():
            raw.abort()
        raise
    return layer.transport


async def start_psk_client(
    raw: asyncio.Transport,
    app: asyncio.BaseProtocol,
    identity: str,
    key: bytes,
    *,
    server_hostname: str | None = None,
    call_connection_made: bool = False,
) -> MbedTlsTransport:
    """Run a TLS 1.2 PSK handshake as a client over ``raw``; raises PskHandshakeError.
    Like ``loop.start_tls``, the protocol's ``connection_made`` is not called unless asked."""
    ctx = mbedtls_tls.ClientContext(client_configuration(identity, key))
    return await _upgrade(raw, app, ctx.wrap_buffers(server_hostname), call_connection_made)


async def start_psk_server(
    raw: asyncio.Transport, app: asyncio.BaseProtocol, keys: dict[str, bytes], *, call_connection_made: bool = True
) -> MbedTlsTransport:
    """Run a TLS 1.2 PSK handshake as a server over ``raw`` (``keys``: identity -> key);
    raises PskHandshakeError. The protocol sees ``connection_made`` once the handshake is over."""
    ctx = mbedtls_tls.ServerContext(server_configuration(keys))
    return await _upgrade(raw, app, ctx.wrap_buffers(), call_connection_made)


__all__ = ["PSK_CIPHERS", "MbedTlsTransport", "PskHandshakeError", "start_psk_client", "start_psk_server"]
