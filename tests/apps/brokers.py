"""A real MQTT broker (amqtt) on 127.0.0.1 with TCP, TLS and WebSocket listeners."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from amqtt.broker import Broker
from amqtt.client import MQTTClient


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LocalBroker:
    broker: Broker
    tcp: int
    ws: int
    tls: int | None
    wss: int | None = None

    @asynccontextmanager
    async def peer(self, client_id: str = "peer", **config: Any) -> AsyncIterator[MQTTClient]:
        """An ordinary MQTT client of the broker: what another device sees."""
        c = MQTTClient(client_id=client_id, config={"auto_reconnect": False, **config})
        await c.connect(f"mqtt://127.0.0.1:{self.tcp}/")
        try:
            yield c
        finally:
            await c.disconnect()


@asynccontextmanager
async def running_broker(pki_dir: Path | None = None) -> AsyncIterator[LocalBroker]:
    tcp, ws = free_port(), free_port()
    listeners: dict[str, Any] = {
        "default": {"type": "tcp", "bind": f"127.0.0.1:{tcp}"},
        "ws": {"type": "ws", "bind": f"127.0.0.1:{ws}"},
    }
    tls = wss = None
    if pki_dir is not None:
        tls = free_port()
        wss = free_port()
        listeners["wss"] = {
            "type": "ws",
            "bind": f"127.0.0.1:{wss}",
            "ssl": True,
            "certfile": str(pki_dir / "server.pem"),
            "keyfile": str(pki_dir / "server.key"),
            "cafile": str(pki_dir / "ca.pem"),
        }
        listeners["tls"] = {
            "type": "tcp",
            "bind": f"127.0.0.1:{tls}",
            "ssl": True,
            "certfile": str(pki_dir / "server.pem"),
            "keyfile": str(pki_dir / "server.key"),
            "cafile": str(pki_dir / "ca.pem"),  # client certificates are checked against the test CA
        }
    broker = Broker(
        {
            "listeners": listeners,
            "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
        }
    )
    await broker.start()
    try:
        yield LocalBroker(broker, tcp, ws, tls, wss)
    finally:
        await broker.shutdown()
