"""A snapshot on disk: the shard files, the summary that ties them together,
and loading them into a shard's keyspace.

Names, from ``dbfilename`` (``dump.rdb`` by default), in ``dir``:

- ``dump-0001-of-0004.rdb`` .. ``dump-0004-of-0004.rdb``: one complete RDB
  file per shard (file *i* of *n*, counted from 1), each loadable by a real
  redis-server; its AUX fields ``df-shard``/``df-shards``/``df-snapshot``
  say which shard (from 0) of how many wrote it, in which snapshot;
- ``dump.snapshot.json``: the summary, written last, once every shard file
  of the snapshot is in place::

      {"format": "damselfly-snapshot", "version": 1,
       "snapshot_id": "<id>", "created_ms": <ms since the epoch>,
       "shards": 4, "rdb_version": 10,
       "files": [{"name": "dump-0001-of-0004.rdb", "shard": 0,
                  "size": <bytes>, "crc64": "<16 hex digits: the file's trailer>"},
                 ...]}

- ``dump.rdb``: a file written by redis-server, imported when no shard
  files exist (the migration path from Redis).

Which files a shard loads (:func:`find_snapshot`): the summary's, checked
against it (present, same size, same trailer), after finishing the renames
of a commit a crash cut short (:func:`roll_forward`); without a summary, a complete
set of shard files of one count; without shard files, ``dump.rdb``; with
none of these, nothing (an empty start).  Anything else (a summary that does
not parse or names a missing file, an incomplete set) is a
:class:`SnapshotError`: a server never starts empty when there is data it
could not read.

Every shard reads every file and keeps the keys of its own slots, so a
snapshot taken with 4 shards loads into 1, 2 or 8 (:func:`load_files`).
"""

from __future__ import annotations

import json
import mmap
import os
import re
import time
from dataclasses import dataclass

from cluster.slots import key_slot, split_slots
from shardnode.rdb.constants import RDB_VERSION
from shardnode.rdb.file import AUX_SNAPSHOT, RdbAux, RdbFileError, RdbFunction, RdbKey, read_rdb

SUMMARY_FORMAT = "damselfly-snapshot"
SUMMARY_VERSION = 1
_SUMMARY_SUFFIX = ".snapshot.json"
# How many keys a load step inserts before it reports progress (and the
# shard's event loop gets a turn).
LOAD_STEP_KEYS = 2000


class SnapshotError(Exception):
    """Data in ``dir`` that cannot be loaded; the message names the file."""


def _stem_ext(dbfilename: str):
    stem, ext = os.path.splitext(dbfilename)
    return stem, ext or ".rdb"


def shard_file_name(dbfilename: str, index: int, count: int) -> str:
    """Shard ``index`` (from 0) of ``count``: ``dump-0001-of-0004.rdb``."""
    stem, ext = _stem_ext(dbfilename)
    return "%s-%04d-of-%04d%s" % (stem, index + 1, count, ext)


def summary_file_name(dbfilename: str) -> str:
    return _stem_ext(dbfilename)[0] + _SUMMARY_SUFFIX


def summary_json(snapshot_id: str, created_ms: int, files: list) -> bytes:
    """The summary: ``files`` as (name, shard index, size, crc64) tuples."""
    doc = {
        "format": SUMMARY_FORMAT, "version": SUMMARY_VERSION,
        "snapshot_id": snapshot_id, "created_ms": created_ms,
        "shards": len(files), "rdb_version": RDB_VERSION,
        "files": [{"name": name, "shard": shard, "size": size, "crc64": "%016x" % crc}
                  for name, shard, size, crc in files],
    }
    return json.dumps(doc, indent=1).encode() + b"\n"


@dataclass(frozen=True)
class SnapshotFiles:
    """What to load: the paths, and the snapshot id their ``df-snapshot``
    AUX field must carry (None: not checked, e.g. a redis-server dump)."""
    paths: list
    snapshot_id: str | None
    kind: str  # "snapshot" (our shard files) or "redis" (a dump.rdb)


def _trailer(path: str) -> int:
    with open(path, "rb") as f:
        f.seek(-8, os.SEEK_END)
        return int.from_bytes(f.read(8), "little")


