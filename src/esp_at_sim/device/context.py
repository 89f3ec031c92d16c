"""What a command handler sees while it runs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any, Protocol

from esp_at_sim.at.events import DataReceived, Final, Info, Prompt, Raw, Result, Urc
from esp_at_sim.at.registry import Command, Form

if TYPE_CHECKING:
    from esp_at_sim.device.module import Module


class PassthroughSink(Protocol):
    """Receives the host's bytes in passthrough mode."""

    def on_data(self, data: bytes) -> None: ...

    def on_exit(self) -> None: ...


NO_RESULT = Final(Result.NONE)


class CommandContext:
    def __init__(self, module: Module, command: Command, form: Form) -> None:
        self.module = module
        self.command = command
        self.form = form
        self._after: list[Callable[[], Any]] = []

    # ------------------------------------------------------------ properties
    @property
    def variant(self) -> str | None:
        """``"cur"`` or ``"def"`` for the legacy ``_CUR``/``_DEF`` names."""
        return self.command.variant

    @property
    def persist(self) -> bool:
        """Whether this set command saves to flash (SYSSTORE, or ``_DEF``)."""
        if self.command.variant == "def":
            return True
        if self.command.variant == "cur":
            return False
        return self.module.settings.sysstore

    # ---------------------------------------------------------------- output
    def info(self, name: str, *fields: object) -> None:
        self.module.reply(Info(name, fields))

    def line(self, text: str | bytes) -> None:
        data = text.encode("utf-8", "surrogateescape") if isinstance(text, str) else text
        self.module.reply(Raw(data + b"\r\n"))

    def raw(self, data: bytes) -> None:
        self.module.reply(Raw(data))

    def urc(self, text: str, kind: str = "system") -> None:
        self.module.reply(Urc(text, kind))

    # ------------------------------------------------------------- data mode
    async def prompt(self, length: int, *, zero_terminates: bool = False, with_ok: bool = True) -> DataReceived:
        """Print ``>`` and wait for exactly ``length`` bytes (or ``\\0``, ``+++``)."""
        self.module.reply(Prompt(length, with_ok=with_ok, zero_terminates=zero_terminates))
        return await self.module.next_data()

    async def stream(self, length: int, *, with_ok: bool = True) -> AsyncIterator[DataReceived]:
        """Print ``>`` and yield the data as it arrives (AT+CIPSENDL); the last
        event has ``complete`` or ``cancelled`` set."""
        self.module.reply(Prompt(length, with_ok=with_ok, stream=True))
        while True:
            ev = await self.module.next_data()
            yield ev
            if ev.complete or ev.cancelled:
                return

    def passthrough(self, sink: PassthroughSink) -> Final:
        """Print ``OK`` and ``>`` and hand the UART to ``sink`` until ``+++``."""
        self.module.enter_passthrough(sink, prompt=True)
        return NO_RESULT

    def after(self, fn: Callable[[], Any]) -> None:
        """Run ``fn`` once the final result has been written (reboots...)."""
        self._after.append(fn)

    def run_after(self) -> None:
        for fn in self._after:
            fn()
        self._after.clear()
