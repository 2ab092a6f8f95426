"""Key-level locks and parked requests on real processes.

A test link plays the proxy's coordinator: it presents the cluster secret,
opens a client session (``DF.CTX ... <client-id>``) and locks one key with
``DF.LOCK``.  While the lock is held, commands on that key wait -- through the
proxy (the shard parks them and answers the link later, out of band) and on
the shard's own port -- and every other key of the same shard keeps being
served.  Releasing the lock, or dropping the link that holds it, lets them run.
"""

import socket
import time

import hiredis
import pytest

from tests.helpers import start_with_secret, RawClient, encode, names_on_shard

SECRET = "key-locks-test-secret"


@pytest.fixture(scope="module")
def damselfly():
    proc = start_with_secret(SECRET, shards=2)
    yield proc
    proc.stop()


class Link:
    """A raw internal link to one shard; replies arrive wrapped in a bulk string."""

    def __init__(self, port, client_id):
        self.id = str(client_id)
        self.raw = RawClient(port)
        assert self.call("DF.LINK", SECRET, "9") == b"OK"
        assert self.call("DF.CTX", "0", "2", "-", str(client_id)) == b"OK"

    def call(self, *args):
        data = self.raw.call(*args)
        reader = hiredis.Reader()
        reader.feed(data)
        return reader.gets()

    def close(self):
        self.raw.close()


class Pending:
    """A client whose replies the test reads later, with a deadline."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.reader = hiredis.Reader()

    def send(self, *commands):
        self.sock.sendall(b"".join(encode(c) for c in commands))

    def replies(self, n, timeout):
        self.sock.settimeout(timeout)
        out = []
        try:
            while len(out) < n:
                reply = self.reader.gets()
                if reply is not False:
                    out.append(reply)
                    continue
                data = self.sock.recv(65536)
                if not data:
                    break
                self.reader.feed(data)
        except socket.timeout:
            pass
        return out

    def close(self):
        self.sock.close()


def timed_get(port, key):
    with RawClient(port) as c:
        t0 = time.monotonic()
        value = c.call("GET", key)
        return value, time.monotonic() - t0


@pytest.mark.exclusive
def test_a_locked_key_waits_while_the_rest_of_the_shard_answers(damselfly):
    locked, other = names_on_shard(0, 2, prefix="lock")
    remote = names_on_shard(1, 1, prefix="lock")[0]
    with RawClient(damselfly.port) as c:
        c.call("MSET", locked, "before", other, "o", remote, "r")
    link = Link(damselfly.shard_ports[0], 4242)
    assert link.call("DF.LOCK", link.id, "w", "1", "0", locked) == 0
    waiter = Pending(damselfly.port)  # through the proxy
    direct = Pending(damselfly.shard_ports[0])  # straight to the shard
    reader = Pending(damselfly.port)
    try:
        waiter.send(["SET", locked, "after"], ["GET", other])
        direct.send(["GET", locked])
        reader.send(["MGET", locked, remote])  # atomic across shards: waits too
        assert waiter.replies(1, 0.3) == []
        assert direct.replies(1, 0.1) == [] and reader.replies(1, 0.1) == []
        for key, expected in ((other, b"o"), (remote, b"r")):
            value, took = timed_get(damselfly.port, key)
            assert value == expected and took < 0.5
        value, took = timed_get(damselfly.shard_ports[0], other)
        assert value == b"o" and took < 0.5
        assert link.call("DF.UNLOCK", link.id) == b"OK"
        # The parked SET runs, then its client's next reply follows in order.
        assert waiter.replies(2, 5) == [b"OK", b"o"]
        assert direct.replies(1, 5) in ([b"before"], [b"after"])
        assert reader.replies(1, 5) == [[b"after", b"r"]]
    finally:
        for c in (waiter, direct, reader):
            c.close()
        link.close()


def test_a_dropped_link_releases_its_locks(damselfly):
    key = names_on_shard(1, 1, prefix="droplock")[0]
    with RawClient(damselfly.port) as c:
        c.call("SET", key, "v")
    link = Link(damselfly.shard_ports[1], 77)
    assert link.call("DF.LOCK", link.id, "w", "1", "0", key) == 0
    waiter = Pending(damselfly.port)
    try:
        waiter.send(["INCR", key], ["GET", key])
        assert waiter.replies(1, 0.3) == []
        link.close()  # the proxy that held it died, say
        assert waiter.replies(2, 5)[1] == b"v"
    finally:
        waiter.close()


@pytest.mark.exclusive
def test_shared_locks_let_readers_through(damselfly):
    key = names_on_shard(0, 1, prefix="rlock")[0]
    with RawClient(damselfly.port) as c:
        c.call("SET", key, "1")
    link = Link(damselfly.shard_ports[0], 78)
    assert link.call("DF.LOCK", link.id, "r", "1", "0", key) == 0
    writer = Pending(damselfly.port)
    try:
        value, took = timed_get(damselfly.port, key)
        assert value == b"1" and took < 0.5
        writer.send(["INCR", key])
        assert writer.replies(1, 0.3) == []
        assert link.call("DF.UNLOCK", link.id) == b"OK"
        assert writer.replies(1, 5) == [2]
    finally:
        writer.close()
        link.close()


def test_internal_commands_need_the_secret(damselfly):
    with RawClient(damselfly.shard_ports[0]) as c:
        reply = c.call("DF.LOCK", "1", "w", "1", "0", "k")
        assert str(reply).startswith("ERR unknown command 'DF.LOCK'")
        assert str(c.call("DF.LINK", "wrong", "0")).startswith("ERR unknown command")


def test_df_gone_drops_the_session_and_its_locks(damselfly):
    """The proxy says a client went away: its locks go at once, the link stays."""
    key = names_on_shard(0, 1, "gonelock")[0]
    with RawClient(damselfly.port) as c:
        c.call("SET", key, "1")
    link = Link(damselfly.shard_ports[0], 79)
    assert link.call("WATCH", key) == b"OK"
    assert link.call("DF.LOCK", link.id, "w", "1", "0", key) == 0
    writer = Pending(damselfly.port)
    try:
        writer.send(["INCR", key])
        assert writer.replies(1, 0.3) == []
        assert link.call("DF.GONE", "79") == b"OK"
        assert writer.replies(1, 5) == [2]
        # A new session under the same id starts clean: no watch, no lock.
        assert link.call("DF.CTX", "0", "2", "-", "79") == b"OK"
        assert link.call("DF.LOCK", link.id, "r", "0") == 0
        assert link.call("DF.UNLOCK", link.id) == b"OK"
    finally:
        writer.close()
        link.close()


def test_a_client_that_disconnects_mid_transaction_leaves_no_lock(damselfly):
    """Through the proxy: clients that vanish right after EXEC (replies unread)
    never leave a key locked behind them."""
    a, b = names_on_shard(0, 1, "mid")[0], names_on_shard(1, 1, "mid")[0]
    for _ in range(30):
        c = Pending(damselfly.port)
        c.send(["WATCH", a, b], ["MULTI"], ["INCR", a], ["INCR", b], ["EXEC"], ["MGET", a, b])
        c.close()
    with RawClient(damselfly.port, timeout=5) as c:
        t0 = time.monotonic()
        values = c.call("MGET", a, b)
        assert c.call("INCR", a) and c.call("INCR", b)
        assert time.monotonic() - t0 < 2
        assert values[0] == values[1]  # every transfer whole or not at all
