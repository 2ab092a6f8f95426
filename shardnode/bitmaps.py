"""Bitmap commands (Redis's bitops.c) on string values.

Bit 0 is the most significant bit of the first byte, as in Redis.  Ranges
are counted and searched with ``int.from_bytes`` and ``int.bit_count`` /
``bit_length`` (C speed), never bit by bit.  BITFIELD's overflow checks are
ported with C's 64-bit wrap-around made explicit, so that odd requests (a
negative SET into an unsigned field under SAT ...) answer as Redis does.
"""

from cluster import errors
from cluster.args import parse_choice, parse_int
from cluster.errors import CommandError
from shardnode.notify import key_misses, quiet
from shardnode.registry import handler
from shardnode.strings import clamp_range, splice

_U64 = (1 << 64) - 1
_I64_MAX = (1 << 63) - 1
_CHUNK_BITS = 8 * 65536  # BITCOUNT/BITPOS read big strings 64 KB at a time


def _s64(x: int) -> int:
    """``x`` as C's int64_t after wrap-around."""
    x &= _U64
    return x - (1 << 64) if x > _I64_MAX else x


def bit_offset(conn, raw: bytes, field_bits: int = 0) -> int:
    """Redis's getBitOffsetFromArgument; ``#n`` means n fields (BITFIELD)."""
    by_field = field_bits > 0 and raw[:1] == b"#"
    offset = parse_int(raw[1:] if by_field else raw, errors.BIT_OFFSET)
    if by_field:
        offset = _s64(offset * field_bits)
    if offset < 0 or (offset >> 3) >= conn.server.config.proto_max_bulk_len:
        raise CommandError(errors.BIT_OFFSET)
    return offset


def _string_for_bit_write(db, key, max_bit: int):
    """Redis's lookupStringForBitCommand: the value grown with zero bytes to
    hold ``max_bit``, and whether it was created or grown."""
    need = (max_bit >> 3) + 1
    value = db.get_typed(key, bytes)
    if value is None:
        return bytes(need), True
    if len(value) < need:
        return value + bytes(need - len(value)), True
    return value, False


def _range_unit(raw: bytes) -> bool:
    """BYTE or BIT; True for BIT."""
    return parse_choice(raw, b"bit", b"byte")


def _bits_of(value: bytes, first_bit: int, last_bit: int) -> tuple:
    """The bits first_bit..last_bit (inclusive) as (int, width), MSB first."""
    first_byte = first_bit >> 3
    chunk = value[first_byte : (last_bit >> 3) + 1]
    width = len(chunk) * 8
    x = int.from_bytes(chunk, "big")
    x >>= width - 1 - (last_bit - first_byte * 8)
    count = last_bit - first_bit + 1
    return x & ((1 << count) - 1), count


# -- single bits -----------------------------------------------------------


@handler("setbit")
def setbit(conn, args):
    offset = bit_offset(conn, args[2])
    on = parse_int(args[3], errors.BIT_VALUE)
    if on & ~1:
        raise CommandError(errors.BIT_VALUE)
    db = conn.db
    value, grown = _string_for_bit_write(db, args[1], offset)
    byte = offset >> 3
    mask = 1 << (7 - (offset & 7))
    old = value[byte]
    was_set = bool(old & mask)
    if grown or was_set != bool(on):
        new = old | mask if on else old & ~mask
        db.set(args[1], splice(value, byte, bytes((new,))), keep_ttl=True)
    return int(was_set)


@handler("getbit")
def getbit(conn, args):
    offset = bit_offset(conn, args[2])
    value = conn.db.get_typed(args[1], bytes)
    if value is None:
        return 0
    byte = offset >> 3
    if byte >= len(value):
        return 0
    return (value[byte] >> (7 - (offset & 7))) & 1


# -- ranges ----------------------------------------------------------------


@handler("bitcount")
def bitcount(conn, args):
    value = conn.db.get_typed(args[1], bytes)
    if value is None:
        return 0  # Redis looks the key up before it reads the range
    argc = len(args)
    if argc == 2:
        first_bit, last_bit = 0, len(value) * 8 - 1
    elif argc in (4, 5):
        start = parse_int(args[2])
        end = parse_int(args[3])
        in_bits = argc == 5 and _range_unit(args[4])
        if start < 0 and end < 0 and start > end:
            return 0
        start, end = clamp_range(start, end, len(value) * 8 if in_bits else len(value))
        first_bit, last_bit = (start, end) if in_bits else (start * 8, end * 8 + 7)
    else:
        raise CommandError(errors.SYNTAX)
    count = 0
    while first_bit <= last_bit:  # a chunk at a time: no int as big as the string
        stop = min(last_bit, first_bit + _CHUNK_BITS - 1)
        count += _bits_of(value, first_bit, stop)[0].bit_count()
        first_bit = stop + 1
    return count


