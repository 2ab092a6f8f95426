"""Keyspace notifications compared with redis-server 7.0.

Each scenario is a sequence of commands run on redis-server (a PSUBSCRIBE
'__key*__:*' connection listening) and on damselfly; the messages are
compared per key, in order: the keyspace channel's event and the keyevent
channel's key, as (db, key) -> [("K", event) | ("E", event) ...].  Keys may
live on different shards, so only the order per key is defined.

Two ways to damselfly: in process (a ShardServer run by hand, its notifier's
sink recording: every scenario, fast) and end to end (tests below the
scenarios: subscribers through the proxy and on a shard port).
"""

from __future__ import annotations

import time

import hiredis
import pytest

from cluster.config import Config
from cluster.topology import Topology
from shardnode.node import ShardConnection, ShardServer
from shardnode.sessions import ClientSession
from tests.helpers import Err, RawClient

END = b"__keyspace@0__:__end__"  # published after a scenario: the stream is complete

# name -> commands, run in order from an empty server in db 0.
SCENARIOS = {
    "strings": [
        "SET st1 v PX 1", "SET st2 v PX 1", "SET st3 v PX 1", "SET s1 v", "SET s1 v2 EX 100", "SET s1 v NX", "SET s1 v3 XX GET", "SET s1 v KEEPTTL",
        "SETNX s2 a", "SETNX s2 b", "SETEX s3 100 x", "PSETEX s4 100000 x", "GETEX s3 EX 50",
        "GETEX s3 PERSIST", "GETEX s3", "GETEX s4 PXAT 1", "GETDEL s2", "GETDEL s2", "GETSET s5 a",
        "MSET m1 a m2 b", "MSETNX m3 a m4 b", "MSETNX m3 a m5 b", "APPEND s6 x", "APPEND s6 y",
        "SETRANGE s7 3 ab", "SETRANGE s7 0 ''", "SETRANGE s8 0 ''", "INCR n1", "DECR n1",
        "INCRBY n1 5", "DECRBY n1 2", "INCRBYFLOAT n1 1.5", "SET s8 x PX 100000",
        "SET s9 x EXAT 1", "SET s10 x PXAT 1", "GET s1", "SET s1 x EX 0", "GETEX s1 EX 0",
        "SET s11 x GET", "GETEX s5 PX 0", "GET s9", "GET s10",
        "SET st1 w", "MSET st2 w st3 w",
    ],
    "bitmaps": [
        "SETBIT b1 7 1", "SETBIT b1 7 1", "SETBIT b1 100 0", "BITOP AND b2 b1 b3",
        "BITOP OR b4 bX bY", "BITOP NOT b5 b1", "SET b4 x", "BITOP OR b4 bX bY",
        "BITFIELD b6 SET u8 0 255 GET u8 0", "BITFIELD b6 GET u8 0", "BITFIELD b6 INCRBY u8 0 1",
        "BITFIELD b7 INCRBY u2 0 5 OVERFLOW FAIL INCRBY u2 0 5",
        "BITFIELD b8 OVERFLOW FAIL INCRBY u2 0 5", "BITFIELD b6 SET u8 0 0",
    ],
    "keyspace": [
        "SET k1 v", "SET k2 v", "DEL k1 k2 k3", "SET k1 v", "UNLINK k1 kx",
        "SET a 1", "RENAME a b", "SET c 1", "RENAME b c", "RENAMENX c d", "SET e 1",
        "RENAMENX d e", "RENAME e e", "RENAME nokey x", "SET f 1 EX 100", "RENAME f g",
        "COPY g h", "COPY g h", "COPY g h REPLACE", "COPY g i DB 1", "COPY nokey j",
        "MOVE h 2", "MOVE h 2", "SET h 1", "SELECT 2", "MOVE h 0", "SELECT 0",
        "SET x1 v", "EXPIRE x1 100", "PEXPIRE x1 100000", "EXPIREAT x1 99999999999",
        "PEXPIREAT x1 99999999999000", "EXPIRE x1 100 NX", "EXPIRE x1 100 XX", "PERSIST x1",
        "PERSIST x1", "EXPIRE x1 -1", "EXPIRE nokey 10", "SET x2 v", "PEXPIREAT x2 1",
        "SET x3 v", "EXPIREAT x3 0", "SET x4 v", "PEXPIRE x4 0", "SET t1 v", "TOUCH t1",
        "SET r1 v", "RESTORE r2 0 <dump:r1>", "RESTORE r2 0 <dump:r1> REPLACE",
        "RESTORE r3 100000 <dump:r1>", "RESTORE r4 1 <dump:r1> ABSTTL",
        "RESTORE r2 1 <dump:r1> ABSTTL REPLACE",
    ],
    "hashes": [
        "HSET h a 1 b 2", "HSET h a 1", "HMSET h c 3", "HSETNX h d 4", "HSETNX h d 4",
        "HINCRBY h n 2", "HINCRBYFLOAT h f 1.5", "HDEL h a zz", "HDEL h zz",
        "HDEL h b c d n f", "HSET h2 a 1", "HGET h2 a", "HDEL nokey a",
    ],
    "lists": [
        "LPUSH l a b", "RPUSH l c", "LPUSHX l d", "LPUSHX lx d", "RPUSHX l e", "LPOP l",
        "RPOP l", "LPOP l 1", "LSET l 0 z", "LINSERT l BEFORE z y", "LINSERT l BEFORE nope y",
        "LREM l 0 y", "LREM l 0 nope", "RPUSH l 1 2 3", "LTRIM l 0 1", "LTRIM l 0 -1",
        "LMOVE l l2 LEFT RIGHT", "RPOPLPUSH l l2", "LMOVE l2 l2 LEFT RIGHT",
        "LMPOP 2 lnone l2 LEFT COUNT 1", "LMPOP 1 l2 RIGHT COUNT 10", "RPUSH l3 a",
        "BLPOP l3 1", "RPUSH l4 a b", "BLMOVE l4 l5 RIGHT LEFT 1", "BRPOPLPUSH l4 l5 1",
        "BLMPOP 1 1 l5 LEFT COUNT 5", "RPUSH l6 a", "LTRIM l6 1 0", "RPUSH l7 a",
        "LREM l7 0 a", "RPUSH l8 a b", "BRPOP l8 1", "LPOP l8 0", "LPOP nokey",
        "RPUSH l9 x", "LMOVE l9 l10 RIGHT RIGHT",
    ],
    "sets": [
        "SADD s a b c", "SADD s a", "SREM s a zz", "SREM s zz", "SPOP s", "SADD s x y",
        "SPOP s 2", "SPOP s 10", "SADD s1 a b", "SADD s2 b c", "SMOVE s1 s2 a",
        "SMOVE s1 s2 zz", "SMOVE s1 s3 b", "SINTERSTORE d1 s2 s3", "SUNIONSTORE d2 s2 s3",
        "SDIFFSTORE d3 s2 s3", "SINTERSTORE d2 s2 none", "SDIFFSTORE d9 none s2",
        "SADD s4 a", "SREM s4 a", "SISMEMBER s2 a", "SPOP s2 0", "SADD s5 a",
        "SMOVE s5 s5 a", "SMOVE s2 s2 b",
    ],
    "zsets": [
        "ZADD z 1 a 2 b 3 c", "ZADD z 1 a", "ZADD z INCR 5 a", "ZADD z NX 9 a",
        "ZADD z XX CH 7 a", "ZINCRBY z 1 b", "ZREM z a zz", "ZREM z zz",
        "ZADD z 4 d 5 e 6 f", "ZREMRANGEBYRANK z 0 0", "ZREMRANGEBYSCORE z 5 5",
        "ZREMRANGEBYLEX z - +", "ZADD z2 1 a 2 b 3 c", "ZPOPMIN z2", "ZPOPMAX z2 5",
        "ZADD z3 1 a 2 b", "ZMPOP 1 z3 MIN COUNT 1", "BZPOPMIN z3 1", "ZADD z4 1 a",
        "ZADD z5 2 b", "ZUNIONSTORE zu 2 z4 z5", "ZINTERSTORE zi 2 z4 z5", "ZDIFFSTORE zd 1 z4",
        "ZRANGESTORE zr z4 0 -1", "ZRANGESTORE zr z4 5 6", "ZINTERSTORE zu 2 z4 z5",
        "BZMPOP 1 1 z4 MAX", "ZADD z6 1 a", "ZREMRANGEBYSCORE z6 0 10", "ZREMRANGEBYRANK z6 0 10",
        "ZADD z7 1 a", "ZPOPMIN z7 0", "BZPOPMAX z7 1", "ZADD z8 INCR 1 a", "ZADD z8 NX INCR 1 a",
    ],
    "streams": [
        "XADD x 1-1 a 1", "XADD x 2-1 a 2", "XADD x MAXLEN 1 3-1 a 3", "XADD xn NOMKSTREAM * a 1",
        "XTRIM x MAXLEN 0", "XADD x 4-1 a 1", "XADD x 5-1 a 1", "XDEL x 4-1 9-9", "XDEL x 9-9",
        "XSETID x 10-1", "XGROUP CREATE x g 0", "XGROUP CREATE y g $ MKSTREAM",
        "XGROUP CREATECONSUMER x g c1", "XGROUP CREATECONSUMER x g c1", "XGROUP SETID x g 0",
        "XREADGROUP GROUP g c2 COUNT 1 STREAMS x >", "XREADGROUP GROUP g c3 COUNT 1 STREAMS x 0",
        "XREADGROUP GROUP g c2 COUNT 1 STREAMS x >", "XACK x g 5-1", "XCLAIM x g c1 0 5-1",
        "XADD x 11-1 a 1", "XREADGROUP GROUP g c2 STREAMS x >", "XCLAIM x g c4 0 11-1",
        "XAUTOCLAIM x g c5 0 0", "XAUTOCLAIM x g c5 0 0 JUSTID",
        "XGROUP DELCONSUMER x g c1", "XGROUP DELCONSUMER x g c1", "XGROUP DESTROY x g",
        "XGROUP DESTROY x g", "XADD z9 1-1 a 1", "XTRIM x MAXLEN 100",
        "XADD x MINID 11-1 12-1 a 1", "XTRIM x MINID 12-1", "XDEL x 12-1", "XTRIM x MAXLEN 0",
    ],
    "hll": [
        "PFADD p1 a b", "PFADD p1 a", "PFADD p2", "PFADD p2", "PFCOUNT p1", "PFMERGE p3 p1 p2",
        "PFMERGE p4", "PFCOUNT p1 p2", "PFMERGE p1", "PFDEBUG TODENSE p1", "PFDEBUG GETREG p2",
        "PFADD p1 z", "PFCOUNT p1",
    ],
    "geo": [
        "GEOADD g 13.361389 38.115556 Palermo 15.087269 37.502669 Catania",
        "GEOADD g 13.361389 38.115556 Palermo",
        "GEOSEARCHSTORE g2 g FROMLONLAT 15 37 BYRADIUS 200 km ASC",
        "GEOSEARCHSTORE g3 g FROMLONLAT 15 37 BYRADIUS 200 km ASC STOREDIST",
        "GEORADIUS g 15 37 200 km STORE g4", "GEORADIUSBYMEMBER g Palermo 10 km STOREDIST g5",
        "GEOSEARCHSTORE g2 g FROMLONLAT 0 0 BYRADIUS 1 km", "GEOADD g XX 13 38 Palermo",
    ],
    "sort": [
        "RPUSH sl 3 1 2", "SORT sl STORE so", "SORT nope STORE so", "SORT sl STORE so2", "SORT sl",
        "SORT nope STORE nope2",
    ],
    "server": [
        "SET a 1", "FLUSHDB", "SET a 1", "FLUSHALL", "SET a 1", "SWAPDB 0 1", "SELECT 1",
        "DEL a", "SELECT 0",
    ],
    "misses": [
        "SET e v PX 1", "GET a", "MGET a b", "EXISTS a b", "TYPE a", "TTL a", "PTTL a", "STRLEN a",
        "GETRANGE a 0 1", "HGET a f", "HGETALL a", "LRANGE a 0 -1", "LLEN a", "SMEMBERS a",
        "SCARD a", "SISMEMBER a x", "ZRANGE a 0 -1", "ZSCORE a x", "XRANGE a - +", "XLEN a",
        "PFCOUNT a", "DUMP a", "OBJECT ENCODING a", "TOUCH a", "GETDEL a", "GETEX a",
        "GETSET a v", "DEL a", "SET a v", "DEL a", "INCR a", "DEL a", "LPOP a",
        "RPOPLPUSH a b", "SINTERSTORE d a b", "SUNIONSTORE d a b", "SDIFFSTORE d a b",
        "ZUNIONSTORE d 2 a b", "ZINTERSTORE d 2 a b", "ZDIFFSTORE d 2 a b",
        "ZRANGESTORE d a 0 -1", "BITOP AND d a b", "SORT a", "SORT a STORE d", "COPY a d",
        "RENAME a d", "EXPIRE a 10", "PERSIST a", "SINTER a b", "SUNION a b", "ZUNION 2 a b",
        "LINDEX a 0", "BITCOUNT a", "GETBIT a 0", "BITFIELD a GET u8 0",
        "BITFIELD_RO a GET u8 0", "PFMERGE d a", "DEL d", "PFMERGE d a", "XREAD STREAMS a 0",
        "XREAD COUNT 1 STREAMS a b 0 0", "LPOS a x", "SRANDMEMBER a", "ZRANK a x",
        "HEXISTS a f", "HSTRLEN a f", "SMISMEMBER a x", "ZMSCORE a x", "LCS a b",
        "SUBSTR a 0 1", "GEOPOS a x", "GEODIST a x y",
        "GEOSEARCH a FROMLONLAT 0 0 BYRADIUS 1 km",
        "GEOSEARCHSTORE d a FROMLONLAT 0 0 BYRADIUS 1 km", "GEORADIUS a 0 0 1 km STORE d",
        "GEORADIUSBYMEMBER a x 1 km STORE d", "XINFO STREAM a", "HRANDFIELD a",
        "ZRANDMEMBER a", "SINTERCARD 2 a b", "ZINTERCARD 2 a b", "LMPOP 1 a LEFT", "SPOP a",
        "ZPOPMIN a", "SMOVE a b x", "LMOVE a b LEFT LEFT", "XADD a NOMKSTREAM * f v",
        "XREADGROUP GROUP g c STREAMS a >", "XCLAIM a g c 0 0-1", "XAUTOCLAIM a g c 0 0",
        "SORT_RO a", "EVAL_RO \"return 1\" 1 a", "EVAL \"return redis.call('get', KEYS[1])\" 1 a",
        "XPENDING a g", "XINFO GROUPS a", "PEXPIRETIME a", "EXPIRETIME a", "ZCARD a",
        "ZCOUNT a 0 1", "SSCAN a 0", "HSCAN a 0", "ZSCAN a 0", "HKEYS a", "HMGET a f",
        "SDIFF a b", "ZDIFF 1 a", "BITPOS a 1", "WATCH a", "UNWATCH",
        "GET e", "SET a 1", "GET a",
    ],
    "transactions": [
        "MULTI", "SET a 1", "INCR a", "DEL a", "EXEC",
        "EVAL \"redis.call('set',KEYS[1],'x'); redis.call('expire',KEYS[1],100); return 1\" 1 sk",
        "EVAL \"redis.call('rpush',KEYS[1],'x'); redis.call('lpop',KEYS[1]); return 1\" 1 sl",
    ],
}


