"""The command sequences and parse rules of the big C/C++/Rust host drivers,
replayed byte for byte: what each sends (init, scan, join, sockets, passive
receive) and how it cuts the module's reply into fields. A driver that parses
our bytes here parses the chip's.

Drivers, as they read in their public sources:

* Arduino WiFiEspAT (``EspAtDrv.cpp``): reads line by line; ``+C...`` replies
  with ``:`` as terminator; ``+IPD,<id>,<len>`` notices (id one digit, len after
  it); ``>`` alone; ``Recv <n> bytes`` then ``SEND OK``; ``+CIPRECVDATA:`` then
  digits up to ``,`` then exactly that many bytes; CIPSENDEX ended by the two
  characters ``\\0``; link ids handed out from 4 down.
* Zephyr ``drivers/wifi/esp_at``: init list; ``+CWLAP:(`` fields pulled up to
  ``,``/``:``/CR/LF with a quoted SSID; ``+CIPSTA:<key>:"<ip>"``;
  ``+CWJAP:"ssid","bssid",ch,rssi``; ``+CIPRECVDATA:<len>,"<ip>",<port>,<data>``
  after AT+CIPDINFO=1; ``+IPD,<id>,<len>`` with a single-digit link id.
* RT-Thread ``at_device`` (esp32 class): ``AT+CIPSTA?`` by keyword, scanf
  patterns for ``+CWLAP`` and ``+CIPSTATUS``, URCs ``Recv``...``bytes``,
  ``SEND OK``, ``<id>,CLOSED``, ``+IPD,<id>,<len>:``.
* Rust ``esp-at-nal``: URC matcher (``+CIPRECVDATA`` sized by its length,
  ``Recv N bytes``, ``SEND OK``, ``<id>,CONNECT``/``CLOSED``, ``WIFI ...``,
  ``ALREADY CONNECTED``), AT+CIFSR address lines.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from tests.tcpip.conftest import TcpPeer
from tests.wifi.support import world_with

from esp_at_sim import Module

AP = {
    "ssid": "esp-at-sim",
    "password": "espressif",
    "security": "wpa2",
    "channel": 6,
    "rssi": -55,
    "bssid": "aa:bb:cc:00:00:01",
    "subnet": "192.168.1.0/24",
}
OPEN_AP = {"ssid": "cafe", "security": "open", "channel": 1, "rssi": -67, "subnet": "10.10.0.0/24"}


@pytest.fixture
async def esp() -> AsyncIterator[Module]:
    world = world_with(AP, OPEN_AP, dns={"example.test": "127.0.0.1"})
    async with Module.start("esp32c3", world=world) as m:
        yield m


class LineReader:
    """A host's view of the UART: whole lines, or raw bytes, in arrival order."""

    def __init__(self, module: Module) -> None:
        self.host = module.host

    async def line(self, terminator: bytes = b"\n", timeout: float = 30) -> bytes:
        """The next non-empty line without CR/LF (WiFiEspAT skips empty lines)."""
        while True:
            raw = await self.host.read_until(terminator, timeout=timeout)
            text = raw.rstrip(b"\r\n") if terminator == b"\n" else raw
            if text not in (b"", b"\r"):
                return text.lstrip(b"\r\n")

    async def until(self, prefix: bytes, timeout: float = 30, limit: int = 70) -> tuple[bytes, list[bytes]]:
        """Lines up to the first that starts with ``prefix``; what came before."""
        before: list[bytes] = []
        while len(before) <= limit:
            got = await self.line(timeout=timeout)
            if got.startswith(prefix):
                return got, before
            assert got not in (b"ERROR", b"FAIL"), (prefix, before, got)
            before.append(got)
        raise AssertionError(f"more than {limit} lines before {prefix!r}: {before!r}")

    async def ok(self) -> list[bytes]:
        return (await self.until(b"OK"))[1]

    async def command(self, line: str) -> list[bytes]:
        await self.host.send(line)
        return await self.ok()


