"""Hash slots: which of the 16384 slots a key belongs to, and who owns it.

A key's slot is CRC16-XMODEM of the key, or of the first non-empty
``{hash tag}`` in it, modulo 16384 -- Redis Cluster's definition.
``binascii.crc_hqx(data, 0)`` is exactly CRC16-XMODEM, computed in C.

This is the one slot function: the shard uses it as is, and the proxy's hot
path inlines only its no-tag case (``crc_hqx(key, 0) & SLOT_MASK``);
tests/unit/test_slots.py routes thousands of keys through both proxy paths
to check that they agree with :func:`key_slot`.
"""

from __future__ import annotations

from binascii import crc_hqx

SLOT_COUNT = 16384
SLOT_MASK = SLOT_COUNT - 1


def key_slot(key: bytes) -> int:
    if b"{" in key:
        start = key.index(b"{")
        end = key.find(b"}", start + 1)
        if end > start + 1:
            key = key[start + 1 : end]
    return crc_hqx(key, 0) & SLOT_MASK


def split_slots(shards: int) -> list[tuple[int, int]]:
    """Contiguous, near-equal slot ranges (inclusive), one per shard."""
    if shards < 1 or shards > SLOT_COUNT:
        raise ValueError("shard count must be 1..16384")
    ranges = []
    for i in range(shards):
        start = i * SLOT_COUNT // shards
        end = (i + 1) * SLOT_COUNT // shards - 1
        ranges.append((start, end))
    return ranges


class SlotMap:
    """Slot -> shard index as a flat list, built once from the slot ranges."""

    __slots__ = ("ranges", "owner")

    def __init__(self, ranges: list[tuple[int, int]]):
        self.ranges = ranges
        owner = [0] * SLOT_COUNT
        for shard, (start, end) in enumerate(ranges):
            owner[start : end + 1] = [shard] * (end - start + 1)
        self.owner = owner

    def shard_of_key(self, key: bytes) -> int:
        return self.owner[key_slot(key)]

    def shard_of_slot(self, slot: int) -> int:
        return self.owner[slot]

    def __len__(self):
        return len(self.ranges)
