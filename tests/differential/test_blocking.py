"""Blocking pops against a real redis-server 7.0: what they answer at once,
when they wait, whom a write serves and in which order.

A *scenario* is a function of a port that drives several raw connections
step by step (a blocked client's request is sent and its reply read later;
``blocked`` waits until the server counts the client as blocked) and
returns everything it saw; it runs on redis-server and on damselfly and
the two transcripts must be equal.  Keys ``A0``/``B0``/``C0`` live on shard
0 of the 2-shard damselfly and ``A1``/``B1`` on shard 1.
"""

import time

import pytest

from tests.helpers import RawClient, encode, names_on_shard, read_raw_replies

A0, B0, C0 = names_on_shard(0, 3, "bq")
A1, B1 = names_on_shard(1, 2, "bq")

# Same shard and across shards, for the commands that take several keys.
PAIRS = [(A0, B0), (A0, A1)]


def blocked_count(ctl) -> int:
    info = ctl.call("INFO", "clients").decode()
    return int(info.split("blocked_clients:")[1].split()[0])


def blocked(ctl, n: int) -> None:
    """Wait until the server counts ``n`` blocked clients."""
    deadline = time.monotonic() + 10
    while blocked_count(ctl) != n:
        assert time.monotonic() < deadline, "the client never blocked"
        time.sleep(0.005)


def on_both(server, redis_ref, scenario, *args):
    """Run ``scenario(port, *args)`` on both servers; the transcripts must match."""
    ports = {"redis": redis_ref.port, "damselfly": server.port}
    seen = {}
    for name, port in ports.items():
        with RawClient(port) as ctl:
            ctl.call("FLUSHALL")
        seen[name] = scenario(port, *args)
    assert seen["damselfly"] == seen["redis"]
    return seen["redis"]


class Clients:
    """Raw connections to one server, closed at the end of a scenario."""

    def __init__(self, port):
        self.port = port
        self.opened = []

    def new(self):
        client = RawClient(self.port)
        self.opened.append(client)
        return client

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for client in self.opened:
            client.close()


# -- answers without waiting ----------------------------------------------------------


@pytest.mark.parametrize("a,b", PAIRS)
def test_pops_that_find_data(diff, a, b):
    diff.run("RPUSH", b, "x", "y", "z")
    diff.run("BLPOP", a, b, 0)
    diff.run("BRPOP", a, b, 1)
    diff.run("RPUSH", a, "1", "2", "3", "4")
    diff.run("BLPOP", a, b, 0)
    diff.run("BLMPOP", 0, 2, "nokey", a, "RIGHT", "COUNT", 2)
    diff.run("BLMPOP", "0.5", 2, a, b, "LEFT")
    diff.run("BLMPOP", 0, 2, a, b, "LEFT", "COUNT", 100)
    diff.run("RPUSH", a, "m", "n")
    diff.run("BLMOVE", a, b, "LEFT", "RIGHT", 0)
    diff.run("BRPOPLPUSH", a, b, 0)
    diff.run("BLMOVE", b, b, "RIGHT", "LEFT", 0)
    diff.run("LRANGE", b, 0, -1)
    diff.run("EXISTS", a)
    diff.run("ZADD", b + "z", 1, "one", 2, "two", 3, "three", "-inf", "low")
    diff.run("BZPOPMIN", a + "z", b + "z", 0)
    diff.run("BZPOPMAX", a + "z", b + "z", 0)
    diff.run("BZMPOP", 0, 2, a + "z", b + "z", "MIN", "COUNT", 5)
    diff.run("EXISTS", b + "z")


@pytest.mark.parametrize("a,b", PAIRS)
def test_resp3_shapes(diff, a, b):
    for client in (diff.ref, diff.ours):
        client.call("HELLO", 3)
    diff.run("ZADD", b, "1.5", "m", "inf", "n")
    diff.run("BZPOPMIN", a, b, 0)
    diff.run("BZPOPMAX", a, b, 0)
    diff.run("RPUSH", a, "x", "y")
    diff.run("BLMPOP", 0, 2, a, b, "LEFT", "COUNT", 1)
    diff.run("BLPOP", a, b, 0)


