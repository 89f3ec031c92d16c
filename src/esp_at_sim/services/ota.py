"""OTA over the network: AT+CIUPDATE, AT+CIPFWVER and the AT+USEROTA downloader.

The shipped firmware asks Espressif's cloud; here the server is configurable:
``[ota] url = "http://127.0.0.1:8070"`` in a scenario (or
``world.extension(OtaServer).url``). It answers two requests:

* ``GET <url>/<target>/versions`` - a JSON list of version strings, newest
  last (``["v4.1.1.0", "v4.2.0.0"]``);
* ``GET <url>/<target>/<version>/<firmware>.bin`` - the image (``ota.bin``
  for the application; other names for custom partitions).

Downloads are plain HTTP/1.1 (h11) over :meth:`NetIf.open_connection`, so they
work in the world and through host sockets; ``https://`` uses the module's
TLS without verification, as the firmware's OTA does unless rebuilt.
"""

from __future__ import annotations

import json
import ssl
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from esp_at_sim.services.firmware import DOWNLOADERS
from esp_at_sim.services.netif import NetIf
from esp_at_sim.world.scenario import section
from esp_at_sim.world.world import World

if TYPE_CHECKING:
    from esp_at_sim.device.module import Module

MAX_IMAGE = 4 * 1024 * 1024
TIMEOUT = 180.0  # the firmware's OTA gives up after 3 minutes


class OtaServer:
    """World extension: where AT+CIUPDATE looks for firmware."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.url = ""


@section("ota")
def _load_ota(world: World, table: Any) -> None:
    from esp_at_sim.errors import ConfigError

    if not isinstance(table, dict) or set(table) - {"url"}:
        raise ConfigError('[ota] takes url = "http://host:port"')
    world.extension(OtaServer).url = str(table.get("url", "")).rstrip("/")


class DownloadError(Exception):
    pass


async def http_get(module: Module, url: str, *, limit: int = MAX_IMAGE) -> bytes:
    """GET ``url`` as the module; raises DownloadError."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DownloadError(f"bad url {url!r}")
    tls = parts.scheme == "https"
    port = parts.port or (443 if tls else 80)
    ctx: ssl.SSLContext | None = None
    if tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    netif = module.service(NetIf)
    try:
        reader, writer = await module.clock.wait_for(
            netif.open_connection(parts.hostname, port, ssl=ctx, server_hostname=parts.hostname if tls else None),
            30.0,
        )
    except (OSError, LookupError, TimeoutError, ssl.SSLError) as exc:
        raise DownloadError(f"connect failed: {exc}") from None
    import h11  # here, not at start-up: most modules never download firmware

    conn = h11.Connection(h11.CLIENT)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    host = parts.hostname + (f":{parts.port}" if parts.port else "")
    body = bytearray()
    try:
        writer.write(
            conn.send(h11.Request(method="GET", target=target, headers=[("Host", host), ("Connection", "close")]))
            or b""
        )
        writer.write(conn.send(h11.EndOfMessage()) or b"")
        status = 0
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                data = await module.clock.wait_for(reader.read(65536), 30.0)
                conn.receive_data(data)
                continue
            if isinstance(event, h11.Response):
                status = event.status_code
            elif isinstance(event, h11.Data):
                body += event.data
                if len(body) > limit:
                    raise DownloadError("image too large")
            elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                break
    except (h11.RemoteProtocolError, OSError, TimeoutError) as exc:
        raise DownloadError(str(exc)) from None
    finally:
        writer.close()
    if status != 200:
        raise DownloadError(f"HTTP {status}")
    return bytes(body)


async def _download(module: Module, url: str) -> bytes:
    try:
        return await http_get(module, url)
    except DownloadError as exc:
        raise OSError(str(exc)) from None


DOWNLOADERS.append(_download)


async def versions(module: Module) -> list[str]:
    base = module.world.extension(OtaServer).url
    if not base:
        raise DownloadError("no OTA server configured")
    raw = await http_get(module, f"{base}/{module.profile.target}/versions", limit=65536)
    try:
        listed = json.loads(raw)
    except ValueError:
        raise DownloadError("bad version list") from None
    if not isinstance(listed, list) or not all(isinstance(v, str) for v in listed):
        raise DownloadError("bad version list")
    return listed


def image_url(module: Module, version: str, firmware: str) -> str:
    base = module.world.extension(OtaServer).url
    return f"{base}/{module.profile.target}/{version}/{firmware}.bin"
