"""How the Wi-Fi and BLE benchmarks hand over their figures: ``(name, value, unit)``
rows measured on the loop the caller picks - the virtual-time loop by default, so
modelled air time costs nothing and the CPU spent is what shows - and printed one
per line when a module is run on its own."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

Figures = list[tuple[str, float, str]]


def measure_on(
    loop_factory: Callable[[], asyncio.AbstractEventLoop], measure: Callable[[], Coroutine[Any, Any, Figures]]
) -> Figures:
    loop = loop_factory()
    try:
        return loop.run_until_complete(measure())
    finally:
        loop.close()


def print_figures(area: str, figures: Figures, name_width: int = 44) -> None:
    for name, value, unit in figures:
        print(f"{area}: {name:{name_width}s} {value:10.3f} {unit}")