def test_errors_and_their_order(diff):
    diff.run("SET", "str", "v")
    diff.run("RPUSH", A0, *"abcdefgh")  # enough for the commands below that pop
    for command in (
        ("BLPOP", A0), ("BLPOP",), ("BRPOP", A0), ("BLMOVE", A0, B0, "LEFT", "RIGHT"),
        ("BRPOPLPUSH", A0, B0), ("BLMPOP", 0, 1, A0), ("BZPOPMIN", A0), ("BZMPOP", 0, 1, A0),
        ("BLPOP", "str", 0), ("BLPOP", "nokey", "str", 0), ("BLPOP", A0, "str", 0),
        ("BRPOP", "str", "x"), ("BLPOP", "nokey", "-1"), ("BLPOP", "nokey", "abc"),
        ("BLPOP", "nokey", "inf"), ("BLPOP", "nokey", "1e400"), ("BLPOP", "nokey", "nan"),
        ("BLPOP", "nokey", "9.3e15"), ("BLPOP", "nokey", " 1"), ("BLPOP", "nokey", ""),
        ("BZPOPMIN", "str", 0), ("BZPOPMIN", A0, 0), ("BZPOPMAX", "nokey", "-0.5"),
        ("BLMOVE", "str", B0, "LEFT", "RIGHT", 0), ("BLMOVE", A0, "str", "LEFT", "RIGHT", 0),
        ("BLMOVE", A0, B0, "UP", "RIGHT", 0), ("BLMOVE", A0, B0, "LEFT", "DOWN", "x"),
        ("BLMOVE", A0, B0, "LEFT", "RIGHT", "x"), ("BRPOPLPUSH", A0, "str", 0),
        ("BLMPOP", "x", 1, A0, "LEFT"), ("BLMPOP", 0, 0, A0, "LEFT"),
        ("BLMPOP", 0, -1, A0, "LEFT"), ("BLMPOP", 0, 5, A0, "LEFT"),
        ("BLMPOP", 0, 1, A0, "UP"), ("BLMPOP", 0, 1, A0, "LEFT", "COUNT"),
        ("BLMPOP", 0, 1, A0, "LEFT", "COUNT", 0), ("BLMPOP", 0, 1, A0, "LEFT", "COUNT", -1),
        ("BLMPOP", 0, 1, A0, "LEFT", "COUNT", 1, "COUNT", 1), ("BLMPOP", -1, 1, A0, "LEFT"),
        ("BLMPOP", 0, 1, "str", "LEFT"), ("BZMPOP", 0, 1, A0, "MIN"),
        ("BZMPOP", 0, 1, "nokey", "MIDDLE"), ("BZMPOP", "x", 1, "nokey", "MIN"),
        ("BZMPOP", 0, 1, "nokey", "MIN", "COUNT", "x"),
    ):
        diff.run(*command)
    diff.run("LRANGE", A0, 0, -1)


def test_short_timeouts_answer_null(diff):
    """A timeout of a few ms (fractions and long-double quirks included)."""
    for timeout in ("0.01", "0.0001", "1e-400", "0.001"):
        diff.run("BLPOP", "nokey", A1, timeout)
    diff.run("BRPOP", A0, "0.01")
    diff.run("BLMOVE", A0, A1, "LEFT", "LEFT", "0.01")
    diff.run("BRPOPLPUSH", A0, A0, "0.01")
    diff.run("BLMPOP", "0.01", 2, A0, A1, "LEFT")
    diff.run("BZPOPMIN", A0, "0.01")
    diff.run("BZMPOP", "0.01", 1, A0, "MAX", "COUNT", 3)
    diff.run("EXISTS", A0, A1)


@pytest.mark.parametrize("proto", [2, 3])
def test_null_replies_byte_for_byte(server, redis_ref, proto):
    """On timeout and inside MULTI: which null each command answers."""
    commands = [
        ("BLPOP", A0, A1, "0.01"), ("BLMOVE", A0, B0, "LEFT", "RIGHT", "0.01"),
        ("BRPOPLPUSH", A0, A1, "0.01"), ("BZPOPMAX", A0, "0.01"),
        ("BLMPOP", "0.01", 1, A0, "RIGHT"), ("BZMPOP", "0.01", 1, A0, "MIN"),
    ]
    transaction = [("MULTI",)] + [c[:-1] + ("0",) if c[0] not in ("BLMPOP", "BZMPOP")
                                  else (c[0], "0") + c[2:] for c in commands] + [("EXEC",)]

    def scenario(port):
        with RawClient(port) as client:
            client.call("HELLO", proto)
            out = []
            for command in commands:
                client.send_raw(encode(command))
                out.append(read_raw_replies(client, 1))
            client.send_raw(b"".join(encode(c) for c in transaction))
            out.append(read_raw_replies(client, len(transaction)))
            return out

    on_both(server, redis_ref, scenario)


