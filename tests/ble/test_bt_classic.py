"""Classic Bluetooth between two ESP32 modules (classic_bluetooth_at_examples.rst)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re

from ble.ble_helpers import modules, ok
from esp_at_sim import AtHost, Clock, Module, World

DISC = re.compile(rb'\+BTSTARTDISC:"([0-9a-f:]{17})",([^,\r]*),([^,\r]*),([^,\r]*),([^,\r]*),(-?\d+)\r\n')


async def _slave(h: AtHost, secparam: str = '3,1,"9527"') -> None:
    await ok(h, "AT+BTINIT=1")
    await ok(h, "AT+BTSPPINIT=2")
    await ok(h, 'AT+BTNAME="EXAMPLE"')
    await ok(h, "AT+BTSCANMODE=2")
    await ok(h, f"AT+BTSECPARAM={secparam}")
    await ok(h, "AT+BTSPPSTART")


async def _master(h: AtHost) -> None:
    await ok(h, "AT+BTINIT=1")
    await ok(h, "AT+BTSPPINIT=1")


async def _connect(m: AtHost, s: AtHost, addr: str, sec: int = 0) -> str:
    raw = await ok(m, f'AT+BTSPPCONN=0,{sec},"{addr}"', timeout=60)
    assert raw == f'AT+BTSPPCONN=0,{sec},"{addr}"\r\n\r\nOK\r\n'.encode()
    await m.expect(f'+BTSPPCONN:0,"{addr}"\r\n'.encode(), timeout=60)
    line = await s.read_until(re.compile(rb'\+BTSPPCONN:0,"[0-9a-f:]{17}"\r\n'), timeout=10)
    return line.decode().split('"')[1]


async def test_discovery_connection_data_and_disconnection() -> None:
    async with modules(("esp32", "master"), ("esp32", "slave")) as (master, slave):
        m, s = master.host, slave.host
        assert b"+BTINIT:0\r\n" in await ok(m, "AT+BTINIT?")
        await _slave(s)
        await _master(m)
        assert b"+BTNAME:EXAMPLE\r\n" in await ok(s, "AT+BTNAME?")
        assert b"+BTSECPARAM:3,1,9527\r\n" in await ok(s, "AT+BTSECPARAM?")
        assert b"+BTSPPINIT:1\r\n" in await ok(s, "AT+BTSPPINIT?")
        assert b"+BTSPPCONN:-1\r\n" in await ok(m, "AT+BTSPPCONN?")
        raw = await ok(m, "AT+BTSTARTDISC=0,3,10", timeout=30)
        found = DISC.findall(raw)
        assert found and all(f[1] == b"EXAMPLE" and f[2:5] == (b"", b"", b"") for f in found)
        addr = found[0][0].decode()
        master_addr = await _connect(m, s, addr)
        assert f'+BTSPPCONN:0,"{addr}"\r\n'.encode() in await ok(m, "AT+BTSPPCONN?")
        await m.send("AT+BTSPPSEND=0,4")
        await m.expect(b"AT+BTSPPSEND=0,4\r\n\r\nOK\r\n\r\n>", timeout=5)
        await m.write(b"test")
        await m.expect(b"\r\nOK\r\n", timeout=5)
        await s.expect(b"+BTDATA:4,test\r\n", timeout=5)
        raw = await ok(s, "AT+BTSPPDISCONN=0")
        assert raw == f'AT+BTSPPDISCONN=0\r\n+BTSPPDISCONN:0,"{master_addr}"\r\n\r\nOK\r\n'.encode()
        await m.expect(f'+BTSPPDISCONN:0,"{addr}"\r\n'.encode(), timeout=5)
        r = await s.command("AT+BTSPPDISCONN=0")
        assert r.raw == b"AT+BTSPPDISCONN=0\r\n+BTSPPDISCONN:-1\r\n\r\nERROR\r\n"


async def test_class_of_device_and_undiscoverable_peer() -> None:
    async with modules(("esp32", "a"), ("esp32", "b")) as (a, b):
        await ok(a.host, "AT+BTINIT=1")
        await ok(b.host, "AT+BTINIT=1")
        await ok(b.host, "AT+BTCOD=6,32,32")  # a printer
        await ok(b.host, "AT+BTSCANMODE=1")  # connectable, not discoverable
        assert b"+BTSTARTDISC:" not in await ok(a.host, "AT+BTSTARTDISC=0,2,0", timeout=30)
        await ok(b.host, "AT+BTSCANMODE=2")
        raw = await ok(a.host, "AT+BTSTARTDISC=0,2,1", timeout=30)
        m = DISC.search(raw)
        assert m and m.group(3, 4, 5) == (b"0x6", b"0x20", b"0x20")
        assert raw.count(b"+BTSTARTDISC:") == 1  # inq_num_rsps
        assert b"+BTPOWER:5,5\r\n" in await ok(a.host, "AT+BTPOWER?")
        await ok(a.host, "AT+BTPOWER=5,6")
        assert b"+BTPOWER:5,6\r\n" in await ok(a.host, "AT+BTPOWER?")
        for bad in (
            "AT+BTPOWER=8,8",
            "AT+BTCOD=32,0,0",
            "AT+BTSCANMODE=4",
            "AT+BTSTARTDISC=0,0,0",
            "AT+BTSTARTDISC=2,1,0",
        ):
            assert (await a.host.command(bad)).final == b"ERROR", bad


async def test_passkey_pairing_and_bond_across_restart(tmp_path) -> None:  # type: ignore[no-untyped-def]
    async with modules(("esp32", "master"), ("esp32", "slave"), state_dir=tmp_path) as (master, slave):
        m, s = master.host, slave.host
        await _slave(s, '2,0,"9527"')  # KeyboardOnly: the slave types the passkey
        await _master(m)
        await ok(m, 'AT+BTSECPARAM=0,0,""')  # DisplayOnly
        raw = await ok(m, "AT+BTSTARTDISC=0,2,1", timeout=30)
        addr = DISC.search(raw).group(1).decode()  # type: ignore[union-attr]
        await m.send(f'AT+BTSPPCONN=0,54,"{addr}"')
        key = re.search(
            rb"\+BTKEYNTF:0,(\d+)\r\n", await m.read_until(re.compile(rb"\+BTKEYNTF:0,\d+\r\n"), timeout=10)
        )
        assert key
        await s.read_until(b"+BTKEYREQ:", timeout=10)
        await s.read_until(b"\r\n", timeout=5)
        await ok(s, f"AT+BTKEYREPLY=0,{int(key.group(1))}")
        await m.read_until(f'+BTSPPCONN:0,"{addr}"\r\n'.encode(), timeout=30)
        assert b"+BTENCDEV:0," in await ok(m, "AT+BTENCDEV?")
        assert b"+BTENCDEV:0," in await ok(s, "AT+BTENCDEV?")
        await ok(m, "AT+BTSPPDISCONN=0")
        await s.read_until(b"+BTSPPDISCONN:0,", timeout=10)
        for h in (m, s):
            await ok(h, "AT+RST")
            await h.read_until(b"ready\r\n", timeout=10)
        await _slave(s, '2,0,"9527"')
        await _master(m)
        # bonded: authentication with the stored link key, no passkey this time
        await ok(m, f'AT+BTSPPCONN=0,54,"{addr}"', timeout=60)
        raw = await m.read_until(f'+BTSPPCONN:0,"{addr}"\r\n'.encode(), timeout=30)
        assert b"+BTKEYNTF" not in raw
        await ok(m, "AT+BTENCCLEAR")
        assert b"+BTENCDEV:" not in await ok(m, "AT+BTENCDEV?")


async def test_numeric_comparison_rejected() -> None:
    async with modules(("esp32", "master"), ("esp32", "slave")) as (master, slave):
        m, s = master.host, slave.host
        await _slave(s, '1,0,""')
        await _master(m)
        await ok(m, 'AT+BTSECPARAM=1,0,""')
        raw = await ok(m, "AT+BTSTARTDISC=0,2,1", timeout=30)
        addr = DISC.search(raw).group(1).decode()  # type: ignore[union-attr]
        await m.send(f'AT+BTSPPCONN=0,54,"{addr}"')
        line = await s.read_until(re.compile(rb'\+BTCFMREQ:"[0-9a-f:]{17}",\d+\r\n'), timeout=10)
        await m.read_until(re.compile(rb'\+BTCFMREQ:"[0-9a-f:]{17}",\d+\r\n'), timeout=10)
        assert line
        await ok(s, "AT+BTSECCFM=0,0")
        await ok(m, "AT+BTSECCFM=0,1")
        await m.read_until(b"+BTSPPCONN:-1\r\n", timeout=60)


async def _pump(src: AtHost, dst: AtHost, data: bytes) -> bytes:
    got = bytearray()

    async def reader() -> None:
        while len(got) < len(data):
            got.extend(await dst.read_exactly(min(65536, len(data) - len(got)), timeout=600))

    task = asyncio.ensure_future(reader())
    for i in range(0, len(data), 8192):
        await src.write(data[i : i + 8192])
    await asyncio.wait_for(task, 600)
    return bytes(got)


async def test_spp_passthrough_one_mib_each_way() -> None:
    world = World(Clock(100), seed="bt-spp")
    async with modules(("esp32", "master"), ("esp32", "slave"), world=world) as (master, slave):
        m, s = master.host, slave.host
        await _slave(s)
        await _master(m)
        raw = await ok(m, "AT+BTSTARTDISC=0,1,1", timeout=30)
        addr = DISC.search(raw).group(1).decode()  # type: ignore[union-attr]
        await _connect(m, s, addr)
        for h in (m, s):
            await h.send("AT+BTSPPSEND")
            await h.expect(b"AT+BTSPPSEND\r\n\r\nOK\r\n\r\n>", timeout=5)
        data = os.urandom(1 << 20)
        got = await _pump(m, s, data)
        assert hashlib.sha256(got).digest() == hashlib.sha256(data).digest()
        back = os.urandom(1 << 20)
        got = await _pump(s, m, back)
        assert hashlib.sha256(got).digest() == hashlib.sha256(back).digest()
        for h in (m, s):
            await asyncio.sleep(0.05)
            await h.write(b"+++")
            await asyncio.sleep(1.1)
        assert f'+BTSPPCONN:0,"{addr}"'.encode() in await ok(m, "AT+BTSPPCONN?")


async def test_classic_only_on_esp32() -> None:
    async with Module.start("esp32c3", name="c3") as m:
        for line in ("AT+BTINIT=1", "AT+BTINIT?", "AT+BTSPPINIT=1", "AT+BTA2DPINIT=1"):
            assert (await m.host.command(line)).raw == line.encode() + b"\r\n\r\nERROR\r\n"


async def test_bt_commands_before_init() -> None:
    async with modules(("esp32", "m")) as (m,):
        for line in ('AT+BTNAME="x"', "AT+BTSCANMODE=2", "AT+BTSPPINIT=2", "AT+BTSTARTDISC=0,1,0", "AT+BTENCDEV?"):
            assert (await m.host.command(line)).final == b"ERROR", line
