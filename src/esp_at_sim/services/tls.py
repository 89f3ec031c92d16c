"""TLS client configuration from the manufacturing NVS PKI.

Theory of operation
-------------------
The firmware keeps certificates and keys in ``mfg_nvs`` namespaces, one set
per protocol, keys numbered by index (``mqtt_cert/mqtt_cert.0``,
``https_ca/https_ca.1``, ``client_key/client_key.0``...), updated at run time
with AT+SYSMFG. :func:`client_context` builds an :class:`ssl.SSLContext` for
one connection from them, as esp-tls does:

* no verification: any server certificate is accepted;
* verification: the server's chain must lead to the CA of the set and match
  the host name (mbedTLS checks it once a host name is set);
* client certificate: certificate and key of the set are presented.

A missing item fails the configuration the way the firmware logs it
(``NO CA FOUND``...). Certificate validity is judged against the module's
own wall clock, which is 1970 until SNTP sets it (:func:`check_validity`):
a verified connection made before AT+CIPSNTPCFG has taken effect fails.

The TCP/IP links add what AT+CIPSSLC* configures (:class:`SslClientConfig`,
:func:`link_client_context`): the CN check of AT+CIPSSLCCN (only when set, as
on the chip), SNI, ALPN and the cipher list; :func:`server_context` serves
AT+CIPSERVER's SSL server from ``server_cert``/``server_key``/``server_ca``.
Every module starts with a default PKI in those namespaces (one CA signing
every certificate, the same for every module of the process, as every shipped
firmware carries the same defaults); AT+SYSMFG replaces it.

PSK (AT+CIPSSLCPSK): esp-tls uses a pre-shared key only when no CA is set
(auth mode 0 or 1); such links shake hands with mbed TLS itself
(``services/tls_psk.py``), since Python's ``ssl`` has no PSK before 3.13.
"""

from __future__ import annotations

import asyncio
import datetime
import datetime as dt
import functools
import ssl
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from esp_at_sim.device.module import on_mfg_init
from esp_at_sim.device.nvs import NvsType

if TYPE_CHECKING:
    from esp_at_sim.device.module import Module

#: protocol -> (certificate, key, CA) namespace names in mfg_nvs
NAMESPACES = {
    "tcp": ("client_cert", "client_key", "client_ca"),
    "http": ("https_cert", "https_key", "https_ca"),
    "mqtt": ("mqtt_cert", "mqtt_key", "mqtt_ca"),
    "ws": ("wss_cert", "wss_key", "wss_ca"),
}
#: ``module.vars`` key holding the offset from the module clock to Unix time, set by SNTP
WALL_CLOCK_OFFSET = "sntp.wall_offset"


class TlsConfigError(Exception):
    """The PKI a connection asks for is missing or unusable."""


def pki_item(module: Module, namespace: str, index: int) -> bytes | None:
    """One certificate or key from mfg_nvs (``<ns>/<ns>.<index>``; a lone set may
    be stored without the index)."""
    for key in (f"{namespace}.{index}", namespace) if index == 0 else (f"{namespace}.{index}",):
        value = module.nvs.mfg.get(namespace, key)
        if value:
            return value if isinstance(value, bytes) else str(value).encode()
    return None


def wall_time(module: Module) -> float:
    """Seconds since 1970 as the module believes: boot-relative until SNTP."""
    from esp_at_sim.services.systime import SystemTime

    return module.service(SystemTime).now()


def client_context(
    module: Module,
    protocol: str,
    *,
    verify: bool,
    client_cert: bool,
    pki_index: int = 0,
    ca_index: int = 0,
    alpn: list[str] | None = None,
) -> ssl.SSLContext:
    cert_ns, key_ns, ca_ns = NAMESPACES[protocol]
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if verify:
        ca = pki_item(module, ca_ns, ca_index)
        if ca is None:
            raise TlsConfigError("NO CA FOUND")
        try:
            ctx.load_verify_locations(cadata=ca.decode("ascii", "replace"))
        except ssl.SSLError as exc:
            raise TlsConfigError(f"read ca failed: {exc}") from None
        ctx.check_hostname = True
        ctx.verify_mode = ssl.CERT_REQUIRED
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if client_cert:
        cert = pki_item(module, cert_ns, pki_index)
        key = pki_item(module, key_ns, pki_index)
        if cert is None:
            raise TlsConfigError("NO CERT FOUND")
        if key is None:
            raise TlsConfigError("NO PRVT_KEY FOUND")
        load_chain(ctx, cert, key)
    if alpn:
        ctx.set_alpn_protocols(alpn)
    return ctx


