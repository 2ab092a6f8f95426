"""SHUTDOWN stops the whole server (supervisor, every shard, every proxy
worker) whichever port it is sent to, with no reply, as Redis does; its
errors match redis-server's.  Successful shutdowns only ever reach servers
these tests start themselves."""

from __future__ import annotations

import subprocess
import os
import time

import pytest
import redis

from tests.e2e.test_supervisor import KEY0, children, wait_gone, wait_group_empty
from tests.helpers import DamselflyProcess, Err, RawClient


def _assert_all_stopped(server, kids, started: float):
    """The supervisor exits cleanly and nothing of the server is left."""
    server.proc.wait(5)
    log = server.log()
    assert time.monotonic() - started < 5, log
    assert server.proc.returncode == 0, log
    assert wait_gone(list(kids.values()), 0.5) == [], log
    assert wait_group_empty(server.proc.pid, 0.5) == [], log
    assert "restarting" not in log, log
    assert "User requested shutdown" in log, log


def _started(**options):
    server = DamselflyProcess(shards=2, proxy_workers=2, **options).start()
    kids = children(server)
    assert sorted(kids) == ["proxy 0", "proxy 1", "shard 0", "shard 1"]
    return server, kids


def test_redis_cli_shutdown_on_the_proxy_port_stops_everything():
    server, kids = _started()
    try:
        started = time.monotonic()
        done = subprocess.run(["redis-cli", "-p", str(server.port), "shutdown"],
                              capture_output=True, text=True, timeout=10)
        assert done.returncode == 0, (done.stdout, done.stderr)
        assert "ERR" not in done.stdout + done.stderr
        _assert_all_stopped(server, kids, started)
    finally:
        server.stop()


@pytest.mark.parametrize("modifiers", [{}, {"nosave": True, "now": True},
                                       {"save": True, "force": True}], ids=str)
def test_redis_py_shutdown_on_a_shard_port_stops_everything(modifiers):
    server, kids = _started()
    try:
        client = redis.Redis(port=server.shard_ports[1], socket_timeout=5)
        started = time.monotonic()
        # redis-py takes the closed connection as success; a reply would raise.
        assert client.shutdown(**modifiers) is None
        _assert_all_stopped(server, kids, started)
    finally:
        server.stop()


def test_earlier_pipelined_replies_arrive_then_the_connection_closes():
    server, kids = _started()
    try:
        with RawClient(server.port) as c:
            c.send_raw(b"*3\r\n$3\r\nSET\r\n$3\r\nbar\r\n$1\r\n1\r\n*1\r\n$3\r\nGET\r\n"
                       b"*2\r\n$3\r\nGET\r\n$3\r\nbar\r\n*1\r\n$8\r\nSHUTDOWN\r\n"
                       b"*1\r\n$4\r\nPING\r\n")
            started = time.monotonic()
            assert c.read() == b"OK"
            assert isinstance(c.read(), Err)  # GET without a key: an error, still in order
            assert c.read() == b"1"
            with pytest.raises(ConnectionError):
                c.read()  # no reply to SHUTDOWN, and PING after it never runs
        _assert_all_stopped(server, kids, started)
    finally:
        server.stop()


def test_shutdown_save_that_fails_keeps_the_server_running():
    server, kids = _started()
    try:
        # Shard 1's file cannot be written: a directory is in the way.
        os.mkdir(os.path.join(server.dir, "dump-0002-of-0002.rdb.partial"))
        with RawClient(server.port) as c:
            assert c.call("SET", KEY0, "1") == b"OK"
            assert c.call("SHUTDOWN", "SAVE") == "ERR Errors trying to SHUTDOWN. Check logs."
            assert c.call("SHUTDOWN", "save", "NOW") == "ERR Errors trying to SHUTDOWN. Check logs."
            assert c.call("GET", KEY0) == b"1"
        assert "Error trying to save the DB, can't exit" in server.log()
        assert children(server) == kids
    finally:
        server.stop()


@pytest.mark.parametrize("args", [
    ("ABORT",), ("abort", "ABORT"), ("NOSAVE", "SAVE"), ("save", "nosave", "now"),
    ("foo",), ("NOW", "foo"), ("ABORT", "NOW"), ("ABORT", "NOSAVE"), ("FORCE", "ABORT"),
    ("NOW", "NOW", "x"),
], ids=" ".join)
def test_shutdown_errors_match_redis(diff, args):
    assert isinstance(diff.run("SHUTDOWN", *args), Err)


def test_command_info_matches_redis(diff):
    diff.run("COMMAND", "INFO", "shutdown")
