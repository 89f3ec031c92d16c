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

Peers (``transcript_peers.py``), real sockets in the test process on
127.0.0.1 (``::1`` with the ``v6`` option) and ephemeral ports:

``@peer NAME KIND [echo] [v6] [OPTIONS]``, KIND one of ``tcp tls psk udp sntp dns``
    start a server (options: ``verify_client``, ``identity=ID key=HEX``,
    ``time=UNIX``, ``to=PORT``, ``HOST=ADDRESS``...): ``tls`` serves the default PKI's server certificate
    (``verify_client`` also asks for a client certificate of the default
    CA); ``psk`` is a TLS 1.2 server with one pre-shared key (mbed TLS);
    ``sntp`` answers with the clock reading ``time``; a ``udp`` peer
    sends to host port ``to`` until somebody sends to it; a ``dns`` server
    answers ``HOST=ADDRESS`` records and NXDOMAIN for anything else.
``@connect NAME tcp|tls|udp PORT [echo] [v6] [client_cert]``
    connect a client to the module's server on module port ``PORT`` (the
    host port it is served on); ``tls`` checks the module's certificate
    against the default CA, ``client_cert`` presents the default client one.
``@peer-send NAME bytes``
    the peer writes these bytes to its latest connection (UDP: to the last
    sender, or the module's port for a ``@connect`` peer).
``@peer-expect NAME bytes``
    the next bytes the peer receives must be exactly these.
``@peer-close NAME``
    the peer closes its latest connection.
``@host-port PORT`` (header)
    the module's port ``PORT`` is served on a free host port, ``${port.PORT}``.
``@dns NAME ADDRESS``, ``@redirect HOST:PORT HOST:PORT``
    an entry of the world's DNS table; send traffic for a host address
    elsewhere (``@redirect 127.0.0.1:123 127.0.0.1:${ntp.port}``).

``${NAME.port}``, ``${NAME.host}`` and ``${port.N}`` in any later line (``>``,
``<``, peer lines) are replaced by the peer's port and address; ``\$`` is a
literal dollar sign.

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
from esp_at_sim.transcript_peers import PeerError, PeerSet, free_port
from esp_at_sim.transports.tap import escape

PLACEHOLDERS: dict[str, bytes] = {
    "int": rb"-?\d+",
    "hex": rb"[0-9A-Fa-f]+",
    "text": rb"[^\r\n]*",
    "any": rb"(?s:.*?)",
}

_ESCAPES = {
    "r": b"\r",
    "n": b"\n",
    "t": b"\t",
    "0": b"\0",
    "\\": b"\\",
    "{": b"{",
    "}": b"}",
    "s": b" ",
    "$": b"$",
}
_VARIABLE = re.compile(r"(?<!\\)\$\{([A-Za-z0-9_.-]+)\}")


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
    kind: str  # "send" | "expect" | "sleep" | "silence" | "timeout" | "fault" | a peer directive
    data: bytes = b""
    pattern: re.Pattern[bytes] | None = None
    seconds: float = 0.0
    params: dict[str, Any] = field(default_factory=dict)
    #: the line's text when it names ``${...}`` variables: resolved when it is played
    text: str = ""
    #: the words of a peer directive (after the directive itself)
    words: tuple[str, ...] = ()


PEER_DIRECTIVES = ("@peer", "@connect", "@peer-send", "@peer-expect", "@peer-close", "@dns", "@redirect")


@dataclass
class Transcript:
    name: str
    chip: str = "esp32c3"
    config: dict[str, Any] = field(default_factory=dict)
    scenario: Path | None = None
    steps: list[Step] = field(default_factory=list)
    #: module ports served on free host ports (``@host-port``)
    host_ports: list[int] = field(default_factory=list)


def substitute(text: str, variables: dict[str, str]) -> str:
    """Replace ``${name}`` by its value; an unknown name is an error of the transcript."""

    def one(m: re.Match[str]) -> str:
        try:
            return variables[m.group(1)]
        except KeyError:
            raise TranscriptError(f"unknown variable ${{{m.group(1)}}} in {text!r}") from None

    return _VARIABLE.sub(one, text)


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
        if head in (">", "<") and _VARIABLE.search(rest):
            t.steps.append(Step(lineno, "send" if head == ">" else "expect", text=rest))
        elif head == ">":
            t.steps.append(Step(lineno, "send", unescape(rest)))
        elif head == "<":
            literal, pattern = expectation(rest)
            t.steps.append(Step(lineno, "expect", literal, pattern))
        elif head in PEER_DIRECTIVES:
            words = tuple(rest.split(" ", 1) if head in ("@peer-send", "@peer-expect") else rest.split())
            if not words or not words[0]:
                raise TranscriptError(f"{name}:{lineno}: {head} needs a peer name")
            t.steps.append(Step(lineno, head[1:], words=words))
        elif head == "@host-port":
            try:
                t.host_ports.append(int(rest))
            except ValueError:
                raise TranscriptError(f"{name}:{lineno}: @host-port needs a port") from None
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


def _resolved(step: Step, variables: dict[str, str]) -> Step:
    """A ``>``/``<`` step with its ``${...}`` variables filled in."""
    text = substitute(step.text, variables)
    if step.kind == "send":
        return Step(step.lineno, "send", unescape(text))
    literal, pattern = expectation(text)
    return Step(step.lineno, "expect", literal, pattern)


async def _peer_step(t: Transcript, step: Step, module: Any, peers: PeerSet, timeout: float) -> None:
    variables = peers.variables()
    words = [substitute(w, variables) for w in step.words]
    where = f"{t.name}:{step.lineno}"
    try:
        if step.kind == "peer":
            if len(words) < 2:
                raise TranscriptError(f"{where}: @peer NAME KIND [options]")
            await peers.start(words[0], words[1], words[2:])
        elif step.kind == "connect":
            if len(words) < 3 or not words[2].isdigit():
                raise TranscriptError(f"{where}: @connect NAME KIND PORT [options]")
            host_port = dict(module.config.port_map).get(int(words[2]), int(words[2]))
            await peers.connect(words[0], words[1], host_port, words[3:], timeout)
        elif step.kind == "peer-send":
            await peers.get(words[0]).send(unescape(words[1] if len(words) > 1 else ""), timeout)
        elif step.kind == "peer-expect":
            data = unescape(words[1] if len(words) > 1 else "")
            got = await peers.expect(words[0], data, timeout)
            if got is not None:
                raise TranscriptMismatch(
                    f"{where}: peer {words[0]} received other bytes\n"
                    f"  expected: {escape(data)}\n  got:      {escape(got)}"
                )
        elif step.kind == "peer-close":
            await peers.get(words[0]).close_connection(timeout)
        elif step.kind == "dns":
            if len(words) != 2:
                raise TranscriptError(f"{where}: @dns NAME ADDRESS")
            module.world.dns[words[0]] = words[1]
        elif step.kind == "redirect":
            from esp_at_sim.world.net import fabric_of

            if len(words) != 2:
                raise TranscriptError(f"{where}: @redirect HOST:PORT HOST:PORT")
            fabric_of(module.world).redirects[_host_port(words[0], where)] = _host_port(words[1], where)
    except PeerError as exc:
        raise TranscriptMismatch(f"{where}: {exc}") from None


def _host_port(text: str, where: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise TranscriptError(f"{where}: {text!r} is not HOST:PORT")
    return host.strip("[]"), int(port)


async def play(t: Transcript, module: Any, peers: PeerSet | None = None) -> None:
    """Run the steps of ``t`` against a booted ``module`` (its ``host`` end); the
    peers it starts are closed at the end unless the caller passed its own set."""
    reader = _Reader(module.host)
    loop = asyncio.get_running_loop()
    active = peers if peers is not None else PeerSet()
    try:
        await _play_steps(t, module, active, reader)
        # every byte the module sent must be accounted for
        deadline = loop.time() + module.clock.real_seconds(0.5)
        while not reader.buffer and await reader.fill(deadline):
            pass
        if reader.buffer:
            raise TranscriptMismatch(
                f"{t.name}: unexpected output after the last line: {escape(bytes(reader.buffer[:200]))}"
            )
    finally:
        if peers is None:
            await active.aclose()


async def _play_steps(t: Transcript, module: Any, peers: PeerSet, reader: _Reader) -> None:
    host = module.host
    loop = asyncio.get_running_loop()
    timeout = 10.0
    for step in t.steps:
        if step.text:
            step = _resolved(step, peers.variables())
        if step.kind in ("peer", "connect", "peer-send", "peer-expect", "peer-close", "dns", "redirect"):
            await _peer_step(t, step, module, peers, timeout)
        elif step.kind == "send":
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
    peers = PeerSet()
    if t.host_ports:
        mapping = {p: free_port() for p in t.host_ports}
        config["port_map"] = tuple(mapping.items())
        peers.extra.update({f"port.{p}": str(hp) for p, hp in mapping.items()})
    try:
        async with Module.start(t.chip, world=world, **config) as module:
            await play(t, module, peers)
    finally:
        await peers.aclose()
