"""Hostile and careless clients against the real server: garbage, truncated
frames, absurd lengths, deep pipelines, crowds of connections that vanish,
and clients that leave with requests in flight.  After each, the server must
still answer a fresh client.  Protocol errors are compared with redis-server:
same error line, and the connection is closed, as Redis does."""

from __future__ import annotations

import random
import socket
import threading
import time

import hiredis
import pytest

from cluster.slots import SlotMap, split_slots
from tests.helpers import DamselflyProcess, RawClient, RedisProcess, encode
from tests.reference import reference_binary

# "bar" is on shard 0 and "foo" on shard 1 of a 2-shard server.
SLOTS = SlotMap(split_slots(2))
KEY0, KEY1 = b"bar", b"foo"
assert SLOTS.shard_of_key(KEY0) == 0 and SLOTS.shard_of_key(KEY1) == 1


def exchange(port: int, data: bytes, timeout: float = 5.0):
    """Send ``data``; read until the server closes or ``timeout`` passes.

    Returns (bytes received, whether the server closed the connection)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        sock.sendall(data)
        out = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                chunk = sock.recv(65536)
            except socket.timeout:
                return out, False
            except ConnectionResetError:
                return out, True
            if not chunk:
                return out, True
            out += chunk
        return out, False
    finally:
        sock.close()


def assert_healthy(port: int) -> None:
    """A fresh connection gets PING and GET/SET answered on both shards."""
    with RawClient(port, timeout=5) as c:
        assert c.call("PING") == b"PONG"
        token = b"%d" % random.getrandbits(40)
        keys = (b"{bar}:health", b"{foo}:health")  # one on each shard
        assert c.call("SET", keys[0], token) == b"OK"
        assert c.call("SET", keys[1], token) == b"OK"
        assert c.pipeline([("GET", keys[0]), ("GET", keys[1])]) == [token, token]


def client_count(port: int) -> int:
    with RawClient(port, timeout=5) as c:
        return len(c.call("CLIENT", "LIST").splitlines())


def wait_client_count(port: int, want: int, timeout: float = 10.0) -> int:
    deadline = time.monotonic() + timeout
    n = client_count(port)
    while n > want and time.monotonic() < deadline:
        time.sleep(0.1)
        n = client_count(port)
    return n


# Garbage that ends the connection: Redis sends one error line and closes.
FATAL = [
    b"*2\r\n:1\r\n",
    b"*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nECHO\r\n+x\r\n",
    b"*abc\r\n",
    b"*+1\r\n$4\r\nPING\r\n",
    b"*-0\r\n",
    b"*3000000000\r\n",
    b"*1\r\n$-1\r\n",
    b"*1\r\n$+3\r\nabc\r\n",
    b"*3\r\n$99999999999\r\n",
    b"*2\r\n$3\r\nGET\r\n$600000000\r\n",
    b'"unbalanced\r\n',
    b"SET 'a'b c\r\n",
    b"PING\r\nECHO \"x\r\n",
    b"x" * 70000,
    b"*" + b"1" * 70000,
    b"*1\r\n$" + b"1" * 70000,
]


@pytest.mark.parametrize("data", FATAL, ids=lambda d: repr(d[:24]))
def test_protocol_errors_match_redis_and_close(server, redis_ref, data):
    expected, ref_closed = exchange(redis_ref.port, data)
    actual, closed = exchange(server.port, data)
    assert ref_closed and closed
    assert actual == expected
    assert expected.rstrip(b"\r\n").split(b"\r\n")[-1].startswith(b"-ERR Protocol error: ")
    assert_healthy(server.port)


def test_shard_ports_refuse_garbage_like_redis(server, redis_ref):
    """In sharded mode clients talk to the shards directly: a shard parses
    requests with the same rules, and survives the same garbage."""
    port = server.shard_ports[0]
    for data in FATAL:
        expected, _ = exchange(redis_ref.port, data)
        assert exchange(port, data) == (expected, True), data[:24]
    assert exchange(port, b"a\x00b\r\n", 0.3) == (b"", False)
    with RawClient(port, timeout=5) as c:
        assert c.call("PING") == b"PONG"
    assert_healthy(server.port)


def test_limits_before_auth_match_redis():
    """Before AUTH, Redis refuses more than 10 arguments and bulks over 16 KiB."""
    reference_binary()
    ref = RedisProcess("--requirepass", "pw").start()
    try:
        with DamselflyProcess(shards=2, requirepass="pw") as server:
            for data in (b"*11\r\n" + b"$1\r\nx\r\n" * 11,
                         b"*2\r\n$4\r\nAUTH\r\n$16385\r\n",
                         b"*x\r\n",
                         b"*10\r\n" + b"$1\r\nx\r\n" * 10,
                         b"GET x\r\n",
                         b"*2\r\n$4\r\nAUTH\r\n$2\r\nno\r\n"):
                assert exchange(server.port, data, 0.5) == exchange(ref.port, data, 0.5), data[:20]
            with RawClient(server.port) as c:  # after AUTH the normal limits apply
                assert c.call("AUTH", "pw") == b"OK"
                assert c.call("ECHO", b"x" * 20000) == b"x" * 20000
                assert c.call("MSET", *[b"k%d" % (i % 6) for i in range(12)]) == b"OK"
            # In one write, each command is read under the limits in force when
            # its turn comes: AUTH first lifts them for what follows; a failed
            # AUTH does not.
            big = ("ECHO", b"x" * 20000)
            many = ("MSET",) + tuple(b"k%d" % (i % 6) for i in range(12))
            for first in (("AUTH", "pw"), ("AUTH", "wrong"), ("PING",)):
                data = encode(first) + encode(big) + encode(many) + encode(("PING",))
                expected = exchange(ref.port, data, 0.5)
                for port in (server.port, server.shard_ports[0]):
                    assert exchange(port, data, 0.5) == expected, (first, port)
    finally:
        ref.stop()


# Odd but legal requests: the same replies as Redis, connection kept.
ODD = [
    (b"*-5\r\nPING\r\n", 1),
    (b"*0\r\n*-1\r\nPING\r\n", 1),
    (b"\r\n\r\n  \r\nPING\r\n", 1),
    (b"*1\r\n$4\r\nPINGxx", 1),
    (b"$4\r\nPING\r\n", 2),
    (b"*1\r\n$0\r\n\r\n", 1),
    (b"ECHO \"\\x41\\n\\q\" 'it\\'s'\r\n", 1),
    (b'ECHO ""\r\n', 1),
    (b"PING\nPING\n", 2),
]


@pytest.mark.parametrize("data,replies", ODD, ids=lambda d: repr(d)[:24])
def test_odd_requests_match_redis(server, redis_ref, data, replies):
    def talk(port):
        with RawClient(port, timeout=5) as c:
            c.send_raw(data)
            got = [c.read() for _ in range(replies)]
            assert c.call("PING") == b"PONG"  # still open
            return got

    assert talk(server.port) == talk(redis_ref.port)


def test_nul_in_an_inline_request_does_not_hang_the_server(server, redis_ref):
    """The newline after a NUL is invisible to Redis (strchr): no reply,
    connection open; and the server keeps serving everyone else."""
    for data in (b"a\x00b\r\nPING\r\n", b'"a\x00"\r\n', b"\x00\r\n"):
        assert exchange(redis_ref.port, data, 0.3) == (b"", False)
        assert exchange(server.port, data, 0.3) == (b"", False)
        assert_healthy(server.port)


def test_huge_bulk_length_is_refused_before_its_data(server):
    start = time.monotonic()
    reply, closed = exchange(server.port, b"*2\r\n$3\r\nGET\r\n$99999999999\r\n")
    assert reply == b"-ERR Protocol error: invalid bulk length\r\n" and closed
    assert time.monotonic() - start < 3


def test_huge_multibulk_count_costs_nothing(server):
    """hiredis would allocate 2^31 slots at the header and take seconds to
    free them; the server must not stall other clients."""
    with RawClient(server.port, timeout=5) as victim:
        for _ in range(3):
            sock = socket.create_connection(("127.0.0.1", server.port))
            sock.sendall(b"*2147483647\r\n$1\r\nx\r\n")
            sock.close()
        start = time.monotonic()
        for _ in range(20):
            assert victim.call("PING") == b"PONG"
        assert time.monotonic() - start < 2
    assert_healthy(server.port)


def test_commands_before_a_protocol_error_are_answered(server):
    data = (b"*3\r\n$3\r\nSET\r\n$3\r\nbar\r\n$1\r\n1\r\n"
            b"*2\r\n$3\r\nGET\r\n$3\r\nfoo\r\n"
            b"*1\r\n$4\r\nPING\r\n*x\r\n")
    with RawClient(server.port) as c:
        c.call("SET", KEY1, "one")
    reply, closed = exchange(server.port, data)
    assert reply == (b"+OK\r\n$3\r\none\r\n+PONG\r\n"
                     b"-ERR Protocol error: invalid multibulk length\r\n")
    assert closed


def test_random_garbage_never_breaks_the_server(server):
    rng = random.Random(1129)
    pieces = [b"*", b"$", b"\r\n", b"1", b"3", b"-1", b"PING", b"GET", b"bar", b"'", b'"',
              b"\x00", b"*1\r\n$4\r\nPING\r\n", b"*2\r\n$3\r\nGET\r\n$3\r\nfoo\r\n", b" "]
    for i in range(40):
        if i % 2:
            data = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300)))
        else:
            data = b"".join(rng.choice(pieces) for _ in range(rng.randrange(1, 40)))
        reply, _ = exchange(server.port, data, timeout=0.1)
        # Whatever came back is well-formed RESP.
        reader = hiredis.Reader()
        reader.feed(reply)
        while reader.gets() is not False:
            pass
    assert_healthy(server.port)


def test_truncated_frames_then_disconnect(server):
    frame = b"*3\r\n$3\r\nSET\r\n$3\r\nbar\r\n$5\r\nvalue\r\n"
    for cut in range(1, len(frame)):
        sock = socket.create_connection(("127.0.0.1", server.port))
        sock.sendall(frame[:cut])
        sock.close()
    assert_healthy(server.port)


def test_deep_pipeline_replies_arrive_in_order(server):
    """100,000 commands in one write, alternating between the two shards and
    the proxy itself; every reply is counted and checked in order."""
    n = 100_000
    with RawClient(server.port) as c:
        c.call("DEL", KEY0, KEY1)
    cmds = []
    expected = []
    a = b = 0
    for i in range(n):
        kind = i % 4
        if kind == 0:
            a += 1
            cmds.append(b"*2\r\n$4\r\nINCR\r\n$3\r\nbar\r\n")
            expected.append(b":%d\r\n" % a)
        elif kind == 1:
            b += 1
            cmds.append(b"*2\r\n$4\r\nINCR\r\n$3\r\nfoo\r\n")
            expected.append(b":%d\r\n" % b)
        elif kind == 2:
            cmds.append(b"*2\r\n$4\r\nECHO\r\n$%d\r\n%d\r\n" % (len(b"%d" % i), i))
            expected.append(b"$%d\r\n%d\r\n" % (len(b"%d" % i), i))
        else:
            cmds.append(b"*2\r\n$3\r\nGET\r\n$3\r\nbar\r\n")
            expected.append(b"$%d\r\n%d\r\n" % (len(b"%d" % a), a))
    payload = b"".join(cmds)
    want = b"".join(expected)
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    sender = threading.Thread(target=sock.sendall, args=(payload,))
    sender.start()
    got = bytearray()
    try:
        while len(got) < len(want):
            chunk = sock.recv(1 << 20)
            if not chunk:
                break
            got += chunk
    finally:
        sender.join()
        sock.close()
    assert len(got) == len(want)
    assert bytes(got) == want
    assert_healthy(server.port)


def test_big_values_and_pipelines_of_them(server):
    """Values beyond the parser's 1 MB copy of a pending frame, alone and
    back to back in one write, come back byte for byte."""
    rng = random.Random(5)
    big = bytes(rng.getrandbits(8) for _ in range(1 << 16)) * 300  # ~19.7 MB
    with RawClient(server.port, timeout=60) as c:
        assert c.call("SET", KEY0, big) == b"OK"
        assert c.call("GET", KEY0) == big
        values = [bytes([65 + i]) * (600_000 + i) for i in range(20)]
        cmds = [("SET", b"big:%d" % i, v) for i, v in enumerate(values)]
        assert c.pipeline(cmds) == [b"OK"] * 20
        assert c.pipeline([("GET", b"big:%d" % i) for i in range(20)]) == values
        assert c.call("DEL", KEY0, *[b"big:%d" % i for i in range(20)]) == 21
    assert_healthy(server.port)


def test_thousand_connections_opened_and_dropped(server):
    """Some idle, some mid-command, some with a whole command unread; the
    proxy must forget every one of them."""
    baseline = client_count(server.port)
    partial = b"*3\r\n$3\r\nSET\r\n$3\r\nbar\r\n$5\r\nva"
    whole = b"*2\r\n$3\r\nGET\r\n$3\r\nfoo\r\n*1\r\n$4\r\nPING\r\n"
    opened = 0
    for batch in range(10):
        socks = []
        for i in range(100):
            s = socket.create_connection(("127.0.0.1", server.port), timeout=5)
            kind = (batch * 100 + i) % 3
            if kind == 1:
                s.sendall(partial)
            elif kind == 2:
                s.sendall(whole)
            socks.append(s)
            opened += 1
        for i, s in enumerate(socks):
            if i % 2:  # half of them reset instead of closing politely
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            s.close()
    assert opened == 1000
    assert_healthy(server.port)
    assert wait_client_count(server.port, baseline) <= baseline


def test_disconnect_with_requests_in_flight(server):
    """Clients that leave while their replies are on the way: a slow shard
    (DEBUG SLEEP), big pipelines cut off, and big replies never read."""
    with RawClient(server.port) as c:
        c.call("SET", KEY0, b"x" * 20_000)
        c.call("SET", KEY1, b"y" * 20_000)
    for _ in range(5):
        s = socket.create_connection(("127.0.0.1", server.port))
        s.sendall(b"*3\r\n$5\r\nDEBUG\r\n$5\r\nSLEEP\r\n$3\r\n0.2\r\n"
                  b"*2\r\n$3\r\nGET\r\n$3\r\nbar\r\n*2\r\n$3\r\nGET\r\n$3\r\nfoo\r\n")
        s.close()
    big = b"*2\r\n$3\r\nGET\r\n$3\r\nbar\r\n*2\r\n$3\r\nGET\r\n$3\r\nfoo\r\n" * 200
    for _ in range(10):
        s = socket.create_connection(("127.0.0.1", server.port))
        s.sendall(big)
        s.close()
    for _ in range(5):
        s = socket.create_connection(("127.0.0.1", server.port))
        s.sendall(b"*3\r\n$3\r\nSET\r\n$5\r\nfresh\r\n$1\r\n1\r\n" * 2000)
        time.sleep(0.01)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        s.close()
    time.sleep(0.5)  # let the slow shard finish its sleeps
    assert_healthy(server.port)
    with RawClient(server.port) as c:
        assert c.call("GET", KEY0) == b"x" * 20_000
