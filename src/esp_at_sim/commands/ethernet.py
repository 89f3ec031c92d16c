"""Ethernet AT commands (Ethernet_AT_Commands.rst): AT+CIPETHMAC, AT+CIPETH.

The ESP32 profile has an Ethernet port wired to the world's LAN
(``world/ethernet.py``). At boot, with the cable plugged, the port prints
``+ETH_CONNECTED``, gets an address (DHCP unless AT+CIPETH set a static one,
which clears the Ethernet bit of AT+CWDHCP) and prints
``+ETH_GOT_IP:<ip>``; the ``eth`` interface of NetIf is then up, so links,
servers, MQTT, HTTP... work over the wire. Pulling the cable prints
``+ETH_DISCONNECTED`` and takes the interface down.
"""

from __future__ import annotations

import ipaddress

from esp_at_sim.at.params import Str
from esp_at_sim.at.registry import command
from esp_at_sim.device.context import CommandContext
from esp_at_sim.device.module import Module, on_boot
from esp_at_sim.errors import ParamInvalid
from esp_at_sim.services.netif import ETH, IpConfig, NetIf
from esp_at_sim.world.ethernet import EthernetLan

NS = "eth"
WIFI_NS = "wifi"  # AT+CWDHCP's bits live with the Wi-Fi settings: bit 2 is Ethernet
DHCP_BIT = 0b100
LINK_UP_DELAY = 1.0  # auto-negotiation
DHCP_DELAY = 1.5


def _dhcp_bits(module: Module) -> int:
    return int(module.settings.get(WIFI_NS, "dhcp", 0b111))


class EthernetPort:
    """Per-boot state of the Ethernet port: ``module.service(EthernetPort)``."""

    def __init__(self, module: Module) -> None:
        self.module = module
        self.lan = module.world.extension(EthernetLan)
        self.link = False
        self.ip: IpConfig | None = None
        self._generation = 0
        stop = self.lan.watch(module.name, self._on_cable)
        module.scope.on_close(stop)
        module.scope.on_close(self._down)

    @property
    def mac(self) -> str:
        stored = self.module.settings.get(NS, "mac")
        return str(stored) if stored else self.module.service(NetIf).mac(ETH)

    def start(self) -> None:
        self.module.service(NetIf).macs[ETH] = self.mac
        if self.lan.plugged(self.module.name):
            self._link_up()

    def _on_cable(self, plugged: bool) -> None:
        if plugged and not self.link:
            self._link_up()
        elif not plugged and self.link:
            self.link = False
            self._generation += 1
            self._down()
            self.module.urc("+ETH_DISCONNECTED", kind="eth")

    def _down(self) -> None:
        self.ip = None
        if self.module.has_service(NetIf):
            self.module.service(NetIf).down(ETH)

    def _link_up(self) -> None:
        self._generation += 1
        self.module.scope.spawn(self._bring_up(self._generation), name=f"{self.module.name}-eth-up")

    async def _bring_up(self, generation: int) -> None:
        clock = self.module.clock
        await clock.sleep(LINK_UP_DELAY)
        if generation != self._generation or not self.lan.plugged(self.module.name):
            return
        self.link = True
        self.module.urc("+ETH_CONNECTED", kind="eth")
        static = self.module.settings.get(NS, "ip")
        if static and not _dhcp_bits(self.module) & DHCP_BIT:
            self.apply(IpConfig(*static))
            return
        await clock.sleep(DHCP_DELAY)
        if generation != self._generation or not self.link:
            return
        addr = self.lan.lease(self.mac)
        if addr is None:
            self.module.chip_log("W esp_netif_handlers: eth DHCP got no lease")
            return
        netif = self.module.service(NetIf)
        if self.lan.dns and not netif.dns_servers:
            netif.dns_servers = list(self.lan.dns)
        self.apply(IpConfig(addr, self.lan.gateway, str(self.lan.subnet.netmask)))

    def apply(self, cfg: IpConfig) -> None:
        self.ip = cfg
        if self.link:
            self.module.service(NetIf).up(ETH, cfg)
            self.module.urc(f"+ETH_GOT_IP:{cfg.ip}", kind="eth")


@on_boot
def _eth_boot(module: Module) -> None:
    if module.has_group("eth"):
        module.service(EthernetPort).start()


# --------------------------------------------------------------- AT+CIPETHMAC

cipethmac = command("+CIPETHMAC", group="eth", doc="Ethernet_AT_Commands.rst#cmd-ETHMAC")


@cipethmac.query
async def _cipethmac_q(ctx: CommandContext) -> None:
    ctx.info("+CIPETHMAC", ctx.module.service(EthernetPort).mac)


@cipethmac.set(Str("mac", max_len=17, text=True))
async def _cipethmac_s(ctx: CommandContext, mac: str) -> None:
    parts = mac.split(":")
    try:
        raw = bytes(int(p, 16) for p in parts)
    except ValueError:
        raise ParamInvalid(0) from None
    if len(parts) != 6 or any(len(p) != 2 for p in parts) or raw in (b"\x00" * 6, b"\xff" * 6) or raw[0] & 1:
        raise ParamInvalid(0)
    text = mac.lower()
    ctx.module.settings.set(NS, "mac", text, persist=ctx.persist)
    ctx.module.service(NetIf).macs[ETH] = text


# ------------------------------------------------------------------ AT+CIPETH

cipeth = command("+CIPETH", group="eth", doc="Ethernet_AT_Commands.rst#cmd-ETHIP")


@cipeth.query
async def _cipeth_q(ctx: CommandContext) -> None:
    cfg = ctx.module.service(EthernetPort).ip or IpConfig("0.0.0.0", "0.0.0.0", "0.0.0.0")
    ctx.line(f'+CIPETH:ip:"{cfg.ip}"')
    ctx.line(f'+CIPETH:gateway:"{cfg.gateway}"')
    ctx.line(f'+CIPETH:netmask:"{cfg.netmask}"')


def _v4(text: str, index: int) -> str:
    try:
        return str(ipaddress.IPv4Address(text))
    except ValueError:
        raise ParamInvalid(index) from None


@cipeth.set(
    Str("ip", text=True, max_len=15),
    Str("gateway", None, text=True, max_len=15),
    Str("netmask", None, text=True, max_len=15),
)
async def _cipeth_s(ctx: CommandContext, ip: str, gateway: str | None, netmask: str | None) -> None:
    if (gateway is None) != (netmask is None):
        raise ParamInvalid(1 if gateway is None else 2)
    addr = _v4(ip, 0)
    gw = _v4(gateway, 1) if gateway is not None else ".".join([*addr.split(".")[:3], "1"])
    mask = _v4(netmask, 2) if netmask is not None else "255.255.255.0"
    try:
        ipaddress.IPv4Network(f"{addr}/{mask}", strict=False)
    except ValueError:
        raise ParamInvalid(2) from None
    port = ctx.module.service(EthernetPort)
    module = ctx.module
    # a static address turns Ethernet DHCP off (AT+CWDHCP bit 2), as the firmware does
    module.settings.set(WIFI_NS, "dhcp", _dhcp_bits(module) & ~DHCP_BIT, persist=ctx.persist)
    module.settings.set(NS, "ip", [addr, gw, mask], persist=ctx.persist)
    port.apply(IpConfig(addr, gw, mask))
