"""CLUSTER replies compared with a real Redis 7 cluster, in RESP2 and RESP3.

A real cluster is built the way damselfly looks in each mode:

- ``sharded`` (2 shards): two redis-server masters owning 0-8191 and
  8192-16383, one per shard.  The proxy is no node: asked through the proxy,
  damselfly answers as shard 0 does, so the proxy is compared with master 0;
- ``emulated``: one redis-server owning every slot.

Node ids, ports, epochs and ping times differ by nature and are replaced by
placeholders; everything else (fields, order, types, texts) must be equal.
``cluster_mode: off`` is compared with the plain reference redis-server.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from cluster.cluster_replies import cluster_view
from cluster.config import Config
from cluster.topology import Topology
from tests.helpers import (DamselflyProcess, Err, RawClient, _port_free, encode, free_port_block,
                           wait_port)
from tests.reference import reference_binary

REDIS = shutil.which("redis-server")
ID = re.compile(rb"[0-9a-f]{40}")


class RealCluster:
    """redis-server processes with cluster-enabled yes, slots assigned by hand."""

    def __init__(self, ranges):
        self.ranges = ranges  # one (start, end) per master
        self.dir = tempfile.mkdtemp(prefix="redis-cluster-")
        self.ports = []
        self.procs = []

    def start(self):
        try:
            return self._start()
        except BaseException:
            self.stop()  # no orphan servers when one fails to start
            raise

    def _start(self):
        for i, _ in enumerate(self.ranges):
            port = self._free_port_with_bus()
            node_dir = os.path.join(self.dir, str(i))
            os.mkdir(node_dir)
            self.procs.append(subprocess.Popen(
                [REDIS, "--port", str(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes",
                 "--cluster-config-file", "nodes.conf", "--save", "", "--appendonly", "no",
                 "--dir", node_dir],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True))
            self.ports.append(port)
        for port, proc in zip(self.ports, self.procs):
            wait_port(port, proc=proc)
        for port, slots in zip(self.ports, self.ranges):
            with RawClient(port) as c:
                assert c.call("CLUSTER", "ADDSLOTSRANGE", *slots) == b"OK"
                for other in self.ports:
                    if other != port:
                        c.call("CLUSTER", "MEET", "127.0.0.1", other)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if all(self._converged(p) for p in self.ports):
                return self
            time.sleep(0.1)
        raise TimeoutError("the reference cluster did not converge")

    @staticmethod
    def _free_port_with_bus() -> int:
        """A free port whose cluster bus port (port + 10000) is free too."""
        for _ in range(200):
            port = free_port_block(1)
            if port + 10000 < 65536 and _port_free(port + 10000):
                return port
        raise RuntimeError("no free port with a free bus port")

    def _converged(self, port) -> bool:
        with RawClient(port) as c:
            info = c.call("CLUSTER", "INFO").decode()
        return ("cluster_state:ok" in info
                and "cluster_known_nodes:%d" % len(self.ports) in info)

    def stop(self):
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def _needs_redis():
    reference_binary()


@pytest.fixture(scope="module")
def sharded():
    # A wildcard bind: the announced address is then the one each client reached.
    with DamselflyProcess(shards=2, cluster_mode="sharded", bind="0.0.0.0") as proc:
        yield proc


@pytest.fixture(scope="module")
def real_sharded():
    _needs_redis()
    cluster = RealCluster([(0, 8191), (8192, 16383)]).start()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="module")
def real_single():
    _needs_redis()
    cluster = RealCluster([(0, 16383)]).start()
    yield cluster
    cluster.stop()


def _ids(port) -> dict:
    """Node id -> placeholder, by the port each id is announced with."""
    with RawClient(port) as c:
        nodes = c.call("CLUSTER", "NODES").decode()
    return {line.split()[0]: int(line.split()[1].split(":")[1].split("@")[0])
            for line in nodes.splitlines()}


class Normalizer:
    """Replaces one side's ids and ports with placeholders naming the same role."""

    def __init__(self, port_roles: dict, ip: bytes = None):
        self.port_roles = port_roles  # port -> role name ("n0", "n1")
        self.ip = ip
        self.id_roles = {}

    def learn_ids(self, port):
        for node_id, node_port in _ids(port).items():
            self.id_roles[node_id.encode()] = self.port_roles[node_port]

    def __call__(self, value):
        if isinstance(value, list):
            return [self(v) for v in value]
        if isinstance(value, dict):
            return {self(k): self(v) for k, v in value.items()}
        if isinstance(value, int) and value in self.port_roles:
            return "port:" + self.port_roles[value]
        if isinstance(value, bytes):
            if value in self.id_roles:
                return "id:" + self.id_roles[value]
            if self.ip is not None and value == self.ip:
                return "IP"
        return value

    def raw(self, data: bytes) -> bytes:
        """The same on encoded bytes: ids keep their length, ports are integers."""
        data = ID.sub(lambda m: ("id:%-37s" % self.id_roles[m.group(0)]).encode(), data)
        for port, role in self.port_roles.items():
            data = data.replace(b":%d\r\n" % port, b":port-%s\r\n" % role.encode())
        return data


