"""HyperLogLog commands (Redis's hyperloglog.c) on string values.

An HLL is an ordinary string holding Redis's exact representation, so GET
returns Redis's bytes, a value made by either server counts on the other,
and DUMP/RESTORE and cross-shard moves need nothing of their own:

- a 16-byte header: ``HYLL``, the encoding byte (0 dense, 1 sparse), three
  unused bytes, and the cached cardinality as 8 little-endian bytes whose
  top bit (of the last byte) marks the cache invalid;
- dense: 16384 registers of 6 bits, packed least significant bit first
  (four registers in three bytes), 12304 bytes in all;
- sparse: run-length opcodes, ``00xxxxxx`` ZERO (1..64 zero registers),
  ``01xxxxxx yyyyyyyy`` XZERO (1..16384), ``1vvvvvxx`` VAL (1..4 registers
  of value 1..32).  An update splits the opcode it falls in and merges equal
  VAL neighbours, in exactly Redis's steps, so the bytes come out the same;
  a value over 32, or a string that would grow past
  ``hll_sparse_max_bytes``, promotes it to dense for good.

Elements hash with MurmurHash64A (seed 0xadc83b19): the low 14 bits pick a
register, the run of zeros above them (plus one) is its candidate value.
The count is Otmar Ertl's estimator from the register histogram, evaluated in
the same floating-point order as Redis so that the integer matches.

Speed, with the registers in Python: a sparse opcode is found by slicing the
string at its two-byte XZERO opcodes and summing the run lengths of the
one-byte opcodes between them through a ``bytes.translate`` table (C speed)
instead of a Python loop per opcode; dense registers are unpacked to one
byte each, and packed back, with a few big-integer mask-and-shift steps, so
PFCOUNT's histogram is a handful of ``bytes.count`` calls and the register
maximum of PFCOUNT/PFMERGE over several keys is big-integer arithmetic.
"""

from __future__ import annotations

import re
from math import ceil, sqrt
from bisect import bisect_right
from itertools import accumulate

from cluster import errors
from cluster.errors import CommandError
from shardnode.journal import journal_as
from shardnode.notify import key_misses
from shardnode.registry import handler

HEADER = 16  # HLL_HDR_SIZE
REGISTERS = 16384  # HLL_REGISTERS (2 ** HLL_P)
P = 14  # HLL_P
Q = 64 - P  # HLL_Q: bits left after the register index
DENSE, SPARSE = 0, 1
DENSE_SIZE = HEADER + REGISTERS * 6 // 8  # 12304
SPARSE_VAL_MAX = 32  # HLL_SPARSE_VAL_MAX_VALUE
SPARSE_VAL_MAX_LEN = 4
SPARSE_ZERO_MAX_LEN = 64
MAGIC = b"HYLL"
# createHLLObject: a sparse HLL whose one XZERO opcode covers every register.
EMPTY = MAGIC + bytes((SPARSE,)) + bytes(11) + b"\x7f\xff"
_INVALID_CACHE = 0x80  # in byte 15, the last of the cached cardinality
ALPHA_INF = 0.721347520444481703680  # 0.5 / ln(2), HLL_ALPHA_INF

_WRONGTYPE = CommandError(errors.HLL_WRONGTYPE)
_INVALIDOBJ = CommandError(errors.HLL_CORRUPTED)

# -- hashing -------------------------------------------------------------------

_M = 0xC6A4A7935BD1E995
_U64 = (1 << 64) - 1
_SEED = 0xADC83B19


def murmur64a(data: bytes, seed: int = _SEED) -> int:
    """MurmurHash64A as Redis has it (little-endian word reads everywhere)."""
    n = len(data)
    h = (seed ^ (n * _M)) & _U64
    whole = n & ~7
    for offset in range(0, whole, 8):
        k = (int.from_bytes(data[offset:offset + 8], "little") * _M) & _U64
        k ^= k >> 47
        h ^= (k * _M) & _U64
        h = (h * _M) & _U64
    if n & 7:
        h ^= int.from_bytes(data[whole:], "little")
        h = (h * _M) & _U64
    h ^= h >> 47
    h = (h * _M) & _U64
    return h ^ (h >> 47)


