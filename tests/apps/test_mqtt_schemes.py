"""Every TLS scheme of AT+MQTTUSERCFG against the broker's TLS and WSS listeners: what each
scheme needs from the manufacturing NVS (CA, client certificate) decides whether it connects."""

from __future__ import annotations

from pathlib import Path

import pytest

from apps.brokers import running_broker
from apps.support import Pki, online_module, set_wall_clock

# scheme: (over WebSocket, verifies the server, presents a client certificate)
SCHEMES = {
    2: (False, False, False),
    3: (False, True, False),
    4: (False, False, True),
    5: (False, True, True),
    7: (True, False, False),
    8: (True, True, False),
    9: (True, False, True),
    10: (True, True, True),
}


@pytest.mark.parametrize("scheme", sorted(SCHEMES))
async def test_tls_scheme(scheme: int, tmp_path: Path) -> None:
    websocket, verify, client_cert = SCHEMES[scheme]
    pki = Pki.make(tmp_path)
    async with running_broker(tmp_path) as broker, online_module() as m:
        h = m.host
        baseline = m.heap.free
        port = broker.wss if websocket else broker.tls
        assert port is not None
        path = "mqtt" if websocket else ""
        shown = "/mqtt" if websocket else ""
        pki.install(m, "mqtt")
        set_wall_clock(m)
        await h.send(f'AT+MQTTUSERCFG=0,{scheme},"esp","","",0,0,"{path}"')
        await h.expect(b"\r\nOK\r\n")
        await h.send(f'AT+MQTTCONN=0,"127.0.0.1",{port},0')
        await h.expect(f'+MQTTCONNECTED:0,{scheme},"127.0.0.1","{port}","{shown}",0\r\n\r\nOK\r\n'.encode())
        async with broker.peer() as peer:
            await peer.subscribe([("s/#", 1)])
            await h.send(f'AT+MQTTPUB=0,"s/{scheme}","over scheme {scheme}",1,0')
            await h.expect(b"\r\nOK\r\n")
            msg = await peer.deliver_message(timeout_duration=5)
            assert msg is not None and msg.topic == f"s/{scheme}" and msg.data == f"over scheme {scheme}".encode()
        await h.send("AT+MQTTCLEAN=0")
        await h.expect(b"\r\nOK\r\n")
        # without a client certificate in the NVS only the schemes that need none still work;
        # without a CA only those that do not verify
        for erase, needed in (("mqtt_cert", client_cert), ("mqtt_ca", verify)):
            await h.send(f'AT+SYSMFG=0,"{erase}"')
            await h.expect(b"\r\nOK\r\n")
            await h.send(f'AT+MQTTUSERCFG=0,{scheme},"esp","","",0,0,"{path}"')
            await h.expect(b"\r\nOK\r\n")
            await h.send(f'AT+MQTTCONN=0,"127.0.0.1",{port},0')
            if needed:
                await h.expect(b"ERR CODE:0x010a6009\r\n\r\nERROR\r\n")
            else:
                await h.expect(f'+MQTTCONNECTED:0,{scheme},"127.0.0.1","{port}","{shown}",0\r\n\r\nOK\r\n'.encode())
            await h.send("AT+MQTTCLEAN=0")
            await h.expect(b"\r\nOK\r\n")
            pki.install(m, "mqtt")
        assert m.heap.free == baseline
