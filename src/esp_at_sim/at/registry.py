"""The command registry: commands are declared, not switched on.

Theory of operation
-------------------
Each chapter module in ``esp_at_sim.commands`` declares its commands::

    cwmode = command("+CWMODE", group="wifi", doc="Wi-Fi_AT_Commands.rst#cmd-MODE")

    @cwmode.query
    async def _(ctx): ctx.info("+CWMODE", ctx.module.wifi.mode)

    @cwmode.set(Int("mode", lo=0, hi=3), Int("auto_connect", 1, lo=0, hi=1))
    async def _(ctx, mode, auto_connect): ...

A handler is a coroutine taking the command context and the bound parameter
values. Returning ``None`` means ``OK``; returning a :class:`Final` chooses
another result; raising an ``AtError`` renders ``ERROR`` with its code.

:func:`parse_line` splits a command line into name, form and argument bytes;
:meth:`Registry.resolve` finds the command (respecting the module's chip
profile and firmware generation) and binds set parameters, raising the same
errors the firmware reports: unknown command 0x09, unsupported form 0x0C,
parameter errors 0x04-0x08.

Chapters whose imports are heavy (a Bluetooth stack, an MQTT client) may be
*deferred* (:meth:`Registry.defer`): they are imported the first time a
command whose name appears in their source is looked up, and all of them
before the registry is listed or iterated. Lookups and listings therefore see
the same commands as if every chapter had been imported at start-up; a
deferred chapter must declare nothing but commands (a test checks).
"""

from __future__ import annotations

import importlib
import re
import sys
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol

from esp_at_sim.at.params import Args, Param, TokenizeError, parse_args, tokenize
from esp_at_sim.errors import CmdOpError, NoAtPrefix, ParamParseFail, UnsupportedCmd


class Form(Enum):
    # members are singletons: hash by identity (Enum's own __hash__ runs Python code on every lookup)
    __hash__ = object.__hash__

    TEST = "=?"
    QUERY = "?"
    SET = "="
    EXECUTE = ""


Handler = Callable[..., Awaitable[Any]]


class Availability(Protocol):
    """What a module offers: feature groups and the firmware generation."""

    def has_group(self, group: str) -> bool: ...

    @property
    def generation(self) -> int: ...

    @property
    def chip(self) -> str: ...


@dataclass
class Command:
    """One AT command with up to four forms."""

    name: str  # "+CWMODE", "" for plain AT, "E0"/"E1" for ATE0/ATE1
    group: str = "base"
    doc: str = ""
    chips: frozenset[str] | None = None  # None: every chip that has the group
    generations: tuple[int, int] = (1, 99)  # firmware major versions that accept it
    handlers: dict[Form, Handler] = field(default_factory=dict)
    schema: Sequence[Param] | None = None  # for SET; None: handler gets Args
    variant: str | None = None  # "cur" / "def" for legacy aliases
    base: str | None = None  # for aliases, the current name
    # forms that only some chips have (``AT+RST=<mode>`` on C2/C3): form -> chip keys
    form_chips: dict[Form, frozenset[str]] = field(default_factory=dict)
    declared_in: str = ""  # the chapter module; orders AT+CMD? whatever was imported first

    # -- declaration helpers (used as decorators) --------------------------
    def test(self, fn: Handler) -> Handler:
        self.handlers[Form.TEST] = fn
        return fn

    def query(self, fn: Handler) -> Handler:
        self.handlers[Form.QUERY] = fn
        return fn

    def execute(self, fn: Handler) -> Handler:
        self.handlers[Form.EXECUTE] = fn
        return fn

    def set(self, *schema: Param, chips: Iterable[str] | None = None) -> Callable[[Handler], Handler]:
        """Declare the set form; with no schema the handler receives ``Args``.

        ``chips`` limits the form to those chips (the command itself may exist
        on more): elsewhere the form is answered like any missing form."""

        def deco(fn: Handler) -> Handler:
            self.handlers[Form.SET] = fn
            self.schema = list(schema) if schema else None
            if chips is not None:
                self.form_chips[Form.SET] = frozenset(chips)
            return fn

        return deco

    def supports(self, form: Form, where: Availability | None = None) -> bool:
        """Whether the command has ``form`` (on the chip of ``where``, if given)."""
        if form not in self.handlers:
            return False
        chips = self.form_chips.get(form)
        return chips is None or where is None or where.chip in chips

    def available(self, where: Availability) -> bool:
        if not where.has_group(self.group):
            return False
        if self.chips is not None and where.chip not in self.chips:
            return False
        lo, hi = self.generations
        return lo <= where.generation <= hi

    @property
    def display_name(self) -> str:
        return "AT" + self.name


