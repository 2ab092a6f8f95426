"""SORT and SORT_RO against a real redis-server 7.0: same replies and errors.

The sources live on both shards of the 2-shard damselfly (``L0``/``S0``/
``Z0`` on shard 0, ``L1``/``S1``/``Z1`` on shard 1), and the keys the BY and
GET patterns name for the elements used here (``w_1`` .. ``w_9``, ``obj_1``
..) fall on both shards (asserted below), so through the proxy most pattern
sorts run through the coordinator, with the pattern keys lent to the
running shard.  Replies whose order Redis leaves open (a hashtable set under
``BY nosort``) are compared unordered.
"""

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from cluster.slots import key_slot
from tests.helpers import RawClient, RedisProcess, free_port_block, names_on_shard, server_under_test

L0, S0, Z0, D0 = names_on_shard(0, 4, "src")
L1, S1, Z1, D1 = names_on_shard(1, 4, "src")
SOURCES = ((L0, S0, Z0), (L1, S1, Z1))
ELEMENTS = [b"%d" % i for i in range(1, 10)]


def _shard(key: bytes) -> int:
    return int(key_slot(key) >= 8192)


def test_pattern_keys_fall_on_both_shards():
    for prefix in (b"w_", b"obj_", b"h_"):
        assert {_shard(prefix + e) for e in ELEMENTS} == {0, 1}


def _fill(diff, shard: int, values=("3", "1", "2", "10", "-4.5", "7", "5")):
    lst, st, zs = SOURCES[shard]
    diff.run("RPUSH", lst, *values)
    diff.run("SADD", st, *values)
    for i, v in enumerate(values):
        diff.run("ZADD", zs, str(len(values) - i), v)
    return lst, st, zs


def _weights(diff):
    """w_N string weights (9 - N, so weight order reverses element order),
    h_N hashes with a field, obj_N strings to GET."""
    for e in ELEMENTS:
        n = int(e)
        diff.run("SET", b"w_" + e, str(9 - n))
        diff.run("HSET", b"h_" + e, "f", str(n * 7 % 5), "name", b"name-" + e)
        diff.run("SET", b"obj_" + e, b"object-" + e)


@pytest.mark.parametrize("shard", [0, 1])
def test_plain_numeric_and_alpha(diff, shard):
    for key in _fill(diff, shard):
        diff.run("SORT", key)
        diff.run("SORT", key, "DESC")
        diff.run("SORT", key, "ALPHA")
        diff.run("SORT", key, "ALPHA", "DESC")
        diff.run("SORT_RO", key, "desc", "alpha")
        diff.run("SORT", key, "ASC", "DESC", "ASC")


@pytest.mark.parametrize("limit", [("0", "3"), ("2", "2"), ("-5", "2"), ("1", "-1"),
                                   ("0", "0"), ("6", "10"), ("7", "1"), ("100", "-1"),
                                   ("-1", "-1"), ("3", "9223372036854775807"),
                                   ("9223372036854775807", "1"),
                                   ("-9223372036854775808", "2")])
def test_limit(diff, limit):
    for key in _fill(diff, 0):
        diff.run("SORT", key, "LIMIT", *limit)
        diff.run("SORT", key, "LIMIT", *limit, "DESC")
        if key != S0:  # a hashtable set's own order is its hash table's
            diff.run("SORT", key, "BY", "nosort", "LIMIT", *limit, "DESC")
        diff.run("SORT", key, "BY", "w_*", "LIMIT", *limit)
        diff.run("SORT", key, "LIMIT", *limit, "ALPHA", "GET", "#", "GET", "obj_*")


def test_limit_errors_and_syntax(diff):
    lst, _, _ = _fill(diff, 0)
    for args in (("LIMIT", "x", "1"), ("LIMIT", "1", "1.5"), ("LIMIT", "1"), ("LIMIT",),
                 ("FOO",), ("BY",), ("GET",), ("STORE",), ("ALPHA", "DESC", "NOPE"),
                 ("LIMIT", "99999999999999999999", "1"), ("BY", "w_*", "GET")):
        diff.run("SORT", lst, *args)
        diff.run("SORT", "missing", *args)
    diff.run("SORT_RO", lst, "STORE", "dst")  # no STORE in SORT_RO
    diff.run("SET", "str", "x")
    diff.run("SORT", "str", "LIMIT", "a", "b")  # the syntax comes before the type
    diff.run("SORT", "str", "BOGUS")


