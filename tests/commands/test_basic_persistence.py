"""What survives a power cycle: two module instances on the same state directory.

The first instance is configured and stopped (power off); the second one boots
from the same NVS file, flash images and OTA state, as a board does when it is
unplugged and plugged in again.
"""

from __future__ import annotations

from pathlib import Path

from esp_at_sim import Module


async def _cmd(m: Module, line: str) -> bytes:
    reply = await m.host.command(line)
    assert reply.ok, reply.raw
    return reply.raw


async def test_sysstore_1_saves_and_0_does_not(tmp_path: Path) -> None:
    async with Module.start("esp32c3", name="board", state_dir=tmp_path) as m:
        await _cmd(m, "ATE0")
        await _cmd(m, "AT+SYSMSG=3")  # saved: SYSSTORE=1 by default
        await _cmd(m, "AT+SYSSTORE=0")
        await _cmd(m, "AT+SYSMSG=5")  # RAM only
        assert b"+SYSMSG:5" in await _cmd(m, "AT+SYSMSG?")
    async with Module.start("esp32c3", name="board", state_dir=tmp_path) as m:
        await _cmd(m, "ATE0")
        assert b"+SYSSTORE:0" in await _cmd(m, "AT+SYSSTORE?")  # the mode itself is kept
        assert b"+SYSMSG:3" in await _cmd(m, "AT+SYSMSG?")
        await _cmd(m, "AT+SYSSTORE=1")
        await _cmd(m, "AT+SYSMSG=6")
    async with Module.start("esp32c3", name="board", state_dir=tmp_path) as m:
        await _cmd(m, "ATE0")
        assert b"+SYSMSG:6" in await _cmd(m, "AT+SYSMSG?")
        assert m.settings.stored("base", "sysmsg") == 6


async def test_uart_def_survives_and_uart_cur_does_not(tmp_path: Path) -> None:
    changes: list[int] = []
    async with Module.start("esp32c3", name="board", state_dir=tmp_path) as m:
        m.on_uart_change.append(changes.append)
        await _cmd(m, "ATE0")
        await _cmd(m, "AT+UART_DEF=460800,8,1,0,3")
        assert m.uart_baud == 460800
        await _cmd(m, "AT+UART_CUR=9600,8,1,0,0")
        assert m.uart_baud == 9600
    assert changes == [460800, 9600]
    async with Module.start("esp32c3", name="board", state_dir=tmp_path) as m:
        assert m.uart_baud == 460800
        await _cmd(m, "ATE0")
        assert b"+UART_DEF:460800,8,1,0,3\r\n" in await _cmd(m, "AT+UART_DEF?")
        # the divider is 40 MHz * 16 // 460800 = 1388 sixteenths: the hardware runs at 461095
        assert b"+UART_CUR:461095,8,1,0,3\r\n" in await _cmd(m, "AT+UART_CUR?")
        await _cmd(m, "AT+RESTORE")
        await m.host.read_until(b"ready\r\n")
        assert m.uart_baud == 115200


async def test_uart_def_is_saved_even_with_sysstore_0(tmp_path: Path) -> None:
    async with Module.start("esp32c3", name="board", state_dir=tmp_path) as m:
        await _cmd(m, "AT+SYSSTORE=0")
        await _cmd(m, "AT+UART_DEF=230400,8,1,0,0")
    async with Module.start("esp32c3", name="board", state_dir=tmp_path) as m:
        assert m.uart_baud == 230400


async def test_savetranslink_is_saved_whatever_sysstore_says(tmp_path: Path) -> None:
    async with Module.start("esp32c3", name="board", state_dir=tmp_path) as m:
        await _cmd(m, "AT+SYSSTORE=0")
        await _cmd(m, 'AT+SAVETRANSLINK=1,"192.168.6.110",1002,"UDP",1005')
        await _cmd(m, "AT+TRANSINTVL=100")
    async with Module.start("esp32c3", name="board", state_dir=tmp_path) as m:
        link = m.settings.get("trans", "link")
        assert link == {"mode": 1, "type": "UDP", "host": "192.168.6.110", "port": 1002, "local_port": 1005}
        # the send interval is RAM state
        assert b"+TRANSINTVL:20" in await _cmd(m, "AT+TRANSINTVL?")


async def test_mfg_nvs_and_flash_partitions_persist(tmp_path: Path) -> None:
    async with Module.start("esp32c3", name="board", state_dir=tmp_path) as m:
        await _cmd(m, "ATE0")
        await m.host.send('AT+SYSMFG=2,"my_ns","greeting",7,5')
        await m.host.read_until(b">")
        await m.host.write(b"hello")
        await m.host.read_until(b"OK\r\n")
        await m.host.send('AT+SYSFLASH=1,"fs_storage",8192,3')
        await m.host.read_until(b">")
        await m.host.write(b"abc")
        await m.host.read_until(b"OK\r\n")
    async with Module.start("esp32c3", name="board", state_dir=tmp_path) as m:
        await _cmd(m, "ATE0")
        assert b'+SYSMFG:"my_ns","greeting",7,5,hello\r\n' in await _cmd(m, 'AT+SYSMFG=1,"my_ns","greeting"')
        assert b"+SYSFLASH:4,abc\xff\r\n" in await _cmd(m, 'AT+SYSFLASH=2,"fs_storage",8192,4')


async def test_restore_erases_user_nvs_but_not_mfg(tmp_path: Path) -> None:
    async with Module.start("esp32c3", name="board", state_dir=tmp_path) as m:
        await _cmd(m, "AT+SYSMSG=1")
        await _cmd(m, 'AT+SYSMFG=2,"my_ns","n",1,7')
        await m.host.send("AT+RESTORE")
        await m.host.read_until(b"ready\r\n")
    async with Module.start("esp32c3", name="board", state_dir=tmp_path) as m:
        await _cmd(m, "ATE0")
        assert b"+SYSMSG:0" in await _cmd(m, "AT+SYSMSG?")
        assert b'+SYSMFG:"my_ns","n",1,1,7' in await _cmd(m, 'AT+SYSMFG=1,"my_ns","n"')
