r"""Golden transcripts: bytes a host writes and the exact bytes the module answers.

A transcript is a text file, one step per line::

    # AT+GMR prints four version lines
    @chip esp32c3
    > AT+GMR\r\n
    < AT+GMR\r\n
    < AT version:{{text}}\r\n
    < SDK version:{{text}}\r\n
    < compile time({{hex}}):{{text}}\r\n
    < Bin version:v4.1.1.0(MINI-1)\r\n
    < \r\nOK\r\n

Lines:

``> bytes``
    the host writes these bytes (one write; nothing is added, so a command
    needs its ``\r\n``).
``< bytes``
    the module's next output must be exactly these bytes. ``{{...}}`` is a
    volatile part matched by a regular expression: ``{{int}}`` (a signed
    decimal), ``{{hex}}`` (hex digits), ``{{text}}`` (anything up to the line
    end), ``{{any}}`` (anything, shortest), or any other Python ``re`` pattern.
    A line should end with literal bytes, not with a placeholder.
``@chip NAME``, ``@config KEY=VALUE``, ``@scenario FILE``
    header: the chip, a :class:`~esp_at_sim.device.config.ModuleConfig` field,
    a scenario (relative to the transcript) whose world the module joins.
``@sleep SECONDS``
    let (virtual) time pass; output during the pause is kept for the next ``<``.
``@silence SECONDS``
    nothing may arrive for that long.
``@timeout SECONDS``
    how long each following ``<`` may wait (default 10).
``@fault NAME KEY=VALUE...``
    inject a fault of the world (``world/faults.py``: ``ap_down ssid=lab``...).

Escapes in bytes: ``\r \n \t \0 \\ \xHH``, ``\{`` for a literal brace, and
``\s`` for a space (useful at the end of a line, where editors strip spaces).
Blank lines and lines starting with ``#`` are ignored. After the last line the
module must stay silent for a moment: every byte it sends is accounted for.

:func:`run_transcript` boots a fresh module for the file (on whatever event
loop runs it: the test suite's virtual-time loop makes sleeps free) and raises
:class:`TranscriptMismatch` with the line and both sides on the first
difference.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from esp_at_sim.testing import AtHost
from esp_at_sim.transports.tap import escape

PLACEHOLDERS: dict[str, bytes] = {
    "int": rb"-?\d+",
    "hex": rb"[0-9A-Fa-f]+",
    "text": rb"[^\r\n]*",
    "any": rb"(?s:.*?)",
}

_ESCAPES = {"r": b"\r", "n": b"\n", "t": b"\t", "0": b"\0", "\\": b"\\", "{": b"{", "}": b"}", "s": b" "}


class TranscriptError(Exception):
    """The transcript file itself is malformed."""


class TranscriptMismatch(AssertionError):
    """The module's bytes differ from the transcript."""


def unescape(text: str) -> bytes:
    """Turn the escaped text of a ``>``/``<`` line into bytes."""
    out = bytearray()
    i = 0
    while i < len(text):
        c = text[i]
        if c != "\\":
            out += c.encode("utf-8")
            i += 1
            continue
        if i + 1 >= len(text):
            raise TranscriptError("a line ends with a lone backslash")
        nxt = text[i + 1]
        if nxt == "x":
            try:
                out.append(int(text[i + 2 : i + 4], 16))
            except ValueError:
                raise TranscriptError(f"bad \\x escape in {text!r}") from None
            i += 4
            continue
        if nxt not in _ESCAPES:
            raise TranscriptError(f"unknown escape \\{nxt} in {text!r}")
        out += _ESCAPES[nxt]
        i += 2
    return bytes(out)


def expectation(text: str) -> tuple[bytes, re.Pattern[bytes] | None]:
    """The literal bytes of a ``<`` line, and a pattern when it has placeholders."""
    parts = re.split(r"(?<!\\)\{\{(.*?)\}\}", text)
    if len(parts) == 1:
        return unescape(text), None
    pattern = b""
    literal = b""
    for k, part in enumerate(parts):
        if k % 2 == 0:
            raw = unescape(part)
            literal += raw
            pattern += re.escape(raw)
        else:
            pattern += b"(?:" + PLACEHOLDERS.get(part, part.encode()) + b")"
            literal += b"{{" + part.encode() + b"}}"
    try:
        return literal, re.compile(pattern, re.DOTALL)
    except re.error as exc:
        raise TranscriptError(f"bad placeholder pattern in {text!r}: {exc}") from None


@dataclass(frozen=True)
class Step:
    lineno: int
    kind: str  # "send" | "expect" | "sleep" | "silence" | "timeout" | "fault"
    data: bytes = b""
    pattern: re.Pattern[bytes] | None = None
    seconds: float = 0.0
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class Transcript:
    name: str
    chip: str = "esp32c3"
    config: dict[str, Any] = field(default_factory=dict)
    scenario: Path | None = None
    steps: list[Step] = field(default_factory=list)


def _config_value(raw: str) -> Any:
    if re.fullmatch(r"-?\d+", raw):
        return int(raw)
    if re.fullmatch(r"-?\d+\.\d*", raw):
        return float(raw)
    if raw in ("true", "false"):
        return raw == "true"
    return raw


