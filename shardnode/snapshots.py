"""A shard's snapshots: SAVE, BGSAVE, LASTSAVE, their files, and what a
failed save does to writes (MISCONF).

One server-wide snapshot is one save on every shard, started at the same
moment with the same snapshot id: the proxy fans out ``DF.SAVE <id> <count>``
or ``DF.BGSAVE <id> <count> [SCHEDULE]`` (proxy/snapshots.py).  Each shard
serialises its own keyspace forklessly (:mod:`shardnode.rdb.save`) and the
files are committed together:

1. the shard writes ``dump-0002-of-0004.rdb.partial`` in steps between
   event-loop turns, fsyncs it (in a thread) and renames it
   ``dump-0002-of-0004.rdb.<id>.ready``;
2. **the shard that completes the set commits it**: after renaming its own
   file it looks for every shard's ``.ready`` file of the snapshot; when all
   are there it takes ``<stem>.<id>.commit`` (created with O_EXCL, so only
   one shard commits), writes the summary ``dump.snapshot.json`` naming the
   new files (temporary file, fsync, rename, directory fsync: **the commit
   point**), then renames every ``.ready`` file to its final name.

So a crash, a full disk or a kill -9 before the commit point leaves the
previous snapshot's files and summary untouched (stray ``.partial``/
``.ready`` files are removed by the next save of the same shard); after it,
the summary names the new snapshot, whose files are in place or still
``.ready``: the next load (or save) renames those first
(:func:`shardnode.rdb.snapshot.roll_forward`).  Either way one whole
snapshot loads, never a mix.  (tests/e2e/test_snapshots.py kills a shard at
each step of the commit through the ``DAMSELFLY_TEST_CRASH_IN_COMMIT`` hook.)

A shard on its own (SAVE sent to its port) saves only when it is the whole
server (one shard): one shard's file alone would never complete a snapshot.

On a failed save the shard logs why, reports ``rdb_last_bgsave_status:err``
and, with ``stop_writes_on_bgsave_error`` and a save schedule configured (as
Redis: ``save`` or ``snapshot_cron``), write commands answer -MISCONF until a
save succeeds (the connection's checked path, see ShardConnection.execute).
"""

from __future__ import annotations

import asyncio
import glob
import logging
import os
import threading
import time

from cluster import errors
from cluster.errors import CommandError
from cluster.snapshot_id import created_ms
from shardnode.functions import library_codes
from shardnode.rdb.save import PointInTimeSave
from shardnode.rdb.snapshot import (
    fsync_dir,
    ready_name,
    roll_forward,
    shard_file_name,
    summary_file_name,
    summary_json,
)

log = logging.getLogger("damselfly.shard")

# Seconds of serialising per event-loop turn while a BGSAVE runs: a client's
# request that arrives during a step waits about this long behind it.
STEP_BUDGET_S = 0.001
# Seconds a BGSAVE rests after a step while the shard serves commands (it
# served one in the last SERVING_WINDOW_S): the save then uses about a
# quarter of a core, not all of it.
# Run back to back, the steps make every shard CPU-bound at once (one shard
# per core), and the kernel then leaves the proxy and the clients waiting in
# the run queue: perf sched on the 2-core box showed both shards running 155
# of 165 ms while the probe client and redis-benchmark waited 164 and 281 ms
# to be scheduled, with no event loop stalled (README, "Snapshots").  Rests of
# 1, 2 and 3 ms after 1 ms steps measured p99 21-45, 12-22 and 12-16 ms,
# against 21-55 ms for 2 ms steps without rests, in one run on that busy box
# (p99 4-11 ms there with no save).  A shard that serves nobody saves at full
# speed.
STEP_REST_S = 0.003
# How long after its last command a shard still counts as serving.  Not "since
# the last step": when the machine is busy the clients' requests stop coming
# because the clients wait for a CPU, and a save that took that quiet for
# idleness ran flat out and kept them waiting (in one bench run such a save
# took 1.8 s where the others took 3-6 s, with a 0.9 s stall in it).
SERVING_WINDOW_S = 1.0
# A BGSAVE agreed to in the first round (HOLD) whose second round never came
# (its proxy worker died between the two) stops blocking new saves after this.
HOLD_EXPIRES_S = 10.0
_now = time.monotonic  # (tests replace it)
STARTED = "Background saving started"
SCHEDULED = "Background saving scheduled"