def auth_mode_context(
    module: Module, protocol: str, auth_mode: int, *, pki_index: int = 0, ca_index: int = 0
) -> ssl.SSLContext:
    """:func:`client_context` for an ``<auth_mode>`` as the HTTP and WebSocket
    configurations give it: 0 no check, 1 the module presents its certificate,
    2 it verifies the server, 3 both."""
    return client_context(
        module,
        protocol,
        verify=auth_mode in (2, 3),
        client_cert=auth_mode in (1, 3),
        pki_index=pki_index,
        ca_index=ca_index,
    )


def load_chain(ctx: ssl.SSLContext, cert: bytes, key: bytes) -> None:
    """Load a PEM certificate chain and its key into ``ctx``."""
    # ssl only loads chains from files; they live in a private temporary directory
    import os
    import tempfile

    with tempfile.TemporaryDirectory(prefix="esp-at-sim-pki-") as d:
        cpath, kpath = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
        with open(cpath, "wb") as f:
            f.write(cert)
        with open(kpath, "wb") as f:
            f.write(key)
        try:
            ctx.load_cert_chain(cpath, kpath)
        except ssl.SSLError as exc:
            raise TlsConfigError(f"read cert failed: {exc}") from None


_load_chain = load_chain  # the name older tests use


def check_validity(module: Module, writer: asyncio.StreamWriter) -> None:
    """After a verified handshake: the server certificate must be valid at the
    module's own time (1970 before SNTP), as mbedTLS judges it on the chip."""
    sslobj: Any = writer.get_extra_info("ssl_object")
    if sslobj is None or sslobj.context.verify_mode != ssl.CERT_REQUIRED:
        return
    cert = sslobj.getpeercert()
    if not cert:
        return
    now = wall_time(module)
    not_before = ssl.cert_time_to_seconds(cert["notBefore"])
    not_after = ssl.cert_time_to_seconds(cert["notAfter"])
    if now < not_before:
        when = dt.datetime.fromtimestamp(max(now, 0), dt.UTC).isoformat()
        raise TlsConfigError(f"certificate is not yet valid at module time {when}")
    if now > not_after:
        raise TlsConfigError("certificate has expired")


# ------------------------------------------------------------ links and PKI

#: IANA id -> OpenSSL name, the TLS 1.2 suites mbedTLS offers by default on the chip
CIPHERS: dict[int, str] = {
    0xC02C: "ECDHE-ECDSA-AES256-GCM-SHA384",
    0xC030: "ECDHE-RSA-AES256-GCM-SHA384",
    0xC02B: "ECDHE-ECDSA-AES128-GCM-SHA256",
    0xC02F: "ECDHE-RSA-AES128-GCM-SHA256",
    0xCCA9: "ECDHE-ECDSA-CHACHA20-POLY1305",
    0xCCA8: "ECDHE-RSA-CHACHA20-POLY1305",
    0xC024: "ECDHE-ECDSA-AES256-SHA384",
    0xC028: "ECDHE-RSA-AES256-SHA384",
    0xC023: "ECDHE-ECDSA-AES128-SHA256",
    0xC027: "ECDHE-RSA-AES128-SHA256",
    0xC00A: "ECDHE-ECDSA-AES256-SHA",
    0xC014: "ECDHE-RSA-AES256-SHA",
    0xC009: "ECDHE-ECDSA-AES128-SHA",
    0xC013: "ECDHE-RSA-AES128-SHA",
    0x009F: "DHE-RSA-AES256-GCM-SHA384",
    0x009E: "DHE-RSA-AES128-GCM-SHA256",
    0x009D: "AES256-GCM-SHA384",
    0x009C: "AES128-GCM-SHA256",
    0x003D: "AES256-SHA256",
    0x003C: "AES128-SHA256",
    0x0035: "AES256-SHA",
    0x002F: "AES128-SHA",
    0xC0AD: "ECDHE-ECDSA-AES256-CCM",
    0xC0AC: "ECDHE-ECDSA-AES128-CCM",
}

