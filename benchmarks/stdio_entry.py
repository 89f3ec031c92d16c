"""The smallest program that boots a module on stdin/stdout (for the cold-start figure).

``python -m benchmarks.stdio_entry STATE_DIR`` - one ESP32-C3 with an emulated
boot time of 0, served by the same driver and stdio transport as
``esp-at-sim --stdio``, without the command-line layer.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from esp_at_sim.device.config import ModuleConfig
from esp_at_sim.device.module import Module
from esp_at_sim.driver import serve
from esp_at_sim.transports.stdio import StdioTransport


async def main(state_dir: Path) -> None:
    module = Module(ModuleConfig(boot_time=0, state_dir=state_dir))
    transport = StdioTransport()
    await transport.open()
    pump = asyncio.ensure_future(serve(module, transport))
    await module.power_on()
    try:
        await pump
    finally:
        await module.stop()
        await transport.close()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1])))
