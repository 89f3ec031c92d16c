"""The BLE and MQTT sections of a module's snapshot, and the BluFi events observers get."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import esp_at_sim.control.sections  # noqa: F401 - registers the sections the control API serves
from esp_at_sim import Module, World
from esp_at_sim.device.snapshot import snapshot
from esp_at_sim.services.ble.blufi_app import BlufiApp
from esp_at_sim.services.ble.peer import BlePeer
from esp_at_sim.services.ble.radio import bt_address
from esp_at_sim.world.wifi import AccessPointSpec, WifiAir
from esp_at_sim.world.wifi_radio import Security

sys.path.insert(0, str(Path(__file__).parent.parent))
from apps.brokers import running_broker
from apps.support import go_online, quiet


async def ok(m: Module, line: str) -> bytes:
    reply = await m.host.command(line, timeout=10)
    assert reply.ok, (line, reply.raw)
    return reply.raw


async def test_ble_section_follows_the_stack() -> None:
    world = World(seed="snap-ble")
    async with (
        Module.start("esp32c3", world=world, name="srv") as srv,
        Module.start("esp32", world=world, name="cli") as cli,
    ):
        assert "ble" not in snapshot(srv)
        await ok(srv, "AT+BLEINIT=2")
        await ok(srv, 'AT+BLENAME="snap"')
        await ok(srv, "AT+BLEADVSTART")
        ble = snapshot(srv)["ble"]
        assert ble["role"] == 2 and ble["advertising"] and ble["name"] == "snap" and ble["links"] == []
        srv_addr = ble["address"]
        await ok(cli, "AT+BLEINIT=1")
        await cli.host.send(f'AT+BLECONN=0,"{srv_addr}"')
        await cli.host.read_until(b"OK\r\n", timeout=10)
        await srv.host.read_until(b"+BLECONN:0,", timeout=10)
        srv_ble, cli_ble = snapshot(srv)["ble"], snapshot(cli)["ble"]
        # a connection ends advertising
        assert not srv_ble["advertising"]
        assert [(link["index"], link["central"]) for link in srv_ble["links"]] == [(0, False)]
        assert [(link["index"], link["address"], link["central"]) for link in cli_ble["links"]] == [(0, srv_addr, True)]
        await ok(srv, "AT+BLEINIT=0")
        assert snapshot(srv)["ble"]["role"] == 0 and snapshot(srv)["ble"]["links"] == []


async def test_blufi_events_reach_observers_without_the_password() -> None:
    world = World(seed="snap-blufi")
    world.extension(WifiAir).add(AccessPointSpec(ssid=b"lab", password=b"labpassword", security=Security.WPA2))
    async with Module.start("esp32c3", world=world, name="dev") as dev:
        events: list[dict[str, Any]] = []
        dev.subscribe(lambda event, fields: events.append(dict(fields)) if event == "blufi" else None)
        await ok(dev, "AT+CWMODE=1")
        await ok(dev, "AT+BLUFI=1")
        assert snapshot(dev)["ble"]["blufi"] == {
            "active": True,
            "name": "BLUFI_DEVICE",
            "connected": False,
            "ssid": None,
        }
        async with BlePeer.start(world, "phone") as phone:
            app = BlufiApp(phone)
            await app.connect(bt_address(dev))
            await dev.host.read_until(b"+BLUFICONN\r\n", timeout=5)
            assert snapshot(dev)["ble"]["blufi"]["connected"] is True
            await app.negotiate()
            await app.set_station(b"lab", b"labpassword")
            await dev.host.read_until(b"+PASSWORD:labpassword\r\n", timeout=5)
            await app.connect_ap()
            await app.send_custom(b"hello")
            await dev.host.read_until(b"+BLUFIDATA:5,hello\r\n", timeout=5)
            assert snapshot(dev)["ble"]["blufi"]["ssid"] == "lab"
        await dev.host.read_until(b"+BLUFIDISCONN\r\n", timeout=30)
    kinds = [e["step"] for e in events]
    assert kinds[:3] == ["connected", "ssid", "password"], kinds
    assert {"connect_ap", "connect_ap_result", "custom"} <= set(kinds) and kinds[-1] == "disconnected"
    assert next(e for e in events if e["step"] == "connect_ap_result")["code"] == 0
    assert next(e for e in events if e["step"] == "password") == {"step": "password", "length": 11}
    assert "labpassword" not in repr(events)


async def test_mqtt_section_follows_the_link() -> None:
    async with running_broker() as broker, Module.start("esp32c3") as m:
        go_online(m)
        await quiet(m)
        assert "mqtt" not in snapshot(m)
        await ok(m, 'AT+MQTTUSERCFG=0,1,"esp","espressif","1234567890",0,0,""')
        mqtt = snapshot(m)["mqtt"]
        assert mqtt["state"] == 1 and mqtt["client_id"] == "esp" and not mqtt["connected"] and mqtt["host"] is None
        await m.host.send(f'AT+MQTTCONN=0,"127.0.0.1",{broker.tcp},1')
        await m.host.read_until(b"\r\nOK\r\n", timeout=10)
        await ok(m, 'AT+MQTTSUB=0,"sensors/#",1')
        mqtt = snapshot(m)["mqtt"]
        assert mqtt["state"] == 6 and mqtt["connected"] and mqtt["reconnect"] is True
        assert (mqtt["host"], mqtt["port"], mqtt["topics"]) == ("127.0.0.1", broker.tcp, {"sensors/#": 1})
        assert "1234567890" not in repr(mqtt)
        await ok(m, "AT+MQTTCLEAN=0")
        assert "mqtt" not in snapshot(m)
