"""LE security: pairing with the firmware's prompts, bonds in the module's NVS.

Theory of operation
-------------------
``AT+BLESECPARAM`` sets what this module asks for (bonding, MITM, Secure
Connections, its I/O capability, key size, which keys it distributes).
Bumble's SMP does the pairing; :class:`AtPairingDelegate` turns its
questions into the firmware's messages and waits for the host's answers:

=====================  ===============================  =====================
SMP asks               the module prints                 the host answers
=====================  ===============================  =====================
accept pairing         ``+BLESECREQ:<conn>``             ``AT+BLEENCRSP`` (Bluedroid)
display a passkey      ``+BLESECNTFYKEY:<conn>,<key>``  (nothing)
enter a passkey        ``+BLESECKEYREQ:<conn>``          ``AT+BLEKEYREPLY``
compare numbers        ``+BLESECNCREQ:<conn>,<num>``    ``AT+BLECONFREPLY``
=====================  ===============================  =====================

and ends with ``+BLESECKEYTYPE`` lines and ``+BLEAUTHCMPL:<conn>,0`` (or
``,1`` on failure). Whether the link is protected against MITM is decided
here from the association model actually used (Bumble marks every paired
link "authenticated", Just Works included), and attributes requiring MITM
check it. Bonds live in the user NVS (namespace ``ble.bond``), survive
``AT+RST``, are listed by ``AT+BLEENCDEV?`` (at most 15; the oldest is
replaced) and removed by ``AT+BLEENCCLEAR``.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bumble import hci
from bumble.keys import KeyStore, PairingKeys
from bumble.pairing import PairingConfig, PairingDelegate

if TYPE_CHECKING:
    from esp_at_sim.device.module import Module
    from esp_at_sim.services.ble.stack import BleLink, BleStack

log = logging.getLogger(__name__)

BOND_NS = "ble.bond"
MAX_BONDS = 15
ANSWER_TIMEOUT = 30.0  # SMP's own timeout
AUTH_BOND, AUTH_MITM, AUTH_SC = 0x01, 0x04, 0x08
# Bluedroid key event types (ESP_LE_KEY_*)
KEY_PENC, KEY_PID, KEY_LENC, KEY_LID = 0x01, 0x02, 0x10, 0x20


@dataclass
class SecParams:
    auth_req: int = 0
    iocap: int = 0
    key_size: int = 0
    init_key: int = 0
    rsp_key: int = 0
    auth_option: int = 0


# AT iocap -> SMP I/O capability
IOCAP = {
    0: PairingDelegate.IoCapability.DISPLAY_OUTPUT_ONLY,
    1: PairingDelegate.IoCapability.DISPLAY_OUTPUT_AND_YES_NO_INPUT,
    2: PairingDelegate.IoCapability.KEYBOARD_INPUT_ONLY,
    3: PairingDelegate.IoCapability.NO_OUTPUT_NO_INPUT,
    4: PairingDelegate.IoCapability.DISPLAY_OUTPUT_AND_KEYBOARD_INPUT,
}


class NvsKeyStore(KeyStore):
    """Bumble's key store in the module's NVS (LE and Classic keys)."""

    def __init__(self, module: Module) -> None:
        self.module = module

    @property
    def _nvs(self) -> Any:
        return self.module.nvs.user

    def _order(self) -> list[str]:
        return list(self._nvs.get(BOND_NS, "_order", []))

    async def update(self, name: str, keys: PairingKeys) -> None:
        order = [n for n in self._order() if n != name]
        existing = self._nvs.get(BOND_NS, "k:" + name)
        merged = keys.to_dict()
        if existing:
            merged = {**existing, **{k: v for k, v in merged.items() if v is not None}}
        order.append(name)
        with self.module.nvs.transaction():
            while len(order) > MAX_BONDS * 2:
                old = order.pop(0)
                self._nvs.erase(BOND_NS, "k:" + old)
            self._nvs.set(BOND_NS, "k:" + name, merged)
            self._nvs.set(BOND_NS, "_order", order)

    async def get(self, name: str) -> PairingKeys | None:
        raw = self._nvs.get(BOND_NS, "k:" + name)
        return None if raw is None else PairingKeys.from_dict(raw)

    async def delete(self, name: str) -> None:
        order = [n for n in self._order() if n != name]
        with self.module.nvs.transaction():
            self._nvs.erase(BOND_NS, "k:" + name)
            self._nvs.set(BOND_NS, "_order", order)

    async def get_all(self) -> list[tuple[str, PairingKeys]]:
        out = []
        for name in self._order():
            raw = self._nvs.get(BOND_NS, "k:" + name)
            if raw is not None:
                out.append((name, PairingKeys.from_dict(raw)))
        return out

    def le_bonds(self) -> list[str]:
        """Names (``AA:BB:../P``) of LE bonds, oldest first."""
        out = []
        for name in self._order():
            raw = self._nvs.get(BOND_NS, "k:" + name) or {}
            if raw.get("ltk") or raw.get("ltk_central") or raw.get("ltk_peripheral"):
                out.append(name)
        return out[-MAX_BONDS:]

    def classic_bonds(self) -> list[str]:
        out = []
        for name in self._order():
            raw = self._nvs.get(BOND_NS, "k:" + name) or {}
            if raw.get("link_key"):
                out.append(name)
        return out


def bond_address(name: str) -> str:
    return name.split("/")[0].lower()


class _Answer:
    """A question to the host, answered by an AT command."""

    def __init__(self) -> None:
        self.future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    def answer(self, value: Any) -> bool:
        if self.future.done():
            return False
        self.future.set_result(value)
        return True

    async def wait(self, seconds: float) -> Any:
        try:
            return await asyncio.wait_for(self.future, seconds)
        except TimeoutError:
            return None


class AtPairingDelegate(PairingDelegate):
    def __init__(self, manager: SecurityManager, link: BleLink, params: SecParams, mitm: bool) -> None:
        dist_init = PairingDelegate.KeyDistribution(params.init_key & 0x0F)
        dist_rsp = PairingDelegate.KeyDistribution(params.rsp_key & 0x0F)
        super().__init__(
            io_capability=IOCAP.get(params.iocap, PairingDelegate.IoCapability.DISPLAY_OUTPUT_ONLY),
            local_initiator_key_distribution=dist_init,
            local_responder_key_distribution=dist_rsp,
            maximum_encryption_key_size=params.key_size or 16,
        )
        self.manager = manager
        self.link = link

    async def accept(self) -> bool:
        m = self.manager
        m.stack.listener.security_request(self.link.index)
        if not m.stack.bluedroid:
            return True
        q = m.ask(self.link, "accept")
        return bool(await q.wait(m.clock_seconds(ANSWER_TIMEOUT)))

    async def confirm(self, auto: bool = False) -> bool:
        return True

    async def compare_numbers(self, number: int, digits: int) -> bool:
        m = self.manager
        m.stack.listener.numeric_comparison(self.link.index, number)
        q = m.ask(self.link, "confirm")
        return bool(await q.wait(m.clock_seconds(ANSWER_TIMEOUT)))

    async def get_number(self) -> int | None:
        m = self.manager
        m.stack.listener.passkey_request(self.link.index)
        q = m.ask(self.link, "passkey")
        value = await q.wait(m.clock_seconds(ANSWER_TIMEOUT))
        return None if value is None else int(value)

    async def display_number(self, number: int, digits: int) -> None:
        self.manager.stack.listener.passkey_notify(self.link.index, number)

    async def generate_passkey(self) -> int:
        static = self.manager.static_key
        return static if static is not None else await super().generate_passkey()


class SecurityManager:
    """Per-initialization security state of the LE stack."""

    def __init__(self, stack: BleStack) -> None:
        self.stack = stack
        self.module = stack.module
        self.questions: dict[tuple[int, str], _Answer] = {}
        self._initiated: dict[int, int] = {}  # link index -> sec_act of AT+BLEENC
        device = stack.require()
        device.pairing_config_factory = self._pairing_config
        self._heap = [self.module.heap.alloc(200, "ble_bond") for _ in self.keystore.le_bonds()]
        self.module.scope.on_close(self._free)

    # ----------------------------------------------------------- settings
    @property
    def params(self) -> SecParams:
        raw = self.module.settings.get("ble", "secparam")
        return SecParams(**raw) if raw else SecParams()

    def set_params(self, params: SecParams, persist: bool | None) -> None:
        self.module.settings.set("ble", "secparam", params.__dict__, persist=persist)

    @property
    def static_key(self) -> int | None:
        value = self.module.settings.get("ble", "static_key")
        return None if value is None else int(value)

    def set_static_key(self, key: int, persist: bool | None) -> None:
        self.module.settings.set("ble", "static_key", key, persist=persist)

    @property
    def keystore(self) -> NvsKeyStore:
        ks = self.stack.require().keystore
        assert isinstance(ks, NvsKeyStore)
        return ks

    def clock_seconds(self, seconds: float) -> float:
        return self.module.clock.real_seconds(seconds)

    def _free(self) -> None:
        for h in self._heap:
            h.free()
        self._heap.clear()

    # -------------------------------------------------------- questions
    def ask(self, link: BleLink, what: str) -> _Answer:
        q = _Answer()
        self.questions[(link.index, what)] = q
        return q

    def answer(self, index: int, what: str, value: Any) -> bool:
        q = self.questions.pop((index, what), None)
        return q is not None and q.answer(value)

    # ---------------------------------------------------------- pairing
    def _pairing_config(self, connection: Any) -> PairingConfig:
        link = self.stack.link_of(connection)
        p = self.params
        sec_act = self._initiated.get(link.index, 0) if link is not None else 0
        mitm = bool(p.auth_req & AUTH_MITM) or sec_act == 3
        if link is None:  # pragma: no cover - pairing before the link is known
            return PairingConfig(sc=bool(p.auth_req & AUTH_SC), mitm=mitm, bonding=bool(p.auth_req & AUTH_BOND))
        return PairingConfig(
            sc=bool(p.auth_req & AUTH_SC),
            mitm=mitm and sec_act != 2,
            bonding=bool(p.auth_req & AUTH_BOND),
            delegate=AtPairingDelegate(self, link, p, mitm),
        )

    def attach(self, link: BleLink) -> None:
        c = link.connection
        c.on("pairing", lambda keys, link=link: self._on_pairing(link, keys))
        c.on("pairing_failure", lambda reason, link=link: self._on_failure(link))
        c.on("security_request", lambda auth_req, link=link: self._on_security_request(link))
        c.on("connection_encryption_change", lambda link=link: self._on_encryption(link))
        c.on("connection_encryption_failure", lambda error, link=link: self._on_failure(link))

    def _pairing_session(self, link: BleLink) -> Any:
        device = self.stack.device
        return None if device is None else device.smp_manager.sessions.get(link.connection.handle)

    def _on_pairing(self, link: BleLink, keys: PairingKeys) -> None:
        if self.stack.links.get(link.index) is not link:
            return
        link.mitm = bool(keys.ltk.authenticated if keys.ltk else keys.ltk_central and keys.ltk_central.authenticated)
        session = self._pairing_session(link)
        bonded = bool(session.bonding) if session is not None else False
        self.module.scope.spawn(self._after_pairing(link, keys, bonded, session))

    async def _after_pairing(self, link: BleLink, keys: PairingKeys, bonded: bool, session: Any) -> None:
        device = self.stack.device
        name = str(link.connection.peer_address)
        if device is not None and isinstance(device.keystore, NvsKeyStore):
            if not bonded:
                await device.keystore.delete(name)
            elif len(self._heap) < MAX_BONDS:
                try:
                    self._heap.append(self.module.heap.alloc(200, "ble_bond"))
                except Exception:
                    log.debug("bond heap", exc_info=True)
        initiator = bool(session.is_initiator) if session is not None else link.central
        for key_type in self._key_events(initiator, session):
            self.stack.listener.key_type(link.index, key_type)
        self._initiated.pop(link.index, None)
        p = self.params
        wanted_mitm = bool(p.auth_req & AUTH_MITM)
        self.stack.listener.auth_complete(link.index, True)
        if p.auth_option == 1 and wanted_mitm and not link.mitm:
            await self.stack.disconnect(link.index)

    @staticmethod
    def _key_events(initiator: bool, session: Any) -> list[int]:
        if session is None:
            return []
        local = int(session.initiator_key_distribution if initiator else session.responder_key_distribution)
        peer = int(session.responder_key_distribution if initiator else session.initiator_key_distribution)
        out = []
        if initiator:
            if peer & 0x02:
                out.append(KEY_PID)
            if local & 0x01 or session.sc:
                out.append(KEY_LENC)
            if peer & 0x01 or session.sc:
                out.append(KEY_PENC)
            if local & 0x02:
                out.append(KEY_LID)
        else:
            if local & 0x01 or session.sc:
                out.append(KEY_LENC)
            if peer & 0x01 or session.sc:
                out.append(KEY_PENC)
            if local & 0x02:
                out.append(KEY_LID)
            if peer & 0x02:
                out.append(KEY_PID)
        return out

    def _on_failure(self, link: BleLink) -> None:
        if self.stack.links.get(link.index) is not link:
            return
        self._initiated.pop(link.index, None)
        for key in [k for k in self.questions if k[0] == link.index]:
            self.questions.pop(key).answer(None)
        self.stack.listener.auth_complete(link.index, False)

    def _on_encryption(self, link: BleLink) -> None:
        """Encryption with a stored bond (no pairing): report it as complete."""
        if self.stack.links.get(link.index) is not link or not link.connection.encryption:
            return
        session = self._pairing_session(link)
        if session is not None:
            # the link is encrypted with the key this pairing made: its
            # protection is known now, before the keys are distributed
            link.mitm = session.pairing_method.name != "JUST_WORKS"
            return  # the pairing reports at its end
        self.module.scope.spawn(self._bonded_encryption(link))

    async def _bonded_encryption(self, link: BleLink) -> None:
        device = self.stack.device
        if device is None or device.keystore is None:
            return
        keys = await device.keystore.get(str(link.connection.peer_address))
        if keys is not None:
            key = keys.ltk or keys.ltk_central or keys.ltk_peripheral
            link.mitm = bool(key and key.authenticated)
        self._initiated.pop(link.index, None)
        self.stack.listener.auth_complete(link.index, True)

    def _on_security_request(self, link: BleLink) -> None:
        """The peripheral asks this central to secure the link."""
        self.stack.listener.security_request(link.index)
        if self.stack.bluedroid:
            q = self.ask(link, "accept")
            self.module.scope.spawn(self._secure_when_accepted(link, q))
        else:
            self.module.scope.spawn(self._secure(link))

    async def _secure_when_accepted(self, link: BleLink, q: _Answer) -> None:
        if await q.wait(self.clock_seconds(ANSWER_TIMEOUT)):
            await self._secure(link)

    async def _secure(self, link: BleLink) -> None:
        device = self.stack.device
        if device is None or self.stack.links.get(link.index) is not link:
            return
        c = link.connection
        try:
            keys = await device.keystore.get(str(c.peer_address)) if device.keystore else None
            if keys is not None and (keys.ltk or keys.ltk_central):
                await c.encrypt()
            else:
                await device.pair(c)
        except Exception:
            log.debug("securing the link failed", exc_info=True)

    # ------------------------------------------------------------- AT side
    async def encrypt(self, index: int, sec_act: int) -> None:
        link = self.stack.link(index)
        self._initiated[index] = sec_act
        if link.central:
            self.module.scope.spawn(self._secure(link))
        else:
            link.connection.request_pairing()

    def bonds(self) -> list[str]:
        return [bond_address(n) for n in self.keystore.le_bonds()]

    async def clear(self, index: int | None) -> bool:
        names = self.keystore.le_bonds()
        if index is None:
            for n in names:
                await self.keystore.delete(n)
            self._free()
            return True
        if index >= len(names):
            return False
        await self.keystore.delete(names[index])
        if self._heap:
            self._heap.pop().free()
        return True


def peer_name(address: hci.Address) -> str:
    return str(address)
