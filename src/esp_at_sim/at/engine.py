"""The sans-IO AT engine: framing of the UART byte stream.

Theory of operation
-------------------
The engine never reads or writes anything. The device layer calls
``receive_data(data, now)`` with bytes from the host and gets back the bytes the
firmware answers at once (echo, ``busy p...``); it then takes the parsed input
with ``events()``. Everything a command produces goes through ``send(event)``,
which returns the bytes to write and advances the state (see ``state.py``).

* COMMAND: bytes accumulate until ``\\n``. A line not ending in ``\\r\\n`` or
  longer than the line limit is a ``BadLine``; otherwise a ``CommandLine``.
  With echo on, the line is echoed as received.
* EXECUTING: one command at a time. Bytes that arrive now are answered
  ``busy p...`` and dropped, as on the chip (a command with trailing bytes or
  two commands in one write get ``busy p...``). Bytes that arrived together
  with the end of a ``>`` payload are kept and parsed after the command ends.
* DATA: exactly N bytes after ``>``; with the CIPSENDEX rule ``\\0`` ends early
  and ``\\<any>`` drops the backslash; ``+++`` with guard times cancels.
* PASSTHROUGH: bytes are forwarded; ``+++`` alone, with at least ``guard``
  seconds of silence before and after and less than ``guard`` between the
  plus signs, leaves. ``next_deadline()``/``tick(now)`` let the caller decide
  the trailing guard without the engine owning a clock.

Three switches model firmware quirks (all off by default; the device layer
sets them from the module's quirks): ``busy_window`` answers ``busy p...`` to
input that starts within that many seconds after a final result (the AT task
has not yet let go of the port); ``busy_keeps_line`` still runs the first
command line that was answered ``busy p...``, once the running command ends;
``deaf_until`` drops every byte received before that time.
"""

from __future__ import annotations

from collections import deque

from esp_at_sim.at import render
from esp_at_sim.at.events import (
    BadLine,
    BusyRejected,
    CommandLine,
    DataReceived,
    EndPassthrough,
    Final,
    InEvent,
    InputDropped,
    OutEvent,
    PassthroughData,
    PassthroughExit,
    Prompt,
)
from esp_at_sim.at.state import EngineState, Trigger, next_state

PLUS = 0x2B
DEFAULT_MAX_LINE = 256
DEFAULT_GUARD = 0.020


