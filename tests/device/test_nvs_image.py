"""NVS images: the bytes ESP-IDF's generator makes, and reading them back."""

from __future__ import annotations

import hashlib
import struct

import pytest

from esp_at_sim.device.nvs import NvsType
from esp_at_sim.device.nvs_image import PAGE, ImageFull, Item, build_image, parse_image

REFERENCE_ITEMS = [
    Item("factory_param", "version", NvsType.I8, 4),
    Item("factory_param", "module_name", NvsType.STR, "MINI-1"),
    Item("factory_param", "max_tx_power", NvsType.I8, 78),
    Item("factory_param", "uart_baudrate", NvsType.I32, 115200),
    Item("factory_param", "sys_store", NvsType.U8, 1),
    Item("factory_param", "u16", NvsType.U16, 65535),
    Item("factory_param", "i16", NvsType.I16, -32768),
    Item("factory_param", "u32", NvsType.U32, 4294967295),
    Item("client_cert", "client_cert.0", NvsType.BLOB, bytes(range(34))),
    Item("client_cert", "big", NvsType.BLOB, bytes(i % 256 for i in range(5000))),
    Item("client_cert", "long", NvsType.STR, "y" * 3000),
]
# sha256 of what `python -m esp_idf_nvs_partition_gen generate ref.csv ref.bin 0x4000`
# (esp-idf-nvs-partition-gen 0.3.0) produces for REFERENCE_ITEMS written as a CSV
# (the blob spans two pages, the long string fills most of a page)
REFERENCE_SHA256 = "562d57315cda12337cbc7c9ca9aded9b68a0034174aed7bde7b5a1d1ca19c346"


def test_image_is_byte_identical_to_the_idf_generator() -> None:
    image = build_image(REFERENCE_ITEMS, 0x4000)
    assert hashlib.sha256(image).hexdigest() == REFERENCE_SHA256


def test_parse_gives_the_items_back() -> None:
    assert parse_image(build_image(REFERENCE_ITEMS, 0x4000)) == REFERENCE_ITEMS


def test_erased_and_corrupt_entries_are_skipped() -> None:
    image = bytearray(build_image(REFERENCE_ITEMS[:3], PAGE * 2))
    # mark entry 1 ("version") erased: bitmap bits 2-3 of the first page -> 00
    image[32] &= 0b11110011
    # break the CRC of the "module_name" entry (slot 2)
    image[64 + 2 * 32 + 10] ^= 0xFF
    assert parse_image(bytes(image)) == [REFERENCE_ITEMS[2]]


def test_an_erased_or_blank_image_has_nothing() -> None:
    assert parse_image(b"\xff" * PAGE * 3) == []
    assert parse_image(bytes(PAGE)) == []


def test_a_later_value_of_a_key_wins() -> None:
    first = build_image([Item("ns", "k", NvsType.U8, 1)], PAGE)
    second = build_image([Item("ns", "k", NvsType.U8, 2)], PAGE)
    # page 2 with a higher sequence number
    page = bytearray(second[:PAGE])
    struct.pack_into("<I", page, 4, 5)
    import zlib

    struct.pack_into("<I", page, 28, zlib.crc32(bytes(page[4:28]), 0xFFFFFFFF) & 0xFFFFFFFF)
    assert parse_image(first[:PAGE] + bytes(page)) == [Item("ns", "k", NvsType.U8, 2)]


def test_too_much_for_the_partition() -> None:
    with pytest.raises(ImageFull):
        build_image([Item("ns", "blob", NvsType.BLOB, bytes(3 * PAGE))], 2 * PAGE)
