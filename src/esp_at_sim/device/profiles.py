"""Chip profiles: what each emulated chip is, as data.

A :class:`ChipProfile` says which command groups a chip's firmware has, its
version strings, heap, link limit, radios, partitions and a few per-chip
command details the spec notes (``AT+RST=<mode>`` on C2/C3, ``AT+SYSTEMP`` on
C3, the RF power table...). Factory parameters (module names, UART pins,
country, TX power, SYSSTORE default) come from ``data/factory_param_data.csv``
as shipped with the firmware.

Command groups (names used by ``@command(group=...)``)::

    base user wifi tcpip mdns wps smartconfig ping mqtt http ble ble_hid blufi
    bt bt_spp bt_a2dp eth fs driver wifi_enterprise webserver websocket ota

``groups`` is everything the chip can run (what a custom build enables);
``official_groups`` is what the released firmware enables by default.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path

from esp_at_sim.errors import ConfigError

_ALL_WIFI = frozenset(
    {
        "base",
        "user",
        "wifi",
        "tcpip",
        "mdns",
        "wps",
        "smartconfig",
        "ping",
        "mqtt",
        "http",
        "fs",
        "driver",
        "wifi_enterprise",
        "webserver",
        "websocket",
        "ota",
    }
)
_BLE = frozenset({"ble", "ble_hid", "blufi"})
_OPTIONAL = frozenset({"fs", "driver", "wifi_enterprise", "webserver", "websocket", "eth", "bt_spp", "bt_a2dp"})


@dataclass(frozen=True)
class Partition:
    name: str
    type: int
    subtype: int
    addr: int
    size: int


@dataclass(frozen=True)
class FactoryParams:
    module_name: str
    description: str
    version: int
    max_tx_power: int
    uart_port: int
    start_channel: int
    channel_num: int
    country_code: str
    uart_baudrate: int
    uart_tx_pin: int
    uart_rx_pin: int
    uart_cts_pin: int
    uart_rts_pin: int
    sys_store: int


@dataclass(frozen=True)
class ChipProfile:
    key: str  # "esp32c3"
    name: str  # "ESP32-C3"
    target: str  # as printed by AT+GMR: "ESP32C3"
    platform: str  # factory_param_data.csv platform column
    default_module: str
    groups: frozenset[str]
    at_version: str
    at_commit: str
    sdk_version: str
    build_date: str
    generation: int  # default firmware major version; legacy aliases depend on it
    heap_total: int
    heap_free_at_boot: int
    max_links: int = 5
    uart_max_baud: int = 5_000_000
    bands: tuple[str, ...] = ("2.4",)
    ble_stack: str | None = None  # "bluedroid" | "nimble"
    bt_classic: bool = False
    rfpower_ble: bool = True  # AT+RFPOWER has the three BLE fields
    rfpower_wifi_cap: int = 80  # actual Wi-Fi power saturates here
    ble_power_range: tuple[int, int] = (0, 15)
    rst_mode: bool = False  # AT+RST=<mode>
    temp_sensor: bool = False  # AT+SYSTEMP
    gslp_min_ms: int = 0
    mac_oui: tuple[int, int, int] = (0x24, 0x0A, 0xC4)
    partitions: tuple[Partition, ...] = ()
    #: the firmware generations released (or buildable) for the chip (device/builds.py)
    generations: tuple[int, ...] = (4,)
    rom_banner: tuple[str, ...] = ()  # the ROM's lines; the bootloader's follow (builds.py)
    app_ms: int = 500  # when the bootloader starts the app, ms after reset
    #: seconds from reset to "ready": the bootloader loads the app after about
    #: 0.4-0.8 s (Downloading_guide.rst logs), ESP-AT's init takes the rest
    boot_time: float = 0.70
    official_exclude: frozenset[str] = field(default_factory=frozenset)
    # UART clock: the query of AT+UART_CUR reports the rate the divider really
    # produces (sclk * 16 // divider); ESP8266 has no fractional divider
    uart_sclk_hz: int = 40_000_000
    uart_frac_div: bool = True
    gpios: frozenset[int] = frozenset(range(22))  # GPIO_IS_VALID_GPIO
    ota_slots: tuple[int, int] = (0x60000, 0x230000)  # ota_0 / ota_1 addresses
    # AT+RFPOWER: accepted Wi-Fi range; the levels the PHY quantizes a set value
    # down to (empty: it reports the set value); BLE power index after boot
    rfpower_range: tuple[int, int] = (40, 84)
    rfpower_levels: tuple[int, ...] = ()
    ble_power_default: int = 11

    @property
    def official_groups(self) -> frozenset[str]:
        return self.groups - _OPTIONAL - self.official_exclude

    def factory(self, module: str | None = None) -> FactoryParams:
        name = module or self.default_module
        for row in _factory_rows():
            if row.platform == self.platform and row.params.module_name == name:
                return row.params
        known = [r.params.module_name for r in _factory_rows() if r.platform == self.platform]
        if not known:
            return _default_factory(name)
        raise ConfigError(f"unknown module {name!r} for {self.name}; known: {', '.join(known)}")

    def base_mac(self, seed: str) -> bytes:
        """A stable base MAC for a module: the chip's OUI and 3 bytes from ``seed``."""
        h = hashlib.sha256(seed.encode()).digest()
        return bytes(self.mac_oui) + h[:3]


