"""Commands whose keys live on two shards run as one atomic step.

The keys here are chosen on different shards of the 2-shard server, so every
RENAME/RENAMENX/COPY below goes through the proxy's coordinator (lock both
shards in id order, export, run, import, unlock).
"""

import threading
import time

from cluster.slots import key_slot
from tests.helpers import Err, RawClient, names_on_shard, run_threads

X = names_on_shard(0, 1, "x")[0]  # shard 0
Y = names_on_shard(1, 1, "y")[0]  # shard 1


def test_a_pipeline_sees_its_own_order(raw):
    replies = raw.pipeline([
        ("SET", X, "1"),
        ("RENAME", X, Y),
        ("GET", Y),
        ("EXISTS", X),
        ("RENAME", Y, X),
        ("INCR", X),
        ("RENAMENX", X, Y),
        ("GET", Y),
        ("COPY", Y, X),
        ("GET", X),
        ("RENAME", "missing", Y),
        ("DEL", X, Y),
    ])
    assert replies == [b"OK", b"OK", b"1", 0, b"OK", 2, 1, b"2", 1, b"2",
                       Err("ERR no such key"), 2]


def test_ttl_and_value_travel_with_the_key(raw):
    raw.call("SET", X, "v")
    deadline = int(time.time() * 1000) + 60_000
    raw.call("PEXPIREAT", X, deadline)
    assert raw.call("RENAME", X, Y) == b"OK"
    assert raw.call("PEXPIRETIME", Y) == deadline
    assert raw.call("EXISTS", X) == 0
    raw.call("SET", X, "old")
    raw.call("EXPIRE", X, 500)
    assert raw.call("RENAME", Y, X) == b"OK"  # the destination's TTL goes with it
    assert raw.call("PEXPIRETIME", X) == deadline
    assert raw.call("GET", X) == b"v"
    raw.call("PERSIST", X)
    raw.call("SET", Y, "other")
    raw.call("EXPIRE", Y, 100)
    assert raw.call("RENAME", X, Y) == b"OK"
    assert raw.call("TTL", Y) == -1  # the source had none: the new value has none


def test_copy_across_shards_and_databases(raw):
    raw.call("SET", X, "v")
    raw.call("EXPIRE", X, 1000)
    assert raw.call("COPY", X, Y, "DB", "5") == 1
    assert raw.call("COPY", X, Y, "DB", "5") == 0
    assert raw.call("EXISTS", Y) == 0
    raw.call("SELECT", "5")
    assert raw.call("GET", Y) == b"v"
    assert 990 < raw.call("TTL", Y) <= 1000
    raw.call("SELECT", "0")
    raw.call("SET", X, "w")
    assert raw.call("COPY", X, Y, "DB", "5", "REPLACE") == 1
    raw.call("SELECT", "5")
    assert raw.call("GET", Y) == b"w"
    assert raw.call("TTL", Y) == -1
    z = names_on_shard(0, 1, "z")[0]
    assert raw.call("COPY", Y, X, "DB", "0") == 0  # X exists in db 0
    assert raw.call("COPY", Y, z, "DB", "0") == 1  # from db 5 to db 0, across shards
    assert raw.call("EXISTS", z) == 0
    raw.call("SELECT", "0")
    assert raw.call("MGET", X, Y, z) == [b"w", None, b"w"]


def test_rename_errors_across_shards(raw):
    assert raw.call("RENAME", X, Y) == Err("ERR no such key")
    assert raw.call("RENAMENX", X, Y) == Err("ERR no such key")
    raw.call("SET", X, "a")
    raw.call("SET", Y, "b")
    assert raw.call("RENAMENX", X, Y) == 0
    assert raw.call("COPY", X, Y) == 0
    assert raw.call("MGET", X, Y) == [b"a", b"b"]
    assert raw.call("RENAME", X, Y, "extra") == Err(
        "ERR wrong number of arguments for 'rename' command")


