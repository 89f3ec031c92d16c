"""AT+HTTPCFG's four authentication modes against an HTTPS server that asks for a client
certificate: which modes get through depends on what they present and check."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from apps.support import Pki, online_module, set_wall_clock
from esp_at_sim.device.nvs import NvsType


async def test_auth_modes_against_a_server_requiring_a_client_certificate(tmp_path: Path) -> None:
    pki = Pki.make(tmp_path)

    async def hello(request: web.Request) -> web.Response:
        peer = request.transport.get_extra_info("peercert") if request.transport else None
        subject = dict(x[0] for x in peer["subject"]) if peer else {}
        return web.Response(text=f"hi {subject.get('commonName', 'nobody')}")

    app = web.Application()
    app.router.add_get("/", hello)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=pki.server_context(require_client=True))
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    url = f"https://localhost:{port}/"
    try:
        async with online_module() as m:
            m.world.dns["localhost"] = "127.0.0.1"
            h = m.host
            pki.install(m, "https")
            set_wall_clock(m)
            expected = {
                0: None,  # no certificate presented: the server refuses the handshake
                1: b"+HTTPCGET:20,hi esp-at-sim client\r\n\r\nOK\r\n",
                2: None,  # the server is verified, but still no certificate
                3: b"+HTTPCGET:20,hi esp-at-sim client\r\n\r\nOK\r\n",
            }
            for mode, answer in expected.items():
                await h.send(f"AT+HTTPCFG={mode},0,0")
                await h.expect(b"\r\nOK\r\n")
                await h.send(f'AT+HTTPCGET="{url}"')
                await h.expect(answer or b"ERR CODE:0x010a7000\r\n\r\nERROR\r\n")
            # mutual authentication also checks the server: a CA that did not sign it fails
            (tmp_path / "other").mkdir()
            m.nvs.mfg.set("https_ca", "https_ca.0", Pki.make(tmp_path / "other").ca, NvsType.BLOB)
            await h.send(f'AT+HTTPCGET="{url}"')
            await h.expect(b"ERR CODE:0x010a7000\r\n\r\nERROR\r\n")
            await h.send("AT+HTTPCFG=1,0,0")  # no server check: through again
            await h.expect(b"\r\nOK\r\n")
            await h.send(f'AT+HTTPCGET="{url}"')
            await h.expect(b"+HTTPCGET:20,hi esp-at-sim client\r\n\r\nOK\r\n")
            # a certificate index that holds nothing
            await h.send("AT+HTTPCFG=3,1,0")
            await h.expect(b"\r\nOK\r\n")
            await h.send(f'AT+HTTPCGET="{url}"')
            await h.expect(b"ERR CODE:0x010a7000\r\n\r\nERROR\r\n")
            assert m.heap.live() == []
    finally:
        await runner.cleanup()
