"""BGSAVE under load: damselfly's forkless snapshot beside redis-server's fork.

    python bench/snapshot.py                    # 1M keys, 2 shards
    python bench/snapshot.py --keys 200000      # a shorter run
    python bench/snapshot.py --saves 4          # four saves per server, a row each

For each server, in one run: load ``--keys`` keys (``key:%012d``, 32-byte
values, the names redis-benchmark's ``-r`` draws), then start an overwrite
load (redis-benchmark SET over the same keys) and a probe client (a process
of its own) that times each of its GET and SET calls one by one; then
BGSAVE (``--saves`` times, a second apart), and until each save is done
sample every 20 ms the PSS of every process of the server (the supervisor,
shards and proxy workers; for redis-server, itself and its fork) from
/proc/<pid>/smaps_rollup.  Reported per save: PSS before the save and its
peak during it (and the ratio), the save's duration, the probe's
p50/p99/max during the save (and in the second before it, for reference);
and the time a fresh start takes to load the files the last save wrote.
The issue's targets for damselfly: peak PSS <= 1.1x before, p99 < 10 ms.
The machine is shared: quote ratios.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench.run import damselfly_pids  # noqa: E402
from tests.helpers import DamselflyProcess, RawClient, RedisProcess  # noqa: E402

VALUE = b"v" * 32


def pss_bytes(pids) -> int:
    """Sum of the processes' proportional set size (shared pages split)."""
    total = 0
    for pid in pids:
        try:
            with open("/proc/%d/smaps_rollup" % pid) as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1]) * 1024
                        break
        except OSError:
            pass  # gone (a fork that finished)
    return total


def children(pid: int) -> list:
    """``pid``'s child processes, read from /proc: sampled every 20 ms during
    a save, so no ``ps`` is spawned from the process that runs the probe's
    clock."""
    found = []
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                found += [int(p) for p in f.read().split()]
    except OSError:
        pass  # gone
    return found


def load(port: int, keys: int) -> float:
    t0 = time.monotonic()
    with RawClient(port) as c:
        for start in range(0, keys, 2000):
            args = []
            for i in range(start, min(keys, start + 2000)):
                args += [b"key:%012d" % i, VALUE]
            c.call("MSET", *args)
    return time.monotonic() - t0


def _info(c) -> dict:
    text = c.call("INFO", "persistence").decode()
    return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)


def _probe(port: int, keys: int, stop, results) -> None:
    samples = []
    with RawClient(port) as c:
        i = 0
        while not stop.is_set():
            key = b"key:%012d" % ((i * 7919) % keys)
            t0 = time.perf_counter()
            if i % 2:
                c.call("GET", key)
            else:
                c.call("SET", key, VALUE)
            samples.append((t0, time.perf_counter() - t0))
            i += 1
            time.sleep(0.001)
    results.send(samples)


class Probe:
    """Times one GET or SET at a time: (when it was sent, seconds it took).

    It runs in a process of its own: as a thread it shared the GIL with this
    process's sampling of PSS (reads of smaps_rollup, listing processes), and
    its timings included those waits.  perf_counter is CLOCK_MONOTONIC, the
    same clock in every process, so its timestamps compare with ours."""

    def __init__(self, port: int, keys: int):
        context = multiprocessing.get_context("fork")
        self.stop = context.Event()
        self._results, sender = context.Pipe(duplex=False)
        self._process = context.Process(target=_probe, args=(port, keys, self.stop, sender),
                                         daemon=True)
        self.samples = []

    def start(self) -> None:
        self._process.start()

    def join(self) -> None:
        if self._results.poll(30):  # (nothing: the probe failed, its traceback is on stderr)
            self.samples = self._results.recv()
        self._process.join(5)


def _percentiles(values) -> dict:
    if not values:
        return {"n": 0}
    values = sorted(values)
    pick = lambda q: values[min(len(values) - 1, int(q * len(values)))] * 1000  # noqa: E731
    return {"n": len(values), "p50_ms": round(pick(0.5), 3), "p99_ms": round(pick(0.99), 3),
            "max_ms": round(values[-1] * 1000, 3)}