# ------------------------------------------------------------------ WiFiEspAT
def _wifiespat_cwlap(line: bytes) -> tuple[int, str, int, bytes, int]:
    """listAP(): strtok over ``,:")`` after ``+CWLAP:(``."""
    toks = [t for t in re.split(rb'[,:")]', line[len(b"+CWLAP:(") :]) if t]
    enc, ssid, rssi = int(toks[0]), toks[1].decode(), int(toks[2])
    bssid = bytes(int(t, 16) for t in toks[3:9])
    return enc, ssid, rssi, bssid, int(toks[9])


async def test_wifiespat_init_scan_join_and_status(esp: Module) -> None:
    r = LineReader(esp)
    await esp.host.send("AT+RST")  # reset(): waits for "ready", other lines are ignored (at most 70)
    await r.until(b"ready")
    for cmd in ("ATE0", "AT+CIPMUX=1", "AT+CIPRECVMODE=1", "AT+SYSSTORE=0"):
        await r.command(cmd)
    await esp.host.send("AT+CWMODE?")
    line, _ = await r.until(b"+CWMODE")
    assert line[len(b"+CWMODE:")] - 48 == 1
    await r.ok()

    await esp.host.send("AT+GMR")  # firmwareVersion(): text between "AT version:" and "("
    line, _ = await r.until(b"AT version:")
    version = line[len(b"AT version:") : line.index(b"(")]
    assert re.fullmatch(rb"\d+\.\d+\.\d+\.\d+", version), line
    await r.ok()

    await r.command("AT+CWLAPOPT=1,31")  # sorted by RSSI, first five fields
    await esp.host.send("AT+CWLAP")
    aps = []
    while True:
        line = await r.line()
        if line == b"OK":
            break
        assert line.startswith(b"+CWLAP:("), line
        aps.append(_wifiespat_cwlap(line))
    assert aps == [
        (3, "esp-at-sim", -55, bytes.fromhex("aabbcc000001"), 6),
        (0, "cafe", -67, aps[1][3], 1),
    ]

    await esp.host.send("AT+CIPSTATUS")  # staStatus(): the digit after "STATUS:"
    line, _ = await r.until(b"STATUS")
    assert line[len(b"STATUS:")] - 48 in (1, 5)  # idle station: WL_IDLE_STATUS / WL_DISCONNECTED
    await r.ok()

    urcs = await r.command('AT+CWJAP="esp-at-sim","espressif"')
    assert urcs == [b"WIFI CONNECTED", b"WIFI GOT IP"]
    await esp.host.send("AT+CIPSTATUS")
    line, _ = await r.until(b"STATUS")
    assert line == b"STATUS:2"  # WL_CONNECTED
    await r.ok()

    await esp.host.send("AT+CWDHCP?")  # dhcpStateQuery(): AT2 bit 0 station, bit 1 SoftAP
    line, _ = await r.until(b"+CWDHCP")
    assert (line[len(b"+CWDHCP:")] - 48) & 0b01
    await r.ok()

    await esp.host.send('AT+CIPDOMAIN="example.test"')  # resolve(): quoted on AT2
    line, _ = await r.until(b"+CIPDOMAIN")
    assert line[len(b'+CIPDOMAIN:"') : -1] == b"127.0.0.1"
    await r.ok()

    await esp.host.send("AT+CWJAP?")  # apQuery(): +CWJAP:"ssid","bssid",channel,rssi...
    line, _ = await r.until(b"+CWJAP")
    fields = line[len(b"+CWJAP:") :].split(b",")
    assert fields[:4] == [b'"esp-at-sim"', b'"aa:bb:cc:00:00:01"', b"6", b"-55"]
    await r.ok()


