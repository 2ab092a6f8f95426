"""One client can never hold up another: flow control and output limits.

A proxy worker shares one pipelined link per shard among all its clients, so
a client that pipelines without end, or never reads its replies, must not
fill the links, the shard or the proxy's memory.  These tests run such a
client next to a well-behaved one and measure: resident memory of every
damselfly process (VmRSS of the supervisor's children), the well-behaved
client's latency, and ``client_output_buffer_limit`` disconnecting the
offender.  CONFIG SET/GET of that option is compared with redis-server.
"""

from __future__ import annotations

import socket
import threading
import time

import hiredis
import pytest

from cluster.config import load_config
from tests.helpers import DamselflyProcess, RawClient

BIG = 100_000  # bytes in the value a non-reading client asks for, again and again
DEFAULT_LIMITS = "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"


def command(*args: bytes) -> bytes:
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%b\r\n" % (len(a), a) for a in args)


def rss(pid: int) -> int:
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class Growth:
    """Resident memory of the damselfly processes, relative to a baseline."""

    def __init__(self, server):
        self.pids = server.child_pids()
        self.base = {pid: rss(pid) for pid in self.pids}

    def now(self) -> int:
        return sum(rss(pid) - self.base[pid] for pid in self.pids)


class Flooder:
    """Sends ``payload`` as fast as the server takes it and never reads."""

    def __init__(self, port: int, payload: bytes, rcvbuf: int = 65536):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.connect(("127.0.0.1", port))
        self.sock.settimeout(0.1)
        self.payload = memoryview(payload)
        self.sent = 0
        self.stopped = False
        self.thread = threading.Thread(target=self._send, daemon=True)

    def start(self) -> "Flooder":
        self.thread.start()
        return self

    def _send(self) -> None:
        while not self.stopped and self.sent < len(self.payload):
            try:
                self.sent += self.sock.send(self.payload[self.sent:self.sent + 65536])
            except socket.timeout:
                continue
            except OSError:
                return

    def close(self) -> None:
        self.stopped = True
        self.thread.join(2)
        self.sock.close()


def probe(client: RawClient, key: str, seconds: float, growth: Growth | None = None):
    """GET ``key`` every few ms for ``seconds``: (max latency, peak growth)."""
    worst = peak = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        t0 = time.monotonic()
        assert client.call("GET", key) == b"x"
        worst = max(worst, time.monotonic() - t0)
        if growth is not None:
            peak = max(peak, growth.now())
        time.sleep(0.005)
    return worst, peak


@pytest.fixture(scope="module")
def fair_server():
    with DamselflyProcess(shards=2) as proc:
        yield proc


@pytest.fixture
def fresh(fair_server):
    with RawClient(fair_server.port) as c:
        c.call("FLUSHALL")
        c.call("CONFIG", "SET", "client-output-buffer-limit", DEFAULT_LIMITS)
    yield fair_server


@pytest.mark.exclusive
def test_a_client_that_never_reads_stays_bounded(fresh):
    """200,000 pipelined GETs of a 100 KB value, never read: the proxy and the
    shard stay small, the same shard keeps answering others, and nothing of
    the client grows once it is gone."""
    client = RawClient(fresh.port)
    client.call("SET", "{k}big", "v" * BIG)
    client.call("SET", "{k}probe", "x")  # same slot, same shard
    growth = Growth(fresh)
    flooder = Flooder(fresh.port, command(b"GET", b"{k}big") * 200_000).start()
    worst, peak = probe(client, "{k}probe", 3.0, growth)
    assert flooder.sent > 1_000_000  # it did pipeline (the proxy read it)
    assert peak < 150 * 1024**2, "grew %d MB" % (peak >> 20)
    assert worst < 0.2, "a GET on the same shard took %.0f ms" % (worst * 1000)
    flooder.close()
    time.sleep(0.3)
    after = growth.now()
    time.sleep(1.0)
    assert growth.now() < after + 20 * 1024**2
    assert client.call("GET", "{k}probe") == b"x"
    client.close()