class SaveFailed(Exception):
    """A save that could not be written; the message says why."""


# A BGSAVE's bytes waiting for the writer thread at most; past this the save's
# steps wait (without blocking the shard) for the disk to catch up.
MAX_PENDING_BYTES = 8 << 20


# -- files ------------------------------------------------------------------------

class ThreadedWriter:
    """``write(bytes)`` for a BGSAVE: the bytes go to one thread that writes
    them to ``stream`` in order, so the shard's event loop never waits for
    the disk (a write can stall for long when the kernel throttles dirty
    pages).  ``pending`` bytes are not written yet; the first error is kept
    in ``error`` and raised by the next :meth:`write` and by :meth:`drain`."""

    def __init__(self, stream):
        from concurrent.futures import ThreadPoolExecutor

        self.stream = stream
        self.pending = 0
        self.error: OSError | None = None
        self._lock = threading.Lock()
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="bgsave-writer")

    def write(self, data) -> None:
        if self.error is not None:
            raise self.error
        with self._lock:
            self.pending += len(data)
        self._thread.submit(self._write, data)

    def _write(self, data) -> None:
        try:
            if self.error is None:
                view = memoryview(data)
                while view:
                    view = view[self.stream.write(view):]
        except OSError as exc:
            self.error = exc
        finally:
            with self._lock:
                self.pending -= len(data)

    def drain(self) -> None:
        """Wait for every write (call off the event loop); raise the error."""
        self._thread.shutdown(wait=True)
        if self.error is not None:
            raise self.error


class ShardFile:
    """The files of one shard's save in ``directory``: the one being written,
    the complete one waiting for the commit, and its final name."""

    def __init__(self, directory: str, dbfilename: str, index: int, count: int,
                 snapshot_id: str):
        self.directory = directory
        self.dbfilename = dbfilename
        self.index, self.count, self.snapshot_id = index, count, snapshot_id
        self.final = os.path.join(directory, shard_file_name(dbfilename, index, count))
        self.partial = self.final + ".partial"
        self.ready = ready_name(self.final, snapshot_id)
        self.stream = None
        self.writer: ThreadedWriter | None = None

    def open(self, threaded: bool = False):
        """The stream to write the save to; ``threaded``: a
        :class:`ThreadedWriter` in front of the file (BGSAVE)."""
        roll_forward(self.directory, self.dbfilename)  # a commit a crash cut short
        for stale in glob.glob(glob.escape(self.final) + ".*.ready"):
            _unlink(stale)
        try:
            self.stream = open(self.partial, "wb", buffering=0)
        except OSError as exc:
            raise SaveFailed("cannot create %s: %s" % (self.partial, exc.strerror)) from None
        if threaded:
            self.writer = ThreadedWriter(self.stream)
            return self.writer
        return self.stream

    def sync(self) -> None:
        if self.writer is not None:
            self.writer.drain()
        os.fsync(self.stream.fileno())

    def sync_and_complete(self) -> bool:
        self.sync()
        return self.complete()

    def complete(self) -> bool:
        """Close, rename to ``.ready``, commit if the set is complete."""
        self.stream.close()
        self.stream = None
        os.rename(self.partial, self.ready)
        return commit_if_complete(self.directory, self.dbfilename, self.count, self.snapshot_id)

    def discard(self) -> None:
        if self.writer is not None:
            try:
                self.writer.drain()
            except OSError:
                pass
            self.writer = None
        if self.stream is not None:
            try:
                self.stream.close()
            except OSError:
                pass
            self.stream = None
        _unlink(self.partial)


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


# A test hook: the commit step at which the committing thread stops for good,
# so a test can kill -9 the shard there and check that one whole snapshot
# remains.
CRASH_AT_ENV = "DAMSELFLY_TEST_CRASH_IN_COMMIT"
COMMIT_STEPS = ("ready", "summary-written", "committed", "renamed-one", "renamed-all")


def _crash_point(step: str) -> None:
    if os.environ.get(CRASH_AT_ENV) == step:
        log.warning("test hook %s=%s: stopping the commit", CRASH_AT_ENV, step)
        threading.Event().wait()