def _raw_reply(port, *commands) -> bytes:
    """The bytes of the last reply, read until the connection has been quiet."""
    with RawClient(port) as c:
        for cmd in commands[:-1]:
            c.call(*cmd)
        c.sock.sendall(encode(commands[-1]))
        c.sock.settimeout(0.3)
        data = b""
        try:
            while True:
                chunk = c.sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        except OSError:
            pass
        return data


def _sharded_sides(sharded, real_sharded):
    # No role for the proxy's port: it must never appear in a topology reply.
    ours = Normalizer({sharded.shard_ports[0]: "n0", sharded.shard_ports[1]: "n1"})
    ours.learn_ids(sharded.port)
    real = Normalizer(dict(zip(real_sharded.ports, ("n0", "n1"))))
    real.learn_ids(real_sharded.ports[0])
    return ours, real


def _node_pairs(sharded, real_sharded):
    """(our port, the real master's port) that must answer alike: each shard
    with its master, and the proxy with master 0 (the proxy tells shard 0's view)."""
    return [(sharded.shard_ports[0], real_sharded.ports[0]),
            (sharded.shard_ports[1], real_sharded.ports[1]),
            (sharded.port, real_sharded.ports[0])]


@pytest.mark.parametrize("proto", [2, 3])
def test_cluster_slots_matches_redis_byte_for_byte(sharded, real_sharded, proto):
    ours, real = _sharded_sides(sharded, real_sharded)
    hello = [("HELLO", "3")] if proto == 3 else []
    for mine_port, theirs_port in _node_pairs(sharded, real_sharded):
        mine = _raw_reply(mine_port, *hello, ("CLUSTER", "SLOTS"))
        theirs = _raw_reply(theirs_port, *hello, ("CLUSTER", "SLOTS"))
        assert ours.raw(mine) == real.raw(theirs)


@pytest.mark.parametrize("proto", [2, 3])
def test_cluster_shards_matches_redis(sharded, real_sharded, proto):
    ours, real = _sharded_sides(sharded, real_sharded)

    def shards(port, norm):
        with RawClient(port) as c:
            if proto == 3:
                c.call("HELLO", "3")
            reply = norm(c.call("CLUSTER", "SHARDS"))
        return sorted(reply, key=lambda shard: str(shard))  # Redis lists them in hash order

    for mine_port, theirs_port in _node_pairs(sharded, real_sharded):
        assert shards(mine_port, ours) == shards(theirs_port, real)
    # RESP3 sends maps; RESP2 flat arrays, as Redis does.
    data = _raw_reply(sharded.port, *([("HELLO", "3")] if proto == 3 else []),
                      ("CLUSTER", "SHARDS"))
    assert data.startswith(b"*2\r\n" + (b"%2\r\n" if proto == 3 else b"*4\r\n"))


