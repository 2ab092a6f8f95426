"""Client-side caching end to end: a RESP3 tracking connection with a local
cache never serves a stale value, through the proxy and on shard ports.

The cache is the textbook one built on CLIENT TRACKING (redis-py 8 turns its
own cache on only for servers reporting 7.4 or later, and the server reports
its true 7.2 level): before answering from the cache it takes every push
already on its socket and forgets the keys invalidated.  Writers run in
threads, on keys of both shards; after each acknowledged write the writer
records the value, and every cached read must give that value or a later one.
"""

from __future__ import annotations

import select
import socket
import threading
import time

import hiredis
import pytest

from tests.helpers import (DamselflyProcess, RawClient, clients_on_both_workers, encode, names_on_shard,
                           run_threads)


class TrackingCache:
    """A RESP3 connection with CLIENT TRACKING on and a dict as its cache."""

    def __init__(self, port: int, *tracking_options: str):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.reader = hiredis.Reader()
        self.cache: dict = {}
        self.invalidations = 0
        self.flushes = 0
        self.hits = 0
        assert self.call("HELLO", "3")[b"proto"] == 3
        assert self.call("CLIENT", "TRACKING", "on", *tracking_options) == b"OK"

    def _take_push(self, frame) -> None:
        assert frame[0] == b"invalidate", frame
        self.invalidations += 1
        if frame[1] is None:  # FLUSHDB / FLUSHALL
            self.flushes += 1
            self.cache.clear()
        else:
            for key in frame[1]:
                self.cache.pop(key, None)

    def _frame(self, block: bool):
        while True:
            frame = self.reader.gets()
            if frame is not False:
                return frame
            if not block and not select.select([self.sock], [], [], 0)[0]:
                return False
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("closed")
            self.reader.feed(data)

    def poll(self) -> None:
        """Take the pushes already on the socket (no waiting)."""
        while True:
            frame = self._frame(block=False)
            if frame is False:
                return
            self._take_push(frame)

    def call(self, *args):
        self.sock.sendall(encode(args))
        while True:
            frame = self._frame(block=True)
            if isinstance(frame, list) and frame and frame[0] == b"invalidate":
                self._take_push(frame)  # hiredis gives pushes as lists
                continue
            return frame

    def get(self, key: bytes):
        self.poll()
        if key in self.cache:
            self.hits += 1
            return self.cache[key]
        value = self.call("GET", key)
        self.cache[key] = value
        return value

    def close(self):
        self.sock.close()


def _stale_free_run(reader_ports, writer_ports, keys, seconds=3.0):
    """Writers (one per port, each with its own keys: on a shard port, those
    of its shard) and cached readers run together; returns the readers'
    statistics.  Asserts no stale read."""
    acked = {k: -1 for k in keys}
    per_writer = [[k for k in keys if _shard_of(k) == i] for i in range(len(writer_ports))]
    stop = time.monotonic() + seconds
    errors = []

    def writer(port, mine):
        client = RawClient(port)
        n = 0
        while time.monotonic() < stop:
            for key in mine:
                n += 1
                assert client.call("SET", key, str(n)) == b"OK"
                acked[key] = n
            time.sleep(0.002)  # reads between writes, so the cache gets hits too
        client.close()

    def reader(caches):
        try:
            reads = 0
            while time.monotonic() < stop:
                for key in keys:
                    floor = acked[key]
                    cache = caches[0] if len(caches) == 1 else caches[_shard_of(key)]
                    value = cache.get(key)
                    got = -1 if value is None else int(value)
                    if got < floor:
                        errors.append("%r: served %d after the write of %d was acknowledged"
                                      % (key, got, floor))
                        return
                    reads += 1
            stats.append(reads)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(repr(exc))

    stats: list = []
    caches = [TrackingCache(port) for port in reader_ports]
    try:
        threads = [threading.Thread(target=writer, args=(p, m))
                   for p, m in zip(writer_ports, per_writer)]
        threads.append(threading.Thread(target=reader, args=(caches,)))
        run_threads(threads, timeout=seconds + 30)
        assert not errors, errors[:3]
        return stats[0], sum(c.hits for c in caches), sum(c.invalidations for c in caches)
    finally:
        for cache in caches:
            cache.close()


def _shard_of(key: bytes) -> int:
    from cluster.slots import key_slot

    return 1 if key_slot(key) >= 8192 else 0


