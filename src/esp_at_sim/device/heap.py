"""The emulated heap: a budget that links, buffers, TLS sessions and BLE
connections allocate from.

It does not mirror Python memory; it models what the firmware would spend so
that ``AT+SYSRAM`` moves the way it does on a chip and exhaustion fails the
operation the way the firmware does (``alloc failed``), never with a Python
crash. Sizes per kind of object are in :data:`COSTS`.
"""

from __future__ import annotations

from dataclasses import dataclass

from esp_at_sim.errors import HeapExhausted

# Approximate per-object costs on the chip, in bytes.
COSTS: dict[str, int] = {
    "tcp_link": 2_300,  # lwIP pcb + socket + AT link bookkeeping
    "udp_link": 1_200,
    "tls_session": 36_000,  # mbedTLS context with 16 KiB record buffers
    "server": 1_500,
    "ble_conn": 4_000,
    "ble_service": 600,
    "mqtt_client": 9_000,
    "http_client": 6_000,
    "ws_client": 8_000,
    "filter": 512,
}

MIN_BLOCK_FRACTION = 0.75  # largest free block relative to free memory


@dataclass
class Allocation:
    heap: Heap
    size: int
    tag: str
    freed: bool = False

    def free(self) -> None:
        if not self.freed:
            self.freed = True
            self.heap._release(self)

    def __enter__(self) -> Allocation:
        return self

    def __exit__(self, *exc: object) -> None:
        self.free()


class Heap:
    def __init__(self, total: int, free_at_boot: int) -> None:
        self.total = total
        self.baseline = free_at_boot
        self.used = 0
        self.min_free = free_at_boot
        self._live: dict[int, Allocation] = {}

    @property
    def free(self) -> int:
        return self.baseline - self.used

    @property
    def largest_block(self) -> int:
        return int(self.free * MIN_BLOCK_FRACTION) & ~0x3

    def alloc(self, size: int, tag: str) -> Allocation:
        """Take ``size`` bytes or raise :class:`HeapExhausted`.

        A reserve of 10 KiB is kept, as the firmware's Wi-Fi and TCP stacks fail
        before the heap reaches zero.
        """
        if self.free - size < 10 * 1024:
            raise HeapExhausted(size, self.free, tag)
        a = Allocation(self, size, tag)
        self.used += size
        self.min_free = min(self.min_free, self.free)
        self._live[id(a)] = a
        return a

    def alloc_kind(self, kind: str, extra: int = 0) -> Allocation:
        return self.alloc(COSTS[kind] + extra, kind)

    def _release(self, a: Allocation) -> None:
        if self._live.pop(id(a), None) is not None:
            self.used -= a.size

    def live(self) -> list[Allocation]:
        return list(self._live.values())

    def reset(self) -> None:
        """Power cycle: everything freed, minimum recorded anew."""
        for a in list(self._live.values()):
            a.freed = True
        self._live.clear()
        self.used = 0
        self.min_free = self.baseline
