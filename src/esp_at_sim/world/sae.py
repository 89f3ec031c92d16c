"""WPA3-Personal: Simultaneous Authentication of Equals (SAE, "dragonfly").

Theory of operation
-------------------
SAE (IEEE 802.11-2020 12.4) is a password-authenticated key exchange over an
elliptic-curve group; the world uses group 19 (NIST P-256), the one every
WPA3 device must support. Both peers:

1. derive the password element PWE from the password and the two MAC
   addresses by *hunting and pecking* (12.4.4.2.2): HMAC-SHA256 seeds and the
   SHA-256 KDF give candidate x coordinates until one lies on the curve;
2. send a commit: ``scalar = (rand + mask) mod r`` and
   ``element = -(mask * PWE)``;
3. compute ``K = rand * (peer_scalar * PWE + peer_element)``; its x
   coordinate seeds the KCK and the PMK;
4. send a confirm, ``HMAC-SHA256(KCK, send_confirm | scalars | elements)``,
   and check the peer's.

Two peers with different passwords derive different PWEs, hence different
``K`` and KCKs, so the confirm of one never verifies at the other: a wrong
password fails at the confirm exchange without either side learning
anything about the other's password. The resulting PMK feeds the 4-way
handshake (``world/wpa.py``, AKM 8).

``cryptography`` offers no raw point arithmetic, so the curve operations
are written out here with Python integers (Jacobian coordinates); hashing
and HMAC use the standard library. Hash-to-element (the newer H2E
derivation) is not modelled; hunting and pecking is what WPA3 devices fall
back to and what the AT firmware's supplicant supports.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from esp_at_sim.world.wpa import kdf_sha256

GROUP = 19
P = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF
A = P - 3
B = 0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B
R = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_LEN = 32

Point = tuple[int, int] | None  # affine; None is the point at infinity
_Jac = tuple[int, int, int]


class SaeError(Exception):
    """A commit or confirm is invalid, or the confirm does not verify."""


# ------------------------------------------------------------ curve arithmetic


def _to_jac(pt: Point) -> _Jac:
    if pt is None:
        return (1, 1, 0)
    return (pt[0], pt[1], 1)


def _from_jac(j: _Jac) -> Point:
    x, y, z = j
    if z == 0:
        return None
    zi = pow(z, -1, P)
    zi2 = zi * zi % P
    return (x * zi2 % P, y * zi2 * zi % P)


def _double(j: _Jac) -> _Jac:
    x, y, z = j
    if z == 0 or y == 0:
        return (1, 1, 0)
    yy = y * y % P
    s = 4 * x * yy % P
    zz = z * z % P
    m = 3 * (x - zz) * (x + zz) % P  # a = -3
    x3 = (m * m - 2 * s) % P
    y3 = (m * (s - x3) - 8 * yy * yy) % P
    z3 = 2 * y * z % P
    return (x3, y3, z3)


def _add(p1: _Jac, p2: _Jac) -> _Jac:
    if p1[2] == 0:
        return p2
    if p2[2] == 0:
        return p1
    x1, y1, z1 = p1
    x2, y2, z2 = p2
    z1z1 = z1 * z1 % P
    z2z2 = z2 * z2 % P
    u1 = x1 * z2z2 % P
    u2 = x2 * z1z1 % P
    s1 = y1 * z2 * z2z2 % P
    s2 = y2 * z1 * z1z1 % P
    if u1 == u2:
        if s1 != s2:
            return (1, 1, 0)
        return _double(p1)
    h = (u2 - u1) % P
    r = (s2 - s1) % P
    hh = h * h % P
    hhh = h * hh % P
    v = u1 * hh % P
    x3 = (r * r - hhh - 2 * v) % P
    y3 = (r * (v - x3) - s1 * hhh) % P
    z3 = h * z1 * z2 % P
    return (x3, y3, z3)


def point_add(a: Point, b: Point) -> Point:
    return _from_jac(_add(_to_jac(a), _to_jac(b)))


def scalar_mult(k: int, pt: Point) -> Point:
    k %= R
    result: _Jac = (1, 1, 0)
    addend = _to_jac(pt)
    while k:
        if k & 1:
            result = _add(result, addend)
        addend = _double(addend)
        k >>= 1
    return _from_jac(result)


def point_neg(pt: Point) -> Point:
    return None if pt is None else (pt[0], (-pt[1]) % P)


def on_curve(pt: Point) -> bool:
    if pt is None:
        return False
    x, y = pt
    return 0 <= x < P and 0 <= y < P and (y * y - (x * x * x + A * x + B)) % P == 0


def _is_residue(v: int) -> bool:
    return pow(v, (P - 1) // 2, P) == 1


def encode_point(pt: Point) -> bytes:
    if pt is None:
        raise SaeError("cannot encode the point at infinity")
    return pt[0].to_bytes(_LEN, "big") + pt[1].to_bytes(_LEN, "big")


def decode_point(data: bytes) -> Point:
    if len(data) != 2 * _LEN:
        raise SaeError("bad element length")
    pt = (int.from_bytes(data[:_LEN], "big"), int.from_bytes(data[_LEN:], "big"))
    if not on_curve(pt):
        raise SaeError("element is not on the curve")
    return pt


# ---------------------------------------------------------------- the exchange


def password_element(password: bytes, mac1: bytes, mac2: bytes, rounds: int = 40) -> tuple[int, int]:
    """PWE by hunting and pecking; the same for both peers (MACs are sorted)."""
    key = max(mac1, mac2) + min(mac1, mac2)
    prime = P.to_bytes(_LEN, "big")
    found: tuple[int, bytes] | None = None
    for counter in range(1, rounds + 1):
        seed = hmac.new(key, password + bytes([counter]), hashlib.sha256).digest()
        value = int.from_bytes(kdf_sha256(seed, b"SAE Hunting and Pecking", prime, 256), "big")
        if value >= P:
            continue
        if found is None and _is_residue((value**3 + A * value + B) % P):
            found = (value, seed)
        # keep looping for all rounds, as the standard asks (no timing side channel)
    if found is None:
        raise SaeError("no password element found")
    x, seed = found
    y = pow((x**3 + A * x + B) % P, (P + 1) // 4, P)
    if (y & 1) != (seed[-1] & 1):
        y = P - y
    return (x, y)


@dataclass(frozen=True)
class Commit:
    scalar: int
    element: Point

    def encode(self) -> bytes:
        return GROUP.to_bytes(2, "little") + self.scalar.to_bytes(_LEN, "big") + encode_point(self.element)

    @classmethod
    def decode(cls, data: bytes) -> Commit:
        if len(data) != 2 + 3 * _LEN or int.from_bytes(data[:2], "little") != GROUP:
            raise SaeError("unsupported group or bad commit")
        scalar = int.from_bytes(data[2 : 2 + _LEN], "big")
        if not 1 < scalar < R:
            raise SaeError("bad commit scalar")
        return cls(scalar, decode_point(data[2 + _LEN :]))


class SaePeer:
    """One side of an SAE exchange (station or access point)."""

    def __init__(self, password: bytes, own_mac: bytes, peer_mac: bytes) -> None:
        self._pwe = password_element(password, own_mac, peer_mac)
        while True:
            self._rand = secrets.randbelow(R - 2) + 2
            mask = secrets.randbelow(R - 2) + 2
            scalar = (self._rand + mask) % R
            if scalar > 1:
                break
        self.commit = Commit(scalar, point_neg(scalar_mult(mask, self._pwe)))
        self._peer: Commit | None = None
        self._kck = b""
        self.pmk = b""
        self.pmkid = b""
        self.send_confirm = 1

    def commit_frame(self) -> bytes:
        return self.commit.encode()

    def on_commit(self, frame: bytes) -> None:
        peer = Commit.decode(frame)
        if peer.scalar == self.commit.scalar and peer.element == self.commit.element:
            raise SaeError("reflected commit")
        k_point = scalar_mult(self._rand, point_add(scalar_mult(peer.scalar, self._pwe), peer.element))
        if k_point is None:
            raise SaeError("shared secret is the point at infinity")
        keyseed = hmac.new(bytes(32), k_point[0].to_bytes(_LEN, "big"), hashlib.sha256).digest()
        total = ((self.commit.scalar + peer.scalar) % R).to_bytes(_LEN, "big")
        material = kdf_sha256(keyseed, b"SAE KCK and PMK", total, 512)
        self._kck, self.pmk = material[:32], material[32:]
        self.pmkid = total[:16]
        self._peer = peer

    def _confirm_of(self, counter: int, mine: Commit, theirs: Commit) -> bytes:
        data = (
            counter.to_bytes(2, "little")
            + mine.scalar.to_bytes(_LEN, "big")
            + encode_point(mine.element)
            + theirs.scalar.to_bytes(_LEN, "big")
            + encode_point(theirs.element)
        )
        return hmac.new(self._kck, data, hashlib.sha256).digest()

    def confirm_frame(self) -> bytes:
        if self._peer is None:
            raise SaeError("confirm before commit")
        return self.send_confirm.to_bytes(2, "little") + self._confirm_of(self.send_confirm, self.commit, self._peer)

    def on_confirm(self, frame: bytes) -> None:
        """Raises :class:`SaeError` when the peer used another password."""
        if self._peer is None or len(frame) != 34:
            raise SaeError("unexpected confirm")
        counter = int.from_bytes(frame[:2], "little")
        expected = self._confirm_of(counter, self._peer, self.commit)
        if not hmac.compare_digest(expected, frame[2:]):
            raise SaeError("confirm does not verify")