def parse_transcript(text: str, name: str = "<transcript>", base: Path | None = None) -> Transcript:
    t = Transcript(name)
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        head, _, rest = line.partition(" ")
        if head == ">":
            t.steps.append(Step(lineno, "send", unescape(rest)))
        elif head == "<":
            literal, pattern = expectation(rest)
            t.steps.append(Step(lineno, "expect", literal, pattern))
        elif head in ("@sleep", "@silence", "@timeout"):
            try:
                seconds = float(rest)
            except ValueError:
                raise TranscriptError(f"{name}:{lineno}: {head} needs seconds") from None
            t.steps.append(Step(lineno, head[1:], seconds=seconds))
        elif head == "@fault":
            fault_name, *pairs = rest.split()
            params: dict[str, Any] = {}
            for pair in pairs:
                key, eq, value = pair.partition("=")
                if not eq:
                    raise TranscriptError(f"{name}:{lineno}: @fault NAME KEY=VALUE...")
                params[key] = _config_value(value)
            t.steps.append(Step(lineno, "fault", fault_name.encode(), params=params))
        elif head == "@chip":
            t.chip = rest.strip()
        elif head == "@config":
            key, eq, value = rest.partition("=")
            if not eq:
                raise TranscriptError(f"{name}:{lineno}: @config KEY=VALUE")
            t.config[key.strip()] = _config_value(value.strip())
        elif head == "@scenario":
            t.scenario = (base or Path.cwd()) / rest.strip()
        else:
            raise TranscriptError(f"{name}:{lineno}: cannot read {line!r}")
    return t


def load_transcript(path: str | Path) -> Transcript:
    p = Path(path)
    return parse_transcript(p.read_text(encoding="utf-8"), str(p), p.parent)


class _Reader:
    """The host side: the module's output as it arrives."""

    def __init__(self, host: AtHost) -> None:
        self.host = host

    @property
    def buffer(self) -> bytearray:
        return self.host.buffer

    async def fill(self, deadline: float) -> bool:
        """Read more; False when the deadline passed first."""
        return await self.host.receive(deadline)


def _mismatch(t: Transcript, step: Step, got: bytes, why: str) -> TranscriptMismatch:
    return TranscriptMismatch(
        f"{t.name}:{step.lineno}: {why}\n  expected: {escape(step.data)}\n  got:      {escape(got)}"
    )


async def _expect(t: Transcript, step: Step, reader: _Reader, timeout: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    buf = reader.buffer
    while True:
        if step.pattern is None:
            n = len(step.data)
            if bytes(buf[: min(n, len(buf))]) != step.data[: min(n, len(buf))]:
                raise _mismatch(t, step, bytes(buf[: n + 40]), "different bytes")
            if len(buf) >= n:
                del buf[:n]
                return
        else:
            m = step.pattern.match(buf)
            if m is not None:
                del buf[: m.end()]
                return
        if not await reader.fill(deadline):
            raise _mismatch(t, step, bytes(buf[:200]), f"no match within {timeout:g} s")


async def play(t: Transcript, module: Any) -> None:
    """Run the steps of ``t`` against a booted ``module`` (its ``host`` end)."""
    host = module.host
    reader = _Reader(host)
    loop = asyncio.get_running_loop()
    timeout = 10.0
    for step in t.steps:
        if step.kind == "send":
            await host.write(step.data)
        elif step.kind == "expect":
            await _expect(t, step, reader, timeout)
        elif step.kind == "timeout":
            timeout = step.seconds
        elif step.kind == "sleep":
            await module.clock.sleep(step.seconds)
        elif step.kind == "fault":
            from esp_at_sim.world.faults import inject

            await inject(module.world, step.data.decode(), **step.params)
        elif step.kind == "silence":
            deadline = loop.time() + module.clock.real_seconds(step.seconds)
            while not reader.buffer and await reader.fill(deadline):
                pass
            if reader.buffer:
                raise TranscriptMismatch(
                    f"{t.name}:{step.lineno}: expected silence, got {escape(bytes(reader.buffer[:200]))}"
                )
    # every byte the module sent must be accounted for
    deadline = loop.time() + module.clock.real_seconds(0.5)
    while not reader.buffer and await reader.fill(deadline):
        pass
    if reader.buffer:
        raise TranscriptMismatch(
            f"{t.name}: unexpected output after the last line: {escape(bytes(reader.buffer[:200]))}"
        )


async def run_transcript(path_or_transcript: str | Path | Transcript) -> None:
    """Boot a fresh module as the transcript's header says and play it."""
    from esp_at_sim.device.module import Module

    t = path_or_transcript if isinstance(path_or_transcript, Transcript) else load_transcript(path_or_transcript)
    world = None
    if t.scenario is not None:
        from esp_at_sim.world.scenario import load_scenario

        world = load_scenario(t.scenario).build_world()
    config = dict(t.config)
    config.setdefault("name", "golden")
    async with Module.start(t.chip, world=world, **config) as module:
        await play(t, module)
