"""Which files a starting shard loads (shardnode/rdb/snapshot.py), and the
loading itself into a keyspace, on files in a temporary directory."""

import io
import json

import pytest

from shardnode.db import Keyspace
from shardnode.rdb.file import AUX_SNAPSHOT, RdbFileWriter
from shardnode.rdb.snapshot import (
    LoadProgress, SnapshotError, find_snapshot, load_files, shard_file_name,
    summary_file_name, summary_json)
from shardnode.registry import load_families

load_families()


def _rdb(keys, snapshot_id=None, functions=()):
    out = io.BytesIO()
    writer = RdbFileWriter(out)
    writer.write_header(aux={AUX_SNAPSHOT: snapshot_id.encode()} if snapshot_id else None)
    for code in functions:
        writer.write_function(code)
    writer.select_db(0, len(keys), 0)
    for key, value, expire in keys:
        writer.write_key(key, value, expire)
    writer.finish()
    return out.getvalue()


def _snapshot(tmp_path, parts, snapshot_id="s1", summary=True):
    listed = []
    for shard, keys in enumerate(parts):
        data = _rdb(keys, snapshot_id)
        name = shard_file_name("dump.rdb", shard, len(parts))
        (tmp_path / name).write_bytes(data)
        listed.append((name, shard, len(data), int.from_bytes(data[-8:], "little")))
    if summary:
        (tmp_path / "dump.snapshot.json").write_bytes(summary_json(snapshot_id, 1, listed))


def test_names():
    assert shard_file_name("dump.rdb", 0, 4) == "dump-0001-of-0004.rdb"
    assert shard_file_name("snap", 11, 12) == "snap-0012-of-0012.rdb"
    assert summary_file_name("dump.rdb") == "dump.snapshot.json"


def test_summary_format(tmp_path):
    doc = json.loads(summary_json("abc", 123, [("dump-0001-of-0001.rdb", 0, 99, 0xABC)]))
    assert doc == {"format": "damselfly-snapshot", "version": 1, "snapshot_id": "abc",
                   "created_ms": 123, "shards": 1, "rdb_version": 10,
                   "files": [{"name": "dump-0001-of-0001.rdb", "shard": 0, "size": 99,
                              "crc64": "0000000000000abc"}]}


def test_nothing_to_load(tmp_path):
    assert find_snapshot(str(tmp_path), "dump.rdb") is None
    assert find_snapshot(str(tmp_path / "missing"), "dump.rdb") is None


def test_shard_files_win_over_a_redis_dump(tmp_path):
    (tmp_path / "dump.rdb").write_bytes(_rdb([(b"r", b"1", None)]))
    assert find_snapshot(str(tmp_path), "dump.rdb").kind == "redis"
    _snapshot(tmp_path, [[(b"a", b"1", None)], [(b"b", b"2", None)]])
    found = find_snapshot(str(tmp_path), "dump.rdb")
    assert found.kind == "snapshot" and found.snapshot_id == "s1"
    assert [p.rsplit("/", 1)[1] for p in found.paths] == ["dump-0001-of-0002.rdb",
                                                          "dump-0002-of-0002.rdb"]


def test_a_complete_set_without_summary_loads(tmp_path):
    _snapshot(tmp_path, [[], [], []], summary=False)
    assert len(find_snapshot(str(tmp_path), "dump.rdb").paths) == 3
    (tmp_path / shard_file_name("dump.rdb", 0, 2)).write_bytes(_rdb([]))
    with pytest.raises(SnapshotError, match=r"found 1 of 2, 3 of 3"):
        find_snapshot(str(tmp_path), "dump.rdb")


@pytest.mark.parametrize("text,reason", [
    (b"{", "cannot read the snapshot summary"),
    (b'{"format": "other", "version": 1}', "not a version 1 damselfly-snapshot summary"),
    (b'{"format": "damselfly-snapshot", "version": 1, "snapshot_id": "x", "shards": 2,'
     b' "files": [{"name": "a", "shard": 0, "size": 1, "crc64": "0"}]}', "does not cover"),
])
def test_a_bad_summary_is_an_error_naming_it(tmp_path, text, reason):
    (tmp_path / "dump.snapshot.json").write_bytes(text)
    with pytest.raises(SnapshotError, match=reason) as info:
        find_snapshot(str(tmp_path), "dump.rdb")
    assert "dump.snapshot.json" in str(info.value)