@dataclass(frozen=True)
class _FactoryRow:
    platform: str
    params: FactoryParams


@cache
def _factory_rows() -> tuple[_FactoryRow, ...]:
    # beside this file (importlib.resources would cost more to import than the read)
    text = (Path(__file__).parent / "data" / "factory_param_data.csv").read_text(encoding="utf-8")
    rows = []
    for r in csv.DictReader(text.splitlines()):
        rows.append(
            _FactoryRow(
                r["platform"],
                FactoryParams(
                    module_name=r["module_name"],
                    description=r["description"],
                    version=int(r["version"]),
                    max_tx_power=int(r["max_tx_power"]),
                    uart_port=int(r["uart_port"]),
                    start_channel=int(r["start_channel"]),
                    channel_num=int(r["channel_num"]),
                    country_code=r["country_code"],
                    uart_baudrate=int(r["uart_baudrate"]),
                    uart_tx_pin=int(r["uart_tx_pin"]),
                    uart_rx_pin=int(r["uart_rx_pin"]),
                    uart_cts_pin=int(r["uart_cts_pin"]),
                    uart_rts_pin=int(r["uart_rts_pin"]),
                    sys_store=int(r["sys_store"]),
                ),
            )
        )
    return tuple(rows)


def _default_factory(name: str) -> FactoryParams:
    return FactoryParams(name, "", 4, 78, 1, 1, 13, "CN", 115200, 17, 16, 15, 14, 1)


def _parts(mfg_addr: int, mfg_size: int, fs_addr: int, fs_size: int) -> tuple[Partition, ...]:
    return (
        Partition("mfg_nvs", 1, 2, mfg_addr, mfg_size),
        Partition("fs_storage", 1, 0xFF, fs_addr, fs_size),
    )


def _rom(chip: str, rev: str, *, spi: tuple[str, ...] = ("SPIWP:0xee", "mode:DIO, clock div:1")) -> tuple[str, ...]:
    """The ROM lines of the RISC-V and S2 chips; ``Build:`` is the ROM's date
    (the tail of its revision, e.g. ``api1-20210207``)."""
    stamp = datetime.strptime(rev[-8:], "%Y%m%d")
    return (
        f"ESP-ROM:{chip}-{rev}",
        f"Build:{stamp:%b} {stamp.day:2d} {stamp.year}",
        "rst:0x1 (POWERON),boot:0xc (SPI_FAST_FLASH_BOOT)",
        *spi,
        "load:0x3fcd5820,len:0x1714",
        "load:0x403cc710,len:0x968",
        "load:0x403ce710,len:0x2f9c",
        "entry 0x403cc710",
    )


_ROM_ESP32 = (
    "ets Jun  8 2016 00:22:57",
    "",
    "rst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)",
    "configsip: 0, SPIWP:0xee",
    "clk_drv:0x00,q_drv:0x00,d_drv:0x00,cs0_drv:0x00,hd_drv:0x00,wp_drv:0x00",
    "mode:DIO, clock div:2",
    "load:0x3fff0030,len:5884",
    "ho 0 tail 12 room 4",
    "load:0x40078000,len:15844",
    "load:0x40080400,len:3560",
    "entry 0x40080604",
)
#: the newest ROMs print the SPI mode on one line
_SPI_MODE_ONLY = ("SPI mode:DIO, clock div:1",)


_SMALL_PARTS = _parts(0x1F000, 124 * 1024, 0x47000, 100 * 1024)
_BIG_PARTS = _parts(0x21000, 112 * 1024, 0x70000, 576 * 1024)
_C5_PARTS = _parts(0x31000, 124 * 1024, 0x50000, 100 * 1024)