def split(command: str) -> list:
    import shlex

    return shlex.split(command)


def expand(args, dumps) -> list:
    """``<dump:key>`` stands for the DUMP payload redis-server gave for key."""
    out = []
    for a in args:
        if a.startswith("<dump:"):
            out.append(dumps[a[6:-1]])
        else:
            out.append(a.encode())
    return out


def by_key(messages) -> dict:
    """(channel, message) pairs as (db, key) -> [("K"|"E", event) ...], in order."""
    out: dict = {}
    for channel, message in messages:
        kind, _, rest = channel.partition(b"@")
        db, _, name = rest.partition(b"__:")
        if kind == b"__keyspace":
            out.setdefault((int(db), name), []).append(("K", message))
        elif kind == b"__keyevent":
            out.setdefault((int(db), message), []).append(("E", name))
        else:
            raise AssertionError("unexpected channel %r" % channel)
    return out


class RedisListener:
    """redis-server with notifications on and a PSUBSCRIBE connection."""

    def __init__(self, port, host, flags: str):
        self.client = RawClient(port, host)
        self.client.call("FLUSHALL")
        self.client.call("CONFIG", "SET", "notify-keyspace-events", flags)
        self.sub = RawClient(port, host)
        self.sub.call("PSUBSCRIBE", "__key*__:*")
        self.dumps: dict = {}

    def run(self, commands) -> list:
        replies = []
        for command in commands:
            args = split(command)
            for arg in args:
                if arg.startswith("<dump:") and arg[6:-1] not in self.dumps:
                    self.dumps[arg[6:-1]] = self.client.call("DUMP", arg[6:-1])
            replies.append(self.client.call(*expand(args, self.dumps)))
            # As InProcess: a key given 1 ms to live has expired by the next
            # command (round trips alone took < 1 ms for 40 commands once).
            time.sleep(0.002)
        self.client.call("PUBLISH", END, b"end")
        messages = []
        while True:
            kind, _, channel, message = self.sub.read()
            if channel == END:
                return replies, messages
            messages.append((channel, message))

    def close(self):
        self.client.call("CONFIG", "SET", "notify-keyspace-events", "")
        self.client.close()
        self.sub.close()