def test_inside_multi_they_do_not_wait(diff):
    diff.run("MULTI")
    diff.run("BLPOP", A0, 0)
    diff.run("BZPOPMIN", A0, A1, 0)
    diff.run("RPUSH", A0, "x")
    diff.run("BLPOP", A0, 0)
    diff.run("BLPOP", A0, 0)
    diff.run("EXEC")


def test_expired_keys_are_empty(diff):
    diff.run("RPUSH", A0, "x")
    diff.run("PEXPIRE", A0, 1)
    time.sleep(0.02)
    diff.run("BLPOP", A0, "0.01")
    diff.run("EXISTS", A0)


# -- waiting and being served ---------------------------------------------------------


def _push_serves_the_waiter(port, a, b):
    with Clients(port) as c:
        ctl, waiter = c.new(), c.new()
        waiter.send_raw(encode(["BLPOP", a, b, 0]))
        blocked(ctl, 1)
        out = [ctl.call("RPUSH", b, "x", "y")]
        out.append(waiter.read())
        blocked(ctl, 0)
        out.append(ctl.call("LRANGE", b, 0, -1))
        return out


@pytest.mark.parametrize("a,b", PAIRS)
def test_a_push_serves_a_waiter(server, redis_ref, a, b):
    on_both(server, redis_ref, _push_serves_the_waiter, a, b)


def _fifo(port, keys, count):
    with Clients(port) as c:
        ctl = c.new()
        waiters = []
        for i in range(count):
            waiter = c.new()
            waiter.send_raw(encode(["BRPOP"] + keys + [0]))
            blocked(ctl, i + 1)
            waiters.append(waiter)
        out = [ctl.call("LPUSH", keys[-1], *["e%d" % i for i in range(count)])]
        out += [w.read() for w in waiters]
        return out


@pytest.mark.parametrize("keys", [[A0], [A0, B0], [A0, A1]])
def test_waiters_are_served_in_fifo_order(server, redis_ref, keys):
    on_both(server, redis_ref, _fifo, keys, 4)


def _served_from_the_key_that_became_ready(port, a, b):
    """Redis serves a waiter from the key that got data, not the first key."""
    with Clients(port) as c:
        ctl, waiter = c.new(), c.new()
        waiter.send_raw(encode(["BLPOP", a, b, 0]))
        blocked(ctl, 1)
        out = ctl.pipeline([["MULTI"], ["RPUSH", b, "x"], ["RPUSH", a, "y"], ["EXEC"]])
        out.append(waiter.read())
        out.append(ctl.call("LRANGE", a, 0, -1))
        return out


def test_a_transaction_serves_after_exec_from_the_first_ready_key(server, redis_ref):
    on_both(server, redis_ref, _served_from_the_key_that_became_ready, A0, B0)


def _transaction_then_pop(port, key):
    """A push and a pop in one transaction: the waiter gets nothing of it."""
    with Clients(port) as c:
        ctl, waiter = c.new(), c.new()
        waiter.send_raw(encode(["BLPOP", key, "0.3"]))
        blocked(ctl, 1)
        out = ctl.pipeline([["MULTI"], ["RPUSH", key, "x"], ["LPOP", key], ["EXEC"]])
        out.append(waiter.read())
        return out


def test_data_gone_by_the_end_of_exec_serves_nobody(server, redis_ref):
    on_both(server, redis_ref, _transaction_then_pop, A0)


def _pipelined_push_then_pop(port, key):
    """A push followed by a pop in one pipeline: the waiter is served between them."""
    with Clients(port) as c:
        ctl, waiter = c.new(), c.new()
        waiter.send_raw(encode(["BLPOP", key, 0]))
        blocked(ctl, 1)
        out = ctl.pipeline([["RPUSH", key, "x"], ["LPOP", key]])
        out.append(waiter.read())
        return out


