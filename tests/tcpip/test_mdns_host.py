"""AT+MDNS announced on the host with zeroconf (``[mdns] announce = true``), seen by
a zeroconf browser in the test, on loopback only."""

from __future__ import annotations

import pytest
from tests.tcpip.conftest import online
from zeroconf import IPVersion
from zeroconf.asyncio import AsyncZeroconf

from esp_at_sim import Module, World
from esp_at_sim.errors import ConfigError
from esp_at_sim.services.mdns import registry
from esp_at_sim.world.clock import Clock
from esp_at_sim.world.scenario import parse_scenario

SERVICE = "_printer._tcp.local."
NAME = "my_instance._printer._tcp.local."
ANNOUNCE = 'AT+MDNS=1,"espressif","_printer",35,"my_instance","_tcp",1,"product","my_printer"'

pytestmark = pytest.mark.real_time  # answers come over real multicast sockets


def announcing_world() -> World:
    # real time (the answers come over real sockets), but the module's boot runs 50x faster
    world = World(Clock(50.0))
    return parse_scenario({"mdns": {"announce": True, "interfaces": ["127.0.0.1"]}}).build_world(world)


async def lookup(browser: AsyncZeroconf, timeout_ms: int = 3000):  # type: ignore[no-untyped-def]
    return await browser.async_get_service_info(SERVICE, NAME, timeout=timeout_ms)


async def test_service_is_found_on_the_host_until_withdrawn() -> None:
    browser = AsyncZeroconf(interfaces=["127.0.0.1"], ip_version=IPVersion.V4Only)
    try:
        async with Module.start("esp32c3", world=announcing_world(), name="esp0", port_map=((35, 8035),)) as m:
            online(m, "192.168.1.10")
            assert (await m.host.command(ANNOUNCE)).final == b"OK"
            info = await lookup(browser)
            assert info is not None
            assert info.port == 8035  # the host port where module port 35 is served
            assert info.parsed_addresses() == ["127.0.0.1"]
            assert info.server == "espressif.local."
            assert info.properties == {b"product": b"my_printer"}
            assert (await m.host.command("AT+MDNS=0")).final == b"OK"
            browser.zeroconf.cache.cache.clear()
            assert await lookup(browser, 1000) is None
    finally:
        await browser.async_close()


async def test_reboot_ends_the_announcement() -> None:
    browser = AsyncZeroconf(interfaces=["127.0.0.1"], ip_version=IPVersion.V4Only)
    world = announcing_world()
    try:
        async with Module.start("esp32c3", world=world, name="esp0") as m:
            online(m, "192.168.1.10")
            assert (await m.host.command(ANNOUNCE)).final == b"OK"
            assert (info := await lookup(browser)) is not None and info.port == 35
            assert (await m.host.command('AT+MDNS=2,4,"espressif",1000')).final == b"OK"
            assert (await m.host.command("AT+RST")).final == b"OK"
            await m.host.wait_ready()
            browser.zeroconf.cache.cache.clear()
            assert await lookup(browser, 1000) is None
            # in the world too: the host name is gone
            online(m, "192.168.1.10")
            assert (await m.host.command('AT+MDNS=2,4,"espressif",1000')).final == b"ERROR"
    finally:
        await browser.async_close()


def test_bad_mdns_table() -> None:
    with pytest.raises(ConfigError, match="interfaces"):
        parse_scenario({"mdns": {"announce": True, "interfaces": "lo"}}).build_world()
    with pytest.raises(ConfigError, match="announce"):
        parse_scenario({"mdns": {"announce": True, "colour": "red"}}).build_world()


async def test_in_world_lookup_needs_no_host_responder() -> None:
    async with Module.start("esp32c3", name="esp0") as m:
        online(m, "192.168.1.10")
        assert (await m.host.command(ANNOUNCE)).final == b"OK"
        assert (await m.host.command('AT+CIPDOMAIN="espressif.local"')).final == b"OK"
        assert registry(m).announce_on_host is False
