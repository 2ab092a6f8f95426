"""The listpack blob codec and the hash value's RDB forms, without a server.

The byte layouts are checked against redis-server's DUMP in
tests/differential/test_hashes.py; here: round trips, the narrowest integer
encodings, and refusal of malformed blobs.
"""

import pytest

from shardnode.hashes import HASHTABLE, LISTPACK, Hash
from shardnode.rdb import listpack
from shardnode.rdb.encoding import RdbFormatError
from shardnode.values import dump_payload, encoding_of, load_payload, type_name

ENTRIES = [b"", b"a", b"0", b"127", b"128", b"-1", b"-4096", b"4095", b"-4097", b"32767",
           b"-32769", b"8388607", b"-8388609", b"2147483647", b"-2147483649",
           b"9223372036854775807", b"-9223372036854775808", b"9223372036854775808",
           b"007", b"-0", b" 1", b"x" * 63, b"y" * 64, b"z" * 4095, b"w" * 4096, b"\x00\xff"]


def test_round_trip_keeps_every_entry_as_bytes():
    assert listpack.decode(listpack.encode(ENTRIES)) == ENTRIES
    assert listpack.decode(listpack.encode([])) == []


@pytest.mark.parametrize("entry, encoded", [
    (b"5", b"\x05\x01"),  # 7-bit unsigned, backlen 1
    (b"-1", b"\xdf\xff\x02"),  # 13-bit signed
    (b"1000", b"\xc3\xe8\x02"),
    (b"-5000", b"\xf1\x78\xec\x03"),  # 16-bit
    (b"ab", b"\x82ab\x03"),  # 6-bit length string
    (b"05", b"\x8205\x03"),  # leading zero: a string
])
def test_narrowest_encoding(entry, encoded):
    blob = listpack.encode([entry])
    assert blob[6:-1] == encoded
    assert int.from_bytes(blob[:4], "little") == len(blob)
    assert blob[4:6] == b"\x01\x00"


def test_long_entries_get_multi_byte_backlen():
    blob = listpack.encode([b"q" * 200])
    # 12-bit length string: 2 header bytes + 200, backlen 202 in two bytes.
    assert blob[6:8] == b"\xe0\xc8" and blob[-3:-1] == bytes((202 >> 7, (202 & 127) | 128))


@pytest.mark.parametrize("blob", [
    b"", b"\x07\x00\x00\x00\x00\x00",  # too short, no terminator
    b"\x08\x00\x00\x00\x00\x00\xff\xff",  # total bytes disagree with the end
    b"\x0a\x00\x00\x00\x01\x00\x82a\x03\xff",  # string runs past the end
    b"\x09\x00\x00\x00\x02\x00\x05\x01\xff",  # count says 2, holds 1
    b"\x09\x00\x00\x00\x01\x00\x05\x02\xff",  # wrong backlen
    b"\x09\x00\x00\x00\x01\x00\xf5\x01\xff",  # unknown encoding byte
])
def test_malformed_blobs_are_refused(blob):
    with pytest.raises(RdbFormatError):
        listpack.decode(blob)


def test_dump_and_load_keep_contents_and_pick_the_loader_encoding():
    small = Hash({b"a": b"1", b"b": b"two"})
    again = load_payload(dump_payload(small))
    assert type_name(again) == "hash" and again == small and encoding_of(again) == LISTPACK
    big = Hash({b"f%d" % i: b"%d" % i for i in range(600)})
    big.encoding = HASHTABLE
    again = load_payload(dump_payload(big))
    assert again == big and again.encoding == HASHTABLE and again.nbytes == big.nbytes
    # A hashtable-form payload of a small hash loads as a listpack, as in Redis.
    shrunk = Hash({b"a": b"1"})
    shrunk.encoding = HASHTABLE
    assert load_payload(dump_payload(shrunk)).encoding == LISTPACK
    long_value = Hash({b"a": b"x" * 65})
    long_value.encoding = HASHTABLE
    assert load_payload(dump_payload(long_value)).encoding == HASHTABLE