class InProcess:
    """A one-shard ShardServer run by hand (every key is its own) whose
    notifications are recorded: its ``publish_event`` is the sink."""

    def __init__(self, flags: str):
        config = Config({"proactor_threads": 1})
        self.server = ShardServer(config, 0, Topology(config), "secret")
        self.conn = ShardConnection(self.server)
        self.conn.init_session(self.server, "test:1", "test:2")
        self.conn.session = ClientSession(1)  # as a direct client gets (MULTI, WATCH)
        self.conn.refresh_plain()
        self.messages = []
        self.server.publish_event = lambda channel, message: self.messages.append(
            (channel, message))
        self.skew = 0
        self.server.keyspace.clock = lambda: int(time.time() * 1000) + self.skew
        assert self(b"CONFIG", b"SET", b"notify-keyspace-events", flags.encode()) == b"OK"

    def __call__(self, *args):
        # Each command 2 ms after the last at least: a key given 1 ms to live
        # has expired by the next command, as over redis-server's round trips.
        self.skew += 2
        self.server.keyspace.tick()
        reader = hiredis.Reader(replyError=Err)
        reader.feed(self.conn.execute(list(args)))
        return reader.gets()

    def run(self, commands, dumps) -> list:
        replies = [self(*expand(split(command), dumps)) for command in commands]
        messages, self.messages = self.messages, []
        return replies, messages


