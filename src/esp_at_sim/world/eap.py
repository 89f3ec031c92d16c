"""WPA2/WPA3-Enterprise: the 802.1X authentication server behind an AP.

Theory of operation
-------------------
An Enterprise AP relays EAP to an authentication server; this module is
that server, collapsed into :func:`authenticate`. It checks what the
methods check, with real X.509 material from ``cryptography``:

* **EAP-TLS** (``<method>`` 0): the station must present a client
  certificate (``<security>`` bit 0) issued by the world's Enterprise CA, and
  prove it holds the private key by signing the server's challenge;
* **EAP-PEAP** / **EAP-TTLS** (1, 2): the inner username and password must
  match one of the AP's ``eap_users``;
* with ``<security>`` bit 1 the station verifies the server certificate
  against the CA it loaded from its manufacturing NVS (``wpa_ent_ca``);
  a station configured with another CA refuses the server.

An AP without ``eap_users`` accepts any inner identity with a non-empty
password (a lab RADIUS in accept-all mode). On success both ends derive the
same PMK from the method's session (here: a fresh random MSK handed to both,
as the TLS tunnel would give them), and the 4-way handshake follows.

The world's Enterprise CA and server certificate are fixed (derived from a
constant, like the test certificates the firmware ships), so certificates a
module stored in a previous run keep verifying. Certificate validity dates
are checked against the module's system time when it verifies the server.
"""

from __future__ import annotations

import datetime
import hashlib
import os
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from esp_at_sim.errors import ConfigError

# ``cryptography`` is imported where it is used (the world PKI is made when a
# module's mfg NVS is first filled): a module that has its NVS need not load it
if TYPE_CHECKING:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec

    from esp_at_sim.world.wifi import AccessPoint

METHOD_TLS = 0
METHOD_PEAP = 1
METHOD_TTLS = 2
_METHOD_NAMES = {"tls": METHOD_TLS, "peap": METHOD_PEAP, "ttls": METHOD_TTLS}

REASON_EAP_FAILED = 23  # IEEE 802.1X authentication failed


@dataclass(frozen=True)
class EapUser:
    """An account of the AP's authentication server (scenario ``eap_users``)."""

    identity: str = ""
    method: str = "any"  # tls | peap | ttls | any
    username: str = ""
    password: str = ""

    @classmethod
    def from_table(cls, raw: Any) -> EapUser:
        if not isinstance(raw, dict):
            raise ConfigError("eap_users entries are tables {identity, method, username, password}")
        unknown = set(raw) - {"identity", "method", "username", "password"}
        if unknown:
            raise ConfigError(f"eap_users: unknown keys {', '.join(sorted(unknown))}")
        method = str(raw.get("method", "any")).lower()
        if method not in (*_METHOD_NAMES, "any"):
            raise ConfigError("eap_users: method is tls, peap, ttls or any")
        return cls(str(raw.get("identity", "")), method, str(raw.get("username", "")), str(raw.get("password", "")))

    def allows(self, method: int) -> bool:
        return self.method == "any" or _METHOD_NAMES[self.method] == method


@dataclass(frozen=True)
class EapCredentials:
    """What a station brings to 802.1X (AT+CWJEAP plus its mfg NVS)."""

    method: int
    identity: bytes
    username: bytes = b""
    password: bytes = b""
    client_cert: bytes | None = None  # PEM, when <security> bit 0
    client_key: bytes | None = None
    ca_cert: bytes | None = None  # PEM, when <security> bit 1
    now: float = 0.0  # the station's idea of the time (Unix seconds), for certificate validity


# ----------------------------------------------------------------- world PKI


def _key(label: str) -> ec.EllipticCurvePrivateKey:
    from cryptography.hazmat.primitives.asymmetric import ec

    secret = int.from_bytes(hashlib.sha256(b"esp-at-sim enterprise " + label.encode()).digest(), "big")
    return ec.derive_private_key(secret % (2**255) + 1, ec.SECP256R1())


_NOT_BEFORE = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
_NOT_AFTER = datetime.datetime(2049, 12, 31, tzinfo=datetime.UTC)


def _cert(
    subject: str, key: ec.EllipticCurvePrivateKey, issuer: str, issuer_key: ec.EllipticCurvePrivateKey, ca: bool
) -> x509.Certificate:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    serial = int.from_bytes(hashlib.sha256(subject.encode()).digest()[:8], "big")
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(_NOT_BEFORE)
        .not_valid_after(_NOT_AFTER)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    return builder.sign(issuer_key, hashes.SHA256())


CA_NAME = "esp-at-sim Enterprise CA"


@cache
def ca_certificate() -> x509.Certificate:
    key = _key("ca")
    return _cert(CA_NAME, key, CA_NAME, key, True)


@cache
def server_certificate() -> x509.Certificate:
    return _cert("radius.esp-at-sim", _key("server"), CA_NAME, _key("ca"), False)


def pem(cert: x509.Certificate) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return cert.public_bytes(serialization.Encoding.PEM)


def issue_client(name: str) -> tuple[bytes, bytes]:
    """A client certificate and key (PEM) from the world CA, for a module's mfg NVS."""
    from cryptography.hazmat.primitives import serialization

    key = _key("client " + name)
    cert = _cert(name, key, CA_NAME, _key("ca"), False)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return pem(cert), key_pem


# ------------------------------------------------------------------ the server


def _verified_by(cert_pem: bytes, ca_pem: bytes) -> bool:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature

    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
        ca = x509.load_pem_x509_certificate(ca_pem)
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _holds_key(cert_pem: bytes, key_pem: bytes) -> bool:
    """Challenge-response: the station signs a server nonce with its key."""
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
        public = x509.load_pem_x509_certificate(cert_pem).public_key()
    except (ValueError, TypeError):
        return False
    challenge = os.urandom(32)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(public, ec.EllipticCurvePublicKey):
        return False
    signature = key.sign(challenge, ec.ECDSA(hashes.SHA256()))
    try:
        public.verify(signature, challenge, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


def authenticate(ap: AccessPoint, creds: EapCredentials) -> bytes | int:
    """Run the EAP method; the PMK on success, else a reason code."""
    # the station checks the server first (TLS handshake of every method): signed
    # by its CA, and valid at the station's time - 1970 until SNTP or AT+SYSTIMESTAMP
    if creds.ca_cert is not None:
        server = server_certificate()
        if not _verified_by(pem(server), creds.ca_cert):
            return REASON_EAP_FAILED
        if not server.not_valid_before_utc.timestamp() <= creds.now <= server.not_valid_after_utc.timestamp():
            return REASON_EAP_FAILED
    users = ap.spec.eap_users
    identity = creds.identity.decode("utf-8", "replace")
    if creds.method == METHOD_TLS:
        if creds.client_cert is None or creds.client_key is None:
            return REASON_EAP_FAILED
        if not _verified_by(creds.client_cert, pem(ca_certificate())):
            return REASON_EAP_FAILED
        if not _holds_key(creds.client_cert, creds.client_key):
            return REASON_EAP_FAILED
        tls_users = [u for u in users if u.allows(METHOD_TLS)]
        if tls_users and not any(u.identity in ("", identity) for u in tls_users):
            return REASON_EAP_FAILED
    else:
        username = creds.username.decode("utf-8", "replace")
        password = creds.password.decode("utf-8", "replace")
        if users:
            if not any(u.allows(creds.method) and u.username == username and u.password == password for u in users):
                return REASON_EAP_FAILED
        elif not password:
            return REASON_EAP_FAILED
    return os.urandom(32)
