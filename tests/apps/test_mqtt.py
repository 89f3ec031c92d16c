"""MQTT commands against a real amqtt broker; the broker side is checked with a peer client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from amqtt.client import MQTTClient

from apps.brokers import LocalBroker, running_broker
from apps.support import Pki, online_module, set_wall_clock
from esp_at_sim import Module
from esp_at_sim.commands.mqtt import MqttLink


@pytest.fixture
async def broker() -> AsyncIterator[LocalBroker]:
    async with running_broker() as b:
        yield b


async def _connect(
    m: Module, port: int, scheme: int = 1, client: str = "esp", reconnect: int = 1, path: str = ""
) -> None:
    h = m.host
    await h.send(f'AT+MQTTUSERCFG=0,{scheme},"{client}","espressif","1234567890",0,0,"{path}"')
    await h.expect(b"\r\nOK\r\n")
    await h.send(f'AT+MQTTCONN=0,"127.0.0.1",{port},{reconnect}')
    shown = ("/" + path) if scheme >= 6 else path
    await h.expect(f'+MQTTCONNECTED:0,{scheme},"127.0.0.1","{port}","{shown}",{reconnect}\r\n\r\nOK\r\n'.encode())


async def _next(peer: MQTTClient, timeout: float = 5.0):  # type: ignore[no-untyped-def]
    return await peer.deliver_message(timeout_duration=timeout)


async def test_states_publish_subscribe_and_clean(online: Module, broker: LocalBroker) -> None:
    h = online.host
    baseline = online.heap.free
    await h.send("AT+MQTTCONN?")
    await h.expect(b'+MQTTCONN:0,0,0,"","","",0\r\n\r\nOK\r\n')
    await h.send('AT+MQTTUSERCFG=0,1,"esp","espressif","1234567890",0,0,""')
    await h.expect(b"\r\nOK\r\n")
    await h.send("AT+MQTTCONN?")
    await h.expect(b'+MQTTCONN:0,1,1,"","","",0\r\n\r\nOK\r\n')
    await h.send('AT+MQTTCONNCFG=0,0,0,"lwtt","lwtm",0,0')
    await h.expect(b"\r\nOK\r\n")
    await h.send("AT+MQTTCONN?")
    await h.expect(b'+MQTTCONN:0,2,1,"","","",0\r\n\r\nOK\r\n')
    await h.send(f'AT+MQTTCONN=0,"127.0.0.1",{broker.tcp},0')
    await h.expect(f'+MQTTCONNECTED:0,1,"127.0.0.1","{broker.tcp}","",0\r\n\r\nOK\r\n'.encode())
    await h.send("AT+MQTTCONN?")
    await h.expect(f'+MQTTCONN:0,4,1,"127.0.0.1","{broker.tcp}","",0\r\n\r\nOK\r\n'.encode())
    await h.send("AT+MQTTSUB?")
    await h.expect(b'+MQTTSUB:0,4,"",0\r\n\r\nOK\r\n')
    await h.send('AT+MQTTSUB=0,"sensors/+/temp",1')
    await h.expect(b"\r\nOK\r\n")
    await h.send('AT+MQTTSUB=0,"sensors/+/temp",1')
    await h.expect(b"ALREADY SUBSCRIBE\r\n\r\nOK\r\n")
    await h.send('AT+MQTTSUB=0,"all/#",0')
    await h.expect(b"\r\nOK\r\n")
    await h.send("AT+MQTTSUB?")
    await h.expect(b'+MQTTSUB:0,6,"sensors/+/temp",1\r\n+MQTTSUB:0,6,"all/#",0\r\n\r\nOK\r\n')
    async with broker.peer() as peer:
        await peer.subscribe([("from/esp/#", 2)])
        await peer.publish("sensors/kitchen/temp", b"21.5", qos=1)
        await h.expect(b'+MQTTSUBRECV:0,"sensors/kitchen/temp",4,21.5\r\n')
        await peer.publish("all/a/b", b"x", qos=0)
        await h.expect(b'+MQTTSUBRECV:0,"all/a/b",1,x\r\n')
        # escapes: \, \" \\ in topic and data
        await h.send('AT+MQTTPUB=0,"from/esp/a\\,b","say \\"hi\\" \\\\o/",2,0')
        await h.expect(b"\r\nOK\r\n")
        msg = await _next(peer)
        assert msg.topic == "from/esp/a,b" and msg.data == b'say "hi" \\o/' and msg.qos == 2
        # binary data through PUBRAW
        await h.send('AT+MQTTPUBRAW=0,"from/esp/raw",6,1,0')
        await h.expect(b"\r\nOK\r\n\r\n>")
        await h.write(b"\x00\x01\r\n\xff,")
        await h.expect(b"+MQTTPUB:OK\r\n")
        msg = await _next(peer)
        assert msg.data == b"\x00\x01\r\n\xff,"
    await h.send('AT+MQTTUNSUB=0,"all/#"')
    await h.expect(b"\r\nOK\r\n")
    await h.send('AT+MQTTUNSUB=0,"all/#"')
    await h.expect(b"NO UNSUBSCRIBE\r\n\r\nOK\r\n")
    await h.send('AT+MQTTUNSUB=0,"sensors/+/temp"')
    await h.expect(b"\r\nOK\r\n")
    await h.send("AT+MQTTSUB?")
    await h.expect(b'+MQTTSUB:0,5,"",0\r\n\r\nOK\r\n')
    await h.send("AT+MQTTCLEAN=0")
    await h.expect(b"\r\nOK\r\n")
    await h.send("AT+MQTTCONN?")
    await h.expect(b'+MQTTCONN:0,0,0,"","","",0\r\n\r\nOK\r\n')
    await h.send("AT+MQTTCLEAN=0")
    await h.expect(b"ERR CODE:0x010a6003\r\n\r\nERROR\r\n")
    await asyncio.sleep(0.01)
    assert online.heap.free == baseline


async def test_parameter_and_state_errors(online: Module, broker: LocalBroker) -> None:
    h = online.host
    cases = [
        ('AT+MQTTCONN=0,"127.0.0.1",1883,0', 0x6001),
        ('AT+MQTTCONNCFG=0,0,0,"","",0,0', 0x6001),
        ('AT+MQTTUSERCFG=1,1,"a","","",0,0,""', 0x6011),
        ('AT+MQTTUSERCFG=0,11,"a","","",0,0,""', 0x6013),
        ('AT+MQTTUSERCFG=0,1,"a","","",0,0', 0x6008),
        (f'AT+MQTTUSERCFG=0,1,"a","{"u" * 65}","",0,0,""', 0x6019),
        ('AT+MQTTUSERCFG=0,1,"a","","",0,0,"path-longer-than-thirty-two-bytes"', 0x6029),
        ('AT+MQTTPUB=0,"t","x",0,0', 0x6001),
    ]
    for line, code in cases:
        await h.send(line)
        await h.expect(f"ERR CODE:0x010a{code:04x}\r\n\r\nERROR\r\n".encode())
    await h.send('AT+MQTTUSERCFG=0,1,"esp","","",0,0,""')
    await h.expect(b"\r\nOK\r\n")
    for line, code in [
        ('AT+MQTTCONNCFG=0,7201,0,"","",0,0', 0x602D),
        ('AT+MQTTCONNCFG=0,0,2,"","",0,0', 0x602F),
        ('AT+MQTTCONNCFG=0,0,0,"t","m",3,0', 0x6037),
        ('AT+MQTTCONN=0,"",1883,0', 0x603B),
        ('AT+MQTTCONN=0,"127.0.0.1",70000,0', 0x603E),
        ('AT+MQTTCONN=0,"127.0.0.1",1883,2', 0x6040),
    ]:
        await h.send(line)
        await h.expect(f"ERR CODE:0x010a{code:04x}\r\n\r\nERROR\r\n".encode())
    # nobody listening: the client reports the disconnect, the command fails
    await h.send('AT+MQTTCONN=0,"127.0.0.1",1,0')
    await h.expect(b"+MQTTDISCONNECTED:0\r\nERR CODE:0x010a600b\r\n\r\nERROR\r\n")
    await h.send(f'AT+MQTTCONN=0,"127.0.0.1",{broker.tcp},0')
    await h.read_until(b"OK\r\n")
    await h.send(f'AT+MQTTCONN=0,"127.0.0.1",{broker.tcp},0')
    await h.expect(b"ERR CODE:0x010a6004\r\n\r\nERROR\r\n")
    await h.send(f'AT+MQTTPUB=0,"{"t" * 129}","x",0,0')
    await h.expect(b"ERR CODE:0x010a6043\r\n\r\nERROR\r\n")
    await h.send('AT+MQTTPUB=0,"t","x",3,0')
    await h.expect(b"ERR CODE:0x010a6048\r\n\r\nERROR\r\n")
    await h.send('AT+MQTTPUB=0,"t","",0,0')
    await h.expect(b"ERR CODE:0x010a6045\r\n\r\nERROR\r\n")
    await h.send('AT+MQTTUSERCFG=0,1,"esp","","",0,0,""')
    await h.expect(b"ERR CODE:0x010a6002\r\n\r\nERROR\r\n")
    for i in range(10):
        await h.send(f'AT+MQTTSUB=0,"t/{i}",0')
        await h.expect(b"\r\nOK\r\n")
    await h.send('AT+MQTTSUB=0,"t/10",0')
    await h.expect(b"ERR CODE:0x010a600d\r\n\r\nERROR\r\n")


async def test_long_credentials_retain_and_big_message(online: Module, broker: LocalBroker) -> None:
    h = online.host
    await h.send('AT+MQTTUSERCFG=0,1,"short","","",0,0,""')
    await h.expect(b"\r\nOK\r\n")
    long_id = b"client-" + b"x" * 300
    await h.send(f"AT+MQTTLONGCLIENTID=0,{len(long_id)}")
    await h.expect(b"\r\nOK\r\n\r\n>")
    await h.write(long_id)
    await h.expect(b"\r\nOK\r\n")
    for cmd, value in (("AT+MQTTLONGUSERNAME", b"u" * 100), ("AT+MQTTLONGPASSWORD", b"p" * 200)):
        await h.send(f"{cmd}=0,{len(value)}")
        await h.read_until(b">")
        await h.write(value)
        await h.expect(b"\r\nOK\r\n")
    await h.send(f'AT+MQTTCONN=0,"127.0.0.1",{broker.tcp},0')
    await h.read_until(b"OK\r\n")
    assert long_id.decode() in broker.broker._sessions
    await h.send('AT+MQTTPUB=0,"state/door","open",1,1')
    await h.expect(b"\r\nOK\r\n")
    async with broker.peer("late") as peer:
        await peer.subscribe([("state/#", 1)])
        msg = await _next(peer)
        assert msg.data == b"open" and msg.retain
        await h.send('AT+MQTTSUB=0,"big",0')
        await h.expect(b"\r\nOK\r\n")
        payload = bytes(range(256)) * 12  # 3072 bytes: over the 1024-byte buffer
        await peer.publish("big", payload, qos=0)
        # 1024 - 3 (fixed header) - 5 (topic) for the first piece
        await h.expect(b'+MQTTSUBRECV:0,"big",1016,' + payload[:1016] + b"\r\n")
        await h.expect(b'+MQTTSUBRECV:0,"big",1024,' + payload[1016:2040] + b"\r\n")
        await h.expect(b'+MQTTSUBRECV:0,"big",1024,' + payload[2040:3064] + b"\r\n")
        await h.expect(b'+MQTTSUBRECV:0,"big",8,' + payload[3064:] + b"\r\n")


async def test_will_on_abrupt_loss_and_reconnect(online: Module, broker: LocalBroker) -> None:
    h = online.host
    async with broker.peer() as peer:
        await peer.subscribe([("status/#", 1)])
        await h.send('AT+MQTTUSERCFG=0,1,"esp-lwt","","",0,0,""')
        await h.read_until(b"OK\r\n")
        await h.send('AT+MQTTCONNCFG=0,30,0,"status/esp","offline",1,0')
        await h.read_until(b"OK\r\n")
        await h.send(f'AT+MQTTCONN=0,"127.0.0.1",{broker.tcp},1')
        await h.read_until(b"OK\r\n")
        await h.send('AT+MQTTSUB=0,"cmd",0')
        await h.read_until(b"OK\r\n")
        # the link breaks (no DISCONNECT): the broker publishes the will
        session = online.service(MqttLink).session
        assert session is not None
        session._writer.transport.abort()  # type: ignore[union-attr]
        await h.expect(b"+MQTTDISCONNECTED:0\r\n")
        msg = await _next(peer)
        assert msg.topic == "status/esp" and msg.data == b"offline"
        await h.send("AT+MQTTCONN?")
        await h.expect(f'+MQTTCONN:0,3,1,"127.0.0.1","{broker.tcp}","",1\r\n\r\nOK\r\n'.encode())
        await h.send('AT+MQTTPUB=0,"t","x",0,0')
        await h.expect(b"ERR CODE:0x010a6051\r\n\r\nERROR\r\n")
        # reconnect=1: the client comes back by itself and resubscribes
        await h.expect(f'+MQTTCONNECTED:0,1,"127.0.0.1","{broker.tcp}","",1\r\n'.encode(), timeout=30)
        # the URC comes with the CONNACK; the renewed SUBSCRIBE still has to cross the air
        await asyncio.sleep(0.1)
        await peer.publish("cmd", b"again", qos=0)
        await h.expect(b'+MQTTSUBRECV:0,"cmd",5,again\r\n')
        # a reset is an abrupt loss too
        await h.send("AT+RST")
        await h.read_until(b"ready\r\n")
        msg = await _next(peer)
        assert msg.topic == "status/esp"


async def test_qos2_exactly_once_across_a_link_drop(online: Module, broker: LocalBroker) -> None:
    h = online.host
    await h.send('AT+MQTTUSERCFG=0,1,"esp-q2","","",0,0,""')
    await h.read_until(b"OK\r\n")
    await h.send('AT+MQTTCONNCFG=0,60,1,"","",0,0')  # persistent session
    await h.read_until(b"OK\r\n")
    await h.send(f'AT+MQTTCONN=0,"127.0.0.1",{broker.tcp},1')
    await h.read_until(b"OK\r\n")
    session = online.service(MqttLink).session
    assert session is not None
    sock = session.client._sock
    original = sock.send  # type: ignore[union-attr]

    def cut_at_publish(data: bytes) -> int:
        # the link dies as the QoS 2 PUBLISH goes out: the session must deliver it
        # after the reconnect, once
        if data[:1] in (b"\x34", b"\x3c"):
            sock.send = original  # type: ignore[union-attr]
            session._writer.transport.abort()  # type: ignore[union-attr]
            raise BrokenPipeError()
        return int(original(data))

    sock.send = cut_at_publish  # type: ignore[union-attr]
    async with broker.peer() as peer:
        await peer.subscribe([("q2", 2)])
        await h.send('AT+MQTTPUB=0,"q2","once",2,0,20000')
        # as esp-mqtt: the write fails, the command fails, the message stays in the outbox
        await h.expect(b"+MQTTDISCONNECTED:0\r\nERR CODE:0x010a600c\r\n\r\nERROR\r\n")
        await h.read_until(b"+MQTTCONNECTED:0", timeout=30)
        first = await _next(peer)
        assert first.data == b"once"
        with pytest.raises(asyncio.TimeoutError):
            await _next(peer, timeout=1.0)


async def test_websocket_scheme(online: Module, broker: LocalBroker) -> None:
    await _connect(online, broker.ws, scheme=6, path="mqtt")
    h = online.host
    async with broker.peer() as peer:
        await peer.subscribe([("ws/#", 0)])
        await h.send('AT+MQTTSUB=0,"ws/in",0')
        await h.read_until(b"OK\r\n")
        await h.send('AT+MQTTPUB=0,"ws/out","over websocket",0,0')
        await h.expect(b"\r\nOK\r\n")
        assert (await _next(peer)).data == b"over websocket"
        await peer.publish("ws/in", b"back", qos=0)
        await h.expect(b'+MQTTSUBRECV:0,"ws/in",4,back\r\n')


async def test_tls_schemes(tmp_path: Path) -> None:
    pki = Pki.make(tmp_path)
    async with running_broker(tmp_path) as broker, online_module() as m:
        h = m.host
        baseline = m.heap.free
        assert broker.tls is not None
        # scheme 2: TLS without verification
        await _connect(m, broker.tls, scheme=2)
        await h.send('AT+MQTTPUB=0,"t","tls",1,0')
        await h.expect(b"\r\nOK\r\n")
        await h.send("AT+MQTTCLEAN=0")
        await h.expect(b"\r\nOK\r\n")
        # scheme 3 (verify the server): the factory CA does not know this server
        await h.send('AT+MQTTUSERCFG=0,3,"esp","","",0,0,""')
        await h.read_until(b"OK\r\n")
        await h.send(f'AT+MQTTCONN=0,"127.0.0.1",{broker.tls},0')
        await h.expect(b"+MQTTDISCONNECTED:0\r\nERR CODE:0x010a600b\r\n\r\nERROR\r\n")
        # no CA at all (erased with AT+SYSMFG): a TLS configuration error
        await h.send('AT+SYSMFG=0,"mqtt_ca"')
        await h.expect(b"\r\nOK\r\n")
        await h.send(f'AT+MQTTCONN=0,"localhost",{broker.tls},0')
        await h.expect(b"ERR CODE:0x010a6009\r\n\r\nERROR\r\n")
        pki.install(m, "mqtt")
        m.world.dns["localhost"] = "127.0.0.1"
        # the CA is there but the module's clock is still in 1970
        await h.send(f'AT+MQTTCONN=0,"localhost",{broker.tls},0')
        await h.expect(b"+MQTTDISCONNECTED:0\r\nERR CODE:0x010a600b\r\n\r\nERROR\r\n")
        set_wall_clock(m)
        await h.send(f'AT+MQTTCONN=0,"localhost",{broker.tls},0')
        await h.expect(f'+MQTTCONNECTED:0,3,"localhost","{broker.tls}","",0\r\n\r\nOK\r\n'.encode())
        await h.send("AT+MQTTCLEAN=0")
        await h.expect(b"\r\nOK\r\n")
        # scheme 5 with ALPN and SNI
        await h.send('AT+MQTTUSERCFG=0,5,"esp","","",0,0,""')
        await h.read_until(b"OK\r\n")
        await h.send('AT+MQTTALPN=0,2,"mqtt","x-amzn-mqtt-ca"')
        await h.expect(b"\r\nOK\r\n")
        await h.send('AT+MQTTSNI=0,"localhost"')
        await h.expect(b"\r\nOK\r\n")
        await h.send(f'AT+MQTTCONN=0,"127.0.0.1",{broker.tls},0')
        r = await h.read_until(b"\r\n\r\n", timeout=10)
        assert b"+MQTTCONNECTED:0,5" in r, m.log_lines[-5:]
        await h.read_until(b"OK\r\n")
        await h.send("AT+MQTTCLEAN=0")
        await h.expect(b"\r\nOK\r\n")
        await asyncio.sleep(0.01)
        assert m.heap.free == baseline


async def test_websocket_over_tls_schemes(tmp_path: Path) -> None:
    pki = Pki.make(tmp_path)
    async with running_broker(tmp_path) as broker, online_module() as m:
        assert broker.wss is not None
        h = m.host
        # scheme 7: WSS without verification
        await _connect(m, broker.wss, scheme=7, path="mqtt")
        async with broker.peer() as peer:
            await peer.subscribe([("wss/#", 0)])
            await h.send('AT+MQTTPUB=0,"wss/out","secure socket",0,0')
            await h.expect(b"\r\nOK\r\n")
            assert (await _next(peer)).data == b"secure socket"
        await h.send("AT+MQTTCLEAN=0")
        await h.expect(b"\r\nOK\r\n")
        # scheme 10: verify the server and present the client certificate
        pki.install(m, "mqtt")
        set_wall_clock(m)
        await _connect(m, broker.wss, scheme=10, path="mqtt")
        await h.send("AT+MQTTCONN?")
        await h.expect(f'+MQTTCONN:0,4,10,"127.0.0.1","{broker.wss}","/mqtt",1\r\n\r\nOK\r\n'.encode())


async def test_protocol_versions(online: Module, broker: LocalBroker) -> None:
    """AT+MQTTCONNCFG's optional protocol level: amqtt speaks only 3.1.1, so it
    refuses 3.1 and 5.0 clients, which the host sees as a failed connection."""
    h = online.host
    for version, ok in ((3, False), (5, False), (4, True)):
        await h.send('AT+MQTTUSERCFG=0,1,"esp","","",0,0,""')
        await h.expect(b"\r\nOK\r\n")
        await h.send(f'AT+MQTTCONNCFG=0,0,0,"","",0,0,{version}')
        await h.expect(b"\r\nOK\r\n")
        await h.send(f'AT+MQTTCONN=0,"127.0.0.1",{broker.tcp},0')
        if ok:
            await h.expect(f'+MQTTCONNECTED:0,1,"127.0.0.1","{broker.tcp}","",0\r\n\r\nOK\r\n'.encode())
        else:
            await h.expect(b"+MQTTDISCONNECTED:0\r\nERR CODE:0x010a600b\r\n\r\nERROR\r\n")
        await h.send("AT+MQTTCLEAN=0")
        await h.expect(b"\r\nOK\r\n")
    await h.send('AT+MQTTCONNCFG=0,0,0,"","",0,0,6')
    await h.expect(b"ERR CODE:0x010a602a\r\n\r\nERROR\r\n")
