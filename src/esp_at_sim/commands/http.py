"""HTTP AT commands (HTTP_AT_Commands.rst).

Output as the firmware prints it: body pieces ``+HTTPCLIENT:<len>,<data>\\r\\n``
(the same for ``+HTTPCGET``, ``+HTTPCPOST``, ``+HTTPCPUT``); a HEAD request
prints each response header as ``+HTTPCLIENT:<len>,<key>: <value>``. A failed
request answers ``ERROR`` with ``ERR CODE:0x010a7xxx`` (``7000`` connection
failed, ``7000 + status`` for a status of 400 and above). Redirects are not
followed (spec note): a 3xx response is printed like any other and the
command succeeds.

Global configuration lives in the boot's RAM: the long URL of AT+HTTPURLCFG
(used when a command's URL is ``""``), the headers of AT+HTTPCHEAD (sent with
every request, overriding a command's own header of the same key) and the
authentication mode of AT+HTTPCFG.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from esp_at_sim.at.codes import ErrorSub
from esp_at_sim.at.events import Final, Result
from esp_at_sim.at.params import Args, Int
from esp_at_sim.at.registry import command
from esp_at_sim.device.context import CommandContext
from esp_at_sim.device.heap import Allocation
from esp_at_sim.device.module import Module
from esp_at_sim.errors import AtError, ExecFail, ParamCount, ParamInvalid, ParamLength
from esp_at_sim.services.http import HttpError, HttpExchange, Response, Url, parse_url
from esp_at_sim.services.tls import TlsConfigError, auth_mode_context

METHODS = {1: "HEAD", 2: "GET", 3: "POST", 4: "PUT", 5: "DELETE"}
CONTENT_TYPES = {
    0: "application/x-www-form-urlencoded",
    1: "application/json",
    2: "multipart/form-data",
    3: "text/xml",
}
URL_MAX = 8192


class HttpFailed(AtError):
    """``ERR CODE:0x010a7xxx``: an HTTP request failed."""

    sub = ErrorSub.CMD_EXEC_FAIL

    def __init__(self, code: int) -> None:
        super().__init__(0x7000 | (code & 0xFFF))


@dataclass
class HttpConfig:
    """Per-boot global HTTP settings: ``module.service(HttpConfig)``."""

    module: Module
    url: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    auth_mode: int = 0
    pki_number: int = 0
    ca_number: int = 0


def _config(ctx: CommandContext) -> HttpConfig:
    return ctx.module.service(HttpConfig)


def _with_header(headers: list[tuple[str, str]], key: str, value: str) -> list[tuple[str, str]]:
    """``headers`` with ``key: value`` last, in place of any header of that key (any case)."""
    return [(k, v) for k, v in headers if k.lower() != key.lower()] + [(key, value)]


def _parse_header(raw: bytes) -> tuple[str, str]:
    text = raw.decode("utf-8", "surrogateescape")
    key, sep, value = text.partition(":")
    if not sep or not key.strip() or "\r" in text or "\n" in text:
        raise ValueError(text)
    return key.strip(), value.strip()


def _merge(own: list[tuple[str, str]], cfg: HttpConfig) -> list[tuple[str, str]]:
    """AT+HTTPCHEAD headers win over a command's own header of the same key."""
    keys = {k.lower() for k, _ in cfg.headers}
    return [(k, v) for k, v in own if k.lower() not in keys] + list(cfg.headers)


def _resolve_url(ctx: CommandContext, given: bytes) -> Url:
    raw = given or _config(ctx).url
    try:
        return parse_url(raw.decode("utf-8", "surrogateescape"))
    except ValueError:
        raise ParamInvalid(0) from None


class Request:
    """One command's HTTP exchange with its heap cost (client, buffers, TLS)."""

    def __init__(self, ctx: CommandContext, url: Url, *, timeout: float, buffers: int, transport_tls: bool) -> None:
        self.ctx = ctx
        self.url = url
        module = ctx.module
        self._ram: list[Allocation] = [module.heap.alloc_kind("http_client", buffers)]
        tls = None
        if url.secure or transport_tls:
            self._ram.append(module.heap.alloc_kind("tls_session"))
            cfg = _config(ctx)
            try:
                tls = auth_mode_context(module, "http", cfg.auth_mode, pki_index=cfg.pki_number, ca_index=cfg.ca_number)
            except TlsConfigError as exc:
                module.chip_log(f"E at-http: {exc}")
                self.free()
                raise HttpFailed(0) from None
        self.exchange = HttpExchange(module, url, timeout=timeout, tls=tls)

    async def send(self, method: str, headers: list[tuple[str, str]], body: bytes = b"", **kw: int | None) -> Response:
        try:
            return await self.exchange.send(method, _merge(headers, _config(self.ctx)), body, **kw)
        except HttpError as exc:
            raise HttpFailed(exc.code) from None

    async def close(self) -> None:
        await self.exchange.close()
        self.free()

    def free(self) -> None:
        for a in self._ram:
            a.free()
        self._ram.clear()


