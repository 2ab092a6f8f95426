"""The supervisor keeps the cluster alive and takes all of it down: signals
stop every process quickly, a killed shard or proxy worker comes back while
clients get errors (never a hang), and nothing outlives a killed supervisor."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from cluster.supervisor import Child, restart_delay
from tests.helpers import ROOT, DamselflyProcess, Err, RawClient, free_port_block

# "bar" is on shard 0 and "foo" on shard 1 of a 2-shard server.
KEY0, KEY1 = b"bar", b"foo"


def alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def wait_gone(pids, timeout: float) -> list:
    deadline = time.monotonic() + timeout
    left = [p for p in pids if alive(p)]
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = [p for p in left if alive(p)]
    return left


def group_members(pgid: int) -> list:
    """Live processes in the server's process group (its session leader's
    group holds the supervisor and everything it started)."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/stat" % entry) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                out.append(int(entry))
    return out


def wait_group_empty(pgid: int, timeout: float) -> list:
    deadline = time.monotonic() + timeout
    left = group_members(pgid)
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = group_members(pgid)
    return left


def children(server: DamselflyProcess) -> dict:
    """{"shard 0": pid, "shard 1": pid, "proxy 0": pid, ...}"""
    out = {}
    for pid in server.child_pids():
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                argv = f.read().split(b"\0")
        except FileNotFoundError:
            continue
        if b"shardnode" in argv:
            out["shard %s" % argv[argv.index(b"--index") + 1].decode()] = pid
        elif b"proxy" in argv:
            out["proxy %s" % argv[argv.index(b"--worker") + 1].decode()] = pid
    return out


def wait_new_child(server, label: str, old_pid: int, timeout: float) -> int | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid = children(server).get(label)
        if pid is not None and pid != old_pid:
            return pid
        time.sleep(0.02)
    return None


def wait_answer(port: int, key: bytes, timeout: float):
    """Retry GET until it is not an error; every attempt must answer fast."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            with RawClient(port, timeout=3) as c:
                last = c.call("GET", key)
                if not isinstance(last, Err):
                    return last
        except (ConnectionError, OSError) as exc:
            last = exc
        time.sleep(0.05)
    raise AssertionError("no answer for %r within %ss: %r" % (key, timeout, last))


@pytest.mark.parametrize("signum,group", [
    (signal.SIGTERM, False),
    (signal.SIGINT, False),
    (signal.SIGINT, True),  # Ctrl-C in a terminal: every process gets it at once
])
def test_signal_stops_everything_quickly(signum, group):
    server = DamselflyProcess(shards=2, proxy_workers=2).start()
    try:
        kids = children(server)
        assert sorted(kids) == ["proxy 0", "proxy 1", "shard 0", "shard 1"]
        with RawClient(server.port) as c:  # a client connected at the time
            assert c.call("SET", KEY0, "1") == b"OK"
            start = time.monotonic()
            if group:
                os.killpg(server.proc.pid, signum)
            else:
                server.proc.send_signal(signum)
            server.proc.wait(5)
            took = time.monotonic() - start
        log = server.log()
        assert wait_gone(list(kids.values()), 0.5) == [], log
        # Nothing was restarted on the way out either.
        assert wait_group_empty(server.proc.pid, 0.5) == [], log
        assert "restarting" not in log, log
        assert took < 5, (took, log)
        assert server.proc.returncode == 0
    finally:
        server.stop()


def test_sigterm_with_a_shard_busy_still_stops_within_5_seconds():
    """A shard stuck in a long command cannot run its signal handler: the
    supervisor's grace period ends and it is killed."""
    server = DamselflyProcess(shards=2).start()
    try:
        kids = list(children(server).values())
        busy = RawClient(server.port, timeout=15)
        busy.send_raw(b"*3\r\n$5\r\nDEBUG\r\n$5\r\nSLEEP\r\n$2\r\n30\r\n")
        time.sleep(0.3)
        start = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        server.proc.wait(10)
        assert time.monotonic() - start < 5
        assert wait_gone(kids, 0.5) == []
        assert wait_group_empty(server.proc.pid, 0.5) == []
        busy.close()
    finally:
        server.stop()


