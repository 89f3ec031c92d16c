"""Firmware builds: what a module of one chip and firmware generation says about itself.

Theory of operation
-------------------
ESP-AT has had five major versions, called generations here: the ESP8266 NONOS
AT 1.x (generation 1) and ESP-AT 2.x to 5.x on ESP-IDF. Each chip got some of
them only; :attr:`ChipProfile.generations` lists them and :func:`build_for`
refuses any other pair with a :class:`ConfigError`. For each pair a
:class:`FirmwareBuild` holds one released build's identity: the AT core
version and its commit, the SDK, the project's compile stamp and the
``Bin version``. AT+GMR prints it (:meth:`FirmwareBuild.gmr_lines`) and the
boot log shows the matching bootloader and start-up lines
(:func:`app_start_lines`).

The chip's default generation is described by its profile (``at_version``,
``at_commit``...), the others by :data:`OLDER_BUILDS`, taken from the AT+GMR
outputs of released firmware in Espressif's documentation and in the field.

A command that ESP-AT 2.0 introduced does not exist on generation 1:
:func:`restrict_generation_1` narrows every command outside the NONOS AT 1.7
instruction set (:data:`NONOS_AT_COMMANDS`) to generation 2 and later, once
every chapter has declared its commands.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from esp_at_sim.errors import ConfigError

if TYPE_CHECKING:
    from esp_at_sim.at.registry import Command, Registry
    from esp_at_sim.device.profiles import ChipProfile, FactoryParams


@dataclass(frozen=True)
class FirmwareBuild:
    generation: int
    at_version: str  # "2.2.0.0"
    at_commit: str  # the AT core's commit ("s-" prefix: silence mode); NONOS: ""
    at_date: str  # when the AT core library was built
    sdk_version: str  # ESP-IDF (or NONOS SDK) version string
    compile_commit: str  # the esp-at project's commit, in "compile time(...)"
    compile_date: str
    bin_version: str  # "2.2.0", "v3.2.0.0": the app's project version

    @property
    def nonos(self) -> bool:
        return self.generation == 1

    def gmr_lines(self, target: str, module_name: str, bin_version: str | None = None) -> list[str]:
        """The lines AT+GMR prints before OK; ``bin_version`` overrides the
        build's own (an app that came by OTA)."""
        bin_v = bin_version or self.bin_version
        if self.nonos:
            # the NONOS AT library hard-codes the module in the last line
            return [
                f"AT version:{self.at_version}({self.at_date})",
                f"SDK version:{self.sdk_version}",
                f"compile time:{self.compile_date}",
                f"Bin version(Wroom 02):{bin_v}",
            ]
        return [
            f"AT version:{self.at_version}({self.at_commit} - {target} - {self.at_date})",
            f"SDK version:{self.sdk_version}",
            f"compile time({self.compile_commit}):{self.compile_date}",
            f"Bin version:{bin_v}({module_name})",
        ]


#: released builds of the generations that are not a chip's default one
OLDER_BUILDS: dict[tuple[str, int], FirmwareBuild] = {
    # ESP8266_NONOS_SDK v3.0.5, the last NONOS AT (bin/at in the SDK)
    ("esp8266", 1): FirmwareBuild(
        1, "1.7.5.0", "", "Oct 20 2021 19:14:04", "3.0.5(b29dcd3)", "", "Oct 20 2021 20:13:50", "1.7.5"
    ),
    ("esp32", 2): FirmwareBuild(
        2,
        "2.2.0.0",
        "c6fa6bf",
        "Jul  2 2021 06:44:05",
        "v4.2.2-76-gefa6eca",
        "3a696ba",
        "Jul  2 2021 11:54:43",
        "2.2.0",
    ),
    ("esp32", 3): FirmwareBuild(
        3,
        "3.2.0.0",
        "s-ec2dec2",
        "Jul 28 2023 07:05:28",
        "v5.0.2-376-g24b9d38a24-dirty",
        "6118fc22",
        "Jul 28 2023 09:47:28",
        "v3.2.0.0",
    ),
    ("esp32c2", 3): FirmwareBuild(
        3, "3.3.0.0", "3b13d04", "May  8 2024 08:21:45", "v5.0.6-dirty", "be332568", "May  8 2024 08:50:59", "v3.3.0.0"
    ),
    ("esp32c3", 2): FirmwareBuild(
        2,
        "2.4.0.0",
        "4c6eb5e",
        "May 20 2022 03:11:59",
        "qa-test-v4.3.3-20220423",
        "5641e0a",
        "May 20 2022 11:13:44",
        "2.4.0",
    ),
    ("esp32c3", 3): FirmwareBuild(
        3, "3.3.0.0", "3b13d04", "May  8 2024 08:21:54", "v5.0.6-dirty", "be332568", "May  8 2024 08:51:33", "v3.3.0.0"
    ),
    # No 3.x binary was released for the ESP32-C6, but the 3.2/3.3 sources build
    # for it (module_esp32c6_default): the 3.3.0.0 core of its siblings, built
    # from that project (the compile stamp is this build's own).
    ("esp32c6", 3): FirmwareBuild(
        3, "3.3.0.0", "3b13d04", "May  8 2024 08:22:03", "v5.0.6-dirty", "be332568", "May  8 2024 08:52:10", "v3.3.0.0"
    ),
    # the documentation's ESP32-S2 sample is a 3.4.0.0 pre-release; the release
    # prints the same lines without "-dev"
    ("esp32s2", 3): FirmwareBuild(
        3, "3.4.0.0", "ca45add", "May  9 2024 08:00:07", "v5.0.6-dirty", "877c7e69", "May 10 2024 06:47:54", "v3.4.0.0"
    ),
}