@dataclass(frozen=True, slots=True)
class ParsedLine:
    name: str
    form: Form
    args: bytes


def parse_line(line: bytes) -> ParsedLine:
    """Split ``AT+NAME=...`` (without CR-LF) into name, form and arguments."""
    if not line.startswith(b"AT"):
        raise NoAtPrefix()
    rest = line[2:]
    if rest == b"":
        return ParsedLine("", Form.EXECUTE, b"")
    if rest[:1] == b"+":
        i = 1
    elif rest[:1].isalpha():
        i = 0  # a basic command without "+": ATE0, ATE1 (names "E0", "E1")
    else:
        raise UnsupportedCmd()
    start = i
    while i < len(rest) and (chr(rest[i]).isalnum() or rest[i] == 0x5F) and rest[i] < 0x80:
        i += 1
    name = rest[:i].decode("ascii")
    tail = rest[i:]
    if i - start < 1:
        raise UnsupportedCmd()
    if tail == b"":
        return ParsedLine(name, Form.EXECUTE, b"")
    if tail == b"?":
        return ParsedLine(name, Form.QUERY, b"")
    if tail == b"=?":
        return ParsedLine(name, Form.TEST, b"")
    if tail[:1] == b"=":
        return ParsedLine(name, Form.SET, tail[1:])
    raise UnsupportedCmd()


@dataclass(frozen=True, slots=True)
class Resolved:
    command: Command
    form: Form
    handler: Handler
    values: tuple[Any, ...]


