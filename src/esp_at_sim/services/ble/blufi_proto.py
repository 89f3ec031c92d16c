"""The BluFi protocol, sans-IO: frames, fragments, checksum, encryption.

BluFi (ESP-IDF's Wi-Fi provisioning over BLE) exchanges frames over two
characteristics of service 0xFFFF: the phone writes 0xFF01, the device
notifies 0xFF02. A frame is::

    type (1)  = subtype << 2 | kind      (kind 0 control, 1 data)
    ctrl (1)  = 0x01 encrypted, 0x02 checksum, 0x04 device->phone,
                0x08 ack wanted, 0x10 more fragments
    seq  (1)  = per-direction sequence number, from 0
    len  (1)
    data      (a fragmented frame's data starts with the total length, 2 bytes LE)
    checksum (2, LE; CRC16 over seq, len and the plain data)

Security is negotiated as in ESP-IDF's ``blufi_security.c``: the phone sends
a Diffie-Hellman prime, generator and its public key; the device answers its
public key; both take MD5 of the shared secret as an AES-128 key and use
CFB-128 with the IV ``[seq, 0, ... 0]``.

:class:`BlufiCodec` is one side of a connection (device or phone): it turns
payloads into frames (``encode``) and frames back into complete messages
(``decode``), keeping sequence numbers and keys.
"""

from __future__ import annotations

import hashlib
import secrets
import struct
from dataclasses import dataclass

from cryptography.hazmat.decrepit.ciphers.modes import CFB
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

KIND_CTRL, KIND_DATA = 0, 1
# control subtypes
CTRL_ACK, CTRL_SEC_MODE, CTRL_OPMODE, CTRL_CONNECT_AP, CTRL_DISCONNECT_AP = 0, 1, 2, 3, 4
CTRL_GET_STATUS, CTRL_DEAUTH_STA, CTRL_GET_VERSION, CTRL_DISCONNECT_BLE, CTRL_GET_WIFI_LIST = 5, 6, 7, 8, 9
# data subtypes
DATA_NEG, DATA_STA_BSSID, DATA_STA_SSID, DATA_STA_PASSWD = 0x00, 0x01, 0x02, 0x03
DATA_AP_SSID, DATA_AP_PASSWD, DATA_AP_MAX_CONN, DATA_AP_AUTH, DATA_AP_CHANNEL = 0x04, 0x05, 0x06, 0x07, 0x08
DATA_WIFI_REPORT, DATA_VERSION, DATA_WIFI_LIST, DATA_ERROR, DATA_CUSTOM = 0x0F, 0x10, 0x11, 0x12, 0x13

F_ENCRYPTED, F_CHECKSUM, F_TO_PHONE, F_ACK, F_FRAG = 0x01, 0x02, 0x04, 0x08, 0x10
NEG_SET_TOTAL_LENGTH, NEG_SET_ALL_DATA = 0x00, 0x01
VERSION = (1, 3)


class BlufiError(Exception):
    """A malformed or unexpected BluFi frame."""


def crc16(data: bytes, crc: int = 0) -> int:
    """CRC16-CCITT as the ESP ROM's ``crc16_be`` computes it (inverted in and out)."""
    crc = ~crc & 0xFFFF
    for b in data:
        crc ^= b << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return ~crc & 0xFFFF


@dataclass(frozen=True)
class Message:
    kind: int
    subtype: int
    data: bytes