async def test_wifiespat_passive_link_send_receive_close(esp: Module) -> None:
    peer = await TcpPeer(echo=True).start()
    try:
        r = LineReader(esp)
        for cmd in ("ATE0", "AT+CIPMUX=1", "AT+CIPRECVMODE=1", 'AT+CWJAP="esp-at-sim","espressif"'):
            await r.command(cmd)
        before = await r.command(f'AT+CIPSTART=4,"TCP","127.0.0.1",{peer.port}')  # freeLinkId(): from 4 down
        assert before == [b"4,CONNECT"]

        await esp.host.send("AT+CIPSEND=4,5")  # sendData(): ">" then data, "Recv " then "SEND "
        await esp.host.read_until(b">")
        await esp.host.write(b"hello")
        line, _ = await r.until(b"Recv ")
        assert int(line[len(b"Recv ") :].split()[0]) == 5
        line, _ = await r.until(b"SEND ")
        assert line == b"SEND OK"

        line, _ = await r.until(b"+IPD,")  # passive notice: link digit, then length
        assert line[len(b"+IPD,")] - 48 == 4
        available = int(line[len(b"+IPD,") + 2 :])
        assert available == 5

        await esp.host.send("AT+CIPRECVLEN?")  # recvLenQuery(): one field per link
        line, _ = await r.until(b"+CIPRECVLEN")
        fields = line[len(b"+CIPRECVLEN:") :].split(b",")
        assert len(fields) == 5 and int(fields[4]) == 5
        await r.ok()

        await esp.host.send("AT+CIPRECVDATA=4,3")  # recvData(): "+CIPRECVDATA:", len up to ",", bytes
        head = await esp.host.read_until(b":")
        assert head.lstrip(b"\r\n") == b"+CIPRECVDATA:"
        n = int((await esp.host.read_until(b","))[:-1])
        assert await esp.host.read_exactly(n) == b"hel"
        await r.ok()
        await esp.host.send("AT+CIPRECVDATA=4,64")
        line, _ = await r.until(b"+CIPRECVDATA", limit=2)  # a re-notice (+IPD,4,2) may come first
        assert line == b"+CIPRECVDATA:2,lo"
        await r.ok()

        # sendData(callback): CIPSENDEX of the maximum, the data, then the two characters \0
        await esp.host.send("AT+CIPSENDEX=4,2048")
        await esp.host.read_until(b">")
        await esp.host.write(b"streamed")
        await esp.host.write(b"\\0")
        line, _ = await r.until(b"Recv ")
        assert line == b"Recv 8 bytes"
        line, _ = await r.until(b"SEND ")
        assert line == b"SEND OK"
        line, _ = await r.until(b"+IPD,")
        assert line == b"+IPD,4,8"

        # the peer closes with data unread: AT2 says CLOSED only once the data is read
        await peer.wait_bytes(13)
        for w in peer.writers:
            w.close()
        await esp.host.expect_silence(0.5)
        await esp.host.send("AT+CIPRECVDATA=4,64")
        line, _ = await r.until(b"+CIPRECVDATA")
        assert line == b"+CIPRECVDATA:8,streamed"
        await r.ok()
        await r.until(b"4,CLOSED")
    finally:
        await peer.close()


# ------------------------------------------------------------------- Zephyr
def _zephyr_pull(s: bytes) -> tuple[bytes, bytes]:
    """esp_pull(): up to the first , : CR or LF."""
    m = re.search(rb"[,:\r\n]", s)
    assert m is not None, s
    return s[: m.start()], s[m.end() :] if s[m.start() : m.start() + 1] in b",:" else s[m.start() :]


def _zephyr_pull_quoted(s: bytes) -> tuple[bytes, bytes]:
    assert s.startswith(b'"'), s
    end = s.index(b'"', 1)
    rest = s[end + 1 :]
    return s[1:end], rest[1:] if rest.startswith(b",") else rest