def _from_summary(directory: str, summary_path: str) -> SnapshotFiles:
    try:
        with open(summary_path, "rb") as f:
            doc = json.loads(f.read())
        if doc.get("format") != SUMMARY_FORMAT or doc.get("version") != SUMMARY_VERSION:
            raise ValueError("not a version %d %s summary" % (SUMMARY_VERSION, SUMMARY_FORMAT))
        files = doc["files"]
        snapshot_id = str(doc["snapshot_id"])
        if len(files) != doc["shards"] or sorted(f["shard"] for f in files) != list(
                range(len(files))):
            raise ValueError("its file list does not cover shards 0 to %d" % (doc["shards"] - 1))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SnapshotError("%s: cannot read the snapshot summary: %s" % (summary_path, exc)) from None
    paths = []
    for entry in sorted(files, key=lambda e: e["shard"]):  # shard order: see load_files
        path = os.path.join(directory, os.path.basename(entry["name"]))
        try:
            size = os.path.getsize(path)
            trailer = _trailer(path) if size >= 8 else None
        except OSError as exc:
            raise SnapshotError("%s: listed in %s but cannot be read: %s"
                                % (path, summary_path, exc.strerror)) from None
        if size != entry["size"]:
            raise SnapshotError("%s: %d bytes, but %s says %d (truncated or replaced)"
                                % (path, size, summary_path, entry["size"]))
        if trailer != int(entry["crc64"], 16):
            raise SnapshotError("%s: its checksum does not match %s (replaced or corrupt)"
                                % (path, summary_path))
        paths.append(path)
    return SnapshotFiles(paths, snapshot_id, "snapshot")


def ready_name(final: str, snapshot_id: str) -> str:
    """A shard file written and fsynced, waiting for its snapshot's commit."""
    return "%s.%s.ready" % (final, snapshot_id)


