"""Air latency: the time data spends between a module and its peers.

Theory of operation
-------------------
On a board every byte a module sends or receives crosses the Wi-Fi air and an
access point: a peer's reply never reaches the UART in the same instant as the
``SEND OK`` of the request that caused it. :class:`NetLatency` (a world
extension) holds the model - a one-way delay per module, random jitter on top,
and extra delay while the station's signal is weak (retries, slower rates) -
and :class:`DelayLine` applies it to one direction of a stream.

Each piece pushed into a line gets a due time ``now + delay``, never earlier
than the piece before it, so jitter never reorders bytes. Pieces due within
:data:`MERGE` of the last one travel together, and one timer serves the head of
the line: a fast stream is delayed as a whole, not serialised piece by piece,
so throughput is unchanged and only the first byte is late.

:class:`DelayedTransport` wraps the transport of one connection (a host socket
or an in-world :class:`~esp_at_sim.world.net.FabricTransport`) with a line for
each direction; flow control, half-close, abort and ``start_tls`` behave as on
the transport it wraps. A connection between two modules crosses the air of
both. ``latency_ms = 0`` switches the model off for a module: its connections
are then not wrapped at all.

The delay grows with the station's link: below ``weak_rssi`` every dB adds
``weak_ms_per_db`` (802.11 retries, slower rates), and every other station
associated on the same channel adds up to ``load_ms_per_station`` of random
contention (CSMA/CA backoff). A module has one random stream for all its
connections, so the model costs a few hundred bytes per connection.
"""

from __future__ import annotations

import asyncio
import random
import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from esp_at_sim.errors import ConfigError
from esp_at_sim.world.faults import fault
from esp_at_sim.world.scenario import module_key

if TYPE_CHECKING:
    from esp_at_sim.world.world import World

#: pieces due within this many seconds of the previous one are delivered with it...
MERGE = 0.0005
#: ...up to this size, so a receiver that stops reading stops within one socket read
MERGE_MAX = 8192
#: bytes waiting on the air above which the writer is asked to pause
HIGH_WATER = 64 * 1024
LOW_WATER = 16 * 1024
#: how long a station RSSI reading is reused by a line (world seconds)
RSSI_REFRESH = 0.25