PKI_NAMESPACES = ("client", "https", "wss")  # two sets each
PKI_SINGLE = ("server", "mqtt")


class TlsError(Exception):
    """A handshake or verification failure, with the mbedTLS-style code the firmware reports."""

    def __init__(self, message: str, code: int = 0x2700) -> None:
        super().__init__(message)
        self.code = code


# ------------------------------------------------------------------ PKI
@dataclass(frozen=True)
class Pki:
    ca_pem: bytes
    server_cert: bytes
    server_key: bytes
    clients: tuple[tuple[bytes, bytes], ...]  # (cert, key) sets


@functools.cache
def default_pki() -> Pki:
    """The default PKI every module starts with (made once per process)."""
    return make_pki("esp-at-sim default CA", server_names=("espressif.local", "localhost", "127.0.0.1", "::1"))


def make_pki(ca_name: str, *, server_names: tuple[str, ...] = ("localhost",), clients: int = 2) -> Pki:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    def name(cn: str) -> x509.Name:
        return x509.Name(
            [x509.NameAttribute(NameOID.ORGANIZATION_NAME, "esp-at-sim"), x509.NameAttribute(NameOID.COMMON_NAME, cn)]
        )

    start = datetime.datetime(2021, 1, 1, tzinfo=datetime.UTC)
    end = datetime.datetime(2049, 12, 31, tzinfo=datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(name(ca_name))
        .issuer_name(name(ca_name))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )

    def leaf(cn: str, sans: tuple[str, ...], usage: x509.ObjectIdentifier) -> tuple[bytes, bytes]:
        import ipaddress

        key = ec.generate_private_key(ec.SECP256R1())
        alt: list[x509.GeneralName] = []
        for s in sans:
            try:
                alt.append(x509.IPAddress(ipaddress.ip_address(s)))
            except ValueError:
                alt.append(x509.DNSName(s))
        builder = (
            x509.CertificateBuilder()
            .subject_name(name(cn))
            .issuer_name(ca.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        )
        if alt:
            builder = builder.add_extension(x509.SubjectAlternativeName(alt), critical=False)
        cert = builder.sign(ca_key, hashes.SHA256())
        return (
            cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ),
        )

    from cryptography.x509.oid import ExtendedKeyUsageOID

    server_cert, server_key = leaf(server_names[0], server_names, ExtendedKeyUsageOID.SERVER_AUTH)
    sets = tuple(leaf(f"esp-at-sim client {i}", (), ExtendedKeyUsageOID.CLIENT_AUTH) for i in range(clients))
    return Pki(ca.public_bytes(serialization.Encoding.PEM), server_cert, server_key, sets)


@on_mfg_init
def _default_pki(module: Module) -> None:
    pki = default_pki()
    mfg = module.nvs.mfg
    for prefix in PKI_NAMESPACES:
        ca_ns, cert_ns, key_ns = f"{prefix}_ca", f"{prefix}_cert", f"{prefix}_key"
        for i, (cert, key) in enumerate(pki.clients):
            mfg.set(ca_ns, f"{ca_ns}.{i}", pki.ca_pem, NvsType.BLOB)
            mfg.set(cert_ns, f"{cert_ns}.{i}", cert, NvsType.BLOB)
            mfg.set(key_ns, f"{key_ns}.{i}", key, NvsType.BLOB)
    mfg.set("server_ca", "server_ca", pki.ca_pem, NvsType.BLOB)
    mfg.set("server_cert", "server_cert", pki.server_cert, NvsType.BLOB)
    mfg.set("server_key", "server_key", pki.server_key, NvsType.BLOB)
    cert, key = pki.clients[0]
    mfg.set("mqtt_ca", "mqtt_ca", pki.ca_pem, NvsType.BLOB)
    mfg.set("mqtt_cert", "mqtt_cert", cert, NvsType.BLOB)
    mfg.set("mqtt_key", "mqtt_key", key, NvsType.BLOB)


def read_pem(module: Module, namespace: str, index: int | None) -> bytes | None:
    """A PEM blob from mfg_nvs: ``client_ca.<index>``, or the namespace's only key."""
    mfg = module.nvs.mfg
    for key in ([f"{namespace}.{index}"] if index is not None else []) + [namespace]:
        value = mfg.get(namespace, key)
        if value is not None:
            return value if isinstance(value, bytes) else str(value).encode()
    return None