def fsync_dir(directory: str) -> None:
    """Make the renames and creations in ``directory`` durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def roll_forward(directory: str, dbfilename: str) -> None:
    """Finish a commit that a crash cut short: the summary is written (the
    snapshot is committed) but some of its files are still named
    ``<final>.<snapshot id>.ready`` (shardnode/snapshots.py); rename them
    into place.  Several shards may race here: a rename done by another
    is fine."""
    summary = os.path.join(directory, summary_file_name(dbfilename))
    try:
        with open(summary, "rb") as f:
            doc = json.loads(f.read())
        snapshot_id = str(doc["snapshot_id"])
        names = [os.path.basename(entry["name"]) for entry in doc["files"]]
    except (OSError, ValueError, KeyError, TypeError):
        return  # no summary, or one _from_summary will refuse with the reason
    renamed = False
    for name in names:
        final = os.path.join(directory, name)
        try:
            os.rename(ready_name(final, snapshot_id), final)
            renamed = True
        except FileNotFoundError:
            pass
    if renamed:
        fsync_dir(directory)


def find_snapshot(directory: str, dbfilename: str) -> SnapshotFiles | None:
    """The files a starting shard loads (see the module doc), or None."""
    summary = os.path.join(directory, summary_file_name(dbfilename))
    if os.path.exists(summary):
        roll_forward(directory, dbfilename)
        return _from_summary(directory, summary)
    stem, ext = _stem_ext(dbfilename)
    pattern = re.compile(re.escape(stem) + r"-(\d{4})-of-(\d{4})" + re.escape(ext) + r"\Z")
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise SnapshotError("%s: cannot list the directory: %s" % (directory, exc.strerror)) from None
    found: dict = {}  # count -> {number: name}
    for name in names:
        match = pattern.match(name)
        if match:
            found.setdefault(int(match.group(2)), {})[int(match.group(1))] = name
    if found:
        if len(found) == 1:
            count, files = next(iter(found.items()))
            if sorted(files) == list(range(1, count + 1)):
                return SnapshotFiles([os.path.join(directory, files[n]) for n in sorted(files)],
                                     None, "snapshot")
        described = ", ".join("%d of %d" % (len(files), count) for count, files in sorted(found.items()))
        raise SnapshotError("%s: shard files without a summary (%s) do not form one complete "
                            "snapshot (found %s); move the stray ones away"
                            % (directory, summary, described))
    dump = os.path.join(directory, dbfilename)
    if os.path.exists(dump):
        return SnapshotFiles([dump], None, "redis")
    return None


@dataclass
class LoadProgress:
    """What a load has done so far (INFO persistence's loading_* fields)."""
    total_bytes: int = 0
    loaded_bytes: int = 0  # of files finished, plus the current file's position
    keys_loaded: int = 0  # kept: this shard's slots, not expired
    keys_read: int = 0  # every key of every file
    expired_skipped: int = 0
    started: float = 0.0
    current_file: str = ""


def load_files(files: SnapshotFiles, keyspace, owns_slot, limits, progress: LoadProgress,
               functions: list, now_ms: int | None = None):
    """Load ``files`` into ``keyspace``: the keys whose slot ``owns_slot(slot)``
    says are ours, not expired at ``now_ms``, each with its TTL; function
    libraries (each once) are appended to ``functions``.  A generator: it
    yields every :data:`LOAD_STEP_KEYS` keys so the caller can serve the
    event loop and report ``progress``.  Raises :class:`SnapshotError`
    naming the file for anything unreadable."""
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    sizes = []
    for path in files.paths:
        try:
            sizes.append(os.path.getsize(path))
        except OSError as exc:
            raise SnapshotError("%s: %s" % (path, exc.strerror)) from None
    progress.total_bytes = sum(sizes)
    progress.started = progress.started or time.time()
    dbs = keyspace.dbs
    done_bytes = 0
    # Our own shard files hold the slots split_slots gave their shard: one
    # with none of ours is skipped unread (a restart with the same shard
    # count reads one file per shard, not every file).
    ranges = split_slots(len(files.paths)) if files.kind == "snapshot" else None
    for number, (path, size) in enumerate(zip(files.paths, sizes)):
        if ranges is not None and not any(
                owns_slot(slot) for slot in range(ranges[number][0], ranges[number][1] + 1)):
            done_bytes += size
            progress.loaded_bytes = done_bytes
            continue
        progress.current_file = path
        try:
            with open(path, "rb") as f:
                data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
        except OSError as exc:
            raise SnapshotError("%s: %s" % (path, exc.strerror)) from None
        try:
            step = kept = 0  # keys read and kept since the last progress report
            for record in read_rdb(data, limits, check_duplicates=False):
                if type(record) is RdbKey:
                    db_index, key, value, expire_ms = record[0], record[1], record[2], record[3]
                    if expire_ms is not None and expire_ms < now_ms:
                        progress.expired_skipped += 1
                    else:
                        slot = key_slot(key)
                        if owns_slot(slot):
                            if db_index >= len(dbs):
                                raise SnapshotError(
                                    "%s: key %r is in db %d, but this server has %d databases "
                                    "(raise `databases`)" % (path, key, db_index, len(dbs)))
                            if not dbs[db_index].load(key, value, slot, expire_ms):
                                raise SnapshotError("%s: key %r of db %d is also in an earlier "
                                                    "file" % (path, key, db_index))
                            kept += 1
                    step += 1
                    if step == LOAD_STEP_KEYS:
                        step = 0
                        progress.keys_read += LOAD_STEP_KEYS
                        progress.keys_loaded += kept
                        kept = 0
                        progress.loaded_bytes = done_bytes + record.body_end
                        yield progress
                elif type(record) is RdbFunction:
                    if record.code not in functions:
                        functions.append(record.code)
                elif type(record) is RdbAux and record.name == AUX_SNAPSHOT \
                        and files.snapshot_id is not None \
                        and record.value.decode("utf-8", "replace") != files.snapshot_id:
                    raise SnapshotError("%s: belongs to snapshot %s, not to %s as its summary says"
                                        % (path, record.value.decode("utf-8", "replace"),
                                           files.snapshot_id))
            progress.keys_read += step
            progress.keys_loaded += kept
        except RdbFileError as exc:
            raise SnapshotError("%s: %s" % (path, exc)) from None
        finally:
            if size:
                data.close()
        done_bytes += size
        progress.loaded_bytes = done_bytes
    yield progress