@pytest.mark.exclusive
def test_a_direct_shard_client_that_never_reads_stays_bounded(fresh):
    """The same on a shard's own port (what sharded-mode clients use)."""
    port = fresh.shard_ports[0]
    client = RawClient(port)
    client.call("SET", "{k}big", "v" * BIG)
    client.call("SET", "{k}probe", "x")
    growth = Growth(fresh)
    flooder = Flooder(port, command(b"GET", b"{k}big") * 200_000).start()
    worst, peak = probe(client, "{k}probe", 2.0, growth)
    assert flooder.sent > 1_000_000
    assert peak < 150 * 1024**2, "grew %d MB" % (peak >> 20)
    assert worst < 0.2, "a GET on the same shard took %.0f ms" % (worst * 1000)
    flooder.close()
    time.sleep(0.3)
    after = growth.now()
    time.sleep(0.7)
    assert growth.now() < after + 20 * 1024**2
    client.close()


@pytest.mark.exclusive
def test_a_deep_incr_pipeline_does_not_delay_other_clients(fresh):
    """300,000 pipelined INCRs (read as they come) next to a client timing its
    GETs on the same shard: each GET waits behind a bounded batch, not behind
    the whole pipeline (which took seconds before flow control)."""
    n = 300_000
    client = RawClient(fresh.port)
    client.call("SET", "{k}probe", "x")
    heavy = socket.create_connection(("127.0.0.1", fresh.port))
    replies = [0]

    def read_replies():
        while replies[0] < n:
            data = heavy.recv(1 << 20)
            if not data:
                return
            replies[0] += data.count(b"\n")  # one line per integer reply

    reader = threading.Thread(target=read_replies, daemon=True)
    reader.start()
    threading.Thread(target=heavy.sendall, args=(command(b"INCR", b"{k}n") * n,),
                     daemon=True).start()
    worst = 0.0
    deadline = time.monotonic() + 20
    while reader.is_alive() and time.monotonic() < deadline:
        t0 = time.monotonic()
        assert client.call("GET", "{k}probe") == b"x"
        worst = max(worst, time.monotonic() - t0)
        time.sleep(0.005)
    reader.join(1)
    heavy.close()
    assert replies[0] == n
    assert client.call("GET", "{k}n") == b"%d" % n
    assert worst < 0.1, "a GET on the same shard took %.0f ms" % (worst * 1000)
    client.close()


@pytest.mark.parametrize("where", ["proxy", "shard"])
def test_a_paused_pipeline_resumes_complete_and_in_order(fresh, where):
    """A client that sends 40,000 commands (20 MB of replies) and reads
    nothing for a while is paused (its socket is full, its commands held);
    once it reads, every reply arrives, in order, and the QUIT at the end is
    honoured."""
    port = fresh.port if where == "proxy" else fresh.shard_ports[0]
    n = 20_000
    value = b"v" * 1000
    with RawClient(port) as c:
        c.call("SET", "{p}v", value)
    payload = (command(b"INCR", b"{p}n") + command(b"GET", b"{p}v")) * n + command(b"QUIT")
    sock = socket.create_connection(("127.0.0.1", port))
    sender = threading.Thread(target=sock.sendall, args=(payload,), daemon=True)
    sender.start()
    time.sleep(0.5)
    reader = hiredis.Reader()
    replies = []
    sock.settimeout(10)
    while True:
        data = sock.recv(1 << 20)
        if not data:
            break
        reader.feed(data)
        reply = reader.gets()
        while reply is not False:
            replies.append(reply)
            reply = reader.gets()
    sender.join(5)
    sock.close()
    assert len(replies) == 2 * n + 1
    assert replies[0::2] == list(range(1, n + 1)) + [b"OK"]
    assert replies[1::2] == [value] * n


def _client_ids(port: int) -> set:
    with RawClient(port) as c:
        listing = c.call("CLIENT", "LIST").decode()
    return {int(line.split()[0][3:]) for line in listing.splitlines() if line}


