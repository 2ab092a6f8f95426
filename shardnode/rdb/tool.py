"""``damselfly rdb check FILE`` and ``damselfly rdb merge DIR OUT``.

``cluster/cli.py`` runs this module as ``python -m shardnode.rdb.tool`` (the
CLI lives in ``cluster/``, which must not import ``shardnode/``).

- ``check`` reads a whole RDB file, every value decoded, and prints its AUX
  fields and the key counts per type (with the RDB encoding) and per
  database; on any defect it prints the error and exits 1.
- ``merge`` writes the keys of a snapshot's shard files (found in DIR as a
  starting server would find them, :func:`shardnode.rdb.snapshot.find_snapshot`)
  into one RDB file that a redis-server loads: database by database, each
  object copied unchanged, function libraries once.  It writes ``OUT.tmp``
  and renames it, so a failed merge leaves no half file at OUT.
"""

from __future__ import annotations

import argparse
import mmap
import os
import sys
from collections import Counter

from shardnode.rdb import constants
from shardnode.rdb.file import (
    RdbAux, RdbEnd, RdbFileError, RdbFileWriter, RdbFunction, RdbKey, read_rdb)
from shardnode.rdb.snapshot import SnapshotError, find_snapshot

# RDB type id -> "type (encoding)", for check's report.
TYPE_LABELS = {
    constants.TYPE_STRING: "string",
    constants.TYPE_LIST: "list (linkedlist)",
    constants.TYPE_SET: "set (hashtable)",
    constants.TYPE_ZSET: "zset (skiplist, string scores)",
    constants.TYPE_HASH: "hash (hashtable)",
    constants.TYPE_ZSET_2: "zset (skiplist)",
    constants.TYPE_HASH_ZIPMAP: "hash (zipmap)",
    constants.TYPE_LIST_ZIPLIST: "list (ziplist)",
    constants.TYPE_SET_INTSET: "set (intset)",
    constants.TYPE_ZSET_ZIPLIST: "zset (ziplist)",
    constants.TYPE_HASH_ZIPLIST: "hash (ziplist)",
    constants.TYPE_LIST_QUICKLIST: "list (quicklist of ziplists)",
    constants.TYPE_STREAM_LISTPACKS: "stream",
    constants.TYPE_HASH_LISTPACK: "hash (listpack)",
    constants.TYPE_ZSET_LISTPACK: "zset (listpack)",
    constants.TYPE_LIST_QUICKLIST_2: "list (quicklist)",
    constants.TYPE_STREAM_LISTPACKS_2: "stream",
}


class _Mapped:
    """A file mapped read-only (an empty file as b"")."""

    def __init__(self, path: str):
        self.path = path
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            self.data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if size else b""

    def __enter__(self):
        return self.data

    def __exit__(self, *exc):
        if self.data:
            self.data.close()


def check(path: str, out=sys.stdout) -> int:
    types: Counter = Counter()
    keys_per_db: Counter = Counter()
    expires_per_db: Counter = Counter()
    aux = []
    functions = 0
    try:
        with _Mapped(path) as data:
            version = bytes(data[5:9]).decode("ascii", "replace")
            for record in read_rdb(data):
                kind = type(record)
                if kind is RdbKey:
                    types[record.type_id] += 1
                    keys_per_db[record.db] += 1
                    if record.expire_ms is not None:
                        expires_per_db[record.db] += 1
                elif kind is RdbAux:
                    aux.append((record.name, record.value))
                elif kind is RdbFunction:
                    functions += 1
                elif kind is RdbEnd:
                    checksum = record.checksum
    except OSError as exc:
        print("damselfly rdb check: %s: %s" % (path, exc.strerror), file=sys.stderr)
        return 1
    except RdbFileError as exc:
        print("damselfly rdb check: %s: %s" % (path, exc), file=sys.stderr)
        return 1
    print("%s: OK, RDB version %s, %s" % (
        path, version, "checksum %016x" % checksum if checksum else "no checksum"), file=out)
    for name, value in aux:
        print("aux %s: %s" % (name.decode("utf-8", "replace"), value.decode("utf-8", "replace")),
              file=out)
    print("keys: %d" % sum(keys_per_db.values()), file=out)
    for type_id, count in sorted(types.items()):
        print("type %s: %d" % (TYPE_LABELS.get(type_id, str(type_id)), count), file=out)
    for db in sorted(keys_per_db):
        print("db%d: keys=%d expires=%d" % (db, keys_per_db[db], expires_per_db[db]), file=out)
    print("functions: %d" % functions, file=out)
    return 0