async def test_zephyr_init_scan_connect_and_ip_query(esp: Module) -> None:
    r = LineReader(esp)
    # esp_init_work() for AT 2.1+ with DHCP, passive mode and CIPDINFO
    for cmd in (
        "AT",
        "ATE0",
        "AT+UART_CUR=115200,8,1,0,0",
        "AT+GMR",
        "AT+CWDHCP=1,1",
        "AT+CIPMUX=1",
        "AT+CWLAPOPT=0,23",
        "AT+CWMODE=1,0",
        "AT+CWAUTOCONN=0",
        "AT+CWMODE=0,0",
        "AT+CIPRECVMODE=1",
        "AT+CIPDINFO=1",
    ):
        await r.command(cmd)
    await esp.host.send("AT+CIPSTAMAC?")
    line, _ = await r.until(b"+CIPSTAMAC:")
    mac = line[len(b"+CIPSTAMAC:") :].strip(b'"')
    assert re.fullmatch(rb"([0-9a-f]{2}:){5}[0-9a-f]{2}", mac)
    await r.ok()

    # scan: STA lock -> AT+CWMODE=1,0, AT+CWLAP (mask 23: ecn, ssid, rssi, channel), back to mode 0
    await r.command("AT+CWMODE=1,0")
    await esp.host.send("AT+CWLAP")
    results = []
    while (line := await r.line()) != b"OK":
        rest = (line + b"\r\n")[len(b"+CWJAP:(") :]  # the driver skips by the length of "+CWJAP:("
        ecn, rest = _zephyr_pull(rest)
        ssid, rest = _zephyr_pull_quoted(rest)
        rssi, rest = _zephyr_pull(rest)
        channel, rest = _zephyr_pull(rest)
        results.append((int(ecn), ssid, int(rssi), int(re.match(rb"\d+", channel).group())))  # type: ignore[union-attr]
    assert sorted(results) == [(0, b"cafe", -67, 1), (3, b"esp-at-sim", -55, 6)]
    await r.command("AT+CWMODE=0,0")

    # connect: mode 1, then CWJAP with , \ " escaped; FAIL or ERROR end it badly
    await r.command("AT+CWMODE=1,0")
    assert await r.command('AT+CWJAP="esp-at-sim","espressif"') == [b"WIFI CONNECTED", b"WIFI GOT IP"]

    # on WIFI GOT IP: AT+CIPSTA? split at ":" into key and quoted value, AT+CIPDNS?
    await esp.host.send("AT+CIPSTA?")
    ip: dict[bytes, bytes] = {}
    for line in await r.ok():
        assert line.startswith(b"+CIPSTA:"), line
        key, value = line[len(b"+CIPSTA:") :].split(b":", 1)
        ip[key] = value.strip(b'"')
    assert ip[b"ip"].startswith(b"192.168.1.") and ip[b"gateway"] == b"192.168.1.1"
    assert ip[b"netmask"] == b"255.255.255.0"
    await esp.host.send("AT+CIPDNS?")
    (dns,) = await r.ok()
    args = dns[len(b"+CIPDNS:") :].split(b",")
    assert 2 <= len(args) <= 4 and all(a.startswith(b'"') and a.endswith(b'"') for a in args[1:])

    # iface status: +CWJAP: ssid (quoted), bssid (quoted), channel, rssi
    await esp.host.send("AT+CWJAP?")
    (status,) = await r.ok()
    rest = (status + b"\r\n")[len(b"+CWJAP:") :]
    ssid, rest = _zephyr_pull_quoted(rest)
    bssid, rest = _zephyr_pull_quoted(rest)
    channel, rest = _zephyr_pull(rest)
    rssi, rest = _zephyr_pull(rest)
    assert (ssid, bssid, int(channel), int(rssi)) == (b"esp-at-sim", b"aa:bb:cc:00:00:01", 6, -55)


