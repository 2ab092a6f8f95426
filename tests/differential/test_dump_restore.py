"""DUMP and RESTORE against a real redis-server: byte-identical payloads,
payloads that travel both ways, every RESTORE option and error.

Keys sit on both shards of the 2-shard damselfly (through the proxy).
"""

import time

import pytest

from shardnode.rdb.checksum import crc64
from tests.helpers import names_on_shard

A0, B0 = names_on_shard(0, 2, "dr")  # shard 0
A1, B1 = names_on_shard(1, 2, "dr")  # shard 1
KEYS = (A0, A1)

VALUES = [
    b"0", b"1", b"-1", b"127", b"128", b"-129", b"32767", b"-32769", b"2147483647",
    b"2147483648", b"-2147483648", b"-2147483649", b"9223372036854775807",
    b"-9223372036854775808", b"99999999999999999999", b"007", b"-0", b"+1", b"1.5",
    b"", b"x", b"x" * 20, b"x" * 21, b"x" * 44, b"x" * 45,
    b"abc" * 1000,  # long and compressible
    bytes(range(256)) * 2,  # long, incompressible by LZF
    b"\x00\xff\r\n" * 3,
]


def _frame(body: bytes, version: int = 10) -> bytes:
    """A DUMP payload around ``body``, its CRC right (for malformed bodies)."""
    data = body + version.to_bytes(2, "little")
    return data + crc64(data).to_bytes(8, "little")


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("value", VALUES, ids=lambda v: repr(v)[:20])
def test_dump_is_byte_identical(diff, key, value):
    diff.run("SET", key, value)
    payload = diff.run("DUMP", key)
    assert payload[-10:-8] == b"\x0a\x00"  # RDB version 10


def test_dump_of_a_missing_key(diff):
    diff.run("DUMP", A0)
    diff.run("DUMP")
    diff.run("DUMP", A0, A1)


@pytest.mark.parametrize("value", VALUES, ids=lambda v: repr(v)[:20])
def test_payloads_travel_both_ways(diff, value):
    diff.ref.call("SET", "src", value)
    from_redis = diff.ref.call("DUMP", "src")
    assert diff.ours.call("RESTORE", A1, "0", from_redis) == b"OK"
    assert diff.ours.call("GET", A1) == value
    diff.ours.call("SET", A0, value)
    from_us = diff.ours.call("DUMP", A0)
    assert diff.ref.call("RESTORE", "dst", "0", from_us) == b"OK"
    assert diff.ref.call("GET", "dst") == value
    # RESTORE picks the encoding as SET would.
    assert diff.ours.call("OBJECT", "ENCODING", A1) == diff.ref.call("OBJECT", "ENCODING", "dst")


@pytest.mark.parametrize("key", KEYS)
def test_restore_busykey_replace_and_ttl(diff, key):
    diff.run("SET", key, "old")
    payload = diff.run("DUMP", key)
    diff.run("SET", key, "current")
    diff.run("RESTORE", key, "0", payload)  # BUSYKEY
    diff.run("GET", key)
    diff.run("RESTORE", key, "0", payload, "REPLACE")
    diff.run("GET", key)
    diff.run("TTL", key)
    diff.run("RESTORE", key, "100000", payload, "REPLACE")
    diff.run("TTL", key)
    deadline = int(time.time() * 1000) + 3_600_000
    diff.run("RESTORE", key, deadline, payload, "REPLACE", "ABSTTL")
    diff.run("PEXPIRETIME", key)
    diff.run("RESTORE", key, "0", payload, "replace", "absttl")  # 0: no TTL at all
    diff.run("TTL", key)


@pytest.mark.parametrize("key", KEYS)
def test_restore_with_a_deadline_already_past_creates_nothing(diff, key):
    diff.run("SET", key, "v")
    payload = diff.run("DUMP", key)
    diff.run("RESTORE", key, "1", payload, "ABSTTL")  # BUSYKEY comes first
    diff.run("RESTORE", key, "1", payload, "ABSTTL", "REPLACE")  # OK, and the old key is gone
    diff.run("EXISTS", key)
    diff.run("RESTORE", key, "1", payload, "ABSTTL")
    diff.run("EXISTS", key)
    diff.run("RESTORE", key, "9223372036854775807", payload)  # now + ttl overflows: past
    diff.run("EXISTS", key)
    diff.run("RESTORE", key, "9223372036854775807", payload, "ABSTTL")
    diff.run("EXISTS", key)
    diff.run("EXPIRETIME", key)