def test_a_waiter_is_served_right_after_the_write(server, redis_ref):
    on_both(server, redis_ref, _pipelined_push_then_pop, A0)


def _wrong_type_then_list(port, keys):
    key = keys[-1]
    with Clients(port) as c:
        ctl, waiter = c.new(), c.new()
        waiter.send_raw(encode(["BLPOP"] + keys + [0]))
        blocked(ctl, 1)
        out = [ctl.call("SET", key, "string"), ctl.call("DEL", key),
               ctl.call("ZADD", key, 1, "m")]
        time.sleep(0.05)
        out.append(blocked_count(ctl))
        out += [ctl.call("DEL", key), ctl.call("RPUSH", key, "x"), waiter.read()]
        return out


@pytest.mark.parametrize("keys", [[A0], [A0, A1]])
def test_a_value_of_another_type_leaves_the_waiter_waiting(server, redis_ref, keys):
    on_both(server, redis_ref, _wrong_type_then_list, keys)


def _rename_serves(port, source, target):
    with Clients(port) as c:
        ctl, waiter, zwaiter = c.new(), c.new(), c.new()
        waiter.send_raw(encode(["BRPOP", target, 0]))
        blocked(ctl, 1)
        zwaiter.send_raw(encode(["BZPOPMIN", target + "z", 0]))
        blocked(ctl, 2)
        out = [ctl.call("RPUSH", source, "a", "b"), ctl.call("RENAME", source, target)]
        out.append(waiter.read())
        out += [ctl.call("ZADD", source + "z", 3, "m"),
                ctl.call("COPY", source + "z", target + "z"), zwaiter.read()]
        out.append(ctl.call("LRANGE", target, 0, -1))
        return out


@pytest.mark.parametrize("source,target", [(B0, A0), (A1, A0)])
def test_rename_and_copy_serve_waiters(server, redis_ref, source, target):
    on_both(server, redis_ref, _rename_serves, source, target)


def _blmove_chain(port, a, b, c_key):
    """A served BLMOVE pushes to its destination, which serves the next waiter."""
    with Clients(port) as c:
        ctl, mover, popper = c.new(), c.new(), c.new()
        popper.send_raw(encode(["BLPOP", b, 0]))
        blocked(ctl, 1)
        mover.send_raw(encode(["BLMOVE", a, b, "RIGHT", "LEFT", 0]))
        blocked(ctl, 2)
        out = [ctl.call("RPUSH", a, "1", "2"), mover.read(), popper.read()]
        out += [ctl.call("LRANGE", a, 0, -1), ctl.call("LRANGE", b, 0, -1)]
        out.append(ctl.call("BRPOPLPUSH", a, c_key, 0))
        return out


@pytest.mark.parametrize("a,b,c", [(A0, B0, C0), (A0, A1, B0), (A1, A0, B1)])
def test_a_served_blmove_serves_the_next_waiter(server, redis_ref, a, b, c):
    on_both(server, redis_ref, _blmove_chain, a, b, c)


def _zset_waiters(port, a, b):
    with Clients(port) as c:
        ctl, w1, w2, w3 = c.new(), c.new(), c.new(), c.new()
        w1.send_raw(encode(["BZPOPMAX", a, b, 0]))
        blocked(ctl, 1)
        w2.send_raw(encode(["BZMPOP", 0, 2, a, b, "MIN", "COUNT", 2]))
        blocked(ctl, 2)
        w3.send_raw(encode(["BZPOPMIN", b, 0]))
        blocked(ctl, 3)
        out = [ctl.call("ZADD", b, 1, "a", 2, "b", 3, "c", 4, "d"), w1.read(), w2.read(),
               w3.read(), ctl.call("ZRANGE", b, 0, -1, "WITHSCORES")]
        return out


@pytest.mark.parametrize("a,b", PAIRS)
def test_sorted_set_waiters(server, redis_ref, a, b):
    on_both(server, redis_ref, _zset_waiters, a, b)


def _blmpop_waiter(port, a, b):
    with Clients(port) as c:
        ctl, waiter = c.new(), c.new()
        waiter.send_raw(encode(["BLMPOP", 0, 2, a, b, "RIGHT", "COUNT", 3]))
        blocked(ctl, 1)
        out = [ctl.call("RPUSH", b, "1", "2", "3", "4", "5"), waiter.read(),
               ctl.call("LRANGE", b, 0, -1)]
        return out


