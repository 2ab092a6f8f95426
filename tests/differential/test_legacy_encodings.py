"""The encodings Redis 6.2 and older wrote and Redis 7.0 still reads: ziplist
hashes (RDB type 13), ziplist sorted sets (12) and zipmap hashes (9), built by
hand from the layouts in ziplist.c / zipmap.c and RESTOREd on both servers
(redis-server 7.0 reads them; it cannot write them), under the default and
lowered encoding thresholds; malformed ones are judged alike.  A Redis 6.x
``dump.rdb`` (format 9) holding them is imported on start, as redis-server
7.0 loads the same file.
"""

import os

import pytest

from shardnode.rdb.encoding import RdbWriter, encode_length
from tests.differential.test_dump_restore import _frame  # a DUMP payload around a body
from tests.differential.test_load_encodings import configured
from tests.helpers import DamselflyProcess, RawClient, RedisProcess, names_on_shard

A0, B0 = names_on_shard(0, 2, "legacy")
(A1,) = names_on_shard(1, 1, "legacy")


def zl_entry(value, previous: int) -> bytes:
    """One ziplist entry after an entry of ``previous`` bytes: an int in the
    narrowest integer encoding, bytes with a 6, 14 or 32-bit length."""
    prevlen = bytes((previous,)) if previous < 254 else b"\xfe" + previous.to_bytes(4, "little")
    if isinstance(value, int):
        if 0 <= value <= 12:
            return prevlen + bytes((0xF1 + value,))
        for code, width in ((0xFE, 1), (0xC0, 2), (0xF0, 3), (0xD0, 4), (0xE0, 8)):
            if -(1 << (8 * width - 1)) <= value < 1 << (8 * width - 1):
                return prevlen + bytes((code,)) + value.to_bytes(width, "little", signed=True)
    length = len(value)
    if length < 64:
        head = bytes((length,))
    elif length < 1 << 14:
        head = bytes((0x40 | length >> 8, length & 0xFF))
    else:
        head = b"\x80" + length.to_bytes(4, "big")
    return prevlen + head + value


def ziplist(values, count=None) -> bytes:
    body, previous, tail = b"", 0, 10
    for value in values:
        entry = zl_entry(value, previous)
        tail = 10 + len(body)
        body += entry
        previous = len(entry)
    count = len(values) if count is None else count
    total = 10 + len(body) + 1
    return (total.to_bytes(4, "little") + tail.to_bytes(4, "little")
            + min(count, 0xFFFF).to_bytes(2, "little") + body + b"\xff")


def _zm_length(length: int) -> bytes:
    return bytes((length,)) if length < 254 else b"\xfe" + length.to_bytes(4, "little")


def zipmap(pairs, free: int = 0, count=None) -> bytes:
    """A zipmap; each value followed by ``free`` unused bytes."""
    out = bytes((min(len(pairs) if count is None else count, 254),))
    for field, value in pairs:
        out += _zm_length(len(field)) + field + _zm_length(len(value)) + bytes((free,)) + value
        out += b"\x00" * free
    return out + b"\xff"


def _object(type_id: int, blob: bytes) -> bytes:
    return bytes((type_id,)) + encode_length(len(blob)) + blob


def hash_ziplist(pairs, **kw) -> bytes:
    return _object(13, ziplist([x for pair in pairs for x in pair], **kw))


def zset_ziplist(pairs, **kw) -> bytes:
    return _object(12, ziplist([x for pair in pairs for x in pair], **kw))


def hash_zipmap(pairs, **kw) -> bytes:
    return _object(9, zipmap(pairs, **kw))


HASH_PAIRS = [(b"f1", b"v1"), (b"n", 7), (b"big", -(1 << 40)), (12345, b"x" * 70),
              (b"neg", -3), (b"mid", 1 << 20), (b"tiny", 100)]
# in score order, as Redis kept a ziplist sorted set (a loader trusts the order)
ZSET_PAIRS = [(b"c", -(1 << 33)), (b"e", b"-0.25"), (b"a", 1), (b"b", b"1.5"), (77, 3),
              (b"d", b"inf")]
ZIPMAP_PAIRS = [(b"f1", b"v1"), (b"f2", b"y" * 300), (b"n", b"12"), (b"z" * 260, b"")]

# name -> (object body, the command that reads it back)
GOOD = {
    "hash ziplist": (hash_ziplist(HASH_PAIRS), "HGETALL"),
    "hash ziplist, count unknown": (hash_ziplist(HASH_PAIRS[:2], count=0xFFFF), "HGETALL"),
    "zset ziplist": (zset_ziplist(ZSET_PAIRS), "ZRANGE_WS"),
    "hash zipmap": (hash_zipmap(ZIPMAP_PAIRS), "HGETALL"),
    "hash zipmap, free bytes": (hash_zipmap(ZIPMAP_PAIRS[:1] + ZIPMAP_PAIRS[2:3], free=3),
                                "HGETALL"),
    "hash zipmap, count unknown": (hash_zipmap([(b"k%d" % i, b"%d" % i) for i in range(300)]),
                                   "HGETALL"),
    "hash zipmap, short": (hash_zipmap([(b"a", b"1"), (b"b", b"2")]), "HGETALL"),
}