PROFILES: dict[str, ChipProfile] = {
    p.key: p
    for p in (
        ChipProfile(
            key="esp32",
            name="ESP32",
            target="ESP32",
            platform="PLATFORM_ESP32",
            default_module="WROOM-32",
            groups=_ALL_WIFI | _BLE | {"bt", "bt_spp", "bt_a2dp", "eth"},
            at_version="4.1.1.0",
            at_commit="s-32ff6e1",
            sdk_version="v5.4.4",
            build_date="Nov 18 2025 10:21:07",
            generation=4,
            generations=(2, 3, 4),
            heap_total=320 * 1024,
            heap_free_at_boot=169_744,
            ble_stack="bluedroid",
            bt_classic=True,
            rfpower_wifi_cap=78,
            ble_power_range=(0, 7),
            mac_oui=(0x24, 0x0A, 0xC4),
            partitions=_BIG_PARTS,
            rom_banner=_ROM_ESP32,
            app_ms=676,
            rfpower_levels=(34, 44, 52, 56, 60, 66, 72, 78),
            ble_power_default=1,
            uart_sclk_hz=80_000_000,
            gpios=frozenset(range(40)) - {20, 24, 28, 29, 30, 31},
            ota_slots=(0x100000, 0x280000),
            boot_time=0.95,
        ),
        ChipProfile(
            key="esp32c2",
            name="ESP32-C2",
            target="ESP32C2",
            platform="PLATFORM_ESP32C2",
            default_module="ESP32C2-4MB",
            groups=_ALL_WIFI | {"blufi"},
            at_version="4.1.1.0",
            at_commit="32ff6e1",
            sdk_version="v5.4.4",
            build_date="Nov 18 2025 10:24:51",
            generation=4,
            generations=(3, 4),
            heap_total=190 * 1024,
            heap_free_at_boot=87_412,
            uart_max_baud=2_500_000,
            ble_stack="nimble",
            rfpower_ble=False,
            rst_mode=True,
            mac_oui=(0x08, 0x3A, 0x8D),
            partitions=_SMALL_PARTS,
            rom_banner=_rom("esp8684", "api1-20220224"),
            app_ms=382,
            uart_sclk_hz=26_000_000,
            gpios=frozenset(range(21)),
            boot_time=0.6,
        ),
        ChipProfile(
            key="esp32c3",
            name="ESP32-C3",
            target="ESP32C3",
            platform="PLATFORM_ESP32C3",
            default_module="MINI-1",
            groups=_ALL_WIFI | _BLE,
            at_version="4.1.1.0",
            at_commit="32ff6e1",
            sdk_version="v5.4.4",
            build_date="Nov 18 2025 10:23:15",
            generation=4,
            generations=(2, 3, 4),
            heap_total=280 * 1024,
            heap_free_at_boot=165_384,
            ble_stack="bluedroid",
            rst_mode=True,
            temp_sensor=True,
            mac_oui=(0x7C, 0xDF, 0xA1),
            partitions=_SMALL_PARTS,
            rom_banner=_rom("esp32c3", "api1-20210207"),
            app_ms=525,
            boot_time=0.75,
        ),
        ChipProfile(
            key="esp32c5",
            name="ESP32-C5",
            target="ESP32C5",
            platform="PLATFORM_ESP32C5",
            default_module="ESP32C5-4MB",
            groups=_ALL_WIFI | _BLE,
            at_version="5.0.0.0",
            at_commit="b0fe7e5",
            sdk_version="v5.5.1",
            build_date="Nov 18 2025 10:26:40",
            generation=5,
            generations=(5,),
            heap_total=320 * 1024,
            heap_free_at_boot=214_016,
            bands=("2.4", "5"),
            ble_stack="nimble",
            mac_oui=(0x3C, 0xDC, 0x75),
            partitions=_C5_PARTS,
            rom_banner=_rom("esp32c5", "eco2-20250121", spi=_SPI_MODE_ONLY),
            app_ms=428,
            uart_sclk_hz=48_000_000,
            gpios=frozenset(range(29)),
            ota_slots=(0xA0000, 0x2C0000),
            boot_time=0.65,
        ),
        ChipProfile(
            key="esp32c6",
            name="ESP32-C6",
            target="ESP32C6",
            platform="PLATFORM_ESP32C6",
            default_module="ESP32C6-4MB",
            groups=_ALL_WIFI | _BLE,
            at_version="4.1.1.0",
            at_commit="32ff6e1",
            sdk_version="v5.4.4",
            build_date="Nov 18 2025 10:25:33",
            generation=4,
            generations=(3, 4),
            heap_total=400 * 1024,
            heap_free_at_boot=231_560,
            ble_stack="nimble",
            ble_power_range=(3, 15),
            gslp_min_ms=5,
            mac_oui=(0x40, 0x4C, 0xCA),
            partitions=_SMALL_PARTS,
            rom_banner=_rom("esp32c6", "20220919"),
            app_ms=771,
            gpios=frozenset(range(31)),
            boot_time=1.0,
        ),
        ChipProfile(
            key="esp32c61",
            name="ESP32-C61",
            target="ESP32C61",
            platform="PLATFORM_ESP32C61",
            default_module="ESP32C61-4MB",
            groups=_ALL_WIFI | _BLE,
            at_version="5.0.0.0",
            at_commit="f6b0e89",
            sdk_version="v5.5.1",
            build_date="Nov 18 2025 10:27:02",
            generation=5,
            generations=(5,),
            heap_total=300 * 1024,
            heap_free_at_boot=178_224,
            ble_stack="nimble",
            ble_power_range=(3, 15),
            mac_oui=(0x8C, 0xFD, 0x49),
            partitions=_C5_PARTS,
            rom_banner=_rom("esp32c61", "20250117", spi=_SPI_MODE_ONLY),
            app_ms=570,
            gpios=frozenset(range(25)),
            ota_slots=(0xA0000, 0x2C0000),
            boot_time=0.8,
        ),
        ChipProfile(
            key="esp32s2",
            name="ESP32-S2",
            target="ESP32S2",
            platform="PLATFORM_ESP32S2",
            default_module="MINI",
            groups=_ALL_WIFI,
            at_version="4.1.1.0",
            at_commit="32ff6e1",
            sdk_version="v5.4.4",
            build_date="Nov 18 2025 10:22:30",
            generation=4,
            generations=(3, 4),
            heap_total=320 * 1024,
            heap_free_at_boot=181_132,
            rfpower_ble=False,
            rfpower_wifi_cap=78,
            mac_oui=(0x7C, 0xDF, 0xA1),
            partitions=_BIG_PARTS,
            rom_banner=_rom("esp32s2", "rc4-20191025"),
            app_ms=363,
            uart_sclk_hz=80_000_000,
            gpios=frozenset(range(47)) - {22, 23, 24, 25},
            ota_slots=(0x100000, 0x280000),
            boot_time=0.6,
        ),
        ChipProfile(
            key="esp8266",
            name="ESP8266",
            target="ESP8266",
            platform="PLATFORM_ESP8266",
            default_module="WROOM-02",
            groups=frozenset({"base", "user", "wifi", "tcpip", "mdns", "wps", "smartconfig", "ping", "mqtt", "http"}),
            at_version="2.2.1.0",
            at_commit="ddf5a62",
            sdk_version="v3.4-rc1-34-g4bb0c1a6",
            build_date="Feb 24 2022 08:17:33",
            generation=2,
            generations=(1, 2),
            heap_total=80 * 1024,
            heap_free_at_boot=52_032,
            max_links=5,
            uart_max_baud=4_500_000,
            rfpower_ble=False,
            rfpower_wifi_cap=82,
            mac_oui=(0x5C, 0xCF, 0x7F),
            partitions=_parts(0xF9000, 28 * 1024, 0, 0)[:1],
            rom_banner=(" ets Jan  8 2013,rst cause:1, boot mode:(3,6)", ""),
            rfpower_range=(40, 82),
            rfpower_levels=(32, 48, 56, 64, 68, 74, 78, 82),
            uart_sclk_hz=80_000_000,
            uart_frac_div=False,
            gpios=frozenset(range(17)),
            ota_slots=(0x10000, 0x110000),
            boot_time=0.4,
        ),
    )
}

ALIASES = {
    "esp32-c2": "esp32c2",
    "esp32-c3": "esp32c3",
    "esp32-c5": "esp32c5",
    "esp32-c6": "esp32c6",
    "esp32-c61": "esp32c61",
    "esp32-s2": "esp32s2",
    "esp8684": "esp32c2",
}


def get_profile(name: str) -> ChipProfile:
    key = name.strip().lower().replace("_", "-")
    key = ALIASES.get(key, key).replace("-", "")
    try:
        return PROFILES[key]
    except KeyError:
        raise ConfigError(f"unknown chip {name!r}; choose one of {', '.join(PROFILES)}") from None
