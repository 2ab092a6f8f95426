"""The libraries Redis bundles with its Lua, written here in Python.

``cjson`` (lua-cjson 2.1 as Redis configures it), ``cmsgpack``
(lua-cmsgpack 0.4), ``bit`` (LuaBitOp 1.0) and ``struct`` (Roberto
Ierusalimschy's struct 0.2): the same names, results, number formats and
error texts, written from their documented behaviour.

Each library function takes Lua values as lupa hands them over (bytes for
strings, int/float for numbers, lupa tables) and returns Python values the
runtime gives back to Lua; it raises :class:`LibError` with the message Lua
code sees (the runtime turns it into a Lua ``error`` at the caller's line).
"""

from __future__ import annotations

import math
import re
import struct as _struct

from lupa.lua51 import lua_type


class LibError(Exception):
    """A library call failed: ``args[0]`` is the Lua error message."""


def _number(value, position: int, fname: str):
    if type(value) is int or type(value) is float:
        return value
    if type(value) is bytes:
        try:
            return float(value.strip()) if value.strip() else _bad(position, fname, value)
        except ValueError:
            pass
    _bad(position, fname, value)


class _Missing:
    """An argument the caller did not pass (Lua's "no value")."""


MISSING = _Missing()


def _arg(args, index):
    return args[index] if len(args) > index else MISSING


def _typename(value) -> str:
    if value is MISSING:
        return "no value"
    if value is None:
        return "nil"
    if type(value) is bool:
        return "boolean"
    if type(value) in (int, float):
        return "number"
    if type(value) is bytes:
        return "string"
    kind = lua_type(value)
    if kind is None and callable(value):  # the API's Python callables, functions to Lua
        return "function"
    return kind or "userdata"


def _bad(position, fname, value, expected="number"):
    raise LibError("bad argument #%d to '%s' (%s expected, got %s)"
                   % (position, fname, expected, _typename(value)))


def _lua_fmt14(number) -> bytes:
    """Lua's own number to string (LUA_NUMBER_FMT "%.14g")."""
    number = float(number)
    if math.isinf(number):
        return b"inf" if number > 0 else b"-inf"
    if number != number:
        return b"nan" if math.copysign(1.0, number) > 0 else b"-nan"
    return b"%.14g" % number


# -- cjson ------------------------------------------------------------------------

_JSON_ESCAPES = {}
for _c in range(32):
    _JSON_ESCAPES[_c] = b"\\u%04x" % _c
_JSON_ESCAPES.update({8: b"\\b", 9: b"\\t", 10: b"\\n", 12: b"\\f", 13: b"\\r",
                      34: b'\\"', 92: b"\\\\", 47: b"\\/", 127: b"\\u007f"})
_JSON_PLAIN = bytes(c for c in range(256) if c not in _JSON_ESCAPES)

SPARSE_RATIO = 2
SPARSE_SAFE = 10
MAX_DEPTH = 1000


def _json_string(data: bytes) -> bytes:
    if not data.translate(None, _JSON_PLAIN):
        return b'"' + data + b'"'
    out = bytearray(b'"')
    for c in data:
        esc = _JSON_ESCAPES.get(c)
        if esc is None:
            out.append(c)
        else:
            out += esc
    out.append(34)
    return bytes(out)


