"""WPA key management: the PSK, the 4-way handshake and its MIC checks.

Theory of operation
-------------------
A WPA/WPA2 passphrase becomes the PMK through PBKDF2-HMAC-SHA1 (4096 rounds,
the SSID as salt); SAE (``world/sae.py``) and 802.1X produce a PMK of their
own. The 4-way handshake then runs between an :class:`Authenticator` (the
access point) and a :class:`Supplicant` (the module's station) over real
EAPOL-Key frames (IEEE 802.11-2020 12.7.2):

* M1 carries the AP's ANonce;
* the station derives the PTK from PMK, both MAC addresses and both nonces,
  and answers M2 with its SNonce, MIC'd with the KCK;
* the AP derives the same PTK *only if it holds the same PMK* - a wrong
  passphrase shows up exactly here, as an M2 whose MIC does not verify. The
  AP drops such a frame, as hostapd does; the station then sees no M3 and the
  handshake times out (reason 15, ``4WAY_HANDSHAKE_TIMEOUT``);
* M3 (MIC'd, the GTK wrapped with the KEK) proves to the station that the AP
  knows the PMK too; M4 completes it.

The key-descriptor version follows the AKM, as on air: HMAC-MD5 for WPA with
TKIP (v1), HMAC-SHA1-128 for WPA2-PSK (v2, PRF-384 with SHA-1), AES-128-CMAC
with the SHA-256 KDF for SAE (AKM 8, descriptor version 0).

Everything here is sans-IO: frames are bytes in and bytes out; the station
and AP models decide timing through the clock.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import struct
from dataclasses import dataclass
from enum import IntEnum
from functools import lru_cache

# ``cryptography`` is imported where it is used: a module that never joins a
# network need not load it at start-up


class Akm(IntEnum):
    """Authentication and key management suites (the ones the world uses)."""

    WPA_PSK = 0x0050F202  # WPA1 (vendor OUI), TKIP
    PSK = 2  # WPA2-PSK (00-0F-AC:2)
    IEEE8021X = 1  # WPA2-Enterprise (00-0F-AC:1)
    SAE = 8  # WPA3-Personal (00-0F-AC:8)
    IEEE8021X_SHA256 = 5  # WPA3-Enterprise (00-0F-AC:5)


class HandshakeError(Exception):
    """A frame of the 4-way handshake is malformed or its MIC does not verify."""


class MicFailure(HandshakeError):
    """The MIC does not verify: the peer derived another PTK (another PMK)."""


@lru_cache(maxsize=1024)
def psk_pmk(passphrase: bytes, ssid: bytes) -> bytes:
    """PMK of WPA-PSK: PBKDF2-HMAC-SHA1(passphrase, ssid, 4096, 256 bits).

    A 64-hex-digit "passphrase" is the PSK itself, as in IEEE 802.11 M.4.
    Cached because both the supplicant and the AP keep it for the life of
    their configuration, as the firmware and hostapd do.
    """
    if len(passphrase) == 64:
        try:
            return bytes.fromhex(passphrase.decode("ascii"))
        except (UnicodeDecodeError, ValueError):
            pass
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

    kdf = PBKDF2HMAC(algorithm=hashes.SHA1(), length=32, salt=ssid, iterations=4096)
    return kdf.derive(passphrase)


def prf_sha1(key: bytes, label: bytes, data: bytes, bits: int) -> bytes:
    """The 802.11i PRF (HMAC-SHA1 based) producing ``bits`` bits."""
    out = b""
    i = 0
    while len(out) * 8 < bits:
        out += hmac.new(key, label + b"\x00" + data + bytes([i]), hashlib.sha1).digest()
        i += 1
    return out[: bits // 8]


def kdf_sha256(key: bytes, label: bytes, context: bytes, bits: int) -> bytes:
    """The 802.11 KDF-SHA-256 (12.7.1.7.2) producing ``bits`` bits."""
    out = b""
    i = 1
    while len(out) * 8 < bits:
        out += hmac.new(key, struct.pack("<H", i) + label + context + struct.pack("<H", bits), hashlib.sha256).digest()
        i += 1
    return out[: bits // 8]


@dataclass(frozen=True)
class Ptk:
    kck: bytes
    kek: bytes
    tk: bytes


def derive_ptk(pmk: bytes, aa: bytes, spa: bytes, anonce: bytes, snonce: bytes, akm: Akm) -> Ptk:
    """The pairwise transient key both sides derive independently."""
    data = min(aa, spa) + max(aa, spa) + min(anonce, snonce) + max(anonce, snonce)
    if akm in (Akm.SAE, Akm.IEEE8021X_SHA256):
        raw = kdf_sha256(pmk, b"Pairwise key expansion", data, 384)
    else:
        raw = prf_sha1(pmk, b"Pairwise key expansion", data, 512 if akm is Akm.WPA_PSK else 384)
    return Ptk(raw[:16], raw[16:32], raw[32:])


# ------------------------------------------------------------------ EAPOL-Key

KEY_INFO_PAIRWISE = 1 << 3
KEY_INFO_INSTALL = 1 << 6
KEY_INFO_ACK = 1 << 7
KEY_INFO_MIC = 1 << 8
KEY_INFO_SECURE = 1 << 9
KEY_INFO_ENCRYPTED = 1 << 12

_HEADER = struct.Struct(">BBH")  # version, type (3 = Key), body length
_BODY = struct.Struct(">BHHQ32s16s8s8s16sH")
MIC_OFFSET = _HEADER.size + 1 + 2 + 2 + 8 + 32 + 16 + 8 + 8


def _descriptor_version(akm: Akm) -> int:
    if akm is Akm.WPA_PSK:
        return 1
    if akm in (Akm.SAE, Akm.IEEE8021X_SHA256):
        return 0
    return 2


@dataclass(frozen=True)
class EapolKey:
    """One EAPOL-Key frame (RSN or WPA descriptor)."""

    key_info: int
    replay_counter: int
    nonce: bytes = bytes(32)
    key_data: bytes = b""
    mic: bytes = bytes(16)
    descriptor: int = 2  # 2 = RSN, 254 = WPA
    key_length: int = 16

    def encode(self) -> bytes:
        body = _BODY.pack(
            self.descriptor,
            self.key_info,
            self.key_length,
            self.replay_counter,
            self.nonce,
            bytes(16),
            bytes(8),
            bytes(8),
            self.mic,
            len(self.key_data),
        )
        body += self.key_data
        return _HEADER.pack(2, 3, len(body)) + body

    @classmethod
    def decode(cls, frame: bytes) -> EapolKey:
        if len(frame) < _HEADER.size + _BODY.size:
            raise HandshakeError("short EAPOL-Key frame")
        _version, ptype, length = _HEADER.unpack_from(frame)
        if ptype != 3 or length != len(frame) - _HEADER.size:
            raise HandshakeError("not an EAPOL-Key frame")
        desc, info, klen, replay, nonce, _iv, _rsc, _id, mic, dlen = _BODY.unpack_from(frame, _HEADER.size)
        data = frame[_HEADER.size + _BODY.size :]
        if len(data) != dlen:
            raise HandshakeError("key data length mismatch")
        return cls(info, replay, nonce, data, mic, desc, klen)


def compute_mic(kck: bytes, frame_without_mic: bytes, akm: Akm) -> bytes:
    version = _descriptor_version(akm)
    if version == 1:
        return hmac.new(kck, frame_without_mic, hashlib.md5).digest()
    if version == 2:
        return hmac.new(kck, frame_without_mic, hashlib.sha1).digest()[:16]
    from cryptography.hazmat.primitives import cmac
    from cryptography.hazmat.primitives.ciphers import algorithms

    c = cmac.CMAC(algorithms.AES(kck))
    c.update(frame_without_mic)
    return c.finalize()


def _sign(frame: EapolKey, kck: bytes, akm: Akm) -> bytes:
    raw = frame.encode()
    mic = compute_mic(kck, raw, akm)
    return raw[:MIC_OFFSET] + mic + raw[MIC_OFFSET + 16 :]


def verify_mic(raw: bytes, kck: bytes, akm: Akm) -> None:
    if len(raw) < MIC_OFFSET + 16:
        raise HandshakeError("short frame")
    got = raw[MIC_OFFSET : MIC_OFFSET + 16]
    zeroed = raw[:MIC_OFFSET] + bytes(16) + raw[MIC_OFFSET + 16 :]
    if not hmac.compare_digest(compute_mic(kck, zeroed, akm), got):
        raise MicFailure("MIC does not verify")


def _wrap(kek: bytes, data: bytes) -> bytes:
    # key data is padded to a multiple of 8 with 0xdd 00.. (12.7.2), at least 16 bytes
    if len(data) < 16 or len(data) % 8:
        data += b"\xdd"
        while len(data) < 16 or len(data) % 8:
            data += b"\x00"
    from cryptography.hazmat.primitives.keywrap import aes_key_wrap

    return aes_key_wrap(kek, data)


def _gtk_kde(gtk: bytes) -> bytes:
    payload = b"\x00\x0f\xac\x01" + bytes([1, 0]) + gtk  # OUI, type 1 (GTK), key id 1
    return bytes([0xDD, len(payload)]) + payload


# ------------------------------------------------------------- the two roles


class Authenticator:
    """The access point's side of one station's 4-way handshake."""

    def __init__(
        self, pmk: bytes, aa: bytes, spa: bytes, akm: Akm, *, beacon_ie: bytes, station_ie: bytes, gtk: bytes
    ) -> None:
        self.pmk = pmk
        self.aa = aa
        self.spa = spa
        self.akm = akm
        self.beacon_ie = beacon_ie  # what the AP advertises; repeated in M3
        self.station_ie = station_ie  # what the station asked for at association; repeated in M2
        self.gtk = gtk
        self.anonce = os.urandom(32)
        self.replay = 0
        self.ptk: Ptk | None = None
        self.complete = False

    @property
    def _desc(self) -> int:
        return 254 if self.akm is Akm.WPA_PSK else 2

    def message_1(self) -> bytes:
        """(Re)send M1; every retransmission uses a new replay counter."""
        self.replay += 1
        info = _descriptor_version(self.akm) | KEY_INFO_PAIRWISE | KEY_INFO_ACK
        return EapolKey(info, self.replay, self.anonce, descriptor=self._desc).encode()

    def on_message_2(self, raw: bytes) -> bytes:
        """Check M2; returns M3. Raises :class:`MicFailure` for a wrong PMK."""
        m2 = EapolKey.decode(raw)
        if m2.replay_counter != self.replay or not m2.key_info & KEY_INFO_MIC:
            raise HandshakeError("unexpected M2")
        ptk = derive_ptk(self.pmk, self.aa, self.spa, self.anonce, m2.nonce, self.akm)
        verify_mic(raw, ptk.kck, self.akm)
        if m2.key_data != self.station_ie:
            raise HandshakeError("RSN element of M2 differs from the association request")
        self.ptk = ptk
        self.replay += 1
        info = _descriptor_version(self.akm) | KEY_INFO_PAIRWISE | KEY_INFO_ACK | KEY_INFO_MIC | KEY_INFO_INSTALL
        if self.akm is Akm.WPA_PSK:
            data = self.beacon_ie  # WPA1 sends the GTK in a separate group-key handshake
        else:
            info |= KEY_INFO_SECURE | KEY_INFO_ENCRYPTED
            data = _wrap(ptk.kek, self.beacon_ie + _gtk_kde(self.gtk))
        return _sign(EapolKey(info, self.replay, self.anonce, data, descriptor=self._desc), ptk.kck, self.akm)

    def on_message_4(self, raw: bytes) -> None:
        if self.ptk is None:
            raise HandshakeError("M4 before M3")
        m4 = EapolKey.decode(raw)
        if m4.replay_counter != self.replay:
            raise HandshakeError("unexpected M4")
        verify_mic(raw, self.ptk.kck, self.akm)
        self.complete = True


class Supplicant:
    """The station's side of the 4-way handshake."""

    def __init__(self, pmk: bytes, aa: bytes, spa: bytes, akm: Akm, *, own_ie: bytes, beacon_ie: bytes) -> None:
        self.pmk = pmk
        self.aa = aa
        self.spa = spa
        self.akm = akm
        self.own_ie = own_ie  # sent in the association request and in M2
        self.beacon_ie = beacon_ie  # seen in the beacon; M3 must repeat it
        self.snonce = os.urandom(32)
        self.ptk: Ptk | None = None
        self.gtk: bytes | None = None
        self._replay = -1

    @property
    def _desc(self) -> int:
        return 254 if self.akm is Akm.WPA_PSK else 2

    def on_message_1(self, raw: bytes) -> bytes:
        m1 = EapolKey.decode(raw)
        if not m1.key_info & KEY_INFO_ACK or m1.key_info & KEY_INFO_MIC:
            raise HandshakeError("unexpected M1")
        if m1.replay_counter <= self._replay:
            raise HandshakeError("replayed M1")
        self._replay = m1.replay_counter
        self.ptk = derive_ptk(self.pmk, self.aa, self.spa, m1.nonce, self.snonce, self.akm)
        info = _descriptor_version(self.akm) | KEY_INFO_PAIRWISE | KEY_INFO_MIC
        m2 = EapolKey(info, m1.replay_counter, self.snonce, self.own_ie, descriptor=self._desc)
        return _sign(m2, self.ptk.kck, self.akm)

    def on_message_3(self, raw: bytes) -> bytes:
        if self.ptk is None:
            raise HandshakeError("M3 before M1")
        m3 = EapolKey.decode(raw)
        if m3.replay_counter <= self._replay:
            raise HandshakeError("replayed M3")
        verify_mic(raw, self.ptk.kck, self.akm)
        if m3.key_info & KEY_INFO_ENCRYPTED:
            from cryptography.hazmat.primitives.keywrap import aes_key_unwrap

            try:
                plain = aes_key_unwrap(self.ptk.kek, m3.key_data)
            except Exception as exc:  # cryptography raises InvalidUnwrap
                raise HandshakeError("key data does not unwrap") from exc
            if not plain.startswith(self.beacon_ie):
                raise HandshakeError("RSN element of M3 differs from the beacon (downgrade)")
            kde = plain[len(self.beacon_ie) :]
            if len(kde) >= 8 and kde[0] == 0xDD:
                self.gtk = kde[8 : 2 + kde[1]]
        elif m3.key_data != self.beacon_ie:
            raise HandshakeError("RSN element of M3 differs from the beacon (downgrade)")
        self._replay = m3.replay_counter
        info = _descriptor_version(self.akm) | KEY_INFO_PAIRWISE | KEY_INFO_MIC
        if self.akm is not Akm.WPA_PSK:
            info |= KEY_INFO_SECURE
        return _sign(EapolKey(info, m3.replay_counter, descriptor=self._desc), self.ptk.kck, self.akm)


