"""The script cache is per server: after SCRIPT LOAD or EVAL through any
proxy worker, every worker and shard answers SCRIPT EXISTS and EVALSHA alike
(keys on either shard), and SCRIPT FLUSH empties it everywhere."""

import hashlib

import pytest

from tests.helpers import DamselflyProcess, RawClient, names_on_shard

A = names_on_shard(0, 1, "a")[0]
B = names_on_shard(1, 1, "b")[0]


@pytest.fixture(scope="module")
def server():
    with DamselflyProcess(shards=2, proxy_workers=2) as proc:
        yield proc


def _everywhere(server, *args, connections=8):
    """The replies of ``args`` on fresh connections (spread over the workers)."""
    out = []
    for _ in range(connections):
        with RawClient(server.port) as client:
            out.append(client.call(*args))
    return out


def test_script_load_is_seen_by_every_worker_and_shard(server):
    with RawClient(server.port) as client:
        sha = client.call("SCRIPT", "LOAD", "return {KEYS[1], ARGV[1]}")
    assert _everywhere(server, "SCRIPT", "EXISTS", sha) == [[1]] * 8
    assert _everywhere(server, "EVALSHA", sha, "1", A, "x") == [[A.encode(), b"x"]] * 8
    assert _everywhere(server, "EVALSHA", sha, "1", B, "y") == [[B.encode(), b"y"]] * 8


def test_eval_caches_its_script_on_every_shard(server):
    script = "return 'cached by eval'"
    sha = hashlib.sha1(script.encode()).hexdigest()
    with RawClient(server.port) as client:
        assert client.call("EVAL", script, "1", A) == b"cached by eval"
    assert _everywhere(server, "SCRIPT", "EXISTS", sha) == [[1]] * 8
    assert _everywhere(server, "EVALSHA", sha, "1", B) == [b"cached by eval"] * 8


def test_script_flush_empties_every_shard(server):
    with RawClient(server.port) as client:
        sha = client.call("SCRIPT", "LOAD", "return 1")
        assert client.call("SCRIPT", "FLUSH") == b"OK"
    assert _everywhere(server, "SCRIPT", "EXISTS", sha) == [[0]] * 8


def _on_each_worker(server):
    """One connection on proxy worker 0 and one on worker 1 (a client id's
    high bits name its worker)."""
    found: dict = {}
    spare = []
    while len(found) < 2:
        client = RawClient(server.port)
        worker = client.call("CLIENT", "ID") >> 40
        if worker in found:
            spare.append(client)
        else:
            found[worker] = client
    for client in spare:
        client.close()
    return found[0], found[1]


def test_script_flush_through_one_worker_is_seen_by_the_others(server, redis_ref):
    """After SCRIPT FLUSH through worker A, worker B (which shared the body
    before) answers EVALSHA with NOSCRIPT, runs EVAL, and then EVALSHA works
    with keys on either shard through either worker -- as on one Redis."""
    script = "return {KEYS[1], 'flushed and back'}"
    sha = hashlib.sha1(script.encode()).hexdigest()
    first, second = _on_each_worker(server)
    ref = RawClient(redis_ref.port, redis_ref.host)
    steps = [
        (second, ("EVAL", script, "1", A)),
        (first, ("SCRIPT", "FLUSH")),
        (second, ("EVALSHA", sha, "1", A)),
        (second, ("EVALSHA", sha, "1", B)),
        (first, ("EVALSHA", sha, "1", B)),
        (second, ("SCRIPT", "EXISTS", sha)),
        (second, ("EVAL", script, "1", A)),
        (first, ("SCRIPT", "EXISTS", sha)),
        (second, ("SCRIPT", "EXISTS", sha)),
        (second, ("EVALSHA", sha, "1", B)),
        (first, ("EVALSHA", sha, "2", B, A)),
        (first, ("SCRIPT", "FLUSH")),
        (first, ("EVALSHA", sha, "2", A, B)),
        (second, ("EVALSHA", sha, "1", A)),
    ]
    try:
        for client, args in steps:
            assert client.call(*args) == ref.call(*args), args
    finally:
        for client in (first, second, ref):
            client.close()