class _Keys:
    """One file's key records, database by database (a file lists its
    databases in ascending order): :meth:`take` yields those of ``db``."""

    def __init__(self, data):
        self.records = (r for r in read_rdb(data, decode_values=False) if type(r) is RdbKey)
        self.pending = next(self.records, None)

    def take(self, db: int):
        while self.pending is not None and self.pending.db == db:
            yield self.pending
            self.pending = next(self.records, None)


def merge(directory: str, out_path: str, dbfilename: str = "dump.rdb", out=sys.stdout) -> int:
    try:
        files = find_snapshot(directory, dbfilename)
        if files is None:
            raise SnapshotError("%s: no snapshot (%s shard files or %s) found"
                                % (directory, os.path.splitext(dbfilename)[0], dbfilename))
        mapped = [_Mapped(path) for path in files.paths]
        try:
            # Pass 1: validate every file and count keys and TTLs per database.
            keys: Counter = Counter()
            expires: Counter = Counter()
            functions: list = []
            for source in mapped:
                try:
                    for record in read_rdb(source.data, decode_values=False):
                        if type(record) is RdbKey:
                            keys[record.db] += 1
                            if record.expire_ms is not None:
                                expires[record.db] += 1
                        elif type(record) is RdbFunction and record.code not in functions:
                            functions.append(record.code)
                except RdbFileError as exc:
                    raise SnapshotError("%s: %s" % (source.path, exc)) from None
            # Pass 2: copy the objects, database by database.
            tmp = out_path + ".tmp"
            with open(tmp, "wb") as stream:
                writer = RdbFileWriter(stream)
                writer.write_header()
                for code in functions:
                    writer.write_function(code)
                sources = [(source.data, _Keys(source.data)) for source in mapped]
                for db in sorted(keys):
                    writer.select_db(db, keys[db], expires[db])
                    for data, records in sources:
                        for record in records.take(db):
                            writer.write_raw_object(record.key, record.type_id,
                                                    data[record.body_start:record.body_end],
                                                    record.expire_ms)
                writer.finish()
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(tmp, out_path)
        finally:
            for source in mapped:
                source.__exit__()
    except (SnapshotError, OSError) as exc:
        print("damselfly rdb merge: %s" % (exc,), file=sys.stderr)
        return 1
    print("%s: %d keys from %d file%s" % (out_path, sum(keys.values()), len(files.paths),
                                          "" if len(files.paths) == 1 else "s"), file=out)
    return 0


def main(argv=None) -> int:
    from shardnode.registry import load_families

    load_families()  # every value type's RDB codecs
    parser = argparse.ArgumentParser(prog="damselfly rdb")
    commands = parser.add_subparsers(dest="command", required=True)
    check_cmd = commands.add_parser("check", help="validate an RDB file, count its keys")
    check_cmd.add_argument("file")
    merge_cmd = commands.add_parser("merge", help="one Redis-loadable RDB from a snapshot")
    merge_cmd.add_argument("dir")
    merge_cmd.add_argument("out")
    merge_cmd.add_argument("--dbfilename", default="dump.rdb",
                           help="the snapshot's dbfilename (default dump.rdb)")
    opts = parser.parse_args(argv)
    if opts.command == "check":
        return check(opts.file)
    return merge(opts.dir, opts.out, opts.dbfilename)


if __name__ == "__main__":
    sys.exit(main())