@pytest.fixture(scope="module")
def two_shards():
    with DamselflyProcess(shards=2) as proc:
        yield proc


KEYS = [k.encode() for k in names_on_shard(0, 4, "tc") + names_on_shard(1, 4, "tc")]


def test_cache_through_the_proxy_never_serves_a_stale_value(two_shards):
    """Writers through the proxy on keys of both shards; the cache on the proxy."""
    reads, hits, invalidations = _stale_free_run(
        [two_shards.port], [two_shards.port, two_shards.port], KEYS)
    assert reads > 50 and invalidations > 10
    assert hits > 0  # it did cache


def test_cache_on_shard_ports_never_serves_a_stale_value(two_shards):
    """A cluster client's cache: one tracking connection per shard port, and
    writers on the shard ports."""
    reads, hits, invalidations = _stale_free_run(
        two_shards.shard_ports, two_shards.shard_ports, KEYS)
    assert reads > 50 and invalidations > 10 and hits > 0


def test_writes_on_shard_ports_invalidate_proxy_clients(two_shards):
    """A write on a shard's own port reaches a tracking client of the proxy
    before the writer has its reply (the shard holds it for the worker's ack)."""
    cache = TrackingCache(two_shards.port)
    writers = [RawClient(p) for p in two_shards.shard_ports]
    try:
        for key in KEYS:
            cache.get(key)
        for key in KEYS:
            writers[_shard_of(key)].call("SET", key, "from the shard port")
        cache.poll()  # no waiting
        assert cache.cache == {}
        assert all(cache.get(k) == b"from the shard port" for k in KEYS)
    finally:
        cache.close()
        for w in writers:
            w.close()


def _wait_push(cache, timeout=5.0):
    deadline = time.monotonic() + timeout
    before = cache.invalidations
    while cache.invalidations == before and time.monotonic() < deadline:
        time.sleep(0.01)
        cache.poll()
    return cache.invalidations > before


def test_expiry_and_flush_invalidate(two_shards):
    cache = TrackingCache(two_shards.port)
    other = RawClient(two_shards.port)
    try:
        other.call("SET", KEYS[0], "short", "PX", "50")
        other.call("SET", KEYS[-1], "v")
        assert cache.get(KEYS[0]) == b"short"
        assert cache.get(KEYS[-1]) == b"v"
        assert _wait_push(cache)  # active expiry removes it and says so
        assert KEYS[0] not in cache.cache and KEYS[-1] in cache.cache
        other.call("FLUSHALL")
        assert _wait_push(cache)
        time.sleep(0.2)
        cache.poll()
        assert cache.flushes == 1  # one null invalidation for the whole server, as Redis
        assert cache.cache == {}
    finally:
        cache.close()
        other.close()


def test_state_goes_with_the_client_and_info_counts(two_shards):
    admin = RawClient(two_shards.port)
    admin.call("FLUSHALL")  # empties the tables (entries of gone clients go lazily, as in Redis)
    cache = TrackingCache(two_shards.port)
    for key in KEYS:
        cache.get(key)
    info = admin.call("INFO", "clients", "stats").decode()
    assert "tracking_clients:1\r\n" in info
    assert "tracking_total_keys:%d\r\n" % len(KEYS) in info
    assert "tracking_total_items:%d\r\n" % len(KEYS) in info
    assert cache.call("RESET") == b"RESET"
    admin.call("SET", KEYS[0], "after reset")
    time.sleep(0.2)
    cache.poll()
    assert cache.invalidations == 0  # RESET turned tracking off on every shard
    assert "tracking_clients:0\r\n" in admin.call("INFO", "clients").decode()
    cache.close()
    admin.close()


def test_bcast_noloop_optin(two_shards):
    bcast = TrackingCache(two_shards.port, "BCAST", "PREFIX", "tc", "NOLOOP")
    writer = RawClient(two_shards.port)
    try:
        writer.call("SET", KEYS[0], "1")
        writer.call("SET", b"other", "1")
        assert _wait_push(bcast)
        bcast.call("SET", KEYS[1], "mine")  # NOLOOP: its own writes are not sent back
        writer.call("SET", KEYS[-1], "2")  # a key of the other shard
        assert _wait_push(bcast)
        time.sleep(0.2)
        bcast.poll()
        assert bcast.invalidations == 2
    finally:
        bcast.close()
    optin = TrackingCache(two_shards.port, "OPTIN")
    try:
        optin.call("GET", KEYS[0])  # not remembered
        assert optin.call("CLIENT", "CACHING", "yes") == b"OK"
        optin.call("GET", KEYS[-1])  # remembered
        optin.call("GET", KEYS[1])  # CACHING was spent by the previous command
        writer.call("MSET", KEYS[0], "x", KEYS[1], "x")
        writer.call("SET", KEYS[-1], "x")
        assert _wait_push(optin)
        time.sleep(0.2)
        optin.poll()
        assert optin.invalidations == 1
    finally:
        optin.close()
        writer.close()


