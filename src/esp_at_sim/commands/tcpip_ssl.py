"""TCP/IP AT commands: SSL client configuration (TCP-IP_AT_Commands.rst, AT+CIPSSLC*).

Every command configures one link id, or all of them with id = max (5 by
default); in single-connection mode the id is left out and means link 0.
AT+CIPSSLCCONF is kept in NVS; the others live in RAM until a reboot.
"""

from __future__ import annotations

from esp_at_sim.at.params import Args, Str
from esp_at_sim.at.registry import command
from esp_at_sim.commands.tcpip import links_of, ssl_config
from esp_at_sim.device.context import CommandContext
from esp_at_sim.errors import ExecFail, ParamCount, ParamInvalid, ParamLength
from esp_at_sim.services import tls

DOC = "TCP-IP_AT_Commands.rst"


def _ids(ctx: CommandContext, args: Args) -> tuple[list[int], int]:
    """The link ids a set command addresses and the index of its first own parameter."""
    t = links_of(ctx)
    if not t.mux:
        return [0], 0
    link_id = args.int(0, 0, t.max_links)
    return (list(range(t.max_links)) if link_id == t.max_links else [link_id]), 1


def _query_ids(ctx: CommandContext) -> list[int]:
    t = links_of(ctx)
    return list(range(t.max_links)) if t.mux else [0]


# ------------------------------------------------------------ AT+CIPSSLCCONF
cipsslcconf = command("+CIPSSLCCONF", group="tcpip", doc=f"{DOC}#cmd-SSLCCONF")


@cipsslcconf.query
async def _cipsslcconf_q(ctx: CommandContext) -> None:
    t = links_of(ctx)
    for i in _query_ids(ctx):
        c = ssl_config(ctx, i)
        if t.mux:
            ctx.info("+CIPSSLCCONF", i, c.auth_mode, c.pki_number, c.ca_number)
        else:
            ctx.info("+CIPSSLCCONF", c.auth_mode, c.pki_number, c.ca_number)


@cipsslcconf.set()
async def _cipsslcconf_s(ctx: CommandContext, args: Args) -> None:
    ids, i = _ids(ctx, args)
    args.expect_count(i + 1, i + 3)
    auth = args.int(i, 0, 3)
    pki = args.int(i + 1, 0, 255, default=0)
    ca = args.int(i + 2, 0, 255, default=0)
    saved = dict(ctx.module.settings.get("tcpip", "sslcconf", {}) or {})
    for link_id in ids:
        c = ssl_config(ctx, link_id)
        c.auth_mode, c.pki_number, c.ca_number = auth, pki, ca
        saved[str(link_id)] = [auth, pki, ca]
    ctx.module.settings.set("tcpip", "sslcconf", saved, persist=True)


# ---------------------------------------------------------- AT+CIPSSLCCIPHER
cipsslccipher = command("+CIPSSLCCIPHER", group="tcpip", doc=f"{DOC}#cmd-SSLCCIPHER")


@cipsslccipher.query
async def _cipsslccipher_q(ctx: CommandContext) -> None:
    configured = ssl_config(ctx, 0).ciphers
    for idx, suite in enumerate(configured or list(tls.CIPHERS)):
        ctx.line(f"+CIPSSLCCIPHER:{idx},0x{suite:04X}")


@cipsslccipher.set()
async def _cipsslccipher_s(ctx: CommandContext, args: Args) -> None:
    ids, i = _ids(ctx, args)
    count = args.int(i, 0, 64)
    if len(args) != i + 1 + count:
        raise ParamCount(i + 1 + count, len(args))
    suites = [args.int(i + 1 + k, 0, 0xFFFF) for k in range(count)]
    for suite in suites:
        if suite not in tls.CIPHERS:
            ctx.module.chip_log(f"at-net: invalid cipher: 0x{suite:04x}")
    if count and not any(s in tls.CIPHERS for s in suites):
        ctx.module.chip_log("at-net: all ciphersuites are not supported")
        raise ExecFail()
    for link_id in ids:
        ssl_config(ctx, link_id).ciphers = [s for s in suites if s in tls.CIPHERS]


# ------------------------------------------------------ AT+CIPSSLCCN / SNI
def _string_setting(name: str, attr: str, doc: str) -> None:
    cmd = command(name, group="tcpip", doc=f"{DOC}#{doc}")

    @cmd.query
    async def _q(ctx: CommandContext) -> None:
        for i in _query_ids(ctx):
            ctx.info(name, i, getattr(ssl_config(ctx, i), attr))

    @cmd.set()
    async def _s(ctx: CommandContext, args: Args) -> None:
        ids, i = _ids(ctx, args)
        args.expect_count(i + 1, i + 1)
        value = args.get(i, Str(attr, max_len=64, text=True))
        if not value:
            raise ParamLength(i)
        for link_id in ids:
            setattr(ssl_config(ctx, link_id), attr, value)


_string_setting("+CIPSSLCCN", "common_name", "cmd-SSLCCN")
_string_setting("+CIPSSLCSNI", "sni", "cmd-SSLCSNI")


# ---------------------------------------------------------- AT+CIPSSLCALPN
cipsslcalpn = command("+CIPSSLCALPN", group="tcpip", doc=f"{DOC}#cmd-SSLCALPN")


@cipsslcalpn.query
async def _cipsslcalpn_q(ctx: CommandContext) -> None:
    for i in _query_ids(ctx):
        ctx.info("+CIPSSLCALPN", i, *ssl_config(ctx, i).alpn)


@cipsslcalpn.set()
async def _cipsslcalpn_s(ctx: CommandContext, args: Args) -> None:
    ids, i = _ids(ctx, args)
    count = args.int(i, 0, 5)
    if len(args) != i + 1 + count:
        raise ParamCount(i + 1 + count, len(args))
    names = [args.get(i + 1 + k, Str("alpn", text=True)) for k in range(count)]
    if any(not n for n in names):
        raise ParamInvalid(i + 1)
    for link_id in ids:
        ssl_config(ctx, link_id).alpn = list(names)


# ---------------------------------------------------- AT+CIPSSLCPSK / PSKHEX
def _psk_command(name: str, hex_form: bool, doc: str) -> None:
    cmd = command(name, group="tcpip", doc=f"{DOC}#{doc}")

    @cmd.query
    async def _q(ctx: CommandContext) -> None:
        for i in _query_ids(ctx):
            c = ssl_config(ctx, i)
            psk = c.psk.hex() if hex_form else c.psk.decode("latin-1")
            ctx.info(name, i, psk, c.psk_hint)

    @cmd.set()
    async def _s(ctx: CommandContext, args: Args) -> None:
        ids, i = _ids(ctx, args)
        args.expect_count(i + 2, i + 2)
        raw = args.get(i, Str("psk", max_len=64 if hex_form else 32))
        hint = args.get(i + 1, Str("hint", max_len=32, text=True))
        if hex_form:
            try:
                psk = bytes.fromhex(raw.decode("ascii"))
            except (ValueError, UnicodeDecodeError):
                raise ParamInvalid(i) from None
        else:
            psk = raw
        for link_id in ids:
            c = ssl_config(ctx, link_id)
            c.psk, c.psk_hint = psk, hint


_psk_command("+CIPSSLCPSK", False, "cmd-SSLCPSK")
_psk_command("+CIPSSLCPSKHEX", True, "cmd-SSLCPSKHEX")