def test_wrongtype_and_missing(diff):
    diff.run("SET", "str", "x")
    diff.run("HSET", "hash", "f", "v")
    for key in ("str", "hash"):
        diff.run("SORT", key)
        diff.run("SORT_RO", key, "ALPHA")
        diff.run("SORT", key, "STORE", D1)
    diff.run("SORT", "missing")
    diff.run("SORT", "missing", "BY", "w_*", "GET", "#", "GET", "obj_*")
    diff.run("SORT", "missing", "STORE", D0)
    diff.run("EXISTS", D0)


def test_values_that_are_no_doubles(diff):
    diff.run("RPUSH", L0, "1", "abc", "2")
    diff.run("SORT", L0)
    diff.run("SORT", L0, "ALPHA")
    diff.run("SORT", L0, "STORE", D1)
    diff.run("EXISTS", D1)
    diff.run("SADD", S0, "1e5", "0x10", "-inf", " 3", "1e-5")
    diff.run("SORT", S0)
    # strtod's forms: blanks before, hex, inf, empty; refused: trailing
    # blanks, nan, overflow and underflow (glibc's ERANGE).  The ERANGE
    # cases come last: Redis does not clear errno before strtod, so until
    # some other call resets it, its later numeric SORTs fail too.
    for weight in (" 5", "0x10", "inf", "-infinity", "", "0x1p3", ".5", "5.", "+3",
                   "5 ", "nan", "1.5abc", "1e", "0x", "  ", "1e400", "1e-400", "4e-320"):
        diff.run("RPUSH", L1, "x", "y")
        diff.run("SET", "w_x", weight)
        diff.run("SET", "w_y", "1")
        diff.run("SORT", L1, "BY", "w_*")
        diff.run("DEL", L1)


def test_alpha_binary_and_nul(diff):
    """ALPHA compares with strcoll (C locale: strcmp, up to the first NUL)
    when replying, with memcmp when storing."""
    members = [b"b", b"a\x00z", b"a\x00b", b"\xff", b"\x00", b"A", b"a", b"ab", b""]
    diff.run("RPUSH", L0, *members)
    diff.run("SORT", L0, "ALPHA")
    diff.run("SORT", L0, "ALPHA", "DESC")
    diff.run("SORT", L0, "ALPHA", "STORE", D0)
    diff.run("LRANGE", D0, "0", "-1")
    diff.run("SORT", L0, "ALPHA", "DESC", "STORE", D1)
    diff.run("LRANGE", D1, "0", "-1")
    diff.run("SADD", S1, *[m for m in members if b"\x00" not in m])
    diff.run("SORT", S1, "ALPHA")
    diff.run("SORT", S1, "ALPHA", "DESC", "LIMIT", "1", "3")


@pytest.mark.parametrize("shard", [0, 1])
def test_by_pattern_across_shards(diff, shard):
    lst, st, zs = SOURCES[shard]
    diff.run("RPUSH", lst, *ELEMENTS[::-1], "5")
    diff.run("SADD", st, *ELEMENTS)
    for i, e in enumerate(ELEMENTS):
        diff.run("ZADD", zs, str(i), e)
    _weights(diff)
    diff.run("DEL", "w_3", "w_8")  # missing weights count as 0
    diff.run("SET", "w_6", "0")  # ... and tie with a real 0: the element decides
    for key in (lst, st, zs):
        diff.run("SORT", key, "BY", "w_*")
        diff.run("SORT", key, "BY", "w_*", "DESC")
        diff.run("SORT", key, "BY", "w_*", "LIMIT", "2", "3")
        diff.run("SORT", key, "BY", "h_*->f")
        diff.run("SORT", key, "BY", "h_*->f", "DESC", "LIMIT", "0", "4")
        diff.run("SORT", key, "BY", "h_*->name", "ALPHA")
        diff.run("SORT", key, "BY", "h_*->name", "ALPHA", "DESC")
        diff.run("SORT", key, "BY", "h_*->nofield")  # all 0: the elements decide
        diff.run("SORT", key, "BY", "w_*", "GET", "#", "GET", "w_*", "GET", "h_*->name",
                 "GET", "obj_*", "GET", "nostar", "GET", "h_*->nope")
        diff.run("SORT_RO", key, "BY", "w_*", "GET", "obj_*")
        diff.run("SORT", key, "BY", "obj_*", "ALPHA")
        diff.run("SORT", key, "BY", "h_*")  # a hash read as a string: missing