@dataclass(frozen=True)
class LatencyModel:
    """The one-way delay of a module's network traffic.

    ``latency_ms`` is the floor, ``jitter_ms`` the spread added on top (uniform),
    and below ``weak_rssi`` dBm every dB of the station's signal adds
    ``weak_ms_per_db`` milliseconds (802.11 retries and slower rates)."""

    latency_ms: float = 3.0
    jitter_ms: float = 1.0
    weak_rssi: float = -70.0
    weak_ms_per_db: float = 1.0
    load_ms_per_station: float = 0.5

    def __post_init__(self) -> None:
        for name in ("latency_ms", "jitter_ms", "weak_ms_per_db", "load_ms_per_station"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value <= 60_000:
                raise ConfigError(f"{name} must be a number of milliseconds between 0 and 60000")
        if not isinstance(self.weak_rssi, int | float) or not -120 <= self.weak_rssi <= 0:
            raise ConfigError("weak_rssi must be between -120 and 0 dBm")

    @property
    def off(self) -> bool:
        """``latency_ms = 0`` switches the whole model off (jitter and the rest ride on it)."""
        return self.latency_ms == 0

    def one_way(self, rng: random.Random, rssi: float | None, others: int = 0) -> float:
        """One sample of the delay, in seconds (``others``: stations sharing the channel)."""
        if self.off:
            return 0.0
        ms = self.latency_ms
        if self.jitter_ms:
            ms += rng.uniform(0.0, self.jitter_ms)
        if rssi is not None and rssi < self.weak_rssi:
            ms += (self.weak_rssi - rssi) * self.weak_ms_per_db
        if others and self.load_ms_per_station:
            ms += rng.uniform(0.0, others * self.load_ms_per_station)
        return ms / 1000.0


KEYS = ("latency_ms", "jitter_ms", "weak_rssi", "weak_ms_per_db", "load_ms_per_station")
#: other spellings of the keys (``air_latency_ms = 0`` switches the model off)
ALIASES = {"air_latency_ms": "latency_ms", "air_jitter_ms": "jitter_ms"}


def model_from_table(table: Any, base: LatencyModel, where: str) -> LatencyModel:
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table of {', '.join(KEYS)}")
    unknown = set(table) - set(KEYS) - set(ALIASES)
    if unknown:
        raise ConfigError(f"{where}: unknown keys {', '.join(sorted(unknown))}")
    values: dict[str, Any] = {ALIASES.get(str(k), str(k)): v for k, v in table.items()}
    return replace(base, **values)


class NetLatency:
    """World-wide latency settings (``world.extension(NetLatency)``)."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.default = LatencyModel()
        self.per_module: dict[str, LatencyModel] = {}
        self._samplers: dict[str, Callable[[], float]] = {}
        #: each module's wrapped connections, so its shutdown can settle them
        self.transports: dict[str, weakref.WeakSet[DelayedTransport]] = {}

    def model(self, module: str) -> LatencyModel:
        return self.per_module.get(module, self.default)

    def set(self, module: str | None = None, **changes: float) -> LatencyModel:
        """Change the model of one module, or the world's default (``module=None``);
        connections opened afterwards follow it, open ones take it up piece by piece."""
        unknown = set(changes) - set(KEYS)
        if unknown:
            raise ConfigError(f"unknown latency settings: {', '.join(sorted(unknown))}")
        if module is None:
            self.default = replace(self.default, **changes)
            return self.default
        model = replace(self.model(module), **changes)
        self.per_module[module] = model
        return model

    def active(self, module: str) -> bool:
        return not self.model(module).off

    def sampler(self, module: str) -> Callable[[], float]:
        """The function giving successive one-way delays (seconds) for ``module``: one
        random stream per module, seeded per world, so runs repeat."""
        sample = self._samplers.get(module)
        if sample is None:
            sample = self._samplers[module] = self._new_sampler(module)
        return sample

    def _new_sampler(self, module: str) -> Callable[[], float]:
        rng = random.Random(f"{self.world.seed}/latency/{module}")
        clock = self.world.clock
        # the station's RSSI and channel load, read again every RSSI_REFRESH seconds
        cache: list[Any] = [None, 0, float("-inf")]

        def sample() -> float:
            model = self.model(module)
            if model.off:
                return 0.0
            if model.weak_ms_per_db or model.load_ms_per_station:
                now = clock.now()
                if now - cache[2] >= RSSI_REFRESH:
                    cache[0], cache[1] = self._station_link(module)
                    cache[2] = now
            return model.one_way(rng, cache[0], cache[1])

        return sample

    def _station_link(self, module: str) -> tuple[float | None, int]:
        """(the station's RSSI, how many other stations share its AP's channel)."""
        m = self.world.modules.get(module)
        if m is None:
            return None, 0
        from esp_at_sim.services.wifi import WifiService

        if not m.has_service(WifiService):
            return None, 0
        sta = m.service(WifiService).sta
        ap = sta.ap
        if ap is None:
            return None, 0
        from esp_at_sim.world.wifi import WifiAir

        air = self.world.extension(WifiAir)
        stations = sum(len(other.stations) for other in air.aps if other.up and other.channel == ap.channel)
        return float(sta.rssi()), max(0, stations - 1)

    def settle(self, module: str) -> None:
        """The module stops (power off, AT+RST): what its connections still had on
        the air is delivered now, so a close under way reaches the socket."""
        for transport in list(self.transports.pop(module, ())):
            transport.settle()

    def round_trip(self, module: str, peer: str | None = None) -> float:
        """Seconds for a packet to go out and come back (``peer``: another module's air too)."""
        total = 0.0
        for name in (module,) if peer is None else (module, peer):
            sample = self.sampler(name)
            total += sample() + sample()
        return total


def latency_of(world: World) -> NetLatency:
    return world.extension(NetLatency)


# ------------------------------------------------------------------- delay line
class DelayLine:
    """One direction of one stream: pieces come out ``delay()`` seconds after they
    went in, in order. A piece is bytes (handed to ``deliver``) or a callable
    (called in its turn: end of stream, close, connection made)."""

    __slots__ = ("_clock", "_delay", "_deliver", "_items", "_last_due", "_timer", "held", "queued")

    def __init__(self, clock: Any, delay: Callable[[], float], deliver: Callable[[bytes], None]) -> None:
        self._clock = clock
        self._delay = delay
        self._deliver = deliver
        # [due, bytearray | callable]; made on first use: most connections of a large
        # table are idle, and an empty deque is the biggest part of a line
        self._items: deque[list[Any]] | None = None
        self._last_due = float("-inf")
        self._timer: asyncio.TimerHandle | None = None
        self.held = False
        self.queued = 0  # bytes in the line

    def push(self, piece: bytes | Callable[[], None]) -> None:
        now = self._clock.now()
        due = max(now + self._delay(), self._last_due)
        items = self._items
        if items is None:
            items = self._items = deque()
        if not callable(piece):
            self.queued += len(piece)
            if items:
                tail = items[-1]
                if due - tail[0] < MERGE and isinstance(tail[1], bytearray) and len(tail[1]) + len(piece) <= MERGE_MAX:
                    tail[1] += piece
                    return
            items.append([due, bytearray(piece)])
        else:
            items.append([due, piece])
        self._last_due = due
        if self._timer is None and not self.held and len(items) == 1:
            self._arm(now)

    def _arm(self, now: float) -> None:
        if not self._items or self.held:
            if self._items is not None and not self._items:
                self._items = None
            return
        wait = self._clock.real_seconds(self._items[0][0] - now)
        self._timer = asyncio.get_running_loop().call_later(wait, self._fire)

    def _fire(self) -> None:
        self._timer = None
        now = self._clock.now()
        # re-read each turn: a delivery may clear the line (a reset) and start it again
        while (items := self._items) and not self.held and items[0][0] <= now + 1e-6:
            _due, piece = items.popleft()
            if isinstance(piece, bytearray):
                self.queued -= len(piece)
                self._deliver(bytes(piece))
            else:
                piece()
        if self._timer is None:
            self._arm(now)

    def hold(self) -> None:
        self.held = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def release(self) -> None:
        if not self.held:
            return
        self.held = False
        if self._timer is None and self._items:
            self._arm(self._clock.now())

    def flush(self) -> None:
        """Deliver everything in the line now, in order."""
        self.held = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        while self._items:
            _due, piece = self._items.popleft()
            if isinstance(piece, bytearray):
                self.queued -= len(piece)
                self._deliver(bytes(piece))
            else:
                piece()
        self._items = None

    def clear(self) -> None:
        self._items = None
        self.queued = 0
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def __len__(self) -> int:
        return len(self._items) if self._items is not None else 0


# ------------------------------------------------------------- the transport
class AirSide(asyncio.Protocol):
    """The protocol the real transport talks to: what arrives goes through the
    inbound line before the connection's own protocol sees it."""

    __slots__ = ("air", "announce_late", "latency", "module", "protocol")

    def __init__(
        self, latency: NetLatency, module: str, protocol: asyncio.BaseProtocol, *, announce_late: bool
    ) -> None:
        self.latency = latency
        self.module = module
        self.protocol = protocol
        self.announce_late = announce_late
        self.air: DelayedTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        air = DelayedTransport(transport, self.protocol, self.latency, self.module)
        self.air = air
        if self.announce_late:
            # an accepted connection: the peer's SYN crosses the air first
            air.incoming.push(air.made)
        else:
            air.made()

    def data_received(self, data: bytes) -> None:
        if self.air is not None:
            self.air.arrived(data)

    def eof_received(self) -> bool:
        if self.air is not None:
            self.air.arrived_eof()
        return True  # the connection's protocol decides once the FIN has crossed the air

    def connection_lost(self, exc: Exception | None) -> None:
        if self.air is not None:
            self.air.inner_lost(exc)

    def pause_writing(self) -> None:
        if self.air is not None:
            self.air.inner_writable(False)

    def resume_writing(self) -> None:
        if self.air is not None:
            self.air.inner_writable(True)


class DelayedTransport(asyncio.Transport):
    """A transport whose bytes cross the module's air both ways (see the module docstring)."""

    _start_tls_compatible = True  # loop.start_tls() accepts it
    __slots__ = (
        "__weakref__",
        "_announced",
        "_closing",
        "_force_exc",
        "_high",
        "_in_full",
        "_inner",
        "_inner_dead",
        "_inner_paused",
        "_lost",
        "_low",
        "_protocol",
        "_reading",
        "_writer_paused",
        "incoming",
        "outgoing",
    )

    def __init__(
        self, inner: asyncio.Transport, protocol: asyncio.BaseProtocol, latency: NetLatency, module: str
    ) -> None:
        super().__init__(None)
        self._inner = inner
        self._protocol = protocol
        clock = latency.world.clock
        delay = latency.sampler(module)
        self.outgoing = DelayLine(clock, delay, self._send)
        self.incoming = DelayLine(clock, delay, self._receive)
        self._closing = False
        self._lost = False
        self._announced = False
        self._reading = True
        self._inner_paused = False
        self._inner_dead = False
        self._in_full = False
        self._writer_paused = False
        self._force_exc: Exception | None = None
        self._high = HIGH_WATER
        self._low = LOW_WATER
        latency.transports.setdefault(module, weakref.WeakSet()).add(self)

    # ------------------------------------------------------------ protocol
    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._protocol = protocol

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._protocol

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name == "air_latency":
            return True
        return self._inner.get_extra_info(name, default)

    @property
    def max_size(self) -> int:
        return int(self._inner.max_size)  # type: ignore[attr-defined]

    @max_size.setter
    def max_size(self, value: int) -> None:
        self._inner.max_size = value  # type: ignore[attr-defined]

    def made(self) -> None:
        if self._lost or self._announced:
            return
        self._announced = True
        self._protocol.connection_made(self)

    # --------------------------------------------------------------- inbound
    def arrived(self, data: bytes) -> None:
        if self._closing or self._lost:
            return
        self.incoming.push(bytes(data))
        if not self._in_full and self.incoming.queued > self._high:
            # as much as a TCP window is on its way: the sender waits for it to land
            self._in_full = True
            self._inner_reading()

    def _receive(self, data: bytes) -> None:
        if self._in_full and self.incoming.queued <= self._low:
            self._in_full = False
            self._inner_reading()
        if self._closing or self._lost:
            return
        protocol = self._protocol
        if isinstance(protocol, asyncio.BufferedProtocol):
            _feed_buffered(protocol, data)  # asyncio's TLS layer reads this way
        else:
            protocol.data_received(data)  # type: ignore[attr-defined]

    def _inner_reading(self) -> None:
        """The wrapped transport reads while the protocol wants data and the air has room."""
        if self._inner.is_closing():
            return
        if self._reading and not self._in_full:
            self._inner.resume_reading()
        else:
            self._inner.pause_reading()

    def arrived_eof(self) -> None:
        self.incoming.push(self._eof)

    def _eof(self) -> None:
        if self._lost or self._closing:
            return
        keep_open = self._protocol.eof_received()  # type: ignore[attr-defined]
        if not keep_open:
            self.close()

    def inner_lost(self, exc: Exception | None) -> None:
        if self._lost:
            return
        self._inner_dead = True
        self.outgoing.clear()
        if self._closing:
            self._lost_now(self._force_exc or exc)
            return
        if exc is not None:
            # a reset: what was still on its way is lost with the connection
            self.incoming.clear()
            self.incoming.release()
        self.incoming.push(lambda: self._lost_now(exc))

    def _lost_now(self, exc: Exception | None) -> None:
        if self._lost:
            return
        self._lost = True
        self._closing = True
        self.incoming.clear()
        self.outgoing.clear()
        if self._announced:
            self._protocol.connection_lost(exc)

    def is_reading(self) -> bool:
        return self._reading and not self._lost

    def pause_reading(self) -> None:
        if not self._reading:
            return
        self._reading = False
        self.incoming.hold()
        self._inner_reading()

    def resume_reading(self) -> None:
        if self._reading:
            return
        self._reading = True
        self.incoming.release()
        self._inner_reading()

    # -------------------------------------------------------------- outbound
    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._closing or self._lost or not data:
            return
        self.outgoing.push(bytes(data))
        self._pressure()

    def writelines(self, list_of_data: Any) -> None:
        for data in list_of_data:
            self.write(data)

    def _send(self, data: bytes) -> None:
        if not self._inner.is_closing():
            self._inner.write(data)
        self._pressure()

    def inner_writable(self, writable: bool) -> None:
        self._inner_paused = not writable
        self._pressure()

    def _pressure(self) -> None:
        queued = self.outgoing.queued
        if not self._writer_paused and (self._inner_paused or queued > self._high):
            self._writer_paused = True
            self._call("pause_writing")
        elif self._writer_paused and not self._inner_paused and queued <= self._low:
            self._writer_paused = False
            self._call("resume_writing")

    def _call(self, name: str) -> None:
        if self._lost:
            return
        try:
            getattr(self._protocol, name)()
        except Exception:
            asyncio.get_running_loop().call_exception_handler({"message": f"{name}() failed", "protocol": self})

    def can_write_eof(self) -> bool:
        return self._inner.can_write_eof()

    def write_eof(self) -> None:
        if self._closing or self._lost:
            return
        inner = self._inner
        self.outgoing.push(lambda: None if inner.is_closing() else inner.write_eof())

    def get_write_buffer_size(self) -> int:
        return self.outgoing.queued + self._inner.get_write_buffer_size()

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return (self._low, self._high)

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._high = HIGH_WATER if high is None else high
        self._low = (self._high // 4) if low is None else low
        self._pressure()

    # ---------------------------------------------------------------- closing
    def is_closing(self) -> bool:
        return self._closing or self._lost

    def close(self) -> None:
        """Orderly close: what was written crosses the air first, then the FIN."""
        if self._closing or self._lost:
            return
        self._closing = True
        # no more data for the protocol, but a connection_lost already on its way still comes
        self.incoming.release()
        if not self.outgoing.queued and not len(self.outgoing):
            # nothing on its way: the FIN leaves now (and no timer holds the socket open)
            self._inner.close()
            return
        self.outgoing.push(self._inner.close)

    def settle(self) -> None:
        """A close under way completes now (the module is going away)."""
        if self._closing and not self._lost and not self._inner_dead:
            self.outgoing.flush()

    def abort(self) -> None:
        if self._lost:
            return
        self._closing = True
        self.incoming.clear()
        self.outgoing.clear()
        if self._inner_dead:
            asyncio.get_running_loop().call_soon(self._lost_now, self._force_exc)
            return
        self._inner.abort()

    def _force_close(self, exc: Exception | None) -> None:
        """Used by asyncio's TLS layer on fatal errors."""
        self._force_exc = exc
        self.abort()


def _feed_buffered(protocol: asyncio.BufferedProtocol, data: bytes) -> None:
    view = memoryview(data)
    while view:
        buf = memoryview(protocol.get_buffer(len(view)))
        n = min(len(buf), len(view))
        if not n:
            raise RuntimeError("get_buffer() returned an empty buffer")
        buf[:n] = view[:n]
        protocol.buffer_updated(n)
        view = view[n:]


def protocol_over_air(
    world: World, module: str, protocol: asyncio.BaseProtocol, *, announce_late: bool = False
) -> asyncio.BaseProtocol:
    """``protocol`` as is when ``module`` has no latency, else an :class:`AirSide` in front of it."""
    latency = latency_of(world)
    if not latency.active(module):
        return protocol
    return AirSide(latency, module, protocol, announce_late=announce_late)


def transport_of(protocol: asyncio.BaseProtocol, transport: asyncio.BaseTransport) -> asyncio.BaseTransport:
    """The transport the connection's own protocol sees."""
    if isinstance(protocol, AirSide) and protocol.air is not None:
        return protocol.air
    return transport


# ------------------------------------------------------------- configuration
def load_latency(world: World, table: dict[str, Any]) -> None:
    """The latency keys of ``[net]``: the default of every module."""
    keys = {k: v for k, v in table.items() if k in KEYS or k in ALIASES}
    if keys:
        ext = latency_of(world)
        ext.default = model_from_table(keys, ext.default, "[net]")


@module_key("net")
def _module_net(world: World, module: str, table: Any) -> None:
    """``[[module]] net = { latency_ms = 20, jitter_ms = 5 }``: this module's own model."""
    ext = latency_of(world)
    ext.per_module[module] = model_from_table(table, ext.default, f"[[module]] {module}: net")


@fault(
    "net_latency",
    "change the air latency of one module (or of every module without its own)",
    module="module name (leave out for the world's default)",
    latency_ms="one-way delay in ms",
    jitter_ms="random extra delay in ms",
)
def _net_latency(
    world: World, module: str | None = None, latency_ms: float | None = None, jitter_ms: float | None = None
) -> None:
    changes = {k: float(v) for k, v in (("latency_ms", latency_ms), ("jitter_ms", jitter_ms)) if v is not None}
    if module is not None and module not in world.modules:
        raise ConfigError(f"no module named {module!r} in this world")
    latency_of(world).set(module, **changes)
