"""A client trickling a huge multibulk in small pieces does not stall the
others: the parser keeps its place in the frame instead of parsing it again
with every piece (which took seconds per MB and blocked the event loop)."""

import socket
import threading
import time

import pytest

from tests.helpers import RawClient

ELEMENT = b"$1\r\na\r\n"


def _trickle(port: int, stop: threading.Event, sent: list):
    sock = socket.create_connection(("127.0.0.1", port))
    try:
        sock.sendall(b"*2147483647\r\n")
        piece = ELEMENT * 300  # 2.1 KB
        while not stop.is_set() and sent[0] < 3 * 1024 * 1024:
            sock.sendall(piece)
            sent[0] += len(piece)
            time.sleep(0.0005)
    finally:
        sock.close()


@pytest.mark.exclusive
def test_ping_answers_while_another_client_trickles(server):
    for port in (server.port, server.shard_ports[0]):
        stop = threading.Event()
        sent = [0]
        thread = threading.Thread(target=_trickle, args=(port, stop, sent))
        thread.start()
        try:
            latencies = []
            with RawClient(port) as other:
                while thread.is_alive() and len(latencies) < 400:
                    started = time.monotonic()
                    assert other.call("PING") == b"PONG"
                    latencies.append(time.monotonic() - started)
                    time.sleep(0.005)
        finally:
            stop.set()
            thread.join(30)
        assert sent[0] > 256 * 1024  # the trickle was well under way
        latencies.sort()
        assert latencies[-1] < 0.1, "slowest PING %.3f s" % latencies[-1]