def test_resp2_redirect_to_a_subscribed_client(two_shards):
    """RESP2: invalidations go to the REDIRECT client, subscribed to
    __redis__:invalidate, as pub/sub messages."""
    import redis

    target = redis.Redis(port=two_shards.port, protocol=2)
    pubsub = target.pubsub()
    pubsub.subscribe("__redis__:invalidate")
    assert pubsub.get_message(timeout=2)["type"] == "subscribe"
    tracker = RawClient(two_shards.port)
    clients = tracker.call("CLIENT", "LIST").decode().splitlines()
    subscribed = [line for line in clients if " sub=1 " in line]
    target_id = subscribed[0].split()[0].split("=")[1]
    assert tracker.call("CLIENT", "TRACKING", "on", "REDIRECT", target_id) == b"OK"
    assert tracker.call("CLIENT", "GETREDIR") == int(target_id)
    tracker.call("GET", KEYS[-1])
    tracker.call("SET", KEYS[-1], "changed")
    message = None
    deadline = time.monotonic() + 5
    while message is None and time.monotonic() < deadline:
        message = pubsub.get_message(timeout=0.5)
    assert message == {"type": "message", "pattern": None,
                       "channel": b"__redis__:invalidate", "data": [KEYS[-1]]}
    tracker.close()
    pubsub.close()
    target.close()


def test_resp3_redirect_target_gets_the_push(two_shards):
    """A RESP3 REDIRECT target gets ``>2 invalidate`` pushes (redis-server 7.0 does)."""
    target = TrackingCache.__new__(TrackingCache)
    target.sock = socket.create_connection(("127.0.0.1", two_shards.port), timeout=10)
    target.reader, target.cache, target.invalidations, target.flushes = hiredis.Reader(), {}, 0, 0
    target.call("HELLO", "3")
    target_id = target.call("CLIENT", "ID")
    target.cache[KEYS[2]] = b"cached elsewhere"
    tracker = RawClient(two_shards.port)
    assert tracker.call("CLIENT", "TRACKING", "on", "REDIRECT", str(target_id)) == b"OK"
    tracker.call("GET", KEYS[2])
    RawClient(two_shards.shard_ports[0]).call("SET", KEYS[2], "changed")
    assert _wait_push(target)
    assert target.cache == {}
    tracker.close()
    target.close()


def test_client_list_shows_tracking_as_redis(two_shards):
    """CLIENT LIST/INFO: flag t (B for BCAST) and redir, as Redis 7.0 prints them."""
    client = RawClient(two_shards.port)
    target = RawClient(two_shards.port)
    target_id = target.call("CLIENT", "ID")
    assert b" flags=N " in client.call("CLIENT", "INFO") and b" redir=-1 " in \
        client.call("CLIENT", "INFO")
    client.call("CLIENT", "TRACKING", "on", "BCAST", "REDIRECT", str(target_id))
    info = client.call("CLIENT", "INFO")
    assert b" flags=tB " in info and b" redir=%d " % target_id in info
    client.call("CLIENT", "TRACKING", "off")
    client.call("CLIENT", "TRACKING", "on")
    assert b" flags=t " in client.call("CLIENT", "INFO")
    assert b" redir=0 " in client.call("CLIENT", "INFO")
    client.close()
    target.close()


