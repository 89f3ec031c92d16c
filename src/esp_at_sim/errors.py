"""The exception tree of esp-at-sim.

::

    EspAtSimError
    ├── ConfigError              a scenario, profile or option is invalid
    ├── TransportError           a UART transport cannot be opened or used
    ├── HeapExhausted            the emulated heap cannot satisfy an allocation
    └── AtError                  a command fails; rendered as ERROR (+ ERR CODE)
        ├── NoTerminator         0x02
        ├── NoAtPrefix           0x03
        ├── ParamLength          0x04  (parameter index)
        ├── ParamTypeMismatch    0x05  (parameter index)
        ├── ParamCount           0x06  (expected << 8 | given)
        ├── ParamInvalid         0x07  (parameter index)
        ├── ParamParseFail       0x08  (parameter index)
        ├── UnsupportedCmd       0x09
        ├── ExecFail             0x0A  (handler-specific result)
        ├── CmdProcessing        0x0B
        └── CmdOpError           0x0C

``AtError`` mirrors the error-code table of ``AT+SYSLOG``: the code is
``0x01 << 24 | sub << 16 | ext``. Handlers raise; the engine renders.
"""

from __future__ import annotations

from esp_at_sim.at.codes import ErrorSub, error_code


class EspAtSimError(Exception):
    """Root of every error raised by esp-at-sim."""


class ConfigError(EspAtSimError):
    """A scenario, chip profile or command-line option is invalid."""


class TransportError(EspAtSimError):
    """A UART transport could not be opened or failed while in use."""


class HeapExhausted(EspAtSimError):
    """The module's emulated heap cannot satisfy an allocation."""

    def __init__(self, size: int, free: int, tag: str) -> None:
        super().__init__(f"alloc failed, size:{size} caps:0x1800 ({tag}, free {free})")
        self.size = size
        self.free = free
        self.tag = tag


class AtError(EspAtSimError):
    """A command failed. ``sub`` and ``ext`` form the AT+SYSLOG error code.

    ``message`` is extra text some commands print before ``ERROR`` (for
    example ``no ip`` or ``link is not valid``); it is optional.
    """

    sub: ErrorSub = ErrorSub.COMMON_ERROR

    def __init__(self, ext: int = 0, message: str | None = None) -> None:
        self.ext = ext & 0xFFFF
        self.message = message
        super().__init__(message or f"{type(self).__name__} 0x{self.code:08x}")

    @property
    def code(self) -> int:
        return error_code(self.sub, self.ext)


class NoTerminator(AtError):
    sub = ErrorSub.NO_TERMINATOR


class NoAtPrefix(AtError):
    sub = ErrorSub.NO_AT


class ParamLength(AtError):
    sub = ErrorSub.PARA_LENGTH_MISMATCH


class ParamTypeMismatch(AtError):
    sub = ErrorSub.PARA_TYPE_MISMATCH


class ParamCount(AtError):
    sub = ErrorSub.PARA_NUM_MISMATCH

    def __init__(self, expected: int, given: int, message: str | None = None) -> None:
        super().__init__(((expected & 0xFF) << 8) | (given & 0xFF), message)
        self.expected = expected
        self.given = given


class ParamInvalid(AtError):
    sub = ErrorSub.PARA_INVALID


class ParamParseFail(AtError):
    sub = ErrorSub.PARA_PARSE_FAIL


class UnsupportedCmd(AtError):
    sub = ErrorSub.UNSUPPORT_CMD


class ExecFail(AtError):
    sub = ErrorSub.CMD_EXEC_FAIL


class CmdProcessing(AtError):
    sub = ErrorSub.CMD_PROCESSING


class CmdOpError(AtError):
    sub = ErrorSub.CMD_OP_ERROR


__all__ = [
    "AtError",
    "CmdOpError",
    "CmdProcessing",
    "ConfigError",
    "EspAtSimError",
    "ExecFail",
    "HeapExhausted",
    "NoAtPrefix",
    "NoTerminator",
    "ParamCount",
    "ParamInvalid",
    "ParamLength",
    "ParamParseFail",
    "ParamTypeMismatch",
    "TransportError",
    "UnsupportedCmd",
]
