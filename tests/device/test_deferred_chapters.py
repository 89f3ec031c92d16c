"""Chapters imported on first use (``esp_at_sim.commands.DEFERRED``).

A module that never uses Bluetooth, MQTT or HTTP must not import their
libraries at start-up, and must still answer every command exactly as if all
chapters had been imported. Each check runs in a fresh interpreter: the test
process itself has long imported everything.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

HEAVY = ("bumble", "paho", "wsproto", "aiohttp")


def _run(script: str) -> dict[str, object]:
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr
    result: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def test_bluetooth_stack_loads_on_first_ble_command() -> None:
    out = _run(
        f"""
        import asyncio, json, sys
        from esp_at_sim import Module
        from esp_at_sim.world.clock import VirtualTimeLoop

        HEAVY = {HEAVY!r}

        def loaded():
            return sorted(name for name in HEAVY if name in sys.modules)

        async def main():
            out = {{}}
            async with Module.start("esp32c3") as m:
                out["boot"] = loaded()
                replies = [await m.host.command(c) for c in ("AT", "AT+GMR", "AT+CWMODE?", "AT+BLEFOO")]
                out["plain"] = [r.final.decode() for r in replies]
                out["after_at"] = loaded()
                out["bleinit"] = (await m.host.command("AT+BLEINIT=1")).raw.decode()
                out["bleinit_q"] = (await m.host.command("AT+BLEINIT?")).raw.decode()
                out["after_ble"] = loaded()
            print(json.dumps(out))

        with asyncio.Runner(loop_factory=VirtualTimeLoop) as runner:
            runner.run(main())
        """
    )
    assert out["boot"] == [] and out["after_at"] == []
    assert out["plain"] == ["OK", "OK", "OK", "ERROR"]
    assert out["bleinit"] == "AT+BLEINIT=1\r\n\r\nOK\r\n"
    assert out["bleinit_q"] == "AT+BLEINIT?\r\n+BLEINIT:1\r\n\r\nOK\r\n"
    assert out["after_ble"] == ["bumble"]


_LIST_COMMANDS = """
import asyncio, importlib, json, pkgutil, sys
import esp_at_sim.commands as pkg
from esp_at_sim import Module
from esp_at_sim.world.clock import VirtualTimeLoop

if sys.argv[1] == "eager":
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
        importlib.import_module(pkg.__name__ + "." + info.name)

async def main():
    out = {}
    for chip in ("esp32", "esp32c3", "esp8266"):
        async with Module.start(chip) as m:
            out[chip] = (await m.host.command("AT+CMD?")).raw.decode()
    print(json.dumps(out))

with asyncio.Runner(loop_factory=VirtualTimeLoop) as runner:
    runner.run(main())
"""


def test_command_listing_matches_a_full_import() -> None:
    """AT+CMD? with deferred chapters not yet imported lists what a start-up
    that imports every chapter lists, in the same order."""
    runs = {}
    for how in ("lazy", "eager"):
        proc = subprocess.run(
            [sys.executable, "-c", _LIST_COMMANDS, how], capture_output=True, text=True, timeout=120, check=False
        )
        assert proc.returncode == 0, proc.stderr
        runs[how] = json.loads(proc.stdout.strip().splitlines()[-1])
    assert runs["lazy"] == runs["eager"]
    assert "AT+BLEINIT" in runs["lazy"]["esp32"] and "AT+MQTTUSERCFG" in runs["lazy"]["esp32c3"]


def test_deferred_chapters_declare_only_commands() -> None:
    """Imported after the others, a deferred chapter adds commands and nothing
    else (boot hooks, NVS initializers, scenario tables, faults, snapshot and
    world sections, downloaders), changes no command declared before it, and
    names each of its commands literally in its source (what the registry
    reads to find it)."""
    out = _run(
        """
        import importlib, json, re, sys
        import esp_at_sim.commands as pkg
        from esp_at_sim.at.registry import REGISTRY, _QUOTED_NAME
        from esp_at_sim.device.module import load_commands

        load_commands()
        import esp_at_sim.world.faults, esp_at_sim.world.scenario, esp_at_sim.world.view
        import esp_at_sim.device.snapshot, esp_at_sim.services.firmware, esp_at_sim.device.module as dm

        def registries():
            regs = {
                "boot": list(dm.BOOT_HOOKS), "mfg": list(dm.MFG_INITIALIZERS),
                "faults": list(esp_at_sim.world.faults.FAULTS),
                "sections": list(esp_at_sim.world.scenario.SECTION_LOADERS),
                "module_keys": list(esp_at_sim.world.scenario.MODULE_KEY_LOADERS),
                "world": list(esp_at_sim.world.view.WORLD_SECTIONS),
                "snapshot": list(esp_at_sim.device.snapshot.SNAPSHOT_SECTIONS),
                "downloaders": list(esp_at_sim.services.firmware.DOWNLOADERS),
            }
            return {k: [getattr(v, "__qualname__", v) for v in vs] for k, vs in regs.items()}

        def commands():
            return {n: (sorted(f.value for f in c.handlers), id(c.schema)) for n, c in REGISTRY._commands.items()}

        problems = []
        base_regs = registries()
        for name in sorted(pkg.DEFERRED):
            module = pkg.__name__ + "." + name
            before = commands()
            source = open(pkg.__path__[0] + "/" + name + ".py", encoding="utf-8").read()
            importlib.import_module(module)
            if registries() != base_regs:
                problems.append(f"{name}: registers more than commands")
            after = commands()
            for cmd, shape in before.items():
                if after[cmd] != shape:
                    problems.append(f"{name}: changes {cmd}")
            mentioned = set(_QUOTED_NAME.findall(source))
            for cmd in REGISTRY._commands.values():
                if cmd.declared_in == module and cmd.name not in mentioned:
                    problems.append(f"{name}: {cmd.name} not spelled out in its source")
        print(json.dumps({"problems": problems}))
        """
    )
    assert out["problems"] == []