def differ(expected: dict, actual: dict) -> list:
    lines = []
    for key in sorted(set(expected) | set(actual)):
        if expected.get(key) != actual.get(key):
            lines.append("%r: redis %r, damselfly %r" % (key, expected.get(key),
                                                       actual.get(key)))
    return lines


@pytest.fixture
def listener(redis_ref):
    made = []

    def make(flags):
        made.append(RedisListener(redis_ref.port, redis_ref.host, flags))
        return made[-1]

    yield make
    for one in made:
        one.close()


@pytest.mark.parametrize("family", sorted(SCENARIOS))
@pytest.mark.parametrize("flags", ["KEA", "KEAnm"])
def test_in_process_events_match_redis(listener, family, flags):
    ref = listener(flags)
    ours = InProcess(flags)
    commands = SCENARIOS[family]
    expected_replies, expected = ref.run(commands)
    replies, actual = ours.run(commands, ref.dumps)
    for command, want, got in zip(commands, expected_replies, replies):
        assert isinstance(got, Err) == isinstance(want, Err), (command, want, got)
    problems = differ(by_key(expected), by_key(actual))
    assert not problems, "\n".join(problems)


# -- end to end: the real server, subscribers through the proxy and on a shard port --


def collect(sub: RawClient, quiet: float = 0.3) -> list:
    """(channel, message) pairs until END arrived and then ``quiet`` seconds passed
    with nothing more (events of another shard may come after END)."""
    import socket

    messages = []
    seen_end = False
    sub.sock.settimeout(10.0)
    while True:
        try:
            reply = sub.read()
        except socket.timeout:
            assert seen_end, "no end marker"
            sub.sock.settimeout(10.0)
            return messages
        kind, channel, message = reply[0], reply[-2], reply[-1]
        assert kind in (b"pmessage", b"message"), reply
        if channel == END:
            seen_end = True
            sub.sock.settimeout(quiet)
        else:
            messages.append((channel, message))


