"""Property tests of the sans-IO engine: whatever bytes come, in whatever pieces.

* Framing is a pure function of the byte stream: a host that writes a line
  (in any pieces) and waits for the reply gets the same events and bytes
  however the lines are cut, and every complete line gets exactly one event
  (a command line or a rejected line).
* While a command runs, each arriving piece gets exactly one ``busy p...``
  (and a piece never gets more than one).
* Counted data after ``>`` is exactly the next N bytes; passthrough forwards
  every byte except a guarded ``+++``, which leaves.
* Nothing raises, and afterwards the engine still takes ``AT``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from esp_at_sim.at.engine import DEFAULT_MAX_LINE, AtEngine
from esp_at_sim.at.events import (
    BadLine,
    CommandLine,
    DataReceived,
    Final,
    InEvent,
    PassthroughData,
    PassthroughExit,
    Prompt,
    Result,
)
from esp_at_sim.at.state import EngineState

FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(max_examples=5000, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# pieces that make streams interesting: line ends, quotes, escapes, plus signs, long runs
TOKENS = [
    b"AT",
    b"AT+",
    b"AT+GMR",
    b"AT+SYSLOG=1",
    b"=",
    b"?",
    b",",
    b'"',
    b"\\",
    b'\\"',
    b"\r",
    b"\n",
    b"\r\n",
    b"+",
    b"+++",
    b"\0",
    b"\xff",
    b"0x1F",
    b"-1",
    b"A" * 100,
    b"B" * 300,
]
token = st.one_of(st.sampled_from(TOKENS), st.binary(min_size=1, max_size=40))
stream = st.lists(token, max_size=40).map(b"".join)


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    """Cut every line of ``data`` into pieces (a host that waits for each reply
    writes one line at a time, in whatever pieces its UART driver makes)."""
    pieces: list[bytes] = []
    start = 0
    for line in data.splitlines(keepends=True):
        points = sorted({start + c % (len(line) + 1) for c in cuts} | {start, start + len(line)})
        pieces += [data[a:b] for a, b in itertools.pairwise(points) if b > a]
        start += len(line)
    return pieces


def model_lines(data: bytes) -> list[InEvent]:
    """What the firmware makes of a stream when every command answers at once."""
    events: list[InEvent] = []
    *lines, _rest = data.split(b"\n")
    for line in lines:
        full = line + b"\n"
        if len(full) > DEFAULT_MAX_LINE:
            events.append(BadLine(b"", "too_long"))
        elif not full.endswith(b"\r\n"):
            events.append(BadLine(line, "no_terminator"))
        else:
            events.append(CommandLine(full[:-2]))
    return events


def run_immediate(pieces: list[bytes], echo: bool = True) -> tuple[list[InEvent], bytes]:
    """Feed ``pieces``; answer every line at once (OK, or ERROR for a bad line)."""
    e = AtEngine(echo=echo)
    events: list[InEvent] = []
    out = bytearray()
    for t, piece in enumerate(pieces):
        out += e.receive_data(piece, float(t))
        for ev in e.events():
            events.append(ev)
            result = Result.ERROR if isinstance(ev, BadLine) else Result.OK
            out += e.send(Final(result, 0x01090000), float(t))
            assert e.state is EngineState.COMMAND
    return events, bytes(out)


def expected_output(events: list[InEvent], data: bytes) -> bytes:
    out = bytearray()
    lines = data.split(b"\n")
    for ev, line in zip(events, lines, strict=False):
        if not (isinstance(ev, BadLine) and ev.reason == "too_long"):
            out += line + b"\n"
        out += b"\r\nERROR\r\n" if isinstance(ev, BadLine) else b"\r\nOK\r\n"
    return bytes(out)


@FAST
@given(stream, st.lists(st.integers(min_value=0, max_value=10_000), max_size=20))
def test_framing_does_not_depend_on_how_bytes_are_split(data: bytes, cuts: list[int]) -> None:
    events, out = run_immediate(split(data, cuts))
    assert events == model_lines(data)
    assert out == expected_output(events, data)
    # a line end flushes whatever was pending; then AT works
    tail, _ = run_immediate([data, b"\r\n", b"AT\r\n"])
    assert tail[-1] == CommandLine(b"AT")


@FAST
@given(stream, st.lists(st.integers(min_value=0, max_value=10_000), max_size=20))
def test_without_echo_only_results_come_back(data: bytes, cuts: list[int]) -> None:
    events, out = run_immediate(split(data, cuts), echo=False)
    assert out == b"".join(b"\r\nERROR\r\n" if isinstance(ev, BadLine) else b"\r\nOK\r\n" for ev in events)


# ------------------------------------------------------------- a slow responder


@dataclass
class Harness:
    """Feeds pieces at given times; keeps each command running for a while."""

    engine: AtEngine = field(default_factory=lambda: AtEngine(echo=False))
    out: bytearray = field(default_factory=bytearray)
    running_for: int = 0  # pieces until the running command answers
    lines: int = 0
    finals: int = 0
    busy_pieces: int = 0
    data_phase: bytearray = field(default_factory=bytearray)
    want: int = 0
    passthrough_in: bytearray = field(default_factory=bytearray)
    passthrough_out: bytearray = field(default_factory=bytearray)
    exited: bool = False
    data_events: list[DataReceived] = field(default_factory=list)

    def step(self, piece: bytes, now: float, hold: int) -> None:
        e = self.engine
        self.engine.tick(now)
        self.collect(now, hold)
        state = e.state
        answer = e.receive_data(piece, now)
        self.out += answer
        # one "busy p..." at most per piece, and always when a command was running
        assert answer.count(b"busy p...") <= 1
        if state is EngineState.EXECUTING:
            assert answer == b"\r\nbusy p...\r\n"
        self.busy_pieces += answer.count(b"busy p...")
        if state is EngineState.DATA:
            self.data_phase += piece
        elif state is EngineState.PASSTHROUGH:
            self.passthrough_in += piece
        self.collect(now, hold)
        if self.running_for:
            self.running_for -= 1
            if self.running_for == 0 and e.state is EngineState.EXECUTING:
                self.out += e.send(Final(), now)
                self.finals += 1
                self.collect(now, hold)

    def collect(self, now: float, hold: int) -> None:
        e = self.engine
        for ev in e.events():
            if isinstance(ev, CommandLine | BadLine):
                self.lines += 1
                line = ev.line if isinstance(ev, CommandLine) else b""
                if line.startswith(b"AT+DATA"):
                    self.want = 1 + (len(line) % 7)
                    self.data_phase.clear()
                    self.out += e.send(Prompt(self.want), now)
                elif line == b"AT+PT":
                    self.out += e.send(Prompt(passthrough=True), now)
                    self.finals += 1  # the prompt ends the command
                elif hold:
                    self.running_for = hold
                else:
                    self.out += e.send(Final(), now)
                    self.finals += 1
            elif isinstance(ev, DataReceived):
                self.data_events.append(ev)
                self.out += e.send(Final(Result.SEND_OK), now)
                self.finals += 1
            elif isinstance(ev, PassthroughData):
                self.passthrough_out += ev.data
            elif isinstance(ev, PassthroughExit):
                # every byte went through except the guarded "+++" that ended it
                assert bytes(self.passthrough_out) + b"+++" == bytes(self.passthrough_in)
                self.passthrough_in.clear()
                self.passthrough_out.clear()
                self.exited = True


special = st.sampled_from([b"AT+DATA\r\n", b"AT+DATA12\r\n", b"AT+PT\r\n", b"+++", b"AT\r\n"])
piece = st.one_of(special, special, token)
gap = st.sampled_from([0.0, 0.001, 0.005, 0.03, 0.5, 0.5])


@st.composite
def timed_pieces(draw: st.DrawFn) -> list[tuple[bytes, float, int]]:
    n = draw(st.integers(min_value=1, max_value=30))
    return [(draw(piece), draw(gap), draw(st.integers(min_value=0, max_value=3))) for _ in range(n)]


def play(pieces: list[tuple[bytes, float, int]]) -> Harness:
    h = Harness()
    now = 0.0
    for data, dt, hold in pieces:
        now += dt
        h.step(data, now, hold)
    return h


def check(h: Harness) -> None:
    e = h.engine
    # a busy reply is never glued into another line
    assert h.out.count(b"busy p...") == h.out.count(b"\r\nbusy p...\r\n")
    for ev in h.data_events:
        if ev.complete:
            assert len(ev.data) <= 7
    # let the guard time pass: a held "+++" either leaves passthrough or is data
    now = 1000.0
    e.tick(now)
    h.collect(now, 0)
    if e.state is EngineState.PASSTHROUGH:
        assert bytes(h.passthrough_out) == bytes(h.passthrough_in)
    # bring the engine home: end data mode / passthrough, answer, then AT must work
    if e.state is EngineState.DATA:
        h.step(b"\0" * 16, now, 0)
    if e.state is EngineState.PASSTHROUGH:
        for p in (b"+++",):
            now += 1.0
            h.step(p, now, 0)
        now += 1.0
        e.tick(now)
        h.collect(now, 0)
    if e.state is EngineState.EXECUTING:
        h.out += e.send(Final(), now)
        h.collect(now, 0)
    assert e.state is EngineState.COMMAND
    e.receive_data(b"\r\n", now)
    h.collect(now, 0)
    if e.state is EngineState.EXECUTING:
        e.send(Final(), now)
        e.events()
    e.receive_data(b"AT\r\n", now)
    assert e.events() == [CommandLine(b"AT")]


@FAST
@given(timed_pieces())
def test_busy_data_mode_and_passthrough_hold_together(pieces: list[tuple[bytes, float, int]]) -> None:
    check(play(pieces))


@FAST
@given(st.binary(min_size=1, max_size=300), st.integers(min_value=1, max_value=299))
def test_counted_data_is_exactly_n_bytes(payload: bytes, n: int) -> None:
    e = AtEngine(echo=False)
    e.receive_data(b"AT+CIPSEND=1\r\n", 0.0)
    e.events()
    e.send(Prompt(n), 0.0)
    # no guard before the first byte: "+++" here is data
    e.receive_data(payload, 0.0)
    evs = e.events()
    if len(payload) >= n:
        assert evs == [DataReceived(payload[:n])]
        e.send(Final(Result.SEND_OK), 0.0)
        rest = payload[n:]
        # what followed the payload is parsed as command input afterwards
        assert e.state in (EngineState.COMMAND, EngineState.EXECUTING)
        if b"\n" not in rest:
            assert e.events() == []
    else:
        assert evs == []
        assert e.state is EngineState.DATA


@pytest.mark.slow
@SLOW
@given(timed_pieces())
def test_busy_data_mode_and_passthrough_hold_together_long(pieces: list[tuple[bytes, float, int]]) -> None:
    check(play(pieces))


@pytest.mark.slow
@SLOW
@given(stream, st.lists(st.integers(min_value=0, max_value=10_000), max_size=40))
def test_framing_does_not_depend_on_how_bytes_are_split_long(data: bytes, cuts: list[int]) -> None:
    events, out = run_immediate(split(data, cuts))
    assert events == model_lines(data)
    assert out == expected_output(events, data)