def default_build(profile: ChipProfile) -> FirmwareBuild:
    """The build of the chip's default generation, as its profile describes it."""
    return FirmwareBuild(
        profile.generation,
        profile.at_version,
        profile.at_commit,
        profile.build_date,
        profile.sdk_version,
        profile.at_commit.removeprefix("s-"),
        profile.build_date,
        # 2.x named the app "2.2.1", 3.x and later "v3.2.0.0"
        f"v{profile.at_version}" if profile.generation >= 3 else profile.at_version.rsplit(".", 1)[0],
    )


def check_generation(profile: ChipProfile, generation: int) -> None:
    """Raise ConfigError unless some released ESP-AT for the chip is of ``generation``."""
    # Two old lines are not modelled and count as missing: ESP32 AT 1.x (an
    # instruction set of its own, without the NONOS _CUR/_DEF names) and the
    # ESP32-S2's 2.1 preview.
    if generation not in profile.generations:
        known = ", ".join(str(g) for g in profile.generations)
        raise ConfigError(
            f"no ESP-AT firmware of generation {generation} for the {profile.name}; "
            f"generations {known} are emulated (default {profile.generation})"
        )


def build_for(profile: ChipProfile, generation: int | None = None) -> FirmwareBuild:
    """The firmware a module of ``profile`` runs at ``generation`` (None: the default)."""
    gen = profile.generation if generation is None else generation
    check_generation(profile, gen)
    if gen == profile.generation:
        return default_build(profile)
    return OLDER_BUILDS[(profile.key, gen)]


# ------------------------------------------------------------------ boot lines


def app_start_lines(profile: ChipProfile, build: FirmwareBuild, factory: FactoryParams, app_ms: int) -> tuple[str, ...]:
    """What the second-stage bootloader and ESP-AT print after the ROM, stamped in
    ms since reset: IDF bootloaders log ``I (<ms>) ...``; AT 4.x and later log
    their start-up with tags, older ones print bare lines (Downloading_guide.rst)."""
    if profile.key == "esp8266":
        return _esp8266_lines(build)
    port = (
        f"AT cmd port:uart{factory.uart_port} tx:{factory.uart_tx_pin} rx:{factory.uart_rx_pin} "
        f"cts:{factory.uart_cts_pin} rts:{factory.uart_rts_pin} baudrate:{factory.uart_baudrate}"
    )
    head = (
        f"I (30) boot: ESP-IDF {build.sdk_version} 2nd stage bootloader",
        "I (31) boot: chip revision: v0.4",
        f"I ({app_ms}) boot: Loaded app from partition at offset 0x{profile.ota_slots[0]:x}",
    )
    if build.generation >= 4:
        t = app_ms + 70
        return (
            *head,
            f"I ({app_ms + 30}) cpu_start: Pro cpu start user code",
            f"I ({t}) at-init: at param mode: 1",
            f"I ({t + 1}) at-uart: {port}",
            f"I ({t + 2}) at-init: module_name: {factory.module_name}",
            f"I ({t + 3}) at-init: max tx power={factory.max_tx_power}, ret=0",
            # the app's version and where the binary was built: Espressif's CI for a release
            f"I ({t + 4}) at-init: {build.bin_version} (gitlab)",
        )
    return (
        *head,
        "at param mode: 1",
        port,
        f"module_name: {factory.module_name}",
        f"max tx power={factory.max_tx_power}, ret=0",
        build.bin_version,
    )