def test_killed_shard_is_restarted_and_clients_never_hang():
    with DamselflyProcess(shards=2) as server:
        with RawClient(server.port) as c:
            assert c.pipeline([("SET", KEY0, "zero"), ("SET", KEY1, "one")]) == [b"OK", b"OK"]
        old = children(server)["shard 1"]
        client = RawClient(server.port, timeout=3)  # a connection open across the crash
        try:
            os.kill(old, signal.SIGKILL)
            killed_at = time.monotonic()
            # Until the shard is back, its keys get an error at once; the other
            # shard's keys keep working.  A hang would raise socket.timeout.
            errors = 0
            while time.monotonic() - killed_at < 1.0:
                reply = client.call("GET", KEY1)
                if isinstance(reply, Err):
                    assert "unavailable" in reply or "CLUSTERDOWN" in reply, reply
                    errors += 1
                assert client.call("GET", KEY0) == b"zero"
                time.sleep(0.02)
            new = wait_new_child(server, "shard 1", old, 2.0 - (time.monotonic() - killed_at))
            assert new is not None, "shard 1 was not restarted within 2 seconds"
            # The restarted shard has no snapshot to load: the key is gone, and
            # the proxy's link has reconnected by itself.
            assert wait_answer(server.port, KEY1, 10) is None
            assert client.call("GET", KEY1) is None
            assert client.call("SET", KEY1, "again") == b"OK"
            assert client.call("GET", KEY0) == b"zero"
            assert errors > 0
        finally:
            client.close()
        assert "shard 1 exited" in server.log()


def test_killed_proxy_worker_is_restarted():
    with DamselflyProcess(shards=2) as server:
        with RawClient(server.port) as c:
            assert c.call("SET", KEY1, "kept") == b"OK"
        old = children(server)["proxy 0"]
        client = RawClient(server.port, timeout=3)
        os.kill(old, signal.SIGKILL)
        killed_at = time.monotonic()
        with pytest.raises((ConnectionError, OSError)):
            client.call("PING")  # its connection died with the worker
        client.close()
        new = wait_new_child(server, "proxy 0", old, 2.0 - (time.monotonic() - killed_at))
        assert new is not None, "proxy worker was not restarted within 2 seconds"
        # The shards kept their data; a new connection reaches it.
        assert wait_answer(server.port, KEY1, 10) == b"kept"
        assert "proxy 0 exited" in server.log()


def test_killed_supervisor_leaves_no_orphans():
    server = DamselflyProcess(shards=2, proxy_workers=2).start()
    try:
        kids = list(children(server).values())
        assert len(kids) == 4
        os.kill(server.proc.pid, signal.SIGKILL)
        server.proc.wait(5)
        # PR_SET_PDEATHSIG: each child is told when the supervisor dies.
        assert wait_gone(kids, 5) == []
        assert wait_group_empty(server.proc.pid, 1) == []
    finally:
        server.stop()


def test_restart_delay_policy():
    """Dying young doubles the delay (0.1 s up to 5 s); a long run resets it."""
    child = Child("shard", 0, [], 1)
    child.started_at = 100.0
    delays = [restart_delay(child, 100.5) for _ in range(8)]
    assert delays == [0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0]
    child.started_at = 200.0
    assert restart_delay(child, 260.0) == 0.0


def test_crash_looping_shard_backs_off_then_recovers():
    with DamselflyProcess(shards=2) as server:
        time.sleep(2.1)  # a shard that has run this long is restarted at once
        pid = children(server)["shard 0"]
        for _ in range(4):
            os.kill(pid, signal.SIGKILL)
            pid = wait_new_child(server, "shard 0", pid, 5)
            assert pid is not None
        log = server.log()
        assert "shard 0 exited with -9; restarting\n" in log
        for delay in ("0.1", "0.2", "0.4"):
            assert "shard 0 exited with -9; restarting in %ss" % delay in log
        assert wait_answer(server.port, KEY0, 10) is None


@pytest.mark.parametrize("taken,label", [(0, "proxy 0"), (1, "shard 0"), (2, "shard 1")])
def test_port_in_use_stops_start_up(taken, label):
    """A port held by someone else must not pass for a started child: the
    supervisor says which one failed, exits non-zero and leaves nothing."""
    base = free_port_block(3)
    holder = socket.socket()
    holder.bind(("127.0.0.1", base + taken))
    holder.listen(1)
    env = dict(os.environ, PYTHONPATH=ROOT)
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "cluster.cli", "--port", str(base), "--proactor_threads", "2",
             "--bind", "127.0.0.1", "--dir", ROOT],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env,
            start_new_session=True)
        try:
            _, err = proc.communicate(timeout=15)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        assert proc.returncode == 1
        assert err.splitlines()[-1] == "damselfly: %s did not start on port %d" % (
            label, base + taken)
        assert wait_group_empty(proc.pid, 5) == []
    finally:
        holder.close()