class CJson:
    """cjson.encode / cjson.decode; ``null`` is the Lua sentinel for JSON null."""

    def __init__(self, lua, null):
        self.null = null
        # Set by the runtime: whether t[k] / t's key 0 is really -0 (see encode).
        self.negzero_in = self.negzero_key = lambda *args: False
        self.table = lua.table_from

    # encode

    def encode(self, *args):
        if len(args) != 1:
            raise LibError("bad argument #1 to 'encode' (expected 1 argument)")
        out = []
        self._encode(args[0], out, 0)
        return b"".join(out)

    def _fail(self, value, reason):
        raise LibError("Cannot serialise %s: %s" % (_typename(value), reason))

    def _encode(self, value, out, depth, parent=None, key=None):
        t = type(value)
        if t is bytes:
            out.append(_json_string(value))
        elif t is int or t is float:
            if math.isinf(value) or value != value:
                self._fail(value, "must not be NaN or Inf")
            if value == 0 and parent is not None and self.negzero_in(parent, key):
                out.append(b"-0")  # lupa gave -0 as 0 (see the prelude)
            else:
                out.append(_lua_fmt14(value))
        elif t is bool:
            out.append(b"true" if value else b"false")
        elif value is None or lua_type(value) == "userdata":  # cjson.null, the one userdata
            out.append(b"null")
        elif lua_type(value) == "table":
            depth += 1
            if depth > MAX_DEPTH:
                raise LibError("Cannot serialise, excessive nesting (%d)" % depth)
            length = self._array_length(value)
            if length > 0:
                out.append(b"[")
                for i in range(1, length + 1):
                    if i > 1:
                        out.append(b",")
                    self._encode(value[i], out, depth, value, i)
                out.append(b"]")
            else:
                out.append(b"{")
                first = True
                for k, v in value.items():
                    if not first:
                        out.append(b",")
                    first = False
                    if type(k) is bytes:
                        out.append(_json_string(k))
                    elif type(k) is int or type(k) is float:
                        negative = k == 0 and self.negzero_key(value)
                        out.append(b'"-0"' if negative else b'"' + _lua_fmt14(k) + b'"')
                    else:
                        self._fail(k, "table key must be a number or string")
                    out.append(b":")
                    self._encode(v, out, depth, value, k)
                out.append(b"}")
        else:
            self._fail(value, "type not supported")

    def _array_length(self, table) -> int:
        top = items = 0
        for k in table.keys():
            if (type(k) is int or type(k) is float) and k >= 1 and math.floor(k) == k:
                top = max(top, int(k))
                items += 1
                continue
            return -1
        if top > items * SPARSE_RATIO and top > SPARSE_SAFE:
            raise LibError("Cannot serialise table: excessively sparse array")
        return top

    # decode

    def decode(self, *args):
        if len(args) != 1:
            raise LibError("bad argument #1 to 'decode' (expected 1 argument)")
        text = args[0]
        if type(text) in (int, float):
            text = _lua_fmt14(text)
        if type(text) is not bytes:
            _bad(1, "decode", text, "string")
        parser = _JsonParser(text, self)
        value = parser.value(0)
        token = parser.token()
        if token[0] != "T_END":
            parser.fail("the end", token)
        return value


_JSON_WS = b" \t\n\r"
_JSON_UNESCAPE = {ord('"'): b'"', ord("\\"): b"\\", ord("/"): b"/", ord("b"): b"\b",
                  ord("f"): b"\f", ord("n"): b"\n", ord("r"): b"\r", ord("t"): b"\t"}
# What C's strtod accepts (Redis's cjson reads numbers with it): decimal,
# hex with an optional binary exponent, inf/infinity, nan(chars).
_STRTOD = re.compile(
    rb"[+-]?(?:(0[xX])(?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP][+-]?[0-9]+)?"
    rb"|(?i:inf(?:inity)?|nan(?:\([0-9A-Za-z_]*\))?)"
    rb"|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)")


def _strtod_value(match) -> float:
    text = match.group(0)
    if match.group(1) is None:
        if text.lstrip(b"+-")[:3].lower() == b"nan":
            return -math.nan if text[:1] == b"-" else math.nan
        return float(text)
    sign = -1.0 if text[:1] == b"-" else 1.0
    body = text.lstrip(b"+-").decode()
    if "p" not in body.lower():
        body += "p0"
    try:
        return sign * float.fromhex(body)
    except OverflowError:
        return sign * math.inf


def _invalid_json_number(text: bytes, pos: int) -> bool:
    """Numbers JSON forbids that Redis's cjson reads anyway (its
    decode_invalid_numbers): a leading '+', hex, inf, nan."""
    if text[pos:pos + 1] == b"+":
        return True
    word = text[pos:pos + 3].lower()
    return word == b"inf" or word == b"nan"


