"""Snapshots with real processes: SAVE/BGSAVE through the proxy, restart with
another shard count, the point-in-time cut under concurrent writes, kill -9
during a BGSAVE, SHUTDOWN SAVE/NOSAVE, the schedule, MISCONF, and the shard
files as redis-server and redis-check-rdb see them."""

from __future__ import annotations

import json
import os
import re
import signal
import threading
import time

import pytest

from cluster.slots import key_slot
from shardnode.rdb.file import RdbAux, RdbKey, read_rdb
from shardnode.snapshots import COMMIT_STEPS, CRASH_AT_ENV
from tests.differential.test_rdb_files import (
    DBS,
    _check_rdb,
    _damselfly_with,
    _populate,
    _redis_loading,
    _snapshot,
)
from tests.helpers import DamselflyProcess, Err, RawClient, names_on_shard


def _files(directory) -> dict:
    """The snapshot's files in ``directory``: name -> bytes."""
    return {name: open(os.path.join(directory, name), "rb").read()
            for name in os.listdir(directory)
            if name.startswith("dump") and (name.endswith(".rdb") or name.endswith(".json"))}


def _info(c, section="persistence") -> dict:
    text = c.call("INFO", section).decode()
    return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)


def _wait(predicate, timeout=20.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


def _err(reply):
    return reply if isinstance(reply, Err) else None


def _wait_bgsave_done(c):
    _wait(lambda: _info(c)["rdb_bgsave_in_progress"] == "0", what="the BGSAVE")


def _fill(c, n, prefix="fill:", size=20):
    value = "x" * size
    for start in range(0, n, 1000):
        args = []
        for i in range(start, min(n, start + 1000)):
            args += ["%s%d" % (prefix, i), value]
        c.call("MSET", *args)


# -- round trip and shard counts --------------------------------------------------


def test_save_then_restart_with_other_shard_counts_loads_the_same_data():
    with DamselflyProcess(shards=2) as proc:
        with RawClient(proc.port) as c:
            for db in DBS:
                _populate(c, db)
            expected = _snapshot(c)
            before = c.call("LASTSAVE")
            time.sleep(1.0)
            assert c.call("SAVE") == b"OK"
            assert c.call("LASTSAVE") > before
            info = _info(c)
            assert info["rdb_last_bgsave_status"] == "ok"
            assert info["rdb_changes_since_last_save"] == "0"
        files = _files(proc.dir)
    assert sorted(files) == ["dump-0001-of-0002.rdb", "dump-0002-of-0002.rdb",
                             "dump.snapshot.json"]
    summary = json.loads(files["dump.snapshot.json"])
    assert summary["shards"] == 2 and len(summary["files"]) == 2
    for shards in (1, 4):
        with _damselfly_with(files, shards=shards) as proc, RawClient(proc.port) as c:
            assert _snapshot(c) == expected


def test_bgsave_replies_as_redis_and_loads_back():
    with DamselflyProcess(shards=2) as proc:
        with RawClient(proc.port) as c:
            _fill(c, 20000)
            assert c.call("BGSAVE") == b"Background saving started"
            started = _info(c)
            if started["rdb_bgsave_in_progress"] == "1":
                assert c.call("BGSAVE") == Err("ERR Background save already in progress")
            _wait_bgsave_done(c)
            assert c.call("BGSAVE", "x") == Err("ERR syntax error")
            assert c.call("BGSAVE", "SCHEDULE") == b"Background saving started"
            _wait_bgsave_done(c)
            assert int(_info(c)["rdb_saves"]) == 2
        files = _files(proc.dir)
    with _damselfly_with(files, shards=3) as proc, RawClient(proc.port) as c:
        assert c.call("DBSIZE") == 20000


def test_bgsave_while_one_shard_still_saves_starts_no_part_anywhere():
    """A BGSAVE that one shard refuses (still writing the last snapshot) starts
    on no shard: a part of a snapshot that can never be complete would be
    work and a file for nothing.  The shards agree first, then all start."""
    with DamselflyProcess(shards=2) as proc:
        names = names_on_shard(1, 60000, prefix="slow:")
        with RawClient(proc.shard_ports[1]) as c1:
            for start in range(0, len(names), 1000):
                args = []
                for name in names[start:start + 1000]:
                    args += [name, "v" * 100]
                assert c1.call("MSET", *args) == b"OK"
        stop = threading.Event()

        def keep_shard_1_serving():  # so its save takes the resting pace
            with RawClient(proc.shard_ports[1]) as busy:
                while not stop.is_set():
                    busy.call("GET", names[0])

        thread = threading.Thread(target=keep_shard_1_serving)
        thread.start()
        try:
            with RawClient(proc.port) as c, RawClient(proc.shard_ports[0]) as c0, \
                    RawClient(proc.shard_ports[1]) as c1:
                assert c.call("BGSAVE") == b"Background saving started"
                _wait(lambda: _info(c0)["rdb_saves"] == "1", what="shard 0's save")
                assert _info(c1)["rdb_bgsave_in_progress"] == "1", "shard 1 saved too fast"
                assert c.call("BGSAVE") == Err("ERR Background save already in progress")
                stop.set()
                _wait(lambda: _info(c1)["rdb_saves"] == "1", what="shard 1's save")
                assert _info(c0)["rdb_bgsave_in_progress"] == "0"
                assert _info(c0)["rdb_saves"] == "1"  # the refused BGSAVE started nothing
                # and the shard that refused holds nothing back: the next one runs
                assert c.call("BGSAVE") == b"Background saving started"
                _wait(lambda: _info(c0)["rdb_saves"] == "2" and _info(c1)["rdb_saves"] == "2",
                      what="the next save")
        finally:
            stop.set()
            thread.join(10)
        leftovers = [n for n in os.listdir(proc.dir)
                     if n.endswith((".partial", ".ready", ".tmp", ".commit"))]
        assert leftovers == [], leftovers


def test_bgsave_inside_multi_is_scheduled_after_the_transaction():
    """BGSAVE queued in MULTI answers "Background saving scheduled" in EXEC, as
    Redis; the save starts once the transaction is done, so it holds the
    transaction's writes after the BGSAVE too."""
    with DamselflyProcess(shards=2) as proc:
        with RawClient(proc.port) as c:
            started = c.call("LASTSAVE")
            time.sleep(1.1)  # LASTSAVE counts seconds
            assert c.call("MULTI") == b"OK"
            for command in (("SET", "before", "1"), ("BGSAVE",), ("SET", "after:{x}", "2"),
                            ("SET", "after:{y}", "3")):
                assert c.call(*command) == b"QUEUED"
            assert c.call("EXEC") == [b"OK", b"Background saving scheduled", b"OK", b"OK"]
            # LASTSAVE moves once every shard's save is done, the commit included
            _wait(lambda: c.call("LASTSAVE") > started, what="the scheduled save")
            assert c.call("MULTI") == b"OK"
            assert c.call("SAVE") == Err("ERR Command not allowed inside a transaction")
            assert c.call("EXEC") == Err("EXECABORT Transaction discarded because of previous "
                                         "errors.")
        files = _files(proc.dir)
    with _damselfly_with(files, shards=2) as proc, RawClient(proc.port) as c:
        assert sorted(c.call("KEYS", "*")) == [b"after:{x}", b"after:{y}", b"before"]


# -- point in time -----------------------------------------------------------------


N_COUNTERS = 64


@pytest.mark.exclusive
def test_bgsave_is_a_point_in_time_cut_under_concurrent_writes():
    """One writer runs steps in a fixed order: step s bumps counter k = s mod N
    (INCR {k}c, then RPUSH {k}l with the new value).  Each shard's file must
    hold a prefix of that sequence restricted to its keys: a write is in the
    file only if every earlier write to that shard is.  And every write
    acknowledged before BGSAVE was sent is in; none sent after its reply."""
    with DamselflyProcess(shards=2) as proc:
        with RawClient(proc.port) as c:
            _fill(c, 150000)  # a save long enough to run beside the writer
        stop = threading.Event()
        acked = []  # (time acknowledged, step)
        sent = []  # (time sent, step)

        def writer():
            with RawClient(proc.port) as w:
                step = 0
                while not stop.is_set():
                    k = step % N_COUNTERS
                    sent.append((time.monotonic(), step))
                    value = w.call("INCR", "{%d}c" % k)
                    w.call("RPUSH", "{%d}l" % k, value)
                    acked.append((time.monotonic(), step))
                    step += 1

        thread = threading.Thread(target=writer)
        thread.start()
        try:
            _wait(lambda: len(acked) > 2 * N_COUNTERS, what="the writer")
            with RawClient(proc.port) as c:
                t_sent = time.monotonic()
                assert c.call("BGSAVE") == b"Background saving started"
                t_reply = time.monotonic()
                _wait_bgsave_done(c)
                t_done = time.monotonic()
            time.sleep(0.2)
        finally:
            stop.set()
            thread.join()
        files = _files(proc.dir)
        # The writer ran while the shards saved, and its writes met unsaved buckets.
        assert sum(1 for t, _ in acked if t_reply < t < t_done) > 20
        assert "saved on disk: 0 keys" not in proc.log()
        ahead = [re.search(r"; (\d+) keys serialised ahead by writes, (\d+) bytes waiting", line)
                 for line in proc.log().splitlines() if "DB saved on disk" in line]
        assert ahead and all(ahead)
        assert max(int(m.group(1)) for m in ahead) > 0
        assert max(int(m.group(2)) for m in ahead) > 0
    for name, data in files.items():
        if not name.endswith(".rdb"):
            continue
        counters, lists = {}, {}
        for record in read_rdb(data):
            if type(record) is RdbKey and record.key.startswith(b"{"):
                k = int(record.key[1:record.key.index(b"}")])
                if record.key.endswith(b"c"):
                    counters[k] = int(record.value)
                else:
                    lists[k] = [int(x) for x in record.value]  # a List is a deque
        assert counters, name
        included, excluded = [], []
        for k in counters.keys() | lists.keys():
            v = counters.get(k, 0)
            items = lists.get(k, [])
            assert items == list(range(1, len(items) + 1))
            assert len(items) in (v, v - 1)  # the cut may fall between INCR and RPUSH
            # Step s (= (m-1)*N + k for the m-th bump of k) as events 2s (INCR), 2s+1 (RPUSH).
            for m in range(1, v + 1):
                included.append(2 * ((m - 1) * N_COUNTERS + k))
            for m in range(1, len(items) + 1):
                included.append(2 * ((m - 1) * N_COUNTERS + k) + 1)
            excluded.append(2 * (v * N_COUNTERS + k))  # the next INCR of k
            if len(items) == v:
                excluded.append(2 * (v * N_COUNTERS + k) + 1)
            else:
                excluded.append(2 * ((v - 1) * N_COUNTERS + k) + 1)
        assert max(included) < min(excluded), name  # a prefix: one cut per shard
        shard_keys = {k for k in counters}
        acked_before = [s for t, s in acked if t < t_sent and s % N_COUNTERS in shard_keys]
        sent_after = [s for t, s in sent if t > t_reply and s % N_COUNTERS in shard_keys]
        if acked_before:
            assert 2 * max(acked_before) + 1 in set(included), name
        if sent_after:
            assert 2 * min(sent_after) not in set(included), name


# -- crashes, shutdown, schedule -----------------------------------------------------


def test_kill_9_during_bgsave_leaves_the_previous_snapshot_loadable():
    with DamselflyProcess(shards=2) as proc:
        with RawClient(proc.port) as c:
            _fill(c, 1000, prefix="old:")
            assert c.call("SAVE") == b"OK"
            good = _files(proc.dir)
            _fill(c, 200000, prefix="new:")
            assert c.call("BGSAVE") == b"Background saving started"
            assert _info(c)["rdb_bgsave_in_progress"] == "1"
            # Killed at once: a save of 100k keys a shard now ends within ~0.2 s.
        os.killpg(proc.proc.pid, signal.SIGKILL)
        proc.proc.wait()
        after = _files(proc.dir)
        leftovers = [n for n in os.listdir(proc.dir) if n.endswith((".partial", ".ready"))]
    assert after == good  # nothing of the interrupted save replaced a file
    assert leftovers  # it was interrupted mid-way
    with _damselfly_with(after, shards=2) as proc2, RawClient(proc2.port) as c:
        assert c.call("DBSIZE") == 1000


def _all_files(directory) -> dict:
    """Every file of the snapshot's name in ``directory``, half-committed ones too."""
    return {name: open(os.path.join(directory, name), "rb").read()
            for name in os.listdir(directory) if name.startswith("dump")}


@pytest.mark.parametrize("step", COMMIT_STEPS)
def test_kill_9_at_each_step_of_the_commit_leaves_one_whole_snapshot(step, monkeypatch):
    """The committing shard stops itself at ``step`` (a test hook), the whole
    server is killed -9 there, and a new start loads the previous snapshot
    (a crash before the summary names the new files) or the new one (after),
    never a mix and never nothing."""
    with DamselflyProcess(shards=2) as proc:
        with RawClient(proc.port) as c:
            _fill(c, 3000, prefix="old:")
            assert c.call("SAVE") == b"OK"
        previous = _files(proc.dir)
    monkeypatch.setenv(CRASH_AT_ENV, step)
    with _damselfly_with(previous, shards=2) as proc:
        with RawClient(proc.port) as c:
            assert c.call("DBSIZE") == 3000
            _fill(c, 2000, prefix="new:")
            assert c.call("BGSAVE") == b"Background saving started"
        _wait(lambda: "%s=%s: stopping the commit" % (CRASH_AT_ENV, step) in proc.log(), what="the hook")
        os.killpg(proc.proc.pid, signal.SIGKILL)
        proc.proc.wait()
        left = _all_files(proc.dir)
    monkeypatch.delenv(CRASH_AT_ENV)
    committed = COMMIT_STEPS.index(step) >= COMMIT_STEPS.index("committed")
    if step != "renamed-all":
        assert any(name.endswith(".ready") for name in left)  # cut short
    with _damselfly_with(left, shards=2) as proc, RawClient(proc.port) as c:
        assert c.call("DBSIZE") == (5000 if committed else 3000)
        assert c.call("EXISTS", "new:1999") == (1 if committed else 0)
        assert c.call("GET", "old:2999") == b"x" * 20
        assert c.call("BGSAVE") == b"Background saving started"  # and saving goes on
        _wait_bgsave_done(c)
        assert _info(c)["rdb_last_bgsave_status"] == "ok"
        assert not [n for n in os.listdir(proc.dir) if n.endswith((".ready", ".partial"))]


def _exit_code(proc, timeout=30.0):
    return proc.proc.wait(timeout)


def test_shutdown_save_and_nosave():
    with DamselflyProcess(shards=2) as proc:
        with RawClient(proc.port) as c:
            c.call("SET", "kept", "1")
            with pytest.raises((ConnectionError, OSError, EOFError)):
                c.call("SHUTDOWN", "SAVE")
                c.call("PING")
        _exit_code(proc)
        files = _files(proc.dir)
    assert "dump.snapshot.json" in files
    with _damselfly_with(files, shards=2, save="3600 1") as proc, RawClient(proc.port) as c:
        assert c.call("GET", "kept") == b"1"
        c.call("SET", "not-kept", "1")
        with pytest.raises((ConnectionError, OSError, EOFError)):
            c.call("SHUTDOWN", "NOSAVE")
            c.call("PING")
        _exit_code(proc)
        assert _files(proc.dir) == files


def test_sigterm_saves_when_a_schedule_is_set():
    with DamselflyProcess(shards=2, save="3600 1") as proc:
        with RawClient(proc.port) as c:
            c.call("SET", "on-term", "yes")
        proc.proc.send_signal(signal.SIGTERM)
        _exit_code(proc)
        files = _files(proc.dir)
        assert "saving the final snapshot" in proc.log()
    with _damselfly_with(files, shards=1) as proc, RawClient(proc.port) as c:
        assert c.call("GET", "on-term") == b"yes"


def test_shard_shutdown_save_saves_every_shard():
    with DamselflyProcess(shards=2) as proc:
        with RawClient(proc.port) as c:
            c.call("SET", "{a}x", "1")
            c.call("SET", "{b}x", "2")
        with RawClient(proc.shard_ports[1]) as shard:
            with pytest.raises((ConnectionError, OSError, EOFError)):
                shard.call("SHUTDOWN", "SAVE")
                shard.call("PING")
        _exit_code(proc)
        files = _files(proc.dir)
    with _damselfly_with(files, shards=2) as proc, RawClient(proc.port) as c:
        assert c.call("MGET", "{a}x", "{b}x") == [b"1", b"2"]


def test_save_schedule_and_cron_trigger_a_bgsave():
    with DamselflyProcess(shards=2, save="1 1") as proc:
        with RawClient(proc.port) as c:
            first = c.call("LASTSAVE")
            time.sleep(1.1)
            c.call("SET", "a", "1")
            _wait(lambda: c.call("LASTSAVE") > first, what="the scheduled save")
            assert os.path.exists(os.path.join(proc.dir, "dump.snapshot.json"))
            assert c.call("CONFIG", "SET", "save", "") == b"OK"
            assert c.call("CONFIG", "SET", "snapshot_cron", "* * * * *") == b"OK"
            assert c.call("CONFIG", "SET", "snapshot_cron", "61 * * * *") == Err(
                "ERR CONFIG SET failed (possibly related to argument 'snapshot_cron') - "
                "snapshot_cron: '61' is outside 0-59 in the minute field")
            saves = int(_info(c)["rdb_saves"])
            # The next minute boundary fires it (at most ~61 s away).
            _wait(lambda: int(_info(c)["rdb_saves"]) > saves, timeout=75, what="the cron save")


# -- errors ------------------------------------------------------------------------


def test_unwritable_dir_fails_the_save_misconf_until_a_save_succeeds():
    with DamselflyProcess(shards=2, save="3600 1") as proc:
        with RawClient(proc.port) as c:
            c.call("SET", "a", "1")
            assert c.call("SAVE") == b"OK"
            good = _files(proc.dir)
            assert c.call("CONFIG", "SET", "dir", os.path.join(proc.dir, "none")) == Err(
                "ERR CONFIG SET failed (possibly related to argument 'dir') - "
                "No such file or directory")
            # Shard 2's file cannot be created: a directory is in the way (the
            # tests run as root, whom permissions do not stop).
            blocker = os.path.join(proc.dir, "dump-0002-of-0002.rdb.partial")
            os.mkdir(blocker)
            assert c.call("BGSAVE") == b"Background saving started"
            _wait(lambda: _info(c)["rdb_last_bgsave_status"] == "err", what="the failure")
            # Every shard refuses writes, not only the one that failed ("b" is on shard 1).
            misconf = _wait(lambda: _err(c.call("SET", "b", "2")), what="MISCONF")
            assert misconf.startswith("MISCONF Redis is configured to save RDB snapshots")
            # PING answers it too, as in Redis: the proxy's and a shard's own
            _wait(lambda: c.call("PING") == misconf, what="PING's MISCONF")
            with RawClient(proc.shard_ports[0]) as shard:
                assert shard.call("PING") == misconf
            assert c.call("GET", "a") == b"1"  # reads go on
            assert c.call("SAVE") == Err("ERR")
            assert "Background saving error" in proc.log()
            assert _files(proc.dir) == good
            # Without a schedule the failure no longer stops writes, as in Redis.
            assert c.call("CONFIG", "SET", "save", "") == b"OK"
            assert c.call("SET", "b", "2") == b"OK"
            _wait(lambda: c.call("PING") == b"PONG", what="PONG")
            assert c.call("CONFIG", "SET", "save", "3600 1") == b"OK"
            assert isinstance(c.call("SET", "b", "3"), Err)
            os.rmdir(blocker)
            assert c.call("BGSAVE") == b"Background saving started"
            _wait(lambda: _info(c)["rdb_last_bgsave_status"] == "ok", what="the recovery")
            _wait(lambda: c.call("SET", "b", "3") == b"OK", what="writes again")
            _wait(lambda: c.call("PING") == b"PONG", what="PONG again")


def test_full_disk_fails_the_save_and_keeps_the_previous_files(tmp_path):
    """/dev/full answers every write with ENOSPC: a dir whose partial file is
    a symlink to it behaves like a full disk for that file."""
    with DamselflyProcess(shards=1, save="3600 1") as proc:
        with RawClient(proc.port) as c:
            c.call("SET", "a", "1")
            assert c.call("SAVE") == b"OK"
            good = _files(proc.dir)
            _fill(c, 20000)
            os.symlink("/dev/full", os.path.join(proc.dir, "dump-0001-of-0001.rdb.partial"))
            assert c.call("SAVE") == Err("ERR")
            assert _info(c)["rdb_last_bgsave_status"] == "err"
            assert "No space left on device" in proc.log()
            assert _files(proc.dir) == good


# -- what Redis makes of the files -----------------------------------------------------


def test_each_shard_file_is_accepted_by_redis_check_rdb_and_loads_into_redis(tmp_path):
    with DamselflyProcess(shards=2) as proc:
        with RawClient(proc.port) as c:
            for db in DBS:
                _populate(c, db)
            expected = _snapshot(c)
            assert c.call("SAVE") == b"OK"
        files = _files(proc.dir)
    loaded = {}
    for name in ("dump-0001-of-0002.rdb", "dump-0002-of-0002.rdb"):
        path = tmp_path / name
        path.write_bytes(files[name])
        _check_rdb(path)
        aux = {r.name: r.value for r in read_rdb(files[name]) if type(r) is RdbAux}
        assert aux[b"df-shards"] == b"2"
        ref = _redis_loading(path)
        try:
            with RawClient(ref.port) as c:
                part = _snapshot(c)
        finally:
            ref.stop()
        shard = int(aux[b"df-shard"])
        assert all((key_slot(key) < 8192) == (shard == 0) for _, key in part)
        loaded.update(part)
    # Encodings may differ where Redis re-encodes on load; the data may not.
    assert {k: (v[0], v[2], v[3]) for k, v in loaded.items()} == \
        {k: (v[0], v[2], v[3]) for k, v in expected.items()}


def test_debug_reload_keeps_every_value():
    with DamselflyProcess(shards=2) as proc, RawClient(proc.port) as c:
        for db in DBS:
            _populate(c, db)
        expected = _snapshot(c)
        assert c.call("DEBUG", "RELOAD") == b"OK"
        assert _snapshot(c) == expected
        assert not [n for n in os.listdir(proc.dir) if n.endswith(".rdb")]


def test_a_shard_port_refuses_save_when_it_is_not_the_whole_server():
    with DamselflyProcess(shards=2) as proc, RawClient(proc.shard_ports[0]) as shard:
        reply = shard.call("BGSAVE")
        assert isinstance(reply, Err) and "one shard of 2" in reply
        assert isinstance(shard.call("LASTSAVE"), int)