def test_concurrent_ping_pong_is_serialisable_and_never_deadlocks(server, raw):
    """Movers bounce one key between two shards; probes look for a state no
    serial order can produce.

    - Only RENAME/RENAMENX move the key, and each needs the key at its source,
      so the successful moves, in any serial order, alternate X->Y, Y->X:
      with the key starting at X, X->Y successes minus Y->X successes is 1
      when it ends at Y and 0 when it ends at X.  A move that ran twice, or
      half of one, breaks that count or leaves zero or two keys.
    - ``RENAMENX a b`` answering 0 means both names existed at once.
    - A GET returns the value or nil, never anything else.
    """
    raw.call("SET", X, "payload")
    raw.call("EXPIRE", X, 3600)
    moves = {(X, Y): 0, (Y, X): 0}
    failures = []
    lock = threading.Lock()
    stop = time.monotonic() + 4.0

    def mover(n, use_nx):
        done = {(X, Y): 0, (Y, X): 0}
        try:
            with RawClient(server.port, timeout=20) as c:
                for i in range(n):
                    src, dst = (X, Y) if i % 2 == 0 else (Y, X)
                    reply = c.call("RENAMENX" if use_nx else "RENAME", src, dst)
                    if reply in (b"OK", 1):
                        done[(src, dst)] += 1
                    elif reply == 0:
                        failures.append("both names existed: %s %s" % (src, dst))
                    elif reply != Err("ERR no such key"):
                        failures.append("unexpected %r" % (reply,))
                    if time.monotonic() > stop:
                        break
        except Exception as exc:  # a timeout here would be a deadlock
            failures.append(repr(exc))
        with lock:
            for k, v in done.items():
                moves[k] += v

    def reader():
        try:
            with RawClient(server.port, timeout=20) as c:
                while time.monotonic() < stop:
                    for value in c.pipeline([("GET", X), ("GET", Y)]):
                        if value not in (None, b"payload"):
                            failures.append("read %r" % (value,))
        except Exception as exc:
            failures.append(repr(exc))

    threads = [threading.Thread(target=mover, args=(40, i % 4 == 0)) for i in range(20)]
    threads += [threading.Thread(target=reader) for _ in range(3)]
    run_threads(threads)
    assert not failures, failures[:5]
    where = [k for k in (X, Y) if raw.call("EXISTS", k)]
    assert len(where) == 1
    assert moves[(X, Y)] - moves[(Y, X)] == (1 if where == [Y] else 0), (moves, where)
    assert moves[(X, Y)] + moves[(Y, X)] > 20
    assert raw.call("GET", where[0]) == b"payload"
    assert 3500 < raw.call("TTL", where[0]) <= 3600


def test_crossing_coordinated_commands_do_not_deadlock(server, raw):
    """Pairs locked in opposite key orders, plus plain traffic on both shards."""
    a0, a1 = names_on_shard(0, 1, "a")[0], names_on_shard(1, 1, "a")[0]
    b0, b1 = names_on_shard(0, 1, "b")[0], names_on_shard(1, 1, "b")[0]
    raw.pipeline([("SET", k, "v") for k in (a0, a1, b0, b1)])
    failures = []

    def worker(pairs):
        try:
            with RawClient(server.port, timeout=20) as c:
                for _ in range(25):
                    for src, dst in pairs:
                        reply = c.call("COPY", src, dst, "REPLACE")
                        if reply != 1:
                            failures.append(reply)
                    if c.call("SET", "plain", "v") != b"OK":
                        failures.append("plain")
        except Exception as exc:
            failures.append(repr(exc))

    threads = [threading.Thread(target=worker, args=([(a0, a1), (b1, b0)],)),
               threading.Thread(target=worker, args=([(a1, a0), (b0, b1)],)),
               threading.Thread(target=worker, args=([(b0, a1), (a0, b1)],)),
               threading.Thread(target=worker, args=([(b1, a0), (a1, b0)],))]
    run_threads(threads)
    assert not failures, failures[:5]
    assert raw.call("MGET", a0, a1, b0, b1) == [b"v"] * 4