SETTINGS = [{}, {"hash_max_listpack_entries": 1, "zset_max_listpack_entries": 1},
            {"hash_max_listpack_value": 3, "zset_max_listpack_value": 1},
            {"hash_max_listpack_entries": 1000}]


def _read_back(diff, key, how):
    if how == "ZRANGE_WS":
        return diff.run("ZRANGE", key, 0, -1, "WITHSCORES")
    return diff.run_unordered(how, key)


@pytest.mark.parametrize("settings", SETTINGS, ids=["defaults", "few entries", "short values",
                                                    "many entries"])
@pytest.mark.parametrize("case", sorted(GOOD))
def test_old_encodings_restore_as_redis_converts_them(diff, case, settings):
    body, how = GOOD[case]
    payload = _frame(body, version=9)
    with configured(diff, **settings):
        for key in (A0, A1):
            assert diff.run("RESTORE", key, "0", payload) == b"OK"
            _read_back(diff, key, how)
            encoding = diff.run("OBJECT", "ENCODING", key)
            if encoding == b"listpack":
                diff.run("DUMP", key)  # converted to Redis 7.0's own form, byte for byte


MALFORMED = {
    "hash ziplist, odd entries": _object(13, ziplist([b"f", b"v", b"g"])),
    "hash ziplist, duplicate field": hash_ziplist([(b"f", b"1"), (b"f", b"2")]),
    "hash ziplist, empty": hash_ziplist([]),
    "hash ziplist, wrong count": hash_ziplist([(b"f", b"1")], count=3),
    "zset ziplist, duplicate member": zset_ziplist([(b"m", 1), (b"m", 2)]),
    "zset ziplist, empty": zset_ziplist([]),
    "zipmap, duplicate field": hash_zipmap([(b"f", b"1"), (b"f", b"2")]),
    "zipmap, empty": hash_zipmap([]),
    "zipmap, wrong count": hash_zipmap([(b"f", b"1")], count=2),
    "zipmap, no terminator": _object(9, zipmap([(b"f", b"1")])[:-1]),
    "zipmap, truncated value": _object(9, b"\x01\x01f\x05\x00ab\xff"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_old_encodings_are_refused_as_redis_does(diff, case):
    reply = diff.run("RESTORE", A0, "0", _frame(MALFORMED[case], version=9))
    diff.run("EXISTS", A0)
    assert reply != b"OK"


def _version_9_dump() -> bytes:
    """A Redis 6.x-style dump.rdb: "REDIS0009", the old encodings, a TTL."""
    out = RdbWriter()
    out.write_raw(b"REDIS0009")
    out.write_raw(b"\xfe\x00\xfb" + encode_length(len(GOOD)) + encode_length(1))
    for number, case in enumerate(sorted(GOOD)):
        if number == 0:
            out.write_raw(b"\xfc" + (4102444800000).to_bytes(8, "little"))  # year 2100
        body = GOOD[case][0]
        out.write_byte(body[0])
        out.write_string(b"old:%d" % number)
        out.write_raw(body[1:])
    out.write_byte(0xFF)
    data = out.take()
    return data + out.crc.to_bytes(8, "little")


def _contents(port) -> dict:
    with RawClient(port) as c:
        out = {}
        for number, case in enumerate(sorted(GOOD)):
            key = b"old:%d" % number
            how = GOOD[case][1]
            if how == "ZRANGE_WS":
                value = c.call("ZRANGE", key, 0, -1, "WITHSCORES")
            else:
                value = sorted(c.call(how, key))
            out[key] = (value, c.call("OBJECT", "ENCODING", key), c.call("PEXPIRETIME", key))
        return out


def test_a_redis_6_dump_with_old_encodings_imports(tmp_path):
    data = _version_9_dump()
    ref = RedisProcess("--dbfilename", "old.rdb")
    with open(os.path.join(ref.dir, "old.rdb"), "wb") as f:
        f.write(data)
    ref.start()
    try:
        expected = _contents(ref.port)
    finally:
        ref.stop()
    proc = DamselflyProcess(shards=2)
    with open(os.path.join(proc.dir, "dump.rdb"), "wb") as f:
        f.write(data)
    with proc:
        assert _contents(proc.port) == expected
    assert expected[b"old:0"][2] == 4102444800000