class _JsonParser:
    """lua-cjson's decoder: tokens, then values, with its error texts."""

    def __init__(self, text: bytes, cjson: CJson):
        self.text = text
        self.pos = 0
        self.cjson = cjson

    def fail(self, expected, token):
        found = token[1] if token[0] == "T_ERROR" else token[0]
        raise LibError("Expected %s but found %s at character %d"
                       % (expected, found, token[2] + 1))

    def token(self):
        text = self.text
        n = len(text)
        pos = self.pos
        while pos < n and text[pos] in _JSON_WS:
            pos += 1
        self.pos = pos
        if pos >= n:
            return ("T_END", None, pos)
        c = text[pos:pos + 1]
        simple = {b"{": "T_OBJ_BEGIN", b"}": "T_OBJ_END", b"[": "T_ARR_BEGIN",
                  b"]": "T_ARR_END", b",": "T_COMMA", b":": "T_COLON"}.get(c)
        if simple:
            self.pos = pos + 1
            return (simple, None, pos)
        if c == b'"':
            return self._string(pos)
        if c in b"-0123456789" and c:
            return self._number(pos)
        for word, kind, value in ((b"true", "T_BOOLEAN", True), (b"false", "T_BOOLEAN", False),
                                  (b"null", "T_NULL", None)):
            if text.startswith(word, pos):
                self.pos = pos + len(word)
                return (kind, value, pos)
        if _invalid_json_number(text, pos):  # read all the same, as Redis's cjson does
            return self._number(pos)
        return ("T_ERROR", "invalid token", pos)

    def _number(self, pos):
        """A number token as C's strtod reads it (hex, inf, nan included)."""
        match = _STRTOD.match(self.text, pos)
        if match is None:
            return ("T_ERROR", "invalid number", pos)
        self.pos = match.end()
        return ("T_NUMBER", _strtod_value(match), pos)

    def _string(self, start):
        text = self.text
        out = bytearray()
        pos = start + 1
        n = len(text)
        while True:
            if pos >= n:
                return ("T_ERROR", "unexpected end of string", pos)
            c = text[pos]
            if c == 34:
                break
            if c == 92:
                if pos + 1 >= n:
                    return ("T_ERROR", "unexpected end of string", pos + 1)
                e = text[pos + 1]
                if e == ord("u"):
                    code, used = self._unicode(pos)
                    if code is None:
                        return ("T_ERROR", "invalid unicode escape code", pos)
                    out += chr(code).encode("utf-8", "surrogatepass")
                    pos += used
                    continue
                plain = _JSON_UNESCAPE.get(e)
                if plain is None:
                    return ("T_ERROR", "invalid escape code", pos)
                out += plain
                pos += 2
                continue
            out.append(c)
            pos += 1
        self.pos = pos + 1
        return ("T_STRING", bytes(out), start)

    def _unicode(self, pos):
        text = self.text
        try:
            high = int(text[pos + 2:pos + 6], 16)
        except ValueError:
            return None, 0
        if len(text[pos + 2:pos + 6]) != 4:
            return None, 0
        if 0xD800 <= high < 0xDC00:
            if text[pos + 6:pos + 8] != b"\\u":
                return None, 0
            try:
                low = int(text[pos + 8:pos + 12], 16)
            except ValueError:
                return None, 0
            if not 0xDC00 <= low < 0xE000:
                return None, 0
            return 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00), 12
        if 0xDC00 <= high < 0xE000:
            return None, 0
        return high, 6

    def value(self, depth):
        token = self.token()
        return self._value_from(token, depth)

    def _value_from(self, token, depth):
        kind = token[0]
        if kind == "T_STRING" or kind == "T_NUMBER" or kind == "T_BOOLEAN":
            return token[1]
        if kind == "T_NULL":
            return self.cjson.null
        if kind == "T_OBJ_BEGIN" or kind == "T_ARR_BEGIN":
            depth += 1
            if depth > MAX_DEPTH:
                raise LibError("Found too many nested data structures (%d) at character %d"
                               % (depth, token[2] + 1))
            return self._object(depth) if kind == "T_OBJ_BEGIN" else self._array(depth)
        self.fail("value", token)

    def _object(self, depth):
        entries = {}
        token = self.token()
        if token[0] == "T_OBJ_END":
            return self.cjson.table(entries)
        while True:
            if token[0] != "T_STRING":
                self.fail("object key string", token)
            key = token[1]
            token = self.token()
            if token[0] != "T_COLON":
                self.fail("colon", token)
            entries[key] = self.value(depth)
            token = self.token()
            if token[0] == "T_OBJ_END":
                return self.cjson.table(entries)
            if token[0] != "T_COMMA":
                self.fail("comma or object end", token)
            token = self.token()

    def _array(self, depth):
        items = []
        token = self.token()
        if token[0] == "T_ARR_END":
            return self.cjson.table(items)
        while True:
            items.append(self._value_from(token, depth))
            token = self.token()
            if token[0] == "T_ARR_END":
                return self.cjson.table(items)
            if token[0] != "T_COMMA":
                self.fail("comma or array end", token)
            token = self.token()


