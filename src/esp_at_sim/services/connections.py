"""Making links: client connections (AT+CIPSTART) and the server (AT+CIPSERVER).

A client link resolves its host through :class:`NetIf`, reserves its heap
(``tcp_link``/``udp_link``, plus ``tls_session`` for SSL) and connects - in the
world when the address is another module's, through a host socket otherwise.
SSL is a plain connection upgraded with ``loop.start_tls`` on either kind of
transport. A ``v6`` type takes IPv6 addresses only and the others IPv4 only
(lwIP's getaddrinfo with the family as hint): an IPv4 literal with "TCPv6"
does not resolve. The server listens through :meth:`NetIf.start_server` and turns each
accepted connection into a link with the lowest free id, refusing it beyond
AT+CIPSERVERMAXCONN.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from typing import TYPE_CHECKING, Any

from esp_at_sim.services import tls
from esp_at_sim.services.links import DatagramLinkProtocol, Link, LinkTable, ServerConfig, StreamLinkProtocol
from esp_at_sim.services.netif import AP, STA
from esp_at_sim.world.net import Address, is_ipv6

if TYPE_CHECKING:
    from esp_at_sim.device.heap import Allocation

EINVAL = 22
ETIMEDOUT = 110
HANDSHAKE_TIMEOUT = 10.0  # per packet on the chip; one budget for the whole handshake here
CONNECT_TIMEOUT = 20.0  # lwIP's SYN retries give up after about this long


class ConnectFailed(Exception):
    def __init__(self, message: str, errno: int = 0) -> None:
        super().__init__(message)
        self.errno = errno


def _family(kind: str) -> int:
    return socket.AF_INET6 if kind.endswith("v6") else socket.AF_INET


def _alloc(table: LinkTable, kind: str) -> list[Allocation]:
    heap = table.module.heap
    allocs = [heap.alloc_kind("udp_link" if kind.startswith("UDP") else "tcp_link")]
    if kind.startswith("SSL"):
        try:
            allocs.append(heap.alloc_kind("tls_session"))
        except Exception:
            allocs[0].free()
            raise
    return allocs


def _iface_for(table: LinkTable, ip: str | None) -> str:
    netif = table.netif
    own = netif.iface_of(ip) if ip is not None else None
    if own is not None:
        return own  # a server link: the interface of the local address
    if ip is not None and (netif.is_virtual(ip) or is_ipv6(ip)):
        try:
            iface = netif.iface_of(netif.source_ip(ip))
        except OSError:
            iface = None
        if iface is not None:
            return iface
    return STA if STA in netif.interfaces else next(iter(netif.interfaces), AP)


async def open_client(
    table: LinkTable,
    link_id: int,
    kind: str,
    host: str,
    port: int,
    *,
    keep_alive: int | None = None,
    timeout_ms: int = 0,
    local_port: int = 0,
    udp_mode: int = 0,
    ssl_config: tls.SslClientConfig | None = None,
    local_ip: str | None = None,
) -> Link:
    """Open a client link and add it to the table; raises ConnectFailed, LookupError,
    NoNetwork, HeapExhausted or TlsError. ``local_ip`` is the <"local IP"> to bind."""
    module = table.module
    netif = table.netif
    netif.require()
    family = _family(kind)
    loop = asyncio.get_running_loop()
    budget = timeout_ms / 1000 if timeout_ms else None
    try:
        addr = await module.clock.wait_for(netif.resolve(host, family), budget or 30.0)
    except TimeoutError:
        module.chip_log(f"at-net: getaddrinfo() did not return within {timeout_ms}ums")
        raise LookupError(host) from None
    if is_ipv6(addr) != (family == socket.AF_INET6):
        module.chip_log(f"at-net: {host} has no {'IPv6' if family == socket.AF_INET6 else 'IPv4'} address")
        raise LookupError(host)
    if local_ip and is_ipv6(local_ip) != (family == socket.AF_INET6):
        # lwIP's bind() refuses an address of the other IP version (ERR_VAL)
        raise ConnectFailed(f"cannot bind {local_ip} for {kind}", EINVAL)
    allocs = _alloc(table, kind)
    own_local = local_ip if local_ip and netif.iface_of(local_ip) is not None else None
    iface = netif.iface_of(own_local) if own_local else _iface_for(table, addr)
    link = Link(table, link_id, kind, (addr, port), udp_mode=udp_mode, iface=iface or STA)
    link.allocs = allocs
    try:
        if kind.startswith("UDP"):
            await _open_udp(table, link, local_port, family, local_ip)
        elif local_ip and own_local is None:
            await _unanswered_connect(table, local_ip, budget)
        else:
            await _open_stream(table, link, addr, port, family, budget, own_local)
            if keep_alive is not None:
                table.tcp_options(link_id).keep_alive = keep_alive
            if link.transport is not None:
                table.tcp_options(link_id).apply(link.transport)
            if kind.startswith("SSL"):
                await _start_tls_client(table, link, host, ssl_config or tls.SslClientConfig(), budget)
    except BaseException:
        for a in allocs:
            a.free()
        link.gone = True
        tr = link.transport
        if tr is not None and not tr.is_closing():
            tr.abort() if hasattr(tr, "abort") else tr.close()
        raise
    del loop
    table.add(link)
    return link


async def _unanswered_connect(table: LinkTable, local_ip: str, budget: float | None) -> None:
    """A <"local IP"> that is not this module's: lwIP binds it without a check and
    sends the SYN from it, and the answer goes to whoever owns that address - the
    connection attempt times out."""
    table.module.chip_log(f"at-net: {local_ip} is not an address of this module")
    await table.module.clock.sleep(budget or CONNECT_TIMEOUT)
    raise ConnectFailed("connect timed out", ETIMEDOUT)


async def _open_stream(
    table: LinkTable,
    link: Link,
    addr: str,
    port: int,
    family: int,
    budget: float | None,
    local_ip: str | None = None,
) -> None:
    protocol = StreamLinkProtocol(link)
    try:
        transport, _ = await table.module.clock.wait_for(
            table.netif.create_connection(lambda: protocol, addr, port, family=family, local_ip=local_ip),
            budget or CONNECT_TIMEOUT,
        )
    except TimeoutError:
        raise ConnectFailed("connect timed out", ETIMEDOUT) from None
    except OSError as exc:
        raise ConnectFailed(str(exc), exc.errno or 104) from None
    link.transport = transport
    sock = transport.get_extra_info("sockname")
    if sock:
        link.local_port = int(sock[1])


async def _open_udp(table: LinkTable, link: Link, local_port: int, family: int, local_ip: str | None = None) -> None:
    netif = table.netif
    try:
        transport, _ = await netif.create_datagram(lambda: DatagramLinkProtocol(link), local_port, family=family)
    except OSError as exc:
        raise ConnectFailed(str(exc), exc.errno or 98) from None
    link.transport = transport
    link.local_port = local_port or int(transport.get_extra_info("sockname")[1])
    addresses = netif.addresses(v6=family == socket.AF_INET6)
    if local_ip:
        addresses = [ip for ip in addresses if ip == local_ip]  # bound to one address: only it receives
    for ip in addresses:
        try:
            table.fabric.bind_udp(ip, link.local_port, link.on_datagram, owner=link)
            link.fabric_bound.append(ip)
        except OSError:
            pass


async def _start_tls_client(
    table: LinkTable, link: Link, host: str, cfg: tls.SslClientConfig, budget: float | None
) -> None:
    module = table.module
    transport = link.transport
    assert transport is not None
    protocol = transport.get_protocol()
    server_hostname = cfg.sni or None
    if server_hostname is None and not _is_ip(host):
        server_hostname = host  # esp-tls sends the host name as SNI
    if tls.uses_psk(cfg):
        await _start_psk_client(table, link, cfg, server_hostname, budget)
        return
    if cfg.psk:
        module.chip_log("esp-tls: a CA certificate is set (AT+CIPSSLCCONF), the PSK is not used")
    ctx = tls.link_client_context(module, cfg)
    loop = asyncio.get_running_loop()
    try:
        new = await module.clock.wait_for(
            loop.start_tls(transport, protocol, ctx, server_hostname=server_hostname), budget or HANDSHAKE_TIMEOUT
        )
    except TimeoutError:
        raise tls.TlsError("handshake timed out", 0x6800) from None
    except (ssl.SSLError, OSError, ConnectionError) as exc:
        module.chip_log(f"esp-tls: mbedtls_ssl_handshake returned -0x2700 ({exc})")
        raise tls.TlsError(str(exc)) from None
    if new is None:
        raise tls.TlsError("connection closed during handshake")
    link.transport = new
    try:
        tls.verify_peer(module, new.get_extra_info("ssl_object"), cfg)
    except tls.TlsError:
        new.abort()
        raise


async def _start_psk_client(
    table: LinkTable, link: Link, cfg: tls.SslClientConfig, server_hostname: str | None, budget: float | None
) -> None:
    """TLS 1.2 with a pre-shared key (AT+CIPSSLCPSK): the AT "hint" is the identity sent."""
    from esp_at_sim.services import tls_psk

    module = table.module
    transport = link.transport
    assert transport is not None
    try:
        new = await module.clock.wait_for(
            tls_psk.start_psk_client(
                transport, transport.get_protocol(), cfg.psk_hint, cfg.psk, server_hostname=server_hostname
            ),
            budget or HANDSHAKE_TIMEOUT,
        )
    except TimeoutError:
        raise tls.TlsError("handshake timed out", 0x6800) from None
    except tls_psk.PskHandshakeError as exc:
        module.chip_log(f"esp-tls: mbedtls_ssl_handshake returned -0x7780 ({exc})")
        raise tls.TlsError(str(exc), 0x7780) from None
    link.transport = new
    module.chip_log(f"esp-tls: PSK handshake done, {new.get_extra_info('cipher')}")


def _is_ip(host: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


# ------------------------------------------------------------------ server
async def start_server(table: LinkTable, port: int, kind: str, ca_enable: int, netif_sel: int) -> None:
    """AT+CIPSERVER=1: raises OSError when the port cannot be bound, TlsError for SSL without a certificate."""
    module = table.module
    ctx = tls.server_context(module, bool(ca_enable)) if kind.startswith("SSL") else None
    allocs = [module.heap.alloc_kind("server")]

    def accept(peer: Address, local: Address) -> asyncio.Protocol | None:
        server_links = sum(1 for lk in table.links.values() if lk.server)
        link_id = table.free_id()
        limit = 1 if table.ipmode == 1 else table.server_maxconn
        if link_id is None or server_links >= limit:
            module.chip_log(f"at-net: connect reach max: {limit}")
            return None
        try:
            link_allocs = _alloc(table, kind)
        except Exception:
            module.chip_log("at-net: accept failed")
            return None
        link = Link(table, link_id, kind, peer, server=True, iface=_iface_for(table, local[0]))
        link.allocs = link_allocs
        link.local_port = port
        table.add(link)
        if ctx is None:
            return _AcceptedProtocol(link)
        return _TlsAccept(link, ctx)

    stop = await table.netif.start_server(accept, port, family=_family(kind))

    def stop_all() -> None:
        stop()
        for a in allocs:
            a.free()

    table.server = ServerConfig(port, kind, ca_enable, netif_sel, stop_all)


class _AcceptedProtocol(StreamLinkProtocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        _announce(self.link)


def _announce(link: Link) -> None:
    table = link.table
    if link.transport is not None:
        table.tcp_options(link.id).apply(link.transport)
    if not table.module.in_passthrough and not _joins_passthrough_quietly(table):
        table.notice(table.fmt_connect(link))
    for fn in list(table.events.on_accept):
        fn(link)
    arm_timeout(link)


def _joins_passthrough_quietly(table: LinkTable) -> bool:
    """A client of the AT+SAVETRANSLINK=3 server enters passthrough by itself: its
    CONNECT follows AT+SYSMSG bit 2, like every connection message of passthrough mode
    (off by default). A server the host runs with AT+CIPMODE=1 says CONNECT as usual,
    and the host then sends AT+CIPSEND."""
    if table.server is None or not table.server.passthrough:
        return False
    sysmsg = int(table.module.settings.get("base", "sysmsg", 0) or 0)
    return not sysmsg & 0x4


class _TlsAccept(asyncio.Protocol):
    """Holds an accepted connection while the TLS handshake runs."""

    def __init__(self, link: Link, ctx: ssl.SSLContext) -> None:
        self.link = link
        self.ctx = ctx
        self.task: asyncio.Task[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.link.transport = transport
        transport.pause_reading()  # type: ignore[attr-defined]  # the ClientHello is for the TLS layer
        self.task = self.link.table.module.scope.spawn(self._handshake(transport), name="tls-accept")

    async def _handshake(self, transport: Any) -> None:
        link = self.link
        loop = asyncio.get_running_loop()
        protocol = StreamLinkProtocol(link)
        try:
            new = await link.table.module.clock.wait_for(
                loop.start_tls(transport, protocol, self.ctx, server_side=True),
                HANDSHAKE_TIMEOUT,
            )
        except (ssl.SSLError, OSError, ConnectionError, TimeoutError) as exc:
            link.table.module.chip_log(f"esp-tls: server handshake failed: {exc!r}")
            link.table.remove(link)
            if not transport.is_closing():
                transport.abort()
            return
        if new is None or link.gone:
            link.table.remove(link)
            return
        link.transport = new
        _announce(link)

    def data_received(self, data: bytes) -> None:
        pass

    def connection_lost(self, exc: Exception | None) -> None:
        if self.task is not None and not self.task.done():
            self.task.cancel()
        if not self.link.gone and self.link.transport is not None:
            self.link.table.remove(self.link)


def arm_timeout(link: Link) -> None:
    """AT+CIPSTO: a server link idle for the timeout is closed by the module."""
    table = link.table
    timeout = table.server_timeout
    if not link.server or timeout <= 0 or link.gone:
        return
    module = table.module
    loop = asyncio.get_running_loop()

    def check() -> None:
        link.sto_handle = None
        if link.gone or link.peer_closed:
            return
        idle = module.clock.now() - link.last_activity
        if idle >= table.server_timeout - 1e-6:
            module.chip_log(f"at-net: link {link.id} idle for {table.server_timeout}s, closing")
            table.drop(link)
            return
        link.sto_handle = loop.call_later(module.clock.real_seconds(table.server_timeout - idle), check)

    link.sto_handle = loop.call_later(module.clock.real_seconds(timeout), check)
