"""MONITOR end to end: the lines redis-server writes, through the proxy (any
worker) and on shard ports, with the client's own address.

Line formats are compared with redis-server's for the same commands, the
timestamp and the client's address aside (each is checked on its own).
"""

from __future__ import annotations

import re
import socket
import threading
import time

import pytest

from tests.helpers import (DamselflyProcess, Err, RawClient, RedisProcess, clients_on_both_workers,
                           encode)

LINE = re.compile(rb"^\+(\d+)\.(\d{6}) \[(\d+) ([^\]]+)\] (.*)$")


class Monitor:
    """A raw MONITOR connection collecting lines."""

    def __init__(self, port: int, host: str = "127.0.0.1"):
        self.sock = socket.create_connection((host, port), timeout=10)
        self.buf = b""
        self.sock.sendall(encode(["MONITOR"]))
        assert self.line() == b"+OK"

    def line(self, timeout: float = 5.0):
        self.sock.settimeout(timeout)
        while b"\r\n" not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("closed")
            self.buf += data
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def lines_until(self, marker: bytes, timeout: float = 5.0) -> list:
        """Lines up to (without) the one whose command contains ``marker``."""
        out = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.line(max(0.01, deadline - time.monotonic()))
            if marker in line:
                return out
            out.append(line)
        raise AssertionError("no line with %r; got %r" % (marker, out))

    def close(self):
        self.sock.close()


def parsed(line: bytes):
    m = LINE.match(line)
    assert m, line
    return int(m.group(1)), int(m.group(3)), m.group(4).decode(), m.group(5)


SEQUENCE = [
    ("SET", "a", b'x y"\n\r\t\x07\x08\\\x01\xff'),
    ("GET", "a"),
    ("PING",),
    ("ECHO", "hi"),
    ("AUTH", "pw"),
    ("AUTH", "user", "pw"),
    ("HELLO", "3", "AUTH", "default", "pw"),
    ("HELLO", "2"),
    ("CLIENT", "SETNAME", "x"),
    ("CONFIG", "GET", "maxmemory"),  # admin: not shown
    ("INCRBYFLOAT", "f", "1.5"),
    ("SELECT", "3"),
    ("SET", "c", "1"),
    ("SELECT", "0"),
    ("NOSUCH", "x"),  # refused before running: not shown
    ("GET",),  # arity: not shown
    ("LPUSH", "a", "x"),  # WRONGTYPE: ran, so shown
    ("CLIENT", "TRACKING", "on"),
    ("CLIENT", "TRACKING", "off"),
]


def _run_sequence(port, host="127.0.0.1", monitor_port=None, sequence=SEQUENCE):
    """Run SEQUENCE on a client; returns (client address, the monitor's lines)."""
    monitor = Monitor(monitor_port or port, host)
    client = RawClient(port, host)
    try:
        # A worker learns that a monitor exists from the shards, a moment
        # after MONITOR's +OK when the client is on another worker: until
        # then its commands show its worker's link address.  Wait for that.
        addr = ("%s:%d" % client.sock.getsockname()[:2]).encode()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            client.call("GET", "warm-up")
            if addr in monitor.line():
                break
        for args in sequence:
            client.call(*args)
        client.call("ECHO", "end-of-sequence")
        lines = monitor.lines_until(b'"end-of-sequence"')
        addr = "%s:%d" % client.sock.getsockname()[:2]
        return addr, lines
    finally:
        client.close()
        monitor.close()


def _comparable(lines, addr):
    out = []
    for line in lines:
        secs, db, who, command = parsed(line)
        assert abs(secs - time.time()) < 60
        assert who == addr, line
        out.append((db, command))
    return out


@pytest.fixture(scope="module")
def reference():
    proc = RedisProcess().start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def two_workers():
    with DamselflyProcess(shards=2, proxy_workers=2) as proc:
        yield proc


def test_lines_match_redis_through_the_proxy(reference, two_workers):
    ref_addr, ref_lines = _run_sequence(reference.port, reference.host)
    addr, lines = _run_sequence(two_workers.port)
    assert _comparable(lines, addr) == _comparable(ref_lines, ref_addr)


def test_lines_match_redis_on_a_shard_port(reference, two_workers):
    sequence = SEQUENCE + [
        ("MULTI",), ("SET", "b", "1"), ("INCR", "b"), ("EXEC",),
        ("EVAL", "redis.call('set', KEYS[1], 'v'); return redis.call('get', KEYS[1])", "1", "a"),
    ]
    ref_addr, ref_lines = _run_sequence(reference.port, reference.host, sequence=sequence)
    from cluster.slots import key_slot

    owner = 1 if key_slot(b"a") >= 8192 else 0  # the script's key must be the shard's
    addr, lines = _run_sequence(two_workers.shard_ports[owner], sequence=sequence)
    ours = [(db, cmd) for db, cmd in _comparable_lua(lines, addr)]
    assert ours == [(db, cmd) for db, cmd in _comparable_lua(ref_lines, ref_addr)]


def _comparable_lua(lines, addr):
    """Like _comparable, scripts' commands keeping "lua" as their address."""
    out = []
    for line in lines:
        _, db, who, command = parsed(line)
        assert who in (addr, "lua"), line
        out.append((db, (who == "lua", command)))
    return out


