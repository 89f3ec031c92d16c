"""AT+SAVETRANSLINK at power-up: the saved passthrough link comes back by itself.

The Basic chapter stores the configuration (``commands/basic_trans.py``); at
every boot this hook acts on it, as the firmware does after ``ready``:

* mode 1 (TCP/SSL/UDP client): once an interface is up, the link is opened
  (retried every AT+CIPRECONNINTV) and the UART enters passthrough;
* mode 3 (TCP/SSL server): a server with one connection is started; the first
  client puts the UART in passthrough.

Until the link exists the UART takes AT commands, so a host can still
reconfigure a module whose saved peer is gone (a choice: the spec is silent).
"""

from __future__ import annotations

import asyncio
from typing import Any

from esp_at_sim.at.state import EngineState
from esp_at_sim.commands.basic_trans import saved_link
from esp_at_sim.device.module import Module, on_boot
from esp_at_sim.services import tls
from esp_at_sim.services.connections import ConnectFailed, open_client, start_server
from esp_at_sim.services.links import Link, LinkTable
from esp_at_sim.services.netif import IpConfig, NetIf
from esp_at_sim.services.passthrough import PassthroughSender, reconnect_interval


async def _until_online(module: Module) -> None:
    netif = module.service(NetIf)
    if netif.online:
        return
    changed = asyncio.Event()

    def on_change(_iface: str, _cfg: IpConfig | None) -> None:
        changed.set()

    stop = netif.listen(on_change)
    try:
        while not netif.online:
            changed.clear()
            await changed.wait()
    finally:
        stop()


async def _enter(module: Module, table: LinkTable, link: Link) -> None:
    """Switch the UART to passthrough once no command is running."""
    while module.engine.state is not EngineState.COMMAND:
        if link.gone or module.engine.state is EngineState.PASSTHROUGH:
            return
        await module.clock.sleep(0.05)
    if not link.gone:
        module.enter_passthrough(PassthroughSender(module, table, link), prompt=False)


async def _client(module: Module, cfg: dict[str, Any]) -> None:
    table = module.service(LinkTable)
    table.mux = 0
    table.ipmode = 1
    kind = str(cfg.get("type", "TCP"))
    while True:
        await _until_online(module)
        try:
            link = await open_client(
                table,
                0,
                kind,
                str(cfg["host"]),
                int(cfg["port"]),
                keep_alive=cfg.get("keep_alive"),
                local_port=int(cfg.get("local_port", 0) or 0),
                ssl_config=_ssl_config(module) if kind.startswith("SSL") else None,
            )
            break
        except (ConnectFailed, LookupError, OSError, tls.TlsError) as exc:
            module.chip_log(f"at-net: saved passthrough link failed: {exc}")
        await module.clock.sleep(reconnect_interval(module))
    sysmsg = int(module.settings.get("base", "sysmsg", 0) or 0)
    if sysmsg & 0x4:
        table.notice(table.fmt_connect(link))
    await _enter(module, table, link)


def _ssl_config(module: Module) -> tls.SslClientConfig:
    cfg = tls.SslClientConfig()
    saved = module.settings.get("tcpip", "sslcconf", {}) or {}
    if "0" in saved:
        cfg.auth_mode, cfg.pki_number, cfg.ca_number = saved["0"]
    return cfg


async def _server(module: Module, cfg: dict[str, Any]) -> None:
    table = module.service(LinkTable)
    table.mux = 1
    table.server_maxconn = 1
    table.ipmode = 1
    kind = str(cfg.get("type", "TCP"))

    def on_accept(link: Link) -> None:
        if table.ipmode == 1 and not module.in_passthrough:
            module.scope.spawn(_enter(module, table, link), name="savetrans-enter")

    table.events.on_accept.append(on_accept)
    try:
        await start_server(table, int(cfg.get("port", 333)), kind, int(cfg.get("ca", 0)), int(cfg.get("netif", 0)))
    except (OSError, tls.TlsError) as exc:
        module.chip_log(f"at-net: failed to create server, errno:0x{getattr(exc, 'errno', 0) or 0:x}")
        return
    if table.server is not None:
        table.server.passthrough = True  # (no await since the listener opened: no client yet)
    module.chip_log(
        f"at-net: {kind} server started in passthrough on netif:{cfg.get('netif', 0)} port:{cfg.get('port')}"
    )


@on_boot
def _savetranslink(module: Module) -> Any:
    if not module.has_group("tcpip"):
        return None
    cfg = saved_link(module)
    mode = cfg.get("mode", 0)
    if mode == 1 and "host" in cfg:
        return _client(module, cfg)
    if mode == 3:
        return _server(module, cfg)
    return None
