"""A burst of clients connecting at once: the listen backlog (``tcp_backlog``,
Redis's tcp-backlog) holds them until they are accepted, so none waits for the
kernel's one-second SYN retry.  Linux caps the backlog at net.core.somaxconn
(4096 on the machine these tests were written on).

Measured per connection: the time to open it (what a dropped SYN delays by a
second) and the kernel's retransmission count (a dropped SYN or handshake
ACK shows there), and that it gets its PONG."""

from __future__ import annotations

import asyncio
import os
import resource
import signal
import socket
import struct
import time

import pytest

from tests.helpers import DamselflyProcess, Err, RawClient

CLIENTS = 5000
BATCH = 1000  # connections opened at the same instant; all stay open to the end

# struct tcp_info (linux/tcp.h): tcpi_total_retrans is the u32 at byte 100.
# A SYN the kernel dropped because the accept queue was full is retransmitted
# after a second, and counted there.
TCP_INFO_SIZE = 104
TOTAL_RETRANS = 100


def _raise_open_files_limit(needed: int) -> None:
    """The servers inherit this process's limit, and each side holds a socket per client."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard if hard != resource.RLIM_INFINITY
                                                    else needed, hard))
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert soft == resource.RLIM_INFINITY or soft >= needed, "open files limit %d" % soft


async def _ping(port: int, writers: list):
    """Connect, PING, PONG: (seconds the connection took to open, kernel
    retransmissions); None if refused or unanswered after 5 s (its connection
    lost in an overflow).  The time to PONG is not asserted on: on a loaded
    machine the server's own turn may take a second, SYN retry or not."""
    started = time.monotonic()
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 5)
        took = time.monotonic() - started
        writers.append(writer)
        writer.write(b"PING\r\n")
        line = await asyncio.wait_for(reader.readline(), 5)
    except (ConnectionError, asyncio.TimeoutError):
        return None
    assert line == b"+PONG\r\n", line
    info = writer.get_extra_info("socket").getsockopt(
        socket.IPPROTO_TCP, socket.TCP_INFO, TCP_INFO_SIZE)
    (retrans,) = struct.unpack_from("I", info, TOTAL_RETRANS)
    return took, retrans


async def _burst(port: int, clients: int, batch: int) -> list:
    results, writers = [], []
    try:
        for start in range(0, clients, batch):
            results += await asyncio.gather(
                *(_ping(port, writers) for _ in range(min(batch, clients - start))))
    finally:
        for writer in writers:
            writer.close()
    return results


@pytest.mark.exclusive
def test_burst_of_clients_is_held_by_the_backlog():
    _raise_open_files_limit(2 * CLIENTS + 1000)
    with DamselflyProcess(shards=1, tcp_backlog=4096) as server:
        with RawClient(server.port) as client:
            assert client.call("CONFIG", "GET", "tcp-backlog") == [b"tcp-backlog", b"4096"]
        for port in (server.port, server.shard_ports[0]):
            results = asyncio.run(_burst(port, CLIENTS, BATCH))
            assert None not in results, "%d refused" % results.count(None)
            assert sum(retrans for _, retrans in results) == 0
            slowest = max(took for took, _ in results)
            assert slowest < 1.0, "slowest connection %.3f s" % slowest


async def _connect_while_stopped(port: int, attempts: int) -> tuple:
    """Open ``attempts`` connections at once to a server that is not accepting:
    the kernel completes handshakes into the listen queue until it is full, then
    drops SYNs.  Returns the (reader, writer) of each opened within the wait."""
    async def one():
        try:
            return await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 0.7)
        except (ConnectionError, asyncio.TimeoutError):
            return None
    return [c for c in await asyncio.gather(*(one() for _ in range(attempts))) if c]


async def _pong_all(opened) -> None:
    try:
        for reader, writer in opened:
            writer.write(b"PING\r\n")
        for reader, writer in opened:
            assert await asyncio.wait_for(reader.readline(), 10) == b"+PONG\r\n"
    finally:
        for _, writer in opened:
            writer.close()


def _queued_while_stopped(server, port: int, attempts: int) -> int:
    """How many of ``attempts`` connections the kernel queues for ``port`` while
    every process of the server is stopped (SIGSTOP), so only the listen
    backlog decides.  The queued ones get their PONG once the server runs on."""
    pgid = server.proc.pid  # the supervisor leads its own session and group

    async def run():
        os.killpg(pgid, signal.SIGSTOP)
        try:
            opened = await _connect_while_stopped(port, attempts)
        finally:
            os.killpg(pgid, signal.SIGCONT)
        await _pong_all(opened)
        return len(opened)
    return asyncio.run(run())


def test_backlog_reaches_the_listening_sockets():
    """The option is what listen() gets: with nothing accepting, Linux queues
    backlog + 1 handshaken connections and drops the SYNs of the rest."""
    for backlog, attempts, expected in ((8, 40, 9), (100, 40, 40)):
        with DamselflyProcess(shards=1, tcp_backlog=backlog) as server:
            for port in (server.port, server.shard_ports[0]):
                assert _queued_while_stopped(server, port, attempts) == expected, (backlog, port)


def test_tcp_backlog_is_read_only_at_runtime(server):
    with RawClient(server.port) as client:
        assert client.call("CONFIG", "GET", "tcp-backlog") == [b"tcp-backlog", b"511"]
        reply = client.call("CONFIG", "SET", "tcp-backlog", "100")
        assert isinstance(reply, Err) and "can't set immutable config" in reply
        assert client.call("CONFIG", "GET", "tcp-backlog") == [b"tcp-backlog", b"511"]
