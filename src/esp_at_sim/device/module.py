"""One emulated module: the device that owns an AT engine, NVS, heap and services.

Theory of operation
-------------------
``receive(data)`` is called with host bytes; it feeds the sans-IO engine and
writes what the engine answers at once (echo, ``busy p...``) to the output
scheduler. Parsed input (command lines, data after ``>``, passthrough bytes)
is dispatched: a command line is resolved in the registry and its handler runs
as a task of the current boot's :class:`TaskScope`; the handler's replies go
through :meth:`reply`, which renders them with the engine and queues the bytes.

A boot builds a fresh scope, RAM settings and service instances; ``reboot``
closes the scope (tasks cancelled, sockets closed), drops RAM state and boots
again, printing ``ready`` as the firmware does. Deep sleep is a reboot with a
pause. Everything time-related goes through the world's clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import os
import pkgutil
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar, cast, overload

from esp_at_sim.at.engine import AtEngine
from esp_at_sim.at.events import (
    BadLine,
    BusyRejected,
    CommandLine,
    DataReceived,
    EndPassthrough,
    Final,
    OutEvent,
    PassthroughData,
    PassthroughExit,
    Prompt,
    Result,
    Urc,
)
from esp_at_sim.at.registry import REGISTRY, Registry, Resolved
from esp_at_sim.at.state import EngineState
from esp_at_sim.device.boot import boot_log
from esp_at_sim.device.builds import FirmwareBuild, build_for, restrict_generation_1
from esp_at_sim.device.config import ModuleConfig
from esp_at_sim.device.context import CommandContext, PassthroughSink
from esp_at_sim.device.heap import Heap
from esp_at_sim.device.nvs import Nvs
from esp_at_sim.device.profiles import ChipProfile
from esp_at_sim.device.quirks import after_passthrough, configure_engine
from esp_at_sim.device.scheduler import OutputScheduler
from esp_at_sim.device.scope import TaskScope
from esp_at_sim.device.settings import Settings
from esp_at_sim.device.uart import default_config as default_uart_config
from esp_at_sim.errors import AtError, ExecFail, HeapExhausted, NoAtPrefix, NoTerminator
from esp_at_sim.world.world import World

log = logging.getLogger(__name__)
S = TypeVar("S")

BootHook = Callable[["Module"], Awaitable[None] | None]
MfgInit = Callable[["Module"], None]

#: Run at every boot, after "ready" (auto-connect, SAVETRANSLINK...).
BOOT_HOOKS: list[BootHook] = []
#: Run once when a module's manufacturing NVS is created (factory params, PKI...).
MFG_INITIALIZERS: list[MfgInit] = []


_OK = Final(Result.OK)  # frozen: one instance serves every command
#: engine states in which received data is held back (a command runs, or takes data)
_HOLDING = (EngineState.EXECUTING, EngineState.DATA)
#: how many distinct parameterless command lines a module remembers the resolution of
_RESOLVED_LINES = 64


def on_boot(fn: BootHook) -> BootHook:
    BOOT_HOOKS.append(fn)
    return fn


#: where an initializer runs among the others (lower first, then registration order):
#: the namespaces of mfg_nvs come out in that order whatever imports what first
MFG_ORDER: dict[MfgInit, int] = {}


@overload
def on_mfg_init(fn: MfgInit) -> MfgInit: ...


@overload
def on_mfg_init(fn: None = None, *, order: int = 100) -> Callable[[MfgInit], MfgInit]: ...


def on_mfg_init(fn: MfgInit | None = None, *, order: int = 100) -> MfgInit | Callable[[MfgInit], MfgInit]:
    """Register a filler of mfg_nvs: ``@on_mfg_init`` or ``@on_mfg_init(order=10)``."""

    def deco(f: MfgInit) -> MfgInit:
        MFG_INITIALIZERS.append(f)
        MFG_ORDER[f] = order
        return f

    return deco(fn) if fn is not None else deco


_commands_loaded = False


def load_commands() -> None:
    """Import every chapter module of ``esp_at_sim.commands`` (they declare into REGISTRY);
    the deferred ones are left to the registry, which imports them on first use."""
    global _commands_loaded
    if _commands_loaded:
        return
    import esp_at_sim.commands as pkg

    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
        name = f"{pkg.__name__}.{info.name}"
        if info.name in pkg.DEFERRED:
            REGISTRY.defer(name, os.path.join(pkg.__path__[0], f"{info.name}.py"))
        else:
            importlib.import_module(name)
    restrict_generation_1(REGISTRY)
    _commands_loaded = True


class Module:
    """An emulated ESP-AT module."""

    def __init__(
        self,
        config: ModuleConfig | None = None,
        *,
        world: World | None = None,
        registry: Registry | None = None,
    ) -> None:
        load_commands()
        self.config = config or ModuleConfig()
        self.profile: ChipProfile = self.config.profile
        self.world = world or World()
        self.registry = registry or REGISTRY
        self.name = self.config.name
        self.log = logging.getLogger(f"esp_at_sim.module.{self.name}")
        self.clock = self.world.clock
        self.output = OutputScheduler(self.config.uart_buffer)
        self.engine = AtEngine(powered=False)
        self.heap = Heap(self.profile.heap_total, self.profile.heap_free_at_boot)
        self.nvs = Nvs(self.config.nvs_path)
        self.factory = self.profile.factory(self.config.module_name)
        self.groups = self.config.groups
        self.generation = self.config.generation or self.profile.generation
        #: the firmware this module runs: what AT+GMR and the boot log say
        self.firmware: FirmwareBuild = build_for(self.profile, self.generation)
        self.quirks = self.config.quirks
        self.boot_count = 0
        self.boot_reason = "poweron"
        self.booted_at = 0.0
        self.powered = False
        self.log_lines: list[str] = []  # what the chip printed on its log port
        self.log_sink: Callable[[str], None] | None = None
        self.uart_baud = self.config.uart_baud or self.factory.uart_baudrate
        #: called with the new rate whenever the UART baud changes (AT+UART_CUR/DEF,
        #: a boot that restores the saved rate): the driver re-times the transport
        self.on_uart_change: list[Callable[[int], None]] = []
        self.scope = TaskScope(f"{self.name}#0")
        self.settings = Settings(self.nvs.user, True)
        self.vars: dict[str, Any] = {}  # per-boot RAM state of command chapters
        self._services: dict[type[Any], Any] = {}
        self._data_queue: asyncio.Queue[DataReceived] = asyncio.Queue()
        self._passthrough: PassthroughSink | None = None
        self._running: asyncio.Task[Any] | None = None
        self._resolved: dict[bytes, Resolved] = {}  # command lines without parameters
        self._power_task: asyncio.Task[Any] | None = None
        self._tick_handle: asyncio.TimerHandle | None = None
        self._ready = asyncio.Event()
        #: cleared while the module cannot take more host bytes (UART flow control): the
        #: driver stops reading the transport, so the host's writes block instead of being lost
        self.rx_ready = asyncio.Event()
        self.rx_ready.set()
        #: what the wire does to host bytes before the chip sees them (UART faults); None: nothing
        self.line_in: Callable[[bytes], bytes] | None = None
        self._listeners: list[Callable[[str, dict[str, Any]], None]] = []
        self._init_mfg()
        self.world.attach(self)

    # ------------------------------------------------------------ availability
    @property
    def chip(self) -> str:
        return self.profile.key

    def has_group(self, group: str) -> bool:
        return group in self.groups

    # ------------------------------------------------------------------ NVS
    def _init_mfg(self) -> None:
        if self.nvs.meta("mfg_initialized") == "1":
            return
        with self.nvs.transaction():
            for init in sorted(MFG_INITIALIZERS, key=lambda f: MFG_ORDER.get(f, 100)):
                init(self)
            self.nvs.set_meta("mfg_initialized", "1")

    # ------------------------------------------------------------- services
    def service(self, cls: type[S]) -> S:
        """The per-boot instance of a service class, made on first use."""
        svc = self._services.get(cls)
        if svc is None:
            make: Any = cls  # a service class takes the module as its only argument
            svc = make(self)
            self._services[cls] = svc
        return cast(S, svc)

    def has_service(self, cls: type[Any]) -> bool:
        return cls in self._services

    # ------------------------------------------------------------ lifecycle
    async def power_on(self, *, wait_ready: bool = False) -> None:
        """Start the module (as plugging in the board)."""
        if self._power_task is None or self._power_task.done():
            self._power_task = asyncio.get_running_loop().create_task(self._boot("poweron"), name=f"{self.name}-boot")
        if wait_ready:
            await self.wait_ready()

    async def wait_ready(self, timeout: float = 10.0) -> None:
        await asyncio.wait_for(self._ready.wait(), self.clock.real_seconds(timeout) + 1.0)

    def reboot(self, reason: str = "software", *, delay: float = 0.0) -> None:
        """Restart: drop RAM state, close sockets, print ``ready`` again."""
        self._go_down()
        self._power_task = asyncio.get_running_loop().create_task(
            self._boot(reason, delay=delay), name=f"{self.name}-reboot"
        )

    def deep_sleep(self, seconds: float | None) -> None:
        """Go silent; wake up with a boot after ``seconds`` (None: until reset)."""
        self._go_down()
        if seconds is None:
            return
        self._power_task = asyncio.get_running_loop().create_task(
            self._boot("deepsleep", delay=seconds), name=f"{self.name}-sleep"
        )

    def _go_down(self) -> None:
        self.powered = False
        self.rx_ready.set()
        self._ready.clear()
        self.engine.power_off()
        self.output.hold(False)
        self._passthrough = None
        if self._tick_handle is not None:
            self._tick_handle.cancel()
            self._tick_handle = None
        task = self._power_task
        if task is not None and not task.done() and task is not asyncio.current_task():
            task.cancel()

    async def _boot(self, reason: str, delay: float = 0.0) -> None:
        old = self.scope
        await old.close()
        self._services.clear()
        self.heap.reset()
        self.vars = {}
        self._drain_queue()
        if delay:
            await self.clock.sleep(delay)
        self.boot_reason = reason
        self.boot_count += 1
        self.scope = TaskScope(f"{self.name}#{self.boot_count}")
        self.settings = Settings(self.nvs.user, self._sysstore_default())
        # the saved AT+UART_DEF rate, else the scenario's, else mfg_nvs factory_param
        self.set_uart_baud(default_uart_config(self).baudrate)
        self.output.filter = None  # AT+SYSMSGFILTER is RAM state
        self.engine = AtEngine(powered=False, max_line=256)
        configure_engine(self)
        ready_after = self.config.ready_after
        elapsed = 0.0
        for at, line in boot_log(self.profile, reason, ready_after, self.firmware, self.factory, self.boot_count):
            if at > elapsed:
                await self.clock.sleep(at - elapsed)
                elapsed = at
            self.chip_log(line)
            if "boot_log_on_at_port" in self.quirks:
                self.output.write_now(line.encode() + b"\r\n", filtered=False)
        await self.clock.sleep(ready_after - elapsed)
        self.engine.power_on()
        self.powered = True
        self.booted_at = self.clock.now()
        self.output.hold(False)
        self.output.write_now(b"\r\nready\r\n")
        self._ready.set()
        self.notify("boot", reason=reason)
        for hook in BOOT_HOOKS:
            try:
                result = hook(self)
                if asyncio.iscoroutine(result):
                    self.scope.spawn(result, name=f"{self.name}-boot-hook")
            except Exception:
                self.log.exception("boot hook failed")

    def _sysstore_default(self) -> bool:
        stored = self.nvs.user.get("at.base", "sysstore")
        if stored is not None:
            return bool(stored)
        fp = self.nvs.mfg.get("factory_param", "sys_store", self.factory.sys_store)
        return bool(fp)

    async def stop(self) -> None:
        """Power off for good and release host resources."""
        self._go_down()
        if self._power_task is not None:
            self._power_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._power_task
        await self.scope.close()
        self._services.clear()
        self.world.detach(self)
        self.nvs.close()

    def set_uart_baud(self, baud: int) -> None:
        """Change the emulated UART rate and tell whoever drives the UART.

        Call it right before the command's final result is written (or from
        ``ctx.after``): the driver switches once that result has left at the
        old rate, as the firmware does."""
        if baud == self.uart_baud:
            return
        self.uart_baud = baud
        for fn in list(self.on_uart_change):
            try:
                fn(baud)
            except Exception:
                self.log.exception("UART change listener failed")

    @property
    def uptime(self) -> float:
        return self.clock.now() - self.booted_at if self.powered else 0.0

    def chip_log(self, line: str) -> None:
        """A line on the chip's log port (boot messages, ``at-wifi: ...``)."""
        self.log_lines.append(line)
        if len(self.log_lines) > 2000:
            del self.log_lines[:1000]
        if self.log_sink is not None:
            self.log_sink(line)
        self.log.debug("log port: %s", line)

    # ------------------------------------------------------------ events out
    def subscribe(self, fn: Callable[[str, dict[str, Any]], None]) -> Callable[[], None]:
        """Observe module events (boot, command, urc...) - for the control API."""
        self._listeners.append(fn)
        return lambda: self._listeners.remove(fn) if fn in self._listeners else None

    def notify(self, event: str, **fields: Any) -> None:
        for fn in list(self._listeners):
            try:
                fn(event, fields)
            except Exception:
                self.log.exception("listener failed")

    # ---------------------------------------------------------------- input
    def receive(self, data: bytes) -> None:
        """Bytes from the host, as the UART delivers them."""
        if self.line_in is not None:  # an impaired wire (UART faults)
            data = self.line_in(data)
        if not data:
            return
        now = self.clock.now()
        immediate = self.engine.receive_data(data, now)
        if immediate:
            self.output.write_now(immediate)
        self._dispatch()
        self._schedule_tick(now)

    def _schedule_tick(self, now: float) -> None:
        deadline = self.engine.next_deadline()
        if deadline is None:
            return
        if self._tick_handle is not None:
            self._tick_handle.cancel()
        loop = asyncio.get_running_loop()
        self._tick_handle = loop.call_later(self.clock.real_seconds(deadline - now) + 0.0005, self._on_tick)

    def _on_tick(self) -> None:
        self._tick_handle = None
        now = self.clock.now()
        self.engine.tick(now)
        self._dispatch()
        self._schedule_tick(now)

    def _dispatch(self) -> None:
        for ev in self.engine.events():
            if isinstance(ev, CommandLine):
                self._start_command(ev.line)
            elif isinstance(ev, BadLine):
                err: AtError = NoTerminator() if ev.reason != "no_at" else NoAtPrefix()
                self.reply(Final(Result.ERROR, err.code))
            elif isinstance(ev, DataReceived):
                self._data_queue.put_nowait(ev)
            elif isinstance(ev, PassthroughData):
                if self._passthrough is not None:
                    self._passthrough.on_data(ev.data)
            elif isinstance(ev, PassthroughExit):
                sink, self._passthrough = self._passthrough, None
                self.output.hold(False)
                if sink is not None:
                    sink.on_exit()
                after_passthrough(self)
                self.notify("passthrough_exit")
            elif isinstance(ev, BusyRejected):
                self.notify("busy", data=ev.data)
        self.output.hold(self.engine.state in _HOLDING)

    def _drain_queue(self) -> None:
        while not self._data_queue.empty():
            self._data_queue.get_nowait()

    async def next_data(self) -> DataReceived:
        return await self._data_queue.get()

    # ------------------------------------------------------------- commands
    def _start_command(self, line: bytes) -> None:
        if self._listeners:
            self.notify("command", line=line)
        resolved = self._resolved.get(line)
        if resolved is None:
            try:
                resolved = self.registry.resolve(line, self)
            except AtError as exc:
                self.reply(Final(Result.ERROR, exc.code, exc.message))
                return
            if not resolved.values and len(self._resolved) < _RESOLVED_LINES:
                # a line without parameters always resolves alike on this module
                # (its chip, generation and groups are fixed): polls skip the registry
                self._resolved[line] = resolved
        ctx = CommandContext(self, resolved.command, resolved.form)
        # eager: a handler that needs no waiting answers before the loop turns
        task = self._running = self.scope.start_eagerly(self._run(resolved, ctx))
        if task is not None:  # it waits: named for logs and debugging
            task.set_name(f"{self.name}:{line[:24]!r}")

    async def _run(self, resolved: Resolved, ctx: CommandContext) -> None:
        final: Final
        try:
            result = await resolved.handler(ctx, *resolved.values)
            final = result if isinstance(result, Final) else _OK
        except AtError as exc:
            final = Final(Result.ERROR, exc.code, exc.message)
        except HeapExhausted as exc:
            self.chip_log(str(exc))
            final = Final(Result.ERROR, ExecFail().code)
        except asyncio.CancelledError:
            raise
        except Exception:
            self.log.exception("command %s failed", resolved.command.display_name)
            final = Final(Result.ERROR, ExecFail().code)
        if self.powered:
            self.reply(final)
            ctx.run_after()

    @property
    def busy(self) -> bool:
        return self.engine.state in (EngineState.EXECUTING, EngineState.DATA)

    # ---------------------------------------------------------------- output
    def reply(self, event: OutEvent) -> None:
        """Write an event now (replies of the running command, status URCs)."""
        if not self.powered:
            return
        data = self.engine.send(event, self.clock.now())
        if isinstance(event, Urc):
            self.notify("urc", text=event.text, kind=event.kind)
        if data:
            self.output.write_now(data, filtered=not isinstance(event, Prompt))
        if isinstance(event, Final) and self._listeners:
            self.notify("final", result=event.result.value, code=event.error_code)
        self._dispatch()

    def urc(self, text: str, kind: str = "system") -> None:
        """A status message from a service (``WIFI DISCONNECT``, ``0,CLOSED``...)."""
        self.reply(Urc(text, kind))

    async def send_data(self, data: bytes, *, held: bool = True) -> None:
        """Received data for the host (``+IPD...``): held while a command runs,
        back-pressured when the host does not read."""
        if not self.powered:
            return
        await self.output.write_data(data, held=held)

    # ----------------------------------------------------------- passthrough
    def enter_passthrough(self, sink: PassthroughSink, *, prompt: bool) -> None:
        self._passthrough = sink
        if prompt:
            self.reply(Prompt(passthrough=True))
        else:
            self.engine.send(Prompt(passthrough=True, with_ok=False))
        self.output.hold(False)

    def leave_passthrough(self) -> None:
        if self.engine.state is EngineState.PASSTHROUGH:
            self._passthrough = None
            self.reply(EndPassthrough())

    @property
    def in_passthrough(self) -> bool:
        return self.engine.state is EngineState.PASSTHROUGH

    # --------------------------------------------------------- test helpers
    @classmethod
    @contextlib.asynccontextmanager
    async def start(
        cls,
        chip: str = "esp32c3",
        *,
        world: World | None = None,
        wait_ready: bool = True,
        **config: Any,
    ) -> AsyncIterator[Module]:
        """``async with Module.start(chip="esp32c3") as m:`` - a booted module
        with an in-memory UART at ``m.host`` (an :class:`AtHost`)."""
        from esp_at_sim.driver import serve
        from esp_at_sim.testing import AtHost
        from esp_at_sim.transports.memory import memory_pair

        module = cls(ModuleConfig(chip=chip, **config), world=world)
        module_end, host_end = memory_pair()
        server = asyncio.get_running_loop().create_task(serve(module, module_end))
        module.host = AtHost.over(host_end)
        try:
            await module.power_on(wait_ready=False)
            if wait_ready:
                await module.host.expect(b"\r\nready\r\n", timeout=10 + module.config.ready_after)
            yield module
        finally:
            server.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await server
            await module.stop()

    host: Any = None
