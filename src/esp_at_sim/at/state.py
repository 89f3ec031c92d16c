"""The engine's states and its one transition table.

::

    OFF ──power_on──▶ COMMAND ──line──▶ EXECUTING ──final──▶ COMMAND
                         │                 │  ▲
                         │              prompt│data_done / data_cancel
                         │                 ▼  │
                         │                DATA ──final──▶ COMMAND
                         │
                         └─passthrough─▶ PASSTHROUGH ──plus_exit / end──▶ COMMAND
    any ──power_off──▶ OFF

EXECUTING also enters PASSTHROUGH (``AT+CIPSEND`` with no length prints
``OK`` and ``>`` and the command is over). A transition missing from the table
is a bug in the caller and raises.
"""

from __future__ import annotations

from enum import Enum


class EngineState(Enum):
    # members are singletons: hash by identity (Enum's own __hash__ runs Python code on every lookup)
    __hash__ = object.__hash__

    OFF = "off"  # booting, rebooting, deep sleep: input is dropped
    COMMAND = "command"  # collecting a command line
    EXECUTING = "executing"  # a command runs; input gets "busy p..."
    DATA = "data"  # counted data mode after ">"
    PASSTHROUGH = "passthrough"  # bytes are forwarded; "+++" leaves


class Trigger(Enum):
    # members are singletons: hash by identity (Enum's own __hash__ runs Python code on every lookup)
    __hash__ = object.__hash__

    POWER_ON = "power_on"
    POWER_OFF = "power_off"
    LINE = "line"
    FINAL = "final"
    PROMPT = "prompt"
    PASSTHROUGH = "passthrough"
    DATA_DONE = "data_done"
    DATA_CANCEL = "data_cancel"
    PLUS_EXIT = "plus_exit"
    END = "end"


S = EngineState
T = Trigger

TRANSITIONS: dict[tuple[EngineState, Trigger], EngineState] = {
    (S.OFF, T.POWER_ON): S.COMMAND,
    (S.COMMAND, T.LINE): S.EXECUTING,
    (S.COMMAND, T.PASSTHROUGH): S.PASSTHROUGH,  # SAVETRANSLINK at boot
    (S.EXECUTING, T.FINAL): S.COMMAND,
    (S.EXECUTING, T.PROMPT): S.DATA,
    (S.EXECUTING, T.PASSTHROUGH): S.PASSTHROUGH,
    (S.DATA, T.DATA_DONE): S.EXECUTING,
    (S.DATA, T.DATA_CANCEL): S.EXECUTING,
    (S.DATA, T.FINAL): S.COMMAND,
    (S.PASSTHROUGH, T.PLUS_EXIT): S.COMMAND,
    (S.PASSTHROUGH, T.END): S.COMMAND,
    (S.PASSTHROUGH, T.FINAL): S.PASSTHROUGH,
}
for _state in EngineState:
    TRANSITIONS[(_state, T.POWER_OFF)] = S.OFF


class InvalidTransition(Exception):
    pass


def next_state(state: EngineState, trigger: Trigger) -> EngineState:
    try:
        return TRANSITIONS[(state, trigger)]
    except KeyError:
        raise InvalidTransition(f"{trigger.value} in state {state.value}") from None
