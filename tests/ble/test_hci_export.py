"""A real Bluetooth host in another process scans for and connects to a module
through a controller exported over HCI/TCP."""

from __future__ import annotations

import asyncio
import socket
import sys
from pathlib import Path

from ble.ble_helpers import modules, server_advertising
from esp_at_sim import World
from esp_at_sim.services.ble.hci_export import HciExport
from esp_at_sim.world.scenario import parse_scenario


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_bumble_host_in_another_process_reads_the_module() -> None:
    port = _free_port()
    world = World(seed="hci")
    async with modules(("esp32c3", "esp0"), world=world) as (m,):
        export = await HciExport.open(world, "esp0", f"tcp-server:127.0.0.1:{port}")
        try:
            addr = await server_advertising(m.host)
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                str(Path(__file__).with_name("hci_host.py")),
                f"tcp-client:127.0.0.1:{port}",
                addr,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            # no timeout here: the world's clock jumps while the other process
            # thinks; pytest-timeout guards the test in real time
            out, err = await proc.communicate()
            text = out.decode()
            assert proc.returncode == 0, err.decode()[-2000:]
            assert f"SEEN {addr} " in text
            assert "SERVICES 1801 1800 A002 A003" in text.replace("0x", "").upper()
            assert "VALUE 30" in text
            # the module saw the outside host connect and leave
            raw = await m.host.read_until(b"+BLEDISCONN:0,", timeout=30)
            assert b'+BLECONN:0,"' + export.address.encode() + b'"' in raw
            assert b"+READ:0," in raw
        finally:
            await export.close()


async def test_scenario_module_key_declares_an_export() -> None:
    scenario = parse_scenario(
        {
            "module": [{"name": "esp0", "chip": "esp32c3", "ble_hci": "tcp-server:127.0.0.1:9"}],
            "bluetooth": {"positions": {"esp0": [1, 2]}, "rssi": [{"a": "esp0", "b": "tag", "rssi": -80}]},
            "ble_peer": [{"name": "tag", "address": "c0:11:22:33:44:55", "random": True, "adv_data": "020106"}],
        }
    )
    world = scenario.build_world()
    from esp_at_sim.world.radio import BleAir

    air = world.extension(BleAir)
    assert air.hci_exports == {"esp0": "tcp-server:127.0.0.1:9"}
    assert air.positions["esp0"] == (1.0, 2.0, 0.0)
    assert "tag" in air.nodes