# -- cmsgpack ---------------------------------------------------------------------

MSGPACK_MAX_NESTING = 16


class CMsgpack:
    """cmsgpack.pack / unpack / unpack_one / unpack_limit."""

    def __init__(self, lua):
        self.table = lua.table_from

    def pack(self, *args):
        if not args:
            raise LibError("bad argument #0 to 'pack' (MessagePack pack needs input.)")
        out = bytearray()
        for value in args:
            self._pack(value, out, 0)
        return bytes(out)

    def _pack(self, value, out, level):
        t = type(value)
        if t is bytes:
            n = len(value)
            if n < 32:
                out.append(0xA0 | n)
            elif n <= 0xFF:
                out += b"\xd9" + bytes((n,))
            elif n <= 0xFFFF:
                out += b"\xda" + _struct.pack(">H", n)
            else:
                out += b"\xdb" + _struct.pack(">I", n)
            out += value
        elif t is bool:
            out.append(0xC3 if value else 0xC2)
        elif t is int or t is float:
            self._pack_number(value, out)
        elif lua_type(value) == "table" and level < MSGPACK_MAX_NESTING:
            self._pack_table(value, out, level + 1)
        else:
            out.append(0xC0)

    @staticmethod
    def _pack_number(value, out):
        as_float = float(value)
        if (not math.isinf(as_float) and as_float == as_float and math.floor(as_float) == as_float
                and -(2**63) <= as_float < 2**63):
            n = int(value)
            if n >= 0:
                if n <= 127:
                    out.append(n)
                elif n <= 0xFF:
                    out += b"\xcc" + bytes((n,))
                elif n <= 0xFFFF:
                    out += b"\xcd" + _struct.pack(">H", n)
                elif n <= 0xFFFFFFFF:
                    out += b"\xce" + _struct.pack(">I", n)
                else:
                    out += b"\xcf" + _struct.pack(">Q", n)
            else:
                if n >= -32:
                    out.append(n & 0xFF)
                elif n >= -128:
                    out += b"\xd0" + _struct.pack(">b", n)
                elif n >= -32768:
                    out += b"\xd1" + _struct.pack(">h", n)
                elif n >= -(2**31):
                    out += b"\xd2" + _struct.pack(">i", n)
                else:
                    out += b"\xd3" + _struct.pack(">q", n)
            return
        single = _struct.unpack(">f", _struct.pack(">f", as_float))[0] if abs(as_float) < 3.5e38 or math.isinf(as_float) else None
        if single is not None and (single == as_float or as_float != as_float):
            out += b"\xca" + _struct.pack(">f", as_float)
        else:
            out += b"\xcb" + _struct.pack(">d", as_float)

    def _pack_table(self, table, out, level):
        count = top = 0
        is_array = True
        for k in table.keys():
            if (type(k) is int or type(k) is float) and k >= 1 and math.floor(k) == k:
                count += 1
                top = max(top, int(k))
            else:
                is_array = False
                break
        if is_array and top == count:
            _container_header(out, count, 0x90, b"\xdc", b"\xdd")
            for i in range(1, count + 1):
                self._pack(table[i], out, level)
            return
        items = list(table.items())
        _container_header(out, len(items), 0x80, b"\xde", b"\xdf")
        for k, v in items:
            self._pack(k, out, level)
            self._pack(v, out, level)

    def unpack(self, *args):
        data = self._data(args, "unpack")
        values, _ = self._unpack(data, 0, 0)
        return tuple(values)

    def unpack_one(self, *args):
        data = self._data(args, "unpack_one")
        offset = int(args[1]) if len(args) > 1 and args[1] is not None else 0
        values, pos = self._unpack(data, offset, 1)
        return (pos if pos < len(data) else -1,) + tuple(values)

    def unpack_limit(self, *args):
        data = self._data(args, "unpack_limit")
        limit = int(args[1]) if len(args) > 1 and args[1] is not None else 0
        offset = int(args[2]) if len(args) > 2 and args[2] is not None else 0
        values, pos = self._unpack(data, offset, limit)
        return (pos if pos < len(data) else -1,) + tuple(values)

    @staticmethod
    def _data(args, fname):
        if not args or type(args[0]) not in (bytes, int, float):
            _bad(1, fname, _arg(args, 0), "string")
        data = args[0]
        return data if type(data) is bytes else _lua_fmt14(data)

    def _unpack(self, data, pos, limit):
        if pos < 0 or pos > len(data):
            raise LibError("Start offset %d greater than input length %d." % (pos, len(data)))
        values = []
        while pos < len(data) and (limit <= 0 or len(values) < limit):
            value, pos = self._decode(data, pos)
            values.append(value)
        return values, pos

    def _need(self, data, pos, n):
        if pos + n > len(data):
            raise LibError("Missing bytes in input.")

    def _decode(self, data, pos):
        self._need(data, pos, 1)
        c = data[pos]
        pos += 1
        if c <= 0x7F:
            return c, pos
        if c >= 0xE0:
            return c - 256, pos
        if 0xA0 <= c <= 0xBF:
            n = c & 0x1F
            self._need(data, pos, n)
            return data[pos:pos + n], pos + n
        if 0x90 <= c <= 0x9F:
            return self._decode_array(data, pos, c & 0x0F)
        if 0x80 <= c <= 0x8F:
            return self._decode_map(data, pos, c & 0x0F)
        fixed = {0xCC: ">B", 0xCD: ">H", 0xCE: ">I", 0xCF: ">Q", 0xD0: ">b", 0xD1: ">h",
                 0xD2: ">i", 0xD3: ">q", 0xCA: ">f", 0xCB: ">d"}
        if c in fixed:
            fmt = fixed[c]
            size = _struct.calcsize(fmt)
            self._need(data, pos, size)
            return _struct.unpack(fmt, data[pos:pos + size])[0], pos + size
        if c == 0xC0:
            return None, pos
        if c == 0xC2 or c == 0xC3:
            return c == 0xC3, pos
        lengths = {0xD9: ">B", 0xDA: ">H", 0xDB: ">I", 0xC4: ">B", 0xC5: ">H", 0xC6: ">I",
                   0xDC: ">H", 0xDD: ">I", 0xDE: ">H", 0xDF: ">I"}
        if c in lengths:
            fmt = lengths[c]
            size = _struct.calcsize(fmt)
            self._need(data, pos, size)
            n = _struct.unpack(fmt, data[pos:pos + size])[0]
            pos += size
            if c in (0xDC, 0xDD):
                return self._decode_array(data, pos, n)
            if c in (0xDE, 0xDF):
                return self._decode_map(data, pos, n)
            self._need(data, pos, n)
            return data[pos:pos + n], pos + n
        raise LibError("Bad data format in input.")

    def _decode_array(self, data, pos, n):
        items = []
        for _ in range(n):
            item, pos = self._decode(data, pos)
            items.append(item)
        return self.table(dict((i + 1, v) for i, v in enumerate(items) if v is not None)), pos

    def _decode_map(self, data, pos, n):
        entries = {}
        for _ in range(n):
            k, pos = self._decode(data, pos)
            v, pos = self._decode(data, pos)
            if k is not None:
                entries[k] = v
        return self.table(entries), pos