def commit_if_complete(directory: str, dbfilename: str, count: int, snapshot_id: str) -> bool:
    """Commit snapshot ``snapshot_id`` if every shard's file is ready (see
    the module doc); True if this call committed it.

    The summary's rename is the commit point: it names the new files (sizes
    and trailers read from the ``.ready`` files), which are renamed into
    place only after it.  A crash before it leaves the previous snapshot
    whole (its files and summary untouched); a crash after it leaves a
    summary whose files are either in place or still ``.ready``, and
    :func:`shardnode.rdb.snapshot.roll_forward` (run by the next load and
    the next save) finishes those renames."""
    finals = [os.path.join(directory, shard_file_name(dbfilename, i, count)) for i in range(count)]
    readies = [ready_name(f, snapshot_id) for f in finals]
    if not all(os.path.exists(r) for r in readies):
        return False
    stem = os.path.splitext(dbfilename)[0]
    lock = os.path.join(directory, "%s.%s.commit" % (stem, snapshot_id))
    try:
        os.close(os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
    except FileExistsError:
        return False  # another shard is committing it
    try:
        entries = []
        for i, (ready, final) in enumerate(zip(readies, finals)):
            with open(ready, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                f.seek(-8, os.SEEK_END)
                trailer = int.from_bytes(f.read(8), "little")
            entries.append((os.path.basename(final), i, size, trailer))
        fsync_dir(directory)  # the .ready names are durable before the summary names them
        _crash_point("ready")
        summary = os.path.join(directory, summary_file_name(dbfilename))
        temporary = "%s.%s.tmp" % (summary, snapshot_id)
        with open(temporary, "wb") as f:
            f.write(summary_json(snapshot_id, created_ms(snapshot_id), entries))
            f.flush()
            os.fsync(f.fileno())
        _crash_point("summary-written")
        os.rename(temporary, summary)
        fsync_dir(directory)  # the commit point
        _crash_point("committed")
        for ready, final in zip(readies, finals):
            os.rename(ready, final)
            _crash_point("renamed-one")
        _crash_point("renamed-all")
        fsync_dir(directory)
    finally:
        _unlink(lock)
    return True


# -- the shard's state -----------------------------------------------------------

class ShardSnapshots:
    """Everything about this shard's saves: the one running, the one
    scheduled after it, and what INFO persistence and LASTSAVE report."""

    def __init__(self, server):
        self.server = server
        self.running: PointInTimeSave | None = None
        self.running_started = 0.0
        self.task = None
        self.scheduled = None  # (snapshot_id, count): a BGSAVE to start after this command
        # (snapshot_id, count, since): a server-wide BGSAVE this shard agreed to,
        # waiting for the proxy's word that every other shard agreed (DF.SAVEGO).
        self.held = None
        self.lastsave = int(time.time())  # Redis: the start counts as a save
        self.last_ok = True
        self.peer_failed = False  # DF.MISCONF: another shard's save failed
        self.last_try = 0.0
        self.last_time_sec = -1
        self.saves = 0
        self.dirty_at_start = 0
        self._file = None  # the ShardFile of the save in progress

    # -- checks ------------------------------------------------------------------

    def check_count(self, count: int) -> None:
        shards = len(self.server.topology.shards)
        if count != shards:
            raise CommandError("ERR snapshot for %d shards, but this server has %d" % (count, shards))

    @property
    def snapshot_ok(self) -> bool:
        """The last snapshot succeeded: this shard's file and, as far as
        the proxy has told (DF.MISCONF), every other shard's."""
        return self.last_ok and not self.peer_failed

    def set_peer_failed(self, failed: bool) -> None:
        self.peer_failed = failed
        self.server.set_write_check(failed)

    def writes_refused(self) -> bool:
        """Redis's writeCommandsDeniedByDiskError for RDB."""
        config = self.server.config
        return (not self.snapshot_ok and config.stop_writes_on_bgsave_error
                and bool(config.save.strip() or config.snapshot_cron.strip()))

    # -- starting ----------------------------------------------------------------

    def _begin(self, snapshot_id: str, count: int, threaded: bool = False):
        server = self.server
        if server.loading:  # a snapshot of half the data would replace all of it
            raise CommandError(errors.LOADING)
        config = server.config
        shard_file = ShardFile(config.dir, config.dbfilename, server.index, count, snapshot_id)
        self.last_try = time.time()
        try:
            stream = shard_file.open(threaded)
        except SaveFailed as exc:
            self._failed(str(exc))
            raise
        owner, index = server.slot_owner, server.index
        save = PointInTimeSave(
            server.keyspace, stream, lambda slot: owner[slot] == index,
            aux={b"df-shard": index, b"df-shards": count, b"df-snapshot": snapshot_id.encode()},
            functions=library_codes(), compress=config.rdbcompression,
            checksum=config.rdbchecksum)
        self.dirty_at_start = server.keyspace.dirty
        self.running_started = time.time()
        try:
            save.start()
        except OSError as exc:
            save.close()
            shard_file.discard()
            self._failed("writing %s: %s" % (shard_file.partial, exc.strerror))
            raise SaveFailed(exc.strerror) from None
        self.running = save
        self._file = shard_file
        return save, shard_file

    def save(self, snapshot_id: str, count: int) -> None:
        """SAVE: the whole file now, blocking this shard; raises SaveFailed."""
        if self.running is not None:
            raise CommandError(errors.BGSAVE_IN_PROGRESS)
        save, shard_file = self._begin(snapshot_id, count)
        try:
            save.run_to_end()
            shard_file.sync()
            shard_file.complete()
        except OSError as exc:
            self._abort(save, shard_file, exc)
            raise SaveFailed(exc.strerror) from None
        self._succeeded(save)

    def bgsave(self, snapshot_id: str, count: int, later: bool = False, hold: bool = False) -> str:
        """BGSAVE: start the save and return its reply.  As in Redis 7.0 a
        save in progress is an error even with SCHEDULE (which only waits
        for other background work: here, none); ``later`` (BGSAVE inside a
        transaction) replies "scheduled" and starts it once the current
        command is done and no transaction holds locks on this shard.
        ``hold``: agree to the save but start it only on :meth:`go` -- the
        proxy's first round, so that a shard still busy with the last save
        refuses the new one before any other shard has started its part."""
        if self.held is not None and time.monotonic() - self.held[2] > HOLD_EXPIRES_S:
            self.held = None  # its proxy worker went away between the two rounds
        if self.running is not None or self.scheduled is not None or self.held is not None:
            raise CommandError(errors.BGSAVE_IN_PROGRESS)
        if self.server.loading:
            raise CommandError(errors.LOADING)
        if hold:
            self.held = (snapshot_id, count, time.monotonic())
            return STARTED
        if later:
            self.scheduled = (snapshot_id, count)
            asyncio.get_running_loop().call_soon(self._start_scheduled)
            return SCHEDULED
        try:
            save, shard_file = self._begin(snapshot_id, count, threaded=True)
        except SaveFailed:
            # Redis's child fails to open the file after "started" was
            # replied: the failure shows in the status and the log.
            return STARTED
        self.task = asyncio.ensure_future(self._background(save, shard_file))
        return STARTED

    async def _background(self, save, shard_file) -> None:
        loop = asyncio.get_running_loop()
        writer = shard_file.writer
        server = self.server
        served = server.stat_commands
        last_served = None  # when a command was last seen served (BGSAVE's own is not)
        try:
            while not save.step(STEP_BUDGET_S):
                now = _now()
                if server.stat_commands != served:
                    served = server.stat_commands
                    last_served = now
                if last_served is not None and now - last_served < SERVING_WINDOW_S:
                    await asyncio.sleep(STEP_REST_S)  # clients are served: leave them the CPU
                else:
                    await asyncio.sleep(0)
                while writer.pending > MAX_PENDING_BYTES and writer.error is None:
                    await asyncio.sleep(0.001)  # the disk is behind: let it catch up
            # fsync, rename and (the last shard) commit: disk waits, off the loop.
            await loop.run_in_executor(None, shard_file.sync_and_complete)
        except OSError as exc:
            self._abort(save, shard_file, exc)
        except asyncio.CancelledError:
            raise  # abandon() cleaned up, and may have started another save
        else:
            self._succeeded(save)
        finally:
            if self.task is asyncio.current_task():
                self.task = None

    @property
    def busy(self) -> bool:
        """A BGSAVE runs or is agreed to: what BGREWRITEAOF waits for, and
        INFO's rdb_bgsave_in_progress (a client that pipelines BGSAVE and
        BGREWRITEAOF sees the save as running, as Redis's fork makes it)."""
        return self.running is not None or self.held is not None

    def go(self, snapshot_id: str, start: bool) -> None:
        """The proxy's second round of a held BGSAVE: every shard agreed
        (start it now) or one refused (drop it)."""
        if self.held is None or self.held[0] != snapshot_id:
            return
        count = self.held[1]
        self.held = None
        if start:
            try:
                self.bgsave(snapshot_id, count)
                return
            except CommandError as exc:  # loading began since: nothing to save
                log.warning("Background saving not started: %s", exc.args[0])
        self._ended()  # a BGREWRITEAOF that waited for this save

    def _start_scheduled(self) -> None:
        if self.server.locks.held:  # a transaction still runs here: its end is in the cut
            asyncio.get_running_loop().call_later(0.001, self._start_scheduled)
            return
        snapshot_id, count = self.scheduled
        self.scheduled = None
        try:
            self.bgsave(snapshot_id, count)
        except CommandError:
            pass  # logged by _failed

    # -- outcomes ----------------------------------------------------------------

    def _abort(self, save, shard_file, exc: OSError) -> None:
        save.close()
        where = shard_file.partial if shard_file.stream is not None else shard_file.directory
        shard_file.discard()
        self._failed("writing %s: %s" % (where, exc.strerror or exc))

    def _failed(self, why: str) -> None:
        self.running = None
        self._file = None
        self.last_ok = False
        log.warning("Background saving error: %s", why)
        self.server.set_write_check(True)
        self._ended()

    def _succeeded(self, save) -> None:
        keyspace = self.server.keyspace
        self.running = None
        self._file = None
        self.last_ok = True
        self.last_time_sec = int(round(time.time() - self.running_started))
        self.lastsave = int(time.time())
        self.saves += 1
        keyspace.dirty = max(0, keyspace.dirty - self.dirty_at_start)
        keyspace.journal.sync()
        self.server.set_write_check(False)
        log.info("DB saved on disk: %d keys, %d bytes; %d keys serialised ahead by writes, "
                 "%d bytes waiting at most", save.keys_saved, save.bytes_written,
                 save.keys_ahead, save.peak_early_bytes)
        self._ended()

    def _ended(self) -> None:
        """A save is over: a BGREWRITEAOF that waited for it starts."""
        aof = self.server.aof
        if aof.rewrite_scheduled:
            try:
                asyncio.get_running_loop().call_soon(aof.start_scheduled_rewrite)
            except RuntimeError:
                pass  # no loop: the shard is stopping

    def reload_in_place(self) -> None:
        """DEBUG RELOAD: this shard's keyspace through an RDB file and back
        (a file of its own in ``dir``, removed after), so every value is
        what loading its saved form gives, as Redis's test suites expect."""
        from shardnode.rdb.snapshot import LoadProgress, SnapshotFiles, load_files

        if self.running is not None:
            raise CommandError(errors.BGSAVE_IN_PROGRESS)
        server = self.server
        config = server.config
        path = os.path.join(config.dir, "debug-reload-%d.rdb" % server.index)
        owner, index = server.slot_owner, server.index
        try:
            with open(path, "wb") as stream:
                save = PointInTimeSave(server.keyspace, stream, lambda s: owner[s] == index,
                                       functions=library_codes(),
                                       compress=config.rdbcompression)
                save.start()
                save.run_to_end()
            for db in server.keyspace.dbs:
                db.clear()
            for _ in load_files(SnapshotFiles([path], None, "snapshot"), server.keyspace,
                                lambda s: owner[s] == index, config, LoadProgress(), []):
                pass
        except OSError as exc:
            raise CommandError("ERR Error trying to save the DB: %s" % exc.strerror) from None
        finally:
            _unlink(path)

    # -- reporting ---------------------------------------------------------------

    def info_fields(self) -> list:
        now = time.time()
        running = self.running is not None
        return [
            ("rdb_changes_since_last_save", self.server.keyspace.dirty),
            ("rdb_bgsave_in_progress", 1 if self.busy else 0),
            ("rdb_last_save_time", self.lastsave),
            ("rdb_last_bgsave_status", "ok" if self.last_ok else "err"),
            ("rdb_last_bgsave_time_sec", self.last_time_sec),
            ("rdb_current_bgsave_time_sec", int(now - self.running_started) if running else -1),
            ("rdb_saves", self.saves),
        ]

    def abandon(self) -> None:
        """Drop the save in progress at once (its partial file too): the
        shard is stopping and saves in the foreground instead."""
        self.held = None
        if self.task is not None:
            self.task.cancel()
            self.task = None
        if self.running is not None:
            self.running.close()
            self.running = None
        if self._file is not None:
            self._file.discard()
            self._file = None