def element_register(element: bytes) -> tuple:
    """hllPatLen: (register index, run of zeros + 1) for one element."""
    h = murmur64a(element)
    rest = (h >> P) | (1 << Q)  # the set bit ends the run at Q + 1 at most
    return h & (REGISTERS - 1), (rest & -rest).bit_length()


# -- validation ----------------------------------------------------------------


def check_hll(value: bytes) -> None:
    """isHLLObjectOrReply, after the type check: header and dense length."""
    if len(value) < HEADER or value[:4] != MAGIC or value[4] > SPARSE or \
            value[4] == DENSE and len(value) != DENSE_SIZE:
        raise _WRONGTYPE


def cached_count(value: bytes):
    """The cached cardinality, or None when the cache is marked invalid."""
    if value[15] & _INVALID_CACHE:
        return None
    return int.from_bytes(value[8:16], "little")


# -- dense registers -------------------------------------------------------------

# Masks over 4-byte groups: unpacking spreads each 24-bit group of four 6-bit
# registers into four bytes; packing gathers them back.
_GROUPS = REGISTERS // 4
_LANE = [int.from_bytes((0x3F << (8 * i)).to_bytes(4, "little") * _GROUPS, "little")
         for i in range(4)]
_PACKED_LANE = [int.from_bytes((0x3F << (6 * i)).to_bytes(4, "little") * _GROUPS, "little")
                for i in range(4)]
_HIGH_BITS = int.from_bytes(b"\x80" * REGISTERS, "little")
_LOW_BITS = int.from_bytes(b"\x01" * REGISTERS, "little")


def unpack_dense(hll) -> bytes:
    """The registers of a dense HLL (header included) as 16384 bytes, one
    per register."""
    spread = bytearray(4 * _GROUPS)
    spread[0::4] = hll[HEADER::3]
    spread[1::4] = hll[HEADER + 1::3]
    spread[2::4] = hll[HEADER + 2::3]
    x = int.from_bytes(spread, "little")
    out = (x & _LANE[0]) | ((x << 2) & _LANE[1]) | ((x << 4) & _LANE[2]) \
        | ((x << 6) & _LANE[3])
    return out.to_bytes(REGISTERS, "little")


