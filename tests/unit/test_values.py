"""The value layer: TYPE names, encodings, sizes, copies, the registry."""

import pytest

from shardnode.values import (
    KINDS,
    TYPE_NAMES,
    allocation_size,
    copy_value,
    encoding_of,
    register,
    size_of,
    string_encoding,
    type_name,
)


@pytest.mark.parametrize("value,encoding", [
    (b"0", "int"), (b"-1", "int"), (b"123", "int"), (b"9223372036854775807", "int"),
    (b"-9223372036854775808", "int"), (b"9223372036854775808", "embstr"),
    (b"-0", "embstr"), (b"007", "embstr"), (b"+5", "embstr"), (b" 5", "embstr"),
    (b"", "embstr"), (b"x" * 44, "embstr"), (b"x" * 45, "raw"), (b"1" * 21, "embstr"),
])
def test_string_encoding(value, encoding):
    assert string_encoding(value) == encoding
    assert encoding_of(value) == encoding


def test_strings_are_plain_bytes_shared_by_copy():
    blob = b"immutable"
    assert type_name(blob) == "string" and TYPE_NAMES[bytes] == "string"
    assert copy_value(blob) is blob


# MEMORY USAGE of key "k" on redis-server 7.0 (jemalloc) minus the key's own 32
# bytes (an 8-byte sds allocation and a 24-byte dict entry), by value.
@pytest.mark.parametrize("value,size", [
    (b"1", 16), (b"-9223372036854775808", 16),  # int: the robj alone
    (b"", 32), (b"a", 32), (b"a" * 10, 32), (b"a" * 20, 48), (b"a" * 30, 64),
    (b"a" * 44, 64),  # embstr: one allocation
    (b"a" * 45, 80), (b"a" * 100, 128), (b"a" * 200, 240), (b"a" * 252, 272),
    (b"a" * 253, 336), (b"a" * 1000, 1040), (b"a" * 5000, 5136),
    (b"12345" * 3000, 16400), (b"a" * 70000, 81936),  # raw: robj + sds
], ids=lambda v: repr(v)[:12])
def test_string_size_matches_redis_memory_usage(value, size):
    assert size_of(value) == size


def test_allocation_size_classes():
    classes = [allocation_size(n) for n in (1, 8, 9, 17, 120, 128, 129, 161, 257, 4097, 70010)]
    assert classes == [8, 8, 16, 32, 128, 128, 160, 192, 320, 5120, 81920]


class _Container(dict):
    """A stand-in container: its encoding is state on the object (the hook)."""

    __slots__ = ("encoding",)

    def __init__(self):
        super().__init__()
        self.encoding = "listpack"


register(_Container, "testcontainer", size=len, codecs={}, rdb_type=4,
         copy=lambda value: value.__class__())


def test_container_encoding_is_an_attribute_it_keeps():
    value = _Container()
    assert encoding_of(value) == "listpack" and type_name(value) == "testcontainer"
    value.encoding = "hashtable"  # the family converts it; never back in 7.0
    assert encoding_of(value) == "hashtable"
    assert KINDS[_Container].rdb_type(value) == 4


def test_a_type_registers_once():
    with pytest.raises(ValueError):
        register(bytes, "string", size=len, copy=bytes, rdb_type=0, codecs={})


def test_unregistered_values_are_refused():
    with pytest.raises(KeyError):
        type_name(object())


def test_pick_lists_stay_in_step_with_their_container():
    """Random changes to a set and a hash that keep a pick list: the live
    entries are exactly the members, each once, and the list never holds
    more than twice as many entries as there are members (plus one)."""
    import random

    from shardnode.hashes import Hash
    from shardnode.sets import RedisSet

    rng = random.Random(7)
    values = RedisSet(b"%d" % i for i in range(50)), Hash({b"%d" % i: b"v" for i in range(50)})
    for value in values:
        value.pick_list()
        for _ in range(3000):
            roll, member = rng.random(), b"%d" % rng.randrange(80)
            if isinstance(value, RedisSet):
                if roll < 0.3:
                    value.add(member)
                elif roll < 0.5:
                    value.discard(member)
                elif roll < 0.6:
                    value.update([member, member + b"x"])
                elif roll < 0.7:
                    value.difference_update([member, member + b"x"])
                elif value and roll < 0.9:
                    value.pop_random()
                elif value:
                    assert value.random_member() in value
            else:
                if roll < 0.4:
                    value[member] = b"w"
                elif roll < 0.7:
                    value.pop(member, None)
                elif value:
                    assert value.random_field() in value
            picks = value.picks
            live = [m for m in picks.items if m not in picks.stale]
            assert sorted(live) == sorted(value)
            assert picks.stale <= set(picks.items) and not picks.stale & set(value)
            assert len(picks.items) <= 2 * len(value) + 1
        if value:
            assert len(set(value.pick_list().sample(len(value) // 2, rng.random))) == len(value) // 2
