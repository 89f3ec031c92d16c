"""Signaling test AT commands (Signaling_Test_AT_Commands.rst): AT+FACTPLCP.

The PLCP preamble choice only changes what the radio puts on the air; the
emulated air does not model preambles, so the setting is kept (RAM, per boot)
and reported to observers.
"""

from __future__ import annotations

from esp_at_sim.at.params import Int
from esp_at_sim.at.registry import command
from esp_at_sim.device.context import CommandContext

factplcp = command("+FACTPLCP", group="wifi", doc="Signaling_Test_AT_Commands.rst#cmd-FACTPLCP")


@factplcp.set(Int("enable", lo=0, hi=1), Int("tx_with_long", lo=0, hi=1))
async def _factplcp(ctx: CommandContext, enable: int, tx_with_long: int) -> None:
    # disabled manual configuration means the default: short PLCP
    ctx.module.vars["factplcp"] = (enable, tx_with_long if enable else 0)
    ctx.module.notify("factplcp", enable=enable, long_plcp=bool(enable and tx_with_long))