@pytest.fixture(scope="module")
def notifying():
    """2 shards, 2 proxy workers, notifications on from the flag."""
    from tests.helpers import DamselflyProcess

    with DamselflyProcess(shards=2, proxy_workers=2, notify_keyspace_events="KEAnm",
                          cluster_mode="off") as proc:
        yield proc


def run_on(port, commands, dumps) -> list:
    with RawClient(port) as client:
        return [client.call(*expand(split(command), dumps)) for command in commands]


@pytest.mark.parametrize("family", sorted(SCENARIOS))
def test_through_the_proxy_events_match_redis(listener, notifying, family):
    """Two subscribers through the proxy (two workers: SO_REUSEPORT spreads
    them), the commands on a third connection; each hears what redis-server's
    subscriber heard, per key in order."""
    ref = listener("KEAnm")
    commands = SCENARIOS[family]
    expected_replies, expected = ref.run(commands)
    run_on(notifying.port, ["FLUSHALL"], {})
    subs = [RawClient(notifying.port) for _ in range(2)]
    try:
        for sub in subs:
            assert sub.call("PSUBSCRIBE", "__key*__:*") == [b"psubscribe", b"__key*__:*", 1]
        replies = run_on(notifying.port, commands, ref.dumps)
        for command, want, got in zip(commands, expected_replies, replies):
            assert isinstance(got, Err) == isinstance(want, Err), (command, want, got)
        run_on(notifying.port, [" ".join(["PUBLISH", END.decode(), "end"])], {})
        for sub in subs:
            problems = differ(by_key(expected), by_key(collect(sub)))
            assert not problems, "\n".join(problems)
    finally:
        for sub in subs:
            sub.close()


