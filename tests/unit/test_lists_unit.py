"""The list value and its quicklist RDB codec, without a server.

Byte layouts are checked against redis-server's DUMP in
tests/differential/test_lists.py; here: node cutting rules, round trips,
the O(1) size bookkeeping, lazy ranges and refusal of malformed payloads.
"""

import pytest

from shardnode import lists
from shardnode.lists import List
from shardnode.rdb import listpack, quicklist
from shardnode.rdb.encoding import RdbFormatError, RdbReader, RdbWriter
from shardnode.values import copy_value, dump_payload, encoding_of, load_payload, size_of, \
    type_name


def _node_sizes(elements, fill=-2):
    return [(container, len(blob)) for container, blob in quicklist.nodes(elements, fill)]


def test_default_fill_keeps_nodes_within_8_kb_with_redis_estimate():
    cut = quicklist.nodes([b"x" * 100] * 200)
    # Each entry is 100 + 2 header + 1 backlen = 103 bytes; a node takes one
    # more only while bytes + 100 + 8 stay within 8192.
    per_node = (8192 - 7 - 108) // 103 + 1
    assert [len(listpack.decode(blob)) for _, blob in cut] == [per_node] * (200 // per_node) + \
        ([200 % per_node] if 200 % per_node else [])
    assert all(len(blob) <= 8192 for _, blob in cut)


@pytest.mark.parametrize("fill, per_node", [(1, 1), (0, 1), (3, 3), (100, 100)])
def test_positive_fill_counts_entries(fill, per_node):
    cut = quicklist.nodes([b"%d" % i for i in range(300)], fill)
    assert {len(listpack.decode(blob)) for _, blob in cut[:-1]} == {per_node}


def test_positive_fill_still_stops_at_8_kb():
    cut = quicklist.nodes([b"y" * 1000] * 20, 1000)
    assert max(len(blob) for _, blob in cut) <= 8192 and len(cut) == 3


def test_fill_below_minus_five_is_the_64_kb_level():
    elements = [b"z" * 1000] * 200
    assert quicklist.nodes(elements, -9) == quicklist.nodes(elements, -5)


def test_round_trip_any_layout():
    elements = [b"", b"1", b"-9223372036854775808", b"x" * 5000, b"\x00\xff"] * 500
    for fill in (-1, -2, -5, 1, 7):
        for depth in (0, 1, 3):
            writer = RdbWriter()
            quicklist.write(writer, elements, fill, depth)
            assert quicklist.read(RdbReader(bytes(writer.buffer))) == elements


def test_inner_nodes_are_compressed_under_a_compress_depth():
    elements = [b"abc" * 30] * 400
    plain, packed = RdbWriter(compress=False), RdbWriter(compress=False)
    quicklist.write(plain, elements, 5, 0)
    quicklist.write(packed, elements, 5, 1)
    assert len(packed.buffer) < len(plain.buffer)
    assert quicklist.read(RdbReader(bytes(packed.buffer))) == elements


def test_ziplist_decoding():
    # zlbytes, zltail, zllen, then entries "ab" and 5 (immediate), end.
    entries = b"\x00\x02ab" + b"\x04\xf6"
    blob = (10 + len(entries) + 1).to_bytes(4, "little") + (14).to_bytes(4, "little") + \
        b"\x02\x00" + entries + b"\xff"
    assert quicklist.decode_ziplist(blob) == [b"ab", b"5"]
    for bad in (blob[:-1] + b"\x00", blob[:4] + blob[4:8] + b"\x03\x00" + blob[10:], b"\x00" * 11):
        with pytest.raises(RdbFormatError):
            quicklist.decode_ziplist(bad)


def test_value_layer_facts():
    value = List([b"a", b"bb"])
    assert type_name(value) == "list" and encoding_of(value) == "quicklist"
    twin = copy_value(value)
    twin.append(b"c")
    assert list(value) == [b"a", b"bb"] and twin.fill == value.fill
    restored = load_payload(dump_payload(value))
    assert type(restored) is List and list(restored) == [b"a", b"bb"] and restored.nbytes == 3


def test_size_tracks_the_bytes_held():
    value = List()
    small = size_of(value)
    lists._push(value, [b"x" * 1000] * 100, False)
    assert value.nbytes == 100000 and size_of(value) > small + 100000
    lists._take(value, 60, True)
    assert value.nbytes == 40000


def test_a_short_range_of_a_long_list_is_not_a_copy():
    value = List(b"%d" % i for i in range(200000))
    assert lists._range(value, 0, 99) == [b"%d" % i for i in range(100)]
    assert lists._range(value, -100, -1) == [b"%d" % i for i in range(199900, 200000)]
    assert lists._range(value, 150000, 150002) == [b"150000", b"150001", b"150002"]
    assert lists._range(value, 5, 2) == []
