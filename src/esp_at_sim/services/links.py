"""The link table: the TCP/UDP/SSL connections of one module and how their data
reaches the host.

Theory of operation
-------------------
A :class:`Link` wraps one transport (an in-world :class:`FabricTransport`, a
host socket, or either of them under TLS) and owns its receive buffer. What
arrives is not written to the UART from the socket callback: it is appended to
the link's buffer and the link is put on the table's ready queue. One pump task
per module takes links off that queue in turn and writes their output with
``module.send_data`` - an ``+IPD`` for active receive, a length notice in
passive mode, raw bytes in passthrough, ``CLOSED`` after the last data. Because
``send_data`` waits while a command runs and while the host does not read the
UART, the buffers fill up; a link above its high-water mark stops reading its
transport, which closes the TCP window towards the peer. Nothing is dropped on
a stream (UDP drops, as UDP does, when its queue is full).

The table also keeps the chapter's per-boot configuration (CIPMUX, CIPMODE,
CIPDINFO, receive modes, server limits...) and the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from esp_at_sim.device.heap import Allocation
from esp_at_sim.services.netif import IpConfig, NetIf
from esp_at_sim.world.latency import DelayLine, latency_of
from esp_at_sim.world.net import Address, ip_text, is_ipv6

if TYPE_CHECKING:
    from esp_at_sim.device.module import Module

STREAM_KINDS = ("TCP", "TCPv6", "SSL", "SSLv6")
DGRAM_KINDS = ("UDP", "UDPv6")
KINDS = ("TCP", "TCPv6", "UDP", "UDPv6", "SSL", "SSLv6")

IPD_MAX = 2920  # bytes of one active-mode +IPD (CIPRECVTYPE: "2920 bytes each time")
RAW_MAX = 8192  # bytes written at once in passthrough
ACTIVE_HIGH = 8192  # stop reading the socket above this many unsent bytes
RECV_WINDOW = 5760  # passive-mode buffer (the lwIP socket receive window)
UDP_QUEUE_MAX = 16 * 1024
SOCKET_READ = (
    8192  # bytes taken from a host socket per read  # datagrams beyond this are dropped, as lwIP's recvmbox does
)


@dataclass
class TcpOptions:
    """AT+CIPTCPOPT for one link id."""

    so_linger: int = -1
    tcp_nodelay: int = 0
    so_sndtimeo: int = 0  # ms, 0 = block
    keep_alive: int = 0  # s, 0 = off

    def apply(self, transport: asyncio.BaseTransport) -> None:
        sock = transport.get_extra_info("socket")
        if sock is None or sock.type != socket.SOCK_STREAM:
            return
        with contextlib.suppress(OSError):
            if self.so_linger >= 0:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, self.so_linger))
            else:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 0, 0))
            # The host socket keeps Nagle off whatever the option says: lwIP's Nagle
            # on the chip costs a round trip, Nagle on loopback meets delayed ACKs
            # and holds small segments for 40 ms, which changes nothing a host can
            # observe except to stall it.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1 if self.keep_alive else 0)
            if self.keep_alive:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, self.keep_alive)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 1)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 3)


class SendFailed(Exception):
    """The data could not be handed to the stack (link gone, SO_SNDTIMEO expired)."""


class StreamLinkProtocol(asyncio.Protocol):
    def __init__(self, link: Link) -> None:
        self.link = link

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.link.transport = transport
        if hasattr(transport, "max_size"):
            # asyncio reads 256 KiB at a time; the chip's window is a few KiB, and a
            # small read keeps what sits in the module bounded once reading pauses
            transport.max_size = SOCKET_READ

    def data_received(self, data: bytes) -> None:
        self.link.on_data(data)

    def eof_received(self) -> bool:
        return False  # lwIP closes on FIN; the link reports CLOSED

    def connection_lost(self, exc: Exception | None) -> None:
        self.link.on_lost(exc)

    def pause_writing(self) -> None:
        self.link.writable.clear()

    def resume_writing(self) -> None:
        self.link.writable.set()


class DatagramLinkProtocol(asyncio.DatagramProtocol):
    def __init__(self, link: Link) -> None:
        self.link = link

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        # a redirected peer answers as the address the module sent to
        src = self.link.table.fabric.unredirect(ip_text(str(addr[0])), int(addr[1]))
        self.link.on_datagram(data, src)

    def error_received(self, exc: Exception) -> None:
        pass  # ICMP port unreachable and the like: UDP does not care


class Link:
    """One entry of the link table."""

    def __init__(
        self,
        table: LinkTable,
        link_id: int,
        kind: str,
        remote: Address,
        *,
        server: bool = False,
        udp_mode: int = 0,
        iface: str = "sta",
    ) -> None:
        self.table = table
        self.id = link_id
        self.kind = kind
        self.remote_ip, self.remote_port = remote
        self.local_port = 0
        self.server = server
        self.udp_mode = udp_mode
        self.udp_changed = False
        self.iface = iface
        self.transport: Any = None  # asyncio.Transport or DatagramTransport
        self.rx = bytearray()
        self.datagrams: deque[tuple[bytes, Address]] = deque()
        self.dgram_bytes = 0
        self.writable = asyncio.Event()
        self.writable.set()
        self.peer_closed = False
        self.gone = False
        self.scheduled = False
        self.notice_pending = False  # passive: a +IPD notice is to be written
        self.notified = False  # passive: a notice is out and not yet answered by CIPRECVDATA
        self.paused = False
        self.allocs: list[Allocation] = []
        self.rx_alloc: Allocation | None = None
        self.fabric_bound: list[str] = []
        self.last_activity = table.module.clock.now()
        self.sto_handle: asyncio.TimerHandle | None = None
        self.on_closed: list[Callable[[Link], None]] = []

    # ----------------------------------------------------------- properties
    @property
    def is_udp(self) -> bool:
        return self.kind in DGRAM_KINDS

    @property
    def is_ssl(self) -> bool:
        return self.kind.startswith("SSL")

    @property
    def passive(self) -> bool:
        return self.table.recv_mode(self.id) == 1 and not self.raw

    @property
    def raw(self) -> bool:
        """Passthrough receiving (CIPMODE=1): data goes to the UART as it is."""
        return self.table.ipmode == 1 and self.table.transparent_link() is self

    @property
    def buffered(self) -> int:
        return self.dgram_bytes if self.is_udp else len(self.rx)

    def touch(self) -> None:
        self.last_activity = self.table.module.clock.now()

    # -------------------------------------------------------------- receive
    def on_data(self, data: bytes) -> None:
        if self.gone:
            return
        self.touch()
        self.rx += data
        self.table.stats_rx += len(data)
        if self.passive:
            self._account_rx()
            if len(self.rx) >= RECV_WINDOW:
                self._pause()
            if not self.notified:
                self.notice_pending = True
                self.table.schedule(self)
        else:
            if len(self.rx) >= ACTIVE_HIGH:
                self._pause()
            self.table.schedule(self)

    def on_datagram(self, data: bytes, addr: Address) -> None:
        air = self.table.air()
        if air is not None:
            air[1].push(lambda: self._take_datagram(data, addr))  # it crosses the module's air first
            return
        self._take_datagram(data, addr)

    def _take_datagram(self, data: bytes, addr: Address) -> None:
        if self.gone:
            return
        loss = self.table.fabric.udp_loss.get(self.table.module.name, 0.0)
        if loss and self.table.random() < loss:
            return
        self.touch()
        if self.dgram_bytes + len(data) > (RECV_WINDOW if self.passive else UDP_QUEUE_MAX):
            self.table.module.chip_log(f"at-net: link {self.id} drops a {len(data)}-byte datagram (queue full)")
            return
        if self.udp_mode == 2 or (self.udp_mode == 1 and not self.udp_changed and addr != self.remote):
            if self.udp_mode == 1:
                self.udp_changed = True
            self.remote_ip, self.remote_port = addr
        self.datagrams.append((data, addr))
        self.dgram_bytes += len(data)
        self.table.stats_rx += len(data)
        if self.passive:
            self._account_rx()
            if not self.notified:
                self.notice_pending = True
        self.table.schedule(self)

    @property
    def remote(self) -> Address:
        return (self.remote_ip, self.remote_port)

    def on_lost(self, exc: Exception | None) -> None:
        if self.gone or self.peer_closed:
            return
        self.peer_closed = True
        if not self.is_udp:
            self.transport = None  # a datagram socket is closed when the link is released
        self.writable.set()
        if self.table.links.get(self.id) is not self:
            return  # still being set up (a failed handshake): the command reports it
        self.table.on_link_lost(self, exc)
        self.table.schedule(self)

    def _pause(self) -> None:
        if not self.paused and self.transport is not None and hasattr(self.transport, "pause_reading"):
            self.paused = True
            self.transport.pause_reading()

    def _maybe_resume(self, low: int) -> None:
        if self.paused and self.buffered <= low and self.transport is not None:
            self.paused = False
            self.transport.resume_reading()

    def _account_rx(self) -> None:
        """Passive data lives in the module's heap; when the heap is short, stop reading."""
        size = self.buffered
        if self.rx_alloc is not None and abs(self.rx_alloc.size - size) < 1024 and size:
            return
        if self.rx_alloc is not None:
            self.rx_alloc.free()
            self.rx_alloc = None
        if size:
            try:
                self.rx_alloc = self.table.module.heap.alloc(size, "recv_buf")
            except Exception:
                self._pause()

    # ------------------------------------------------------------ output pump
    def next_output(self) -> bytes | None:
        """The next piece for the UART, or None. Called by the pump only."""
        t = self.table
        if self.gone:
            return None
        if self.raw:
            if self.is_udp and self.datagrams:
                data, _addr = self.datagrams.popleft()
                self.dgram_bytes -= len(data)
                return data
            if self.rx:
                out = bytes(self.rx[:RAW_MAX])
                del self.rx[:RAW_MAX]
                self._maybe_resume(ACTIVE_HIGH // 2)
                return out
        elif self.passive:
            if self.notice_pending and self.buffered:
                self.notice_pending = False
                self.notified = True
                return t.fmt_notice(self)
        elif self.is_udp:
            if self.datagrams:
                data, addr = self.datagrams.popleft()
                self.dgram_bytes -= len(data)
                return t.fmt_ipd(self, len(data), addr) + data
        elif self.rx:
            out = bytes(self.rx[:IPD_MAX])
            del self.rx[:IPD_MAX]
            self._maybe_resume(ACTIVE_HIGH // 2)
            return t.fmt_ipd(self, len(out), self.remote) + out
        if self.peer_closed and not self.buffered and not self.gone:
            if t.links.get(self.id) is not self:
                return None
            t.remove(self)
            return t.fmt_closed(self) if t.report_close(self) else None
        return None

    def has_output(self) -> bool:
        if self.gone:
            return False
        if self.passive and not self.raw:
            return (self.notice_pending and self.buffered > 0) or (self.peer_closed and not self.buffered)
        return bool(self.buffered) or self.peer_closed

    # ----------------------------------------------------------------- send
    async def send(self, data: bytes, dst: Address | None = None) -> None:
        """Hand ``data`` to the stack; raises SendFailed."""
        if self.gone or self.peer_closed:
            raise SendFailed("link is closed")
        self.touch()
        self.table.stats_tx += len(data)
        if self.is_udp:
            self.send_datagram(data, dst or self.remote)
            return
        transport = self.transport
        if transport is None or transport.is_closing():
            raise SendFailed("link is closed")
        transport.write(data)
        if not self.writable.is_set():
            timeout = self.table.tcp_options(self.id).so_sndtimeo
            try:
                if timeout:
                    await self.table.module.clock.wait_for(self.writable.wait(), timeout / 1000)
                else:
                    await self.writable.wait()
            except TimeoutError:
                raise SendFailed("SO_SNDTIMEO expired") from None
        if self.peer_closed or self.gone:
            raise SendFailed("link closed while sending")

    def send_datagram(self, data: bytes, dst: Address) -> None:
        fabric = self.table.fabric
        loss = fabric.udp_loss.get(self.table.module.name, 0.0)
        if loss and self.table.random() < loss:
            return
        netif = self.table.netif
        if is_ipv6(dst[0]):
            try:
                src_ip = netif.source_ip6(dst[0])
            except OSError:
                raise SendFailed(f"no IPv6 route to {dst[0]}") from None
        else:
            src_ip = netif.source_ip(dst[0]) if netif.online else "0.0.0.0"
        air = self.table.air()
        if air is not None:
            air[0].push(lambda: self._emit_datagram(data, dst, src_ip))
            return
        self._emit_datagram(data, dst, src_ip)

    def _emit_datagram(self, data: bytes, dst: Address, src_ip: str) -> None:
        fabric = self.table.fabric
        if fabric.is_virtual(dst[0]):
            fabric.send_udp((src_ip, self.local_port), dst, data)
            return
        if self.transport is not None:
            self.transport.sendto(data, fabric.redirect(*dst))

    # ---------------------------------------------------------------- close
    def close(self, *, abort: bool = False) -> None:
        """Close locally (AT+CIPCLOSE, CIPSERVER=0,1, interface down...)."""
        if self.gone:
            return
        self.table.remove(self)
        transport, self.transport = self.transport, None
        if transport is not None and abort:
            transport.abort()  # also when a close is under way: nothing may outlive the link
        elif transport is not None and not transport.is_closing():
            opts = self.table.tcp_options(self.id)
            if opts.so_linger == 0:
                transport.abort()
            else:
                transport.close()

    def release(self) -> None:
        """Free what the link holds (called once it leaves the table)."""
        self.gone = True
        if self.sto_handle is not None:
            self.sto_handle.cancel()
            self.sto_handle = None
        for ip in self.fabric_bound:
            self.table.fabric.unbind_udp(ip, self.local_port, self)
        self.fabric_bound.clear()
        if self.is_udp and self.transport is not None:
            self.transport.close()
            self.transport = None
        for a in self.allocs:
            a.free()
        self.allocs.clear()
        if self.rx_alloc is not None:
            self.rx_alloc.free()
            self.rx_alloc = None
        self.rx.clear()
        self.datagrams.clear()
        self.dgram_bytes = 0
        self.writable.set()
        for fn in self.on_closed:
            fn(self)


@dataclass
class ServerConfig:
    port: int
    kind: str = "TCP"
    ca_enable: int = 0
    netif: int = 0
    stop: Callable[[], None] | None = None
    passthrough: bool = False  # started by SAVETRANSLINK mode 3


@dataclass
class LinkEvents:
    """Hooks the command layer sets: how to tell the host a link came or went."""

    on_accept: list[Callable[[Link], None]] = field(default_factory=list)
    on_lost: list[Callable[[Link, Exception | None], None]] = field(default_factory=list)


class LinkTable:
    """Per-boot service: ``module.service(LinkTable)``."""

    def __init__(self, module: Module) -> None:
        self.module = module
        self.netif: NetIf = module.service(NetIf)
        self.fabric = self.netif.fabric
        self.links: dict[int, Link] = {}
        self.max_links = module.config.max_links or module.profile.max_links
        self.mux = 0
        self.ipmode = 0
        self.dinfo = 0
        self.server: ServerConfig | None = None
        self.server_maxconn = self.max_links
        self.server_timeout = 180  # AT+CIPSTO, seconds
        self.recv_modes: dict[int, int] = {}
        self.len_report: dict[int, int] = {}
        self.options: dict[int, TcpOptions] = {}
        self.events = LinkEvents()
        self.stats_rx = 0
        self.stats_tx = 0
        self.ever_linked = False
        self._ready: deque[Link | bytes] = deque()
        self._wake = asyncio.Event()
        self._pump: asyncio.Task[None] | None = None
        self._rand_state = 0x2545F491
        self._air: tuple[DelayLine, DelayLine] | None = None
        self.netif.listen(self._on_netif)
        module.scope.on_close(self.close_all_quietly)
        saved = module.settings.get("tcpip", "tcpopt")
        if isinstance(saved, dict):
            for key, vals in saved.items():
                with contextlib.suppress(TypeError, ValueError):
                    self.options[int(key)] = TcpOptions(*vals)

    # ------------------------------------------------------------ config
    def recv_mode(self, link_id: int) -> int:
        return self.recv_modes.get(link_id, self.recv_modes.get(-1, 0))

    def tcp_options(self, link_id: int) -> TcpOptions:
        opts = self.options.get(link_id)
        if opts is None:
            opts = self.options[link_id] = TcpOptions()
        return opts

    def random(self) -> float:
        # xorshift: deterministic per module, no global random state
        x = self._rand_state
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        self._rand_state = x & 0xFFFFFFFF
        return self._rand_state / 0xFFFFFFFF

    def air(self) -> tuple[DelayLine, DelayLine] | None:
        """The module's air for datagrams (out, in), or None when it has no latency."""
        latency = latency_of(self.module.world)
        if not latency.active(self.module.name):
            return None
        if self._air is None:
            delay = latency.sampler(self.module.name)
            clock = self.module.clock
            self._air = (DelayLine(clock, delay, _unused), DelayLine(clock, delay, _unused))
        return self._air

    # ------------------------------------------------------------- ids
    def free_id(self) -> int | None:
        for i in range(self.max_links):
            if i not in self.links:
                return i
        return None

    def add(self, link: Link) -> None:
        self.links[link.id] = link
        self.ever_linked = True

    def remove(self, link: Link) -> None:
        if self.links.get(link.id) is link:
            del self.links[link.id]
        link.release()

    def transparent_link(self) -> Link | None:
        """The link passthrough works on: the only link (single mode, or a server with one client)."""
        if len(self.links) != 1:
            return None
        link = next(iter(self.links.values()))
        if self.mux == 0 or link.server:
            return link
        return None

    # -------------------------------------------------------------- pump
    def schedule(self, link: Link) -> None:
        if not link.scheduled:
            link.scheduled = True
            self._ready.append(link)
            self._kick()

    def notice(self, data: bytes) -> None:
        """A status line (CONNECT, CLOSED) in order with the data around it."""
        self._ready.append(data)
        self._kick()

    def _kick(self) -> None:
        self._wake.set()
        if self._pump is None or self._pump.done():
            if self.module.scope.closed:
                return
            self._pump = self.module.scope.spawn(self._run_pump(), name=f"{self.module.name}-links")

    async def _run_pump(self) -> None:
        ready = self._ready
        send = self.module.send_data
        while True:
            if not ready:
                self._wake.clear()
                await self._wake.wait()
                continue
            item = ready.popleft()
            if isinstance(item, bytes):
                await send(item)
                continue
            item.scheduled = False
            out = item.next_output()
            if out:
                await send(out)
            if item.has_output():
                self.schedule(item)

    # ----------------------------------------------------------- formats
    def fmt_ipd(self, link: Link, n: int, addr: Address) -> bytes:
        gen = self.module.generation
        if self.dinfo:
            ip = addr[0] if gen == 1 else f'"{addr[0]}"'
            if self.mux:
                return f"\r\n+IPD,{link.id},{n},{ip},{addr[1]}:".encode()
            return f"\r\n+IPD,{n},{ip},{addr[1]}:".encode()
        if self.mux:
            return f"\r\n+IPD,{link.id},{n}:".encode()
        return f"\r\n+IPD,{n}:".encode()

    def reported_len(self, link: Link) -> int:
        """The length ``+IPD`` notices and AT+CIPRECVLEN? report in passive mode: all
        that is buffered, or with ``<data_len_report_mode>`` 1 the next datagram of a
        UDP link."""
        if self.len_report.get(link.id, 0) == 1 and link.is_udp and link.datagrams:
            return len(link.datagrams[0][0])
        return link.buffered

    def fmt_notice(self, link: Link) -> bytes:
        n = self.reported_len(link)
        if self.mux:
            return f"\r\n+IPD,{link.id},{n}\r\n".encode()
        return f"\r\n+IPD,{n}\r\n".encode()

    def fmt_closed(self, link: Link) -> bytes:
        return f"{link.id},CLOSED\r\n".encode() if self.mux else b"CLOSED\r\n"

    def fmt_connect(self, link: Link) -> bytes:
        sysmsg = int(self.module.settings.get("base", "sysmsg", 0) or 0)
        if sysmsg & 0x2:
            return (
                f'+LINK_CONN:0,{link.id},"{link.kind}",{int(link.server)},'
                f'"{link.remote_ip}",{link.remote_port},{link.local_port}\r\n'
            ).encode()
        return f"{link.id},CONNECT\r\n".encode() if self.mux else b"CONNECT\r\n"

    def report_close(self, link: Link) -> bool:
        """Whether CLOSED is printed: not in passthrough unless AT+SYSMSG bit 2 asks for it."""
        if self.module.in_passthrough:
            sysmsg = int(self.module.settings.get("base", "sysmsg", 0) or 0)
            return bool(sysmsg & 0x4)
        return True

    # -------------------------------------------------------- lifecycle
    def on_link_lost(self, link: Link, exc: Exception | None) -> None:
        for fn in list(self.events.on_lost):
            fn(link, exc)

    def _on_netif(self, iface: str, cfg: IpConfig | None) -> None:
        if cfg is not None:
            return
        persist = self.module.settings.get("tcpip", "connpersist", {}) or {}
        for link in list(self.links.values()):
            if link.iface != iface and self.netif.online:
                continue
            if not link.is_udp and persist.get(str(link.id)):
                continue
            self.drop(link)

    def drop(self, link: Link, *, reset: bool = False) -> None:
        """The link breaks (interface down, fault): the host gets CLOSED after its data."""
        if link.gone or link.peer_closed:
            return
        transport = link.transport
        link.on_lost(ConnectionResetError() if reset else None)
        if not link.is_udp and transport is not None and not transport.is_closing():
            if reset:
                transport.abort()
            else:
                transport.close()

    def close_all_quietly(self) -> None:
        """The boot ends: everything goes without a word."""
        if self.server is not None and self.server.stop is not None:
            self.server.stop()
        self.server = None
        for link in list(self.links.values()):
            link.close(abort=True)
        self._ready.clear()
        if self._air is not None:
            for line in self._air:
                line.clear()

    def stop_server(self, close_links: bool) -> list[Link]:
        closed: list[Link] = []
        if self.server is not None and self.server.stop is not None:
            self.server.stop()
        self.server = None
        if close_links:
            for link in [lk for lk in self.links.values() if lk.server]:
                link.close()
                closed.append(link)
        return closed


def _unused(data: bytes) -> None:
    """Datagram lines carry callables only."""
