"""A BluFi app: the phone side of provisioning, for tests and scripts.

::

    async with BlePeer.start(world, "phone") as phone:
        app = BlufiApp(phone)
        await app.connect(module_address)
        await app.negotiate()
        await app.set_station(b"lab", b"password")
        opmode, state, info = await app.connect_ap()   # state 0: connected
"""

from __future__ import annotations

import asyncio
from typing import Any

from bumble.device import Peer

from esp_at_sim.services.ble import blufi_proto as bp
from esp_at_sim.services.ble.blufi import SERVICE, TO_DEVICE, TO_PHONE, report_state
from esp_at_sim.services.ble.peer import BlePeer

# the 1024-bit MODP group of RFC 2409 (Oakley group 2), generator 2
OAKLEY_2 = int(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD"
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE65381FFFFFFFFFFFFFFFF",
    16,
)


class BlufiApp:
    def __init__(self, phone: BlePeer) -> None:
        self.phone = phone
        self.codec = bp.BlufiCodec(device=False)
        self.messages: asyncio.Queue[bp.Message] = asyncio.Queue()
        self.connection: Any = None
        self._write: Any = None
        self.custom: list[bytes] = []

    async def connect(self, address: str, *, mtu: int = 128) -> None:
        self.connection = await self.phone.connect(address)
        peer = Peer(self.connection)
        await peer.request_mtu(mtu)
        await peer.discover_services([SERVICE])
        service = peer.get_services_by_uuid(SERVICE)[0]
        await service.discover_characteristics()
        self._write = next(c for c in service.characteristics if c.uuid == TO_DEVICE)
        notify = next(c for c in service.characteristics if c.uuid == TO_PHONE)
        await notify.subscribe(self._on_frame)

    def _on_frame(self, frame: bytes) -> None:
        message = self.codec.decode(bytes(frame))
        if message is None:
            return
        if message.kind == bp.KIND_DATA and message.subtype == bp.DATA_CUSTOM:
            self.custom.append(message.data)
        self.messages.put_nowait(message)

    async def _send(self, kind: int, subtype: int, data: bytes = b"") -> None:
        for frame in self.codec.encode(kind, subtype, data, self.connection.att_mtu):
            await self._write.write_value(frame, with_response=True)

    async def expect(self, kind: int, subtype: int, timeout: float = 10.0) -> bp.Message:
        while True:
            m = await asyncio.wait_for(self.messages.get(), timeout)
            if (m.kind, m.subtype) == (kind, subtype):
                return m

    async def negotiate(self) -> None:
        """Agree on a key and switch checksums and encryption on."""
        priv, payload = bp.negotiation_request(OAKLEY_2, 2)
        await self._send(bp.KIND_DATA, bp.DATA_NEG, bytes([bp.NEG_SET_TOTAL_LENGTH]) + len(payload).to_bytes(2, "big"))
        await self._send(bp.KIND_DATA, bp.DATA_NEG, payload)
        answer = await self.expect(bp.KIND_DATA, bp.DATA_NEG)
        self.codec.key = bp.phone_key(OAKLEY_2, priv, answer.data)
        await self._send(bp.KIND_CTRL, bp.CTRL_SEC_MODE, bytes([0x33]))
        self.codec.set_security(0x33)

    async def set_station(self, ssid: bytes, password: bytes) -> None:
        await self._send(bp.KIND_CTRL, bp.CTRL_OPMODE, bytes([1]))
        await self._send(bp.KIND_DATA, bp.DATA_STA_SSID, ssid)
        await self._send(bp.KIND_DATA, bp.DATA_STA_PASSWD, password)

    async def connect_ap(self, timeout: float = 30.0) -> tuple[int, int, dict[int, bytes]]:
        await self._send(bp.KIND_CTRL, bp.CTRL_CONNECT_AP)
        report = await self.expect(bp.KIND_DATA, bp.DATA_WIFI_REPORT, timeout)
        return report_state(report.data)

    async def status(self) -> tuple[int, int, dict[int, bytes]]:
        await self._send(bp.KIND_CTRL, bp.CTRL_GET_STATUS)
        report = await self.expect(bp.KIND_DATA, bp.DATA_WIFI_REPORT)
        return report_state(report.data)

    async def send_custom(self, data: bytes) -> None:
        await self._send(bp.KIND_DATA, bp.DATA_CUSTOM, data)

    async def version(self) -> bytes:
        await self._send(bp.KIND_CTRL, bp.CTRL_GET_VERSION)
        return (await self.expect(bp.KIND_DATA, bp.DATA_VERSION)).data
