"""Firmware generations: which a chip had, what each says about itself, which commands it knows."""

from __future__ import annotations

import pytest

from esp_at_sim import Module
from esp_at_sim.device.builds import NONOS_AT_COMMANDS, OLDER_BUILDS, build_for
from esp_at_sim.device.config import ModuleConfig
from esp_at_sim.device.profiles import PROFILES
from esp_at_sim.errors import ConfigError
from esp_at_sim.world.scenario import parse_scenario


@pytest.mark.parametrize(
    ("chip", "generation"), [("esp8266", 3), ("esp8266", 4), ("esp32c5", 4), ("esp32c3", 1), ("esp32", 5)]
)
def test_a_generation_the_chip_never_had_is_a_config_error(chip: str, generation: int) -> None:
    with pytest.raises(ConfigError, match=f"generation {generation}"):
        ModuleConfig(chip=chip, generation=generation)


def test_the_scenario_refuses_it_too() -> None:
    with pytest.raises(ConfigError, match="generation 1"):
        parse_scenario({"module": [{"name": "esp0", "chip": "esp32c6", "generation": 1}]})
    with pytest.raises(ConfigError, match="generation must be"):
        parse_scenario({"module": [{"name": "esp0", "chip": "esp32c6", "generation": "4"}]})


def test_every_generation_of_every_chip_has_a_build() -> None:
    for profile in PROFILES.values():
        assert profile.generation in profile.generations
        for gen in profile.generations:
            build = build_for(profile, gen)
            assert build.generation == gen
            assert build.at_version.startswith(f"{gen}.")
    assert all(key[0] in PROFILES for key in OLDER_BUILDS)


async def test_generation_1_knows_only_the_nonos_instruction_set() -> None:
    async with Module.start("esp8266", generation=1, boot_time=0) as m:
        await m.host.command("ATE0")
        for line in ("AT+SYSLOG?", "AT+SYSSTORE?", "AT+CIPSENDL=?", "AT+MQTTUSERCFG?", "AT+CWJEAP_CUR?", "AT+SYSMSG?"):
            assert (await m.host.command(line)).raw == b"\r\nERROR\r\n", line
        for line in ("AT+CWMODE_DEF?", "AT+CIPSNTPCFG?", "AT+CIPRECVMODE?", "AT+UART_CUR?", "AT+SYSMSG_CUR?"):
            assert (await m.host.command(line)).ok, line
    async with Module.start("esp8266", boot_time=0) as m:
        await m.host.command("ATE0")
        assert (await m.host.command("AT+SYSLOG?")).ok
        assert (await m.host.command("AT+SYSMSG_CUR?")).raw == b"\r\nERROR\r\n"


def test_the_nonos_list_names_only_declared_commands() -> None:
    from esp_at_sim.at.registry import REGISTRY
    from esp_at_sim.device.module import load_commands

    load_commands()
    names = {cmd.name for cmd in REGISTRY}
    assert names >= NONOS_AT_COMMANDS, sorted(NONOS_AT_COMMANDS - names)
