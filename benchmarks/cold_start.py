"""(b) Cold start: a new process until the module has printed ``ready``.

Measured with the module's emulated boot time set to 0 (``boot_time = 0`` in
the scenario): the figure is what the program costs, not the seconds a real
chip spends in its bootloader (0.4-1.0 s, emulated by default). Two programs:
``esp-at-sim --stdio`` (the command line, as ``python -m esp_at_sim``) and
:mod:`benchmarks.stdio_entry` (the same module, driver and stdio transport
without the command-line layer). The reference is ``python -c 'import
asyncio'`` run to its end. Every program runs once to warm the file cache and
write its bytecode, then the runs alternate and the median counts.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.stats import Figure, median

READY = b"\r\nready\r\n"


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # a user's second run has bytecode
    return env


def time_to_ready(argv: list[str], timeout: float = 60.0) -> float:
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=_env())
    assert proc.stdout is not None and proc.stdin is not None
    out = b""
    try:
        while READY not in out:
            remaining = timeout - (time.perf_counter() - start)
            ready, _, _ = select.select([proc.stdout], [], [], max(0.0, remaining))
            if not ready:
                raise TimeoutError(f"{argv}: no ready; got {out!r}")
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:
                raise RuntimeError(f"{argv}: exited before ready; got {out!r}")
            out += chunk
        took = time.perf_counter() - start
    finally:
        proc.stdin.close()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()
    return took


def time_to_exit(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, env=_env(), stdin=subprocess.DEVNULL)
    return time.perf_counter() - start


def measure(runs: int = 7) -> dict[str, list[float]]:
    with tempfile.TemporaryDirectory() as tmp:
        scenario = Path(tmp) / "boot0.toml"
        scenario.write_text('[[module]]\nname = "esp0"\nchip = "esp32c3"\nboot_time = 0\n')
        state = str(Path(tmp) / "state")
        programs = {
            "cli": lambda: time_to_ready(
                [sys.executable, "-m", "esp_at_sim", "--stdio", "--scenario", str(scenario), "--state-dir", state]
            ),
            "entry": lambda: time_to_ready([sys.executable, "-m", "benchmarks.stdio_entry", state]),
            "asyncio": lambda: time_to_exit([sys.executable, "-c", "import asyncio"]),
        }
        for run in programs.values():
            run()  # warm-up: file cache, bytecode
        samples: dict[str, list[float]] = {name: [] for name in programs}
        for _ in range(runs):
            for name, run in programs.items():
                samples[name].append(run())
    return samples


def figures(quick: bool = False) -> list[Figure]:
    samples = measure(runs=3 if quick else 7)
    ref = median(samples["asyncio"])
    out = []
    labels = {"entry": "cold start to ready (module on stdio)", "cli": "cold start to ready (esp-at-sim CLI)"}
    for key, label in labels.items():
        value = median(samples[key])
        out.append(
            Figure(
                label,
                value,
                ref,
                "s",
                "python -c 'import asyncio'",
                "<= 2x and < 0.5 s",
                value <= 2 * ref and value < 0.5,
                ["emulated boot_time = 0"],
            )
        )
    return out


def run(quick: bool = False) -> list[tuple[str, float, str]]:
    """For ``python -m benchmarks``."""
    return [f.as_tuple() for f in figures(quick)]


_CHAPTER_TIMES = """
import importlib, json, pkgutil, time
t0 = time.perf_counter()
import esp_at_sim.device.module
import esp_at_sim.commands as pkg
out = [("core (esp_at_sim.device.module)", time.perf_counter() - t0)]
for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
    t = time.perf_counter()
    importlib.import_module(pkg.__name__ + "." + info.name)
    out.append((info.name, time.perf_counter() - t))
print(json.dumps(out))
"""


def import_costs(top: int = 8) -> list[tuple[str, float]]:
    """Seconds each command chapter costs to import, in a fresh process, in name
    order (a library shared by several chapters is paid for by the first): where
    a cold start goes. Chapters in ``esp_at_sim.commands.DEFERRED`` are not
    imported at start-up but on first use."""
    import json

    proc = subprocess.run(
        [sys.executable, "-c", _CHAPTER_TIMES], capture_output=True, text=True, env=_env(), check=True
    )
    costs = [(str(name), float(sec)) for name, sec in json.loads(proc.stdout)]
    return sorted(costs, key=lambda c: -c[1])[:top]


if __name__ == "__main__":
    for line in figures():
        print(line.line())
    print("import cost of the command chapters (cumulative, includes their libraries):")
    from esp_at_sim.commands import DEFERRED

    for name, seconds in import_costs():
        note = "  (imported on first use)" if name in DEFERRED else ""
        print(f"  {name:<40} {seconds * 1e3:7.1f} ms{note}")