@handler("bitpos")
def bitpos(conn, args):
    bit = parse_int(args[2])
    if bit not in (0, 1):
        raise CommandError(errors.BIT_ARGUMENT)
    value = conn.db.get_typed(args[1], bytes)
    if value is None:  # an endless run of clear bits
        return -1 if bit else 0
    argc = len(args)
    end_given = in_bits = False
    if argc in (4, 5, 6):
        start = parse_int(args[3])
        if argc == 6:
            in_bits = _range_unit(args[5])
        if argc >= 5:
            end = parse_int(args[4])
            end_given = True
        else:
            end = len(value) - 1
        start, end = clamp_range(start, end, len(value) * 8 if in_bits else len(value))
    elif argc == 3:
        start, end = 0, len(value) - 1
    else:
        raise CommandError(errors.SYNTAX)
    if start > end:
        return -1  # an empty range holds neither a 0 nor a 1
    first_bit, last_bit = (start, end) if in_bits else (start * 8, end * 8 + 7)
    found = _first_bit(value, first_bit, last_bit, bit)
    if found >= 0 or bit or end_given:
        return found
    return last_bit + 1  # no clear bit: the string reads on as zeros


def _first_bit(value: bytes, first_bit: int, last_bit: int, bit: int) -> int:
    """Position of the first ``bit`` in the range, or -1; a chunk at a time,
    so a hit early in a big string costs little."""
    while first_bit <= last_bit:
        stop = min(last_bit, first_bit + _CHUNK_BITS - 1)
        bits, width = _bits_of(value, first_bit, stop)
        if not bit:
            bits ^= (1 << width) - 1
        if bits:
            return first_bit + width - bits.bit_length()
        first_bit = stop + 1
    return -1


@handler("bitop")
def bitop(conn, args):
    op = args[1].lower()
    if op not in (b"and", b"or", b"xor", b"not"):
        raise CommandError(errors.SYNTAX)
    if op == b"not" and len(args) != 4:
        raise CommandError(errors.BITOP_NOT_ONE_KEY)
    db = conn.db
    sources = []
    for key in args[3:]:
        sources.append(db.get_typed(key, bytes) or b"")
    size = max(len(v) for v in sources)
    if not size:
        db.delete(args[2])
        return 0
    numbers = [int.from_bytes(v, "big") << (8 * (size - len(v))) for v in sources]
    if op == b"not":
        result = numbers[0] ^ ((1 << (8 * size)) - 1)
    else:
        result = numbers[0]
        if op == b"and":
            for n in numbers[1:]:
                result &= n
        elif op == b"or":
            for n in numbers[1:]:
                result |= n
        else:
            for n in numbers[1:]:
                result ^= n
    db.set(args[2], result.to_bytes(size, "big"))
    return size


# -- BITFIELD --------------------------------------------------------------

_GET, _SET, _INCRBY = 0, 1, 2
_WRAP, _SAT, _FAIL = 0, 1, 2
_OVERFLOW_KINDS = {b"wrap": _WRAP, b"sat": _SAT, b"fail": _FAIL}
_OPCODES = {b"get": (_GET, 2), b"set": (_SET, 3), b"incrby": (_INCRBY, 3)}


def _field_type(raw: bytes):
    """i1..i64 or u1..u63 (lower case only, as Redis): (signed, bits)."""
    signed = raw[:1] == b"i"
    if not signed and raw[:1] != b"u":
        raise CommandError(errors.BITFIELD_TYPE)
    bits = parse_int(raw[1:], errors.BITFIELD_TYPE)
    if bits < 1 or bits > (64 if signed else 63):
        raise CommandError(errors.BITFIELD_TYPE)
    return signed, bits


def _read_field(buf, offset: int, bits: int) -> int:
    """The unsigned field at ``offset``; bytes past the end read as zero."""
    first, last = offset >> 3, (offset + bits - 1) >> 3
    chunk = int.from_bytes(buf[first : last + 1], "big")
    missing = last + 1 - first - len(buf[first : last + 1])
    chunk <<= 8 * missing
    shift = (last + 1) * 8 - offset - bits
    return (chunk >> shift) & ((1 << bits) - 1)


def _write_field(buf: bytearray, offset: int, bits: int, value: int) -> None:
    first, last = offset >> 3, (offset + bits - 1) >> 3
    chunk = int.from_bytes(buf[first : last + 1], "big")
    shift = (last + 1) * 8 - offset - bits
    mask = ((1 << bits) - 1) << shift
    chunk = (chunk & ~mask) | ((value & ((1 << bits) - 1)) << shift)
    buf[first : last + 1] = chunk.to_bytes(last + 1 - first, "big")


def _signed(value: int, bits: int) -> int:
    return value - (1 << bits) if value >> (bits - 1) else value