class BlufiCodec:
    """One end of a BluFi conversation."""

    def __init__(self, *, device: bool) -> None:
        self.device = device
        self.tx_seq = 0
        self.rx_seq = 0
        self.key: bytes | None = None
        self.encrypt_ctrl = self.encrypt_data = False
        self.checksum_ctrl = self.checksum_data = False
        self._frag: bytearray | None = None
        self._frag_type = 0

    # -------------------------------------------------------------- crypto
    def _aes(self, seq: int, data: bytes, *, decrypt: bool) -> bytes:
        assert self.key is not None
        iv = bytes([seq]) + bytes(15)
        cipher = Cipher(algorithms.AES(self.key), CFB(iv))
        op = cipher.decryptor() if decrypt else cipher.encryptor()
        return op.update(data) + op.finalize()

    def set_security(self, mode: int) -> None:
        """Apply a ``CTRL_SEC_MODE`` byte: high nibble control, low nibble data
        (bit 0 checksum, bit 1 encryption)."""
        ctrl, data = mode >> 4, mode & 0x0F
        self.checksum_ctrl, self.encrypt_ctrl = bool(ctrl & 1), bool(ctrl & 2)
        self.checksum_data, self.encrypt_data = bool(data & 1), bool(data & 2)

    # -------------------------------------------------------------- encode
    def encode(self, kind: int, subtype: int, data: bytes, mtu: int = 23, *, ack: bool = False) -> list[bytes]:
        """The frames that carry one message, each fitting ``mtu`` - 3 bytes."""
        enc = (self.encrypt_data if kind == KIND_DATA else self.encrypt_ctrl) and self.key is not None
        csum = self.checksum_data if kind == KIND_DATA else self.checksum_ctrl
        room = max(4, mtu - 3 - 4 - (2 if csum else 0))
        frames = []
        total = len(data)
        pos = 0
        while True:
            rest = data[pos:]
            if len(rest) > room:
                chunk = struct.pack("<H", total - pos) + rest[: room - 2]
                pos += room - 2
                frag = True
            else:
                chunk = rest
                pos = total
                frag = False
            frames.append(self._frame(kind, subtype, chunk, enc=enc, csum=csum, frag=frag, ack=ack))
            if not frag:
                return frames

    def _frame(self, kind: int, subtype: int, chunk: bytes, *, enc: bool, csum: bool, frag: bool, ack: bool) -> bytes:
        seq = self.tx_seq
        self.tx_seq = (self.tx_seq + 1) & 0xFF
        ctrl = (F_ENCRYPTED if enc else 0) | (F_CHECKSUM if csum else 0) | (F_FRAG if frag else 0)
        ctrl |= (F_TO_PHONE if self.device else 0) | (F_ACK if ack else 0)
        tail = b""
        if csum:
            tail = struct.pack("<H", crc16(bytes([seq, len(chunk)]) + chunk))
        body = self._aes(seq, chunk, decrypt=False) if enc else chunk
        return bytes([(subtype << 2) | kind, ctrl, seq, len(chunk)]) + body + tail

    # -------------------------------------------------------------- decode
    def decode(self, frame: bytes) -> Message | None:
        """Feed one frame; a complete message comes back, a fragment gives None."""
        if len(frame) < 4:
            raise BlufiError("short frame")
        ftype, ctrl, seq, length = frame[0], frame[1], frame[2], frame[3]
        if seq != self.rx_seq:
            raise BlufiError(f"sequence {seq}, expected {self.rx_seq}")
        self.rx_seq = (self.rx_seq + 1) & 0xFF
        body = frame[4 : 4 + length]
        if len(body) != length:
            raise BlufiError("truncated frame")
        if ctrl & F_ENCRYPTED:
            if self.key is None:
                raise BlufiError("encrypted frame before negotiation")
            body = self._aes(seq, body, decrypt=True)
        if ctrl & F_CHECKSUM:
            got = frame[4 + length : 6 + length]
            if len(got) != 2 or struct.unpack("<H", got)[0] != crc16(bytes([seq, length]) + body):
                raise BlufiError("checksum mismatch")
        kind, subtype = ftype & 0x03, ftype >> 2
        if ctrl & F_FRAG:
            if self._frag is None:
                self._frag = bytearray()
                self._frag_type = ftype
            self._frag += body[2:]
            return None
        if self._frag is not None:
            body = bytes(self._frag) + body
            self._frag = None
        return Message(kind, subtype, bytes(body))


# ------------------------------------------------------------------ DH
# Classic finite-field Diffie-Hellman, as mbedTLS's dhm module does it; the
# shared secret is the big-endian integer without leading zeros
# (mbedtls_dhm_calc_secret), and the key is its MD5.


def _be(n: int, size: int | None = None) -> bytes:
    return n.to_bytes(size if size is not None else max(1, (n.bit_length() + 7) // 8), "big")


def _private(p: int) -> int:
    return secrets.randbelow(p - 3) + 2


def negotiation_request(p: int, g: int) -> tuple[int, bytes]:
    """The phone's side: a private exponent and the ``NEG_SET_ALL_DATA`` payload."""
    size = (p.bit_length() + 7) // 8
    priv = _private(p)
    payload = bytes([NEG_SET_ALL_DATA])
    for part in (_be(p, size), _be(g), _be(pow(g, priv, p), size)):
        payload += struct.pack(">H", len(part)) + part
    return priv, payload


def device_answer(payload: bytes) -> tuple[bytes, bytes]:
    """The device's side of ``NEG_SET_ALL_DATA``: (its public key, the AES key)."""
    if not payload or payload[0] != NEG_SET_ALL_DATA:
        raise BlufiError("not a negotiation")
    parts = []
    pos = 1
    for _ in range(3):
        if pos + 2 > len(payload):
            raise BlufiError("short negotiation")
        (n,) = struct.unpack(">H", payload[pos : pos + 2])
        parts.append(payload[pos + 2 : pos + 2 + n])
        pos += 2 + n
    p, g, peer = (int.from_bytes(x, "big") for x in parts)
    if p < 0xFF or not 1 < g < p - 1 or not 1 < peer < p - 1:
        raise BlufiError("bad DH parameters")
    priv = _private(p)
    public = _be(pow(g, priv, p), len(parts[0]))
    return public, hashlib.md5(_be(pow(peer, priv, p))).digest()


def phone_key(p: int, priv: int, device_public: bytes) -> bytes:
    return hashlib.md5(_be(pow(int.from_bytes(device_public, "big"), priv, p))).digest()