# --------------------------------------------------------- client config
@dataclass
class SslClientConfig:
    """AT+CIPSSLC* for one link id."""

    auth_mode: int = 0
    pki_number: int = 0
    ca_number: int = 0
    common_name: str = ""
    sni: str = ""
    alpn: list[str] = field(default_factory=list)
    ciphers: list[int] = field(default_factory=list)
    psk: bytes = b""
    psk_hint: str = ""


def link_client_context(
    module: Module,
    cfg: SslClientConfig,
    *,
    ca_namespace: str = "client_ca",
    cert_namespace: str = "client_cert",
    key_namespace: str = "client_key",
) -> ssl.SSLContext:
    """An SSLContext as esp-tls would configure it for this link."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False  # the chip checks a name only when AT+CIPSSLCCN sets one
    # the firmware's mbedTLS is built without TLS 1.3: a server that wants a
    # client certificate refuses a handshake without one, instead of closing later
    ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    if cfg.auth_mode in (2, 3):
        ca = read_pem(module, ca_namespace, cfg.ca_number)
        if ca is None:
            module.urc("NO CA FOUND")
            raise TlsError("no CA certificate", 0x2700)
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(cadata=ca.decode("ascii", "replace"))
    else:
        ctx.verify_mode = ssl.CERT_NONE
    if cfg.auth_mode in (1, 3):
        cert = read_pem(module, cert_namespace, cfg.pki_number)
        key = read_pem(module, key_namespace, cfg.pki_number)
        if cert is None:
            module.urc("NO CERT FOUND")
            raise TlsError("no client certificate", 0x2700)
        if key is None:
            module.urc("NO PRVT_KEY FOUND")
            raise TlsError("no client key", 0x2700)
        load_chain(ctx, cert, key)
    if cfg.alpn:
        ctx.set_alpn_protocols(cfg.alpn)
    if cfg.ciphers:
        names = [CIPHERS[c] for c in cfg.ciphers if c in CIPHERS]
        if names:
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2  # a TLS 1.3 handshake would ignore the list
            ctx.set_ciphers(":".join(names))
    return ctx


def uses_psk(cfg: SslClientConfig) -> bool:
    """esp-tls configures the PSK only when no CA certificate is set (the CA wins)."""
    return bool(cfg.psk) and cfg.auth_mode in (0, 1)


def server_context(module: Module, ca_enable: bool) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_2  # as the firmware's mbedTLS
    cert = read_pem(module, "server_cert", None)
    key = read_pem(module, "server_key", None)
    if cert is None or key is None:
        raise TlsError("no server certificate", 0x2700)
    load_chain(ctx, cert, key)
    if ca_enable:
        ca = read_pem(module, "server_ca", None)
        if ca is None:
            raise TlsError("no server CA", 0x2700)
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(cadata=ca.decode("ascii", "replace"))
    return ctx


def verify_peer(module: Module, sslobj: ssl.SSLObject | ssl.SSLSocket | None, cfg: SslClientConfig | None) -> None:
    """What mbedTLS checks beyond the chain: validity against the module's clock and the CN."""
    if sslobj is None:
        return
    der = sslobj.getpeercert(binary_form=True)
    if der is None:
        return
    from cryptography import x509

    cert = x509.load_der_x509_certificate(der)
    now = datetime.datetime.fromtimestamp(wall_time(module), tz=datetime.UTC)
    verifying = cfg is None or cfg.auth_mode in (2, 3)
    if verifying and now < cert.not_valid_before_utc:
        module.chip_log("esp-tls: Failed to verify peer certificate! The certificate validity starts in the future")
        raise TlsError("certificate not yet valid", 0x2700)
    if verifying and now > cert.not_valid_after_utc:
        module.chip_log("esp-tls: Failed to verify peer certificate! The certificate validity has expired")
        raise TlsError("certificate expired", 0x2700)
    if cfg is not None and cfg.common_name and verifying:
        from cryptography.x509.oid import NameOID

        names = [a.value for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
        try:
            sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            names += [str(n) for n in sans.get_values_for_type(x509.DNSName)]
        except x509.ExtensionNotFound:
            pass
        if cfg.common_name not in names:
            module.chip_log("esp-tls: Failed to verify peer certificate! The certificate Common Name does not match")
            raise TlsError("common name mismatch", 0x2700)
