"""AT+SAVETRANSLINK and AT+TRANSINTVL (Basic_AT_Commands.rst).

These commands only validate and store; the TCP/IP and BLE chapters act on
the stored configuration at boot (entering passthrough) and in passthrough
mode (send interval).

Settings (namespace ``"trans"``, read with ``module.settings.get("trans", key)``):

``"link"`` - what AT+SAVETRANSLINK saved, always in NVS (the command saves
regardless of AT+SYSSTORE), a dict with ``"mode"`` and per mode:

* ``{"mode": 0}`` - do not enter passthrough at power-up;
* mode 1, TCP/SSL client: ``{"mode": 1, "type": "TCP"|"TCPv6"|"SSL"|"SSLv6",
  "host": str, "port": int, "keep_alive": int | None}`` (``None``: the
  command left it out, use the value AT+CIPTCPOPT configured);
* mode 1, UDP: ``{"mode": 1, "type": "UDP"|"UDPv6", "host": str, "port": int,
  "local_port": int}`` (0: any local port);
* mode 3, TCP/SSL server: ``{"mode": 3, "type": "TCP"|"TCPv6"|"SSL"|"SSLv6",
  "port": int, "ca": 0|1, "netif": 0..3}`` (netif 0 all, 1 station,
  2 SoftAP, 3 Ethernet);
* mode 2, BLE: ``{"mode": 2, "role": 1|2, "tx_srv": int, "tx_char": int,
  "rx_srv": int, "rx_char": int, "peer_addr": "aa:bb:cc:dd:ee:ff"}``.

``"interval"`` - the AT+TRANSINTVL value in milliseconds (0-1000, default
20). It is RAM state: the spec does not list it among the saved settings.
"""

from __future__ import annotations

import re
from typing import Any

from esp_at_sim.at.params import Args, Int, Str
from esp_at_sim.commands.basic import savetranslink, transintvl
from esp_at_sim.device.context import CommandContext
from esp_at_sim.device.module import Module
from esp_at_sim.errors import ParamCount, ParamInvalid

NS = "trans"
LINK_KEY = "link"
INTERVAL_KEY = "interval"
DEFAULT_INTERVAL_MS = 20

_CLIENT_TYPES = ("TCP", "TCPv6", "SSL", "SSLv6")
_UDP_TYPES = ("UDP", "UDPv6")
_MAC = re.compile(r"^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$")


def saved_link(module: Module) -> dict[str, Any]:
    """The AT+SAVETRANSLINK configuration (``{"mode": 0}`` when none)."""
    link = module.settings.get(NS, LINK_KEY)
    return link if isinstance(link, dict) else {"mode": 0}


def transmit_interval(module: Module) -> int:
    """The passthrough send interval in milliseconds (AT+TRANSINTVL)."""
    value = module.settings.get(NS, INTERVAL_KEY, DEFAULT_INTERVAL_MS)
    return value if isinstance(value, int) else DEFAULT_INTERVAL_MS


def _port(args: Args, index: int, default: Any = ...) -> int:
    if default is ...:
        port: int = args.int(index, 0, 0xFFFF)
    else:
        port = args.int(index, 0, 0xFFFF, default=default)
    if port == 0:
        raise ParamInvalid(index)
    return port


def _client(args: Args) -> dict[str, Any]:
    args.expect_count(3, 5)
    host = args.get(1, Str("remote host", max_len=64, text=True))
    if not host:
        raise ParamInvalid(1)
    port = _port(args, 2)
    kind = args.get(3, Str("type", "TCP", text=True))
    if kind in _UDP_TYPES:
        local_port = args.int(4, 0, 0xFFFF, default=0)
        return {"mode": 1, "type": kind, "host": host, "port": port, "local_port": local_port}
    if kind not in _CLIENT_TYPES:
        raise ParamInvalid(3)
    keep_alive = args.int(4, 0, 7200, default=None)
    return {"mode": 1, "type": kind, "host": host, "port": port, "keep_alive": keep_alive}


def _server(module: Module, args: Args) -> dict[str, Any]:
    args.expect_count(1, 5)
    port = _port(args, 1, default=333)
    kind = args.get(2, Str("type", "TCP", text=True))
    if kind not in _CLIENT_TYPES:
        raise ParamInvalid(2)
    if kind.startswith("SSL"):
        ca = args.int(3, 0, 1, default=0)
    else:
        # <CA enable> "is only valid when <type> is SSL": a TCP server does not look at it.
        # The spec's own example passes 2 there (AT+SAVETRANSLINK=3,1002,"TCP",2) and
        # expects OK, so any number is taken and dropped (a guess at the firmware's parser,
        # which the example shows accepts it).
        args.int(3, default=0)
        ca = 0
    netif = args.int(4, 0, 3 if module.has_group("eth") else 2, default=0)
    return {"mode": 3, "type": kind, "port": port, "ca": ca, "netif": netif}


def _ble(args: Args) -> dict[str, Any]:
    args.expect_count(7)
    role = args.int(1, 1, 2)
    tx_srv, tx_char, rx_srv, rx_char = (args.int(i, 1, 0xFF) for i in range(2, 6))
    peer = args.get(6, Str("peer_addr", max_len=17, text=True))
    if not _MAC.match(peer):
        raise ParamInvalid(6)
    return {
        "mode": 2,
        "role": role,
        "tx_srv": tx_srv,
        "tx_char": tx_char,
        "rx_srv": rx_srv,
        "rx_char": rx_char,
        "peer_addr": peer.lower(),
    }


@savetranslink.set()
async def _savetranslink(ctx: CommandContext, args: Args) -> None:
    mode = args.int(0, 0, 3)
    module = ctx.module
    if mode == 0:
        if len(args) > 7:
            raise ParamCount(7, len(args))
        link: dict[str, Any] = {"mode": 0}
    elif mode == 1:
        link = _client(args)
    elif mode == 3:
        link = _server(module, args)
    else:
        if not module.has_group("ble"):
            raise ParamInvalid(0)
        link = _ble(args)
    module.settings.set(NS, LINK_KEY, link, persist=True)


@transintvl.query
async def _transintvl_q(ctx: CommandContext) -> None:
    ctx.info("+TRANSINTVL", transmit_interval(ctx.module))


@transintvl.set(Int("interval", lo=0, hi=1000))
async def _transintvl_s(ctx: CommandContext, interval: int) -> None:
    ctx.module.settings.set(NS, INTERVAL_KEY, interval, persist=False)
