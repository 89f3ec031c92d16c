"""Classic Bluetooth A2DP: AVDTP signalling and an SBC media stream, one connection.

A sink (``AT+BTA2DPINIT=2``) publishes an Audio Sink record and answers
AVDTP on PSM 0x19 with one SBC stream endpoint; a source (``=1``) pages the
sink, discovers its endpoints, configures and opens an SBC stream
(``AT+BTA2DPCONN``), and streams while playing (``AT+BTA2DPCTRL=0,1``).
A sink module can connect to a source too, and starts / suspends the
source's stream with AVDTP START / SUSPEND.

The media are synthetic: no MP3 decoder or SBC encoder is available here, so
the URL of ``AT+BTA2DPSRC`` is only recorded and the source sends silent
SBC frames (44.1 kHz joint stereo, 8 subbands, 16 blocks, bitpool 53) at the
real rate of the world's clock, 5 frames per RTP packet. A sink counts the
packets and bytes it receives (``packets``, ``octets``); a real A2DP sink
(a Bumble host through an exported controller, a phone) gets a valid stream.
Forward / backward / fast-forward (AVRCP on the firmware) are accepted and do
nothing.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING, Any

from bumble import a2dp, avdtp
from bumble.rtp import MediaPacket

from esp_at_sim.services.bt.stack import BtError, BtStack, peer_of

if TYPE_CHECKING:
    from esp_at_sim.device.module import Module

log = logging.getLogger(__name__)
SDP_HANDLE = 0x00010002
FRAMES_PER_PACKET = 5
SAMPLES_PER_FRAME = 128
RATE = 44100
# header: sync, 44.1 kHz | 16 blocks | joint stereo | loudness | 8 subbands, bitpool, crc
SBC_FRAME = bytes([0x9C, 0xBD, 53, 0x00]) + bytes(115)


def sbc_capabilities() -> avdtp.MediaCodecCapabilities:
    info = a2dp.SbcMediaCodecInformation
    return avdtp.MediaCodecCapabilities(
        media_type=avdtp.AVDTP_AUDIO_MEDIA_TYPE,
        media_codec_type=a2dp.A2DP_SBC_CODEC_TYPE,
        media_codec_information=info(
            sampling_frequency=info.SamplingFrequency.SF_44100,
            channel_mode=info.ChannelMode.JOINT_STEREO,
            block_length=info.BlockLength.BL_16,
            subbands=info.Subbands.S_8,
            allocation_method=info.AllocationMethod.LOUDNESS,
            minimum_bitpool_value=2,
            maximum_bitpool_value=53,
        ),
    )


class WorldClock:
    """Bumble's pump paced by the loop's (virtual) clock instead of wall time."""

    def __init__(self, module: Module) -> None:
        self.module = module

    def now(self) -> float:
        return self.module.clock.now()

    async def sleep(self, duration: float) -> None:
        await self.module.clock.sleep(duration)


async def silence() -> AsyncGenerator[MediaPacket, None]:
    sequence = 0
    timestamp = 0
    payload = bytes([FRAMES_PER_PACKET]) + SBC_FRAME * FRAMES_PER_PACKET
    while True:
        packet = MediaPacket(2, 0, 0, 0, sequence, timestamp, 0x4553500A, [], 96, payload)
        packet.timestamp_seconds = timestamp / RATE
        yield packet
        sequence += 1
        timestamp += FRAMES_PER_PACKET * SAMPLES_PER_FRAME


class BtA2dpEvents:
    def connected(self, address: str) -> None: ...

    def disconnected(self, address: str) -> None: ...


class BtA2dp:
    """Per-boot service: ``module.service(BtA2dp)``."""

    def __init__(self, module: Module) -> None:
        self.module = module
        self.role = 0  # 0 off, 1 source, 2 sink
        self.events = BtA2dpEvents()
        self.url: str | None = None
        self.connection: Any = None
        self.protocol: Any = None
        self.stream: Any = None
        self.peer: str | None = None
        self.connecting = False
        self.packets = 0
        self.octets = 0
        self._listener: Any = None
        self._pump: Any = None
        self._playing = False

    @property
    def playing(self) -> bool:
        if self.role == 1:
            task = self._pump.pump_task if self._pump is not None else None
            return task is not None and not task.done()
        return self._playing

    @playing.setter
    def playing(self, value: bool) -> None:
        self._playing = value

    @property
    def stack(self) -> BtStack:
        return self.module.service(BtStack)

    # ------------------------------------------------------------- setup
    def init(self, role: int) -> None:
        device = self.stack.require()
        self.role = role
        if self._listener is None:
            self._listener = avdtp.Listener.for_device(device)
            self._listener.on("connection", self._on_protocol)
        make = a2dp.make_audio_sink_service_sdp_records if role == 2 else a2dp.make_audio_source_service_sdp_records
        device.sdp_service_records = {**device.sdp_service_records, SDP_HANDLE: make(SDP_HANDLE)}  # type: ignore[no-untyped-call]

    async def deinit(self) -> None:
        if self.connection is not None:
            await self.disconnect()
        device = self.stack.device
        if device is not None:
            records = dict(device.sdp_service_records)
            records.pop(SDP_HANDLE, None)
            device.sdp_service_records = records
        self.role = 0
        self._listener = None

    # ----------------------------------------------------------- protocol
    def _endpoint(self, protocol: Any) -> Any:
        if self.role == 2:
            sink = protocol.add_sink(sbc_capabilities())
            sink.on("rtp_packet", self._on_rtp)
            sink.on("start", lambda: setattr(self, "playing", True))
            sink.on("suspend", lambda: setattr(self, "playing", False))
            sink.on("close", lambda: setattr(self, "playing", False))
            return sink
        self._pump = avdtp.MediaPacketPump(silence(), WorldClock(self.module))  # type: ignore[arg-type]
        return protocol.add_source(sbc_capabilities(), self._pump)

    def _on_protocol(self, protocol: Any) -> None:
        """An incoming AVDTP signalling channel."""
        connection = protocol.l2cap_channel.connection
        if self.role == 0 or (self.connection is not None and self.connection is not connection):
            self.module.scope.spawn(connection.disconnect())
            return
        endpoint = self._endpoint(protocol)
        incoming = self.connection is None
        self._attach(connection, protocol)
        if self.role == 1:
            # a sink connected to this source: configure its stream from here
            self.module.scope.spawn(self._configure(endpoint))
        if incoming:
            self.events.connected(self.peer or "")

    def _on_rtp(self, packet: MediaPacket) -> None:
        self.packets += 1
        self.octets += len(packet.payload)

    def _attach(self, connection: Any, protocol: Any) -> None:
        self.connection = connection
        self.protocol = protocol
        self.peer = peer_of(connection)
        connection.on("disconnection", lambda _r: self._lost(connection))

    async def _configure(self, source: Any) -> None:
        protocol = self.protocol
        await protocol.discover_remote_endpoints()
        sink = protocol.find_remote_sink_by_codec(avdtp.AVDTP_AUDIO_MEDIA_TYPE, a2dp.A2DP_SBC_CODEC_TYPE)
        if sink is None:
            raise BtError("no SBC sink")
        self.stream = await protocol.create_stream(source, sink)
        await self.stream.open()

    # ------------------------------------------------------------ connect
    async def connect(self, address: str) -> None:
        self.stack.require()
        if self.role == 0 or self.connection is not None:
            raise BtError("not initialized, or already connected")
        connection = await self.stack.page(address)
        try:
            protocol = await avdtp.Protocol.connect(connection)
            endpoint = self._endpoint(protocol)
            self._attach(connection, protocol)
            if self.role == 1:
                await self._configure(endpoint)
        except Exception as exc:
            self.connection = None
            await connection.disconnect()
            raise BtError(f"a2dp connect failed: {exc}") from None

    def _lost(self, connection: Any) -> None:
        if connection is not self.connection:
            return
        peer = self.peer or ""
        self._stop_pump()
        self.connection = self.protocol = self.stream = None
        self.playing = False
        self.events.disconnected(peer)

    def _stop_pump(self) -> None:
        task = self._pump.pump_task if self._pump is not None else None
        if task is not None:
            task.cancel()
            self._pump.pump_task = None

    async def disconnect(self) -> str:
        if self.connection is None:
            raise BtError("not connected")
        connection, peer = self.connection, self.peer or ""
        self._stop_pump()
        self.connection = self.protocol = self.stream = None
        self.playing = False
        try:
            await connection.disconnect()
        except Exception:
            log.debug("a2dp disconnect", exc_info=True)
        return peer

    # ------------------------------------------------------------ control
    async def control(self, ctrl: int) -> None:
        """``AT+BTA2DPCTRL``: source 0 stop, 1 play, 2 suspend; sink 0 stop, 1 play, 2-5 AVRCP keys."""
        if self.protocol is None:
            raise BtError("not connected")
        try:
            if self.role == 1:
                await self._source_control(ctrl)
            else:
                await self._sink_control(ctrl)
        except BtError:
            raise
        except Exception as exc:
            raise BtError(f"a2dp control failed: {exc}") from None

    async def _source_control(self, ctrl: int) -> None:
        stream = self.stream
        if stream is None or ctrl > 2:
            raise BtError("no stream")
        if ctrl == 1:
            if self.url is None:
                raise BtError("no source set")
            if stream.state != avdtp.State.STREAMING:
                await stream.start()
        elif stream.state == avdtp.State.STREAMING:
            await stream.stop()

    async def _sink_control(self, ctrl: int) -> None:
        if ctrl > 1:
            return  # forward, backward, fast-forward: AVRCP keys, not modelled
        protocol = self.protocol
        stream = next(iter(protocol.streams.values()), None)
        if stream is None:
            raise BtError("no stream")
        seid = stream.remote_endpoint.seid
        if ctrl == 1 and not self.playing:
            await protocol.start([seid])
            self.playing = True
        elif ctrl == 0 and self.playing:
            await protocol.suspend([seid])
            self.playing = False
