"""Fixtures: the real damselfly processes, a reference redis-server, and a
differential pair that runs the same command on both and compares replies."""

from __future__ import annotations

import contextlib
import os
import tempfile

import pytest

from tests.helpers import DamselflyProcess, RawClient, RedisProcess
from tests.reference import missing_reference

# Every server a test starts is 3+ fresh interpreters (supervisor, shards,
# proxy workers) importing ~100 project modules.  With PYTHONDONTWRITEBYTECODE
# set (to keep the tree clean) each of them compiled every module from source
# at every start: ~1.5 s more per start on a loaded 2-core box.  The children
# keep their bytecode in a cache outside the tree instead, so the tree stays
# as clean as the setting wanted and each module compiles once.
if os.environ.pop("PYTHONDONTWRITEBYTECODE", None) and "PYTHONPYCACHEPREFIX" not in os.environ:
    os.environ["PYTHONPYCACHEPREFIX"] = os.path.join(
        tempfile.gettempdir(), "damselfly-tests-pycache-%d" % os.getuid())


@pytest.fixture(scope="session")
def server():
    """One damselfly (2 shards, 1 proxy worker) shared by the session.

    Tests that need a clean keyspace flush it; tests that change
    configuration or kill processes start their own with DamselflyProcess.
    """
    with DamselflyProcess(shards=2) as proc:
        yield proc


def reference_redis():
    """A real redis-server to compare with, for as long as the generator runs.
    Skips on a machine with neither the binary nor Docker; under CI that
    fails instead (tests/reference.py)."""
    if not RedisProcess.available():
        missing_reference("no redis-server binary and no Docker for testcontainers")
    proc = RedisProcess().start()
    yield proc
    proc.stop()


@pytest.fixture(scope="session")
def redis_ref():
    """The session's redis-server (each xdist worker has its own)."""
    yield from reference_redis()


class Differential:
    """Runs each command on redis-server and damselfly; replies must match."""

    def __init__(self, ref: RawClient, ours: RawClient):
        self.ref = ref
        self.ours = ours

    def both(self, *args):
        return self.ref.call(*args), self.ours.call(*args)

    def run(self, *args):
        expected, actual = self.both(*args)
        assert actual == expected, "%r: redis %r, damselfly %r" % (args, expected, actual)
        return actual

    def run_unordered(self, *args):
        """For replies whose order Redis does not define (KEYS, SMEMBERS)."""
        expected, actual = self.both(*args)
        assert sorted(actual) == sorted(expected), "%r: redis %r, damselfly %r" % (
            args, expected, actual)
        return actual


@pytest.fixture
def diff(server, redis_ref):
    ref = RawClient(redis_ref.port, redis_ref.host)
    ours = RawClient(server.port)
    ref.call("FLUSHALL")
    ours.call("FLUSHALL")
    yield Differential(ref, ours)
    ref.close()
    ours.close()


@pytest.fixture
def raw(server):
    """A raw client on a flushed damselfly."""
    client = RawClient(server.port)
    client.call("FLUSHALL")
    yield client
    client.close()


@pytest.fixture
def r(server):
    """redis-py (sync) on a flushed damselfly."""
    import redis

    client = redis.Redis(port=server.port, socket_timeout=10)
    client.flushall()
    yield client
    client.close()


# -- running under pytest-xdist (README: ``-n 2``) ----------------------------
#
# Most tests wait (on servers starting, on sleeps, on replies), so two workers
# share the two cores well; a test that asserts a latency (a GET answered
# within 100 ms while another client floods the shard) is different: what it
# measures is the server's fairness, and a neighbour test hogging a core would
# fail it for no fault of the server.  Such a test is marked ``exclusive``:
# the other worker finishes the test it is running and waits until it is done.
# Every test takes a shared lock, an exclusive test the lock itself; the gate
# in front makes a waiting exclusive test go first, not after whatever the
# other worker starts next.


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "exclusive: asserts latencies, so under xdist no other test runs beside it")


def _cpu_share_paths(controller_pid: int) -> tuple:
    base = os.path.join(tempfile.gettempdir(), "damselfly-tests-%d" % controller_pid)
    return base + ".gate", base + ".lock"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item, nextitem):
    if not hasattr(item.config, "workerinput"):  # not an xdist worker: nothing runs beside it
        return (yield)
    import fcntl

    # xdist's workers are children of the controller: its pid names this run.
    gate_path, lock_path = _cpu_share_paths(os.getppid())
    with open(gate_path, "a") as gate, open(lock_path, "a") as lock:
        fcntl.flock(gate, fcntl.LOCK_EX)
        if item.get_closest_marker("exclusive"):
            fcntl.flock(lock, fcntl.LOCK_EX)
        else:
            fcntl.flock(lock, fcntl.LOCK_SH)
            fcntl.flock(gate, fcntl.LOCK_UN)
        try:
            return (yield)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
            fcntl.flock(gate, fcntl.LOCK_UN)


def pytest_unconfigure(config):
    if not hasattr(config, "workerinput"):  # the controller (or a run without xdist)
        for path in _cpu_share_paths(os.getpid()):
            with contextlib.suppress(OSError):
                os.remove(path)
