"""SmartConfig, WPS and WPA2/WPA3-Enterprise."""

from __future__ import annotations

from esp_at_sim import Module
from esp_at_sim.device.nvs import NvsType
from esp_at_sim.world.eap import issue_client
from esp_at_sim.world.faults import inject

from .support import quiet, world_with

ROUTER = {"ssid": "home", "password": "homepass1", "channel": 6, "rssi": -50, "wps": True}
CORP = {
    "ssid": "corp",
    "security": "wpa2_enterprise",
    "channel": 1,
    "rssi": -45,
    "eap_users": [
        {"identity": "example@espressif.com", "method": "peap", "username": "espressif", "password": "test11"},
        {"method": "ttls", "username": "ttls-user", "password": "ttls-pass"},
        {"method": "tls"},
    ],
}
CORP3 = {"ssid": "corp3", "security": "wpa3_enterprise", "channel": 11, "rssi": -60}


async def test_smartconfig_delivers_credentials() -> None:
    world = world_with(ROUTER)
    async with Module.start("esp32c3", world=world) as m:
        await quiet(m)
        h = m.host
        assert (await h.command("AT+CWMODE=3")).ok
        assert (await h.command("AT+CWSTARTSMART")).final == b"ERROR"  # station mode only
        await h.command("AT+CWMODE=1")
        assert (await h.command('AT+CWSTARTSMART=4,0,"1234567890123456"')).ok
        await inject(world, "smartconfig", module=m.name, ssid="home", password="homepass1")
        await h.expect(
            b"smartconfig type:ESPTOUCH_V2\r\nSmart get wifi info\r\nssid:home\r\npassword:homepass1\r\n"
            b"WIFI CONNECTED\r\nWIFI GOT IP\r\nsmartconfig connected wifi\r\n",
            timeout=20,
        )
        assert (await h.command("AT+CWSTOPSMART")).ok
        assert (await h.command("AT+CWJAP?")).lines[0].startswith(b'+CWJAP:"home"')
        # not listening any more
        try:
            await inject(world, "smartconfig", module=m.name, ssid="home", password="x")
        except Exception as exc:
            assert "not waiting" in str(exc)
        else:
            raise AssertionError("a stopped SmartConfig accepted credentials")


async def test_smartconfig_with_a_wrong_password_never_confirms() -> None:
    world = world_with(ROUTER)
    async with Module.start("esp32c3", world=world) as m:
        await quiet(m)
        assert (await m.host.command("AT+CWSTARTSMART=1")).ok
        await inject(world, "smartconfig", module=m.name, ssid="home", password="wrong-one")
        await m.host.expect(b"smartconfig type:ESPTOUCH\r\nSmart get wifi info\r\nssid:home\r\npassword:wrong-one\r\n")
        await m.host.expect_silence(20)
        assert (await m.host.command("AT+CWSTOPSMART")).ok


async def test_wps_push_button() -> None:
    world = world_with(ROUTER, {"ssid": "nowps", "password": "nowpspass", "channel": 1, "rssi": -40})
    async with Module.start("esp32c3", world=world) as m:
        await quiet(m)
        h = m.host
        t0 = m.clock.now()
        assert (await h.command("AT+WPS=1")).ok
        assert (await h.command("AT+WPS=1")).final == b"ERROR"  # already running
        await h.expect(b"WIFI CONNECTED\r\nWIFI GOT IP\r\n", timeout=20)
        assert m.clock.now() - t0 > 2.0  # a scan, the registration exchange, the join
        assert (await h.command("AT+CWJAP?")).lines[0].startswith(b'+CWJAP:"home"')
        assert (await h.command("AT+WPS=0")).ok
        assert any("wps started" in ln for ln in m.log_lines)


async def test_wps_overlap_timeout_and_station_mode() -> None:
    two = world_with(ROUTER, {"ssid": "also-wps", "password": "alsowps1", "channel": 11, "rssi": -60, "wps": True})
    async with Module.start("esp32c3", world=two) as m:
        await quiet(m)
        assert (await m.host.command("AT+WPS=1")).ok
        await m.host.expect_silence(10)
        assert any("wps session overlap" in ln for ln in m.log_lines)
    none = world_with({"ssid": "plain", "password": "plainpass", "channel": 3, "rssi": -50})
    async with Module.start("esp32c3", world=none) as m:
        await quiet(m)
        await m.host.command("AT+CWMODE=2")
        assert (await m.host.command("AT+WPS=1")).final == b"ERROR"
        await m.host.command("AT+CWMODE=1")
        assert (await m.host.command("AT+WPS=1")).ok
        await m.host.expect_silence(125)
        assert any("wps timeout" in ln for ln in m.log_lines)