def _esp8266_lines(build: FirmwareBuild) -> tuple[str, ...]:
    if build.nonos:
        # the NONOS boot loader (boot_v1.7) picks user1; the SDK prints its stamp
        return (
            "load 0x40100000, len 2592, room 16 ",
            "tail 0",
            "chksum 0xf3",
            "load 0x3ffe8000, len 764, room 8 ",
            "tail 4",
            "chksum 0x92",
            "load 0x3ffe8310, len 2096, room 4 ",
            "tail 12",
            "chksum 0x3f",
            "csum 0x3f",
            "",
            "2nd boot version : 1.7(5d6f877)",
            "  SPI Speed      : 40MHz",
            "  SPI Mode       : QIO",
            "  SPI Flash Size & Map: 8Mbit(512KB+512KB)",
            "jump to run user1 @ 1000",
            "",
            f"SDK ver: {build.sdk_version} compiled @ {build.compile_date}",
            "phy ver: 1156_0, pp ver: 10.2",
        )
    # ESP8266_RTOS_SDK's IDF-style bootloader
    return (
        "load 0x40100000, len 7288, room 16 ",
        "tail 8",
        "chksum 0xe5",
        "load 0x3ffe8408, len 24, room 0 ",
        "tail 8",
        "chksum 0x6b",
        "load 0x3ffe8420, len 3328, room 0 ",
        "tail 0",
        "chksum 0x8b",
        "csum 0x8b",
        f"I (42) boot: ESP-IDF {build.sdk_version} 2nd stage bootloader",
        "I (95) boot: Loaded app from partition at offset 0x10000",
    )


# --------------------------------------------------------- the 1.x command set

#: The commands of the ESP8266 NONOS AT 1.7 instruction set that the emulator
#: models (registry names). Everything else came with ESP-AT 2.0 or later.
NONOS_AT_COMMANDS = frozenset(
    {
        # basic
        "",
        "E0",
        "E1",
        "+RST",
        "+GMR",
        "+GSLP",
        "+RESTORE",
        "+UART",
        "+UART_CUR",
        "+UART_DEF",
        "+CIOBAUD",
        "+SLEEP",
        "+RFPOWER",
        "+SYSRAM",
        "+SYSMSG_CUR",
        "+SYSMSG_DEF",
        # Wi-Fi: the plain names are the deprecated forms that 1.x still accepted
        "+CWMODE",
        "+CWMODE_CUR",
        "+CWMODE_DEF",
        "+CWJAP",
        "+CWJAP_CUR",
        "+CWJAP_DEF",
        "+CWLAPOPT",
        "+CWLAP",
        "+CWQAP",
        "+CWSAP",
        "+CWSAP_CUR",
        "+CWSAP_DEF",
        "+CWLIF",
        "+CWDHCP",
        "+CWDHCP_CUR",
        "+CWDHCP_DEF",
        "+CWDHCPS_CUR",
        "+CWDHCPS_DEF",
        "+CWAUTOCONN",
        "+CIPSTAMAC",
        "+CIPSTAMAC_CUR",
        "+CIPSTAMAC_DEF",
        "+CIPAPMAC",
        "+CIPAPMAC_CUR",
        "+CIPAPMAC_DEF",
        "+CIPSTA",
        "+CIPSTA_CUR",
        "+CIPSTA_DEF",
        "+CIPAP",
        "+CIPAP_CUR",
        "+CIPAP_DEF",
        "+CWSTARTSMART",
        "+CWSTOPSMART",
        "+WPS",
        "+MDNS",
        "+CWHOSTNAME",
        "+CWCOUNTRY_CUR",
        "+CWCOUNTRY_DEF",
        # TCP/IP
        "+CIPSTATUS",
        "+CIPDOMAIN",
        "+CIPSTART",
        "+CIPSEND",
        "+CIPSENDEX",
        "+CIPCLOSE",
        "+CIFSR",
        "+CIPMUX",
        "+CIPSERVER",
        "+CIPSERVERMAXCONN",
        "+CIPMODE",
        "+SAVETRANSLINK",
        "+CIPSTO",
        "+PING",
        "+CIUPDATE",
        "+CIPDINFO",
        "+CIPRECVMODE",
        "+CIPRECVDATA",
        "+CIPRECVLEN",
        "+CIPSNTPCFG",
        "+CIPSNTPTIME",
    }
)


def restrict_generation_1(registry: Registry) -> None:
    """Make every command that NONOS AT 1.x lacks start at generation 2 (a name
    declared for 1.x only, such as a ``_CUR`` alias, stays as declared). Applies
    to the chapters the registry imports later as well."""
    registry.on_declare(_restrict)


def _restrict(cmd: Command) -> None:
    lo, hi = cmd.generations
    if lo <= 1 < hi and cmd.name not in NONOS_AT_COMMANDS:
        cmd.generations = (2, hi)
