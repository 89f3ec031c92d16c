"""LE pairing between two modules: every association model, wrong passkeys,
bonds kept across restarts (bluetooth_le_at_examples.rst, "Encrypt Bluetooth
LE connection")."""

from __future__ import annotations

import re

from ble.ble_helpers import connect, modules, ok, server_advertising
from esp_at_sim import AtHost, Module
from esp_at_sim.device.nvs import NvsType

KEY = re.compile(rb"\+BLESECNTFYKEY:0,(\d{6})\r\n")


async def _pair_setup(srv: Module, cli: Module, srv_param: str, cli_param: str) -> tuple[AtHost, AtHost]:
    s, c = srv.host, cli.host
    addr = await server_advertising(s)
    await ok(c, "AT+BLEINIT=1")
    await connect(c, s, addr)
    await ok(s, f"AT+BLESECPARAM={srv_param}")
    await ok(c, f"AT+BLESECPARAM={cli_param}")
    return s, c


async def test_passkey_entry_exact_example() -> None:
    async with modules(("esp32", "srv"), ("esp32", "cli")) as (srv, cli):
        s, c = await _pair_setup(srv, cli, "13,2,16,3,3", "13,4,16,3,3")
        assert b"+BLESECPARAM:13,2,16,3,3,0\r\n" in await ok(s, "AT+BLESECPARAM?")
        assert (await c.command("AT+BLEENC=0,3")).raw == b"AT+BLEENC=0,3\r\n\r\nOK\r\n"
        await s.expect(b"+BLESECREQ:0\r\n", timeout=5)
        assert (await s.command("AT+BLEENCRSP=0,1")).raw == b"AT+BLEENCRSP=0,1\r\n\r\nOK\r\n"
        key = KEY.search(await c.read_until(KEY, timeout=5))
        assert key
        await s.expect(b"+BLESECKEYREQ:0\r\n", timeout=5)
        await ok(s, f"AT+BLEKEYREPLY=0,{int(key.group(1))}")
        await s.expect(
            b"+BLESECKEYTYPE:0,16\r\n+BLESECKEYTYPE:0,1\r\n+BLESECKEYTYPE:0,32\r\n+BLESECKEYTYPE:0,2\r\n"
            b"+BLEAUTHCMPL:0,0\r\n",
            timeout=10,
        )
        await c.expect(
            b"+BLESECKEYTYPE:0,2\r\n+BLESECKEYTYPE:0,16\r\n+BLESECKEYTYPE:0,1\r\n+BLESECKEYTYPE:0,32\r\n"
            b"+BLEAUTHCMPL:0,0\r\n",
            timeout=10,
        )


async def test_wrong_passkey_fails_on_both_sides() -> None:
    async with modules(("esp32c3", "srv"), ("esp32c3", "cli")) as (srv, cli):
        s, c = await _pair_setup(srv, cli, "13,2,16,3,3", "13,4,16,3,3")
        await ok(c, "AT+BLEENC=0,3")
        await s.read_until(b"+BLESECREQ:0\r\n", timeout=5)
        await ok(s, "AT+BLEENCRSP=0,1")
        key = KEY.search(await c.read_until(KEY, timeout=5))
        assert key
        wrong = (int(key.group(1)) + 1) % 1_000_000
        await s.read_until(b"+BLESECKEYREQ:0\r\n", timeout=5)
        await ok(s, f"AT+BLEKEYREPLY=0,{wrong}")
        await s.read_until(b"+BLEAUTHCMPL:0,1\r\n", timeout=10)
        await c.read_until(b"+BLEAUTHCMPL:0,1\r\n", timeout=10)
        assert b"+BLEENCDEV:" not in await ok(c, "AT+BLEENCDEV?")


async def test_pairing_rejected_by_the_responder() -> None:
    async with modules(("esp32", "srv"), ("esp32", "cli")) as (srv, cli):
        s, c = await _pair_setup(srv, cli, "1,3,16,3,3", "1,3,16,3,3")
        await ok(c, "AT+BLEENC=0,1")
        await s.read_until(b"+BLESECREQ:0\r\n", timeout=5)
        await ok(s, "AT+BLEENCRSP=0,0")
        await c.read_until(b"+BLEAUTHCMPL:0,1\r\n", timeout=10)