def _unsigned_overflow(value: int, incr: int, bits: int, kind: int):
    """Redis's checkUnsignedBitfieldOverflow: (overflowed, replacement)."""
    top = (1 << bits) - 1
    if value > top or (incr > 0 and incr > _s64(top - value)):
        limit = top
    elif incr < 0 and incr < _s64(-value):
        limit = 0
    else:
        return False, None
    if kind == _WRAP:
        limit = (value + incr) & top
    return True, limit


def _signed_overflow(value: int, incr: int, bits: int, kind: int):
    """Redis's checkSignedBitfieldOverflow, int64 wrap-around included."""
    top = _I64_MAX if bits == 64 else (1 << (bits - 1)) - 1
    bottom = -top - 1
    max_incr = _s64(top - value)
    min_incr = _s64(bottom - value)
    if value > top or (bits != 64 and incr > max_incr) or \
            (value >= 0 and incr > 0 and incr > max_incr):
        limit = top
    elif value < bottom or (bits != 64 and incr < min_incr) or \
            (value < 0 and incr < 0 and incr < min_incr):
        limit = bottom
    else:
        return False, None
    if kind == _WRAP:
        total = (value + incr) & _U64
        if bits < 64:
            total &= (1 << bits) - 1
            if total >> (bits - 1):
                total |= _U64 ^ ((1 << bits) - 1)
        limit = _s64(total)
    return True, limit


def _parse_bitfield(conn, args):
    """The operations of a BITFIELD request: (opcode, kind, signed, bits,
    offset, value), and the highest bit a SET/INCRBY writes (-1: none)."""
    ops = []
    kind = _WRAP
    highest = -1
    i, argc = 2, len(args)
    while i < argc:
        name = args[i].lower()
        remaining = argc - i - 1
        if name == b"overflow" and remaining >= 1:
            kind = _OVERFLOW_KINDS.get(args[i + 1].lower())
            if kind is None:
                raise CommandError(errors.BITFIELD_OVERFLOW)
            i += 2
            continue
        opcode, needs = _OPCODES.get(name, (None, 0))
        if opcode is None or remaining < needs:
            raise CommandError(errors.SYNTAX)
        signed, bits = _field_type(args[i + 1])
        offset = bit_offset(conn, args[i + 2], bits)
        value = 0
        if opcode != _GET:
            highest = max(highest, offset + bits - 1)
            value = parse_int(args[i + 3])
        ops.append((opcode, kind, signed, bits, offset, value))
        i += needs + 1
    return ops, highest


def _bitfield(conn, args, read_only: bool):
    ops, highest = _parse_bitfield(conn, args)
    db = conn.db
    key = args[1]
    if highest < 0:
        value = db.get_typed(key, bytes)
        if value is None:
            if not read_only:  # (BITFIELD_RO is a read: its misses are the generic ones)
                key_misses(conn, (key,))
            value = b""
        return [_signed(_read_field(value, op[4], op[3]), op[3]) if op[2]
                else _read_field(value, op[4], op[3]) for op in ops]
    if read_only:
        raise CommandError(errors.BITFIELD_RO_WRITE)
    value, grown = _string_for_bit_write(db, key, highest)
    buf = bytearray(value)
    out = []
    changed = False
    for opcode, kind, signed, bits, offset, number in ops:
        old = _read_field(buf, offset, bits)
        if opcode == _GET:
            out.append(_signed(old, bits) if signed else old)
            continue
        if signed:
            old = _signed(old, bits)
            if opcode == _INCRBY:
                overflow, limit = _signed_overflow(old, number, bits, kind)
                new = limit if overflow else old + number
                reply = new
            else:
                overflow, limit = _signed_overflow(number, 0, bits, kind)
                new = limit if overflow else number
                reply = old
        else:
            if opcode == _INCRBY:
                overflow, limit = _unsigned_overflow(old, number, bits, kind)
                new = limit if overflow else (old + number) & _U64
                reply = new
            else:
                unsigned = number & _U64
                overflow, limit = _unsigned_overflow(unsigned, 0, bits, kind)
                new = limit if overflow else unsigned
                reply = old
        if overflow and kind == _FAIL:
            out.append(None)
            continue
        out.append(reply)
        if new != old:  # as Redis: a write that leaves the bits alone changes nothing
            _write_field(buf, offset, bits, new)
            changed = True
    if changed or grown:
        db.set(key, bytes(buf), keep_ttl=True)
        if not changed:  # created (or grown) with no field written: no setbit event
            quiet(conn, key)
    return out


@handler("bitfield")
def bitfield(conn, args):
    return _bitfield(conn, args, read_only=False)


@handler("bitfield_ro")
def bitfield_ro(conn, args):
    return _bitfield(conn, args, read_only=True)