def test_by_pattern_weight_errors_and_types(diff):
    diff.run("RPUSH", L0, "1", "2", "3")
    diff.run("SET", "w_1", "abc")
    diff.run("SORT", L0, "BY", "w_*")
    diff.run("SORT", L0, "BY", "w_*", "ALPHA")
    diff.run("SORT", L0, "BY", "w_*", "STORE", D1)
    diff.run("EXISTS", D1)
    diff.run("DEL", "w_1")
    diff.run("RPUSH", "w_2", "list")  # not a string: no weight
    diff.run("SET", "w_3", "-1")
    diff.run("SORT", L0, "BY", "w_*")
    diff.run("SORT", L0, "BY", "w_*", "GET", "w_*")
    diff.run("HSET", "h_1", "f", "x")
    diff.run("SORT", L0, "BY", "h_*->f")  # a non-numeric hash field
    diff.run("SORT", L0, "BY", "h_*->")  # no field after ->: the key "h_1->"
    diff.run("SET", "h_2->", "5")
    diff.run("SORT", L0, "BY", "h_*->", "GET", "h_*->")
    diff.run("SORT", L0, "BY", "pre*post", "GET", "pre*post")
    diff.run("SET", "pre1post", "9")
    diff.run("SORT", L0, "BY", "pre*post", "GET", "pre*post", "GET", "pre*post->x")


def test_patterns_with_nul_and_star_in_the_field(diff):
    diff.run("RPUSH", L1, "1", "2")
    diff.run("HSET", "h_1", "a*b", "3", "x", "1")
    diff.run("HSET", "h_2", "a*b", "2", "x", "2")
    diff.run("SORT", L1, "BY", "h_*->a*b", "GET", "h_*->a*b")
    diff.run("SORT", L1, "BY", b"h_\x00*->x", "GET", b"h_\x00*")  # no * before the NUL
    diff.run("SORT", L1, "GET", b"#\x00x", "GET", "#")


@pytest.mark.parametrize("shard", [0, 1])
def test_nosort(diff, shard):
    """BY without '*' keeps the source's order: a list's, a sorted set's
    (DESC reads from the tail, LIMIT applies); a set's is its hash table's
    (compared unordered), except with STORE, where Redis sorts it ALPHA."""
    lst, st, zs = _fill(diff, shard)
    diff.run("SADD", S0 if shard else S1, "b", "a", "c", "10", "9")
    for key in (lst, zs):
        for by in ("nosort", "constant", "#", "w_"):
            diff.run("SORT", key, "BY", by)
            diff.run("SORT", key, "BY", by, "DESC")
            diff.run("SORT", key, "BY", by, "LIMIT", "1", "3")
            diff.run("SORT", key, "BY", by, "DESC", "LIMIT", "2", "-1")
            diff.run("SORT", key, "BY", by, "DESC", "LIMIT", "5", "10", "GET", "#")
            diff.run("SORT", key, "BY", by, "ALPHA", "STORE", D0)
            diff.run("LRANGE", D0, "0", "-1")
    diff.run_unordered("SORT", st, "BY", "nosort")
    diff.run("SADD", "intset", "30", "-1", "2")
    diff.run("SORT", "intset", "BY", "nosort")  # an intset's order: ascending on both
    diff.run("SORT", "intset", "BY", "nosort", "DESC", "LIMIT", "1", "1")
    other = S0 if shard else S1
    diff.run_unordered("SORT", other, "BY", "nosort")
    replies = diff.both("SORT", other, "BY", "nosort", "LIMIT", "1", "2")
    assert [len(r) for r in replies] == [2, 2]
    diff.run("SORT", other, "BY", "nosort", "STORE", D1)
    diff.run("LRANGE", D1, "0", "-1")
    diff.run("SORT", other, "BY", "nosort", "DESC", "LIMIT", "1", "2", "STORE", D0)
    diff.run("LRANGE", D0, "0", "-1")