class AtEngine:
    def __init__(
        self,
        *,
        echo: bool = True,
        syslog: bool = False,
        max_line: int = DEFAULT_MAX_LINE,
        guard: float = DEFAULT_GUARD,
        powered: bool = True,
    ) -> None:
        self.echo = echo
        self.syslog = syslog
        self.max_line = max_line
        self.guard = guard
        self.state = EngineState.COMMAND if powered else EngineState.OFF
        self._events: deque[InEvent] = deque()
        self._line = bytearray()
        self._overflow = False
        self._pending = bytearray()  # input to parse once the running command ends
        self._last_rx = float("-inf")
        # counted data mode
        self._data = bytearray()
        self._need = 0
        self._raw_count = 0
        self._zero_terminates = False
        self._escape = False
        self._stream = False
        # "+++" detection (passthrough and data mode)
        self._plus = 0
        self._plus_last = 0.0
        self._plus_held = bytearray()
        # firmware quirks (see the module docstring)
        self.busy_window = 0.0
        self.busy_keeps_line = False
        self.deaf_until = float("-inf")
        self._final_at = float("-inf")

    # ----------------------------------------------------------------- input
    def receive_data(self, data: bytes, now: float) -> bytes:
        """Feed bytes from the host; returns what the module answers at once."""
        out = bytearray()
        if data and now < self.deaf_until and self.state is not EngineState.OFF:
            self._events.append(InputDropped(bytes(data)))
            return b""
        if data:
            if (
                self.busy_window
                and self.state is EngineState.COMMAND
                and not self._line
                and now - self._final_at < self.busy_window
            ):
                out += render.busy(self.syslog)
                self._events.append(BusyRejected(bytes(data)))
                if not self.busy_keeps_line:
                    self._last_rx = now
                    return bytes(out)
                # with busy_keeps_line the refused line still runs, right behind the busy
            self._feed(bytes(data), now, out)
            self._last_rx = now
        return bytes(out)

    def events(self) -> list[InEvent]:
        evs = list(self._events)
        self._events.clear()
        return evs

    def next_deadline(self) -> float | None:
        if self._plus and self.state in (EngineState.PASSTHROUGH, EngineState.DATA):
            return self._plus_last + self.guard
        return None

    def tick(self, now: float) -> None:
        """Let time pass: decides a pending ``+++`` once its guard is over."""
        deadline = self.next_deadline()
        if deadline is None or now < deadline:
            return
        if self._plus == 3:
            self._plus = 0
            self._plus_held.clear()
            if self.state is EngineState.PASSTHROUGH:
                self.state = next_state(self.state, Trigger.PLUS_EXIT)
                self._events.append(PassthroughExit())
            else:
                self._finish_data(cancelled=True)
        else:
            self._flush_plus()

    def _feed(self, data: bytes, now: float, out: bytearray) -> None:
        i = 0
        n = len(data)
        while i < n:
            st = self.state
            if st is EngineState.OFF:
                return
            if st is EngineState.COMMAND:
                i = self._feed_command(data, i, out)
            elif st is EngineState.EXECUTING:
                rest = data[i:]
                out += render.busy(self.syslog)
                self._events.append(BusyRejected(rest))
                if self.busy_keeps_line and not self._pending:
                    # the line still reaches the command queue and runs after this one
                    end = rest.find(b"\n")
                    if end >= 0:
                        self._pending += rest[: end + 1]
                return
            elif st is EngineState.DATA:
                i = self._feed_counted(data, i, now)
                if self.state is EngineState.EXECUTING and i < n:
                    # bytes sent right behind the payload become the next command
                    self._pending += data[i:]
                    return
            else:
                i = self._feed_passthrough(data, i, now)

    def _feed_command(self, data: bytes, i: int, out: bytearray) -> int:
        j = data.find(b"\n", i)
        end = len(data) if j < 0 else j + 1
        chunk = data[i:end]
        if self._overflow:
            pass
        elif len(self._line) + len(chunk) > self.max_line:
            self._overflow = True
            self._line.clear()
        else:
            self._line += chunk
        if j < 0:
            return end
        line = bytes(self._line)
        self._line.clear()
        if self.echo and not self._overflow:
            out += line
        if self._overflow:
            self._overflow = False
            self._events.append(BadLine(b"", "too_long"))
        elif not line.endswith(b"\r\n"):
            self._events.append(BadLine(line[:-1], "no_terminator"))
        else:
            self._events.append(CommandLine(line[:-2]))
        self.state = next_state(self.state, Trigger.LINE)
        return end

    # ----------------------------------------------------------- "+++" logic
    def _maybe_plus(self, c: int, now: float, first: bool) -> bool:
        """Hold ``c`` if it may be part of ``+++``; flush held bytes otherwise.

        Returns True when ``c`` was held. A first ``+`` counts only at the start
        of a packet after ``guard`` seconds of silence; the next ones must
        follow within ``guard``.
        """
        if c == PLUS and self._plus < 3:
            if self._plus == 0:
                if not (first and (now - self._last_rx) >= self.guard):
                    return False
            elif now - self._plus_last >= self.guard:
                self._flush_plus()
                return False
            self._plus += 1
            self._plus_held.append(c)
            self._plus_last = now
            return True
        if self._plus:
            self._flush_plus()
        return False

    def _flush_plus(self) -> None:
        held = bytes(self._plus_held)
        self._plus = 0
        self._plus_held.clear()
        if not held:
            return
        if self.state is EngineState.PASSTHROUGH:
            self._events.append(PassthroughData(held))
        elif self.state is EngineState.DATA:
            used = self._take_data(held)
            if used < len(held):
                self._pending += held[used:]

    def _feed_passthrough(self, data: bytes, i: int, now: float) -> int:
        n = len(data)
        plain_from = i
        first = True
        while i < n:
            if self._maybe_plus(data[i], now, first):
                if plain_from < i:
                    self._events.append(PassthroughData(data[plain_from:i]))
                plain_from = i + 1
                first = False
                i += 1
                continue
            first = False
            i += 1
            if not self._plus:
                break  # past the start of the packet: the rest cannot be "+++"
        if plain_from < n:
            self._events.append(PassthroughData(data[plain_from:n]))
        return n

    # ------------------------------------------------------- counted data
    def _feed_counted(self, data: bytes, i: int, now: float) -> int:
        n = len(data)
        first = True
        while i < n and self.state is EngineState.DATA:
            if self._maybe_plus(data[i], now, first):
                first = False
                i += 1
                continue
            first = False
            if self.state is not EngineState.DATA:  # a flush completed the data
                break
            end = min(n, i + max(1, self._need - self._raw_count))
            i += self._take_data(data[i:end])
        return i

    def _take_data(self, chunk: bytes) -> int:
        """Add payload bytes; returns how many were consumed (the rest is not data)."""
        if self._zero_terminates:
            out = bytearray()
            for k, c in enumerate(chunk):
                self._raw_count += 1
                if self._escape:
                    self._escape = False
                    if c == 0x30:  # "\0" ends the data early
                        self._data += out
                        self._finish_data(complete=False)
                        return k + 1
                    out.append(c)
                elif c == 0x5C:
                    self._escape = True
                else:
                    out.append(c)
                if self._raw_count >= self._need:
                    self._data += out
                    self._finish_data()
                    return k + 1
            self._data += out
            return len(chunk)
        take = chunk[: self._need - self._raw_count]
        self._raw_count += len(take)
        if self._stream:
            if take:
                self._events.append(DataReceived(bytes(take), complete=False))
        else:
            self._data += take
        if self._raw_count >= self._need:
            self._finish_data()
        return len(take)

    def _finish_data(self, complete: bool = True, cancelled: bool = False) -> None:
        data = b"" if self._stream else bytes(self._data)
        self._data.clear()
        self._escape = False
        self._plus = 0
        self._plus_held.clear()
        self.state = next_state(self.state, Trigger.DATA_CANCEL if cancelled else Trigger.DATA_DONE)
        self._events.append(DataReceived(data, complete=complete and not cancelled, cancelled=cancelled))

    # ---------------------------------------------------------------- output
    def send(self, event: OutEvent, now: float = 0.0) -> bytes:
        """Render an output event and apply its state change."""
        data = render.render(event, self.syslog)
        if isinstance(event, Final):
            if self.state in (EngineState.EXECUTING, EngineState.DATA):
                self._reset_data()
                self.state = next_state(self.state, Trigger.FINAL)
                if self._pending:
                    pending = bytes(self._pending)
                    self._pending.clear()
                    extra = bytearray()
                    self._feed(pending, now, extra)
                    data += bytes(extra)
                self._final_at = now
        elif isinstance(event, Prompt):
            if event.passthrough:
                self.state = next_state(self.state, Trigger.PASSTHROUGH)
                self._plus = 0
                self._plus_held.clear()
                self._pending.clear()
            else:
                self.state = next_state(self.state, Trigger.PROMPT)
                self._reset_data()
                self._need = event.length
                self._zero_terminates = event.zero_terminates
                self._stream = event.stream
                if event.length == 0:
                    self._finish_data()
        elif isinstance(event, EndPassthrough) and self.state is EngineState.PASSTHROUGH:
            self._flush_plus()
            self.state = next_state(self.state, Trigger.END)
        return data

    def _reset_data(self) -> None:
        self._data.clear()
        self._need = 0
        self._raw_count = 0
        self._escape = False
        self._zero_terminates = False
        self._stream = False
        self._plus = 0
        self._plus_held.clear()

    # ------------------------------------------------------------- power
    def power_off(self) -> None:
        self.state = next_state(self.state, Trigger.POWER_OFF)
        self._line.clear()
        self._overflow = False
        self._pending.clear()
        self._events.clear()
        self._reset_data()

    def power_on(self) -> None:
        if self.state is EngineState.OFF:
            self.state = next_state(self.state, Trigger.POWER_ON)