def _nodes_lines(port, norm):
    """CLUSTER NODES lines, ids and ports as roles, ping/pong times and epochs masked."""
    with RawClient(port) as c:
        text = c.call("CLUSTER", "NODES")
    assert text.endswith(b"\n") and not text.endswith(b"\n\n")
    lines = []
    for line in text.decode().split("\n")[:-1]:
        f = line.split(" ")
        addr, _, bus = f[1].partition("@")
        ip, port_s = addr.rsplit(":", 1)
        role = norm.port_roles[int(port_s)]
        assert int(bus) == int(port_s) + 10000
        lines.append(" ".join([norm.id_roles[f[0].encode()], ip, role, f[2], f[3], f[4],
                               "<pong>", "<epoch>", *f[7:]]))
    return sorted(lines)


def test_cluster_nodes_matches_redis(sharded, real_sharded):
    ours, real = _sharded_sides(sharded, real_sharded)
    for mine_port, theirs_port in _node_pairs(sharded, real_sharded):
        assert _nodes_lines(mine_port, ours) == _nodes_lines(theirs_port, real)
    with RawClient(sharded.shard_ports[0]) as c:
        c.call("HELLO", "3")
        assert type(c.call("CLUSTER", "NODES")) is bytes
    raw3 = _raw_reply(sharded.shard_ports[0], ("HELLO", "3"), ("CLUSTER", "NODES"))
    assert raw3.split(b"\r\n", 1)[1].startswith(b"txt:")  # a verbatim string in RESP3


def _info_fields(port) -> dict:
    with RawClient(port) as c:
        text = c.call("CLUSTER", "INFO").decode()
    assert text.endswith("\r\n")
    return dict(line.split(":", 1) for line in text.split("\r\n") if line)


def test_cluster_info_matches_redis(sharded, real_sharded):
    for mine_port, theirs_port in _node_pairs(sharded, real_sharded):
        ours = _info_fields(mine_port)
        theirs = _info_fields(theirs_port)
        gossip = {k for k in theirs if k.startswith("cluster_stats_messages")}
        assert list(ours) == [k for k in theirs if k not in gossip or k in ours]
        for key in ("cluster_state", "cluster_slots_assigned", "cluster_slots_ok",
                    "cluster_slots_pfail", "cluster_slots_fail", "cluster_known_nodes",
                    "cluster_size", "total_cluster_links_buffer_limit_exceeded"):
            assert ours[key] == theirs[key], key
        assert ours["cluster_known_nodes"] == ours["cluster_size"] == "2"
    assert _info_fields(sharded.shard_ports[1])["cluster_my_epoch"] == "2"
    assert _info_fields(sharded.port)["cluster_my_epoch"] == "1"  # shard 0's


