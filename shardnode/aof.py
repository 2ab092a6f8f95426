"""The append-only file: each shard logs its journal to disk, replays it on start,
and compacts it in the background without stopping.

What lives where:

- names and the manifest (sans-IO): :func:`shard_prefix`, :class:`Manifest`,
  :func:`parse_manifest` / :meth:`Manifest.encode`;
- the record parser (sans-IO): :func:`parse_commands`, which tells a
  truncated last record (:class:`AofTruncated`) from a corrupt one
  (:class:`AofCorrupt`);
- replay on start: :func:`find_manifest`, :func:`replay`; the files of
  another shard count: :func:`find_other_count`, :func:`replay_other_count`,
  then :meth:`AppendOnlyFile.start_resharded`;
- the running file: :class:`AppendOnlyFile` (journal listener, fsync policy,
  BGREWRITEAOF and automatic rewrite, INFO's aof_* fields);
- BGREWRITEAOF's work (:func:`bgrewriteaof`; its handler is in shardnode/server.py).

Layout: Redis 7's multi-part AOF, one set per shard.  In ``dir/appenddirname``
shard *i* of *n* uses the prefix ``appendonly-000i-of-000n.aof`` (from
``appendfilename``), so shards never collide::

    appendonly-0001-of-0002.aof.3.base.rdb     the base: an RDB image
    appendonly-0001-of-0002.aof.5.incr.aof     writes since then, as RESP commands
    appendonly-0001-of-0002.aof.manifest       which files, in which order

The manifest is Redis 7's text format, one line per file
(``file <name> seq <n> type b|i``): the base first, then the incremental
files in replay order.  It is replaced atomically (temp file, fsync, rename,
fsync of the directory), so a crash leaves either the old list or the new.

Writing (the journal listener, :meth:`AppendOnlyFile.on_journal`):

- ``appendfsync always``: each record is written to the file (``os.write``)
  as it is journalled, so it is in the kernel before anything else happens;
  the shard then fsyncs before it writes the replies of the batch that made
  the records (:meth:`ShardConnection.run` calls :meth:`barrier` when
  ``server.aof_barrier`` is set).  So a reply to a write leaves only once the
  write is on disk, and a client that saw a reply never loses the write.
  Replies written outside a batch (a client woken from BLPOP, a parked
  request resumed) follow records already in the kernel: a kill of the
  process cannot lose them; the fsync follows at the end of the batch.
- ``everysec`` and ``no``: records collect in a buffer written before the
  batch's replies (as Redis writes its AOF buffer before replies) or, for
  writes outside a batch (active expiry), on the next loop turn;
  ``everysec`` fsyncs once a second in a worker thread, ``no`` leaves it to
  the kernel.

Rewriting (:meth:`AppendOnlyFile.start_rewrite`): at one instant the shard
opens a new incremental file, records it in the manifest (old base + old
incrementals + the new one, so a crash during the rewrite still replays
everything) and sends later records there.  The new base must hold the
keyspace exactly as it was at that instant: BGSAVE's point-in-time
serialiser (:class:`shardnode.rdb.save.PointInTimeSave`) writes it bucket by
bucket between event-loop turns, a bucket about to change serialised first
(the key-level hook).  When it is done the base is fsynced, renamed into
place, and the manifest switches to new base + new incremental; the old
files are deleted.

Replay (:func:`replay`): the base (an RDB image through part 1's reader, or
commands if it is an AOF) then each incremental file, commands run through
the shard's handlers as they are dispatched to clients.  A record cut short
at the end of the last file (a crash mid-write) is dropped with a warning and
the file truncated to its last whole record when ``aof_load_truncated`` is
yes; anything else unreadable stops the start with an error naming the file.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import time
from dataclasses import dataclass, field

from cluster import errors
from cluster.commands import resolve
from cluster.errors import CommandError
from shardnode.registry import HANDLERS
from shardnode.rdb.snapshot import SnapshotError, SnapshotFiles, fsync_dir, load_files

log = logging.getLogger("damselfly.aof")

MANIFEST_SUFFIX = ".manifest"
TYPE_BASE = "b"
TYPE_INCR = "i"
# Seconds of serialising per event-loop turn while a rewrite runs (as BGSAVE's).
REWRITE_STEP_SECONDS = 0.002
CRON_SECONDS = 1.0  # everysec fsync and the automatic-rewrite check


# -- names and the manifest ------------------------------------------------------


def shard_prefix(appendfilename: str, index: int, count: int) -> str:
    """``appendonly.aof`` for shard ``index`` (from 0) of ``count``:
    ``appendonly-0001-of-0002.aof``."""
    stem, ext = os.path.splitext(appendfilename)
    return "%s-%04d-of-%04d%s" % (stem, index + 1, count, ext)


def base_file_name(prefix: str, seq: int) -> str:
    return "%s.%d.base.rdb" % (prefix, seq)


def incr_file_name(prefix: str, seq: int) -> str:
    return "%s.%d.incr.aof" % (prefix, seq)


@dataclass
class Manifest:
    """The files of one shard's AOF: (name, seq) of the base, and of the
    incremental files in replay order."""
    base: tuple | None = None
    incrs: list = field(default_factory=list)

    def encode(self) -> bytes:
        lines = []
        if self.base is not None:
            lines.append("file %s seq %d type %s\n" % (self.base[0], self.base[1], TYPE_BASE))
        for name, seq in self.incrs:
            lines.append("file %s seq %d type %s\n" % (name, seq, TYPE_INCR))
        return "".join(lines).encode()

    def names(self) -> list:
        return ([self.base[0]] if self.base else []) + [name for name, _ in self.incrs]

    def next_incr_seq(self) -> int:
        return max((seq for _, seq in self.incrs), default=0) + 1

    def next_base_seq(self) -> int:
        return (self.base[1] if self.base else 0) + 1


def parse_manifest(text: bytes) -> Manifest:
    """Redis 7's manifest: ``file <name> seq <n> type <b|h|i>`` per line, in
    any key order; ``#`` lines are comments; history (``h``) files are
    ignored, as Redis ignores them on load.  Raises ValueError."""
    manifest = Manifest()
    for number, raw in enumerate(text.decode("utf-8", "replace").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        words = line.split()
        if len(words) % 2:
            raise ValueError("line %d: not key/value pairs: %r" % (number, line))
        entry = dict(zip(words[::2], words[1::2]))
        try:
            name, seq, kind = entry["file"], int(entry["seq"]), entry["type"]
        except (KeyError, ValueError):
            raise ValueError("line %d: needs file, seq and type: %r" % (number, line)) from None
        if "/" in name:
            raise ValueError("line %d: a file name with a path: %r" % (number, name))
        if kind == TYPE_BASE:
            if manifest.base is not None:
                raise ValueError("line %d: a second base file" % number)
            manifest.base = (name, seq)
        elif kind == TYPE_INCR:
            manifest.incrs.append((name, seq))
        elif kind != "h":
            raise ValueError("line %d: unknown file type %r" % (number, kind))
    if manifest.base is None and not manifest.incrs:
        raise ValueError("it lists no file")
    return manifest


# -- records ---------------------------------------------------------------------


class AofCorrupt(Exception):
    """Bytes that are not a RESP command; ``offset`` is where the record starts."""

    def __init__(self, offset: int, reason: str):
        super().__init__("invalid record at offset %d: %s" % (offset, reason))
        self.offset = offset


class AofTruncated(Exception):
    """The data ends inside the record starting at ``offset``."""

    def __init__(self, offset: int):
        super().__init__("the last record (from offset %d) is cut short" % offset)
        self.offset = offset


def _read_number(data, pos: int, prefix: int, start: int, end: int):
    """``<prefix><digits>\\r\\n`` at ``pos`` -> (number, position after)."""
    if pos >= end:
        raise AofTruncated(start)
    if data[pos] != prefix:
        raise AofCorrupt(start, "expected %r at offset %d, found %r"
                         % (chr(prefix), pos, bytes(data[pos:pos + 1])))
    eol = data.find(b"\r\n", pos + 1, end)
    if eol < 0:
        if end - pos > 24:
            raise AofCorrupt(start, "no line end after %r at offset %d" % (chr(prefix), pos))
        raise AofTruncated(start)
    digits = data[pos + 1:eol]
    if not digits.isdigit() or len(digits) > 19:
        raise AofCorrupt(start, "bad count %r at offset %d" % (bytes(digits), pos))
    return int(digits), eol + 2


def parse_commands(data, offset: int = 0):
    """Yield (args, end offset) for each command in ``data`` (RESP arrays of
    bulk strings, as an AOF holds them).  Raises :class:`AofTruncated` when
    the data ends inside a record, :class:`AofCorrupt` for anything else."""
    end = len(data)
    pos = offset
    while pos < end:
        start = pos
        count, pos = _read_number(data, pos, 42, start, end)  # '*'
        if count == 0:
            raise AofCorrupt(start, "an empty command")
        args = []
        for _ in range(count):
            length, pos = _read_number(data, pos, 36, start, end)  # '$'
            stop = pos + length
            if stop + 2 > end:
                raise AofTruncated(start)
            if data[stop:stop + 2] != b"\r\n":
                raise AofCorrupt(start, "a bulk string of %d bytes at offset %d does not end "
                                        "with CRLF" % (length, pos))
            args.append(bytes(data[pos:stop]))
            pos = stop + 2
        yield args, pos


# -- finding and replaying ---------------------------------------------------------


def aof_dir(config) -> str:
    return os.path.join(config.dir, config.appenddirname)


def _manifests_by_count(config) -> dict:
    """count -> {shard index: manifest file name} of the manifests in the AOF directory."""
    stem, ext = os.path.splitext(config.appendfilename)
    pattern = re.compile(re.escape(stem) + r"-(\d{4})-of-(\d{4})" + re.escape(ext)
                         + re.escape(MANIFEST_SUFFIX) + r"\Z")
    try:
        names = os.listdir(aof_dir(config))
    except OSError:
        return {}
    found: dict = {}
    for match in map(pattern.match, names):
        if match:
            found.setdefault(int(match.group(2)), {})[int(match.group(1)) - 1] = match.group(0)
    return found


def find_manifest(config, index: int, count: int) -> Manifest | None:
    """This shard's manifest, or None when it has no AOF of this shard
    count (:func:`find_other_count` then looks for one of another count).
    Raises :class:`SnapshotError` for one that cannot be read."""
    directory = aof_dir(config)
    prefix = shard_prefix(config.appendfilename, index, count)
    return _read_manifest(directory, os.path.join(directory, prefix + MANIFEST_SUFFIX))


def find_other_count(config, count: int) -> list | None:
    """When this shard has no AOF of its own: the manifests of the AOF that
    a server of another shard count wrote (one per old shard, in order), or
    None when there is none.  Raises :class:`SnapshotError` when the files of
    another count do not form one complete set (a shard's manifest missing,
    or two counts): there is data, and no way to load all of it.  Other
    shards of this count start at the same moment and may have written
    theirs already: those are not "another count"."""
    found = _manifests_by_count(config)
    found.pop(count, None)
    if not found:
        return None
    complete = [c for c, files in found.items() if sorted(files) == list(range(c))]
    if len(found) != 1 or not complete:
        described = ", ".join("%d of %d" % (len(files), c) for c, files in sorted(found.items()))
        raise SnapshotError(
            "%s: append-only files of another shard count that do not form one complete set "
            "(found manifests of %s shards); move the stray ones away"
            % (aof_dir(config), described))
    old_count = complete[0]
    directory = aof_dir(config)
    return [(name, _read_manifest(directory, os.path.join(directory, name)))
            for _, name in sorted(found[old_count].items())]


def _read_manifest(directory: str, path: str) -> Manifest | None:
    try:
        with open(path, "rb") as f:
            text = f.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise SnapshotError("%s: %s" % (path, exc.strerror)) from None
    try:
        manifest = parse_manifest(text)
    except ValueError as exc:
        raise SnapshotError("%s: not a valid AOF manifest: %s" % (path, exc)) from None
    for name in manifest.names():
        if not os.path.exists(os.path.join(directory, name)):
            raise SnapshotError("%s: lists %s, which does not exist" % (path, name))
    return manifest


class _Replay:
    """Runs replayed commands through the shard's handlers, on a connection
    of its own (no socket; the journal is suspended around the replay)."""

    def __init__(self, server):
        from shardnode.node import ShardConnection

        self.server = server
        conn = self.conn = ShardConnection(server)
        conn.init_session(server, "aof", "aof")
        conn.authenticated = True
        self.dispatch = server.dispatch
        self.commands = 0
        self.failed = 0

    def run(self, args, path: str, offset: int) -> None:
        name = args[0].lower()
        if name == b"select":
            try:
                index = int(args[1])
                if not 0 <= index < len(self.server.keyspace.dbs):
                    raise IndexError(index)
                self.conn.on_select(index)
            except (IndexError, ValueError):
                raise SnapshotError("%s: SELECT of a database this server lacks (%r) at offset %d"
                                    % (path, args[1:2], offset)) from None
            return
        entry = self.dispatch.get(name)
        if entry is None:
            raise SnapshotError("%s: unknown command %r at offset %d"
                                % (path, args[0][:64], offset))
        spec, fn, _ = entry
        if spec.subcommands:
            spec = resolve(spec, args)
            if type(spec) is str:
                raise SnapshotError("%s: %s at offset %d" % (path, spec, offset))
            fn = HANDLERS[spec.name]
        if not spec.arity_ok(len(args)):
            raise SnapshotError("%s: %s at offset %d"
                                % (path, errors.wrong_arity(spec.name), offset))
        self.server.keyspace.tick()
        try:
            fn(self.conn, args)
        except CommandError as exc:
            self.failed += 1
            log.warning("%s: %r at offset %d failed while replaying: %s",
                        path, args[:2], offset, exc.args[0])
        except Exception as exc:  # a bug: stop with the file and the record named
            log.exception("replaying %r", args[:3])
            raise SnapshotError("%s: replaying %r at offset %d failed: %r"
                                % (path, args[0][:64], offset, exc)) from None
        self.commands += 1

    def close(self):
        self.conn.end_session()


def _replay_commands(runner, path: str, data, last: bool, truncated_ok: bool):
    """Run every command of one file; MULTI ... EXEC runs as one block, and a
    transaction the file ends inside counts as cut short.  Returns the length
    to truncate the file to (None: keep it).  A generator (yields between
    chunks of commands)."""
    pending = None  # commands of an open MULTI, with their offsets
    multi_at = 0
    done = 0
    step = 0
    try:
        for args, end in parse_commands(data):
            name = args[0].lower()
            if name == b"multi":
                pending, multi_at = [], done
            elif name == b"exec" and pending is not None:
                for queued, at in pending:
                    runner.run(queued, path, at)
                pending = None
            elif pending is not None:
                pending.append((args, done))
            else:
                runner.run(args, path, done)
            done = end
            step += 1
            if step == 2000:
                step = 0
                yield
    except AofCorrupt as exc:
        raise SnapshotError("%s: corrupt append-only file: %s" % (path, exc)) from None
    except AofTruncated as exc:
        cut = exc.offset if pending is None else multi_at
    else:
        if pending is None:
            return None
        cut = multi_at  # MULTI without its EXEC: the transaction was cut short
    if not last:
        raise SnapshotError("%s: truncated at offset %d, and it is not the last file of the "
                            "AOF" % (path, cut))
    if not truncated_ok:
        raise SnapshotError("%s: the last record is cut short (offset %d of %d bytes); set "
                            "aof_load_truncated yes to drop it" % (path, cut, len(data)))
    log.warning("%s: the last record is cut short (a crash while writing?): dropping the "
                "%d bytes from offset %d", path, len(data) - cut, cut)
    return cut


def _load_libraries(server, path: str) -> None:
    """The FUNCTION libraries an RDB base held, loaded as Redis loads them
    with the RDB (shardnode/functions.py)."""
    from shardnode.functions import load_saved_libraries

    try:
        load_saved_libraries(server.rdb_functions)
    except CommandError as exc:
        raise SnapshotError("a function library in %s: %s" % (path, exc.args[0])) from None


def replay_other_count(server, sources: list, progress):
    """Load the AOF of a server with another shard count (``sources``: the
    old shards' manifests, from :func:`find_other_count`): each old shard's
    files are replayed into a scratch keyspace (so its FLUSHALL touches
    nothing else), and the keys of this shard's slots are moved into the
    real one.  An old shard whose slots are none of ours is skipped unread.
    A generator, as :func:`replay`.  The caller then writes this shard's own
    AOF (:meth:`AppendOnlyFile.start_resharded`)."""
    from cluster.slots import split_slots
    from shardnode.db import Keyspace

    directory = aof_dir(server.config)
    owner, index = server.slot_owner, server.index
    keyspace = server.keyspace
    ranges = split_slots(len(sources))
    progress.total_bytes = sum(os.path.getsize(os.path.join(directory, n))
                               for _, manifest in sources for n in manifest.names())
    for number, (name, manifest) in enumerate(sources):
        first, last = ranges[number]
        if not any(owner[slot] == index for slot in range(first, last + 1)):
            continue
        log.info("taking this shard's keys from %s (another shard count)", name)
        server.keyspace = Keyspace(len(keyspace.dbs), clock=keyspace.clock)
        try:
            yield from replay(server, manifest, progress, lambda slot: True)
            scratch = server.keyspace
        finally:
            server.keyspace = keyspace
        for db, old in zip(keyspace.dbs, scratch.dbs):
            for slot, bucket in old.slots.items():
                if owner[slot] == index:
                    for key, value in bucket.entries():
                        db.load(key, value, slot, old.expires.get(key))
            yield progress
    progress.keys_loaded = sum(db.size for db in keyspace.dbs)


def replay(server, manifest: Manifest, progress, owns_slot=None):
    """Load ``manifest``'s files into the shard (a generator: it yields so the
    caller can serve the event loop); a base keeps the keys ``owns_slot``
    says are ours (default: this shard's slots).  Raises
    :class:`SnapshotError` naming the file for anything that cannot be loaded."""
    directory = aof_dir(server.config)
    owner, index = server.slot_owner, server.index
    if owns_slot is None:
        def owns_slot(slot):
            return owner[slot] == index
    progress.total_bytes = progress.total_bytes or sum(
        os.path.getsize(os.path.join(directory, n)) for n in manifest.names())
    runner = _Replay(server)
    journal = server.keyspace.journal
    try:
        with journal.suspended():  # replayed writes are not new writes
            names = manifest.names()
            for number, name in enumerate(names):
                path = os.path.join(directory, name)
                progress.current_file = path
                with open(path, "rb") as f:
                    head = f.read(5)
                if head == b"REDIS":
                    if number:
                        raise SnapshotError("%s: an RDB file where an incremental AOF file "
                                            "belongs" % path)
                    files = SnapshotFiles([path], None, "aof")
                    yield from load_files(files, server.keyspace, owns_slot,
                                          server.config, progress, server.rdb_functions)
                    _load_libraries(server, path)  # before the records that may use them
                    runner.conn.on_select(0)
                    continue
                with open(path, "rb") as f:
                    data = f.read()
                last = number == len(names) - 1
                cut = yield from _replay_commands(runner, path, data, last,
                                                  server.config.aof_load_truncated)
                if cut is not None:
                    os.truncate(path, cut)
                progress.loaded_bytes += len(data)
                runner.conn.on_select(0)  # each file starts with its own SELECT
    finally:
        runner.close()
    journal.entries.clear()
    progress.keys_loaded = sum(db.size for db in server.keyspace.dbs)
    log.info("AOF replayed: %d commands (%d failed)", runner.commands, runner.failed)


# -- the running file ----------------------------------------------------------------


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _unlink_in(directory: str, name: str) -> None:
    try:
        os.unlink(os.path.join(directory, name))
    except FileNotFoundError:
        pass


class _FdStream:
    """``write(bytes)`` onto a file descriptor, for RdbFileWriter."""

    def __init__(self, fd: int):
        self.fd = fd

    def write(self, data) -> None:
        _write_all(self.fd, data)


class Rewrite:
    """One base being written: the point-in-time serialiser of the keyspace
    (part 2's :class:`shardnode.rdb.save.PointInTimeSave`, the same one
    BGSAVE uses) writing to a temporary file, and the manifest to switch to."""

    def __init__(self, server, tmp_path: str, fd: int, manifest: Manifest):
        from shardnode.functions import library_codes
        from shardnode.rdb.file import AUX_SHARD, AUX_SHARDS
        from shardnode.rdb.save import PointInTimeSave

        config = server.config
        owner, index = server.slot_owner, server.index
        self.tmp_path = tmp_path
        self.fd = fd
        self.manifest = manifest  # the one to write when done (without the new base)
        self.started = time.monotonic()
        self.save = PointInTimeSave(
            server.keyspace, _FdStream(fd), lambda slot: owner[slot] == index,
            aux={AUX_SHARD: index, AUX_SHARDS: len(server.topology.shards)},
            functions=library_codes(), compress=config.rdbcompression,
            checksum=config.rdbchecksum)
        self.save.start()  # the rewrite's instant: the key-level hook attached


class AppendOnlyFile:
    """One shard's AOF while it runs (see the module doc)."""

    def __init__(self, server):
        config = server.config
        self.server = server
        self.dir = aof_dir(config)
        self.prefix = shard_prefix(config.appendfilename, server.index,
                                   len(server.topology.shards))
        self.manifest: Manifest | None = None  # the one on disk
        self.enabled = False
        self.fd = None  # the incremental file records go to
        self.buffer: list = []
        self.unsynced = False  # written since the last fsync
        self.flush_scheduled = False
        self.fsync_running = False
        self.rewrite: Rewrite | None = None
        self.rewrite_scheduled = False  # BGREWRITEAOF during a BGSAVE: runs when it ends
        self.cron = None
        self.loop = None  # the shard's event loop (start)
        # INFO persistence
        self.current_size = 0  # base + incremental files
        self.base_size = 0
        self.rewrite_base_size = 0  # aof_current_size after the last rewrite (auto rewrite)
        self.rewrites = 0
        self.last_rewrite_time_sec = -1
        self.last_bgrewrite_status = "ok"
        self.last_write_status = "ok"

    # -- start and stop --------------------------------------------------------

    def start(self, manifest: Manifest | None) -> None:
        """After loading: go on appending to ``manifest`` (the AOF just
        replayed), or start a first rewrite when appendonly is on."""
        self._remove_temp_files()
        self.loop = asyncio.get_running_loop()
        self.cron = self.loop.call_later(CRON_SECONDS, self._cron)
        if not self.server.config.appendonly:
            return
        if manifest is None:
            try:
                self.enable()
            except OSError as exc:  # asked for durability we cannot give: no start
                raise SnapshotError("%s: cannot create the append-only files: %s"
                                    % (exc.filename or self.dir, exc.strerror)) from None
            return
        self.manifest = manifest
        self.base_size = self._size(manifest.base[0]) if manifest.base else 0
        self.current_size = sum(self._size(name) for name in manifest.names())
        self.rewrite_base_size = self.current_size
        if manifest.incrs:
            self._open_incr(manifest.incrs[-1][0])
        else:
            seq = manifest.next_incr_seq()
            self._open_incr(incr_file_name(self.prefix, seq))
            self._persist_manifest(Manifest(manifest.base, [(incr_file_name(self.prefix, seq),
                                                              seq)]))
        self._attach()

    def start_resharded(self, sources: list) -> None:
        """After :func:`replay_other_count`: write this shard's own AOF at
        once (the base, fsynced, then an empty incremental file and the
        manifest), before the shard serves: until its manifest exists a
        crash finds the old files again and reshards anew.  The shard whose
        manifest completes the new set removes the old count's files
        (manifests first, so a set cut short is never taken for whole)."""
        self.loop = asyncio.get_running_loop()
        self.cron = self.loop.call_later(CRON_SECONDS, self._cron)
        os.makedirs(self.dir, exist_ok=True)
        base, incr = base_file_name(self.prefix, 1), incr_file_name(self.prefix, 1)
        tmp = os.path.join(self.dir, "temp-%s.reshard-%d.rdb" % (self.prefix, os.getpid()))
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            rewrite = Rewrite(self.server, tmp, fd, Manifest())
            rewrite.save.run_to_end()
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, os.path.join(self.dir, base))
        self._open_incr(incr)
        self._persist_manifest(Manifest((base, 1), [(incr, 1)]))
        self.base_size = self.current_size = self.rewrite_base_size = self._size(base)
        self._attach()
        count = len(self.server.topology.shards)
        mine = _manifests_by_count(self.server.config).get(count, {})
        if sorted(mine) == list(range(count)):
            for name, _ in sources:
                _unlink_in(self.dir, name)
            for _, manifest in sources:
                for name in manifest.names():
                    _unlink_in(self.dir, name)
            fsync_dir(self.dir)
            log.info("the append-only files of %d shards are rewritten as %d shards' files; "
                     "the old ones are removed", len(sources), count)

    def enable(self) -> None:
        """appendonly yes: a rewrite writes the base; records go to a new
        incremental file from this moment."""
        if self.enabled:
            return
        self.enabled = True
        if self.rewrite is not None:  # a BGREWRITEAOF without an incremental file
            self._abort_rewrite()
        self.start_rewrite()
        self._attach()

    def disable(self) -> None:
        """appendonly no: stop appending (the files stay, as Redis leaves them)."""
        if not self.enabled:
            return
        if self.rewrite is not None:
            self._abort_rewrite()
        self._detach()
        self.write_out()
        self._close_incr(fsync=True)
        self.enabled = False

    def close(self) -> None:
        """Shutdown: everything written and fsynced."""
        if self.cron is not None:
            self.cron.cancel()
        if self.enabled:
            self._detach()
            self.write_out()
            self._close_incr(fsync=True)

    def config_changed(self) -> None:
        """CONFIG SET appendonly: fails (and stays off) when the files
        cannot be created, as Redis's does.  Inside a transaction or a
        script (the journal holds its entries) it takes effect right after."""
        if self.server.keyspace.journal.grouping:
            asyncio.get_running_loop().call_soon(self._config_changed_later)
            return
        if not self.server.config.appendonly:
            self.disable()
            return
        try:
            self.enable()
        except OSError as exc:
            self.enabled = False
            self.server.config.values["appendonly"] = False
            if self.rewrite is not None:
                self._abort_rewrite()
            self._detach()
            self._close_incr(fsync=False)
            raise CommandError("ERR CONFIG SET failed (possibly related to argument "
                               "'appendonly') - %s: %s" % (exc.filename or self.dir,
                                                           exc.strerror)) from None

    def _config_changed_later(self) -> None:
        try:
            self.config_changed()
        except CommandError as exc:
            log.error("%s", exc.args[0])

    # -- appending -------------------------------------------------------------

    def on_journal(self, data: bytes) -> None:
        """The journal listener: one entry as RESP (a SELECT prefixed when needed)."""
        if self.fd is None:
            return
        if self.server.config.appendfsync == "always":
            self.write_out()
            self._write(data)
            self.server.aof_barrier = True
        else:
            self.buffer.append(data)
            self.server.aof_barrier = True
        if not self.flush_scheduled:  # for writes no batch's reply follows (expiry)
            self.flush_scheduled = True
            # Thread-safe: a busy script's effects are journalled in the script thread.
            self.loop.call_soon_threadsafe(self._deferred_barrier)

    def _deferred_barrier(self) -> None:
        self.flush_scheduled = False
        self.barrier()

    def barrier(self) -> None:
        """Before replies leave: buffered records written; with ``always``, fsynced."""
        self.server.aof_barrier = False
        self.write_out()
        if self.unsynced and self.server.config.appendfsync == "always":
            self._fsync()

    def write_out(self) -> None:
        if self.buffer:
            data = b"".join(self.buffer)
            self.buffer = []
            self._write(data)

    def _write(self, data: bytes) -> None:
        if self.fd is None:
            return
        try:
            _write_all(self.fd, data)
        except OSError as exc:
            if self.last_write_status == "ok":
                log.error("cannot write the append-only file: %s", exc.strerror)
            self.last_write_status = "err"
            self.buffer.insert(0, data)  # tried again with the next records
            return
        self.last_write_status = "ok"
        self.current_size += len(data)
        self.unsynced = True

    def _fsync(self) -> None:
        if self.fd is not None:
            try:
                os.fdatasync(self.fd)
            except OSError as exc:
                self.last_write_status = "err"
                log.error("cannot fsync the append-only file: %s", exc.strerror)
                return
        self.unsynced = False

    def _cron(self) -> None:
        """Once a second: everysec's fsync (in a worker thread, so the shard
        keeps serving) and the automatic rewrite."""
        loop = asyncio.get_running_loop()
        self.cron = loop.call_later(CRON_SECONDS, self._cron)
        if not self.enabled:
            return
        self.write_out()
        if self.unsynced and self.fd is not None and not self.fsync_running \
                and self.server.config.appendfsync == "everysec":
            self.unsynced = False
            self.fsync_running = True
            fd = self.fd
            future = loop.run_in_executor(None, os.fdatasync, fd)
            future.add_done_callback(lambda done: self._fsync_done(done, fd))
        config = self.server.config
        if self.rewrite_scheduled:
            self.start_scheduled_rewrite()
        if self.rewrite is None and config.auto_aof_rewrite_percentage \
                and not self.server.snapshots.busy \
                and self.current_size > config.auto_aof_rewrite_min_size:
            base = self.rewrite_base_size or 1
            growth = (self.current_size - base) * 100 // base
            if growth >= config.auto_aof_rewrite_percentage:
                log.info("starting an automatic AOF rewrite: %d%% growth", growth)
                self.start_rewrite()

    def _fsync_done(self, future, fd: int) -> None:
        self.fsync_running = False
        if fd != self.fd:
            return  # the file was closed meanwhile (a rewrite switched files): fsynced then
        if future.exception() is not None:
            self.unsynced = True
            self.last_write_status = "err"
            log.error("background fsync of the append-only file failed: %s", future.exception())

    def _attach(self) -> None:
        journal = self.server.keyspace.journal
        if self.on_journal not in journal.listeners:
            journal.attach(self.on_journal)

    def _detach(self) -> None:
        journal = self.server.keyspace.journal
        if self.on_journal in journal.listeners:
            journal.detach(self.on_journal)

    def _open_incr(self, name: str) -> None:
        os.makedirs(self.dir, exist_ok=True)
        self.fd = os.open(os.path.join(self.dir, name), os.O_WRONLY | os.O_APPEND | os.O_CREAT,
                          0o644)
        self.enabled = True

    def _close_incr(self, fsync: bool) -> None:
        if self.fd is not None:
            if fsync:
                self._fsync()
            os.close(self.fd)
            self.fd = None

    def _size(self, name: str) -> int:
        try:
            return os.path.getsize(os.path.join(self.dir, name))
        except OSError:
            return 0

    def _persist_manifest(self, manifest: Manifest) -> None:
        """Replace the manifest atomically: temp file, fsync, rename, fsync the directory."""
        os.makedirs(self.dir, exist_ok=True)
        path = os.path.join(self.dir, self.prefix + MANIFEST_SUFFIX)
        tmp = os.path.join(self.dir, "temp-" + self.prefix + MANIFEST_SUFFIX)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            _write_all(fd, manifest.encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        fsync_dir(self.dir)
        self.manifest = manifest

    def _remove_temp_files(self) -> None:
        """Leftovers of a rewrite a crash interrupted."""
        try:
            names = os.listdir(self.dir)
        except OSError:
            return
        for name in names:
            if name.startswith("temp-" + self.prefix):
                try:
                    os.unlink(os.path.join(self.dir, name))
                except OSError:
                    pass

    # -- rewriting ---------------------------------------------------------------

    def start_rewrite(self) -> None:
        """BGREWRITEAOF: see the module doc.  Raises OSError when the files
        cannot be created (the caller reports it)."""
        if self.rewrite is not None:
            return
        os.makedirs(self.dir, exist_ok=True)
        old = self.manifest or Manifest()
        if self.enabled:
            # The instant of the rewrite: later records go to a new incremental file.
            self.write_out()
            seq = old.next_incr_seq()
            name = incr_file_name(self.prefix, seq)
            self._close_incr(fsync=True)
            self._open_incr(name)
            self._persist_manifest(Manifest(old.base, old.incrs + [(name, seq)]))
            self.server.keyspace.journal.restart_stream()  # the new file says its database
            final = Manifest(None, [(name, seq)])
        else:
            final = Manifest(None, [])
        tmp = os.path.join(self.dir, "temp-%s.rewrite-%d.rdb" % (self.prefix, os.getpid()))
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            self.rewrite = Rewrite(self.server, tmp, fd, final)
        except OSError:
            os.close(fd)
            raise
        asyncio.get_running_loop().call_soon(self._rewrite_step)

    def start_scheduled_rewrite(self) -> None:
        """Start the BGREWRITEAOF that waited for a BGSAVE (or a transaction)
        to end, if nothing is in its way now; the end of a save and the
        once-a-second cron call this."""
        if not self.rewrite_scheduled or self.server.snapshots.busy:
            return
        self.rewrite_scheduled = False
        try:
            self.start_rewrite()
        except OSError as exc:
            self.last_bgrewrite_status = "err"
            log.error("the scheduled AOF rewrite could not start: %s", exc)

    def _abort_rewrite(self) -> None:
        rewrite, self.rewrite = self.rewrite, None
        rewrite.save.close()
        os.close(rewrite.fd)
        try:
            os.unlink(rewrite.tmp_path)
        except OSError:
            pass

    def _rewrite_step(self) -> None:
        rewrite = self.rewrite
        if rewrite is None:
            return  # aborted
        try:
            if not rewrite.save.step(REWRITE_STEP_SECONDS):
                asyncio.get_running_loop().call_soon(self._rewrite_step)
                return
            os.fsync(rewrite.fd)
            os.close(rewrite.fd)
            self._finish_rewrite(rewrite)
        except OSError as exc:
            log.error("AOF rewrite failed: %s", exc)
            self.last_bgrewrite_status = "err"
            if self.rewrite is rewrite:
                self._abort_rewrite()

    def _finish_rewrite(self, rewrite: Rewrite) -> None:
        old = self.manifest or Manifest()
        seq = old.next_base_seq()
        base = base_file_name(self.prefix, seq)
        os.replace(rewrite.tmp_path, os.path.join(self.dir, base))
        new = Manifest((base, seq), rewrite.manifest.incrs)
        self._persist_manifest(new)
        for name in set(old.names()) - set(new.names()):
            try:
                os.unlink(os.path.join(self.dir, name))
            except OSError:
                pass
        self.rewrite = None
        self.rewrites += 1
        self.last_rewrite_time_sec = int(time.monotonic() - rewrite.started)
        self.last_bgrewrite_status = "ok"
        self.base_size = self._size(base)
        self.current_size = sum(self._size(name) for name in new.names())
        self.rewrite_base_size = self.current_size
        log.info("AOF rewrite done: base %s, %d bytes", base, self.base_size)

    # -- INFO ----------------------------------------------------------------------

    def info_fields(self) -> list:
        """INFO persistence's aof_* fields, as Redis 7.0 names them."""
        rewrite = self.rewrite
        fields = [
            ("aof_enabled", 1 if self.enabled else 0),
            ("aof_rewrite_in_progress", 1 if rewrite is not None else 0),
            ("aof_rewrite_scheduled", 1 if self.rewrite_scheduled else 0),
            ("aof_last_rewrite_time_sec", self.last_rewrite_time_sec),
            ("aof_current_rewrite_time_sec",
             int(time.monotonic() - rewrite.started) if rewrite is not None else -1),
            ("aof_last_bgrewrite_status", self.last_bgrewrite_status),
            ("aof_rewrites", self.rewrites),
            ("aof_rewrites_consecutive_failures", 0),
            ("aof_last_write_status", self.last_write_status),
            ("aof_last_cow_size", 0),
        ]
        if self.enabled:
            fields += [
                ("aof_current_size", self.current_size),
                ("aof_base_size", self.base_size),
                ("aof_pending_rewrite", 0),
                ("aof_buffer_length", sum(map(len, self.buffer))),
                ("aof_pending_bio_fsync", 1 if self.fsync_running else 0),
                ("aof_delayed_fsync", 0),
            ]
        return fields


REWRITE_STARTED = "Background append only file rewriting started"
REWRITE_SCHEDULED = "Background append only file rewriting scheduled"


def bgrewriteaof(server):
    """BGREWRITEAOF's work on this shard (the handler is the server family's).
    As Redis 7.0: while a BGSAVE runs, or inside MULTI/EXEC, the rewrite is
    only scheduled (INFO aof_rewrite_scheduled:1) and starts when the save
    ends, or right after the transaction."""
    aof = server.aof
    if aof.rewrite is not None:
        raise CommandError(errors.AOF_REWRITE_IN_PROGRESS)
    if server.snapshots.busy or server.keyspace.journal.grouping:
        aof.rewrite_scheduled = True
        asyncio.get_running_loop().call_soon(aof.start_scheduled_rewrite)
        return REWRITE_SCHEDULED
    try:
        aof.start_rewrite()
    except OSError as exc:
        aof.last_bgrewrite_status = "err"
        raise CommandError("ERR Can't rewrite append only file in background: %s"
                           % exc.strerror) from None
    return REWRITE_STARTED
