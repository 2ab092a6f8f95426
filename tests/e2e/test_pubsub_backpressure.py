"""A subscriber that does not read: client_output_buffer_limit's pubsub class
disconnects it (hard limit at once, soft limit after its seconds), through
the proxy and on a shard port, and the server's memory stays bounded while
messages keep coming.  CLIENT LIST shows what waits for it (omem).
"""

from __future__ import annotations

import socket
import time

import pytest

from tests.helpers import DamselflyProcess, RawClient, encode

DEFAULT_LIMITS = "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"
MESSAGE = b"x" * 16384


@pytest.fixture(scope="module")
def server():
    with DamselflyProcess(shards=2, proxy_workers=1) as proc:
        yield proc


def silent_subscriber(port: int, channel: bytes) -> tuple:
    """A subscriber with a tiny receive buffer that never reads after its
    subscribe reply; returns (socket, client id)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.settimeout(5)
    sock.sendall(encode(["CLIENT", "ID"]) + encode(["SUBSCRIBE", channel]))
    data = b""
    while data.count(b"\r\n") < 1 + 4:  # :id, then the 3-element subscribe reply
        data += sock.recv(4096)
    return sock, int(data[1:data.index(b"\r\n")])


def client_line(port: int, client_id: int):
    with RawClient(port) as c:
        listed = bytes(c.call("CLIENT", "LIST", "ID", client_id))
    return listed.strip() or None


def rss_kb(pids) -> int:
    total = 0
    for pid in pids:
        with open("/proc/%d/status" % pid) as f:
            total += next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    return total


def publish_for(port: int, channel: bytes, total_bytes: int) -> None:
    with RawClient(port) as pub:
        batch = [("PUBLISH", channel, MESSAGE)] * 64
        for _ in range(total_bytes // (len(MESSAGE) * len(batch))):
            pub.pipeline(batch)


def wait_gone(port: int, client_id: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if client_line(port, client_id) is None:
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("where", ["proxy", "shard port"])
def test_hard_limit_disconnects_a_subscriber_that_does_not_read(server, where):
    port = server.port if where == "proxy" else server.shard_ports[1]
    with RawClient(server.port) as admin:
        assert admin.call("CONFIG", "SET", "client-output-buffer-limit",
                          "pubsub 2mb 0 0") == b"OK"
    try:
        sock, client_id = silent_subscriber(port, b"flood")
        reader = RawClient(server.port)  # a subscriber that reads keeps up
        reader.call("SUBSCRIBE", "flood")
        pids = server.child_pids()
        before = rss_kb(pids)
        with RawClient(server.port) as pub:
            sent = 0
            while sent < 40 * 1024 * 1024:  # 40 MB of messages
                replies = pub.pipeline([("PUBLISH", "flood", MESSAGE)] * 64)
                sent += 64 * len(MESSAGE)
                for _ in replies:
                    assert reader.read()[2] == MESSAGE
        grown_mb = (rss_kb(pids) - before) / 1024
        assert wait_gone(port, client_id, 5), "the silent subscriber is still connected"
        assert grown_mb < 20, "memory grew by %.1f MB for 40 MB of messages" % grown_mb
        with RawClient(server.port) as probe:
            assert probe.call("PUBSUB", "NUMSUB", "flood") == [b"flood", 1]  # the reader
        reader.close()
        sock.close()
    finally:
        with RawClient(server.port) as admin:
            admin.call("CONFIG", "SET", "client-output-buffer-limit", DEFAULT_LIMITS)


def test_omem_then_the_soft_limit_after_its_seconds(server):
    with RawClient(server.port) as admin:
        assert admin.call("CONFIG", "SET", "client-output-buffer-limit",
                          "pubsub 0 1mb 1") == b"OK"
    try:
        sock, client_id = silent_subscriber(server.port, b"soft")
        publish_for(server.port, b"soft", 4 * 1024 * 1024)
        line = client_line(server.port, client_id)
        assert line is not None, "closed before its soft-limit seconds"
        fields = dict(f.split(b"=", 1) for f in line.split(b" "))
        assert fields[b"flags"] == b"P" and fields[b"sub"] == b"1"
        assert int(fields[b"omem"]) > 1024 * 1024
        # still over the soft limit a second later: gone (new messages wake the check)
        deadline = time.monotonic() + 5
        while client_line(server.port, client_id) is not None:
            assert time.monotonic() < deadline, "the soft limit never closed it"
            publish_for(server.port, b"soft", 64 * len(MESSAGE))
            time.sleep(0.1)
        sock.close()
    finally:
        with RawClient(server.port) as admin:
            admin.call("CONFIG", "SET", "client-output-buffer-limit", DEFAULT_LIMITS)
