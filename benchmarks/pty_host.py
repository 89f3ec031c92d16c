"""The host side of the round-trip benchmark, run as its own process.

``python -m benchmarks.pty_host LINK COUNT`` opens the pty like a host program
(raw, 115200 8N1, blocking), makes sure it is answered (``ATE0`` until ``OK``:
a module may still be booting), then times COUNT round trips of ``AT\\r\\n``
up to the end of ``\\r\\nOK\\r\\n`` and prints the samples (seconds) as JSON.
"""

from __future__ import annotations

import json
import os
import select
import sys
import termios
import time
import tty

OK = b"\r\nOK\r\n"


def _read_until(fd: int, end: bytes, timeout: float) -> bytes:
    buf = b""
    deadline = time.monotonic() + timeout
    while not buf.endswith(end):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"no {end!r}; got {buf!r}")
        ready, _, _ = select.select([fd], [], [], remaining)
        if ready:
            buf += os.read(fd, 4096)
    return buf


def main(link: str, count: int) -> None:
    fd = os.open(link, os.O_RDWR | os.O_NOCTTY)
    tty.setraw(fd)
    attrs = termios.tcgetattr(fd)
    attrs[4] = attrs[5] = termios.B115200
    termios.tcsetattr(fd, termios.TCSANOW, attrs)
    termios.tcflush(fd, termios.TCIFLUSH)
    for _ in range(100):
        os.write(fd, b"ATE0\r\n")
        try:
            _read_until(fd, b"OK\r\n", 0.5)
            break
        except TimeoutError:
            continue
    else:
        raise SystemExit("no answer on the pty")
    time.sleep(0.05)
    termios.tcflush(fd, termios.TCIFLUSH)
    samples: list[float] = []
    clock = time.perf_counter
    for _ in range(count):
        t0 = clock()
        os.write(fd, b"AT\r\n")
        buf = b""
        while not buf.endswith(OK):
            buf += os.read(fd, 4096)
        samples.append(clock() - t0)
    os.close(fd)
    json.dump(samples, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