ERROR_CASES = [
    ("CLUSTER", "COUNTKEYSINSLOT", "16384"),
    ("CLUSTER", "COUNTKEYSINSLOT", "-1"),
    ("CLUSTER", "COUNTKEYSINSLOT", "x"),
    ("CLUSTER", "COUNTKEYSINSLOT", "01"),
    ("CLUSTER", "COUNTKEYSINSLOT"),
    ("CLUSTER", "COUNTKEYSINSLOT", "1", "2"),
    ("CLUSTER", "GETKEYSINSLOT", "1", "-1"),
    ("CLUSTER", "GETKEYSINSLOT", "16384", "1"),
    ("CLUSTER", "GETKEYSINSLOT", "x", "1"),
    ("CLUSTER", "GETKEYSINSLOT", "1", "x"),
    ("CLUSTER", "GETKEYSINSLOT", "1", "0"),
    ("CLUSTER", "GETKEYSINSLOT", "1"),
    ("CLUSTER", "KEYSLOT"),
    ("CLUSTER", "KEYSLOT", "a", "b"),
    ("CLUSTER", "KEYSLOT", "{user1000}.following"),
    ("CLUSTER", "KEYSLOT", "foo{}{bar}"),
    ("CLUSTER", "FOO"),
    ("CLUSTER",),
    ("CLUSTER", "SLOTS", "x"),
    ("CLUSTER", "MYID", "x"),
    ("CLUSTER", "INFO", "x"),
    ("CLUSTER", "NODES", "x"),
    ("CLUSTER", "SHARDS", "x"),
    ("CLUSTER", "LINKS", "x"),
    ("READONLY",),
    ("READONLY", "x"),
    ("READWRITE",),
    ("ASKING",),
    ("ASKING", "x"),
    ("CLUSTER", "REPLICAS", "abc"),
    ("CLUSTER", "SLAVES", "0123456789012345678901234567890123456789"),
    ("CLUSTER", "REPLICAS"),
    ("CLUSTER", "COUNT-FAILURE-REPORTS", "abc"),
    ("CLUSTER", "SAVECONFIG"),
    ("CLUSTER", "ADDSLOTS"),
    ("CLUSTER", "SETSLOT", "1"),
    ("CLUSTER", "MEET", "1.2.3.4"),
    ("GET", "foo"),
    ("MGET", "a", "b"),
    ("MGET", "{a}1", "{a}2"),
]


def test_shard_replies_and_errors_match_a_redis_master(sharded, real_sharded):
    """Shard 0 and the real master of 0-8191 answer alike, redirections included."""
    ours, real = _sharded_sides(sharded, real_sharded)
    with RawClient(sharded.shard_ports[0]) as mine, RawClient(real_sharded.ports[0]) as theirs:
        for cmd in ERROR_CASES:
            a, b = mine.call(*cmd), theirs.call(*cmd)
            if isinstance(a, Err) and a.startswith("MOVED"):
                a, b = a.rsplit(":", 1)[0], b.rsplit(":", 1)[0]
            assert a == b, cmd


SELECT_CASES = [
    ("SELECT", "0"),
    ("SELECT", "1"),
    ("SELECT", "15"),
    ("SELECT", "16"),
    ("SELECT", "-1"),
    ("SELECT", "2147483647"),
    ("SELECT", "2147483648"),
    ("SELECT", "-2147483649"),
    ("SELECT", "x"),
    ("SELECT", "01"),
    ("SELECT", ""),
    ("SELECT",),
    ("SELECT", "1", "2"),
    ("SELECT", "0"),
]


def test_shard_serves_db_0_only_like_a_cluster_master(sharded, real_sharded, redis_ref):
    """A shard refuses SELECT of any other database as a cluster-enabled
    redis-server does; through the proxy SELECT works as on a plain Redis."""
    with RawClient(sharded.shard_ports[0]) as mine, RawClient(real_sharded.ports[0]) as theirs:
        for cmd in SELECT_CASES:
            assert mine.call(*cmd) == theirs.call(*cmd), cmd
        assert mine.call("SELECT", "1") == "ERR SELECT is not allowed in cluster mode"
        # Still on database 0: a key written here is database 0's for the proxy.
        assert mine.call("SET", "{b}select", "db0") == b"OK"  # slot 3300: shard 0
    with RawClient(sharded.port) as proxy, RawClient(redis_ref.port) as plain:
        for cmd in SELECT_CASES:
            assert proxy.call(*cmd) == plain.call(*cmd), cmd
        assert proxy.call("GET", "{b}select") == b"db0"
        assert proxy.call("SELECT", "1") == b"OK"
        assert proxy.call("GET", "{b}select") is None
        assert proxy.call("SET", "{b}select", "db1") == b"OK"
        assert proxy.call("GET", "{b}select") == b"db1"
        assert proxy.call("DEL", "{b}select") == 1
        assert proxy.call("SELECT", "0") == b"OK"
        assert proxy.call("GET", "{b}select") == b"db0"
        assert proxy.call("DEL", "{b}select") == 1