async def _emit(ctx: CommandContext, name: str, data: bytes) -> None:
    """One ``+NAME:<len>,<data>`` piece; waits while the host's UART is full."""
    await ctx.module.send_data(f"{name}:{len(data)},".encode() + data + b"\r\n", held=False)


def _pieces(name: bytes, pieces: list[bytes | memoryview]) -> bytes:
    """``+NAME:<len>,<data>\r\n`` for each piece, put together in one copy (a
    megabyte body comes in 256 KiB of pieces at a time)."""
    parts: list[bytes | memoryview] = []
    head, head_len = b"", -1
    for piece in pieces:
        n = len(piece)
        if n != head_len:
            head, head_len = b"%s:%d," % (name, n), n
        parts += (head, piece, b"\r\n")
    return b"".join(parts)


def _check_status(resp: Response) -> None:
    if resp.status >= 400:
        raise HttpFailed(resp.status)


# ------------------------------------------------------------- AT+HTTPCLIENT

httpclient = command("+HTTPCLIENT", group="http", doc="HTTP_AT_Commands.rst#cmd-HTTPCLIENT")


@httpclient.set()
async def _httpclient(ctx: CommandContext, args: Args) -> None:
    if len(args) < 6:
        raise ParamCount(6, len(args))
    opt = args.int(0, 1, 5)
    ctype = args.int(1, 0, 3)
    url_raw: bytes = args.str(2, max_len=URL_MAX, default=b"")
    host: bytes = args.str(3, default=b"")
    path: bytes = args.str(4, default=b"")
    transport = args.int(5, 1, 2, default=1)
    method = METHODS[opt]
    rest = 6
    body = b""
    if method == "POST" and len(args) > 6:
        body = args.str(6, default=b"")
        rest = 7
    headers = []
    for i in range(rest, len(args)):
        try:
            headers.append(_parse_header(args.str(i)))
        except ValueError:
            raise ParamInvalid(i) from None
    if url_raw or _config(ctx).url:
        url = _resolve_url(ctx, url_raw)
    else:
        if not host:
            raise ParamInvalid(3)
        scheme = "https" if transport == 2 else "http"
        p = path.decode("utf-8", "surrogateescape") or "/"
        try:
            url = parse_url(
                f"{scheme}://{host.decode('utf-8', 'surrogateescape')}{'' if p.startswith('/') else '/'}{p}"
            )
        except ValueError:
            raise ParamInvalid(3) from None
    if method not in ("GET", "HEAD"):
        headers.insert(0, ("Content-Type", CONTENT_TYPES[ctype]))
    req = Request(ctx, url, timeout=5.0, buffers=1024, transport_tls=False)
    try:
        resp = await req.send(method, headers, body)
        if method == "HEAD":
            for k, v in resp.headers:
                line = k + b": " + v
                ctx.raw(f"+HTTPCLIENT:{len(line)},".encode() + line + b"\r\n")
        else:
            try:
                async for piece in req.exchange.reads():
                    await _emit(ctx, "+HTTPCLIENT", piece)
            except HttpError as exc:
                raise HttpFailed(exc.code) from None
        _check_status(resp)
    finally:
        await req.close()


# ------------------------------------------------------------ GETSIZE / CGET


def _get_params(args: Args) -> tuple[bytes, int, int, float]:
    args.expect_count(1, 4)
    url: bytes = args.str(0, max_len=URL_MAX)
    tx = args.int(1, 0, 10240, default=2048)
    rx = args.int(2, 0, 10240, default=2048)
    timeout = args.int(3, 0, 180000, default=5000)
    return url, tx, rx, timeout / 1000.0


httpgetsize = command("+HTTPGETSIZE", group="http", doc="HTTP_AT_Commands.rst#cmd-HTTPGETSIZE")


@httpgetsize.set()
async def _httpgetsize(ctx: CommandContext, args: Args) -> None:
    raw, tx, rx, timeout = _get_params(args)
    url = _resolve_url(ctx, raw)
    req = Request(ctx, url, timeout=timeout, buffers=tx + rx, transport_tls=False)
    try:
        resp = await req.send("GET", [], tx_size=tx or None)
        _check_status(resp)
        size = resp.content_length
        if size is None:
            # chunked: esp_http_client reports no length; the firmware fails the query
            ctx.module.chip_log("E at-http: content length unknown (chunked)")
            raise HttpFailed(0)
        ctx.info("+HTTPGETSIZE", size)
    finally:
        await req.close()


httpcget = command("+HTTPCGET", group="http", doc="HTTP_AT_Commands.rst#cmd-HTTPCGET")


@httpcget.set()
async def _httpcget(ctx: CommandContext, args: Args) -> None:
    raw, tx, rx, timeout = _get_params(args)
    url = _resolve_url(ctx, raw)
    piece = rx or 2048
    req = Request(ctx, url, timeout=timeout, buffers=tx + rx, transport_tls=False)
    try:
        resp = await req.send("GET", [], tx_size=tx or None)
        _check_status(resp)
        try:
            async for pieces in req.exchange.fill(piece):
                await ctx.module.send_data(_pieces(b"+HTTPCGET", pieces), held=False)
        except HttpError as exc:
            raise HttpFailed(exc.code) from None
    finally:
        await req.close()