def test_load_keeps_own_slots_drops_expired_and_collects_functions(tmp_path):
    keys = [(b"k%d" % i, b"v%d" % i, None) for i in range(100)]
    keys += [(b"old", b"x", 1000), (b"later", b"y", 10**13)]
    (tmp_path / "dump.rdb").write_bytes(_rdb(keys, functions=[b"#!lua name=x\n"]))
    from cluster.slots import key_slot

    keyspace = Keyspace(16)
    functions = []
    progress = LoadProgress()
    steps = load_files(find_snapshot(str(tmp_path), "dump.rdb"), keyspace,
                       lambda slot: slot < 8192, None, progress, functions, now_ms=10**12)
    list(steps)
    db = keyspace.dbs[0]
    mine = {k for k, _, _ in keys if key_slot(k) < 8192 and k != b"old"}
    assert {k for bucket in db.slots.values() for k in bucket} == mine
    assert progress.keys_read == 102 and progress.expired_skipped == 1
    assert progress.keys_loaded == len(mine) and progress.loaded_bytes == progress.total_bytes
    if b"later" in mine:
        assert db.expires[b"later"] == 10**13
    assert functions == [b"#!lua name=x\n"]


def test_load_errors_name_the_file(tmp_path):
    _snapshot(tmp_path, [[(b"a", b"1", None)], [(b"a", b"2", None)]])
    found = find_snapshot(str(tmp_path), "dump.rdb")
    with pytest.raises(SnapshotError, match="dump-0002-of-0002.rdb: key b'a' of db 0 is also"):
        list(load_files(found, Keyspace(16), lambda slot: True, None, LoadProgress(), []))
    found = found.__class__(found.paths, "another-id", "snapshot")
    with pytest.raises(SnapshotError, match="dump-0001-of-0002.rdb: belongs to snapshot s1"):
        list(load_files(found, Keyspace(16), lambda slot: True, None, LoadProgress(), []))
    with pytest.raises(SnapshotError, match="dump-0001-of-0002.rdb: key b'a' is in db 0, but"):
        list(load_files(found.__class__(found.paths, None, "x"), Keyspace(0),
                        lambda slot: True, None, LoadProgress(), []))


def test_shard_files_of_slots_a_shard_does_not_own_are_not_read(tmp_path):
    """Restarting with the same shard count, each shard reads its own file only."""
    from cluster.slots import key_slot, split_slots

    ranges = split_slots(2)
    names = [b"k%d" % i for i in range(200)]
    parts = [[(k, b"v", None) for k in names if ranges[n][0] <= key_slot(k) <= ranges[n][1]]
             for n in range(2)]
    _snapshot(tmp_path, parts)
    for shard in range(2):
        keyspace = Keyspace(16)
        progress = LoadProgress()
        owns = (lambda n: lambda slot: ranges[n][0] <= slot <= ranges[n][1])(shard)
        list(load_files(find_snapshot(str(tmp_path), "dump.rdb"), keyspace, owns, None,
                        progress, []))
        assert progress.keys_read == progress.keys_loaded == len(parts[shard])
        assert progress.loaded_bytes == progress.total_bytes
    # a server of one shard owns every slot: it reads both files
    progress = LoadProgress()
    list(load_files(find_snapshot(str(tmp_path), "dump.rdb"), Keyspace(16), lambda slot: True,
                    None, progress, []))
    assert progress.keys_loaded == 200


def test_a_commit_cut_short_after_the_summary_is_rolled_forward(tmp_path):
    """The summary names snapshot s2 (the commit point passed) but one of its
    files is still ``.s2.ready`` beside s1's file of that name: find_snapshot
    renames it into place first, so s2 loads whole."""
    _snapshot(tmp_path, [[(b"old", b"1", None)], [(b"old2", b"1", None)]], "s1")
    old_second = (tmp_path / "dump-0002-of-0002.rdb").read_bytes()
    _snapshot(tmp_path, [[(b"new", b"2", None)], [(b"new2", b"2", None)]], "s2")
    second = tmp_path / "dump-0002-of-0002.rdb"
    second.rename(str(second) + ".s2.ready")
    second.write_bytes(old_second)
    files = find_snapshot(str(tmp_path), "dump.rdb")
    assert files.snapshot_id == "s2"
    assert not list(tmp_path.glob("*.ready"))
    ks = Keyspace(16)
    for _ in load_files(files, ks, lambda slot: True, None, LoadProgress(), []):
        pass
    assert sorted(k for bucket in ks.dbs[0].slots.values() for k in bucket) == [b"new", b"new2"]