@pytest.mark.parametrize("family", ["keyspace", "lists", "sets", "strings"])
def test_on_a_shard_port_a_shard_publishes_its_own_keys(listener, notifying, family):
    """A subscriber on a shard's port hears the events of that shard's keys,
    exactly (keyspace events are node-local, as in Redis Cluster)."""
    from cluster.slots import key_slot

    ref = listener("KEAnm")
    commands = SCENARIOS[family]
    _, expected = ref.run(commands)
    run_on(notifying.port, ["FLUSHALL"], {})
    for index, port in enumerate(notifying.shard_ports):
        sub = RawClient(port)
        try:
            sub.call("PSUBSCRIBE", "__key*__:*")
            run_on(notifying.port, commands, ref.dumps)
            with RawClient(port) as direct:
                direct.call("PUBLISH", END, b"end")
            mine = {k: v for k, v in by_key(expected).items()
                    if (key_slot(k[1]) < 8192) == (index == 0)}
            problems = differ(mine, by_key(collect(sub)))
            assert not problems, "\n".join(problems)
        finally:
            sub.close()
            run_on(notifying.port, ["FLUSHALL"], {})


def test_config_set_and_get_match_redis(diff):
    """CONFIG SET through the proxy reaches every shard; CONFIG GET answers
    Redis's normal form; a wrong letter gets Redis's error."""
    for value in ["KEA", "AKEn", "KEg$lshzxeEtmdn", "EKlg", "Q", "KEA ", "lllK", "x", ""]:
        diff.run("CONFIG", "SET", "notify-keyspace-events", value)
        diff.run("CONFIG", "GET", "notify-keyspace-events")
    diff.run("CONFIG", "GET", "notify-keyspace*")


def test_config_set_turns_every_shard_on_and_off(server):
    """Through the proxy of the shared server: on for both shards' keys, then off."""
    from tests.helpers import names_on_shard

    keys = names_on_shard(0, 1) + names_on_shard(1, 1)
    with RawClient(server.port) as client, RawClient(server.port) as sub:
        sub.call("SUBSCRIBE", "__keyevent@0__:set")
        try:
            assert client.call("CONFIG", "SET", "notify-keyspace-events", "E$") == b"OK"
            for key in keys:
                client.call("SET", key, "v")
            client.call("PUBLISH", "__keyevent@0__:set", "__end__")
            heard = []
            while True:
                message = sub.read()[2]
                if message == b"__end__":
                    break
                heard.append(message.decode())
            assert sorted(heard) == sorted(keys)
            assert client.call("CONFIG", "SET", "notify-keyspace-events", "") == b"OK"
            client.call("SET", keys[0], "w")
            client.call("PUBLISH", "__keyevent@0__:set", "__end__")
            assert sub.read()[2] == b"__end__"
        finally:
            client.call("CONFIG", "SET", "notify-keyspace-events", "")