@pytest.mark.parametrize("shard", [0, 1])
def test_store(diff, shard):
    lst, st, zs = SOURCES[shard]
    diff.run("RPUSH", lst, "3", "1", "2")
    diff.run("SADD", st, "b", "a")
    _weights(diff)
    for dest in (D0, D1):
        diff.run("SET", dest, "a string")
        diff.run("EXPIRE", dest, "1000")
        diff.run("SORT", lst, "STORE", dest)  # any type is replaced, the TTL goes
        diff.run("TTL", dest)
        diff.run("TYPE", dest)
        diff.run("OBJECT", "ENCODING", dest)
        diff.run("LRANGE", dest, "0", "-1")
        diff.run("HSET", "h_9", "x", "y")
        diff.run("SORT", lst, "BY", "w_*", "GET", "#", "GET", "obj_*", "GET", "nope_*",
                 "STORE", dest)  # a missing GET value is stored as ""
        diff.run("LRANGE", dest, "0", "-1")
        diff.run("SORT", st, "ALPHA", "DESC", "STORE", dest)
        diff.run("LRANGE", dest, "0", "-1")
        diff.run("SORT", lst, "LIMIT", "5", "5", "STORE", dest)  # empty: deleted
        diff.run("EXISTS", dest)
        diff.run("SORT", lst, "LIMIT", "5", "5", "STORE", dest)
        diff.run("SORT", lst, "STORE", "x", "STORE", dest)  # the last STORE counts
        diff.run("EXISTS", "x")
        diff.run("LRANGE", dest, "0", "-1")
    diff.run("SORT", lst, "STORE", lst)  # onto its own source
    diff.run("LRANGE", lst, "0", "-1")


def test_sorted_set_sorted_becomes_skiplist(diff):
    diff.run("ZADD", Z0, "1", "a", "2", "b")
    diff.run("OBJECT", "ENCODING", Z0)
    diff.run("SORT", Z0)  # fails, yet converts
    diff.run("OBJECT", "ENCODING", Z0)
    diff.run("ZADD", Z1, "1", "3", "2", "1")
    diff.run("SORT", Z1, "BY", "nosort", "DESC")
    diff.run("OBJECT", "ENCODING", Z1)


def test_resp3(diff):
    diff.both("HELLO", "3")
    diff.run("RPUSH", L0, "2", "1", "3")
    diff.run("SET", "obj_1", "one")
    diff.run("SET", "w_2", "-1")
    diff.run("SORT", L0, "GET", "obj_*", "GET", "#")
    diff.run("SORT", L0, "BY", "w_*", "GET", "obj_*")
    diff.run("SORT", "missing")
    diff.run("SORT", L0, "STORE", D1)
    diff.run("SORT", L0, "BY", "w_*", "GET", "x")


def test_resp3_nulls_byte_for_byte(diff):
    """A missing GET value is RESP3's null (``_``), as in Redis."""
    from tests.helpers import read_raw_replies, encode

    diff.both("HELLO", "3")
    diff.run("RPUSH", L1, "1", "2")
    diff.run("SET", "obj_2", "two")
    request = encode(["SORT", L1, "BY", "w_*", "GET", "obj_*", "GET", "#"])
    raws = []
    for client in (diff.ref, diff.ours):
        client.send_raw(request)
        raws.append(read_raw_replies(client, 1))
    assert raws[0] == raws[1]


def test_inside_multi_across_shards(diff):
    diff.run("RPUSH", L0, "1", "2", "3")
    _weights(diff)
    diff.run("MULTI")
    diff.run("SET", "w_1", "100")
    diff.run("SORT", L0, "BY", "w_*", "GET", "obj_*", "STORE", D1)
    diff.run("LRANGE", D1, "0", "-1")
    diff.run("SORT_RO", L0, "BY", "w_*")
    diff.run("EXEC")


def test_pipelined_behind_a_cross_shard_sort(diff):
    """Commands pipelined behind a coordinated SORT keep their order."""
    diff.run("RPUSH", L1, "1", "2", "3")
    _weights(diff)
    commands = [("SORT", L1, "BY", "w_*", "STORE", D0), ("RPUSH", D0, "x"),
                ("SORT", D0, "BY", "nosort", "GET", "obj_*"), ("SET", "w_2", "-5"),
                ("SORT", L1, "BY", "w_*", "GET", "w_*")]
    assert diff.ref.pipeline(commands) == diff.ours.pipeline(commands)