def test_a_restarted_shard_flushes_caches_and_keeps_tracking():
    """A shard that restarts forgets who read what: the proxy's tracking
    clients get a null invalidation and are registered again."""
    import os
    import signal

    from tests.e2e.test_supervisor import children, wait_new_child

    with DamselflyProcess(shards=2) as server:
        cache = TrackingCache(server.port)
        writer = RawClient(server.port)
        try:
            writer.call("SET", KEYS[-1], "before")
            assert cache.get(KEYS[-1]) == b"before"
            old = children(server)["shard 1"]
            os.kill(old, signal.SIGKILL)
            assert wait_new_child(server, "shard 1", old, 5.0) is not None
            deadline = time.monotonic() + 10
            while cache.flushes == 0 and time.monotonic() < deadline:
                time.sleep(0.05)
                cache.poll()
            assert cache.flushes == 1 and cache.cache == {}
            while writer.call("SET", KEYS[-1], "after") != b"OK":
                time.sleep(0.05)  # until the link is back
            assert cache.get(KEYS[-1]) == b"after"
            writer.call("SET", KEYS[-1], "later")
            assert _wait_push(cache)  # tracked on the new shard process too
            assert cache.get(KEYS[-1]) == b"later"
        finally:
            cache.close()
            writer.close()


def test_redirect_to_a_client_of_another_worker():
    """The REDIRECT target may be on another proxy worker: RESP3 gets the
    push, RESP2 (subscribed) the __redis__:invalidate message, before the
    writer has its reply."""
    with DamselflyProcess(shards=2, proxy_workers=2) as server:
        conns = clients_on_both_workers(server.port, 2)
        tracker, _, resp3, resp2 = conns
        resp3.call("HELLO", "3")
        ids = {resp3: resp3.call("CLIENT", "ID"), resp2: resp2.call("CLIENT", "ID")}
        resp2.call("SUBSCRIBE", "__redis__:invalidate")
        for target, expected in ((resp3, [b"invalidate", [KEYS[0]]]),
                                 (resp2, [b"message", b"__redis__:invalidate", [KEYS[0]]])):
            target_id = ids[target]
            assert tracker.call("CLIENT", "TRACKING", "on", "REDIRECT", str(target_id)) == b"OK"
            tracker.call("GET", KEYS[0])
            tracker.call("SET", KEYS[0], "changed")
            # already readable when the writer has its reply, as in Redis
            assert select.select([target.sock], [], [], 0)[0]
            assert target.read() == expected
            tracker.call("CLIENT", "TRACKING", "off")
        for c in conns:
            c.close()


def _no_wait_rounds(cache, writer, keys, rounds):
    """Each round: the cache reads every key, the writer writes one, and the
    invalidation must already be on the cache's socket when the writer has
    its reply (no waiting, as a single Redis guarantees)."""
    for n in range(rounds):
        for key in keys:
            cache.get(key)
        key = keys[n % len(keys)]
        assert key in cache.cache
        assert writer.call("SET", key, str(n)) == b"OK"
        cache.poll()
        assert key not in cache.cache, "round %d: %r not invalidated before the writer's reply" \
            % (n, key)


@pytest.fixture(scope="module")
def two_workers():
    """Two shards, two proxy workers, a tracking cache on worker 0 and a
    writer on worker 1; while a test runs, another client keeps worker 0
    busy with pipelines, so an invalidation that is not waited for shows."""
    with DamselflyProcess(shards=2, proxy_workers=2) as server:
        caches = [TrackingCache(server.port) for _ in range(6)]
        clients = [RawClient(server.port) for _ in range(8)]
        stop = threading.Event()

        def keep_busy(client):
            while not stop.is_set():
                client.pipeline([("GET", KEYS[n % len(KEYS)]) for n in range(300)])

        try:
            cache = next(c for c in caches if c.call("CLIENT", "ID") >> 40 == 0)
            by_worker = {0: [], 1: []}
            for client in clients:
                by_worker[client.call("CLIENT", "ID") >> 40].append(client)
            noise = threading.Thread(target=keep_busy, args=(by_worker[0][0],), daemon=True)
            noise.start()
            yield server, cache, by_worker[1][0]
            stop.set()
            noise.join(10)
        finally:
            stop.set()
            for c in caches:
                c.close()
            for c in clients:
                c.close()


def test_a_write_through_another_worker_invalidates_before_its_reply(two_workers):
    """Redis's guarantee across proxy workers: the invalidation is on the
    tracker's socket when the writer (a client of another worker) has its reply."""
    server, cache, writer = two_workers
    _no_wait_rounds(cache, writer, KEYS, 500)


def test_a_write_on_a_shard_port_invalidates_a_proxy_client_before_its_reply(two_workers):
    server, cache, _ = two_workers
    for shard, port in enumerate(server.shard_ports):
        with RawClient(port) as direct:
            _no_wait_rounds(cache, direct, [k for k in KEYS if _shard_of(k) == shard], 250)