def test_shard_locks_hold_across_proxy_workers():
    """Two proxy workers have separate coordinators; the shards' locks still
    serialise their cross-shard commands."""
    from tests.helpers import DamselflyProcess

    with DamselflyProcess(shards=2, proxy_workers=2) as proc:
        with RawClient(proc.port) as raw:
            raw.call("SET", X, "payload")
        failures = []
        # Client ids carry the worker's index (id >> 40): keep six per worker.
        clients = {0: [], 1: []}
        for _ in range(200):
            c = RawClient(proc.port, timeout=20)
            worker = c.call("CLIENT", "ID") >> 40
            if len(clients[worker]) < 6:
                clients[worker].append(c)
            else:
                c.close()
            if all(len(v) == 6 for v in clients.values()):
                break
        assert all(len(v) == 6 for v in clients.values())

        def mover(c, n):
            try:
                with c:
                    for i in range(n):
                        src, dst = (X, Y) if i % 2 == 0 else (Y, X)
                        reply = c.call("RENAMENX", src, dst)
                        if reply == 0:
                            failures.append("both names existed")
                        elif reply not in (1, Err("ERR no such key")):
                            failures.append(repr(reply))
            except Exception as exc:
                failures.append(repr(exc))

        threads = [threading.Thread(target=mover, args=(c, 30))
                   for group in clients.values() for c in group]
        run_threads(threads)
        assert not failures, failures[:5]
        with RawClient(proc.port) as raw:
            assert raw.call("EXISTS", X, Y) == 1
            assert raw.call("MGET", X, Y).count(b"payload") == 1


def test_internal_commands_are_refused_on_a_client_connection(server, raw):
    raw.call("SET", X, "v")
    with RawClient(server.shard_ports[0]) as shard:
        for args in [("DF.LOCK",), ("DF.EXPORT", X), ("DF.LINK", "wrong-secret", "0"),
                     ("DF.LOCK",)]:
            reply = shard.call(*args)
            assert isinstance(reply, Err) and reply.startswith("ERR unknown command")
        assert raw.call("GET", X) == b"v"  # nothing got locked
    for args in [("DF.LOCK",), ("DF.RUN", "0", "GET", X), ("DF.IMPORT", X, "")]:
        assert raw.call(*args).startswith("ERR unknown command")  # nor through the proxy
    assert raw.call("GET", X) == b"v"


def test_cross_shard_commands_in_sharded_mode():
    """Through the proxy they span shards as in one Redis; on a shard port
    they must stay in one slot, as in Redis Cluster."""
    from tests.helpers import DamselflyProcess

    with DamselflyProcess(shards=2, cluster_mode="sharded") as proc:
        with RawClient(proc.port) as raw:
            assert raw.pipeline([("SET", X, "v"), ("RENAME", X, Y), ("GET", Y),
                                 ("COPY", Y, X), ("MGET", X, Y)]) == [
                b"OK", b"OK", b"v", 1, [b"v", b"v"]]
        with RawClient(proc.shard_ports[0]) as shard:
            assert shard.call("RENAME", X, Y) == Err(
                "CROSSSLOT Keys in request don't hash to the same slot")
        tag_shard = 0 if key_slot(b"t") < 8192 else 1
        with RawClient(proc.shard_ports[1 - tag_shard]) as shard:
            assert shard.call("SET", "{t}a", "1").startswith("MOVED %d " % key_slot(b"t"))
        with RawClient(proc.shard_ports[tag_shard]) as shard:
            assert shard.call("SET", "{t}a", "1") == b"OK"
            assert shard.call("RENAME", "{t}a", "{t}b") == b"OK"
            assert shard.call("COPY", "{t}b", "{t}c") == 1
            assert shard.call("EXISTS", "{t}a", "{t}b", "{t}c") == 2
