"""RDB files on in-memory buffers: our writer's layout, the reader's records
and its errors (the differential tests load real redis-server files)."""

import io

import pytest

from shardnode.rdb.checksum import crc64
from shardnode.rdb.constants import TYPE_HASH_LISTPACK, TYPE_LIST_QUICKLIST_2, TYPE_STRING
from shardnode.rdb.file import (
    RdbAux, RdbDbSize, RdbEnd, RdbFileError, RdbFileWriter, RdbFunction, RdbKey, read_rdb)
from shardnode.registry import load_families

load_families()
from shardnode.hashes import Hash  # noqa: E402
from shardnode.lists import List  # noqa: E402


def _hash(pairs):
    from shardnode.rdb.encoding import RdbReader, RdbWriter
    from shardnode.rdb.objects import CODECS
    from shardnode.rdb import listpack
    writer = RdbWriter()
    writer.write_string(listpack.encode([x for p in pairs for x in p]))
    return CODECS[TYPE_HASH_LISTPACK].read(RdbReader(bytes(writer.buffer)))


def build(keys_by_db, functions=(), checksum=True, aux=None):
    out = io.BytesIO()
    writer = RdbFileWriter(out, checksum=checksum)
    writer.write_header(ctime=1700000000, aux=aux)
    for code in functions:
        writer.write_function(code)
    for db, keys in sorted(keys_by_db.items()):
        writer.select_db(db, len(keys), sum(1 for k in keys if k[2] is not None))
        for key, value, expire in keys:
            writer.write_key(key, value, expire)
    writer.finish()
    assert writer.bytes_written == len(out.getvalue())
    return out.getvalue()


def test_layout_is_redis_7_0s():
    data = build({0: [(b"k", b"v", None)]})
    assert data.startswith(b"REDIS0010\xfa\x09redis-ver\x057.0.0\xfa\x0aredis-bits\xc0\x40")
    assert data[-9] == 0xFF  # EOF, then the CRC-64 of everything before it
    assert crc64(data[:-8]).to_bytes(8, "little") == data[-8:]
    assert b"\xfe\x00\xfb\x01\x00\x00\x01k\x01v" in data


def test_round_trip_records():
    hash_value = _hash([(b"f", b"1"), (b"g", b"two")])
    data = build({0: [(b"s", b"x" * 100, 1234567890123), (b"h", hash_value, None)],
                  3: [(b"l", List([b"a", b"b"]), None)]},
                 functions=[b"#!lua name=lib\nredis.register_function('f', function() end)"],
                 aux={b"df-shard": 1, b"df-shards": 4})
    records = list(read_rdb(data))
    aux = {r.name: r.value for r in records if isinstance(r, RdbAux)}
    assert aux[b"redis-ver"] == b"7.0.0" and aux[b"df-shard"] == b"1" and aux[b"ctime"] == b"1700000000"
    assert [r.code[:14] for r in records if isinstance(r, RdbFunction)] == [b"#!lua name=lib"]
    assert [r for r in records if isinstance(r, RdbDbSize)] == [RdbDbSize(0, 2, 1), RdbDbSize(3, 1, 0)]
    keys = [r for r in records if isinstance(r, RdbKey)]
    assert [(k.db, k.key, k.expire_ms, k.type_id) for k in keys] == [
        (0, b"s", 1234567890123, TYPE_STRING), (0, b"h", None, TYPE_HASH_LISTPACK),
        (3, b"l", None, TYPE_LIST_QUICKLIST_2)]
    assert keys[0].value == b"x" * 100
    assert dict(keys[1].value) == {b"f": b"1", b"g": b"two"}
    assert list(keys[2].value) == [b"a", b"b"]
    assert isinstance(records[-1], RdbEnd) and records[-1].checksum != 0


def test_raw_objects_copy_unchanged():
    data = build({0: [(b"l", List([b"a"] * 50), 5)]})
    key = next(r for r in read_rdb(data) if isinstance(r, RdbKey))
    out = io.BytesIO()
    writer = RdbFileWriter(out)
    writer.write_header(ctime=1700000000)
    writer.select_db(0, 1, 1)
    writer.write_raw_object(key.key, key.type_id, data[key.body_start:key.body_end], key.expire_ms)
    writer.finish()
    assert out.getvalue() == data


def test_incremental_writes_reach_the_stream_in_chunks():
    chunks = []

    class Sink:
        def write(self, data):
            chunks.append(data)
    writer = RdbFileWriter(Sink())
    writer.write_header()
    writer.select_db(0, 3000, 0)
    for i in range(3000):
        writer.write_key(b"key:%d" % i, b"%d" % i * 10)
    writer.finish()
    assert len(chunks) > 2
    assert sum(isinstance(r, RdbKey) for r in read_rdb(b"".join(chunks))) == 3000


def test_no_checksum_is_accepted():
    data = build({0: [(b"k", b"v", None)]}, checksum=False)
    assert data.endswith(b"\x00" * 8)
    assert list(read_rdb(data))[-1] == RdbEnd(0)


def test_old_opcodes_are_read():
    """EXPIRETIME in seconds, IDLE and FREQ hints, SELECTDB without RESIZEDB."""
    body = (b"REDIS0009\xfe\x02" + b"\xfd" + (1700000000).to_bytes(4, "little")
            + b"\xf8\x05" + b"\xf9\x07" + b"\x00\x01k\x01v" + b"\xff")
    data = body + crc64(body).to_bytes(8, "little")
    records = list(read_rdb(data))
    assert records[0] == RdbDbSize(2, None, None)
    assert (records[1].db, records[1].key, records[1].expire_ms) == (2, b"k", 1700000000000)


@pytest.mark.parametrize("mutate,message", [
    (lambda d: b"RIDES" + d[5:], "wrong signature"),
    (lambda d: d[:5] + b"0011" + d[9:], "unknown RDB format version 11"),
    (lambda d: d[:-20], "truncated"),
    (lambda d: d[:-3], "truncated"),
    (lambda d: d[:-1] + bytes([d[-1] ^ 1]), "wrong checksum"),
    (lambda d: d + b"x", "unexpected bytes"),
    (lambda d: d.replace(b"\x00\x01k\x01v", b"\x08\x01k\x01v"), "unknown opcode or type 8"),
    (lambda d: d.replace(b"\x00\x01k\x01v", b"\x07\x01k\x01v"), "module value"),
    (lambda d: d.replace(b"\x00\x01k\x01v", b"\xf7\x01k\x01v"), "MODULE_AUX"),
    # a stream whose one node's blob runs past the file (shardnode.streams reads it)
    (lambda d: d.replace(b"\x00\x01k\x01v", b"\x13\x01k\x01v"), "truncated"),
    (lambda d: d.replace(b"\x00\x01k\x01v", b"\x00\x01k\x01v\x00\x01k\x01v"), "duplicate key"),
])
def test_defects_raise_a_clear_error(mutate, message):
    data = build({0: [(b"k", b"v", None)]})
    with pytest.raises(RdbFileError, match=message):
        list(read_rdb(mutate(data)))
