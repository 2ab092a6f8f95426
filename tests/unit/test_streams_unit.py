"""Sans-IO pieces of streams: listpack entry sizes, node blobs, id parsing."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cluster.errors import CommandError
from shardnode import streams
from shardnode.rdb import listpack
from shardnode.rdb.encoding import RdbReader, RdbWriter
from shardnode.rdb import stream as layout


@settings(max_examples=500)
@given(st.one_of(st.binary(max_size=5000),
                 st.integers(-(2**63), 2**63 - 1).map(lambda n: b"%d" % n)))
def test_entry_size_is_the_encoded_size(entry):
    assert listpack.entry_size(entry) == len(listpack.encode([entry])) - 7


@settings(max_examples=200)
@given(st.lists(st.tuples(st.integers(0, 2**64 - 1), st.integers(0, 50),
                          st.lists(st.binary(max_size=80), min_size=2, max_size=6)),
                min_size=1, max_size=40),
       st.sampled_from([(4096, 100), (100, 3), (0, 0)]))
def test_nodes_and_payloads_round_trip(entries, limits):
    value = streams.Stream()
    last = (0, 0)
    for ms, seq, fields in entries:
        entry_id = max(last, (ms, seq))
        entry_id = streams._incr(entry_id) if entry_id <= last or entry_id == (0, 0) else entry_id
        if entry_id is None:
            break
        value.append(entry_id, fields[: len(fields) // 2 * 2], *limits)
        last = entry_id
    for node in value.nodes:  # the byte count kept is the blob's
        assert node.nbytes() == len(layout.encode_node(node))
    writer = RdbWriter()
    layout.write(writer, value)
    copy = streams._reader(True)(RdbReader(bytes(writer.buffer)))
    assert list(copy.range(streams.MIN_ID, streams.MAX_ID)) == \
        list(value.range(streams.MIN_ID, streams.MAX_ID))
    assert [n.nbytes() for n in copy.nodes] == [n.nbytes() for n in value.nodes]


def test_id_parsing_follows_string2ull():
    parse = streams.parse_id
    assert parse(b"5") == (5, 0)
    assert parse(b"5", missing_seq=streams.MAX) == (5, streams.MAX)
    assert parse(b"007-1") == (7, 1)  # strtoull's leniency
    assert parse(b"+7-1") == (7, 1)
    assert parse(b" 7-1") == (7, 1)  # leading blanks too
    assert parse(b"18446744073709551615-18446744073709551615") == streams.MAX_ID
    assert parse(b"5-*", allow_star=True) == (5, None)
    for bad in (b"-1", b"-01", b"18446744073709551616", b"1-x", b"", b"1-", b"x" * 128):
        with pytest.raises(CommandError):
            parse(bad)
    with pytest.raises(CommandError):
        parse(b"-", strict=True)


def test_radix_tree_nodes_of_one_and_two_keys():
    value = streams.Stream()
    assert value.radix_tree_nodes() == 1
    value.starts = [(1, 1)]
    assert value.radix_tree_nodes() == 2  # a compressed node and the key's
    value.starts = [(1, 1), (1, 2)]
    assert value.radix_tree_nodes() == 4  # chain, branch, two keys