DB_RULE_CASES = [  # "{b}" keys hash to slot 3300, shard 0 / master 0
    ("SET", "{b}dbrule", "1"),
    ("MOVE", "{b}dbrule", "1"),
    ("MOVE", "{b}dbrule", "x"),
    ("COPY", "{b}dbrule", "{b}dbrule2", "DB", "1"),
    ("COPY", "{b}dbrule", "{b}dbrule2", "DB", "99"),
    ("COPY", "{b}dbrule", "{b}dbrule2", "DB", "x"),
    ("COPY", "{b}dbrule", "{b}dbrule2", "DB", "0"),
    ("COPY", "{b}dbrule", "{b}dbrule3"),
    ("SWAPDB", "0", "1"),
    ("SWAPDB", "0", "x"),
    ("DEL", "{b}dbrule", "{b}dbrule2", "{b}dbrule3"),
]


def test_shard_refuses_other_databases_like_a_cluster_master(sharded, real_sharded, redis_ref):
    """MOVE, SWAPDB and COPY ... DB n are refused on a shard port as a
    cluster-enabled redis-server refuses them; through the proxy they work as
    on a plain Redis."""
    with RawClient(sharded.shard_ports[0]) as mine, RawClient(real_sharded.ports[0]) as theirs:
        for cmd in DB_RULE_CASES:
            assert mine.call(*cmd) == theirs.call(*cmd), cmd
    with RawClient(sharded.port) as proxy, RawClient(redis_ref.port) as plain:
        plain.call("FLUSHALL")
        for cmd in DB_RULE_CASES[:1] + [("MOVE", "{b}dbrule", "1"), ("SELECT", "1"),
                                        ("GET", "{b}dbrule"), ("SWAPDB", "0", "1"),
                                        ("GET", "{b}dbrule"), ("SWAPDB", "0", "1"),
                                        ("COPY", "{b}dbrule", "{b}dbrule2", "DB", "0"),
                                        ("SELECT", "0"), ("GET", "{b}dbrule2"),
                                        ("FLUSHALL",)]:
            assert proxy.call(*cmd) == plain.call(*cmd), cmd


def test_proxy_errors_match_redis_and_never_move(sharded, real_sharded):
    with RawClient(sharded.port) as mine, RawClient(real_sharded.ports[0]) as theirs:
        for cmd in ERROR_CASES:
            a, b = mine.call(*cmd), theirs.call(*cmd)
            if isinstance(b, Err) and (b.startswith("MOVED") or b.startswith("CROSSSLOT")):
                assert not isinstance(a, Err), cmd  # the proxy routes keys itself
            else:
                assert a == b, cmd


def test_emulated_is_a_one_node_cluster_like_redis(server, real_single):
    """The proxy owns every slot, at the address the client reached."""
    ours = Normalizer({server.port: "n0"})
    ours.learn_ids(server.port)
    real = Normalizer({real_single.ports[0]: "n0"}, ip=b"")  # Redis announces ""
    real.learn_ids(real_single.ports[0])
    for proto in (2, 3):
        with RawClient(server.port) as mine, RawClient(real_single.ports[0]) as theirs:
            if proto == 3:
                mine.call("HELLO", "3")
                theirs.call("HELLO", "3")
            slots = ours(mine.call("CLUSTER", "SLOTS"))
            assert slots == [[0, 16383, [b"127.0.0.1", "port:n0", "id:n0", {} if proto == 3 else []]]]
            assert real(theirs.call("CLUSTER", "SLOTS")) == [[0, 16383, ["IP", "port:n0", "id:n0",
                                                                          {} if proto == 3 else []]]]
            shards = ours(mine.call("CLUSTER", "SHARDS"))
            expected = real(theirs.call("CLUSTER", "SHARDS"))
            node = expected[0][b"nodes" if proto == 3 else 3][0]
            for i, v in enumerate(node if proto == 2 else []):
                if v == "IP":
                    node[i] = b"127.0.0.1"
            if proto == 3:
                node[b"ip"] = node[b"endpoint"] = b"127.0.0.1"
            assert shards == expected
            for cmd in (("CLUSTER", "INFO"), ("CLUSTER", "LINKS"), ("CLUSTER", "KEYSLOT", "x"),
                        ("CLUSTER", "COUNTKEYSINSLOT", "5"), ("READONLY",)):
                assert mine.call(*cmd) == theirs.call(*cmd), cmd
    theirs = [line.replace("n0  n0", "n0 127.0.0.1 n0")  # Redis announces ""
              for line in _nodes_lines(real_single.ports[0], real)]
    assert _nodes_lines(server.port, ours) == theirs == [
        "n0 127.0.0.1 n0 myself,master - 0 <pong> <epoch> connected 0-16383"]