async def test_zephyr_socket_with_passive_receive_and_dinfo(esp: Module) -> None:
    peer = await TcpPeer(echo=True).start()
    try:
        r = LineReader(esp)
        for cmd in ("ATE0", "AT+CIPMUX=1", "AT+CIPRECVMODE=1", "AT+CIPDINFO=1", 'AT+CWJAP="esp-at-sim","espressif"'):
            await r.command(cmd)
        assert await r.command(f'AT+CIPSTART=0,"TCP","127.0.0.1",{peer.port},7200') == [b"0,CONNECT"]
        await esp.host.send("AT+CIPSEND=0,4")
        await esp.host.read_until(b">")
        await esp.host.write(b"ping")
        line, _ = await r.until(b"SEND OK")
        # passive notice: "+IPD," link digit, "," then the length up to CR/LF (no address in passive mode)
        line, _ = await r.until(b"+IPD")
        assert line[4:5] == b"," and line[6:7] == b","
        assert int(line[7:]) == 4
        await esp.host.send("AT+CIPRECVDATA=0,2048")
        raw = await esp.host.read_until(b"\r\nOK\r\n")
        m = re.search(rb'\+CIPRECVDATA:(\d+),"([0-9.]+)",(\d+),', raw)
        assert m is not None, raw
        n = int(m.group(1))
        assert (m.group(2), int(m.group(3))) == (b"127.0.0.1", peer.port)
        assert raw[m.end() : m.end() + n] == b"ping"
        assert raw[m.end() + n :] == b"\r\nOK\r\n"
    finally:
        await peer.close()


# --------------------------------------------------------------- RT-Thread
async def test_rtthread_esp32_netdev_queries_and_socket_urcs(esp: Module) -> None:
    peer = await TcpPeer(echo=True).start()
    try:
        r = LineReader(esp)
        for cmd in ("ATE0", "AT+CWMODE=1", "AT+CIPMUX=1", 'AT+CWJAP="esp-at-sim","espressif"'):
            await r.command(cmd)
        # esp32_get_netdev_info(): STAMAC from CIFSR, ip/gateway/netmask from CIPSTA? by keyword
        expr = re.compile(rb'[^"]*"([^"]*)"')
        lines = await r.command("AT+CIFSR")
        mac_line = next(ln for ln in lines if b"STAMAC" in ln)
        mac = expr.match(mac_line)
        assert mac is not None and len(mac.group(1).split(b":")) == 6
        lines = await r.command("AT+CIPSTA?")
        for key in (b"ip", b"gateway", b"netmask"):
            hit = next(ln for ln in lines if key in ln)
            assert expr.match(hit) is not None
        (dns,) = await r.command("AT+CIPDNS?")
        assert re.match(rb'[^"]*"([^"]*)"', dns)  # "%*[^\"]\"%[^\"]\""
        (dhcp,) = await r.command("AT+CWDHCP?")
        assert re.fullmatch(rb"\+CWDHCP:\d+", dhcp)
        # CWLAP: "%*[^(](%d,\"%31[^\"]\",%d,\"%31[^\"]\",%d)" needs five conversions
        lines = await r.command("AT+CWLAP")
        pattern = re.compile(rb'[^(]*\((-?\d+),"([^"]{1,31})",(-?\d+),"([^"]{1,31})",(-?\d+)')
        assert all(pattern.match(ln) for ln in lines) and len(lines) == 2
        (ping,) = await r.command('AT+PING="127.0.0.1"')  # "+PING:%d" on AT > 1.4
        assert re.fullmatch(rb"\+PING:\d+", ping)
        (domain,) = await r.command('AT+CIPDOMAIN="example.test"')
        assert re.fullmatch(rb'\+CIPDOMAIN:"[^"]+"', domain)

        await r.command(f'AT+CIPSTART=0,"TCP","127.0.0.1",{peer.port},60')
        # esp32_socket_send(): end sign '>' for the CIPSEND reply, then URCs Recv...bytes and SEND OK
        await esp.host.send("AT+CIPSEND=0,6")
        assert (await esp.host.read_until(b">")).endswith(b"OK\r\n\r\n>")
        await esp.host.write(b"rt-thd")
        recv = await esp.host.read_until(re.compile(rb"Recv \d+ bytes\r\n"))
        assert recv.endswith(b"Recv 6 bytes\r\n")
        await r.until(b"SEND OK")
        # active mode: "+IPD,%d,%d:" then exactly that many bytes
        await esp.host.read_until(b"+IPD,")
        head = await esp.host.read_until(b":")
        link, n = (int(x) for x in head[:-1].split(b","))
        assert (link, await esp.host.read_exactly(n)) == (0, b"rt-thd")
        # netstat: "+CIPSTATUS:%*d,\"%[^\"]\",\"%[^\"]\",%d,%d,%*d"
        lines = await r.command("AT+CIPSTATUS")
        stat = re.compile(rb'\+CIPSTATUS:\d+,"([^"]+)","([^"]+)",(\d+),(\d+),\d+')
        rows = [stat.fullmatch(ln) for ln in lines if ln.startswith(b"+CIPSTATUS")]
        assert rows and rows[0] is not None and int(rows[0].group(3)) == peer.port
        # closed by the peer: the URC "<id>,CLOSED" ends with ",CLOSED\r\n"
        for w in peer.writers:
            w.close()
        closed = await esp.host.read_until(b",CLOSED\r\n")
        assert closed.endswith(b"0,CLOSED\r\n")
    finally:
        await peer.close()


