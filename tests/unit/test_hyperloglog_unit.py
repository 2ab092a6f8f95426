"""The HLL representation code without a server: the vectorised pieces
against plain one-at-a-time versions of the same rules (the differential
tests compare the results with redis-server itself)."""

import random

import pytest

from shardnode import hyperloglog as hll


def _naive_locate(buf, index):
    """hllSparseSet's opcode search, one opcode at a time."""
    pos, first, prev = hll.HEADER, 0, None
    while pos < len(buf):
        op = buf[pos]
        if op < 0x40:
            span, size = op + 1, 1
        elif op < 0x80:
            span, size = hll._xzero_run(buf, pos), 2
        else:
            span, size = (op & 3) + 1, 1
        if index < first + span:
            return pos, prev, first, span
        prev, first, pos = pos, first + span, pos + size
    return None


def _random_sparse(rng, elements, max_bytes=1 << 20):
    buf = bytearray(hll.EMPTY)
    for _ in range(elements):
        index, count = hll.element_register(b"%d" % rng.getrandbits(48))
        hll.sparse_set(buf, index, count, max_bytes)
    return buf


@pytest.mark.parametrize("elements", [0, 1, 5, 40, 200, 1000, 3000])
def test_locate_matches_the_opcode_walk(elements):
    rng = random.Random(elements)
    buf = _random_sparse(rng, elements)
    assert buf[4] == hll.SPARSE
    for index in list(range(0, 16384, 37)) + [0, 16383, 16384, 20000]:
        found = hll._locate(buf, index)
        naive = _naive_locate(buf, index)
        assert (found and found[:4]) == naive, index


def test_locate_on_corrupted_opcodes():
    for tail in (b"", b"\x7f", b"\x7f\xfe\x00\x7f", b"\x00" * 10, b"\x80\x41", b"\x7f\xff\x83"):
        buf = hll.EMPTY[:hll.HEADER] + tail
        for index in (0, 1, 63, 16383, 16384, 17000):
            found = hll._locate(buf, index)
            assert (found and found[:4]) == _naive_locate(buf, index), (tail, index)


@pytest.mark.parametrize("seed", range(6))
def test_increasing_sets_from_a_checkpoint_equal_full_searches(seed):
    """PFMERGE's cursor gives the same bytes as searching from the start."""
    rng = random.Random(seed)
    start = _random_sparse(rng, rng.choice([0, 10, 300]))
    registers = sorted({rng.randrange(16384): rng.choice([1, 1, 2, 3, rng.randint(1, 32)])
                        for _ in range(rng.choice([5, 100, 1500]))}.items())
    with_cursor, without = bytearray(start), bytearray(start)
    cursor = [None]
    for index, count in registers:
        hll.sparse_set(with_cursor, index, count, 1 << 20, cursor)
        hll.sparse_set(without, index, count, 1 << 20)
        assert with_cursor == without


def test_dense_packing_round_trips():
    rng = random.Random(7)
    raw = bytes(rng.getrandbits(6) for _ in range(hll.REGISTERS))
    dense = bytearray(hll.HEADER) + hll.pack_dense(raw)
    assert len(dense) == hll.DENSE_SIZE
    assert hll.unpack_dense(dense) == raw
    for index in (0, 1, 2, 3, 4, 5000, 16382, 16383):
        assert hll.dense_get(dense, index) == raw[index]
    # The 6-bit layout itself: register i at bit 6 * i, least significant first.
    packed = int.from_bytes(dense[hll.HEADER:], "little")
    assert all((packed >> (6 * i)) & 63 == raw[i] for i in range(0, hll.REGISTERS, 61))
    assert hll.dense_set(dense, 16383, 63) == (raw[16383] != 63)
    assert hll.dense_get(dense, 16383) == 63 and hll.dense_get(dense, 16382) == raw[16382]


def test_register_maximum():
    rng = random.Random(8)
    a = bytes(rng.randrange(64) for _ in range(hll.REGISTERS))
    b = bytes(rng.randrange(64) for _ in range(hll.REGISTERS))
    assert hll.raw_max(a, b) == bytes(map(max, a, b))


def test_histogram_of_every_register_value():
    raw = bytes(i % 64 for i in range(hll.REGISTERS))
    assert hll.raw_histogram(raw) == [256] * 64
    assert hll.raw_histogram(bytes(hll.REGISTERS)) == [16384] + [0] * 63


def test_murmur_and_register_choice():
    """MurmurHash64A's word loop and every tail length agree with a plain
    transcription; the register is the low 14 bits, the count the run of
    zeros above them plus one."""
    m, mask = 0xC6A4A7935BD1E995, (1 << 64) - 1

    def plain(data, seed=0xADC83B19):
        h = (seed ^ (len(data) * m)) & mask
        i = 0
        while len(data) - i >= 8:
            k = int.from_bytes(data[i:i + 8], "little") * m & mask
            k ^= k >> 47
            k = k * m & mask
            h = (h ^ k) * m & mask
            i += 8
        if len(data) - i:
            h = (h ^ int.from_bytes(data[i:], "little")) * m & mask
        h ^= h >> 47
        h = h * m & mask
        return h ^ (h >> 47)

    for n in range(0, 40):
        data = bytes(range(n))
        assert hll.murmur64a(data) == plain(data)
    h = hll.murmur64a(b"hello")
    index, count = hll.element_register(b"hello")
    assert index == h & 16383
    rest = h >> 14
    assert count == (51 if rest == 0 else (rest & -rest).bit_length())


def test_estimate_edges():
    assert hll.estimate([16384] + [0] * 63) == 0
    one = [16383, 1] + [0] * 62
    assert hll.estimate(one) == 1
    full = [0] * 64
    full[51] = 16384  # every register at Q + 1: tau(0) = 0 and sigma(0) = 0
    assert hll.estimate(full) == 1 << 63  # llroundl's overflow, as Redis keeps it
    assert hll.count_reply(1 << 63) == -(1 << 63)
    assert hll.count_reply(12345) == 12345


def test_sparse_histogram_matches_the_opcode_walk():
    rng = random.Random(9)
    values = [_random_sparse(rng, n) for n in (0, 3, 100, 1500)]
    values += [hll.EMPTY[:hll.HEADER] + tail for tail in (b"", b"\x7f", b"\x7f\xfe\x00\x7f",
                                                           b"\x7f\xff\x80", b"\x7f\xfe\x40")]
    for value in values:
        histogram = [0] * 64
        for _, register, run in hll.sparse_runs(value):
            histogram[register] += run
        expected = histogram if sum(histogram) == hll.REGISTERS else None
        assert hll.histogram_of(bytes(value)) == expected


def test_sparse_registers_match_the_opcode_walk():
    rng = random.Random(10)
    values = [_random_sparse(rng, n) for n in (0, 3, 100, 1500)]
    values += [hll.EMPTY[:hll.HEADER] + tail for tail in (b"", b"\x7f", b"\x7f\xfe\x00\x7f",
                                                           b"\x7f\xff\x80", b"\x7f\xfe\x40",
                                                           b"\x7f\xff" * 5000)]
    for value in values:
        raw = b"".join(bytes((register,)) * run for _, register, run in hll.sparse_runs(value))
        assert hll.sparse_registers(value) == (raw if len(raw) == hll.REGISTERS else None)
