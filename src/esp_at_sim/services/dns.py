"""The module's DNS client: names asked of its DNS servers over UDP, as lwIP does.

Theory of operation
-------------------
:meth:`NetIf.resolve` looks a name up in the world first (the scenario's
``[dns]`` table, literal addresses, modules' mDNS names) and then asks
:func:`resolve_with_servers`. The servers are those the firmware would use:
AT+CIPDNS=1's list; otherwise what DHCP handed out (an access point's ``dns``
key, by default its gateway); before any DHCP, AT+CIPDNS's factory list.

Each server is asked with a real DNS query built with ``dnslib``, retried the
way lwIP retries (1 s, then 2 s per try), the next server after that; a
server that answers "no such name" ends the lookup at once. Which servers
can be asked on this machine:

* a loopback address (``127.0.0.1``, ``::1``) - a DNS server a test or the
  user runs, on port 53 unless the access point's ``dns`` entry names one
  (``"127.0.0.1:5353"``) or a ``[net] redirect`` sends ``127.0.0.1:53``
  elsewhere;
* any address with a ``[net] redirect`` for its port 53.

Every other address (the AP's gateway, AT+CIPDNS's public defaults, a LAN
server) stands for a resolver of the world outside, which this process does
not send packets to: the host's own resolver answers in its place when the
scenario allows it (``[net] host_resolver = true``, the default), and nothing
answers when it does not (``false``), so a lookup fails as it would on a
network without DNS.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import random
import socket
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dnslib import DNSRecord

    from esp_at_sim.device.module import Module
    from esp_at_sim.world.net import Address, NetFabric

DNS_PORT = 53
#: AT+CIPDNS's factory servers (also what the firmware uses before any DHCP)
DEFAULT_SERVERS = ("208.67.222.222", "114.114.114.114", "8.8.8.8")
#: seconds to wait for each try at one server (lwIP: a second, then longer)
TRIES = (1.0, 2.0, 2.0)


class NameNotFound(LookupError):
    """A server said the name does not exist (NXDOMAIN): no other server is asked."""


def split_server(text: str) -> tuple[str, int]:
    """``"8.8.8.8"``, ``"127.0.0.1:5353"`` or ``"[::1]:5353"`` -> (address, port)."""
    text = text.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else DNS_PORT
    if text.count(":") == 1:
        host, _, port = text.partition(":")
        if port.isdigit():
            return host, int(port)
    return text, DNS_PORT


def server_address(text: str) -> str:
    """The address of a server entry, as AT+CIPDNS? shows it."""
    return split_server(text)[0]


def servers_of(module: Module) -> list[str]:
    """The DNS servers in effect, in the order lwIP asks them."""
    from esp_at_sim.services.netif import NetIf

    cfg = module.settings.get("tcpip", "dns", None) or [0, []]
    if cfg[0] and cfg[1]:
        return [str(s) for s in cfg[1]]
    if cfg[0]:
        return list(DEFAULT_SERVERS)
    return list(module.service(NetIf).dns_servers) or list(DEFAULT_SERVERS)


def reachable(fabric: NetFabric, server: str) -> Address | None:
    """Where a query to ``server`` really goes, or None when it is not asked on this machine."""
    host, port = split_server(server)
    target = fabric.redirect(host, port)
    if target != (host, port):
        return target
    try:
        if ipaddress.ip_address(host).is_loopback:
            return (host, port)
    except ValueError:
        pass
    return None


class _Answers(asyncio.DatagramProtocol):
    def __init__(self, query_id: int) -> None:
        self.query_id = query_id
        self.reply: asyncio.Future[DNSRecord] = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        from dnslib import DNSRecord

        try:
            record = DNSRecord.parse(data)
        except Exception:  # a malformed datagram is dropped, as lwIP drops it
            return
        if record.header.id == self.query_id and record.header.qr and not self.reply.done():
            self.reply.set_result(record)

    def error_received(self, exc: Exception) -> None:
        pass  # ICMP port unreachable: lwIP does not hear it either; the try times out


async def ask(module: Module, target: Address, name: str, family: int) -> list[str] | None:
    """One server: the addresses it gives for ``name``, None when it does not answer.
    Raises NameNotFound when it says the name does not exist."""
    from dnslib import QTYPE, RCODE, DNSRecord  # here, not at start-up: a module resolves on first use

    qtype = "AAAA" if family == socket.AF_INET6 else "A"
    query = DNSRecord.question(name, qtype)
    query.header.id = random.randrange(1, 0x10000)
    loop = asyncio.get_running_loop()
    fam = socket.AF_INET6 if ":" in target[0] else socket.AF_INET
    try:
        transport, proto = await loop.create_datagram_endpoint(
            lambda: _Answers(query.header.id), remote_addr=target, family=fam
        )
    except OSError:
        return None
    try:
        packet = query.pack()
        for wait in TRIES:
            transport.sendto(packet)
            with contextlib.suppress(TimeoutError):
                reply = await module.clock.wait_for(asyncio.shield(proto.reply), wait)
                break
        else:
            module.chip_log(f"at-net: dns server {target[0]}:{target[1]} does not answer")
            return None
    finally:
        transport.close()
    if reply.header.rcode == RCODE.NXDOMAIN:
        raise NameNotFound(name)
    if reply.header.rcode != RCODE.NOERROR:
        return None
    want = getattr(QTYPE, qtype)
    return [str(rr.rdata) for rr in reply.rr if rr.rtype == want]


async def host_lookup(name: str, family: int) -> list[str]:
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(name, None, family=family, type=socket.SOCK_STREAM)
    except OSError:
        return []
    return [str(info[4][0]) for info in infos]


async def resolve_with_servers(module: Module, fabric: NetFabric, name: str, family: int) -> str:
    """Ask the module's DNS servers in turn; raises LookupError when none knows ``name``."""
    asked_host = False
    for server in servers_of(module):
        target = reachable(fabric, server)
        if target is not None:
            found = await ask(module, target, name, family)
        elif fabric.host_resolver and not asked_host:
            asked_host = True  # the host resolver stands for every server outside; it answers once
            found = await host_lookup(name, family)
            if not found:
                raise NameNotFound(name)
        else:
            continue
        if found:
            return found[0]
    raise LookupError(name)


__all__ = ["DEFAULT_SERVERS", "NameNotFound", "resolve_with_servers", "server_address", "servers_of", "split_server"]
