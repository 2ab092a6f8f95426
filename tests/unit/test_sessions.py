"""Key-level locks, WATCH marks and the link protocol's out-of-order frames,
without a network: shardnode/sessions.py and proxy/links.py."""

import asyncio

from shardnode.sessions import ClientSession, LockTable, WatchTable


def test_exclusive_locks_conflict_with_every_other_session():
    locks = LockTable()
    a, b = ClientSession(1), ClientSession(2)
    locks.acquire(a, [(0, b"k")], True)
    assert locks.held == 1
    assert not locks.conflict(a, [(0, b"k")], True)  # its own lock
    assert locks.conflict(b, [(0, b"k")], False)
    assert locks.conflict(b, [(0, b"k")], True)
    assert not locks.conflict(b, [(0, b"other")], True)
    assert not locks.conflict(b, [(1, b"k")], True)  # another database
    assert not locks.conflict(None, [(0, b"other")], True)  # a request without a session
    assert locks.conflict(None, [(0, b"k")], False)
    assert locks.release(a)
    assert locks.held == 0 and not locks.conflict(b, [(0, b"k")], True)
    assert not locks.release(a)


def test_shared_locks_let_readers_in_and_keep_writers_out():
    locks = LockTable()
    a, b, c = ClientSession(1), ClientSession(2), ClientSession(3)
    locks.acquire(a, [(0, b"k")], False)
    assert not locks.conflict(b, [(0, b"k")], False)
    locks.acquire(b, [(0, b"k")], False)
    assert locks.held == 1
    assert locks.conflict(c, [(0, b"k")], True)
    assert locks.conflict(a, [(0, b"k")], True)  # b shares it: a cannot write
    locks.release(b)
    assert not locks.conflict(a, [(0, b"k")], True)
    assert locks.conflict(c, [(0, b"k")], True)
    locks.release(a)
    assert locks.held == 0 and not locks.keys


def test_whole_shard_lock():
    locks = LockTable()
    a, b = ClientSession(1), ClientSession(2)
    assert not locks.conflict_any(a)
    locks.acquire(b, [(0, b"k")], False)
    assert locks.conflict_any(a) and not locks.conflict_any(b)
    locks.release(b)
    locks.acquire_all(a)
    assert locks.conflict(b, [(3, b"anything")], False)
    assert locks.conflict(None, [], False)
    assert not locks.conflict(a, [(0, b"k")], True)
    locks.release(a)
    assert locks.held == 0 and locks.all_owner is None


def test_watch_marks_only_the_sessions_watching_the_key():
    watches = WatchTable(16)
    a, b = ClientSession(1), ClientSession(2)
    watches.watch(a, 0, b"k")
    watches.watch(a, 0, b"k")  # twice is once
    watches.watch(b, 1, b"k")
    assert watches.count == 2
    watches.touch(0, b"other")
    assert not a.dirty
    watches.touch(0, b"k")
    assert a.dirty and not b.dirty
    watches.touch_db(1, lambda key: False)  # a flush of a db where the key is missing
    assert not b.dirty
    watches.touch_db(1, lambda key: True)
    assert b.dirty
    watches.unwatch_all(a)
    watches.unwatch_all(b)
    assert watches.count == 0 and not a.dirty and all(not d for d in watches.by_db)


class _Target:
    def __init__(self):
        self.got = []

    def deliver(self, slot):
        self.got.append(slot[1])


class _Worker:
    def __init__(self):
        self.clients = {}
        self.secret = b"s"
        self.index = 0

    def flush_soon(self):
        pass

    def flush_clients(self):
        pass


class _Client:
    def __init__(self):
        self.pushed = []

    def push(self, data):
        self.pushed.append(data)


def test_link_matches_parked_requests_with_their_deferred_replies():
    """``:<tag>`` stands in for a parked request; ``D`` frames fill it later,
    and replies behind it are not held up."""
    from proxy.links import ShardLink
    from cluster.topology import ShardInfo

    loop = asyncio.new_event_loop()
    try:
        asyncio.set_event_loop(loop)
        worker = _Worker()
        client = _Client()
        worker.clients[7] = client
        link = ShardLink(worker, ShardInfo(0, "127.0.0.1", 1, "127.0.0.1", (0, 16383), "n0"))
        first, second, third = _Target(), _Target(), _Target()
        for target in (first, second, third):
            link.pending.append([target, None])
        link.data_received(b":41\r\n$5\r\n+OK\r\n\r\n")  # first parked, second answered
        assert first.got == [] and second.got == [b"+OK\r\n"]
        link.data_received(b"*3\r\n$1\r\nP\r\n:7\r\n$7\r\n+ping\r\n\r\n")  # a push for client 7
        assert client.pushed == [b"+ping\r\n"]
        link.data_received(b"*3\r\n$1\r\nD\r\n:41\r\n$6\r\n:100\r\n\r\n$4\r\n:3\r\n\r\n")
        assert first.got == [b":100\r\n"] and third.got == [b":3\r\n"]
        assert not link.pending and not link.deferred
    finally:
        loop.close()
        asyncio.set_event_loop(None)