def rsn_element(akm: Akm, pairwise: tuple[int, ...], group: int, mfp: int) -> bytes:
    """The RSN (or WPA vendor) information element an AP advertises.

    Cipher suite types: 2 TKIP, 4 CCMP; ``mfp`` is 0 (none), 1 (capable), 3 (required).
    """
    if akm is Akm.WPA_PSK:
        body = b"\x00\x50\xf2\x01" + struct.pack("<H", 1) + b"\x00\x50\xf2" + bytes([group])
        body += struct.pack("<H", len(pairwise)) + b"".join(b"\x00\x50\xf2" + bytes([p]) for p in pairwise)
        body += struct.pack("<H", 1) + b"\x00\x50\xf2\x02"
        return bytes([0xDD, len(body)]) + body
    caps = (0x80 if mfp & 1 else 0) | (0x40 if mfp & 2 else 0)
    body = struct.pack("<H", 1) + b"\x00\x0f\xac" + bytes([group])
    body += struct.pack("<H", len(pairwise)) + b"".join(b"\x00\x0f\xac" + bytes([p]) for p in pairwise)
    body += struct.pack("<H", 1) + b"\x00\x0f\xac" + bytes([int(akm)])
    body += struct.pack("<H", caps)
    return bytes([0x30, len(body)]) + body
