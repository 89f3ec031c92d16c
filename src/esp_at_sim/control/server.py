"""The control server: JSON over HTTP, a WebSocket event stream, the dashboard.

Theory of operation
-------------------
One aiohttp application over a :class:`World`. It reads the world through the
registries other areas fill - module snapshots (:mod:`esp_at_sim.device.snapshot`),
the world view (:mod:`esp_at_sim.world.view`), the fault registry
(:mod:`esp_at_sim.world.faults`) and the UART logs (:mod:`esp_at_sim.world.uart_log`) -
so nothing here knows an area's internals.

Security: off unless asked for; binds loopback unless told otherwise; every
``/api`` request but the OpenAPI document needs the bearer token
(``Authorization: Bearer ...``, or ``?token=`` where a browser cannot set
headers, i.e. the WebSocket). The dashboard page itself holds no secret: its
URL carries the token in the fragment, which browsers never send.

The event stream is decoupled from the data path: a UART append only marks
the client dirty; the client's pusher wakes at most every ``BATCH`` seconds,
sends what is new in one message per module and caps the bytes it sends per
batch (the rest is counted as ``skipped``), so a module running flat out costs
the dashboard a bounded amount of work.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import os
import re
import secrets
from collections import deque
from collections.abc import Awaitable, Callable
from importlib import resources
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

from esp_at_sim.control import sections
from esp_at_sim.control.faults_api import inject_checked, list_faults
from esp_at_sim.control.openapi import openapi_document
from esp_at_sim.device.snapshot import lookup, snapshot
from esp_at_sim.errors import ConfigError
from esp_at_sim.world.uart_faults import RESET_REASONS, spontaneous_reset
from esp_at_sim.world.uart_log import UartLogs
from esp_at_sim.world.view import world_view
from esp_at_sim.world.world import World

log = logging.getLogger(__name__)

BATCH = 0.05  # seconds between pushes to one client
BYTES_PER_BATCH = 4096  # per module per push: more than a person can read in 50 ms
TEXT_PER_ENTRY = 1024  # a long chunk (passthrough data) is shown cut
SNAPSHOT_EVERY = 1.0
MAX_WAIT = 3600.0

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(text=json.dumps(data), status=status, content_type="application/json")


def _error(status: int, message: str) -> web.Response:
    return _json({"error": message, "status": status}, status)


class ControlServer:
    def __init__(
        self,
        world: World,
        *,
        host: str = "127.0.0.1",
        port: int = 8800,
        token: str | None = None,
        allow_remote: bool = False,
        info_file: Path | None = None,
        runner: Any = None,
    ) -> None:
        loopback = host in ("localhost", "::1") or host.startswith("127.")
        if not loopback and not allow_remote:
            raise ConfigError(f"control server on {host}: not a loopback address (allow_remote=True to allow)")
        self.world = world
        self.host = host
        self.port = port
        self.token = token or secrets.token_urlsafe(24)
        self.info_file = info_file
        self.runner = runner
        self.app = self._make_app()
        self._web: web.AppRunner | None = None
        self.clients: set[_EventClient] = set()

    # ------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        self._web = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await self._web.setup()
        site = web.TCPSite(self._web, self.host, self.port)
        await site.start()
        server = site._server
        if server is not None and self.port == 0:
            sockets = getattr(server, "sockets", None) or []
            self.port = sockets[0].getsockname()[1]
        if self.info_file is not None:
            self._write_info(self.info_file)

    def _write_info(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump({"url": self.url, "token": self.token, "pid": os.getpid()}, f)

    async def stop(self) -> None:
        for client in list(self.clients):
            await client.close()
        if self._web is not None:
            await self._web.cleanup()
            self._web = None
        if self.info_file is not None:
            with contextlib.suppress(OSError):
                if json.loads(self.info_file.read_text()).get("pid") == os.getpid():
                    self.info_file.unlink()

    async def __aenter__(self) -> ControlServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def dashboard_url(self) -> str:
        return f"{self.url}/#token={self.token}"

    # ------------------------------------------------------------------ app
    def _make_app(self) -> web.Application:
        app = web.Application(middlewares=[self._errors, self._auth], client_max_size=1024 * 1024)
        r = app.router
        r.add_get("/", self._index)
        r.add_get("/static/{file}", self._static)
        r.add_get("/api/openapi.json", self._openapi)
        r.add_get("/api/world", self._world)
        r.add_get("/api/modules", self._modules)
        r.add_get("/api/modules/{name}", self._module)
        r.add_get("/api/modules/{name}/uart", self._uart_get)
        r.add_post("/api/modules/{name}/uart", self._uart_post)
        r.add_get("/api/modules/{name}/transcript", self._transcript)
        r.add_post("/api/modules/{name}/reset", self._reset)
        r.add_get("/api/faults", self._faults)
        r.add_post("/api/faults/{fault}", self._inject)
        r.add_post("/api/wait", self._wait)
        r.add_get("/api/events", self._events)
        r.add_get("/api/access_points", self._aps_get)
        r.add_post("/api/access_points", self._aps_post)
        r.add_patch("/api/access_points/{ssid}", self._aps_patch)
        r.add_delete("/api/access_points/{ssid}", self._aps_delete)
        r.add_put("/api/modules/{name}/position", self._position)
        r.add_post("/api/ble_peers", self._ble_post)
        r.add_delete("/api/ble_peers/{peer}", self._ble_delete)
        return app

    @web.middleware
    async def _auth(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        path = request.path
        if path.startswith("/api/") and path != "/api/openapi.json":
            given = ""
            header = request.headers.get("Authorization", "")
            if header.startswith("Bearer "):
                given = header[7:].strip()
            elif "token" in request.query:
                given = request.query["token"]
            if not hmac.compare_digest(given.encode(), self.token.encode()):
                resp = _error(401, "missing or wrong bearer token")
                resp.headers["WWW-Authenticate"] = 'Bearer realm="esp-at-sim"'
                return resp
        return await handler(request)

    @web.middleware
    async def _errors(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except ApiError as exc:
            return _error(exc.status, exc.message)
        except ConfigError as exc:
            return _error(400, str(exc))
        except web.HTTPException as exc:
            if exc.status >= 400:
                resp = _error(exc.status, exc.reason)
                if "Allow" in exc.headers:  # 405 says which methods the path has
                    resp.headers["Allow"] = exc.headers["Allow"]
                return resp
            raise
        except Exception as exc:
            log.exception("control request %s %s failed", request.method, request.path)
            return _error(500, f"{type(exc).__name__}: {exc}")

    # -------------------------------------------------------------- helpers
    def _module_of(self, request: web.Request) -> Any:
        name = request.match_info["name"]
        module = self.world.modules.get(name)
        if module is None:
            known = ", ".join(sorted(self.world.modules)) or "none"
            raise ApiError(404, f"unknown module {name!r} (modules: {known})")
        return module

    async def _body(self, request: web.Request) -> dict[str, Any]:
        raw = await request.read()
        if not raw.strip():
            return {}
        try:
            body = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ApiError(400, f"malformed JSON: {exc}") from None
        if not isinstance(body, dict):
            raise ApiError(400, "the request body must be a JSON object")
        return body

    @staticmethod
    def _int_query(request: web.Request, name: str, default: int, lo: int = 0, hi: int = 2**62) -> int:
        raw = request.query.get(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ApiError(400, f"{name} must be an integer") from None
        if not lo <= value <= hi:
            raise ApiError(400, f"{name} must be between {lo} and {hi}")
        return value

    # ----------------------------------------------------------- dashboard
    async def _index(self, request: web.Request) -> web.StreamResponse:
        return web.Response(text=_static_text("index.html"), content_type="text/html")

    async def _static(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["file"]
        types = {".js": "text/javascript", ".css": "text/css", ".html": "text/html", ".svg": "image/svg+xml"}
        ext = os.path.splitext(name)[1]
        if "/" in name or name.startswith(".") or ext not in types:
            raise ApiError(404, "no such file")
        try:
            text = _static_text(name)
        except FileNotFoundError:
            raise ApiError(404, "no such file") from None
        return web.Response(text=text, content_type=types[ext])

    async def _openapi(self, request: web.Request) -> web.StreamResponse:
        return _json(openapi_document(self.url))

    # -------------------------------------------------------------- reading
    async def _world(self, request: web.Request) -> web.StreamResponse:
        view = world_view(self.world)
        view["faults"] = [f["name"] for f in list_faults()]
        return _json(view)

    async def _modules(self, request: web.Request) -> web.StreamResponse:
        return _json([snapshot(m) for _, m in sorted(self.world.modules.items())])

    async def _module(self, request: web.Request) -> web.StreamResponse:
        return _json(snapshot(self._module_of(request)))

    async def _uart_get(self, request: web.Request) -> web.StreamResponse:
        module = self._module_of(request)
        since = self._int_query(request, "since", 0)
        limit = self._int_query(request, "limit", 1000, 1, 100000)
        direction = request.query.get("dir")
        if direction is not None and direction not in ("in", "out", "log"):
            raise ApiError(400, "dir must be in, out or log")
        ulog = self.world.extension(UartLogs).log(module.name)
        entries = [e for e in ulog.since(since) if direction is None or e.direction == direction][:limit]
        return _json({"module": module.name, "last_seq": ulog.last_seq, "entries": [e.to_dict() for e in entries]})

    async def _uart_post(self, request: web.Request) -> web.StreamResponse:
        module = self._module_of(request)
        body = await self._body(request)
        if ("text" in body) == ("hex" in body):
            raise ApiError(400, "give exactly one of text or hex")
        if "text" in body:
            if not isinstance(body["text"], str):
                raise ApiError(400, "text must be a string")
            data = body["text"].encode("utf-8")
        else:
            try:
                data = bytes.fromhex(str(body["hex"]))
            except ValueError:
                raise ApiError(400, "hex must be an even number of hex digits") from None
        crlf = body.get("crlf", False)
        if not isinstance(crlf, bool):
            raise ApiError(400, "crlf must be a boolean")
        if crlf:
            data += b"\r\n"
        if not data:
            raise ApiError(400, "nothing to send")
        entry = self.world.extension(UartLogs).send(module.name, data, "control")
        return _json({"module": module.name, "seq": entry.seq, "bytes": len(data)})

    async def _transcript(self, request: web.Request) -> web.StreamResponse:
        from esp_at_sim.replay import header_for

        module = self._module_of(request)
        ulog = self.world.extension(UartLogs).log(module.name)
        lines = [json.dumps(header_for(module))] + [e.to_json() for e in ulog]
        return web.Response(text="\n".join(lines) + "\n", content_type="application/x-ndjson")

    # -------------------------------------------------------------- actions
    async def _reset(self, request: web.Request) -> web.StreamResponse:
        module = self._module_of(request)
        body = await self._body(request)
        reason = body.get("reason", "poweron")
        if reason not in RESET_REASONS:
            raise ApiError(400, f"reason must be one of {', '.join(RESET_REASONS)}")
        spontaneous_reset(module, reason)
        return _json({"module": module.name, "reset": reason})

    async def _faults(self, request: web.Request) -> web.StreamResponse:
        return _json(list_faults())

    async def _inject(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["fault"]
        body = await self._body(request)
        try:
            await inject_checked(self.world, name, body)
        except KeyError:
            known = ", ".join(f["name"] for f in list_faults())
            raise ApiError(404, f"unknown fault {name!r}; known: {known}") from None
        return _json({"injected": name, "params": body})

    async def _wait(self, request: web.Request) -> web.StreamResponse:
        body = await self._body(request)
        name = body.get("module")
        if not isinstance(name, str):
            raise ApiError(400, "module (a string) is required")
        module = self.world.modules.get(name)
        if module is None:
            raise ApiError(404, f"unknown module {name!r}")
        timeout = body.get("timeout", 10.0)
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 <= timeout <= MAX_WAIT:
            raise ApiError(400, f"timeout must be a number of seconds between 0 and {MAX_WAIT:g}")
        pattern = body.get("uart")
        path = body.get("state")
        if (pattern is None) == (path is None):
            raise ApiError(400, "give exactly one of uart (a regular expression) or state (a path like module.powered)")
        clock = self.world.clock
        if pattern is not None:
            if not isinstance(pattern, str):
                raise ApiError(400, "uart must be a string")
            try:
                rx = re.compile(pattern.encode("utf-8"))
            except re.error as exc:
                raise ApiError(400, f"bad regular expression: {exc}") from None
            ulog = self.world.extension(UartLogs).log(name)
            since = body.get("since", ulog.last_seq)
            if isinstance(since, bool) or not isinstance(since, int) or since < 0:
                raise ApiError(400, "since must be a non-negative integer")

            async def uart_match() -> dict[str, Any]:
                while True:
                    entries = [e for e in ulog.since(since) if e.direction == "out"]
                    m = rx.search(b"".join(e.data for e in entries))
                    if m:
                        return {"matched": True, "match": m.group(0).decode("utf-8", "replace"), "seq": ulog.last_seq}
                    await ulog.changed()

            waiter: Awaitable[dict[str, Any]] = uart_match()
        else:
            if not isinstance(path, str):
                raise ApiError(400, "state must be a string")
            has_equals = "equals" in body
            expected = body.get("equals")

            async def state_match() -> dict[str, Any]:
                while True:
                    snap = snapshot(module)
                    try:
                        value = lookup(snap, path)
                        if (value == expected) if has_equals else bool(value):
                            return {"matched": True, "value": value}
                    except KeyError:
                        pass
                    await clock.sleep(0.05)

            waiter = state_match()
        try:
            result = await clock.wait_for(waiter, float(timeout))
        except TimeoutError:
            return _json({"matched": False, "error": f"condition not met within {timeout} s"}, 408)
        return _json(result)

    # ---------------------------------------------------------- world objects
    async def _aps_get(self, request: web.Request) -> web.StreamResponse:
        return _json(world_view(self.world).get("access_points", []))

    async def _aps_post(self, request: web.Request) -> web.StreamResponse:
        body = await self._body(request)
        return _json(sections.add_access_point(self.world, body), 201)

    def _ap_key(self, request: web.Request) -> tuple[str, str | None]:
        ssid = request.match_info["ssid"]
        bssid = request.query.get("bssid") or None
        try:
            sections._find_aps(self.world, ssid, bssid)
        except ConfigError as exc:
            raise ApiError(404, str(exc)) from None
        except ValueError:
            raise ApiError(400, f"bad BSSID {bssid!r} (aa:bb:cc:dd:ee:ff)") from None
        return ssid, bssid

    async def _aps_patch(self, request: web.Request) -> web.StreamResponse:
        ssid, bssid = self._ap_key(request)
        body = await self._body(request)
        return _json(sections.change_access_point(self.world, ssid, bssid, body))

    async def _aps_delete(self, request: web.Request) -> web.StreamResponse:
        ssid, bssid = self._ap_key(request)
        return _json({"removed": sections.remove_access_point(self.world, ssid, bssid)})

    async def _position(self, request: web.Request) -> web.StreamResponse:
        module = self._module_of(request)
        body = await self._body(request)
        if "position" not in body:
            raise ApiError(400, "position ([x, y] in metres) is required")
        sections.move_module(self.world, module.name, body["position"])
        return _json({"module": module.name, "position": body["position"]})

    async def _ble_post(self, request: web.Request) -> web.StreamResponse:
        body = await self._body(request)
        sections.add_ble_peer(self.world, body)
        return _json({"added": body.get("name")}, 201)

    async def _ble_delete(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["peer"]
        try:
            await inject_checked(self.world, "ble_leave", {"module": name})
        except KeyError:
            raise ApiError(404, "this build has no BLE peers") from None
        return _json({"removed": name})

    # --------------------------------------------------------------- events
    async def _events(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(heartbeat=30.0, max_msg_size=64 * 1024)
        await ws.prepare(request)
        wanted = request.query.get("modules")
        client = _EventClient(self, ws, set(wanted.split(",")) if wanted else None)
        self.clients.add(client)
        try:
            await client.run()
        finally:
            self.clients.discard(client)
        return ws


class _EventClient:
    """One WebSocket subscriber: follows the UART logs and module events."""

    def __init__(self, server: ControlServer, ws: web.WebSocketResponse, modules: set[str] | None) -> None:
        self.server = server
        self.ws = ws
        self.modules = modules
        self.dirty = asyncio.Event()
        self.seqs: dict[str, int] = {}
        self.notes: deque[dict[str, Any]] = deque(maxlen=500)
        self._unsubscribe: list[Callable[[], None]] = []
        self._known: set[str] = set()
        self.sent = 0

    def _watch(self) -> None:
        world = self.server.world
        logs = world.extension(UartLogs)
        for name, module in world.modules.items():
            if name in self._known or (self.modules is not None and name not in self.modules):
                continue
            self._known.add(name)
            ulog = logs.log(name)
            self.seqs[name] = ulog.last_seq
            self._unsubscribe.append(ulog.listen(lambda _e: self.dirty.set()))

            def on_event(event: str, fields: dict[str, Any], name: str = name) -> None:
                self.notes.append({"type": "module", "module": name, "event": event, "fields": _jsonable(fields)})
                self.dirty.set()

            self._unsubscribe.append(module.subscribe(on_event))

    async def run(self) -> None:
        self._watch()
        world = self.server.world
        hello = {
            "type": "hello",
            "world": world_view(world),
            "modules": [snapshot(m) for n, m in sorted(world.modules.items()) if n in self._known],
            "faults": list_faults(),
        }
        pusher = asyncio.ensure_future(self._push(hello))
        try:
            async for msg in self.ws:
                if msg.type is WSMsgType.TEXT:
                    await self._on_message(msg.data)
                elif msg.type in (WSMsgType.ERROR, WSMsgType.CLOSE):
                    break
        finally:
            pusher.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await pusher
            for unsub in self._unsubscribe:
                unsub()
            self._unsubscribe.clear()

    async def _on_message(self, text: str) -> None:
        """Clients may ask for a fresh snapshot: {"type": "snapshot"}."""
        with contextlib.suppress(json.JSONDecodeError):
            msg = json.loads(text)
            if isinstance(msg, dict) and msg.get("type") == "snapshot":
                await self._send_snapshots()

    async def _send(self, obj: dict[str, Any]) -> None:
        await self.ws.send_str(json.dumps(obj))
        self.sent += 1

    async def _send_snapshots(self) -> None:
        world = self.server.world
        self._watch()
        await self._send(
            {
                "type": "state",
                "world": world_view(world),
                "modules": [snapshot(m) for n, m in sorted(world.modules.items()) if n in self._known],
            }
        )

    async def _push(self, hello: dict[str, Any]) -> None:
        loop = asyncio.get_running_loop()
        await self._send(hello)
        next_snapshot = loop.time() + SNAPSHOT_EVERY
        logs = self.server.world.extension(UartLogs)
        while not self.ws.closed:
            timeout = max(0.0, next_snapshot - loop.time())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.dirty.wait(), timeout)
            self.dirty.clear()
            for name in list(self._known):
                if not logs.has(name):
                    continue
                ulog = logs.log(name)
                last = self.seqs.get(name, 0)
                if ulog.last_seq <= last:
                    continue
                entries = ulog.since(last)
                skipped = 0
                budget = BYTES_PER_BATCH
                keep: list[Any] = []
                for e in reversed(entries):
                    if budget <= 0:
                        skipped += len(e.data)
                        continue
                    keep.append(e)
                    budget -= len(e.data)
                keep.reverse()
                self.seqs[name] = ulog.last_seq
                msg: dict[str, Any] = {
                    "type": "uart",
                    "module": name,
                    "entries": [e.to_dict(hex_data=False, max_text=TEXT_PER_ENTRY) for e in keep],
                }
                if skipped:
                    msg["skipped"] = skipped
                await self._send(msg)
            while self.notes:
                await self._send(self.notes.popleft())
            if loop.time() >= next_snapshot:
                await self._send_snapshots()
                next_snapshot = loop.time() + SNAPSHOT_EVERY
            await asyncio.sleep(BATCH)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.ws.close()


def _jsonable(fields: dict[str, Any]) -> dict[str, Any]:
    from esp_at_sim.transports.tap import escape

    out: dict[str, Any] = {}
    for k, v in fields.items():
        if isinstance(v, bytes | bytearray):
            out[k] = escape(bytes(v))
        elif isinstance(v, str | int | float | bool) or v is None:
            out[k] = v
        else:
            out[k] = str(v)
    return out


def _static_text(name: str) -> str:
    return resources.files("esp_at_sim.control").joinpath("static", name).read_text(encoding="utf-8")