async def test_enterprise_peap_ttls_and_tls() -> None:
    world = world_with(CORP, CORP3)
    async with Module.start("esp32c3", world=world) as m:
        await quiet(m, syslog=True)
        h = m.host
        reply = await h.command('AT+CWJEAP="corp",1,"example@espressif.com","espressif","test11",0', timeout=30)
        assert reply.lines == [b"WIFI CONNECTED", b"WIFI GOT IP"]
        assert (await h.command("AT+CWJEAP?")).lines == [
            b'+CWJEAP:"corp",1,"example@espressif.com","espressif","test11",0'
        ]
        # already connected
        reply = await h.command('AT+CWJEAP="corp",1,"id","espressif","test11",0')
        assert b"ERR CODE:0x010a8011" in reply.raw
        await h.send("AT+CWQAP")
        await h.read_until(b"WIFI DISCONNECT\r\n")
        # TTLS, verifying the server with the CA from mfg_nvs: the certificate is not
        # valid in 1970, so the module needs the time first (AT+SYSTIMESTAMP or SNTP)
        reply = await h.command('AT+CWJEAP="corp",2,"anon","ttls-user","ttls-pass",2,5', timeout=30)
        assert reply.lines[0] == b"+CWJEAP:Timeout"
        assert (await h.command("AT+SYSTIMESTAMP=1767225600")).ok  # 2026-01-01
        reply = await h.command('AT+CWJEAP="corp",2,"anon","ttls-user","ttls-pass",2', timeout=30)
        assert reply.lines == [b"WIFI CONNECTED", b"WIFI GOT IP"]
        await h.send("AT+CWQAP")
        await h.read_until(b"WIFI DISCONNECT\r\n")
        # TLS with the client certificate of mfg_nvs
        reply = await h.command('AT+CWJEAP="corp",0,"device@corp",,,3', timeout=30)
        assert reply.lines == [b"WIFI CONNECTED", b"WIFI GOT IP"]
        await h.send("AT+CWQAP")
        await h.read_until(b"WIFI DISCONNECT\r\n")
        # WPA3-Enterprise with auth_mode 1
        reply = await h.command('AT+CWJEAP="corp3",1,"x","anyone","anything",0,,,,,,1', timeout=30)
        assert reply.lines == [b"WIFI CONNECTED", b"WIFI GOT IP"]


async def test_enterprise_failures() -> None:
    world = world_with(CORP)
    async with Module.start("esp32c3", world=world) as m:
        await quiet(m, syslog=True)
        h = m.host
        t0 = m.clock.now()
        reply = await h.command('AT+CWJEAP="corp",1,"id","espressif","wrong",0,5', timeout=30)
        assert reply.raw == b"+CWJEAP:Timeout\r\nERR CODE:0x010a8016\r\n\r\nERROR\r\n"
        assert 4.9 < m.clock.now() - t0 < 5.5
        # the WPA2 threshold is met but WPA3-Enterprise is asked for
        reply = await h.command('AT+CWJEAP="corp",1,"id","espressif","test11",0,3,,,,,1', timeout=30)
        assert reply.lines[0] == b"+CWJEAP:Timeout"
        errors = {
            'AT+CWJEAP="corp",0,"id",,,2': 0x801F,  # TLS without a client certificate
            'AT+CWJEAP="corp",1,"id",,"pw",0': 0x801A,  # PEAP without a username
            'AT+CWJEAP="corp",3,"id","u","p",0': 0x8024,  # unknown method
            'AT+CWJEAP="corp",1,"' + "i" * 33 + '","u","p",0': 0x8018,
            'AT+CWJEAP="corp",1,"id","u","p",4': 0x801E,
            'AT+CWJEAP="corp",1,"id","u","p",0,2': 0x8026,
            'AT+CWJEAP="corp",1,"id","u","p",0,,,"zz"': 0x802A,
            'AT+CWJEAP="corp",1,"id"': 0x8020,
        }
        for line, ext in errors.items():
            reply = await h.command(line)
            assert f"ERR CODE:0x010a{ext:04x}".encode() in reply.raw, (line, reply.raw)
        # a client certificate from another CA is refused by the server
        foreign_cert, foreign_key = issue_client("someone")
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec

        other_key = ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        m.nvs.mfg.set("wpa_ent_key", "wpa_ent_key", other_key, NvsType.BLOB)  # key does not match the cert
        reply = await h.command('AT+CWJEAP="corp",0,"device@corp",,,1,3', timeout=30)
        assert reply.lines[0] == b"+CWJEAP:Timeout"
        m.nvs.mfg.set("wpa_ent_key", "wpa_ent_key", foreign_key, NvsType.BLOB)
        m.nvs.mfg.set("wpa_ent_cert", "wpa_ent_cert", foreign_cert, NvsType.BLOB)
        reply = await h.command('AT+CWJEAP="corp",0,"device@corp",,,1,3', timeout=30)
        assert reply.lines == [b"WIFI CONNECTED", b"WIFI GOT IP"]  # same CA: accepted
        await h.send("AT+CWQAP")
        await h.read_until(b"WIFI DISCONNECT\r\n")
        m.nvs.mfg.erase("wpa_ent_ca")
        reply = await h.command('AT+CWJEAP="corp",1,"id","espressif","test11",2')
        assert b"ERR CODE:0x010a8009" in reply.raw