def pack_dense(raw) -> bytearray:
    """The inverse of :func:`unpack_dense` (every register must be < 64)."""
    x = int.from_bytes(raw, "little")
    out = (x & _PACKED_LANE[0]) | ((x >> 2) & _PACKED_LANE[1]) \
        | ((x >> 4) & _PACKED_LANE[2]) | ((x >> 6) & _PACKED_LANE[3])
    spread = out.to_bytes(4 * _GROUPS, "little")
    packed = bytearray(REGISTERS * 6 // 8)
    packed[0::3] = spread[0::4]
    packed[1::3] = spread[1::4]
    packed[2::3] = spread[2::4]
    return packed


def dense_get(buf, index: int) -> int:
    at = HEADER + (index * 6 >> 3)
    return (int.from_bytes(buf[at:at + 2], "little") >> (index * 6 & 7)) & 0x3F


def dense_set(buf: bytearray, index: int, count: int) -> int:
    """hllDenseSet: raise the register to ``count``; 1 if it changed."""
    at = HEADER + (index * 6 >> 3)
    shift = index * 6 & 7
    pair = int.from_bytes(buf[at:at + 2], "little")
    if ((pair >> shift) & 0x3F) >= count:
        return 0
    pair = (pair & ~(0x3F << shift)) | (count << shift)
    if at + 1 < len(buf):
        buf[at:at + 2] = pair.to_bytes(2, "little")
    else:  # the last register lies wholly in the last byte
        buf[at] = pair & 0xFF
    return 1


def raw_max(a: bytes, b: bytes) -> bytes:
    """Register-wise maximum of two one-byte-per-register arrays (< 128
    each): per byte, 0x80 + a - b never borrows from its neighbour and keeps
    its top bit exactly when a >= b."""
    x = int.from_bytes(a, "little")
    y = int.from_bytes(b, "little")
    a_wins = (((x | _HIGH_BITS) - y) & _HIGH_BITS) >> 7
    select = (a_wins << 8) - a_wins  # 0xff where a >= b
    return ((x & select) | (y & ~select)).to_bytes(REGISTERS, "little")


# -- sparse opcodes --------------------------------------------------------------

# An XZERO opcode; a cut-off one at the very end too (see _xzero_run).
_XZERO_OPCODE = re.compile(rb"[\x40-\x7f](?:.|\Z)", re.S)
# Registers covered by a one-byte opcode (ZERO or VAL); XZERO bytes map to 0.
_RUN = bytes((b & 0x3F) + 1 if b < 0x40 else (b & 3) + 1 if b >= 0x80 else 0
             for b in range(256))


def _val(value: int, run: int) -> int:
    return 0x80 | (value - 1) << 2 | (run - 1)


def _zero_run(run: int) -> bytes:
    """A ZERO opcode, or an XZERO one for runs over 64."""
    if run > SPARSE_ZERO_MAX_LEN:
        return bytes((0x40 | (run - 1) >> 8, (run - 1) & 0xFF))
    return bytes((run - 1,))


def _xzero_run(buf, at: int) -> int:
    # A cut-off XZERO reads the terminating NUL of Redis's string as 0.
    low = buf[at + 1] if at + 1 < len(buf) else 0
    return ((buf[at] & 0x3F) << 8 | low) + 1


def _locate(buf, index: int, start=None):
    """The opcode covering register ``index``: (offset, offset of the opcode
    before it or None, first register it covers, registers it covers, a
    checkpoint), or None when the opcodes end first (a corrupted HLL).

    The XZERO opcodes are found first, by one regular-expression scan (a
    two-byte opcode cannot be told from a one-byte one without parsing from
    the start).  Where they are many, as in an HLL of few elements, the run
    lengths of all opcodes are listed and summed at once; where they are few,
    the stretches of one-byte opcodes between them are summed one by one and
    only the stretch holding the register is listed.

    The checkpoint (offset, first register) is the opcode two before the
    one found, or ``start``.  An update at the found opcode changes nothing
    before the opcode preceding it, so a later search for a higher register
    (PFMERGE sets registers in increasing order) may begin there instead of
    at the first opcode; if that search lands on the checkpoint itself, the
    opcode before it is unknown and the search starts over from the first.
    """
    pos, first = (HEADER, 0) if start is None else start
    xzeros = [found.start() for found in _XZERO_OPCODE.finditer(buf, pos)]
    if len(xzeros) * 16 > len(buf) - pos:
        found = _locate_listing(buf, index, pos, first, xzeros)
    else:
        found = _locate_stretches(buf, index, pos, first, xzeros)
    if found is None:
        return None
    p, prev, first_p, span, twice = found
    if start is not None and p == pos:
        return _locate(buf, index)
    return p, prev, first_p, span, start if twice is None else twice


def _locate_listing(buf, index, pos, first, xzeros):
    """:func:`_locate` by the run length of every opcode (and 0 for each
    XZERO's second byte) summed in one pass."""
    runs = list(buf[pos:].translate(_RUN))
    n = len(runs)
    for at in xzeros:
        runs[at - pos] = _xzero_run(buf, at)
        if at + 1 - pos < n:
            runs[at + 1 - pos] = 0
    sums = list(accumulate(runs))
    i = bisect_right(sums, index - first)
    if i == n:
        return None
    starts = set(xzeros)

    def before(at):  # the opcode before the one at ``at``, and its first register
        if at == pos:
            return None
        at -= 2 if at - 2 in starts else 1
        return at, first + (sums[at - pos - 1] if at > pos else 0)

    prev = before(pos + i)
    twice = before(prev[0]) if prev else None
    return pos + i, prev[0] if prev else None, first + (sums[i - 1] if i else 0), runs[i], twice


def _locate_stretches(buf, index, pos, first, xzeros):
    """:func:`_locate` stretch by stretch: the one-byte opcodes between two
    XZEROs are summed at once, and listed only in the stretch that holds
    the register.  Tracks the two opcodes passed last (for the checkpoint)."""
    end = len(buf)
    prev = prev_first = twice = None
    for stop in xzeros + [end]:
        if stop > pos:
            runs = buf[pos:stop].translate(_RUN)
            total = sum(runs)
            if first + total > index:
                sums = list(accumulate(runs))
                i = bisect_right(sums, index - first)
                if i >= 2:
                    twice = pos + i - 2, first + (sums[i - 3] if i > 2 else 0)
                elif i == 1:
                    twice = None if prev is None else (prev, prev_first)
                if i:
                    prev, prev_first = pos + i - 1, first + (sums[i - 2] if i > 1 else 0)
                return pos + i, prev, first + (sums[i - 1] if i else 0), runs[i], twice
            if stop - pos >= 2:
                twice = stop - 2, first + total - runs[-1] - runs[-2]
            else:
                twice = None if prev is None else (prev, prev_first)
            prev, prev_first = stop - 1, first + total - runs[-1]
            first += total
        if stop == end:
            return None
        span = _xzero_run(buf, stop)
        if index < first + span:
            return stop, prev, first, span, twice
        twice = None if prev is None else (prev, prev_first)
        prev, prev_first, first, pos = stop, first, first + span, stop + 2
    return None


def sparse_set(buf: bytearray, index: int, count: int, max_bytes: int,
               cursor: list | None = None) -> int:
    """hllSparseSet, in place: 1 if the register rose, 0 if not, -1 for a
    corrupted HLL.  May promote ``buf`` to dense (see :func:`sparse_to_dense`).

    ``cursor``, a one-item list, carries :func:`_locate`'s checkpoint from
    one call to the next, for callers that set registers in increasing
    order (PFMERGE); it starts as ``[None]``.
    """
    if count > SPARSE_VAL_MAX:
        return _promote(buf, index, count)
    found = _locate(buf, index, cursor[0] if cursor else None)
    if found is None:
        return -1
    p, prev, first, span, checkpoint = found
    if cursor:
        cursor[0] = checkpoint
    op = buf[p]
    if op & 0x80:  # VAL
        current = ((op >> 2) & 0x1F) + 1
        if current >= count:
            return 0
        if span == 1:
            buf[p] = _val(count, 1)
            return _merge_values(buf, prev)
    elif op < 0x40 and span == 1:  # ZERO of one register
        buf[p] = _val(count, 1)
        return _merge_values(buf, prev)
    # Split the opcode around the register: at most XZERO-VAL-XZERO.
    last = first + span - 1
    if op & 0x80:
        seq = bytearray()
        if index != first:
            seq.append(_val(current, index - first))
        seq.append(_val(count, 1))
        if index != last:
            seq.append(_val(current, last - index))
    else:
        seq = bytearray(_zero_run(index - first) if index != first else b"")
        seq.append(_val(count, 1))
        if index != last:
            seq += _zero_run(last - index)
    old_length = 1 if op < 0x40 or op & 0x80 else 2
    grown = len(buf) + len(seq) - old_length
    if grown > len(buf) and grown > max_bytes:
        return _promote(buf, index, count)
    buf[p:p + old_length] = seq
    del buf[grown:]  # a cut-off XZERO at the very end: Redis's length rules
    return _merge_values(buf, prev)


def _merge_values(buf: bytearray, prev) -> int:
    """Step 4 of hllSparseSet: merge equal adjacent VAL opcodes, scanning up
    to five opcodes from the one before the change; invalidate the cache."""
    p = HEADER if prev is None else prev
    end = len(buf)
    scan = 5
    while p < end and scan:
        scan -= 1
        op = buf[p]
        if op < 0x80:
            p += 1 if op < 0x40 else 2
            continue
        if p + 1 < end and buf[p + 1] & 0x80:
            nxt = buf[p + 1]
            run = (op & 3) + (nxt & 3) + 2
            if (op >> 2) & 0x1F == (nxt >> 2) & 0x1F and run <= SPARSE_VAL_MAX_LEN:
                buf[p + 1] = _val(((op >> 2) & 0x1F) + 1, run)
                del buf[p]
                end -= 1
                continue
        p += 1
    buf[15] |= _INVALID_CACHE
    return 1


def _promote(buf: bytearray, index: int, count: int) -> int:
    if not sparse_to_dense(buf):
        return -1
    dense_set(buf, index, count)
    return 1


def sparse_runs(buf):
    """Each sparse opcode as (kind, register value, registers covered):
    kind ``z`` ZERO, ``Z`` XZERO (value 0), ``v`` VAL."""
    pos, end = HEADER, len(buf)
    while pos < end:
        op = buf[pos]
        if op < 0x40:
            yield "z", 0, op + 1
            pos += 1
        elif op < 0x80:
            yield "Z", 0, _xzero_run(buf, pos)
            pos += 2
        else:
            yield "v", ((op >> 2) & 0x1F) + 1, (op & 3) + 1
            pos += 1


# The registers each one-byte opcode stands for (XZERO bytes are never looked up).
_EXPANSION = tuple(bytes((((op >> 2) & 0x1F) + 1,)) * ((op & 3) + 1) if op >= 0x80
                   else bytes(op + 1) for op in range(256))


def sparse_registers(buf):
    """The registers of a sparse HLL, one byte each, or None unless its
    opcodes cover exactly 16384 registers.  (hllMerge and hllSparseToDense
    stop at an opcode that would run past the last register, as patched for
    CVE-2025-32023 in the reference build: the same verdict.)  The count
    is checked before anything is expanded; each stretch of one-byte
    opcodes expands through a table, in C."""
    stretches = []
    pos = HEADER
    for found in _XZERO_OPCODE.finditer(buf, HEADER):
        at = found.start()
        if at > pos:
            stretches.append(buf[pos:at])
        stretches.append(_xzero_run(buf, at))
        pos = at + 2
    if pos < len(buf):
        stretches.append(buf[pos:])
    covered = 0
    for stretch in stretches:
        covered += stretch if type(stretch) is int else sum(stretch.translate(_RUN))
    if covered != REGISTERS:
        return None
    return b"".join(bytes(stretch) if type(stretch) is int
                    else b"".join(map(_EXPANSION.__getitem__, stretch))
                    for stretch in stretches)


def sparse_to_dense(buf: bytearray) -> bool:
    """hllSparseToDense in place (header kept, registers packed); False if
    the opcodes do not cover exactly 16384 registers."""
    if buf[4] == DENSE:
        return True
    raw = sparse_registers(buf)
    if raw is None:
        return False
    header = bytearray(buf[:HEADER])
    header[4] = DENSE
    buf[:] = header + pack_dense(raw)
    return True


def registers_of(value) -> bytes | None:
    """hllMerge's reading: one byte per register, None if corrupted."""
    if value[4] == DENSE:
        return unpack_dense(value)
    return sparse_registers(value)


# -- counting --------------------------------------------------------------------


def raw_histogram(raw: bytes) -> list:
    """How many registers hold each value 0..63 (one byte per register)."""
    histogram = [0] * 64
    left = REGISTERS
    value = 0
    while left and value < 64:
        n = raw.count(value)
        histogram[value] = n
        left -= n
        value += 1
    return histogram


def histogram_of(value) -> list | None:
    """hllCount's histogram for a stored HLL; None for a corrupted sparse one
    (hllSparseRegHisto: opcodes not covering exactly 16384 registers)."""
    if value[4] == DENSE:
        return raw_histogram(unpack_dense(value))
    # The opcodes' order does not matter here: take the XZEROs out, then
    # count each distinct one-byte opcode at once.
    histogram = [0] * 64
    for found in _XZERO_OPCODE.finditer(value, HEADER):
        histogram[0] += _xzero_run(value, found.start())
    one_byte = _XZERO_OPCODE.sub(b"", value[HEADER:])
    for op in set(one_byte):
        n = one_byte.count(op)
        if op < 0x40:
            histogram[0] += n * (op + 1)
        else:
            histogram[((op >> 2) & 0x1F) + 1] += n * ((op & 3) + 1)
    return histogram if sum(histogram) == REGISTERS else None


def _sigma(x: float) -> float:
    if x == 1.0:
        return float("inf")
    y = 1.0
    z = x
    while True:
        x *= x
        before = z
        z += x * y
        y += y
        if before == z:
            return z


def _tau(x: float) -> float:
    if x == 0.0 or x == 1.0:
        return 0.0
    y = 1.0
    z = 1 - x
    while True:
        x = sqrt(x)
        before = z
        y *= 0.5
        z -= (1 - x) ** 2 * y
        if before == z:
            return z / 3


_LLONG_LIMIT_INT = 1 << 63
_LLONG_LIMIT = float(_LLONG_LIMIT_INT)


def estimate(histogram: list) -> int:
    """hllCount's estimate from the histogram, operation for operation (the
    same doubles in the same order, so the same integer as Redis)."""
    m = float(REGISTERS)
    z = m * _tau((m - histogram[Q + 1]) / m)
    for j in range(Q, 0, -1):
        z += histogram[j]
        z *= 0.5
    z += m * _sigma(histogram[0] / m)
    e = ALPHA_INF * m * m / z if z else float("inf")
    if not e < _LLONG_LIMIT:
        # llroundl's overflow (registers at 50 and more: crafted HLLs) gives
        # LLONG_MIN, which Redis keeps as the unsigned 2 ** 63.
        return _LLONG_LIMIT_INT
    whole = int(e)
    return whole + 1 if e - whole >= 0.5 else whole  # llroundl: half away from 0


def count_reply(count: int) -> int:
    """A count as PFCOUNT replies it: Redis's unsigned count as a signed
    64-bit integer (only the overflowed estimate is affected)."""
    return count - (1 << 64) if count >= _LLONG_LIMIT_INT else count


# -- commands --------------------------------------------------------------------


def _max_bytes(conn) -> int:
    return conn.server.config.hll_sparse_max_bytes


def _read_hll(db, key):
    """The HLL at ``key`` (None if missing), WRONGTYPE for anything else."""
    value = db.get_typed(key, bytes)
    if value is not None:
        check_hll(value)
    return value


@handler("pfadd")
def pfadd(conn, args):
    db = conn.db
    key = args[1]
    value = _read_hll(db, key)
    rising = 2  # the first element that may raise a register
    if value is not None and value[4] == DENSE:
        # A big HLL mostly sees elements that raise no register: read the
        # stored bytes, copy them only for the first register that rises.
        for rising in range(2, len(args)):
            index, count = element_register(args[rising])
            if count > dense_get(value, index):
                break
        else:
            return 0
    updated = value is None
    buf = bytearray(EMPTY if value is None else value)
    max_bytes = _max_bytes(conn)
    for element in args[rising:]:
        index, count = element_register(element)
        if buf[4] == DENSE:
            status = dense_set(buf, index, count)
        else:
            status = sparse_set(buf, index, count, max_bytes)
        if status < 0:
            # Redis keeps what the earlier elements changed, unpropagated.
            if buf != value:
                db.set(key, bytes(buf), keep_ttl=True)
                journal_as(conn)
            raise _INVALIDOBJ
        updated |= status
    if not updated:
        return 0
    buf[15] |= _INVALID_CACHE
    db.set(key, bytes(buf), keep_ttl=True)
    return 1


def _merged_registers(db, keys):
    """The register-wise maximum of the HLLs at ``keys`` (missing keys are
    empty), and whether any of them is dense."""
    merged = None
    any_dense = False
    for key in keys:
        value = _read_hll(db, key)
        if value is None:
            continue
        any_dense |= value[4] == DENSE
        raw = registers_of(value)
        if raw is None:
            raise _INVALIDOBJ
        merged = raw if merged is None else raw_max(merged, raw)
    return merged or bytes(REGISTERS), any_dense


@handler("pfcount")
def pfcount(conn, args):
    db = conn.db
    if len(args) > 2:  # the union's count; nothing is cached
        return count_reply(estimate(raw_histogram(_merged_registers(db, args[1:])[0])))
    key = args[1]
    value = _read_hll(db, key)
    if value is None:
        return 0
    count = cached_count(value)
    if count is not None:
        return count
    histogram = histogram_of(value)
    if histogram is None:
        raise _INVALIDOBJ
    count = estimate(histogram)
    db.set(key, value[:8] + count.to_bytes(8, "little") + value[HEADER:], keep_ttl=True)
    journal_as(conn, list(args))  # Redis propagates the cache update as sent
    return count_reply(count)


@handler("pfmerge")
def pfmerge(conn, args):
    db = conn.db
    dest = args[1]
    merged, any_dense = _merged_registers(db, args[1:])
    key_misses(conn, args[1:])  # it reads every key, the destination too
    value = db.get_typed(dest, bytes)  # checked above
    buf = bytearray(EMPTY if value is None else value)
    if any_dense and not sparse_to_dense(buf):
        raise _INVALIDOBJ
    if buf[4] == SPARSE:
        max_bytes = _max_bytes(conn)
        cursor = [None]
        for found in re.finditer(rb"[^\x00]", merged):
            index = found.start()
            sparse_set(buf, index, merged[index], max_bytes, cursor)
            if buf[4] == DENSE:
                break
    if buf[4] == DENSE:
        current = unpack_dense(buf)
        buf[HEADER:] = pack_dense(raw_max(current, merged))
    buf[15] |= _INVALID_CACHE
    db.set(dest, bytes(buf), keep_ttl=True)
    return "OK"


@handler("pfdebug")
def pfdebug(conn, args):
    db = conn.db
    key = args[2]
    value = db.get_typed(key, bytes)
    if value is None:
        raise CommandError(errors.HLL_NO_KEY)
    check_hll(value)
    sub = args[1].lower()
    if sub in (b"getreg", b"todense"):
        converted = value[4] == SPARSE
        if converted:
            buf = bytearray(value)
            if not sparse_to_dense(buf):
                raise _INVALIDOBJ
            value = bytes(buf)
            db.set(key, value, keep_ttl=True)
        if sub == b"todense":
            return int(converted)
        return list(unpack_dense(value))
    if sub == b"decode":
        if value[4] != SPARSE:
            raise CommandError(errors.HLL_NOT_SPARSE)
        return _decode(value).encode()
    if sub == b"encoding":
        return "sparse" if value[4] == SPARSE else "dense"
    raise CommandError(errors.hll_unknown_debug(args[1]))


def _decode(value: bytes) -> str:
    """PFDEBUG DECODE's listing of the sparse opcodes."""
    return " ".join("%s:%d" % (kind, run) if kind != "v" else "v:%d,%d" % (value, run)
                    for kind, value, run in sparse_runs(value))


_SELFTEST_CYCLES = 8  # Redis runs 1000 register cycles; ours are vectorised checks
_SELFTEST_ELEMENTS = 100_000  # Redis adds 10,000,000; Python's share is smaller


@handler("pfselftest")
def pfselftest(conn, args):
    """Redis's self-test, scaled to Python: (1) registers written packed come
    back unchanged, one by one and all at once, without touching their
    neighbours; (2) the same elements added to a dense and a sparse HLL give
    the same count, sparse is kept while small, and the error stays within
    six standard errors at every power of ten."""
    import random

    rng = random.Random()
    for _ in range(_SELFTEST_CYCLES):
        raw = bytes(rng.getrandbits(6) for _ in range(REGISTERS))
        hll = bytearray(HEADER) + pack_dense(raw)
        if unpack_dense(hll) != raw:
            raise CommandError("ERR TESTFAILED dense registers do not unpack as packed")
        for index in rng.sample(range(REGISTERS), 256):
            if dense_get(hll, index) != raw[index]:
                raise CommandError("ERR TESTFAILED Register %d should be %d but is %d"
                                   % (index, raw[index], dense_get(hll, index)))
            dense_set(hll, index, 63)
            expected = raw[:index] + b"\x3f" + raw[index + 1:]
            if unpack_dense(hll) != expected:
                raise CommandError("ERR TESTFAILED setting register %d changed another"
                                   % index)
            raw = expected
    dense = bytearray(EMPTY)
    sparse_to_dense(dense)
    sparse = bytearray(EMPTY)
    max_bytes = _max_bytes(conn)
    relative_error = 1.04 / sqrt(REGISTERS)
    seed = rng.getrandbits(64)
    checkpoint = 1
    for j in range(1, _SELFTEST_ELEMENTS + 1):
        element = (j ^ seed).to_bytes(8, "little")
        index, count = element_register(element)
        dense_set(dense, index, count)
        if sparse[4] == DENSE:
            dense_set(sparse, index, count)
        else:
            sparse_set(sparse, index, count, max_bytes)
        if j != checkpoint:
            continue
        if j < max_bytes // 2 and sparse[4] != SPARSE:
            raise CommandError("ERR TESTFAILED sparse encoding not used")
        card = estimate(histogram_of(dense))
        if card != estimate(histogram_of(sparse)):
            raise CommandError("ERR TESTFAILED dense/sparse disagree")
        allowed = 1 if j == 10 else ceil(relative_error * 6 * checkpoint)
        if abs(checkpoint - card) > allowed:
            raise CommandError("ERR TESTFAILED Too big error. card:%d abserr:%d"
                               % (checkpoint, abs(checkpoint - card)))
        checkpoint *= 10
    return "OK"
