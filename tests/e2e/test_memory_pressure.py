"""A writer pushing five times maxmemory of data: eviction holds the line.

The total RSS of every damselfly process (supervisor, proxy, shards) stays
within maxmemory x 1.15 above what they use idle, and no shard stops
answering: PINGs through the proxy and on each shard port keep coming back
throughout the load.
"""

from __future__ import annotations

import threading
import time

import pytest

from tests.e2e.test_memory_accounting import _info, _rss
from tests.helpers import DamselflyProcess, RawClient, encode

MAXMEMORY = 32 << 20
VALUE = 1024
BATCH = 100


def _all_pids(proc) -> list:
    return [proc.proc.pid] + proc.child_pids()


class Watch(threading.Thread):
    """Samples the processes' RSS and PINGs every port while the writer runs."""

    def __init__(self, proc):
        super().__init__(daemon=True)
        self.proc = proc
        self.pids = _all_pids(proc)
        self.peak = 0
        self.slowest = 0.0
        self.pings = 0
        self.failures = []
        self.done = threading.Event()

    def run(self):
        clients = [RawClient(port, timeout=5) for port in [self.proc.port] + self.proc.shard_ports]
        try:
            while not self.done.is_set():
                self.peak = max(self.peak, _rss(self.pids))
                for client in clients:
                    t0 = time.monotonic()
                    try:
                        reply = client.call("PING")
                    except OSError as exc:
                        self.failures.append(repr(exc))
                        continue
                    self.slowest = max(self.slowest, time.monotonic() - t0)
                    self.pings += 1
                    if reply != b"PONG":
                        self.failures.append(repr(reply))
                time.sleep(0.05)
        finally:
            for client in clients:
                client.close()


@pytest.mark.parametrize("policy", ["allkeys-lru", "allkeys-random"])
def test_writer_of_five_times_maxmemory_keeps_rss_bounded(policy):
    with DamselflyProcess(shards=2, maxmemory=MAXMEMORY, maxmemory_policy=policy) as proc:
        time.sleep(0.5)
        idle = _rss(_all_pids(proc))
        watch = Watch(proc)
        watch.start()
        value = b"v" * VALUE
        total = 5 * MAXMEMORY // VALUE // BATCH * BATCH
        with RawClient(proc.port, timeout=30) as client:
            try:
                for start in range(0, total, BATCH):
                    client.send_raw(b"".join(encode([b"SET", b"key:%d" % i, value])
                                             for i in range(start, start + BATCH)))
                    for _ in range(BATCH):
                        assert client.read() == b"OK"
            finally:
                watch.done.set()
                watch.join()
            info = _info(client)
            evicted = int(_info(client, "stats")["evicted_keys"])
            keys = client.call("DBSIZE")
        peak_growth = watch.peak - idle
        print("\n%s: idle RSS %.1f MB, peak growth %.1f MB (limit %.1f MB), used_memory %.1f MB, "
              "%d keys kept, %d evicted, slowest PING %.0f ms over %d"
              % (policy, idle / 2**20, peak_growth / 2**20, 1.15 * MAXMEMORY / 2**20,
                 int(info["used_memory"]) / 2**20, keys, evicted, 1000 * watch.slowest,
                 watch.pings))
        assert not watch.failures, watch.failures
        assert watch.pings > 10
        assert evicted > total // 2 and keys + evicted == total
        # Eviction runs before a write, as in Redis: the last write of each
        # shard may leave it one value above its share.
        assert int(info["used_memory"]) <= MAXMEMORY + 2 * (VALUE + 200)
        assert peak_growth <= 1.15 * MAXMEMORY
