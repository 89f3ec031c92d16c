"""AT+PING: one echo request, by the best means the host allows.

* Another module's virtual address (IPv4, or IPv6 from a module with an
  IPv6 address of the same scope) answers inside the world, after the air
  latency of both modules each way (``world/latency.py``).
* Otherwise a real ICMP echo: an unprivileged ICMP socket when
  ``net.ipv4.ping_group_range`` allows it, else a raw socket when the process
  may open one (root, CAP_NET_RAW).
* Failing both, a TCP connection attempt to port 7 measures the round trip (a
  refused connection answers as fast as an echo would); the chip log says so.
"""

from __future__ import annotations

import asyncio
import os
import socket
import struct
import time
from typing import TYPE_CHECKING

from esp_at_sim.services.netif import NetIf
from esp_at_sim.world.latency import latency_of

if TYPE_CHECKING:
    from esp_at_sim.device.module import Module

IN_WORLD_RTT = 0.004
TIMEOUT = 2.0


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def _echo_request(ident: int, seq: int) -> bytes:
    payload = b"esp-at-sim ping".ljust(32, b".")
    header = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
    return struct.pack("!BBHHH", 8, 0, _checksum(header + payload), ident, seq) + payload


def _open_icmp() -> tuple[socket.socket, bool] | None:
    """(socket, replies carry an IP header) or None when ICMP is not permitted."""
    for kind, raw in ((socket.SOCK_DGRAM, False), (socket.SOCK_RAW, True)):
        try:
            s = socket.socket(socket.AF_INET, kind, socket.IPPROTO_ICMP)
        except OSError:
            continue
        s.setblocking(False)
        return s, raw
    return None


async def _icmp(addr: str, timeout: float) -> float | None:
    opened = _open_icmp()
    if opened is None:
        raise PermissionError("ICMP not permitted")
    sock, raw = opened
    loop = asyncio.get_running_loop()
    ident = os.getpid() & 0xFFFF
    seq = int(time.monotonic() * 1000) & 0xFFFF
    try:
        start = time.monotonic()
        await loop.sock_sendto(sock, _echo_request(ident, seq), (addr, 0))
        deadline = start + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            try:
                data = await asyncio.wait_for(loop.sock_recv(sock, 2048), remaining)
            except TimeoutError:
                return None
            if raw:
                data = data[(data[0] & 0x0F) * 4 :]
            if len(data) >= 8 and data[0] == 0:
                _t, _c, _sum, rid, rseq = struct.unpack("!BBHHH", data[:8])
                # an unprivileged socket rewrites the id; the sequence is ours either way
                if rseq == seq and (not raw or rid == ident):
                    return time.monotonic() - start
    finally:
        sock.close()


async def _tcp_probe(addr: str, timeout: float) -> float | None:
    start = time.monotonic()
    try:
        _r, w = await asyncio.wait_for(asyncio.open_connection(addr, 7), timeout)
        w.close()
    except ConnectionRefusedError:
        pass  # the host answered with a reset: it is there
    except (OSError, TimeoutError):
        return None
    return time.monotonic() - start


async def ping(module: Module, host: str) -> float | None:
    """Round-trip time in seconds, or None (timeout, unknown host)."""
    netif = module.service(NetIf)
    try:
        addr = await netif.resolve(host)
    except (LookupError, OSError):
        return None
    if ":" in addr:
        try:
            netif.source_ip6(addr)  # an IPv6 echo needs an IPv6 address (AT+CIPV6=1 before the join)
        except OSError:
            module.chip_log(f"at-ping: no IPv6 route to {addr}")
            return None
    air = latency_of(module.world)
    if netif.is_virtual(addr):
        owner = netif.fabric.owner(addr)
        peer = owner.module.name if owner is not None and owner.module is not module else None
        rtt = air.round_trip(module.name, peer) if air.active(module.name) else IN_WORLD_RTT
        await module.clock.sleep(rtt)
        return rtt
    # a host beyond the air: its own round trip plus the module's air both ways
    extra = air.round_trip(module.name)
    if extra:
        await module.clock.sleep(extra)
    if ":" not in addr:
        try:
            measured = await _icmp(addr, TIMEOUT)
            return None if measured is None else measured + extra
        except PermissionError:
            pass
    module.chip_log(f"at-ping: ICMP is not permitted on this host; measuring {addr} with a TCP probe instead")
    measured = await _tcp_probe(addr, TIMEOUT)
    return None if measured is None else measured + extra