def _nodes_masked(client) -> list:
    """CLUSTER NODES lines with the pong time (the clock at the call) masked."""
    text = client.call("CLUSTER", "NODES").decode()
    lines = [line.split(" ") for line in text.split("\n")[:-1]]
    return [" ".join(f[:5] + ["<pong>"] + f[6:]) for f in lines]


def test_proxy_and_shards_tell_the_same_topology(sharded):
    """Through the proxy the topology is shard 0's, word for word (myself
    included); every shard lists the same nodes, and only the shards."""
    with RawClient(sharded.port) as proxy, RawClient(sharded.shard_ports[0]) as s0, \
            RawClient(sharded.shard_ports[1]) as s1:
        for cmd in (("CLUSTER", "SLOTS"), ("CLUSTER", "SHARDS"), ("CLUSTER", "INFO"),
                    ("CLUSTER", "MYID"), ("CLUSTER", "MYSHARDID")):
            assert proxy.call(*cmd) == s0.call(*cmd), cmd
        assert _nodes_masked(proxy) == _nodes_masked(s0)
        slots = proxy.call("CLUSTER", "SLOTS")
        assert s1.call("CLUSTER", "SLOTS") == slots
        assert s1.call("CLUSTER", "SHARDS") == s0.call("CLUSTER", "SHARDS")
        assert [r[:2] for r in slots] == [[0, 8191], [8192, 16383]]
        ids = [c.call("CLUSTER", "MYID") for c in (s0, s1)]
        assert [r[2][2] for r in slots] == ids
        assert [r[2][1] for r in slots] == sharded.shard_ports
        assert len(set(ids)) == 2 and all(ID.fullmatch(i) for i in ids)
        shard_ids = [c.call("CLUSTER", "MYSHARDID") for c in (s0, s1)]
        assert len(set(shard_ids + ids)) == 4 and all(ID.fullmatch(i) for i in shard_ids)
        # The same node lines everywhere, but for which one is "myself".
        views = [_nodes_masked(c) for c in (proxy, s0, s1)]
        for view, me in zip(views, (ids[0], ids[0], ids[1])):
            assert len(view) == 2
            assert [line.split(" ")[0].encode() for line in view
                    if " myself,master " in line] == [me]
        unflagged = [[line.replace("myself,master", "master") for line in view]
                     for view in views]
        assert unflagged[0] == unflagged[1] == unflagged[2]
        assert all(":%d@" % sharded.port not in line for line in views[0])


def test_node_ids_survive_a_shard_restart(sharded):
    with RawClient(sharded.shard_ports[1]) as c:
        before = c.call("CLUSTER", "MYID")
        c.call("SET", "foo", "1")  # slot 12182: shard 1
    out = subprocess.run(["ps", "-o", "pid=,args=", "--ppid", str(sharded.proc.pid)],
                         capture_output=True, text=True).stdout
    pid = next(int(line.split()[0]) for line in out.splitlines() if "--index 1" in line)
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 15
    after = None
    while time.monotonic() < deadline and after is None:
        time.sleep(0.2)
        try:
            with RawClient(sharded.shard_ports[1]) as c:
                after = c.call("CLUSTER", "MYID")
        except OSError:
            pass
    assert after == before


