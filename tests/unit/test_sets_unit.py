"""The set value type without a server: integer test, encodings, RDB codec."""

import pytest

from cluster.errors import CommandError
from shardnode import values
from shardnode.rdb.objects import frame_dump
from shardnode.sets import HASHTABLE, INTSET, RedisSet, is_int, new_set, ordered


@pytest.mark.parametrize("member,expected", [
    (b"0", True), (b"-1", True), (b"9223372036854775807", True),
    (b"-9223372036854775808", True), (b"9223372036854775808", False), (b"-0", False),
    (b"01", False), (b"+1", False), (b" 1", False), (b"1 ", False), (b"", False),
    (b"1.0", False), (b"a", False), (b"-", False),
])
def test_is_int_is_string2ll(member, expected):
    assert is_int(member) is expected


def test_new_set_encoding_follows_members_and_limit():
    assert new_set([b"1", b"2"], 512).encoding == INTSET
    assert new_set([b"1", b"x"], 512).encoding == HASHTABLE
    assert new_set([b"1", b"2", b"3"], 2).encoding == HASHTABLE
    assert ordered(new_set([b"10", b"-2", b"3"], 512)) == [b"-2", b"3", b"10"]


@pytest.mark.parametrize("members", [
    [b"1", b"2", b"3"], [b"-40000", b"7"], [b"5000000000", b"-1"],
    [b"9223372036854775807", b"-9223372036854775808"],
    [b"%d" % i for i in range(200)],  # long enough for LZF
    [b"a", b"b", b""], [b"x" * 100, b"1"],
])
def test_dump_payload_round_trip(members):
    value = new_set(members, 512)
    back = values.load_payload(values.dump_payload(value))
    assert type(back) is RedisSet and back == value and back.encoding == value.encoding
    assert values.type_name(back) == "set"
    copied = values.copy_value(value)
    assert copied == value and copied is not value and copied.encoding == value.encoding


def test_known_intset_payload():
    """DUMP of SADD k 1 2 3 on redis-server 7.0: RDB_TYPE_SET_INTSET, int16
    entries (the bytes redis-server 7.0 answers)."""
    payload = values.dump_payload(new_set([b"3", b"1", b"2"], 512))
    assert payload[:1] == b"\x0b"
    assert payload[1:16] == b"\x0e\x02\x00\x00\x00\x03\x00\x00\x00\x01\x00\x02\x00\x03\x00"


def test_malformed_payloads_are_bad_data():
    good = values.dump_payload(new_set([b"1", b"2"], 512))
    body = bytearray(good[:-10])
    body[2] = 4  # claims int32 entries: the blob is too short
    with pytest.raises(CommandError, match="Bad data format"):
        values.load_payload(frame_dump(bytes(body)))
    empty = frame_dump(b"\x02\x00")  # a hashtable set with no member
    with pytest.raises(CommandError, match="Bad data format"):
        values.load_payload(empty)
    duplicate = frame_dump(b"\x02\x02\x01a\x01a")
    with pytest.raises(CommandError, match="Bad data format"):
        values.load_payload(duplicate)