def test_hash_tagged_patterns(diff):
    """Patterns whose hash tag pins their keys' slot (one shard, no lock)."""
    tag = names_on_shard(1, 1, "t")[0]
    src = "{%s}list" % tag
    diff.run("RPUSH", src, "1", "2", "3")
    for e in ("1", "2", "3"):
        diff.run("SET", "{%s}w_%s" % (tag, e), str(-int(e)))
        diff.run("HSET", "{%s}h_%s" % (tag, e), "f", "v" + e)
    diff.run("SORT", src, "BY", "{%s}w_*" % tag, "GET", "{%s}h_*->f" % tag, "GET", "#")
    diff.run("SORT", src, "BY", "{%s}w_*" % tag, "STORE", "{%s}dest" % tag)
    diff.run("LRANGE", "{%s}dest" % tag, "0", "-1")
    other = names_on_shard(0, 1, "u")[0]
    diff.run("SET", "{%s}w_2" % other, "-10")
    diff.run("SORT", src, "BY", "{%s}w_*" % other)  # pinned, to another shard
    diff.run("SORT", src, "BY", "{}w_*")  # "{}": no tag


@pytest.mark.parametrize("name", ["sort", "sort_ro"])
def test_command_info(diff, name):
    diff.run("COMMAND", "INFO", name)


def test_command_getkeys(diff):
    for args in (("SORT", "k"), ("SORT", "k", "STORE", "d"),
                 ("SORT", "k", "BY", "store", "GET", "store", "STORE", "d", "STORE", "e"),
                 ("SORT", "k", "LIMIT", "store", "x", "STORE", "d"),
                 ("SORT_RO", "k", "BY", "x")):
        diff.run("COMMAND", "GETKEYS", *args)
        diff.run("COMMAND", "GETKEYSANDFLAGS", *args)


# -- a shard port in sharded mode, against a redis-server in cluster mode ----------


@pytest.fixture(scope="module")
def cluster_pair():
    """Shard 0's port of a sharded damselfly, and a one-node Redis Cluster
    that owns every slot."""
    bus = free_port_block(1)  # not port + 10000, which may be taken
    ref = RedisProcess("--cluster-enabled", "yes", "--cluster-port", str(bus)).start()
    client = RawClient(ref.port)
    client.call("CLUSTER", "ADDSLOTSRANGE", "0", "16383")
    import time

    for _ in range(100):
        if client.call("CLUSTER", "INFO").find(b"cluster_state:ok") >= 0:
            break
        time.sleep(0.05)
    with server_under_test(cluster_mode="sharded") as proc:
        ours = RawClient(proc.port + 1)
        yield client, ours
        ours.close()
    client.close()
    ref.stop()


def test_sharded_shard_port_refuses_patterns_as_redis_cluster(cluster_pair):
    ref, ours = cluster_pair
    key = names_on_shard(0, 1, "cl")[0]
    other = names_on_shard(1, 1, "cl")[0]
    same_slot = "{%s}dest" % key
    for client in (ref, ours):
        client.call("DEL", key, same_slot)
        client.call("RPUSH", key, "2", "1")
    for args in (("SORT", key), ("SORT", key, "BY", "w_*"), ("SORT", key, "BY", "nosort"),
                 ("SORT", key, "GET", "#"), ("SORT", key, "GET", "{%s}*" % key),
                 ("SORT", key, "BY", "{%s}w_*" % key), ("SORT_RO", key, "GET", "x"),
                 ("SORT", key, "LIMIT", "0", "1", "BY", "w_*", "BOGUS"),
                 ("SORT", key, "BOGUS", "BY", "w_*"),
                 ("SORT", key, "STORE", other), ("SORT", key, "STORE", same_slot),
                 ("LRANGE", same_slot, "0", "-1")):
        expected, actual = ref.call(*args), ours.call(*args)
        assert actual == expected, (args, expected, actual)


def test_alpha_by_ties_keep_the_source_order(diff):
    """With BY and ALPHA equal weights (and missing ones) are not broken by
    the element: glibc's qsort is a stable merge sort, so a list's order
    decides, as Python's sort keeps it."""
    elements = ["5", "3", "9", "1", "7", "2", "8", "4", "6"]
    diff.run("RPUSH", L0, *elements)
    for e in ("3", "1", "8"):
        diff.run("SET", "w_" + e, "same")
    diff.run("SET", "w_6", "other")
    diff.run("SORT", L0, "BY", "w_*", "ALPHA")
    diff.run("SORT", L0, "BY", "w_*", "ALPHA", "DESC")
    diff.run("SORT", L0, "BY", "w_*", "ALPHA", "STORE", D1)
    diff.run("LRANGE", D1, "0", "-1")


# -- a random walk -------------------------------------------------------------------

