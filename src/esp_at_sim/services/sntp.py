"""SNTP: the module asks real NTP servers over UDP (RFC 4330).

Once AT+CIPSNTPCFG enables it and an interface is up, the client resolves the
configured servers (world DNS table, then the host resolver) and sends a
client-mode request to port 123 - through the world's redirect table, so a
test can answer from 127.0.0.1:<any port>. The first good answer sets the
module's system time and prints ``+TIME_UPDATED``; later ones (every
AT+CIPSNTPINTV seconds) update it silently. Without an answer it retries every
15 seconds, as lwIP's SNTP does.
"""

from __future__ import annotations

import asyncio
import struct
from typing import TYPE_CHECKING

from esp_at_sim.services.netif import NetIf
from esp_at_sim.services.systime import SystemTime

if TYPE_CHECKING:
    from esp_at_sim.device.module import Module

NTP_PORT = 123
NTP_DELTA = 2208988800  # 1900-01-01 to 1970-01-01
RETRY = 15.0
DEFAULT_SERVERS = ("cn.ntp.org.cn", "ntp.sjtu.edu.cn", "us.pool.ntp.org")


def request_packet() -> bytes:
    return b"\x23" + bytes(47)  # LI 0, version 4, mode 3 (client)


def parse_reply(data: bytes) -> float | None:
    """Unix time from a server reply (its transmit timestamp), or None."""
    if len(data) < 48 or data[0] & 0x07 not in (4, 5):
        return None
    secs, frac = struct.unpack("!II", data[40:48])
    if secs == 0:
        return None
    return float(secs - NTP_DELTA + frac / 2**32)


class _Reply(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.answer: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if not self.answer.done():
            self.answer.set_result(data)


class SntpClient:
    """Per-boot service: ``module.service(SntpClient)``."""

    def __init__(self, module: Module) -> None:
        self.module = module
        self.task: asyncio.Task[None] | None = None
        self.announce = False

    def restart(self, servers: list[str], *, announce: bool = True) -> None:
        self.stop()
        self.announce = announce
        self.task = self.module.scope.spawn(self._run(servers or list(DEFAULT_SERVERS)), name="sntp")

    def stop(self) -> None:
        if self.task is not None and not self.task.done():
            self.task.cancel()
        self.task = None

    def interval(self) -> float:
        return float(self.module.settings.get("tcpip", "sntpintv", 3600) or 3600)

    async def _run(self, servers: list[str]) -> None:
        module = self.module
        netif = module.service(NetIf)
        while True:
            if not netif.online:
                await module.clock.sleep(1.0)
                continue
            t = await self.query(servers)
            if t is None:
                await module.clock.sleep(RETRY)
                continue
            module.service(SystemTime).set(t)
            module.chip_log(f"at-net: sntp time updated: {t:.0f}")
            if self.announce:
                self.announce = False
                module.urc("+TIME_UPDATED")
            await module.clock.sleep(self.interval())

    async def query(self, servers: list[str]) -> float | None:
        module = self.module
        netif = module.service(NetIf)
        fabric = netif.fabric
        loop = asyncio.get_running_loop()
        for name in servers:
            try:
                addr = await netif.resolve(name)
            except (LookupError, OSError):
                continue
            host, port = fabric.redirect(addr, NTP_PORT)
            try:
                transport, proto = await loop.create_datagram_endpoint(_Reply, remote_addr=(host, port))
            except OSError:
                continue
            try:
                transport.sendto(request_packet())
                data = await module.clock.wait_for(asyncio.shield(proto.answer), 3.0)
            except (TimeoutError, OSError):
                continue
            finally:
                transport.close()
            t = parse_reply(data)
            if t is not None:
                return t
        return None