async def test_numeric_comparison() -> None:
    async with modules(("esp32c3", "srv"), ("esp32c3", "cli")) as (srv, cli):
        s, c = await _pair_setup(srv, cli, "13,1,16,3,3", "13,1,16,3,3")
        await ok(c, "AT+BLEENC=0,3")
        await s.read_until(b"+BLESECREQ:0\r\n", timeout=5)
        await ok(s, "AT+BLEENCRSP=0,1")
        nc = re.compile(rb"\+BLESECNCREQ:0,(\d+)\r\n")
        a = nc.search(await c.read_until(nc, timeout=5))
        b = nc.search(await s.read_until(nc, timeout=5))
        assert a and b and a.group(1) == b.group(1)
        await ok(c, "AT+BLECONFREPLY=0,1")
        await ok(s, "AT+BLECONFREPLY=0,1")
        await s.read_until(b"+BLEAUTHCMPL:0,0\r\n", timeout=10)
        await c.read_until(b"+BLEAUTHCMPL:0,0\r\n", timeout=10)


async def test_legacy_pairing_with_static_passkey() -> None:
    async with modules(("esp32", "srv"), ("esp32", "cli")) as (srv, cli):
        s, c = await _pair_setup(srv, cli, "5,0,16,3,3", "5,2,16,3,3")
        assert b"+BLESETKEY:-1\r\n" in await ok(s, "AT+BLESETKEY?")
        await ok(s, "AT+BLESETKEY=123456")
        assert b"+BLESETKEY:123456\r\n" in await ok(s, "AT+BLESETKEY?")
        await ok(c, "AT+BLEENC=0,3")
        await s.read_until(b"+BLESECREQ:0\r\n", timeout=5)
        await ok(s, "AT+BLEENCRSP=0,1")
        await s.read_until(b"+BLESECNTFYKEY:0,123456\r\n", timeout=5)
        await c.read_until(b"+BLESECKEYREQ:0\r\n", timeout=5)
        await ok(c, "AT+BLEKEYREPLY=0,123456")
        await s.read_until(b"+BLEAUTHCMPL:0,0\r\n", timeout=10)
        await c.read_until(b"+BLEAUTHCMPL:0,0\r\n", timeout=10)


async def _mitm_table(module: Module) -> None:
    """A one-service table whose characteristic needs an authenticated (MITM) link."""
    mfg = module.nvs.mfg
    mfg.erase("ble_data")
    rows = ["0,16,0x2800,0x01,2,2,FF01", "1,16,0x2803,0x01,1,1,02", "2,16,0xFF02,0x04,1,1,41"]
    for i, row in enumerate(rows):
        mfg.set("ble_data", f"cfg{i}", row, NvsType.STR)


async def test_just_works_is_not_mitm_protected() -> None:
    async with modules(("esp32c3", "srv"), ("esp32c3", "cli")) as (srv, cli):
        await _mitm_table(srv)
        s, c = await _pair_setup(srv, cli, "9,3,16,3,3", "9,3,16,3,3")
        assert b'+BLEGATTSCHAR:"char",1,1,0xFF02,0x02\r\n' in await ok(s, "AT+BLEGATTSCHAR?")
        await ok(c, "AT+BLEGATTCPRIMSRV=0")
        await ok(c, "AT+BLEGATTCCHAR=0,3")
        assert (await c.command("AT+BLEGATTCRD=0,3,1")).final == b"ERROR"  # not even encrypted
        await ok(c, "AT+BLEENC=0,1")
        await s.read_until(b"+BLESECREQ:0\r\n", timeout=5)
        await ok(s, "AT+BLEENCRSP=0,1")
        await c.read_until(b"+BLEAUTHCMPL:0,0\r\n", timeout=10)
        # encrypted by Just Works: still not enough for a MITM-protected attribute
        assert (await c.command("AT+BLEGATTCRD=0,3,1")).final == b"ERROR"