def test_scripts_commands_are_shown_as_lua_through_the_proxy(two_workers):
    client = RawClient(two_workers.port)
    client.call("SCRIPT", "LOAD", "return redis.call('get', KEYS[1])")
    monitor = Monitor(two_workers.port)
    try:
        sha = client.call("SCRIPT", "LOAD", "return redis.call('get', KEYS[1])").decode()
        client.call("EVALSHA", sha, "1", "scripted")
        lines = monitor.lines_until(b'"get" "scripted"')
        # SCRIPT LOAD runs on every shard: shown once, as by one Redis
        assert [parsed(line)[3][:9] for line in lines] == [b'"SCRIPT" ', b'"EVALSHA"']
        assert parsed(lines[-1])[2] == "%s:%d" % client.sock.getsockname()[:2]
    finally:
        monitor.close()
        client.close()


def test_a_monitor_sees_every_worker_and_shard_ports(two_workers):
    """A monitor on one worker sees commands of clients on the other worker
    and on the shard ports, each with its own address."""
    monitor = Monitor(two_workers.port)
    clients = clients_on_both_workers(two_workers.port, 1)
    try:
        by_worker = dict(enumerate(clients))
        direct = RawClient(two_workers.shard_ports[1])
        for worker, c in sorted(by_worker.items()):
            c.call("SET", "from-worker-%d" % worker, "1")
            c.call("PING", "ping-from-worker-%d" % worker)  # answered by the worker itself
        direct.call("SET", "{x}from-shard-port", "1")
        direct.call("ECHO", "done")
        expected = []
        for worker, c in by_worker.items():
            addr = ("%s:%d" % c.sock.getsockname()[:2]).encode()
            expected.append(b"[0 %s] \"SET\" \"from-worker-%d\"" % (addr, worker))
            expected.append(b"[0 %s] \"PING\" \"ping-from-worker-%d\"" % (addr, worker))
        daddr = ("%s:%d" % direct.sock.getsockname()[:2]).encode()
        expected.append(b'[0 %s] "SET" "{x}from-shard-port"' % daddr)
        text = b"\n".join(monitor.lines_until(b'"done"'))
        # Lines come through different shards (a worker's own PING through
        # shard 0, the shard port's commands through shard 1), with no order
        # between them: read on until every expected line came, or 5 s.
        deadline = time.monotonic() + 5
        while not all(e in text for e in expected) and time.monotonic() < deadline:
            try:
                text += b"\n" + monitor.line(max(0.01, deadline - time.monotonic()))
            except OSError:
                break
        for e in expected:
            assert e in text
        direct.close()
    finally:
        monitor.close()
        for c in clients:
            c.close()


@pytest.mark.parametrize("where", ["proxy", "shard"])
def test_a_monitor_runs_no_keyspace_commands(reference, two_workers, where):
    port = two_workers.port if where == "proxy" else two_workers.shard_ports[0]
    replies = []
    for p, host in ((reference.port, reference.host), (port, "127.0.0.1")):
        m = Monitor(p, host)
        out = []
        for args in (("GET", "a"), ("SET", "a", "1"), ("PUBLISH", "c", "m"), ("CLIENT", "GETNAME")):
            m.sock.sendall(encode(args))
            line = m.line()
            while line.startswith(b"+1") or line.startswith(b"+2"):  # a monitor line
                line = m.line()
            out.append(line)
        m.sock.sendall(encode(["RESET"]))
        line = m.line()
        while line != b"+RESET":
            line = m.line()
        m.close()
        replies.append(out)
    assert replies[1] == replies[0]
    assert replies[0][0] == b"-" + Err("ERR Replica can't interact with the keyspace").encode()


def test_reset_ends_monitor_and_redis_py_monitor(two_workers):
    import redis

    r = redis.Redis(port=two_workers.port)
    with r.monitor() as m:
        other = redis.Redis(port=two_workers.port)
        other.set("seen-by-redis-py", "1")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            command = m.next_command()
            if command["command"] == "SET seen-by-redis-py 1":
                break
        assert command["db"] == 0 and command["client_type"] == "tcp"
        assert command["client_address"] == "127.0.0.1" and command["client_port"].isdigit()
        other.close()
    monitor = Monitor(two_workers.port)
    monitor.sock.sendall(encode(["RESET"]))
    line = monitor.line()
    while line != b"+RESET":
        line = monitor.line()
    RawClient(two_workers.port).call("SET", "after-reset", "1")
    time.sleep(0.3)
    monitor.sock.setblocking(False)
    try:
        late = monitor.sock.recv(65536)
    except BlockingIOError:
        late = b""
    assert b"after-reset" not in late
    monitor.close()
    r.close()


@pytest.mark.parametrize("where", ["proxy", "shard"])
def test_a_monitor_that_does_not_read_is_disconnected(two_workers, where):
    """A monitor is in the normal output-buffer class (as in Redis 7.0)."""
    port = two_workers.port if where == "proxy" else two_workers.shard_ports[0]
    admin = RawClient(port)
    assert admin.call("CONFIG", "SET", "client-output-buffer-limit", "normal 1mb 0 0") == b"OK"
    monitor = socket.create_connection(("127.0.0.1", port))
    monitor.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    monitor.sendall(encode(["MONITOR"]))
    time.sleep(0.2)
    value = "v" * 100_000

    def flood():
        writer = RawClient(port)
        for _ in range(300):
            writer.call("SET", "flood", value)
        writer.close()

    t = threading.Thread(target=flood)
    t.start()
    t.join(60)
    try:
        clients = admin.call("CLIENT", "LIST").decode()
        deadline = time.monotonic() + 5
        while "cmd=monitor" in clients and time.monotonic() < deadline:
            time.sleep(0.1)
            clients = admin.call("CLIENT", "LIST").decode()
        assert "cmd=monitor" not in clients
    finally:
        admin.call("CONFIG", "SET", "client-output-buffer-limit",
                   "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60")
        monitor.close()
        admin.close()
