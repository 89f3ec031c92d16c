"""The GATT server table of ESP-AT: rows of ``gatts_data.csv`` as a model.

The firmware builds its GATT server from a flat attribute table (see
How_to_customize_BLE_services.rst): each row is ``index, uuid_len, uuid,
perm, val_max_len, val_cur_len, value``. A ``0x2800`` row opens a primary
service (its value is the service UUID), a ``0x2803`` row declares a
characteristic (its value is the property byte) and is followed by the
characteristic value row, and any other row after that is a descriptor of
the characteristic. The same rows are stored in mfg NVS, namespace
``ble_data``, keys ``cfg0``..``cfgN``, as comma-separated strings; the table
comes from there when present (so ``AT+SYSMFG`` or a scenario can replace
it) and from the shipped CSV otherwise.

Indexes are what AT commands use: services 1.. in table order, their
characteristics 1.., each characteristic's descriptors 1...
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

PRIMARY_SERVICE = 0x2800
SECONDARY_SERVICE = 0x2801
INCLUDE = 0x2802
CHARACTERISTIC = 0x2803
CCCD = 0x2902

# attribute permissions (ESP_GATT_PERM_*)
PERM_READ = 0x01
PERM_READ_ENCRYPTED = 0x02
PERM_READ_ENC_MITM = 0x04
PERM_WRITE = 0x10
PERM_WRITE_ENCRYPTED = 0x20
PERM_WRITE_ENC_MITM = 0x40
PERM_WRITE_SIGNED = 0x80
PERM_WRITE_SIGNED_MITM = 0x100

# characteristic properties
PROP_READ = 0x02
PROP_WRITE_NR = 0x04
PROP_WRITE = 0x08
PROP_NOTIFY = 0x10
PROP_INDICATE = 0x20


class TableError(ValueError):
    """A row of the table cannot be understood."""


@dataclass(frozen=True)
class Uuid:
    """A UUID as the table writes it: 16, 32 or 128 bits, most significant byte first."""

    value: bytes

    @classmethod
    def parse(cls, text: str, bits: int | None = None) -> Uuid:
        t = text.strip().lower().removeprefix("0x").replace("-", "")
        if not t or len(t) % 2:
            raise TableError(f"bad UUID {text!r}")
        raw = bytes.fromhex(t)
        if bits is not None and bits // 8 > len(raw):
            raw = bytes(bits // 8 - len(raw)) + raw
        if len(raw) not in (2, 4, 16):
            raise TableError(f"bad UUID length {text!r}")
        return cls(raw)

    @property
    def bits(self) -> int:
        return len(self.value) * 8

    @property
    def short(self) -> int | None:
        return int.from_bytes(self.value, "big") if len(self.value) <= 4 else None

    def at_text(self) -> str:
        """As AT prints it: ``0x`` and upper-case hex digits."""
        return "0x" + self.value.hex().upper()


@dataclass
class Descriptor:
    uuid: Uuid
    perm: int
    max_len: int
    value: bytes
    index: int = 0


@dataclass
class Characteristic:
    uuid: Uuid
    properties: int
    perm: int
    max_len: int
    value: bytes
    descriptors: list[Descriptor] = field(default_factory=list)
    index: int = 0

    def descriptor(self, uuid: int) -> Descriptor | None:
        return next((d for d in self.descriptors if d.uuid.short == uuid), None)


@dataclass
class Service:
    uuid: Uuid
    primary: bool = True
    characteristics: list[Characteristic] = field(default_factory=list)
    index: int = 0
    started: bool = False


@dataclass(frozen=True)
class Row:
    index: int
    uuid_len: int
    uuid: str
    perm: int
    max_len: int
    cur_len: int
    value: str

    @classmethod
    def parse(cls, fields: list[str]) -> Row:
        if len(fields) < 6:
            raise TableError(f"row needs 7 fields: {fields!r}")
        if len(fields) == 6:
            fields = [*fields, ""]
        try:
            return cls(
                index=int(fields[0], 0),
                uuid_len=int(fields[1], 0),
                uuid=fields[2].strip(),
                perm=int(fields[3], 0),
                max_len=int(fields[4], 0),
                cur_len=int(fields[5], 0),
                value=",".join(fields[6:]).strip(),
            )
        except ValueError as exc:
            raise TableError(f"bad row {fields!r}: {exc}") from None

    def value_bytes(self) -> bytes:
        text = self.value.strip()
        try:
            data = bytes.fromhex(text) if text else b""
        except ValueError:
            raise TableError(f"bad value {text!r} in row {self.index}") from None
        if len(data) < self.cur_len:
            data = data + bytes(self.cur_len - len(data))
        return data[: max(self.max_len, len(data))]


def build(rows: list[Row]) -> list[Service]:
    """Turn table rows into services with characteristics and descriptors."""
    services: list[Service] = []
    current: Service | None = None
    pending_props: int | None = None
    char: Characteristic | None = None
    for row in rows:
        uuid = Uuid.parse(row.uuid, row.uuid_len)
        short = uuid.short
        if short in (PRIMARY_SERVICE, SECONDARY_SERVICE):
            current = Service(Uuid.parse(row.value), primary=short == PRIMARY_SERVICE, index=len(services) + 1)
            services.append(current)
            char = None
            pending_props = None
        elif current is None:
            raise TableError(f"row {row.index} comes before any service")
        elif short == INCLUDE:
            continue  # included services are not used by the default table
        elif short == CHARACTERISTIC:
            data = row.value_bytes()
            pending_props = data[0] if data else 0
            char = None
        elif pending_props is not None:
            char = Characteristic(
                uuid=uuid,
                properties=pending_props,
                perm=row.perm,
                max_len=row.max_len,
                value=row.value_bytes(),
                index=len(current.characteristics) + 1,
            )
            current.characteristics.append(char)
            pending_props = None
        elif char is not None:
            char.descriptors.append(
                Descriptor(
                    uuid=uuid,
                    perm=row.perm,
                    max_len=row.max_len,
                    value=row.value_bytes(),
                    index=len(char.descriptors) + 1,
                )
            )
        else:
            raise TableError(f"row {row.index} is neither a characteristic nor a descriptor")
    return services


def default_rows() -> list[Row]:
    text = resources.files("esp_at_sim.device").joinpath("data/gatts_data.csv").read_text()
    return rows_from_csv(text)


def rows_from_csv(text: str) -> list[Row]:
    rows = []
    for fields in csv.reader(text.splitlines()):
        if not fields or not fields[0].strip() or fields[0].lstrip().startswith("#"):
            continue
        rows.append(Row.parse([f.strip() for f in fields]))
    return rows


def rows_from_nvs(mfg: Any) -> list[Row] | None:
    """The table stored in mfg NVS (namespace ``ble_data``), or None when absent."""
    keys = [k for k, _t in mfg.keys("ble_data") if k.startswith("cfg") and k[3:].isdigit()]
    if not keys:
        return None
    rows = []
    for key in sorted(keys, key=lambda k: int(k[3:])):
        value = mfg.get("ble_data", key)
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        rows.append(Row.parse([f.strip() for f in next(csv.reader([str(value)]))]))
    return rows


def load(mfg: Any) -> list[Service]:
    rows = rows_from_nvs(mfg)
    return build(rows if rows is not None else default_rows())


def table_rows_as_nvs(rows: list[Row]) -> dict[str, str]:
    """The ``ble_data`` namespace content for ``rows`` (``cfgN`` -> string)."""
    out = {}
    for i, r in enumerate(rows):
        out[f"cfg{i}"] = f"{r.index},{r.uuid_len},{r.uuid},0x{r.perm:02X},{r.max_len},{r.cur_len},{r.value}"
    return out
