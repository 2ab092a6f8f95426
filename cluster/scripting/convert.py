"""Redis 7.0's conversion rules between RESP replies and Lua values.

RESP -> Lua (a command's reply inside ``redis.call``, after Redis's
``redisProtocolToLuaType``): integer -> number, bulk -> string, null bulk
and null array -> false (RESP2) or nil (RESP3 null), status -> ``{ok=s}``,
error -> ``{err=s}``, array -> table; under ``redis.setresp(3)`` also map
-> ``{map={k=v}}``, set -> ``{set={m=true}}``, double -> ``{double=n}``,
boolean -> true/false, big number -> ``{big_number=s}``, verbatim ->
``{verbatim_string={format=f, string=s}}``; attributes are dropped.

Lua -> RESP (the script's result, after ``luaReplyToRedisReply``), written
straight as bytes in the *client's* protocol: string -> bulk, number ->
integer (truncated as C casts a double to ``long long``), true -> 1 (or a
RESP3 boolean when the script said ``setresp(3)``), false and nil -> null,
tables with ``err``/``ok``/``double``/``big_number``/``verbatim_string``/
``map``/``set`` -> those replies, other tables -> arrays up to the first nil.
"""

from __future__ import annotations

import math

from lupa.lua51 import lua_type

from cluster.errors import CommandError
from cluster.resp import format_double

INT64_MIN = -(2**63)

_ERR, _OK, _DOUBLE, _BIG, _VERBATIM, _MAP, _SET = (
    b"err", b"ok", b"double", b"big_number", b"verbatim_string", b"map", b"set")
_FORMAT, _STRING = b"format", b"string"


def _line(value: bytes) -> bytes:
    """A status or big-number line: CR and LF become spaces, as Redis maps them."""
    return value.replace(b"\r", b" ").replace(b"\n", b" ")


def lua_integer(number) -> int:
    """``(long long)`` of a Lua number on x86-64: truncation toward zero,
    and INT64_MIN for NaN, infinities and values out of range."""
    if type(number) is int:
        if -(2**63) <= number < 2**63:
            return number
        return INT64_MIN
    if math.isnan(number) or math.isinf(number):
        return INT64_MIN
    value = int(number)
    return value if -(2**63) <= value < 2**63 else INT64_MIN


def _null(proto: int) -> bytes:
    return b"_\r\n" if proto == 3 else b"$-1\r\n"


def _bulk(data: bytes) -> bytes:
    return b"$%d\r\n%b\r\n" % (len(data), data)


def _error_line(text: bytes) -> bytes:
    return b"-" + _line(text) + b"\r\n"


def top_level_error(value):
    """The error text when a script's result is an error table, else None."""
    if lua_type(value) == "table":
        err = value[_ERR]
        if type(err) is bytes:
            return err.decode("utf-8", "surrogateescape")
    return None


def lua_to_resp(value, proto: int, script_resp: int) -> bytes:
    """The client's reply bytes for a Lua value (see module doc)."""
    t = type(value)
    if t is bytes:
        return _bulk(value)
    if t is int or t is float:
        return b":%d\r\n" % lua_integer(value)
    if t is bool:
        if script_resp == 2:
            return b":1\r\n" if value else _null(proto)
        if proto == 3:
            return b"#t\r\n" if value else b"#f\r\n"
        return b":1\r\n" if value else b":0\r\n"
    if value is None or lua_type(value) != "table":
        return _null(proto)
    field = value[_ERR]
    if type(field) is bytes:
        return _error_line(field)
    field = value[_OK]
    if type(field) is bytes:
        return b"+" + _line(field) + b"\r\n"
    field = value[_DOUBLE]
    if type(field) in (int, float):
        text = format_double(float(field))
        return b",%b\r\n" % text if proto == 3 else _bulk(text)
    field = value[_BIG]
    if type(field) is bytes:
        text = _line(field)
        return b"(%b\r\n" % text if proto == 3 else _bulk(text)
    field = value[_VERBATIM]
    if lua_type(field) == "table":
        form, text = field[_FORMAT], field[_STRING]
        if type(form) is bytes and type(text) is bytes:
            if proto == 3:
                return b"=%d\r\n%b:%b\r\n" % (len(form) + 1 + len(text), form, text)
            return _bulk(text)
    field = value[_MAP]
    if lua_type(field) == "table":
        parts = []
        for k, v in field.items():
            parts.append(lua_to_resp(k, proto, script_resp))
            parts.append(lua_to_resp(v, proto, script_resp))
        n = len(parts) // 2
        head = b"%%%d\r\n" % n if proto == 3 else b"*%d\r\n" % (2 * n)
        return head + b"".join(parts)
    field = value[_SET]
    if lua_type(field) == "table":
        parts = [lua_to_resp(k, proto, script_resp) for k in field.keys()]
        head = b"~%d\r\n" if proto == 3 else b"*%d\r\n"
        return head % len(parts) + b"".join(parts)
    parts = []
    i = 1
    while True:
        item = value[i]
        if item is None:
            break
        parts.append(lua_to_resp(item, proto, script_resp))
        i += 1
    return b"*%d\r\n" % len(parts) + b"".join(parts)


# -- RESP -> Lua ----------------------------------------------------------------


class RespToLua:
    """Decodes one encoded reply into Lua values of ``lua`` (a LuaRuntime)."""

    def __init__(self, lua):
        self.table = lua.table_from
        self.table_of = lua.eval("function(...) return {...} end")

    def decode(self, data: bytes):
        """(value, is_error) for one whole reply."""
        value, _ = self._value(data, 0)
        return value, data[:1] == b"-"

    def _value(self, data: bytes, pos: int):
        kind = data[pos:pos + 1]
        end = data.index(b"\r\n", pos)
        line = data[pos + 1:end]
        pos = end + 2
        if kind == b"$" or kind == b"=":
            n = int(line)
            if n < 0:
                return False, pos
            body = data[pos:pos + n]
            pos += n + 2
            if kind == b"=":
                return self.table({_VERBATIM: self.table({_FORMAT: body[:3],
                                                         _STRING: body[4:]})}), pos
            return body, pos
        if kind == b":":
            return int(line), pos
        if kind == b"+":
            return self.table({_OK: line}), pos
        if kind == b"-":
            return self.table({_ERR: line}), pos
        if kind == b"*" or kind == b"~" or kind == b"%" or kind == b">":
            n = int(line)
            if n < 0:
                return False, pos
            if kind == b"%":
                entries = {}
                for _ in range(n):
                    k, pos = self._value(data, pos)
                    v, pos = self._value(data, pos)
                    entries[k] = v
                return self.table({_MAP: self.table(entries)}), pos
            items = []
            for _ in range(n):
                item, pos = self._value(data, pos)
                items.append(item)
            if kind == b"~":
                return self.table({_SET: self.table(dict.fromkeys(items, True))}), pos
            return self.table_of(*items), pos
        if kind == b"_":
            return None, pos
        if kind == b",":
            text = line.lower()
            number = float(text) if text not in (b"inf", b"-inf", b"nan") else float(text.decode())
            return self.table({_DOUBLE: number}), pos
        if kind == b"#":
            return line == b"t", pos
        if kind == b"(":
            return self.table({_BIG: line}), pos
        if kind == b"|":  # an attribute: skipped, the value after it counts
            n = int(line)
            for _ in range(2 * n):
                _, pos = self._value(data, pos)
            return self._value(data, pos)
        raise ValueError("cannot decode reply %r" % data[:20])


def is_error(value) -> bool:
    return isinstance(value, CommandError)