def _container_header(out, n, fixed, code16, code32):
    """An array or map header: the fixed form under 16 entries, else 16 or 32 bits."""
    if n < 16:
        out.append(fixed | n)
    elif n <= 0xFFFF:
        out += code16 + _struct.pack(">H", n)
    else:
        out += code32 + _struct.pack(">I", n)


# -- bit (LuaBitOp) ---------------------------------------------------------------------


def tobit_value(value, position=1, fname="tobit") -> int:
    """LuaBitOp's argument conversion: round to nearest (even) via the
    2^52+2^51 trick, keep the low 32 bits."""
    number = float(_number(value, position, fname))
    bits = _struct.unpack("<Q", _struct.pack("<d", number + 6755399441055744.0))[0]
    return bits & 0xFFFFFFFF


def _signed(bits: int) -> int:
    bits &= 0xFFFFFFFF
    return bits - 0x100000000 if bits & 0x80000000 else bits


class Bit:
    """bit.* with 32-bit signed results."""

    @staticmethod
    def tobit(*args):
        return _signed(tobit_value(_arg(args, 0), 1, "tobit"))

    @staticmethod
    def tohex(*args):
        bits = tobit_value(_arg(args, 0), 1, "tohex")
        n = 8 if len(args) < 2 or args[1] is None else _signed(tobit_value(args[1], 2, "tohex"))
        digits = "0123456789abcdef"
        if n < 0:
            n = -n
            digits = "0123456789ABCDEF"
        if n > 8:
            n = 8
        out = []
        for _ in range(n):
            out.append(digits[bits & 15])
            bits >>= 4
        return "".join(reversed(out)).encode()

    @staticmethod
    def bnot(*args):
        return _signed(~tobit_value(_arg(args, 0), 1, "bnot"))

    @staticmethod
    def _fold(fname, args, op):
        result = tobit_value(_arg(args, 0), 1, fname)
        for i, value in enumerate(args[1:], 2):
            result = op(result, tobit_value(value, i, fname))
        return _signed(result)

    @classmethod
    def band(cls, *args):
        return cls._fold("band", args, lambda a, b: a & b)

    @classmethod
    def bor(cls, *args):
        return cls._fold("bor", args, lambda a, b: a | b)

    @classmethod
    def bxor(cls, *args):
        return cls._fold("bxor", args, lambda a, b: a ^ b)

    @staticmethod
    def _shift_args(fname, args):
        value = tobit_value(_arg(args, 0), 1, fname)
        count = tobit_value(_arg(args, 1), 2, fname) & 31
        return value, count

    @classmethod
    def lshift(cls, *args):
        b, n = cls._shift_args("lshift", args)
        return _signed(b << n)

    @classmethod
    def rshift(cls, *args):
        b, n = cls._shift_args("rshift", args)
        return _signed(b >> n)

    @classmethod
    def arshift(cls, *args):
        b, n = cls._shift_args("arshift", args)
        return _signed(_signed(b) >> n)

    @classmethod
    def rol(cls, *args):
        b, n = cls._shift_args("rol", args)
        return _signed((b << n) | (b >> (32 - n)))

    @classmethod
    def ror(cls, *args):
        b, n = cls._shift_args("ror", args)
        return _signed((b >> n) | (b << (32 - n)))

    @staticmethod
    def bswap(*args):
        b = tobit_value(_arg(args, 0), 1, "bswap")
        return _signed(int.from_bytes(b.to_bytes(4, "little"), "big"))

    NAMES = ("tobit", "tohex", "bnot", "band", "bor", "bxor", "lshift", "rshift", "arshift",
             "rol", "ror", "bswap")