# ---------------------------------------------------------------- esp-at-nal
def _nal_urc(line: bytes) -> str:
    """esp-at-nal's line-based URC matcher (a line is CRLF terminated)."""
    if line.startswith(b"WIFI"):
        return line.decode()
    if line in (b"ready", b"SEND OK", b"SEND FAIL", b"ALREADY CONNECTED"):
        return line.decode()
    if line.startswith(b"+IPD"):
        parts = line.split(b",")
        return f"data {int(parts[1])} {int(parts[-1])}"
    if line[1:] in (b",CONNECT", b",CLOSED"):
        return line.decode()
    if line.startswith(b"Recv") and len(line) >= 12:
        return f"recv {int(line[5:-6])}"
    return "unknown"


async def test_esp_at_nal_join_address_socket_and_urcs(esp: Module) -> None:
    peer = await TcpPeer(echo=True).start()
    try:
        r = LineReader(esp)
        await esp.host.send("AT+RST")
        await r.until(b"ready")  # restart(): waits for the ready URC
        await r.command("ATE0")
        await r.command("AT+CWMODE=1")
        urcs = await r.command('AT+CWJAP="esp-at-sim","espressif"')
        assert [_nal_urc(u) for u in urcs] == ["WIFI CONNECTED", "WIFI GOT IP"]
        # get_address(): AT+CIFSR as a list of +CIFSR:<type>,"<address>"
        lines = await r.command("AT+CIFSR")
        types = [ln.split(b",")[0] for ln in lines]
        assert types == [b"+CIFSR:STAIP", b"+CIFSR:STAMAC"]
        for cmd in ("AT+CIPMUX=1", "AT+CIPRECVMODE=1"):
            await r.command(cmd)
        assert [_nal_urc(u) for u in await r.command(f'AT+CIPSTART=0,"TCP","127.0.0.1",{peer.port}')] == ["0,CONNECT"]
        # a second connect on the same link: the driver looks for ALREADY CONNECTED before ERROR
        await esp.host.send(f'AT+CIPSTART=0,"TCP","127.0.0.1",{peer.port}')
        line = await r.line()
        assert _nal_urc(line) == "ALREADY CONNECTED"
        assert await r.line() == b"ERROR"

        await esp.host.send("AT+CIPSEND=0,6")
        await r.ok()
        await esp.host.read_until(b">")
        await esp.host.write(b"hallo!")
        seen = [_nal_urc(await r.line()) for _ in range(3)]
        assert seen == ["recv 6", "SEND OK", "data 0 6"]

        # receive(): AT+CIPRECVDATA=<id>,<len>; the sized matcher takes "+CIPRECVDATA:<len>,<data>"
        await esp.host.send("AT+CIPRECVDATA=0,64")
        raw = (await esp.host.read_until(b"\r\nOK\r\n")).lstrip(b"\r\n")
        assert raw[:12] == b"+CIPRECVDATA" and raw[12:13] == b":"
        sep = raw.index(b",")
        n = int(raw[13:sep])
        assert raw[sep + 1 : sep + 1 + n] == b"hallo!"

        await esp.host.send("AT+CIPCLOSE=0")
        assert _nal_urc(await r.line()) == "0,CLOSED"
        assert await r.line() == b"OK"
    finally:
        await peer.close()