@pytest.fixture(scope="module")
def announced():
    with DamselflyProcess(shards=2, cluster_announce_ip="10.1.2.3", announce_port=7777) as proc:
        yield proc


def test_emulated_announces_configured_address(announced):
    with RawClient(announced.port) as c:
        slots = c.call("CLUSTER", "SLOTS")
        assert slots[0][2][:2] == [b"10.1.2.3", 7777]
        assert b" 10.1.2.3:7777@17777 myself,master " in c.call("CLUSTER", "NODES")
        assert c.call("SET", "k", "v") == b"OK"  # the proxy still serves every key


def test_sharded_views_follow_announce_ip_and_the_reached_address():
    """Pure: which address each view announces, without processes."""
    config = Config({"port": 7000, "proactor_threads": 3, "cluster_mode": "sharded",
                     "bind": "0.0.0.0"})
    topo = Topology(config)
    view = cluster_view(topo, None, "192.168.5.9", 7000)
    assert [(n.ip, n.port, n.slots) for n in view.nodes] == [
        ("192.168.5.9", 7001, ((0, 5460),)), ("192.168.5.9", 7002, ((5461, 10921),)),
        ("192.168.5.9", 7003, ((10922, 16383),))]
    assert view.myself is view.nodes[0]  # through the proxy: shard 0's view
    shard0 = cluster_view(topo, 0, "192.168.5.9", 7001)
    assert [(n.node_id, n.ip, n.port, n.slots, n.epoch) for n in shard0.nodes] == \
        [(n.node_id, n.ip, n.port, n.slots, n.epoch) for n in view.nodes]
    assert shard0.myself.node_id == view.myself.node_id == topo.shards[0].node_id
    assert cluster_view(topo, 2, "192.168.5.9", 7003).myself.port == 7003
    assert cluster_view(topo, 1, "::ffff:10.0.0.1", 7002).myself.ip == "10.0.0.1"
    config.values["cluster_announce_ip"] = "203.0.113.7"
    topo = Topology(config)
    assert {n.ip for n in cluster_view(topo, 0, "127.0.0.1", 7001).nodes} == {"203.0.113.7"}
    # The ids derive from the configuration: the same configuration, the same ids.
    assert [s.node_id for s in Topology(config).shards] == [s.node_id for s in topo.shards]


@pytest.fixture(scope="module")
def cluster_off():
    with DamselflyProcess(shards=2, cluster_mode="off") as proc:
        yield proc


def test_cluster_mode_off_matches_a_plain_redis(cluster_off, redis_ref):
    with RawClient(cluster_off.port) as mine, RawClient(redis_ref.port) as theirs:
        for cmd in ERROR_CASES + [("CLUSTER", "SLOTS"), ("CLUSTER", "NODES"),
                                  ("CLUSTER", "SHARDS"), ("CLUSTER", "INFO"),
                                  ("CLUSTER", "MYID"), ("CLUSTER", "LINKS"),
                                  ("CLUSTER", "HELP"), ("CLUSTER", "KEYSLOT", "a")]:
            if cmd[0] in ("GET", "MGET"):
                continue
            assert mine.call(*cmd) == theirs.call(*cmd), cmd
        assert mine.call("HELLO", "3")[b"mode"] == b"standalone"
    # The shards refuse the same way for direct clients.
    with RawClient(cluster_off.shard_ports[0]) as c:
        assert c.call("CLUSTER", "SLOTS") == "ERR This instance has cluster support disabled"
        assert c.call("CLUSTER", "COUNTKEYSINSLOT", "1") == \
            "ERR This instance has cluster support disabled"


