"""Error sub-categories of the AT+SYSLOG error code (Basic_AT_Commands.rst, AT+SYSLOG).

An error code is ``category << 24 | subcategory << 16 | extension`` with the
category fixed at 0x01.
"""

from __future__ import annotations

from enum import IntEnum

CATEGORY = 0x01


class ErrorSub(IntEnum):
    OK = 0x00
    COMMON_ERROR = 0x01
    NO_TERMINATOR = 0x02
    NO_AT = 0x03
    PARA_LENGTH_MISMATCH = 0x04
    PARA_TYPE_MISMATCH = 0x05
    PARA_NUM_MISMATCH = 0x06
    PARA_INVALID = 0x07
    PARA_PARSE_FAIL = 0x08
    UNSUPPORT_CMD = 0x09
    CMD_EXEC_FAIL = 0x0A
    CMD_PROCESSING = 0x0B
    CMD_OP_ERROR = 0x0C


def error_code(sub: ErrorSub | int, ext: int = 0) -> int:
    """Pack an error code the way the firmware prints it after ``ERR CODE:``."""
    return (CATEGORY << 24) | ((int(sub) & 0xFF) << 16) | (ext & 0xFFFF)
