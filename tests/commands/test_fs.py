"""AT+FS / AT+FSMOUNT: a host stores, reads and lists files on the module."""

from __future__ import annotations

import hashlib
from pathlib import Path

from esp_at_sim import Module
from esp_at_sim.services.fs import volume
from host_setup import quiet


async def test_write_read_size_list_md5_delete(module: Module) -> None:
    h = module.host
    await quiet(module, syslog=True)
    await h.send('AT+FS=1,1,"cert.pem",0,10')
    await h.expect(b"\r\nOK\r\n\r\n>")
    await h.write(b"0123456789")
    await h.expect(b"\r\nOK\r\n")
    # write 4 bytes at offset 100 of the same file: the gap reads as zeros
    await h.send('AT+FS=1,1,"cert.pem",100,4')
    await h.expect(b"\r\nOK\r\n\r\n>")
    await h.write(b"tail")
    await h.expect(b"\r\nOK\r\n")
    await h.send('AT+FS=1,3,"cert.pem"')
    await h.expect(b"+FS:104\r\n\r\nOK\r\n")
    await h.send('AT+FS=1,2,"cert.pem",0,12')
    await h.expect(b"+FS:12,0123456789\x00\x00\r\n\r\nOK\r\n")
    # a read past the end returns what there is
    await h.send('AT+FS=1,2,"cert.pem",98,100')
    await h.expect(b"+FS:6,\x00\x00tail\r\n\r\nOK\r\n")
    await h.send('AT+FS=1,4,"."')
    await h.expect(b"+FS:cert.pem \r\n\r\nOK\r\n")
    digest = hashlib.md5(b"0123456789" + bytes(90) + b"tail").hexdigest()
    await h.send('AT+FS=1,5,"cert.pem"')
    await h.expect(f"+FS:{digest}\r\n\r\nOK\r\n".encode())
    await h.send('AT+FS=1,0,"cert.pem"')
    await h.expect(b"\r\nOK\r\n")
    await h.send('AT+FS=1,3,"cert.pem"')
    await h.expect(b"ERR CODE:0x010a0000\r\n\r\nERROR\r\n")
    await h.send('AT+FS=1,0,"cert.pem"')
    await h.expect(b"ERR CODE:0x010a0000\r\n\r\nERROR\r\n")


async def test_space_query_and_full_volume(module: Module) -> None:
    h = module.host
    await quiet(module, syslog=True)
    total = 100 * 1024  # the ESP32-C3's fs_storage partition
    await h.send("AT+FS=1,6")
    await h.expect(f"+FS:{total - 8192},{total}\r\n\r\nOK\r\n".encode())
    # a write that does not fit is refused before the prompt
    await h.send(f'AT+FS=1,1,"big",0,{total}')
    await h.expect(b"ERR CODE:0x010a0000\r\n\r\nERROR\r\n")
    await h.send('AT+FS=1,1,"a",0,5000')
    await h.expect(b"\r\nOK\r\n\r\n>")
    await h.write(b"x" * 5000)
    await h.expect(b"\r\nOK\r\n")
    await h.send("AT+FS=1,6")
    await h.expect(f"+FS:{total - 8192 - 8192},{total}\r\n\r\nOK\r\n".encode())


async def test_bad_parameters(module: Module) -> None:
    h = module.host
    await quiet(module, syslog=True)
    await h.send('AT+FS=0,4,"."')  # FATFS on a LittleFS build
    await h.expect(b"ERR CODE:0x01070000\r\n\r\nERROR\r\n")
    await h.send('AT+FS=1,2,"x"')  # read needs offset and length
    await h.expect(b"ERR CODE:0x01060503\r\n\r\nERROR\r\n")
    await h.send('AT+FS=1,7,"x"')
    await h.expect(b"ERR CODE:0x01070001\r\n\r\nERROR\r\n")
    await h.send('AT+FS=1,4,"sub"')
    await h.expect(b"ERR CODE:0x010a0000\r\n\r\nERROR\r\n")
    await h.send('AT+FS=1,1,"a/b",0,3')
    await h.expect(b"ERR CODE:0x010a0000\r\n\r\nERROR\r\n")
    await h.send("AT+FSMOUNT=2")
    await h.expect(b"ERR CODE:0x01070000\r\n\r\nERROR\r\n")


async def test_mount_holds_ram_and_unmount_returns_it(module: Module) -> None:
    h = module.host
    await quiet(module, syslog=True)
    before = module.heap.free
    await h.send("AT+FSMOUNT=1")
    await h.expect(b"\r\nOK\r\n")
    assert module.heap.free < before
    await h.send('AT+FS=1,4,"."')
    await h.expect(b"+FS:\r\n\r\nOK\r\n")
    await h.send("AT+FSMOUNT=0")
    await h.expect(b"\r\nOK\r\n")
    assert module.heap.free == before


async def test_files_survive_reboot_and_restart(tmp_path: Path) -> None:
    async with Module.start("esp32", state_dir=tmp_path) as m:
        await m.host.send('AT+FS=1,1,"keep.txt",0,5')
        await m.host.read_until(b">")
        await m.host.write(b"hello")
        await m.host.read_until(b"OK\r\n")
        await m.host.send("AT+RST")
        await m.host.read_until(b"ready\r\n")
        r = await m.host.command('AT+FS=1,2,"keep.txt",0,5')
        assert b"+FS:5,hello\r\n" in r.raw
    assert (tmp_path / "esp0.fs" / "keep.txt").read_bytes() == b"hello"
    async with Module.start("esp32", state_dir=tmp_path) as m:
        r = await m.host.command('AT+FS=1,4,"."')
        assert b"+FS:keep.txt \r\n" in r.raw
        assert volume(m).read("keep.txt") == b"hello"


async def test_fs_absent_on_esp8266() -> None:
    async with Module.start("esp8266") as m:
        r = await m.host.command("AT+FS=1,6")
        assert r.final == b"ERROR"