def test_info_counts_the_tracking_clients_of_every_worker_and_shard_port(two_workers):
    """INFO tracking_clients through any worker is the server's count: the
    six tracking caches of the fixture (on both workers) and a shard port's."""
    server, _, writer = two_workers
    direct = TrackingCache(server.shard_ports[1])
    try:
        for _ in range(3):  # whichever worker answers, whatever the sections asked
            assert "tracking_clients:7\r\n" in writer.call("INFO", "clients").decode()
            assert "tracking_clients:7\r\n" in writer.call("INFO").decode()
        with RawClient(server.shard_ports[1]) as shard_client:
            info = shard_client.call("INFO", "clients").decode()
        assert "tracking_clients:1\r\n" in info  # a shard port: its own clients
    finally:
        direct.close()
    deadline = time.monotonic() + 5
    while "tracking_clients:6\r\n" not in writer.call("INFO", "clients").decode():
        assert time.monotonic() < deadline, "the shard-port tracker is still counted"
        time.sleep(0.02)


def test_bcast_invalidations_across_workers_come_before_the_reply(two_workers):
    """BCAST messages leave after the writing command (batched), still
    before the writer of another worker has its reply."""
    server, _, writer = two_workers
    caches = [TrackingCache(server.port, "BCAST", "PREFIX", "tc") for _ in range(4)]
    try:
        cache = next(c for c in caches if c.call("CLIENT", "ID") >> 40 == 0)
        _no_wait_rounds(cache, writer, KEYS, 200)
    finally:
        for c in caches:
            c.close()


def test_a_shard_port_writer_s_held_replies_then_quit(two_workers):
    """A direct writer's pipeline whose replies wait for a worker's ack, then
    QUIT: every reply arrives, in order, before the connection closes."""
    server, cache, _ = two_workers
    key = next(k for k in KEYS if _shard_of(k) == 0)
    cache.get(key)
    with RawClient(server.shard_ports[0]) as direct:
        direct.send_raw(encode(("SET", key, "a")) + encode(("GET", key)) + encode(("QUIT",)))
        assert [direct.read(), direct.read(), direct.read()] == [b"OK", b"a", b"OK"]
        cache.poll()
        assert key not in cache.cache


def _redirect_then_target_goes(tracker, target, key):
    """Tracker (RESP3) redirects to a target that then disconnects; the
    tracker writes a key it read: what it receives, and TRACKINGINFO's flags."""
    target_id = target.call("CLIENT", "ID")
    tracker.call("HELLO", "3")
    assert tracker.call("CLIENT", "TRACKING", "on", "REDIRECT", str(target_id)) == b"OK"
    tracker.call("GET", key)
    target.close()
    time.sleep(0.2)
    got = [tracker.call("SET", key, "v")]
    frame = tracker.reader.gets()
    if frame is False and select.select([tracker.sock], [], [], 2.0)[0]:
        frame = tracker.read()
    if frame is not False:
        got.append(frame)
    flags = sorted(tracker.call("CLIENT", "TRACKINGINFO")[b"flags"])
    tracker.close()
    return got, target_id, flags


def test_redirect_target_gone_gives_tracking_redir_broken(two_workers, redis_ref):
    """As redis-server: a RESP3 tracker whose REDIRECT target disconnected
    gets ``tracking-redir-broken <id>`` and TRACKINGINFO says broken_redirect;
    through the proxy whether the target was on its worker or another."""
    server, _, _ = two_workers
    key = b"tc0"
    got, target_id, expected_flags = _redirect_then_target_goes(
        RawClient(redis_ref.port), RawClient(redis_ref.port), key)
    assert got == [b"OK", [b"tracking-redir-broken", target_id]]
    assert b"broken_redirect" in expected_flags
    for same_worker in (True, False):
        conns: list = []
        by_worker: dict = {0: [], 1: []}
        while (len(by_worker[0]) < 1 or len(by_worker[1]) < 2) and len(conns) < 64:
            conns.append(RawClient(server.port))
            by_worker[conns[-1].call("CLIENT", "ID") >> 40].append(conns[-1])
        target = by_worker[1][0]
        tracker = by_worker[1][1] if same_worker else by_worker[0][0]
        got, target_id, flags = _redirect_then_target_goes(tracker, target, key)
        assert got == [b"OK", [b"tracking-redir-broken", target_id]], same_worker
        assert flags == expected_flags
        for c in conns:
            c.close()
