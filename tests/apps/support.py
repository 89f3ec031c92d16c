"""What the application-protocol tests share: a module with a network, a test PKI."""

from __future__ import annotations

import contextlib
import datetime as dt
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from esp_at_sim import AtHost, Module
from esp_at_sim.device.nvs import NvsType
from esp_at_sim.services.netif import IpConfig, NetIf
from esp_at_sim.services.tls import WALL_CLOCK_OFFSET
from host_setup import quiet


def go_online(m: Module, ip: str = "192.168.4.2") -> None:
    """Bring the station interface up as ``WIFI GOT IP`` would."""
    m.service(NetIf).up("sta", IpConfig(ip, "192.168.4.1"))


def set_wall_clock(m: Module) -> None:
    """What a completed SNTP sync leaves behind: the module knows the date."""
    import time

    m.vars[WALL_CLOCK_OFFSET] = time.time() - m.clock.now()


async def send_after_prompt(h: AtHost, line: str, data: bytes) -> None:
    """A sending command: the line, its data after the ``>`` prompt, then ``SEND OK``."""
    await h.send(line)
    await h.read_until(b">")
    await h.write(data)
    await h.expect(b"\r\nSEND OK\r\n")


async def ready_for_apps(m: Module) -> None:
    """Station up, echo off and error codes on: where every application test starts."""
    go_online(m)
    await quiet(m, syslog=True)


@contextlib.asynccontextmanager
async def online_module(chip: str = "esp32c3", **config: Any) -> AsyncIterator[Module]:
    """A booted module made ready by :func:`ready_for_apps`."""
    async with Module.start(chip, **config) as m:
        await ready_for_apps(m)
        yield m


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@dataclass
class Pki:
    """A test CA, a server certificate for 127.0.0.1/localhost and a client certificate."""

    ca: bytes
    server_cert: bytes
    server_key: bytes
    client_cert: bytes
    client_key: bytes
    directory: Path

    @classmethod
    def make(cls, directory: Path) -> Pki:
        now = dt.datetime.now(dt.UTC)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca = (
            x509.CertificateBuilder()
            .subject_name(_name("esp-at-sim test CA"))
            .issuer_name(_name("esp-at-sim test CA"))
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(ca_key, hashes.SHA256())
        )

        def leaf(cn: str, san: bool) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
            key = ec.generate_private_key(ec.SECP256R1())
            b = (
                x509.CertificateBuilder()
                .subject_name(_name(cn))
                .issuer_name(ca.subject)
                .public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(days=1))
                .not_valid_after(now + dt.timedelta(days=30))
            )
            if san:
                import ipaddress

                b = b.add_extension(
                    x509.SubjectAlternativeName(
                        [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
                    ),
                    critical=False,
                )
            return b.sign(ca_key, hashes.SHA256()), key

        srv, srv_key = leaf("localhost", True)
        cli, cli_key = leaf("esp-at-sim client", False)
        pki = cls(_pem(ca), _pem(srv), _key_pem(srv_key), _pem(cli), _key_pem(cli_key), directory)
        for name, data in (
            ("ca.pem", pki.ca),
            ("server.pem", pki.server_cert),
            ("server.key", pki.server_key),
        ):
            (directory / name).write_bytes(data)
        return pki

    def server_context(self, *, require_client: bool = False) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.directory / "server.pem", self.directory / "server.key")
        if require_client:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(self.directory / "ca.pem")
        return ctx

    def install(self, m: Module, protocol_prefix: str, index: int = 0) -> None:
        """Put CA, client certificate and key into the module's mfg_nvs as AT+SYSMFG would."""
        mfg = m.nvs.mfg
        for suffix, data in (("ca", self.ca), ("cert", self.client_cert), ("key", self.client_key)):
            ns = f"{protocol_prefix}_{suffix}"
            mfg.set(ns, f"{ns}.{index}", data, NvsType.BLOB)
