"""A Bluetooth host in another process: drives an exported controller over
HCI/TCP, scans for a module, connects and reads its GATT server.

Usage: python hci_host.py tcp-client:127.0.0.1:PORT <module address>
"""

from __future__ import annotations

import asyncio
import sys

from bumble import hci
from bumble.core import UUID
from bumble.device import Device, Peer
from bumble.transport import open_transport


async def main(spec: str, target: str) -> None:
    async with await open_transport(spec) as t:
        device = Device.with_hci("laptop", hci.Address("F0:F1:F2:F3:F4:F5"), t.source, t.sink)
        await device.power_on()
        seen = asyncio.get_running_loop().create_future()

        def on_adv(adv) -> None:  # type: ignore[no-untyped-def]
            if adv.address.to_string(False).lower() == target and not seen.done():
                seen.set_result(adv)

        device.on("advertisement", on_adv)
        await device.start_scanning(active=True)
        adv = await asyncio.wait_for(seen, 30)
        print("SEEN", adv.address.to_string(False).lower(), adv.rssi, bytes(adv.data).hex(), flush=True)
        await device.stop_scanning()
        connection = await device.connect(
            hci.Address(target, hci.Address.PUBLIC_DEVICE_ADDRESS), own_address_type=hci.OwnAddressType.PUBLIC
        )
        print("CONNECTED", flush=True)
        peer = Peer(connection)
        await peer.discover_services()
        print("SERVICES", " ".join(str(s.uuid.to_hex_str()) for s in peer.services), flush=True)
        svc = peer.get_services_by_uuid(UUID.from_16_bits(0xA002))[0]
        await svc.discover_characteristics()
        char = next(c for c in svc.characteristics if c.uuid == UUID.from_16_bits(0xC300))
        print("VALUE", (await char.read_value()).hex(), flush=True)
        await connection.disconnect()
        print("DONE", flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
