"""PieceReader: read() hands out what the transport delivered, in order, with
StreamReader's flow control."""

from __future__ import annotations

import asyncio

import pytest

from esp_at_sim.services.piece_reader import PieceReader


class FakeTransport:
    def __init__(self) -> None:
        self.paused = False

    def pause_reading(self) -> None:
        self.paused = True

    def resume_reading(self) -> None:
        self.paused = False


async def test_read_hands_out_whole_pieces_slices_and_joins() -> None:
    r = PieceReader(limit=100)
    piece = b"a" * 50
    r.feed_data(piece)
    assert await r.read(80) is piece  # one piece that fits: not copied
    r.feed_data(b"12345")
    r.feed_data(b"6789")
    r.feed_data(b"abcdef")
    assert await r.read(9) == b"123456789"  # joined while whole pieces fit
    assert await r.read(4) == b"abcd"  # a piece larger than asked is sliced
    assert await r.read(100) == b"ef"
    r.feed_data(bytearray(b"xyz"))  # a buffer the caller may reuse is copied
    assert await r.read(10) == b"xyz"


async def test_read_waits_for_data_and_ends_at_eof() -> None:
    r = PieceReader()
    waiting = asyncio.ensure_future(r.read(10))
    await asyncio.sleep(0)
    assert not waiting.done()
    r.feed_data(b"late")
    assert await waiting == b"late"
    assert not r.at_eof()
    r.feed_data(b"tail")
    r.feed_eof()
    assert not r.at_eof()  # data left to read
    assert await r.read(-1) == b"tail"
    assert r.at_eof()
    assert await r.read(10) == b""


async def test_read_raises_the_transport_error() -> None:
    r = PieceReader()
    r.set_exception(ConnectionResetError())
    with pytest.raises(ConnectionResetError):
        await r.read(10)


async def test_flow_control_pauses_above_twice_the_limit() -> None:
    r = PieceReader(limit=10)
    t = FakeTransport()
    r.set_transport(t)  # type: ignore[arg-type]
    r.feed_data(b"x" * 15)
    assert not t.paused
    r.feed_data(b"y" * 10)
    assert t.paused
    assert await r.read(15) == b"x" * 15
    assert not t.paused  # 10 bytes left: at the limit, reading resumes


async def test_line_reads_are_refused() -> None:
    r = PieceReader()
    r.feed_data(b"line\n")
    with pytest.raises(NotImplementedError):
        await r.readline()
