"""The only place that knows how responses look on the wire.

Layout follows the firmware: an information line is ``+NAME:...\\r\\n``; a
result is preceded by an empty line (``\\r\\nOK\\r\\n``); with AT+SYSLOG=1 an
``ERR CODE:0x%08x\\r\\n`` line comes before ``ERROR``; the data prompt is
``\\r\\nOK\\r\\n\\r\\n>``; a busy reply is ``\\r\\nbusy p...\\r\\n``.
"""

from __future__ import annotations

from esp_at_sim.at.codes import ErrorSub, error_code
from esp_at_sim.at.events import Banner, EndPassthrough, Final, Info, OutEvent, Prompt, Raw, Result, Urc

CRLF = b"\r\n"
OK = b"\r\nOK\r\n"
ERROR = b"\r\nERROR\r\n"
BUSY = b"\r\nbusy p...\r\n"
PROMPT = b">"


class Unquoted(str):
    """A string field rendered without quotes (``+CIPSTATUS:0,"TCP"`` vs ``+CWMODE:1``)."""

    __slots__ = ()


def field(value: object) -> bytes:
    if value is None:
        return b""
    if isinstance(value, bool):
        return b"1" if value else b"0"
    if isinstance(value, int):
        return str(value).encode()
    if isinstance(value, float):
        return f"{value:.2f}".encode()
    if isinstance(value, Unquoted):
        return value.encode("utf-8", "surrogateescape")
    if isinstance(value, str):
        return b'"' + value.encode("utf-8", "surrogateescape") + b'"'
    if isinstance(value, bytes | bytearray | memoryview):
        return b'"' + bytes(value) + b'"'
    if isinstance(value, Raw):
        return value.data
    return str(value).encode()


def info(name: str, fields: tuple[object, ...]) -> bytes:
    if not fields:
        return name.encode() + CRLF
    return name.encode() + b":" + b",".join(field(f) for f in fields) + CRLF


def err_code_line(code: int) -> bytes:
    return f"ERR CODE:0x{code:08x}".encode() + CRLF


def busy(syslog: bool) -> bytes:
    prefix = err_code_line(error_code(ErrorSub.CMD_PROCESSING)) if syslog else b""
    return prefix + BUSY


def final(event: Final, syslog: bool) -> bytes:
    if event.result is Result.OK and not event.message:
        return OK  # the common case, without building anything
    out = b""
    if event.message:
        out += event.message.encode() + CRLF
    if event.result is Result.ERROR:
        if syslog and event.error_code is not None:
            out += err_code_line(event.error_code)
        return out + ERROR
    if event.result is Result.NONE:
        return out
    word: str = event.result.value
    return out + CRLF + word.encode() + CRLF


def render(event: OutEvent, syslog: bool) -> bytes:
    if isinstance(event, Final):
        return final(event, syslog)
    if isinstance(event, Info):
        return info(event.name, event.fields)
    if isinstance(event, Raw):
        return event.data
    if isinstance(event, Urc):
        return (CRLF if event.leading_crlf else b"") + event.text.encode("utf-8", "surrogateescape") + CRLF
    if isinstance(event, Prompt):
        return (OK + CRLF if event.with_ok else b"") + PROMPT
    if isinstance(event, Banner):
        return event.text
    if isinstance(event, EndPassthrough):
        return b""
    raise TypeError(f"cannot render {event!r}")