# ------------------------------------------------------------- CPOST / CPUT


async def _send_body(ctx: CommandContext, args: Args, method: str, name: str) -> Final | None:
    if len(args) < 2:
        raise ParamCount(2, len(args))
    raw: bytes = args.str(0, max_len=URL_MAX)
    length = args.int(1, 1, 0x7FFFFFFF)
    headers: list[tuple[str, str]] = [("Content-Type", CONTENT_TYPES[0])]
    if len(args) > 2:
        count = args.int(2, 0, 64)
        if len(args) != 3 + count:
            raise ParamCount(3 + count, len(args))
        for i in range(3, 3 + count):
            try:
                key, value = _parse_header(args.str(i))
            except ValueError:
                raise ParamInvalid(i) from None
            headers = _with_header(headers, key, value)
    url = _resolve_url(ctx, raw)
    if length > ctx.module.heap.largest_block:
        raise ParamLength(1)
    body_ram = ctx.module.heap.alloc(length, "http_body")
    try:
        got = await ctx.prompt(length)
        if not got.complete:
            return Final(Result.SEND_FAIL)
        req = Request(ctx, url, timeout=5.0, buffers=1024, transport_tls=False)
    finally:
        body_ram.free()
    try:
        resp = await req.send(method, headers, got.data)
        async for piece in req.exchange.reads():
            await _emit(ctx, name, piece)
        if resp.status >= 400:
            ctx.module.chip_log(f"E at-http: status {resp.status}")
            return Final(Result.SEND_FAIL)
    except (HttpFailed, HttpError):
        return Final(Result.SEND_FAIL)
    finally:
        await req.close()
    return Final(Result.SEND_OK)


httpcpost = command("+HTTPCPOST", group="http", doc="HTTP_AT_Commands.rst#cmd-HTTPCPOST")


@httpcpost.set()
async def _httpcpost(ctx: CommandContext, args: Args) -> Final | None:
    return await _send_body(ctx, args, "POST", "+HTTPCPOST")


httpcput = command("+HTTPCPUT", group="http", doc="HTTP_AT_Commands.rst#cmd-HTTPCPUT")


@httpcput.set()
async def _httpcput(ctx: CommandContext, args: Args) -> Final | None:
    return await _send_body(ctx, args, "PUT", "+HTTPCPUT")


# ------------------------------------------------------------ AT+HTTPURLCFG

httpurlcfg = command("+HTTPURLCFG", group="http", doc="HTTP_AT_Commands.rst#cmd-HTTPURLCFG")


@httpurlcfg.query
async def _httpurlcfg_q(ctx: CommandContext) -> None:
    url = _config(ctx).url
    if url:
        ctx.raw(f"+HTTPURLCFG:{len(url)},".encode() + url + b"\r\n")


@httpurlcfg.set(Int("url_length", lo=0, hi=URL_MAX))
async def _httpurlcfg_s(ctx: CommandContext, length: int) -> Final | None:
    cfg = _config(ctx)
    if length == 0:
        cfg.url = b""
        return None
    if length < 8:
        raise ParamInvalid(0)
    got = await ctx.prompt(length)
    if not got.complete:
        raise ExecFail()
    cfg.url = got.data
    return Final(Result.SET_OK)


# ------------------------------------------------------------- AT+HTTPCHEAD

httpchead = command("+HTTPCHEAD", group="http", doc="HTTP_AT_Commands.rst#cmd-HTTPCHEAD")


@httpchead.query
async def _httpchead_q(ctx: CommandContext) -> None:
    for i, (k, v) in enumerate(_config(ctx).headers):
        ctx.info("+HTTPCHEAD", i, f"{k}: {v}")


@httpchead.set(Int("req_header_len", lo=0, hi=URL_MAX))
async def _httpchead_s(ctx: CommandContext, length: int) -> None:
    cfg = _config(ctx)
    if length == 0:
        cfg.headers = []
        return
    got = await ctx.prompt(length)
    if not got.complete:
        raise ExecFail()
    try:
        key, value = _parse_header(got.data)
    except ValueError:
        raise ExecFail() from None
    cfg.headers = _with_header(cfg.headers, key, value)


# -------------------------------------------------------------- AT+HTTPCFG

httpcfg = command("+HTTPCFG", group="http", doc="HTTP_AT_Commands.rst#cmd-HTTPCFG")


@httpcfg.set(Int("auth_mode", lo=0, hi=3), Int("pki_number", 0, lo=0, hi=255), Int("ca_number", 0, lo=0, hi=255))
async def _httpcfg(ctx: CommandContext, auth_mode: int, pki_number: int, ca_number: int) -> None:
    cfg = _config(ctx)
    cfg.auth_mode, cfg.pki_number, cfg.ca_number = auth_mode, pki_number, ca_number