def measure_saves(name: str, port: int, pids_of, keys: int, saves: int = 1) -> list:
    """``saves`` BGSAVEs, one after the other, under one overwrite load (see
    the module doc); a row each.  "before" is the probe's second before that
    save."""
    overwrite = subprocess.Popen(
        ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-c", "8", "-n", "100000000",
         "-r", str(keys), "-d", str(len(VALUE)), "-t", "set", "-q"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    probe = Probe(port, keys)
    windows = []  # (t_start, t_end, status, pss_before, peak)
    try:
        probe.start()
        time.sleep(1.5)  # the load settles
        for number in range(saves):
            if number:
                time.sleep(1.0)  # a second of the load alone: the next row's "before"
            before = [pss_bytes(pids_of()) for _ in range(5) if time.sleep(0.05) is None]
            pss_before = statistics.median(before)
            with RawClient(port) as c:
                t_start = time.perf_counter()
                reply = c.call("BGSAVE")
                assert reply == b"Background saving started", reply
                peak = pss_before
                while True:
                    peak = max(peak, pss_bytes(pids_of()))
                    if _info(c)["rdb_bgsave_in_progress"] == "0":
                        break
                    time.sleep(0.02)
                t_end = time.perf_counter()
                status = _info(c)["rdb_last_bgsave_status"]
            windows.append((t_start, t_end, status, pss_before, peak))
        time.sleep(0.5)
    finally:
        probe.stop.set()
        overwrite.terminate()
        overwrite.wait()
        probe.join()
    rows = []
    for t_start, t_end, status, pss_before, peak in windows:
        during = [d for t, d in probe.samples if t_start <= t <= t_end]
        earlier = [d for t, d in probe.samples if t_start - 1.0 <= t < t_start]
        row = {"server": name, "status": status, "save_s": round(t_end - t_start, 3),
               "pss_before_mb": round(pss_before / 2**20, 1),
               "pss_peak_mb": round(peak / 2**20, 1), "pss_ratio": round(peak / pss_before, 3),
               "during": _percentiles(during), "before": _percentiles(earlier)}
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


def wait_loaded(port: int, keys: int, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with RawClient(port) as c:
                if c.call("DBSIZE") == keys:
                    return
        except OSError:
            pass
        time.sleep(0.02)
    raise TimeoutError("not loaded")


def load_time(server, keys: int) -> tuple:
    """Seconds from starting ``server`` (its files in place) to all keys
    loaded, and the seconds the loading itself took by the server's log
    (redis-server's "DB loaded from disk", the slowest shard's "loaded ...
    keys"): the rest is starting processes."""
    t0 = time.monotonic()
    server.start()
    try:
        wait_loaded(server.port, keys)
        took = round(time.monotonic() - t0, 3)
        if isinstance(server, DamselflyProcess):
            text, pattern = server.log(), r"loaded \d+ keys of this shard's slots in ([0-9.]+) s"
        else:
            with open(os.path.join(server.dir, "redis.log")) as f:
                text, pattern = f.read(), r"DB loaded from disk: ([0-9.]+) seconds"
        found = re.findall(pattern, text)
        return took, max(map(float, found)) if found else None
    finally:
        server.stop()


def run_redis(keys: int, saves: int) -> dict:
    redis = RedisProcess().start()
    try:
        load(redis.port, keys)
        pids = lambda: [redis.proc.pid] + children(redis.proc.pid)  # noqa: E731
        row = {"saves": measure_saves("redis", redis.port, pids, keys, saves)}
        restart = RedisProcess("--dbfilename", "dump.rdb")
        restart.extra_args += ("--logfile", os.path.join(restart.dir, "redis.log"))
        shutil.copy(os.path.join(redis.dir, "dump.rdb"), os.path.join(restart.dir, "dump.rdb"))
    finally:
        redis.stop()
    row["load_s"], row["loading_s"] = load_time(restart, keys)
    return row


def run_damselfly(keys: int, shards: int, saves: int) -> dict:
    server = DamselflyProcess(shards=shards).start()
    try:
        load(server.port, keys)
        pids = damselfly_pids(server)  # no process comes or goes during a save
        row = {"saves": measure_saves("damselfly", server.port, lambda: pids, keys, saves)}
        files = {n: open(os.path.join(server.dir, n), "rb").read()
                 for n in os.listdir(server.dir) if n.startswith("dump")}
    finally:
        server.stop()
    again = DamselflyProcess(shards=shards)
    for name, data in files.items():
        with open(os.path.join(again.dir, name), "wb") as f:
            f.write(data)
    again.wait_ready = lambda timeout=0: DamselflyProcess.wait_ready(again, timeout=600)
    row["load_s"], row["loading_s"] = load_time(again, keys)
    return row


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--shards", type=int, default=2)
    parser.add_argument("--only", choices=("redis", "damselfly"),
                        help="measure one server (the other's row is left out)")
    parser.add_argument("--saves", type=int, default=1,
                        help="BGSAVEs per server under the same load, a row each")
    opts = parser.parse_args(argv)
    results = {"keys": opts.keys, "shards": opts.shards}
    if opts.only != "damselfly":
        results["redis"] = run_redis(opts.keys, opts.saves)
    if opts.only != "redis":
        results["damselfly"] = run_damselfly(opts.keys, opts.shards, opts.saves)

    print()
    print("%-10s %8s %10s %10s %7s %9s %9s %9s %10s %7s %13s" % (
        "server", "save s", "PSS before", "PSS peak", "ratio", "p50 ms", "p99 ms", "max ms",
        "p99 before", "load s", "of it loading"))
    for name in ("redis", "damselfly"):
        if name not in results:
            continue
        server = results[name]
        for number, r in enumerate(server["saves"], 1):
            d = r["during"]
            last = number == len(server["saves"])  # the restart loads the last save's files
            print("%-10s %8.2f %9.1fM %9.1fM %7.3f %9s %9s %9s %10s %7s %13s" % (
                name, r["save_s"], r["pss_before_mb"], r["pss_peak_mb"], r["pss_ratio"],
                d.get("p50_ms"), d.get("p99_ms"), d.get("max_ms"), r["before"].get("p99_ms"),
                "%.2f" % server["load_s"] if last else "",
                ("-" if server["loading_s"] is None else server["loading_s"]) if last else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