async def test_passkey_pairing_opens_mitm_attribute() -> None:
    async with modules(("esp32c3", "srv"), ("esp32c3", "cli")) as (srv, cli):
        await _mitm_table(srv)
        s, c = await _pair_setup(srv, cli, "13,0,16,3,3", "13,2,16,3,3")
        await ok(s, "AT+BLESETKEY=654321")
        await ok(c, "AT+BLEGATTCPRIMSRV=0")
        await ok(c, "AT+BLEGATTCCHAR=0,3")
        await ok(c, "AT+BLEENC=0,3")
        await s.read_until(b"+BLESECREQ:0\r\n", timeout=5)
        await ok(s, "AT+BLEENCRSP=0,1")
        await c.read_until(b"+BLESECKEYREQ:0\r\n", timeout=5)
        await ok(c, "AT+BLEKEYREPLY=0,654321")
        await c.read_until(b"+BLEAUTHCMPL:0,0\r\n", timeout=10)
        assert b"+BLEGATTCRD:0,1,A\r\n" in await ok(c, "AT+BLEGATTCRD=0,3,1")


async def test_bond_survives_restart_and_reencrypts_without_prompt(tmp_path) -> None:  # type: ignore[no-untyped-def]
    async with modules(("esp32", "srv"), ("esp32", "cli"), state_dir=tmp_path) as (srv, cli):
        s, c = await _pair_setup(srv, cli, "1,3,16,3,3", "1,3,16,3,3")
        await ok(c, "AT+BLEENC=0,1")
        await s.read_until(b"+BLESECREQ:0\r\n", timeout=5)
        await ok(s, "AT+BLEENCRSP=0,1")
        await c.read_until(b"+BLEAUTHCMPL:0,0\r\n", timeout=10)
        await s.read_until(b"+BLEAUTHCMPL:0,0\r\n", timeout=10)
        srv_bonds = await ok(s, "AT+BLEENCDEV?")
        cli_bonds = await ok(c, "AT+BLEENCDEV?")
        assert b"+BLEENCDEV:0," in srv_bonds and b"+BLEENCDEV:0," in cli_bonds
        for h in (s, c):
            await ok(h, "AT+RST")
            await h.read_until(b"ready\r\n", timeout=10)
        assert await ok(c, "AT+BLEINIT=1")
        assert await ok(c, "AT+BLEENCDEV?") == cli_bonds
        addr = await server_advertising(s)
        assert await ok(s, "AT+BLEENCDEV?") == srv_bonds
        await connect(c, s, addr)
        await ok(c, "AT+BLEENC=0,1")
        out = await c.read_until(b"+BLEAUTHCMPL:0,0\r\n", timeout=10)
        assert b"+BLESECKEYTYPE" not in out
        await s.read_until(b"+BLEAUTHCMPL:0,0\r\n", timeout=10)
        # clearing the bonds
        await ok(c, "AT+BLEENCCLEAR=0")
        assert b"+BLEENCDEV:" not in await ok(c, "AT+BLEENCDEV?")
        assert (await c.command("AT+BLEENCCLEAR=0")).final == b"ERROR"
        await ok(s, "AT+BLEENCCLEAR")
        assert b"+BLEENCDEV:" not in await ok(s, "AT+BLEENCDEV?")


async def test_security_bad_parameters() -> None:
    async with modules(
        ("esp32c6", "m"),
    ) as (m,):
        h = m.host
        assert (await h.command("AT+BLESECPARAM=1,0,16,3,3")).final == b"ERROR"  # not initialized
        await ok(h, "AT+BLEINIT=1")
        for line in (
            "AT+BLESECPARAM=2,0,16,3,3",
            "AT+BLESECPARAM=1,5,16,3,3",
            "AT+BLESECPARAM=1,0,6,3,3",
            "AT+BLESECPARAM=1,0,16,16,3",
            "AT+BLESECPARAM=1,0,16,3",
            "AT+BLEENC=0,1",  # no connection
            "AT+BLEENC=0,4",
            "AT+BLEKEYREPLY=0,1000000",
            "AT+BLESETKEY=1000000",
            "AT+BLEENCRSP=0,1",  # Bluedroid only
        ):
            assert (await h.command(line)).final == b"ERROR", line