def test_info_cluster_section(sharded, cluster_off):
    for port in (sharded.port, *sharded.shard_ports):
        with RawClient(port) as c:
            assert c.call("INFO", "cluster") == b"# Cluster\r\ncluster_enabled:1\r\n"
    with RawClient(cluster_off.port) as c:
        assert c.call("INFO", "cluster") == b"# Cluster\r\ncluster_enabled:0\r\n"


def test_announced_address_is_the_one_the_client_reached(sharded):
    """Behind a wildcard bind, each client is told the address it used (127.0.0.2 is loopback too)."""
    for host in ("127.0.0.1", "127.0.0.2"):
        with RawClient(sharded.port, host=host) as c:
            assert {r[2][0] for r in c.call("CLUSTER", "SLOTS")} == {host.encode()}
            nodes = c.call("CLUSTER", "NODES").decode().splitlines()
            assert {line.split()[1].split(":")[0] for line in nodes} == {host}
        with RawClient(sharded.shard_ports[0], host=host) as c:
            assert c.call("GET", "foo") == "MOVED 12182 %s:%d" % (host, sharded.shard_ports[1])
            assert {r[2][0] for r in c.call("CLUSTER", "SLOTS")} == {host.encode()}


def test_node_questions_and_fixed_layout(sharded, real_sharded):
    """REPLICAS/COUNT-FAILURE-REPORTS of a known node as Redis answers them;
    commands that would change the slot layout say it follows the configuration."""
    for mine_port, theirs_port in _node_pairs(sharded, real_sharded):
        with RawClient(mine_port) as mine, RawClient(theirs_port) as theirs:
            for sub, reply in (("REPLICAS", []), ("SLAVES", []), ("COUNT-FAILURE-REPORTS", 0)):
                for peer in (0, 1):
                    with RawClient(sharded.shard_ports[peer]) as p:
                        mine_id = p.call("CLUSTER", "MYID")
                    with RawClient(real_sharded.ports[peer]) as p:
                        theirs_id = p.call("CLUSTER", "MYID")
                    assert mine.call("CLUSTER", sub, mine_id) == reply
                    assert theirs.call("CLUSTER", sub, theirs_id) == reply
            for cmd in (("ADDSLOTS", "1"), ("DELSLOTSRANGE", "1", "2"), ("FAILOVER",),
                        ("RESET", "HARD"), ("SETSLOT", "1", "STABLE"), ("FORGET", "x")):
                assert mine.call("CLUSTER", *cmd) == (
                    "ERR CLUSTER %s is not supported: damselfly's slot layout follows its "
                    "configuration (proactor_threads, cluster_mode)" % cmd[0])


def test_command_info_lists_the_cluster_commands_like_redis(sharded, redis_ref):
    with RawClient(sharded.port) as mine, RawClient(redis_ref.port) as theirs:
        names = sorted(theirs.call("COMMAND", "INFO", "CLUSTER")[0][9], key=lambda e: e[0])
        ours = sorted(mine.call("COMMAND", "INFO", "CLUSTER")[0][9], key=lambda e: e[0])
        # MYSHARDID is Redis 7.2's (the version damselfly reports); the reference is 7.0.
        assert [e for e in ours if e[0] != b"cluster|myshardid"] == names
        for name in ("READONLY", "READWRITE", "ASKING"):
            assert mine.call("COMMAND", "INFO", name) == theirs.call("COMMAND", "INFO", name)
    # DBSIZE tells cluster clients to ask every shard and sum (its tips), in
    # both protocols: the proxy is no node, so that sum counts each key once.
    for proto in (2, 3):
        with RawClient(sharded.shard_ports[1]) as mine, RawClient(redis_ref.port) as theirs:
            if proto == 3:
                mine.call("HELLO", "3")
                theirs.call("HELLO", "3")
            entry = mine.call("COMMAND", "INFO", "DBSIZE")
            assert entry == theirs.call("COMMAND", "INFO", "DBSIZE")
            assert set(entry[0][7]) == {b"request_policy:all_shards", b"response_policy:agg_sum"}
