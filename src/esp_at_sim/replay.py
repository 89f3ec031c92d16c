r"""UART transcripts: record a session, replay its host side, convert serial logs.

Format
------
A transcript is JSON lines. The first line is a header, every other line one
chunk of bytes as it crossed the UART::

    {"transcript": "esp-at-sim", "version": 1, "module": "esp0", "chip": "esp32c3"}
    {"t": 0.301, "dir": "out", "hex": "0d0a72656164790d0a", "text": "\r\nready\r\n"}
    {"t": 1.020, "dir": "in", "hex": "41540d0a", "text": "AT\r\n"}

``t`` is seconds (any origin, only differences matter), ``dir`` is ``in`` (host
to module), ``out`` (module to host) or ``log`` (the chip's log port, ignored
by replay). ``hex`` is authoritative; ``text`` is for people (``\r``, ``\n``,
``\t``, ``\\``, ``\xNN`` escapes) and is used when ``hex`` is missing, so
transcripts can be written by hand. The header is optional.

Replay
------
:func:`replay` boots a fresh module and plays the ``in`` chunks as the host
did: before each one it waits for the output that was recorded before it, and
for the same pause the host made. Output is compared line by line (a line is
everything up to ``\n``; a trailing partial line such as the ``>`` prompt is
compared as it is); ``ignore`` regular expressions blank out what may differ
(addresses, RSSI, versions). The first difference is reported with the lines
before it and the last thing the host sent.

Plain serial logs
-----------------
:func:`convert_log` reads two kinds of capture:

* *marker logs*, one chunk per line, ``>>`` for host to module and ``<<`` for
  module to host, optionally after a timestamp (``12.345``, ``[12.345]`` or
  ``HH:MM:SS.mmm``) and a module name - the format of esp-at-sim's own byte log
  (``-v``/``--log``)::

      10:00:01.100 esp0 >> AT\r\n
      10:00:01.101 esp0 << AT\r\n\r\nOK\r\n

  Payloads use the escapes above and are exact; a payload without any
  escape at all is a whole line and gets ``\r\n`` appended, so ``>> AT`` /
  ``<< OK`` logs written by hand work; where exact bytes matter (the
  ``\r\n>`` prompt, payloads) write them with escapes.
* *raw logs*: a terminal capture of the module's output with echo on
  (``ATE1``), as saved by minicom, picocom or a logic analyser. Each line that
  is ``AT`` or starts with ``AT+``, ``AT&`` or ``AT`` and a capital letter or
  digit (``ATE0``) is taken as a command the host typed (and its echo); every
  other line is module output. Data sent after a ``>`` prompt is not visible
  in such a capture; use a marker log for those sessions.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from esp_at_sim.errors import ConfigError
from esp_at_sim.transports.tap import escape

if TYPE_CHECKING:
    from esp_at_sim.device.module import Module
    from esp_at_sim.world.uart_log import UartEntry
    from esp_at_sim.world.world import World

FORMAT = "esp-at-sim"
VERSION = 1


@dataclass(frozen=True)
class Chunk:
    t: float
    direction: str
    data: bytes

    def to_json(self) -> str:
        return json.dumps(
            {"t": round(self.t, 6), "dir": self.direction, "hex": self.data.hex(), "text": escape(self.data)}
        )


@dataclass
class Transcript:
    header: dict[str, Any] = field(default_factory=dict)
    chunks: list[Chunk] = field(default_factory=list)

    def dumps(self) -> str:
        head = {"transcript": FORMAT, "version": VERSION, **self.header}
        return "\n".join([json.dumps(head), *(c.to_json() for c in self.chunks)]) + "\n"

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.dumps())


# ------------------------------------------------------------------ writing


def header_for(module: Module) -> dict[str, Any]:
    return {
        "transcript": FORMAT,
        "version": VERSION,
        "module": module.name,
        "chip": module.chip,
        "generation": module.generation,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def open_recording(path: Path, module: Module) -> IO[str]:
    path.parent.mkdir(parents=True, exist_ok=True)
    f = path.open("w")
    f.write(json.dumps(header_for(module)) + "\n")
    f.flush()
    return f


def entry_line(entry: UartEntry) -> str:
    return entry.to_json() + "\n"


# ------------------------------------------------------------------ reading

_UNESC = re.compile(rb"\\(x[0-9a-fA-F]{2}|.)", re.S)
_SIMPLE = {b"r": b"\r", b"n": b"\n", b"t": b"\t", b"\\": b"\\", b"0": b"\0"}


def unescape(text: str) -> bytes:
    """The inverse of :func:`esp_at_sim.transports.tap.escape`."""

    def sub(m: re.Match[bytes]) -> bytes:
        g = m.group(1)
        if g[:1] == b"x" and len(g) == 3:
            return bytes([int(g[1:], 16)])
        return _SIMPLE.get(g, b"\\" + g)

    return _UNESC.sub(sub, text.encode("utf-8", "surrogateescape"))


def loads(text: str) -> Transcript:
    tr = Transcript()
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"transcript line {n}: not JSON ({exc.msg})") from None
        if not isinstance(obj, dict):
            raise ConfigError(f"transcript line {n}: expected an object")
        if "transcript" in obj:
            tr.header = obj
            continue
        direction = obj.get("dir")
        if direction not in ("in", "out", "log"):
            raise ConfigError(f"transcript line {n}: dir must be in, out or log")
        if "hex" in obj:
            try:
                data = bytes.fromhex(obj["hex"])
            except (ValueError, TypeError):
                raise ConfigError(f"transcript line {n}: bad hex") from None
        elif "text" in obj:
            data = unescape(str(obj["text"]))
        else:
            raise ConfigError(f"transcript line {n}: needs hex or text")
        try:
            t = float(obj.get("t", tr.chunks[-1].t if tr.chunks else 0.0))
        except (TypeError, ValueError):
            raise ConfigError(f"transcript line {n}: bad t") from None
        tr.chunks.append(Chunk(t, direction, data))
    return tr


def load(path: str | Path) -> Transcript:
    """A transcript file, or a plain serial log (converted on the fly)."""
    p = Path(path)
    try:
        text = p.read_text(errors="surrogateescape")
    except FileNotFoundError:
        raise ConfigError(f"{p} not found") from None
    first = next((ln for ln in text.splitlines() if ln.strip()), "")
    if first.lstrip().startswith("{"):
        return loads(text)
    return convert_log(text)


# ------------------------------------------------------------ plain logs

_MARKER = re.compile(
    r"^\s*(?:\[?(?P<ts>\d+(?::\d+)*(?:\.\d+)?)\]?\s+)?(?:(?P<mod>[A-Za-z_][\w.-]*)\s+)?(?P<arrow>>>|<<)(?: (?P<p>.*)|$)"
)


_COMMAND = re.compile(r"^AT(?:$|[+&A-Z0-9])")  # not "AT version:..." from AT+GMR


def _ts(value: str) -> float:
    parts = value.split(":")
    seconds = 0.0
    for part in parts:
        seconds = seconds * 60 + float(part)
    return seconds


def convert_log(text: str, fmt: str = "auto") -> Transcript:
    """A transcript from a marker log or a raw capture (see the module docstring)."""
    lines = text.splitlines()
    if fmt == "auto":
        fmt = "markers" if any(_MARKER.match(ln) for ln in lines) else "raw"
    if fmt not in ("markers", "raw"):
        raise ConfigError("format must be auto, markers or raw")
    tr = Transcript({"converted_from": fmt})
    step = 0.1  # synthetic time between chunks: longer than the +++ guard
    t = 0.0
    if fmt == "markers":
        origin: float | None = None
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            m = _MARKER.match(line)
            if m is None:
                continue  # comments, log-port lines, banners
            payload = m.group("p") or ""
            data = unescape(payload)
            if "\\" not in payload:
                data += b"\r\n"
            if m.group("ts"):
                stamp = _ts(m.group("ts"))
                origin = stamp if origin is None else origin
                t = max(t, stamp - origin)
            else:
                t = t + step if tr.chunks else 0.0
            tr.chunks.append(Chunk(t, "in" if m.group("arrow") == ">>" else "out", data))
            del n
        if not tr.chunks:
            raise ConfigError("no >> or << lines in the log")
        return tr
    for line in lines:
        body = line.rstrip("\r")
        data = body.encode("utf-8", "surrogateescape") + b"\r\n"
        if _COMMAND.match(body):
            tr.chunks.append(Chunk(t, "in", data))
            t += 0.001
        tr.chunks.append(Chunk(t, "out", data))
        t += step
    return tr


# ------------------------------------------------------------------ replay


@dataclass
class Divergence:
    chunk: int  # index of the transcript chunk after which it was found
    t: float
    reason: str
    expected: bytes
    got: bytes
    last_sent: bytes
    context: list[tuple[str, bytes]]

    def report(self) -> str:
        out = [f"first divergence near t={self.t:.3f}s (chunk #{self.chunk}): {self.reason}"]
        if self.last_sent:
            out.append(f"  after the host sent: {escape(self.last_sent)}")
        out.append(f"  expected: {escape(self.expected)}")
        out.append(f"  got:      {escape(self.got)}")
        if self.context:
            out.append("  context (last lines that matched):")
            out += [f"    {'>>' if d == 'in' else '<<'} {escape(b)}" for d, b in self.context]
        return "\n".join(out)


@dataclass
class ReplayResult:
    divergence: Divergence | None
    chunks: int
    lines_compared: int

    @property
    def ok(self) -> bool:
        return self.divergence is None


_LINE = re.compile(rb"[^\n]*\n|[^\n]+\Z")


def _lines(data: bytes) -> list[bytes]:
    return _LINE.findall(data)


def _normalise(line: bytes, ignore: list[re.Pattern[bytes]]) -> bytes:
    for pat in ignore:
        line = pat.sub(b"*", line)
    return line


def _segments(tr: Transcript) -> list[tuple[int, bytes, Chunk | None, float]]:
    """(chunk index, expected output before it, the input chunk or None at the end, pause before the input)."""
    segs: list[tuple[int, bytes, Chunk | None, float]] = []
    expected = bytearray()
    last_t: float | None = None
    for i, c in enumerate(tr.chunks):
        if c.direction == "out":
            expected += c.data
        elif c.direction == "in":
            pause = 0.0 if last_t is None else max(0.0, c.t - last_t)
            segs.append((i, bytes(expected), c, pause))
            expected.clear()
        if c.direction != "log":
            last_t = c.t
    segs.append((len(tr.chunks), bytes(expected), None, 0.0))
    return segs


async def replay(
    tr: Transcript,
    *,
    chip: str | None = None,
    world: World | None = None,
    world_factory: Callable[[], World] | None = None,
    name: str | None = None,
    ignore: Iterable[str] = (),
    timeout: float = 30.0,
    settle: float = 1.0,
    **config: Any,
) -> ReplayResult:
    """Play the host side of ``tr`` against a fresh module; compare its output."""
    from esp_at_sim.device.module import Module

    patterns = [re.compile(p.encode()) for p in ignore]
    if world is None and world_factory is not None:
        world = world_factory()
    chip = chip or str(tr.header.get("chip") or "esp32c3")
    if name is None:
        name = str(tr.header.get("module") or "esp0")
    if "generation" not in config and tr.header.get("generation"):
        config["generation"] = int(tr.header["generation"])
    outs_before_first_in = b"".join(c.data for c in _prefix_until_in(tr.chunks) if c.direction == "out")
    from_boot = b"ready\r\n" in outs_before_first_in
    context: list[tuple[str, bytes]] = []
    compared = 0
    t0 = tr.chunks[0].t if tr.chunks else 0.0
    async with Module.start(chip, world=world, wait_ready=not from_boot, name=name, **config) as module:
        host = module.host
        clock = module.clock
        actual = bytearray(host.buffer)  # what came with "ready", if it was waited for
        host.buffer.clear()
        last_sent = b""

        async def fill(until_deadline: float) -> bool:
            remaining = until_deadline - clock.now()
            if remaining <= 0:
                return False
            try:
                data = await clock.wait_for(host._read(), remaining)
            except TimeoutError:
                return False
            if not data:
                return False
            actual.extend(data)
            return True

        for idx, expected, chunk, pause in _segments(tr):
            exp_lines = _lines(expected)
            deadline = clock.now() + timeout
            need_nl = expected.count(b"\n")
            tail = b"" if expected.endswith(b"\n") or not exp_lines else exp_lines[-1]
            while True:
                have_nl = actual.count(b"\n")
                if have_nl >= need_nl:
                    after = len(actual) - (_nth_newline_end(actual, need_nl))
                    if after >= len(tail):
                        break
                if not await fill(deadline):
                    break
            end = _nth_newline_end(actual, need_nl) + (len(tail) if tail else 0)
            got_lines = _lines(bytes(actual[:end]))
            for k, exp in enumerate(exp_lines):
                got = got_lines[k] if k < len(got_lines) else b""
                if _normalise(exp, patterns) != _normalise(got, patterns):
                    reason = "output differs" if got else "expected output did not come"
                    if not got and len(actual) > end:
                        got = bytes(actual[end:])
                        reason = "output differs"
                    t = (chunk.t if chunk is not None else tr.chunks[-1].t) - t0
                    return ReplayResult(Divergence(idx, t, reason, exp, got, last_sent, context[-6:]), idx, compared)
                context.append(("out", exp))
                compared += 1
            del actual[:end]
            if chunk is None:
                break
            if pause:
                await clock.sleep(pause)
            await host.write(chunk.data)
            last_sent = chunk.data
            context.append(("in", chunk.data))
        # anything the module printed that the recording does not have
        deadline = clock.now() + settle
        while await fill(deadline):
            pass
        if actual:
            t = (tr.chunks[-1].t if tr.chunks else 0.0) - t0
            div = Divergence(
                len(tr.chunks),
                t,
                "extra output after the end of the transcript",
                b"",
                bytes(actual),
                last_sent,
                context[-6:],
            )
            return ReplayResult(div, len(tr.chunks), compared)
    return ReplayResult(None, len(tr.chunks), compared)


def _prefix_until_in(chunks: list[Chunk]) -> list[Chunk]:
    out = []
    for c in chunks:
        if c.direction == "in":
            break
        out.append(c)
    return out


def _nth_newline_end(buf: bytearray, n: int) -> int:
    """Index just past the n-th ``\\n`` (0 for n == 0)."""
    pos = 0
    for _ in range(n):
        i = buf.find(b"\n", pos)
        if i < 0:
            return len(buf)
        pos = i + 1
    return pos


def run_replay(tr: Transcript, **kwargs: Any) -> ReplayResult:
    """:func:`replay` on a virtual-time loop (recorded pauses cost nothing)."""
    from esp_at_sim.world.clock import VirtualTimeLoop

    with asyncio.Runner(loop_factory=VirtualTimeLoop) as runner:
        return runner.run(replay(tr, **kwargs))