@pytest.mark.parametrize("a,b", PAIRS)
def test_blmpop_waiter(server, redis_ref, a, b):
    on_both(server, redis_ref, _blmpop_waiter, a, b)


def _timeout_while_others_wait(port, a, b):
    with Clients(port) as c:
        ctl, quick, slow = c.new(), c.new(), c.new()
        slow.send_raw(encode(["BLPOP", a, b, 0]))
        blocked(ctl, 1)
        quick.send_raw(encode(["BLPOP", a, b, "0.05"]))
        out = [quick.read()]
        blocked(ctl, 1)
        out += [ctl.call("RPUSH", a, "v"), slow.read()]
        return out


@pytest.mark.parametrize("a,b", PAIRS)
def test_a_timeout_leaves_the_other_waiters(server, redis_ref, a, b):
    on_both(server, redis_ref, _timeout_while_others_wait, a, b)


def _pipeline_waits_behind(port, key):
    """Commands pipelined after a blocking one run once it has answered."""
    with Clients(port) as c:
        ctl, waiter = c.new(), c.new()
        waiter.send_raw(encode(["BLPOP", key, 0]) + encode(["SET", key + "s", "after"])
                        + encode(["GET", key + "s"]))
        blocked(ctl, 1)
        time.sleep(0.05)
        out = [ctl.call("GET", key + "s"), ctl.call("RPUSH", key, "x")]
        out += [waiter.read(), waiter.read(), waiter.read()]
        return out


@pytest.mark.parametrize("key", [A0, A1])
def test_later_commands_wait_for_the_blocked_one(server, redis_ref, key):
    on_both(server, redis_ref, _pipeline_waits_behind, key)


# -- CLIENT UNBLOCK, disconnects, CLIENT LIST ---------------------------------------------


def _unblock(port, keys, reason):
    with Clients(port) as c:
        ctl, waiter = c.new(), c.new()
        wid = waiter.call("CLIENT", "ID")
        waiter.send_raw(encode(["BLPOP"] + keys + [0]))
        blocked(ctl, 1)
        flags = [line.split(" flags=")[1].split()[0]
                 for line in ctl.call("CLIENT", "LIST").decode().splitlines()
                 if line.startswith("id=%d " % wid)]
        args = ["CLIENT", "UNBLOCK", wid] + ([reason] if reason else [])
        out = [flags, ctl.call(*args), waiter.read()]
        blocked(ctl, 0)
        out += [ctl.call(*args), ctl.call("CLIENT", "UNBLOCK", 999999),
                ctl.call("RPUSH", keys[0], "kept"), waiter.call("LLEN", keys[0])]
        return out


@pytest.mark.parametrize("keys", [[A0], [A0, A1]])
@pytest.mark.parametrize("reason", [None, "TIMEOUT", "ERROR"])
def test_client_unblock(server, redis_ref, keys, reason):
    on_both(server, redis_ref, _unblock, keys, reason)


def test_client_unblock_errors(diff):
    diff.run("CLIENT", "UNBLOCK", "x")
    diff.run("CLIENT", "UNBLOCK", 1, "SOON")
    diff.run("CLIENT", "UNBLOCK", 1, "TIMEOUT", "x")
    diff.run("CLIENT", "UNBLOCK")


def _disconnect(port, keys):
    with Clients(port) as c:
        ctl, gone, stays = c.new(), c.new(), c.new()
        gone.send_raw(encode(["BLPOP"] + keys + [0]))
        blocked(ctl, 1)
        stays.send_raw(encode(["BLPOP"] + keys + [0]))
        blocked(ctl, 2)
        gone.close()
        blocked(ctl, 1)
        out = [ctl.call("RPUSH", keys[-1], "x", "y"), stays.read()]
        out.append(ctl.call("LRANGE", keys[-1], 0, -1))
        return out


@pytest.mark.parametrize("keys", [[A0], [A0, B0], [A0, A1]])
def test_a_client_that_disconnects_is_forgotten(server, redis_ref, keys):
    on_both(server, redis_ref, _disconnect, keys)