def _events_until(sub: RawClient, last: bytes, timeout: float = 5.0) -> list:
    """Keyspace-channel events read until (and including) ``last``."""
    sub.sock.settimeout(timeout)
    out = []
    try:
        while not out or out[-1] != last:
            out.append(sub.read()[-1])
    finally:
        sub.sock.settimeout(10.0)
    return out


def _per_channel_until(sub: RawClient, done, timeout: float = 5.0) -> dict:
    """channel -> events, read until ``done(heard)`` holds."""
    sub.sock.settimeout(timeout)
    heard: dict = {}
    try:
        while not done(heard):
            reply = sub.read()
            heard.setdefault(reply[1], []).append(reply[2])
    finally:
        sub.sock.settimeout(10.0)
    return heard


def test_active_expiry_and_a_served_blocked_pop_match_redis(redis_ref, notifying):
    """Keys nobody reads again expire actively (expired, from the expiry
    cycle); a BLPOP waiting when the RPUSH comes pops after it (rpush, then
    lpop and del).  Both servers, the same events per key."""
    from tests.helpers import names_on_shard

    keys = names_on_shard(0, 1, "ttl") + names_on_shard(1, 1, "ttl")
    channels = [b"__keyspace@0__:" + k.encode() for k in keys + ["queue"]]

    def done(heard):
        return all(heard.get(c, [b""])[-1] == b"expired" for c in channels[:2]) and \
            heard.get(channels[2], [b""])[-1] == b"del"

    streams = []
    for port, host in ((redis_ref.port, redis_ref.host), (notifying.port, "127.0.0.1")):
        with RawClient(port, host) as client, RawClient(port, host) as sub, \
                RawClient(port, host) as blocked:
            client.call("CONFIG", "SET", "notify-keyspace-events", "KEAnm")
            client.call("FLUSHALL")
            sub.call("SUBSCRIBE", *channels)
            for _ in channels[1:]:
                sub.read()
            for key in keys:
                client.call("SET", key, "v", "PX", "50")
            blocked.send_raw(b"*3\r\n$5\r\nBLPOP\r\n$5\r\nqueue\r\n$1\r\n0\r\n")
            client.call("CLIENT", "LIST")  # BLPOP has arrived and waits by now
            assert client.call("RPUSH", "queue", "job") == 1
            assert blocked.read() == [b"queue", b"job"]
            streams.append(_per_channel_until(sub, done))
            if port == redis_ref.port:
                client.call("CONFIG", "SET", "notify-keyspace-events", "")
    expected, actual = streams
    assert actual == expected
    assert expected[channels[0]] == [b"new", b"set", b"expire", b"expired"]
    assert expected[channels[2]] == [b"new", b"rpush", b"lpop", b"del"]


def test_rename_across_shards_publishes_on_each_keys_shard(notifying):
    """RENAME with the keys on two shards runs on one of them (DF.RUN): the
    source key's shard still publishes rename_from, the destination's
    rename_to (subscribers on the shard ports), as one Redis Cluster node
    per key would."""
    from tests.helpers import names_on_shard

    source, destination = names_on_shard(0, 1, "src")[0], names_on_shard(1, 1, "dst")[0]
    subs = [RawClient(port) for port in notifying.shard_ports]
    try:
        for sub in subs:
            sub.call("PSUBSCRIBE", "__keyspace@0__:*")
        with RawClient(notifying.port) as client:
            client.call("SET", source, "v")
            assert client.call("RENAME", source, destination) == b"OK"
        heard_0 = _events_until(subs[0], b"rename_from")
        heard_1 = _events_until(subs[1], b"rename_to")
        assert heard_0 == [b"new", b"set", b"rename_from"]
        assert heard_1 == [b"new", b"rename_to"]
        for sub, port in zip(subs, notifying.shard_ports):
            with RawClient(port) as direct:
                direct.call("PUBLISH", END, b"end")
            assert collect(sub) == []  # nothing else, on either shard
    finally:
        for sub in subs:
            sub.close()
        run_on(notifying.port, ["FLUSHALL"], {})