# -- struct -------------------------------------------------------------------------

_NATIVE_ALIGN = 8  # offsetof(struct {char c; double d;}, d) on x86-64
_SIZES = {"b": 1, "B": 1, "h": 2, "H": 2, "l": 8, "L": 8, "T": 8, "f": 4, "d": 8, "x": 1}
_MAX_INT_SIZE = 32


class Struct:
    """struct.pack / unpack / size."""

    @staticmethod
    def _options(fmt: bytes, fname: str):
        """(option, size, little-endian, alignment) for each format item."""
        little = True
        align = 1
        i = 0
        n = len(fmt)
        while i < n:
            opt = chr(fmt[i])
            i += 1
            digits = b""
            while i < n and 48 <= fmt[i] <= 57:
                digits += fmt[i:i + 1]
                i += 1
            if opt == " ":
                continue
            if opt == "<" or opt == "=":
                little = True
                continue
            if opt == ">":
                little = False
                continue
            if opt == "!":
                align = int(digits) if digits else _NATIVE_ALIGN
                if align & (align - 1):
                    raise LibError("alignment %d is not a power of 2" % align)
                continue
            if opt in "iI":
                size = int(digits) if digits else 4
                if size > _MAX_INT_SIZE:
                    raise LibError("integral size %d is larger than limit (%d)"
                                   % (size, _MAX_INT_SIZE))
            elif opt == "c":
                size = int(digits) if digits else 1
            elif opt == "s":
                size = 0
            elif opt in _SIZES:
                size = _SIZES[opt]
            else:
                raise LibError("bad argument #1 to '%s' (invalid format option '%s')"
                               % (fname, opt))
            yield opt, size, little, align

    @staticmethod
    def _padding(length, opt, size, align):
        if size == 0 or opt == "c":
            return 0
        if size > align:
            size = align
        return (size - (length & (size - 1))) & (size - 1)

    def size(self, *args):
        fmt = self._fmt(args, "size")
        total = 0
        for opt, size, _, align in self._options(fmt, "size"):
            if opt == "s" or (opt == "c" and size == 0):
                raise LibError("bad argument #1 to 'size' (option '%s' has no fixed size)" % opt)
            total += self._padding(total, opt, size, align) + size
        return total

    @staticmethod
    def _fmt(args, fname):
        if not args or type(args[0]) is not bytes:
            _bad(1, fname, _arg(args, 0), "string")
        return args[0]

    def pack(self, *args):
        fmt = self._fmt(args, "pack")
        out = bytearray()
        arg = 1
        for opt, size, little, align in self._options(fmt, "pack"):
            out += b"\0" * self._padding(len(out), opt, size, align)
            if opt == "x":
                out.append(0)
                continue
            value = args[arg] if arg < len(args) else None
            arg += 1
            if opt in "bBhHlLTiI":
                number = _number(value, arg, "pack")
                n = int(number) if not math.isinf(number) and number == number else 0
                out += (n & ((1 << (8 * size)) - 1)).to_bytes(size, "little" if little else "big")
            elif opt == "f" or opt == "d":
                number = float(_number(value, arg, "pack"))
                out += _struct.pack(("<" if little else ">") + opt, number)
            elif opt == "c" or opt == "s":
                if type(value) in (int, float):
                    value = _lua_fmt14(value)
                if type(value) is not bytes:
                    _bad(arg, "pack", value, "string")
                if opt == "c":
                    length = size or len(value)
                    if len(value) < length:
                        raise LibError("bad argument #%d to 'pack' (string too short)" % arg)
                    out += value[:length]
                else:
                    out += value + b"\0"
        return bytes(out)

    def unpack(self, *args):
        fmt = self._fmt(args, "unpack")
        if len(args) < 2 or type(args[1]) is not bytes:
            _bad(2, "unpack", args[1] if len(args) > 1 else None, "string")
        data = args[1]
        pos = int(args[2]) - 1 if len(args) > 2 and args[2] is not None else 0
        if pos < 0 or pos > len(data):
            raise LibError("bad argument #3 to 'unpack' (offset out of range)")
        results = []
        for opt, size, little, align in self._options(fmt, "unpack"):
            pos += self._padding(pos, opt, size, align)
            if opt != "s" and not (opt == "c" and size == 0) and pos + size > len(data):
                raise LibError("bad argument #2 to 'unpack' (data string too short)")
            if opt == "x":
                pos += 1
            elif opt in "bBhHlLTiI":
                n = int.from_bytes(data[pos:pos + size], "little" if little else "big")
                if opt in "bhliT" and opt != "T" and n >= 1 << (8 * size - 1):
                    n -= 1 << (8 * size)
                results.append(float(n) if abs(n) >= 2**53 else n)
                pos += size
            elif opt == "f" or opt == "d":
                results.append(_struct.unpack(("<" if little else ">") + opt,
                                              data[pos:pos + size])[0])
                pos += size
            elif opt == "c":
                if size == 0:
                    if not results or type(results[-1]) not in (int, float):
                        raise LibError("format 'c0' needs a previous size")
                    size = int(results.pop())
                    if pos + size > len(data):
                        raise LibError("bad argument #2 to 'unpack' (data string too short)")
                results.append(data[pos:pos + size])
                pos += size
            elif opt == "s":
                end = data.find(b"\0", pos)
                if end < 0:
                    raise LibError("unfinished string in data")
                results.append(data[pos:end])
                pos = end + 1
        results.append(pos + 1)
        return tuple(results)
