"""Options accepted but not implemented yet: configs and clients may set them,
each setting logs a warning, and INFO does not claim the feature is active.

No option is in that state any more (the last two, maxmemory and
maxmemory_policy, landed with issue 12; tests/unit/test_config.py keeps the
mechanism tested): setting them warns of nothing and INFO reports them."""

from __future__ import annotations

import time

from tests.helpers import DamselflyProcess, RawClient


def _info_fields(text: bytes) -> dict:
    return dict(line.split(":", 1) for line in text.decode().splitlines()
                if ":" in line and not line.startswith("#"))


def test_memory_options_are_implemented_and_warn_of_nothing():
    with DamselflyProcess(shards=2, maxmemory="1mb") as proc:
        with RawClient(proc.port) as proxy, RawClient(proc.shard_ports[1]) as shard:
            assert proxy.call("CONFIG", "SET", "maxmemory-policy", "allkeys-lru") == b"OK"
            assert shard.call("CONFIG", "SET", "maxmemory-policy", "allkeys-lfu") == b"OK"
            assert proxy.call("CONFIG", "SET", "maxmemory", "2mb") == b"OK"
            time.sleep(0.3)
            assert "is accepted but not implemented yet" not in proc.log()
            info = _info_fields(proxy.call("INFO", "memory"))
            assert info["maxmemory"] == "2097152"
            assert info["maxmemory_policy"] == "allkeys-lru"