def test_restore_option_and_argument_errors(diff):
    diff.run("SET", A0, "v")
    payload = diff.run("DUMP", A0)
    for args in [
        (A1, "0", payload, "IDLETIME"),  # no value: syntax error
        (A1, "0", payload, "FREQ"),
        (A1, "0", payload, "IDLETIME", "1", "FREQ", "1"),  # not both
        (A1, "0", payload, "FREQ", "1", "IDLETIME", "1"),
        (A1, "0", payload, "BADOPTION"),
        (A1, "0", payload, "IDLETIME", "-1"),
        (A1, "0", payload, "IDLETIME", "x"),
        (A1, "0", payload, "FREQ", "256"),
        (A1, "0", payload, "FREQ", "-1"),
        (A1, "0", payload, "FREQ", "1.5"),
        (A1, "-1", payload),
        (A1, "x", payload),
        (A1, "99999999999999999999", payload),
        (A0, "-1", payload),  # BUSYKEY before the TTL check
        (A0, "0", b"junk"),  # and before the payload check
        (A0, "0", payload, "IDLETIME", "-5"),  # options before BUSYKEY
        (A1, "0", b"junk"),
        (A1, "0"),
        (A1,),
    ]:
        diff.run("RESTORE", *args)
    diff.run("EXISTS", A1)


@pytest.mark.parametrize("payload", [
    b"",
    b"x" * 9,
    b"x" * 10,
    _frame(b"\x00\x05hello")[:-1] + b"\x00",  # wrong CRC
    _frame(b"\x00\x05hello", version=11),  # newer RDB version
    _frame(b"\x00\x05hello", version=0),  # older versions are read
    _frame(b"\x00\x05hello", version=9),
    _frame(b"\x00\x05hello" + b"trailing"),  # bytes after the object are ignored
    _frame(b"\x00\x0a"),  # a string that reads into the footer
    _frame(b""),
    _frame(b"\x00"),
    _frame(b"\x08\x05hello"),  # no such object type
    _frame(b"\x00\xc4"),  # no such string encoding
    _frame(b"\x00\x82abcd"),  # no such length encoding
    _frame(b"\x00\x80\xff\xff\xff\xff"),  # a 4 GB string in a short payload
    _frame(b"\x00\x81" + b"\xff" * 8),
    _frame(b"\x00\xc1\x01"),  # truncated int16
    _frame(b"\x00\xc3\x02\x10\x20\x05"),  # LZF back-reference before the start
    _frame(b"\x00\xc3\x03\x14\x01aa"),  # LZF shorter than declared
    _frame(b"\x00\xc3\x01\x01a"),  # LZF literal past its input
    _frame(b"\x00\xc3\x00\x00"),  # LZF of zero bytes: the empty string
    _frame(b"\x00\xc3\x01\x00\x00"),
    _frame(b"\x00\xc0\x80"),  # int8 -128
    _frame(b"\x00\xc2\xff\xff\xff\xff"),  # int32 -1
    _frame(b"\x00\x40\x05hello"),  # a 14-bit length for a short string
], ids=lambda v: repr(v)[:30])
@pytest.mark.parametrize("key", KEYS)
def test_restore_payloads_as_redis_judges_them(diff, key, payload):
    diff.run("RESTORE", key, "0", payload)
    diff.run("GET", key)


def test_restore_idletime_sets_object_idletime(diff):
    diff.run("SET", A0, "v")
    payload = diff.run("DUMP", A0)
    for idle in (0, 1000, 16777214, 16777215, 10**8, 10**15, 2**63 - 1):
        for key in KEYS:
            diff.run("RESTORE", key, "0", payload, "REPLACE", "IDLETIME", idle)
            expected, actual = diff.both("OBJECT", "IDLETIME", key)
            # Either server's clock may tick a second between the two calls.
            assert abs(actual - expected) <= 1, (idle, expected, actual)


def test_restore_freq_is_checked_and_accepted(diff):
    diff.run("SET", A0, "v")
    payload = diff.run("DUMP", A0)
    diff.run("RESTORE", A1, "0", payload, "FREQ", "0")
    diff.run("RESTORE", A1, "0", payload, "FREQ", "255", "REPLACE")
    diff.run("OBJECT", "FREQ", A1)  # no LFU policy: both refuse
    try:
        diff.run("CONFIG", "SET", "maxmemory-policy", "allkeys-lfu")
        diff.run("RESTORE", A1, "0", payload, "FREQ", "256", "REPLACE")
        diff.run("RESTORE", A1, "0", payload, "REPLACE", "FREQ", "5")
        diff.run("RESTORE", A1, "0", payload, "REPLACE", "IDLETIME", "5")  # ignored under LFU
        diff.run("OBJECT", "IDLETIME", A1)
    finally:
        diff.run("CONFIG", "SET", "maxmemory-policy", "noeviction")


@pytest.mark.parametrize("name", ["dump", "restore"])
def test_command_info_matches_redis(diff, name):
    diff.run("COMMAND", "INFO", name)
    diff.run("COMMAND", "GETKEYS", name.upper(), A0, *(("0", "x") if name == "restore" else ()))
