"""Fixtures: the real damselfly processes, a reference redis-server, and a
differential pair that runs the same command on both and compares replies."""

from __future__ import annotations

import os
import tempfile

import pytest

from tests.helpers import DamselflyProcess, RawClient, RedisProcess

# Every server a test starts is 3+ fresh interpreters (supervisor, shards,
# proxy workers) importing ~100 project modules.  With PYTHONDONTWRITEBYTECODE
# set (kept clean trees) each of them compiled every module from source at
# every start: ~1.5 s more per start on a loaded 2-core box.  The children
# keep their bytecode in a cache outside the tree instead, so the tree stays
# as clean as the setting wanted and each module compiles once.
if os.environ.pop("PYTHONDONTWRITEBYTECODE", None) and "PYTHONPYCACHEPREFIX" not in os.environ:
    os.environ["PYTHONPYCACHEPREFIX"] = os.path.join(
        tempfile.gettempdir(), "damselfly-tests-pycache-%d" % os.getuid())
from tests.reference import missing_reference


@pytest.fixture(scope="session")
def server():
    """One damselfly (2 shards, 1 proxy worker) shared by the session.

    Tests that need a clean keyspace flush it; tests that change
    configuration or kill processes start their own with DamselflyProcess.
    """
    with DamselflyProcess(shards=2) as proc:
        yield proc


@pytest.fixture(scope="session")
def redis_ref():
    """A real redis-server to compare with.  Skips on a machine with neither
    the binary nor Docker; under CI that fails instead (tests/reference.py)."""
    if not RedisProcess.available():
        missing_reference("no redis-server binary and no Docker for testcontainers")
    proc = RedisProcess().start()
    yield proc
    proc.stop()


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
