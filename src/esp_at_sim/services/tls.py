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
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ssl
from typing import TYPE_CHECKING, Any

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
    offset = module.vars.get(WALL_CLOCK_OFFSET)
    now: float = module.clock.now()
    if offset is None:
        return now - module.booted_at
    return now + float(offset)


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
        _load_chain(ctx, cert, key)
    if alpn:
        ctx.set_alpn_protocols(alpn)
    return ctx


def _load_chain(ctx: ssl.SSLContext, cert: bytes, key: bytes) -> None:
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
