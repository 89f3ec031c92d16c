"""Web server AT command (Web_server_AT_Commands.rst): AT+WEBSERVER, Wi-Fi provisioning.

The provisioning server answers the endpoints the firmware's page uses:
``GET /`` (the page: ``index.html`` from the file system when present, else
the built-in one), ``GET /getversion``, ``GET /getstainfo`` (state 0 waiting,
1 connected, 2 failed, with ``sta_ssid``, ``sta_password``, ``message``),
``POST /setstainfo`` (JSON ``{"ssid":..., "password":...}``; refused with
400 unless the module is in station+SoftAP mode), ``POST /getresult`` and
``GET /getaprecord``. On the AT port: ``+WEBSERVERRSP:1`` once the module
starts joining (``WIFI CONNECTED``/``WIFI GOT IP`` follow from the station),
``+WEBSERVERRSP:2`` once the page has read the result.

The server listens like AT+CIPSERVER: on the host's loopback at the module
port (or its ``port_map`` entry in the scenario) and at the module's
addresses in the world.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources

from esp_at_sim.at.params import Args
from esp_at_sim.at.registry import command
from esp_at_sim.device.context import CommandContext
from esp_at_sim.device.heap import Allocation
from esp_at_sim.device.module import Module
from esp_at_sim.errors import ExecFail, ParamCount, ParamInvalid
from esp_at_sim.services.fs import fs_partition_size, volume
from esp_at_sim.services.webserver import HttpServer, Reply, Request

VERSION = "1.0"
MIN_TIMEOUT, MAX_TIMEOUT = 21, 60
POLL = 0.5  # the firmware checks the station every 500 ms

NOT_START, CONFIG_DONE, CONNECTING, CONNECT_FAIL, CONNECT_OK = range(5)
MESSAGES = {
    NOT_START: "waiting config",
    CONFIG_DONE: "config done",
    CONNECTING: "connecting",
    CONNECT_FAIL: "connect fail",
    CONNECT_OK: "connect OK",
}


def _json_escape(raw: bytes) -> str:
    # the firmware escapes only \\ " and / (control characters pass as they are)
    out = []
    for ch in raw.decode("utf-8", "surrogateescape"):
        out.append("\\" + ch if ch in '\\"/' else ch)
    return "".join(out)


@dataclass
class Provisioning:
    """Per-boot web provisioning state: ``module.service(Provisioning)``."""

    module: Module
    server: HttpServer | None = None
    timeout: int = 60
    status: int = NOT_START
    ssid: bytes = b""
    password: bytes = b""
    ram: Allocation | None = None

    def __post_init__(self) -> None:
        self.module.scope.on_close(self.stop)

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None
        if self.ram is not None:
            self.ram.free()
            self.ram = None

    # ------------------------------------------------------------- requests
    async def handle(self, req: Request) -> Reply:
        route = (req.method, req.path)
        if route == ("GET", "/getversion"):
            return _json({"version": VERSION})
        if route == ("GET", "/getstainfo"):
            return self._stainfo()
        if route == ("POST", "/setstainfo"):
            return await self._setstainfo(req)
        if route == ("POST", "/getresult"):
            return self._getresult(req)
        if route == ("GET", "/getaprecord"):
            return await self._aprecord()
        if req.method == "GET" and req.path in ("/", "/index.html"):
            return Reply(200, self._page(), "text/html")
        return Reply(404, b"Nothing matches the given URI", "text/html")

    def _page(self) -> bytes:
        if fs_partition_size(self.module):
            vol = volume(self.module)
            if vol.exists("index.html"):
                return vol.read("index.html")
        return resources.files("esp_at_sim.commands").joinpath("data/webserver_index.html").read_bytes()

    def _stainfo(self) -> Reply:
        state = {CONNECT_OK: 1, CONNECT_FAIL: 2}.get(self.status, 0)
        text = (
            f'{{"state":{state},"sta_ssid":"{_json_escape(self.ssid)}",'
            f'"sta_password":"{_json_escape(self.password)}","message":"{MESSAGES[self.status]}"}}'
        )
        return Reply(200, text.encode("utf-8", "surrogateescape"))

    async def _setstainfo(self, req: Request) -> Reply:
        from esp_at_sim.services.wifi import WifiService

        wifi = self.module.service(WifiService)
        if wifi.mode != 3:
            self.module.chip_log("E at-web: invalid wifi mode")
            return _error(400)
        if self.status not in (NOT_START, CONNECT_FAIL, CONNECT_OK):
            return _error(400)
        try:
            data = json.loads(req.body)
            ssid = str(data.get("ssid", "")).encode()
            password = str(data.get("password", "")).encode()
        except (ValueError, AttributeError):
            self.module.chip_log("E at-web: failed to parse wifi info")
            return _error(400)
        if len(ssid) > 32 or len(password) > 64 or not ssid:
            return _error(400)
        self.ssid, self.password, self.status = ssid, password, CONFIG_DONE
        self.module.scope.spawn(self._join(), name="webserver-join")
        return _json({"state": 0}, spaced=True)

    async def _join(self) -> None:
        from esp_at_sim.services.wifi import WifiService
        from esp_at_sim.services.wifi_config import NS, StationConfig

        module = self.module
        # the firmware lets the HTTP answer go out before the radio changes channel
        await module.clock.sleep(0.3)
        cfg = StationConfig(ssid=self.ssid, password=self.password, authmode=3 if self.password else 0)
        module.settings.set(NS, "sta", cfg.to_json())
        self.status = CONNECTING
        module.urc("+WEBSERVERRSP:1")
        code = await module.service(WifiService).sta.connect(cfg, float(self.timeout))
        self.status = CONNECT_OK if code == 0 else CONNECT_FAIL

    def _getresult(self, req: Request) -> Reply:
        if self.status in (CONFIG_DONE, CONNECTING):
            self.module.urc("+WEBSERVERRSP:2")
        elif self.status in (CONNECT_FAIL, CONNECT_OK):
            if b"received=" not in req.body:
                return _error(400)
            self.status = NOT_START
            self.ssid = self.password = b""
            self.module.urc("+WEBSERVERRSP:2")
        return _json({"state": 0}, spaced=True)

    async def _aprecord(self) -> Reply:
        from esp_at_sim.services.wifi import WifiService

        entries = await self.module.service(WifiService).sta.scan()
        seen: list[str] = []
        for e in sorted(entries, key=lambda e: -e.rssi):
            if e.ssid:
                item = f'{{"ssid":"{_json_escape(e.ssid)}","auth_mode":{e.security.ecn}}}'
                if item not in seen:
                    seen.append(item)
        text = '{"state":0,"message":"scan done","aplist":[' + ",".join(seen) + "]}"
        return Reply(200, text.encode("utf-8", "surrogateescape"))


def _json(obj: dict[str, object], *, spaced: bool = False) -> Reply:
    text = json.dumps(obj, separators=(", ", ": ") if spaced else (",", ":"))
    return Reply(200, text.encode())


def _error(status: int) -> Reply:
    return Reply(status, b'{"state": 1}')


webserver = command("+WEBSERVER", group="webserver", doc="Web_server_AT_Commands.rst#cmd-WEBSERVER")


@webserver.set()
async def _webserver(ctx: CommandContext, args: Args) -> None:
    enable = args.int(0, 0, 1)
    prov = ctx.module.service(Provisioning)
    if enable == 0:
        if len(args) != 1:
            raise ParamCount(1, len(args))
        prov.stop()
        return
    if len(args) != 3:
        raise ParamCount(3, len(args))
    port: int = args.int(1, 0, 65535)
    timeout: int = args.int(2)
    if not MIN_TIMEOUT <= timeout <= MAX_TIMEOUT:
        raise ParamInvalid(2)
    prov.timeout = timeout
    if prov.server is not None:
        return  # already running: only the timeout changes, as in the firmware
    prov.ram = ctx.module.heap.alloc(12_000, "web_server")
    server = HttpServer(ctx.module, prov.handle, idle_timeout=float(timeout))
    try:
        await server.start(port)
    except OSError as exc:
        ctx.module.chip_log(f"E httpd: error in bind ({exc})")
        prov.ram.free()
        prov.ram = None
        raise ExecFail() from None
    prov.server = server
