"""Events exchanged between the AT engine and the module.

Input events come out of :meth:`AtEngine.events` after bytes were received;
output events go into :meth:`AtEngine.send` and come back as bytes. Only
``at/render.py`` knows how they look on the wire.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

# ---------------------------------------------------------------- input events


@dataclass(frozen=True, slots=True)
class CommandLine:
    """A complete command line as received, without its ``\\r\\n``."""

    line: bytes


@dataclass(frozen=True, slots=True)
class BadLine:
    """A line the engine rejected before dispatch (too long, no terminator...)."""

    line: bytes
    reason: str  # "too_long" | "no_terminator" | "no_at"


@dataclass(frozen=True, slots=True)
class DataReceived:
    """Bytes collected in counted data mode after a ``>`` prompt.

    ``complete`` is False when the data ended early (``\\0`` in CIPSENDEX mode)
    or was cut by a timeout.
    """

    data: bytes
    complete: bool = True
    cancelled: bool = False


@dataclass(frozen=True, slots=True)
class PassthroughData:
    """Bytes received in passthrough mode, to be forwarded as they are."""

    data: bytes


@dataclass(frozen=True, slots=True)
class PassthroughExit:
    """The host sent ``+++`` with the guard times: leave passthrough mode."""


@dataclass(frozen=True, slots=True)
class BusyRejected:
    """Bytes arrived while a command was running and were answered ``busy p...``."""

    data: bytes


@dataclass(frozen=True, slots=True)
class InputDropped:
    """Bytes the port ignored without a word (the engine's ``deaf_until``)."""

    data: bytes


InEvent = CommandLine | BadLine | DataReceived | PassthroughData | PassthroughExit | BusyRejected | InputDropped

# --------------------------------------------------------------- output events


class Result(Enum):
    OK = "OK"
    ERROR = "ERROR"
    SEND_OK = "SEND OK"
    SEND_FAIL = "SEND FAIL"
    SET_OK = "SET OK"
    SEND_CANCELED = "SEND Canceled"
    SEND_CANCELLED = "SEND CANCELLED"  # AT+CIPSENDL cut short by +++
    WRITE_OK = "WRITE OK"  # AT+USERRAM write
    FAIL = "FAIL"  # NONOS AT 1.x failures (AT+CWJAP_CUR...)
    NONE = ""  # the command ends without a result line of its own


@dataclass(frozen=True, slots=True)
class Final:
    """The result that ends a command. ``error_code`` is printed as ``ERR CODE``
    when AT+SYSLOG=1; ``message`` is an extra line some commands print first."""

    result: Result = Result.OK
    error_code: int | None = None
    message: str | None = None

    @property
    def ok(self) -> bool:
        return self.result not in (Result.ERROR, Result.FAIL)


@dataclass(frozen=True, slots=True)
class Info:
    """An information response line: ``+NAME:field,field``.

    Strings are rendered quoted; ``Raw`` values and ints as they are.
    """

    name: str
    fields: tuple[object, ...] = ()


@dataclass(frozen=True, slots=True)
class Raw:
    """Literal bytes: lines whose layout no Info can express, payload data."""

    data: bytes


@dataclass(frozen=True, slots=True)
class Urc:
    """An unsolicited message such as ``WIFI CONNECTED`` or ``0,CLOSED``.

    ``kind`` names the system-message class used by AT+SYSMSG and filters.
    """

    text: str
    kind: str = "system"
    leading_crlf: bool = False


@dataclass(frozen=True, slots=True)
class Prompt:
    """Switch to counted data mode (``>``) for ``length`` bytes.

    ``with_ok`` renders ``OK`` first (most commands: ``\\r\\nOK\\r\\n\\r\\n>``).
    ``zero_terminates`` enables the CIPSENDEX rule: the literal ``\\0`` ends
    the data early. ``stream`` delivers the data as it arrives (AT+CIPSENDL).
    ``passthrough`` switches to passthrough mode instead.
    """

    length: int = 0
    with_ok: bool = True
    zero_terminates: bool = False
    passthrough: bool = False
    stream: bool = False
    timeout: float | None = None


@dataclass(frozen=True, slots=True)
class EndPassthrough:
    """Leave passthrough mode without the host's ``+++`` (link lost...)."""


@dataclass(frozen=True, slots=True)
class Banner:
    """Boot output (``ready``) and other text not tied to a command."""

    text: bytes = field(default=b"\r\nready\r\n")


OutEvent = Final | Info | Raw | Urc | Prompt | EndPassthrough | Banner
