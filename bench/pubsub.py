"""PUBLISH throughput with 1, 10 and 100 subscribers, damselfly next to redis-server.

    python bench/pubsub.py               # ~1-2 min on a quiet 2-core box
    python bench/pubsub.py --quick --repeat 1

damselfly runs 2 shards behind 2 proxy workers, and the subscribers are
spread evenly over the two workers (each connection's CLIENT ID tells its
worker), so every message crosses from the shard to both workers and is fanned
out there.  redis-benchmark cannot subscribe, so this driver is asyncio on raw
sockets: the subscribers only count the bytes of the (fixed-size) message
frames they receive; 4 publisher connections send PUBLISH one at a time
(``-P 1``) or 16 in flight (``-P 16``) until every message is published.  A
run ends when the last subscriber has received every message, so the rate is
messages delivered to all subscribers per second ("msgs/s"; deliveries are
that times the subscribers).

Each case runs on the two servers alternately (bench.run.compare, --repeat
pairs) so they meet the same machine load; quote the ratios.  The driver
shares the machine with the servers.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench.run import Target, compare, cpu_seconds, damselfly_pids  # noqa: E402
from tests.helpers import DamselflyProcess, RedisProcess, encode  # noqa: E402

CHANNEL = b"bench:news"
PAYLOAD = b"p" * 32
FRAME = b"*3\r\n$7\r\nmessage\r\n$%d\r\n%b\r\n$%d\r\n%b\r\n" % (
    len(CHANNEL), CHANNEL, len(PAYLOAD), PAYLOAD)
PUBLISHERS = 4
SUBSCRIBERS = (1, 10, 100)
# Messages per run: deliveries (messages x subscribers) kept near a budget so
# each run takes a few seconds on damselfly.
DELIVERIES = 600_000
MAX_MESSAGES = 60_000


class Counter(asyncio.Protocol):
    """A subscriber that counts the bytes of the message frames it receives."""

    transport = None

    def connection_made(self, transport):
        self.transport = transport

    def __init__(self, total: int):
        self.total = total
        self.got = 0
        self.done = asyncio.get_running_loop().create_future()

    def data_received(self, data):
        self.got += len(data)
        if self.got >= self.total and not self.done.done():
            self.done.set_result(None)

    def connection_lost(self, exc):
        if not self.done.done():
            self.done.set_exception(ConnectionError("a subscriber was disconnected"))


class Publisher(asyncio.Protocol):
    """Sends ``messages`` PUBLISHes, ``pipeline`` in flight; checks each count."""

    def __init__(self, messages: int, pipeline: int, subscribers: int):
        self.left = messages
        self.pipeline = pipeline
        self.reply = b":%d\r\n" % subscribers
        self.request = encode(["PUBLISH", CHANNEL, PAYLOAD])
        self.pending = b""
        self.in_flight = 0
        self.done = asyncio.get_running_loop().create_future()

    def connection_made(self, transport):
        self.transport = transport
        self._send()

    def _send(self):
        batch = min(self.pipeline - self.in_flight, self.left)
        if batch > 0:
            self.left -= batch
            self.in_flight += batch
            self.transport.write(self.request * batch)

    def data_received(self, data):
        data = self.pending + data
        n = len(data) // len(self.reply)
        self.pending = data[n * len(self.reply):]
        assert data[:n * len(self.reply)] == self.reply * n, data[:40]
        self.in_flight -= n
        self._send()
        if not self.left and not self.in_flight and not self.done.done():
            self.done.set_result(None)


async def _subscriber(port: int, workers: int, per_worker: dict, total: int):
    """A subscribed connection on a worker that still needs one (damselfly), or any."""
    loop = asyncio.get_running_loop()
    while True:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(encode(["CLIENT", "ID"]))
        line = await reader.readline()
        worker = (int(line[1:]) >> 40) if workers > 1 else 0
        if per_worker.get(worker, 0) > 0:
            per_worker[worker] -= 1
            break
        writer.close()
    writer.write(encode(["SUBSCRIBE", CHANNEL]))
    expected = b"*3\r\n$9\r\nsubscribe\r\n$%d\r\n%b\r\n:1\r\n" % (len(CHANNEL), CHANNEL)
    assert await reader.readexactly(len(expected)) == expected
    sock = writer.transport.get_extra_info("socket").dup()
    writer.transport.pause_reading()
    writer.close()
    _, counter = await loop.create_connection(lambda: Counter(total), sock=sock)
    return counter


async def _one_run(port: int, workers: int, subscribers: int, pipeline: int,
                   messages: int) -> float:
    loop = asyncio.get_running_loop()
    per_worker = {w: subscribers // workers + (w < subscribers % workers)
                  for w in range(workers)}
    per_publisher = messages // PUBLISHERS
    total = per_publisher * PUBLISHERS * len(FRAME)
    subs = [await _subscriber(port, workers, per_worker, total) for _ in range(subscribers)]
    t0 = time.monotonic()
    publishers = [(await loop.create_connection(
        lambda: Publisher(per_publisher, pipeline, subscribers), "127.0.0.1", port))[1]
        for _ in range(PUBLISHERS)]
    await asyncio.gather(*(p.done for p in publishers), *(s.done for s in subs))
    wall = time.monotonic() - t0
    for p in publishers:
        p.transport.close()
    for s in subs:
        s.transport.close()
    return wall


def _loop_run(coro):
    try:
        import uvloop

        return uvloop.run(coro)
    except ImportError:  # pragma: no cover
        return asyncio.run(coro)


def measure(target: Target, workers: int, subscribers: int, pipeline: int,
            messages: int) -> dict:
    before = cpu_seconds(target.pids)
    wall = _loop_run(_one_run(target.port, workers, subscribers, pipeline, messages))
    cpu = cpu_seconds(target.pids) - before
    published = messages // PUBLISHERS * PUBLISHERS
    return {"rps": published / wall, "cpu_s": cpu, "wall_s": wall,
            "cpu_per_mops": cpu / (published / 1e6)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a fifth of the messages")
    parser.add_argument("--repeat", type=int, default=3)
    opts = parser.parse_args(argv)
    redis = RedisProcess().start()
    damselfly = DamselflyProcess(shards=2, proxy_workers=2)
    try:
        damselfly.start()
        targets = [Target("redis", redis.port, [redis.proc.pid]),
                   Target("damselfly", damselfly.port, damselfly_pids(damselfly))]
        workers = {"redis": 1, "damselfly": 2}
        print("msgs/s: messages published and received by every subscriber, per second; "
              "CPU-s/Mops per million messages published")
        for subscribers in SUBSCRIBERS:
            for pipeline in (1, 16):
                messages = min(MAX_MESSAGES, DELIVERIES // subscribers)
                if opts.quick:
                    messages //= 5
                compare(targets, "PUBLISH, %d subscribers" % subscribers, pipeline, opts.repeat,
                        lambda target: measure(target, workers[target.name], subscribers,
                                               pipeline, messages))
    finally:
        damselfly.stop()
        redis.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