_ELEMENTS = st.sampled_from(["1", "2", "3", "10", "-2", "0.5", "a", "b", ""])
_WEIGHTS = st.sampled_from(["1", "2", "-1", "0", "2.5", "", "x", "inf", " 7"])
_SOURCES = st.sampled_from([L0, S0, Z0, L1, S1, Z1, "missing", "str"])
_SETUP = st.one_of(
    st.tuples(st.sampled_from([L0, L1]), st.lists(_ELEMENTS, min_size=1, max_size=5)).map(
        lambda t: ("RPUSH", t[0], *t[1])),
    st.tuples(st.sampled_from([S0, S1]), st.lists(_ELEMENTS, min_size=1, max_size=5)).map(
        lambda t: ("SADD", t[0], *t[1])),
    st.tuples(st.sampled_from([Z0, Z1]), st.integers(-3, 3), _ELEMENTS).map(
        lambda t: ("ZADD", t[0], str(t[1]), t[2])),
    st.tuples(_ELEMENTS, _WEIGHTS).map(lambda t: ("SET", "w_" + t[0], t[1])),
    st.tuples(_ELEMENTS, _WEIGHTS).map(lambda t: ("HSET", "h_" + t[0], "f", t[1])),
    st.sampled_from([("DEL", k) for k in (L0, S1, "w_1", "h_a", D0)]),
    st.just(("SET", "str", "v")),
)
_OPTION = st.one_of(
    st.tuples(st.just("BY"), st.sampled_from(["w_*", "h_*->f", "nosort", "w_*x"])),
    st.tuples(st.just("LIMIT"), st.integers(-2, 6).map(str),
              st.sampled_from(["-1", "0", "1", "2", "5", "9223372036854775807"])),
    st.tuples(st.just("GET"), st.sampled_from(["#", "w_*", "h_*->f", "nope"])),
    st.sampled_from([("ASC",), ("DESC",), ("ALPHA",)]),
    st.tuples(st.just("STORE"), st.sampled_from([D0, D1])),
)
_SORT = st.tuples(st.sampled_from(["SORT", "SORT_RO"]), _SOURCES,
                  st.lists(_OPTION, max_size=4)).map(
    lambda t: (t[0], t[1], *[w for option in t[2] for w in option]))
_STEP = st.one_of(_SETUP, _SORT)


def _last(words, name):
    """The argument of the last ``name`` option (the one SORT keeps), or None."""
    upper = [w.upper() for w in words]
    return words[len(upper) - upper[::-1].index(name)] if name in upper else None


def _order_is_defined(diff, cmd) -> bool:
    """False where Redis's order comes from its hash tables or its partial
    quicksort: a set under nosort, ALPHA ties of BY weights over a set or a
    sorted set (loaded in hash order) or under LIMIT (pqsort)."""
    upper = [w.upper() for w in cmd]
    kind = diff.ref.call("TYPE", cmd[1])
    by = _last(cmd, "BY")
    if by is not None and "*" not in by:  # nosort
        return not (kind == b"set" and "STORE" not in upper)
    if by is not None and "ALPHA" in upper:
        return kind == b"list" and "LIMIT" not in upper
    return True


def _same_sort(diff, cmd):
    """The same reply; where the order is Redis's own (see above), the same
    elements, or with LIMIT the same count."""
    expected, actual = diff.both(*cmd)
    if not isinstance(expected, (list, int)) or _order_is_defined(diff, cmd):
        assert actual == expected, "%r: redis %r, damselfly %r" % (cmd, expected, actual)
        return
    if isinstance(expected, int):  # STORE: the count, then the stored list
        assert actual == expected, cmd
        expected, actual = diff.both("LRANGE", _last(cmd, "STORE"), "0", "-1")
    if isinstance(expected, list) and "LIMIT" in [w.upper() for w in cmd]:
        assert len(actual) == len(expected), (cmd, expected, actual)
    else:
        assert sorted(actual, key=repr) == sorted(expected, key=repr), (cmd, expected, actual)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(_STEP, min_size=1, max_size=25))
def test_random_walk_matches_redis(diff, steps):
    """Random sources, weights and SORTs over keys of both shards."""
    diff.run("FLUSHALL")
    for cmd in steps:
        if cmd[0].startswith("SORT"):
            _same_sort(diff, cmd)
        else:
            diff.run(*cmd)
    for key in (L0, L1):
        diff.run("TYPE", key)
        diff.run("LRANGE", key, "0", "-1")
