"""String and bitmap commands whose keys span both shards, end to end.

MSETNX, BITOP and LCS with keys on both shards of the 2-shard server run
through the proxy's coordinator.  These tests check what a differential test
cannot: atomicity under concurrent clients (MSETNX is all or none, one
winner per key set), ordering inside a pipeline, and real client libraries.
"""

import threading

from tests.helpers import Err, RawClient, names_on_shard, run_threads

X0, Y0 = names_on_shard(0, 2, "cx")
X1, Y1 = names_on_shard(1, 2, "cx")


def test_msetnx_has_one_winner_and_never_half_a_write(server, raw):
    """Eight clients race MSETNX on the same two cross-shard keys, round
    after round: exactly one wins each round and both keys hold its value."""
    rounds, clients = 15, 8
    wins = [[0] * clients for _ in range(rounds)]
    barrier = threading.Barrier(clients)

    def racer(index):
        with RawClient(server.port) as c:
            for r in range(rounds):
                barrier.wait(timeout=20)
                tag = "r%d-c%d" % (r, index)
                wins[r][index] = c.call("MSETNX", "%s:%d" % (X0, r), tag,
                                        "%s:%d" % (X1, r), tag)

    run_threads([threading.Thread(target=racer, args=(i,)) for i in range(clients)])
    for r in range(rounds):
        assert sorted(wins[r]) == [0] * (clients - 1) + [1], wins[r]
        winner = wins[r].index(1)
        values = raw.call("MGET", "%s:%d" % (X0, r), "%s:%d" % (X1, r))
        assert values == [b"r%d-c%d" % (r, winner)] * 2


def test_msetnx_refused_when_any_key_exists_on_the_other_shard(raw):
    raw.call("SET", Y1, "taken", "EX", "100")
    assert raw.call("MSETNX", X0, "a", Y0, "b", Y1, "c") == 0
    assert raw.call("EXISTS", X0, Y0) == 0
    assert raw.call("GET", Y1) == b"taken"
    assert 0 < raw.call("TTL", Y1) <= 100
    assert raw.call("MSETNX", X0, "a", X1, "b") == 1
    assert raw.call("TTL", X1) == -1


def test_pipeline_order_across_coordinated_string_commands(raw):
    replies = raw.pipeline([
        ("SET", X0, "ohmytext"),
        ("SET", X1, "mynewtext"),
        ("LCS", X0, X1),
        ("MSETNX", Y0, "1", Y1, "2"),
        ("INCR", Y1),
        ("BITOP", "OR", Y0, X0, X1),
        ("STRLEN", Y0),
        ("LCS", X1, X0, "LEN"),
        ("MSETNX", Y0, "x", X1),
        ("GET", Y1),
    ])
    assert replies == [b"OK", b"OK", b"mytext", 1, 3, 9, 9, 6,
                       Err("ERR wrong number of arguments for 'msetnx' command"), b"3"]


def test_bitop_from_both_shards_under_concurrent_writes(server, raw):
    """While two clients keep rewriting the sources (one per shard), every
    BITOP answers, and its result is built from values the sources really
    held: never a torn or stale-import value."""
    raw.call("MSET", X0, b"\x0f", X1, b"\xf0")
    stop = threading.Event()
    results = []

    def writer(key, values):
        with RawClient(server.port) as c:
            i = 0
            while not stop.is_set():
                c.call("SET", key, values[i % 2])
                i += 1

    def reader():
        with RawClient(server.port) as c:
            for _ in range(200):
                assert c.call("BITOP", "XOR", Y1, X0, X1) == 1
                results.append(c.call("GET", Y1))
        stop.set()

    threads = [threading.Thread(target=writer, args=(X0, (b"\x0f", b"\x01"))),
               threading.Thread(target=writer, args=(X1, (b"\xf0", b"\x10"))),
               threading.Thread(target=reader)]
    run_threads(threads)
    assert set(results) <= {b"\xff", b"\xf1", b"\x1f", b"\x11"}


def test_redis_py_string_and_bitmap_commands(r):
    assert r.msetnx({X0: "1", X1: "2"}) is True
    assert r.msetnx({X0: "1", Y1: "2"}) is False
    assert r.mget(X0, X1, Y1) == [b"1", b"2", None]
    assert r.set(Y0, "v", ex=100, get=True) is None
    assert r.getex(Y0, persist=True) == b"v"
    assert r.ttl(Y0) == -1
    assert r.incrbyfloat(X0, 0.1) == 1.1
    assert r.setbit(Y1, 7, 1) == 0
    assert r.bitop("OR", Y0, X0, Y1) == 3
    assert r.bitcount(Y1) == 1
    assert r.bitpos(Y1, 1) == 7
    assert r.lcs(X0, X1) == b""
    assert r.bitfield(X1).incrby("u8", 0, 10).get("u8", 0).execute() == [60, 60]
