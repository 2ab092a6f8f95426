"""The shard's blocking machinery in-process: connections with fake
transports on one ShardServer, so the frames a proxy link gets and the
journal of served pops can be read exactly."""

import asyncio

from cluster.config import Config
from cluster.resp import encode_command
from cluster.topology import Topology
from shardnode.node import ShardConnection, ShardServer


class Transport:
    def __init__(self):
        self.data = []

    def write(self, data):
        self.data.append(data)

    def taken(self) -> bytes:
        out, self.data = b"".join(self.data), []
        return out

    def get_extra_info(self, *args):
        return None

    def pause_reading(self):
        pass

    def resume_reading(self):
        pass

    def close(self):
        pass


def _send(conn, *commands):
    conn.data_received(b"".join(encode_command([a if isinstance(a, bytes) else str(a).encode()
                                                for a in c]) for c in commands))


def _shard():
    config = Config()
    return ShardServer(config, 0, Topology(config), "secret")


def _connect(server, link=False):
    conn = ShardConnection(server)
    conn.connection_made(Transport())
    if link:
        _send(conn, ["DF.LINK", "secret", "0"])
        conn.transport.taken()
    return conn


def deferred(tag: int, reply: bytes) -> bytes:
    """The frame of a parked request's deferred reply (wrapped as a bulk string)."""
    return b"*3\r\n$1\r\nD\r\n:%d\r\n$%d\r\n%b\r\n" % (tag, len(reply), reply)


def _journal(server):
    return [[a.decode() for a in entry] for _db, entry in server.keyspace.journal.entries]


def test_served_pops_are_journalled_as_the_pop_they_did():
    async def run():
        server = _shard()
        ctl, w1, w2 = _connect(server), _connect(server), _connect(server)
        _send(w1, ["BLPOP", "a", "b", 0])
        _send(w2, ["BRPOPLPUSH", "b", "c", 0])
        assert server.blocking.count == 2
        _send(ctl, ["RPUSH", "b", "x", "y"])
        assert w1.transport.taken() == b"*2\r\n$1\r\nb\r\n$1\r\nx\r\n"
        assert w2.transport.taken() == b"$1\r\ny\r\n"
        assert _journal(server) == [["RPUSH", "b", "x", "y"], ["LPOP", "b"],
                                    ["RPOPLPUSH", "b", "c"]]
        assert server.blocking.count == 0 and not server.blocking.waiting
        assert server.keyspace.write_listeners == []  # the hook is off again

    asyncio.run(run())


def test_a_direct_client_runs_its_later_commands_once_served():
    async def run():
        server = _shard()
        ctl, waiter = _connect(server), _connect(server)
        _send(waiter, ["BLPOP", "q", 0], ["SET", "after", "1"])
        _send(waiter, ["GET", "after"])
        _send(ctl, ["GET", "after"])
        assert ctl.transport.taken() == b"$-1\r\n"
        _send(ctl, ["RPUSH", "q", "v"])
        await asyncio.sleep(0)  # the waiter's inbox runs on the next turn
        assert waiter.transport.taken() == b"*2\r\n$1\r\nq\r\n$1\r\nv\r\n+OK\r\n$1\r\n1\r\n"

    asyncio.run(run())


def test_link_requests_park_and_answer_with_deferred_frames():
    async def run():
        server = _shard()
        link, ctl = _connect(server, link=True), _connect(server)
        _send(link, ["DF.CTX", 0, 2, "-", 41], ["BZPOPMIN", "z", "0.05"],
              ["DF.CTX", 0, 3, "-", 42], ["BLPOP", "l", 0])
        assert link.transport.taken() == b"$5\r\n+OK\r\n\r\n:1\r\n$5\r\n+OK\r\n\r\n:2\r\n"
        _send(ctl, ["RPUSH", "l", "v"])
        assert link.transport.taken() == deferred(2, b"*2\r\n$1\r\nl\r\n$1\r\nv\r\n")
        await asyncio.sleep(0.1)  # the BZPOPMIN times out: a null array in its RESP2
        assert link.transport.taken() == deferred(1, b"*-1\r\n")

    asyncio.run(run())


def test_a_gone_client_is_forgotten_and_its_link_slot_freed():
    async def run():
        server = _shard()
        link, ctl = _connect(server, link=True), _connect(server)
        _send(link, ["DF.CTX", 0, 2, "-", 7], ["BLPOP", "l", 0])
        link.transport.taken()
        _send(link, ["DF.GONE", 7])
        # the parked request's slot is answered (the proxy drops it)
        assert link.transport.taken() == deferred(1, b"") + b"$5\r\n+OK\r\n\r\n"
        _send(ctl, ["RPUSH", "l", "kept"])
        assert ctl.transport.taken() == b":1\r\n"
        assert server.blocking.count == 0

    asyncio.run(run())


def test_a_cross_shard_wakeup_holds_the_keys_turn():
    """A proxy's wake-up is queued like a waiter: the waiters behind it on
    the key wait until the proxy says it is done (UNWAIT) or waits on (REWAIT)."""
    async def run():
        server = _shard()
        link, ctl, behind = _connect(server, link=True), _connect(server), _connect(server)
        _send(link, ["DF.WAIT", 9, 5, 0, "list", "q"])
        link.transport.taken()
        _send(behind, ["BLPOP", "q", 0])
        _send(ctl, ["ZADD", "q2", 1, "m"], ["RPUSH", "q", "v"])
        assert link.transport.taken() == b"*3\r\n$1\r\nW\r\n:9\r\n:5\r\n"
        assert behind.transport.taken() == b""  # its turn has not come
        _send(ctl, ["RPUSH", "q", "w"])
        assert link.transport.taken() == b""  # woken once per turn
        _send(link, ["DF.REWAIT", 9, 5])  # the proxy found nothing it wanted
        assert link.transport.taken() == b"*3\r\n$1\r\nW\r\n:9\r\n:5\r\n$5\r\n+OK\r\n\r\n"
        _send(link, ["DF.UNWAIT", 9, 5])
        assert behind.transport.taken() == b"*2\r\n$1\r\nq\r\n$1\r\nv\r\n"

    asyncio.run(run())


def test_client_unblock_on_a_shard_port():
    async def run():
        server = _shard()
        ctl, waiter = _connect(server), _connect(server)
        _send(waiter, ["BLMOVE", "a", "b", "LEFT", "LEFT", 0])
        _send(ctl, ["CLIENT", "UNBLOCK", waiter.id, "ERROR"])
        assert ctl.transport.taken() == b":1\r\n"
        assert waiter.transport.taken() == b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n"
        _send(ctl, ["CLIENT", "UNBLOCK", waiter.id])
        assert ctl.transport.taken() == b":0\r\n"

    asyncio.run(run())