class Registry:
    """All declared commands, in declaration order (the order of AT+CMD?)."""

    def __init__(self) -> None:
        self._commands: dict[str, Command] = {}
        # deferred chapters: module name -> path of its source (read only on a lookup miss)
        self._deferred: dict[str, str] = {}
        self._mentions: dict[str, list[str]] | None = None  # "+NAME" -> deferred modules naming it
        self._declare_hooks: list[Callable[[Command], None]] = []

    def on_declare(self, fn: Callable[[Command], None]) -> None:
        """Call ``fn`` on each command declared so far and on each one declared
        later (a deferred chapter's, when it is imported), importing nothing."""
        self._declare_hooks.append(fn)
        for cmd in list(self._commands.values()):
            fn(cmd)

    def _declared(self, cmd: Command) -> Command:
        self._commands[cmd.name] = cmd
        for fn in self._declare_hooks:
            fn(cmd)
        return cmd

    # -- deferred chapters --------------------------------------------------
    def defer(self, module: str, source: str) -> None:
        """Import chapter ``module`` (whose source file is ``source``) on first use."""
        if module not in sys.modules:
            self._deferred[module] = source
            self._mentions = None

    @property
    def deferred(self) -> list[str]:
        """The deferred chapters not imported yet."""
        return list(self._deferred)

    def load_deferred(self) -> None:
        """Import every deferred chapter, in name order (the order of a full start-up)."""
        while self._deferred:
            self._import(min(self._deferred))

    def _import(self, module: str) -> None:
        self._deferred.pop(module, None)
        importlib.import_module(module)

    def _lookup_deferred(self, name: str) -> Command | None:
        """A miss: import the deferred chapters whose source names ``name``."""
        if self._mentions is None:
            self._mentions = {}
            for module, path in self._deferred.items():
                with open(path, encoding="utf-8") as f:
                    for found in set(_QUOTED_NAME.findall(f.read())):
                        self._mentions.setdefault(found, []).append(module)
        for module in sorted(self._mentions.get(name, ())):
            if module in self._deferred:
                self._import(module)
        return self._commands.get(name)

    def command(
        self,
        name: str,
        *,
        group: str = "base",
        doc: str = "",
        chips: Iterable[str] | None = None,
        generations: tuple[int, int] = (1, 99),
    ) -> Command:
        if name in self._commands:
            raise ValueError(f"command {name} declared twice")
        cmd = Command(
            name,
            group=group,
            doc=doc,
            chips=frozenset(chips) if chips is not None else None,
            generations=generations,
            declared_in=_declaring_module(),
        )
        return self._declared(cmd)

    def alias(self, name: str, base: Command, *, variant: str | None, generations: tuple[int, int]) -> Command:
        """Declare an older firmware's name for ``base`` (``+CWMODE_CUR``...)."""
        cmd = Command(
            name,
            group=base.group,
            doc=base.doc,
            chips=base.chips,
            generations=generations,
            handlers=base.handlers,  # shared: forms declared later appear too
            variant=variant,
            base=base.name,
            form_chips=base.form_chips,
            declared_in=_declaring_module(),
        )
        return self._declared(cmd)

    def get(self, name: str) -> Command | None:
        cmd = self._commands.get(name)
        if cmd is None and self._deferred:
            cmd = self._lookup_deferred(name)
        return cmd

    def __iter__(self):  # type: ignore[no-untyped-def]
        self.load_deferred()
        return iter(self._commands.values())

    def __len__(self) -> int:
        self.load_deferred()
        return len(self._commands)

    def available(self, where: Availability) -> list[Command]:
        """The commands of a module, in listing order: chapter modules by name, then
        declaration order (what importing every chapter in name order gives)."""
        self.load_deferred()
        order = {c.name: i for i, c in enumerate(self._commands.values())}
        found = [c for c in self._commands.values() if c.available(where)]
        return sorted(found, key=lambda c: (c.declared_in, order[c.name]))

    def resolve(self, line: bytes, where: Availability) -> Resolved:
        parsed = parse_line(line)
        cmd = self._commands.get(parsed.name)
        if cmd is None and self._deferred:
            cmd = self._lookup_deferred(parsed.name)
        if cmd is None or not cmd.available(where):
            raise UnsupportedCmd()
        handler = cmd.handlers.get(parsed.form)
        if handler is None or not cmd.supports(parsed.form, where):
            raise CmdOpError()
        values: tuple[Any, ...] = ()
        if parsed.form is Form.SET:
            schema = cmd.schema
            if cmd.base is not None:  # an alias binds with its base command's schema
                base = self.get(cmd.base)
                schema = base.schema if base is not None else None
            if schema is not None:
                values = tuple(parse_args(schema, parsed.args))
            else:
                try:
                    values = (Args(tokenize(parsed.args)),)
                except TokenizeError as exc:
                    raise ParamParseFail(exc.index) from None
        return Resolved(cmd, parsed.form, handler, values)


# a command name as a deferred chapter's source spells it: command("+BLEINIT", ...)
_QUOTED_NAME = re.compile(r"""["'](\+[A-Z][A-Z0-9_]*)["']""")


def _declaring_module() -> str:
    """The module outside this file that declares a command (its ``__name__``)."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_globals.get("__name__") == __name__:
        frame = frame.f_back  # type: ignore[assignment]
    return str(frame.f_globals.get("__name__", "")) if frame is not None else ""


REGISTRY = Registry()
"""The registry every chapter module declares into."""


def command(
    name: str,
    *,
    group: str = "base",
    doc: str = "",
    chips: Iterable[str] | None = None,
    generations: tuple[int, int] = (1, 99),
) -> Command:
    """Declare a command in the global registry."""
    return REGISTRY.command(name, group=group, doc=doc, chips=chips, generations=generations)