def _wait_gone(port: int, client_id: int, seconds: float) -> float | None:
    """Seconds until ``client_id`` left CLIENT LIST, or None if it stayed."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        if client_id not in _client_ids(port):
            return time.monotonic() - t0
        time.sleep(0.05)
    return None


def _flood_with_id(port: int, value_key: str) -> tuple:
    flooder = Flooder(port, command(b"GET", value_key.encode()) * 20_000)
    flooder.sock.settimeout(5)
    flooder.sock.sendall(command(b"CLIENT", b"ID"))
    reply = b""
    while not reply.endswith(b"\r\n"):
        reply += flooder.sock.recv(64)
    flooder.sock.settimeout(0.1)
    return flooder.start(), int(reply[1:-2])


def test_hard_output_limit_disconnects_a_non_reading_client_at_once(fresh):
    client = RawClient(fresh.port)
    client.call("SET", "big", "v" * 1024**2)
    client.call("SET", "probe", "x")
    assert client.call("CONFIG", "SET", "client-output-buffer-limit", "normal 4mb 0 0") == b"OK"
    flooder, flooder_id = _flood_with_id(fresh.port, "big")
    try:
        assert _wait_gone(fresh.port, flooder_id, 3.0) is not None
    finally:
        flooder.close()
    # Others are unaffected: a client reading 1 MB replies stays connected.
    for _ in range(5):
        assert len(client.call("GET", "big")) == 1024**2
    assert client.call("GET", "probe") == b"x"
    client.call("CONFIG", "SET", "client-output-buffer-limit", DEFAULT_LIMITS)
    client.close()


def test_soft_output_limit_disconnects_after_its_seconds(fresh):
    client = RawClient(fresh.port)
    client.call("SET", "big", "v" * 1024**2)
    assert client.call("CONFIG", "SET", "client-output-buffer-limit",
                       "normal 0 4mb 1") == b"OK"
    flooder, flooder_id = _flood_with_id(fresh.port, "big")
    try:
        time.sleep(0.6)
        assert flooder_id in _client_ids(fresh.port)  # over the soft limit, not for 1 s yet
        assert _wait_gone(fresh.port, flooder_id, 3.0) is not None
    finally:
        flooder.close()
    assert len(client.call("GET", "big")) == 1024**2
    client.call("CONFIG", "SET", "client-output-buffer-limit", DEFAULT_LIMITS)
    client.close()


def test_no_limit_keeps_a_non_reading_client(fresh):
    """The default (normal 0 0 0): a slow reader is paused, not dropped."""
    client = RawClient(fresh.port)
    client.call("SET", "big", "v" * 1024**2)
    flooder, flooder_id = _flood_with_id(fresh.port, "big")
    try:
        assert _wait_gone(fresh.port, flooder_id, 1.5) is None
    finally:
        flooder.close()
    client.close()


# -- the option: CONFIG SET/GET as in Redis, YAML and flags ------------------------

CONFIG_STEPS = [
    "normal 1mb 2mb 3", "replica 1 2 3", "slave 4 5 6", "pubsub 1k 2k 0", "NORMAL 5 6 7",
    "master 1 2 3", "foo 1 2 3", "normal 1 2", "normal 1 2 3 pubsub 4 5", " normal 1 2 3",
    "normal  1 2", "normal 1 2 ", "normal -1 2 3", "normal x 2 3", "normal +5 2 3",
    "normal 1.5 2 3", "normal 1 2 x", "normal 1 2 -3", "normal 1 2 +3", "normal 1 2 03",
    "normal 1 2 2147483648", "normal 1 2 4294967296", "normal 1 2 9999999999999",
    "normal 1 2 99999999999999999999", "normal 1K 2KB 3", "normal 1g 2mB 3", "normal 1tb 2 3",
    "normal 18446744073709551616 2 3", "normal 99999999999999999999gb 1 2",
    "normal 10 5 3", "normal 1 2 3 normal 4 5 6", "pubsub 1 2 3 foo 1 2 3", "",
]


def test_config_set_and_get_match_redis(diff):
    for value in [DEFAULT_LIMITS] + CONFIG_STEPS + [DEFAULT_LIMITS]:
        diff.run("CONFIG", "SET", "client-output-buffer-limit", value)
        diff.run("CONFIG", "GET", "client-output-buffer-limit")
    diff.run("CONFIG", "SET", "client-output-buffer-limit", "normal 1 2 3", "maxmemory", "x")
    diff.run("CONFIG", "GET", "client-output-buffer-limit")
    diff.run("CONFIG", "GET", "client-output-*")


def test_yaml_key_and_flag_merge_into_the_defaults(tmp_path):
    path = tmp_path / "d.yaml"
    path.write_text('client_output_buffer_limit: "pubsub 1mb 2mb 3"\n')
    config = load_config(["--config", str(path), "--client-output-buffer-limit", "normal 4 5 6"])
    assert config.client_output_buffer_limit == (
        "normal 4 5 6 slave 268435456 67108864 60 pubsub 1048576 2097152 3")
