"""Options accepted but not implemented yet: configs and clients may set them,
each setting logs a warning, and INFO does not claim the feature is active."""

from __future__ import annotations

import time

from tests.helpers import DamselflyProcess, RawClient


def _info_fields(text: bytes) -> dict:
    return dict(line.split(":", 1) for line in text.decode().splitlines()
                if ":" in line and not line.startswith("#"))


def _wait_for_log(proc, text: str, timeout: float = 5.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        log = proc.log()
        if text in log:
            return log
        time.sleep(0.05)
    raise AssertionError("%r not logged:\n%s" % (text, proc.log()))


def test_options_not_implemented_are_accepted_warned_and_not_reported_active():
    with DamselflyProcess(shards=2, maxmemory="1mb") as proc:
        _wait_for_log(proc, "maxmemory is accepted but not implemented yet")
        assert "hz is accepted" not in proc.log()
        with RawClient(proc.port) as proxy, RawClient(proc.shard_ports[1]) as shard:
            assert proxy.call("CONFIG", "GET", "maxmemory") == [b"maxmemory", b"1048576"]

            # CONFIG SET through the proxy: one warning (the shards it forwards to keep quiet).
            warning = "maxmemory is accepted but not implemented yet"
            before = proc.log().count(warning)
            assert proxy.call("CONFIG", "SET", "maxmemory", "2mb") == b"OK"
            assert proxy.call("CONFIG", "GET", "maxmemory") == [b"maxmemory", b"2097152"]
            time.sleep(0.5)
            log = proc.log()
            assert log.count(warning) == before + 1, log
            for client in (proxy, shard):
                info = _info_fields(client.call("INFO", "memory"))
                assert info["maxmemory"] == "0"
            # A client on a shard's own port is warned by that shard.
            assert shard.call("CONFIG", "SET", "maxmemory", "3mb") == b"OK"
            _wait_for_log(proc, "shard-1 WARNING " + warning)
            # Setting an option back to its default asks for nothing.
            assert proxy.call("CONFIG", "SET", "dbfilename", "dump.rdb") == b"OK"
            time.sleep(0.3)
            assert "dbfilename is accepted" not in proc.log()
