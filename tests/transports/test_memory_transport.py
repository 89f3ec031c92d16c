"""The in-memory UART: bytes arrive in order, small writes are read together,
large ones one by one without copies, and a full pipe holds the writer."""

from __future__ import annotations

import asyncio

from esp_at_sim.transports.memory import JOIN_UP_TO, memory_pair


async def test_small_writes_are_read_together() -> None:
    module_end, host_end = memory_pair()
    await module_end.write(b"\r\nOK\r\n")
    assert module_end.write_nowait(b"+IPD,2:hi") == 9
    assert await host_end.read() == b"\r\nOK\r\n+IPD,2:hi"


async def test_large_pieces_are_read_one_by_one_as_written() -> None:
    module_end, host_end = memory_pair(capacity=4 * JOIN_UP_TO)
    big = bytes(range(256)) * (JOIN_UP_TO // 256)
    assert module_end.write_nowait(big) == len(big)
    assert module_end.write_nowait(b"tail") == 4
    first = await host_end.read()
    assert first is big  # handed out as written
    assert await host_end.read() == b"tail"


async def test_a_reused_buffer_is_copied() -> None:
    module_end, host_end = memory_pair()
    buf = bytearray(b"abc")
    module_end.write_nowait(buf)
    buf[:] = b"xyz"
    assert await host_end.read() == b"abc"


async def test_a_full_pipe_holds_the_writer_until_read() -> None:
    module_end, host_end = memory_pair(capacity=8)
    await module_end.write(b"12345678")
    assert module_end.write_nowait(b"9") == 0  # no room: nothing taken
    writing = asyncio.ensure_future(module_end.write(b"9"))
    await asyncio.sleep(0)
    assert not writing.done()
    assert await host_end.read() == b"12345678"
    await writing
    assert await host_end.read() == b"9"


async def test_close_ends_reads() -> None:
    module_end, host_end = memory_pair()
    await module_end.write(b"last")
    await module_end.close()
    assert await host_end.read() == b"last"
    assert await host_end.read() == b""
