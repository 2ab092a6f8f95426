"""The forkless, point-in-time serialiser of one shard's keyspace (sans-IO).

A :class:`PointInTimeSave` turns the keyspace as it was at :meth:`start`
into one RDB file, written through an :class:`RdbFileWriter` to any stream,
in small steps (:meth:`step`) that the shard runs between event-loop turns
while clients keep writing.  No fork and no copy of the dataset: what keeps
the file a point-in-time image is the key-level write hook
(``Keyspace.write_listeners``, attached by :meth:`start` and removed by
:meth:`close`):

- The buckets are the hash slots of each database (``Database.slots``), and
  the file holds them in order: db 0's slots ascending, then db 1's ...
- A write to a key whose bucket is not saved yet serialises that whole
  bucket first (:meth:`on_write`), before the write changes it.  Those
  bytes wait in :attr:`early` until the walk reaches the bucket's place in
  the file; a bucket of a database the walk has not reached yet waits there
  too, as serialised bytes.  So the extra memory is bounded by the buckets
  written to during the save, never the dataset.
- FLUSHDB/FLUSHALL replace a database's dicts (``Database.clear``) instead
  of emptying them, so the dicts captured at the start stay the snapshot's
  view, unmutated; a write to a flushed database touches its new dicts and
  is ignored here.  SWAPDB moves Database objects between indexes without
  touching their dicts; the capture is per object, so it needs nothing.
- Keys whose deadline has passed but that are still in the keyspace are
  saved with their deadline (a loader drops them, as Redis does).
- Only slots this shard owns are saved: a key borrowed from another shard
  for one cross-shard command (``Database.borrow``) is not this shard's.

The RESIZEDB counts of each database are its key and TTL counts at the start.
"""

from __future__ import annotations

from time import perf_counter

from shardnode.rdb.file import RdbFileWriter


class _Chunks(list):
    """A sink for a scratch writer: keeps the chunks it is handed."""
    write = list.append


class _DbCapture:
    """One database as the snapshot sees it: its dicts at the start, the
    sorted owned slots to walk, and the slots already serialised."""

    __slots__ = ("index", "slots", "expires", "order", "done", "keys", "ttls")

    def __init__(self, index, db, owns_slot):
        self.index = index
        self.slots = db.slots
        self.expires = db.expires
        self.order = sorted(s for s in db.slots if owns_slot(s))
        self.done = bytearray(16384)  # 1: serialised (in the file, or in early)
        # RESIZEDB's counts, a hint for the loader's table sizes: O(1) here
        # (between commands a database holds only keys of owned slots).
        self.keys = db.size
        self.ttls = len(db.expires)




class PointInTimeSave:
    """One shard's save in progress; see the module doc.

    ``aux`` are extra AUX fields for the header (shard index, count and the
    snapshot id); ``functions`` the FUNCTION libraries' code to save.
    """

    def __init__(self, keyspace, stream, owns_slot, *, aux=None, functions=(),
                 compress=True, checksum=True, used_mem=0):
        self.keyspace = keyspace
        self.owns_slot = owns_slot
        self.writer = RdbFileWriter(stream, compress, checksum)
        self.compress = compress
        self.aux = aux or {}
        self.functions = list(functions)
        self.used_mem = used_mem
        self.captures: dict = {}  # Database object -> _DbCapture
        self.order: list = []  # the captures, by database index at the start
        self.early: dict = {}  # (capture, slot) -> (bytes, keys) serialised by on_write
        self.early_bytes = 0
        self.peak_early_bytes = 0
        self.keys_ahead = 0  # keys serialised by on_write, ahead of the walk
        self.keys_saved = 0
        self._db_pos = 0  # which capture the walk is in
        self._slot_pos = -1  # -1: its SELECTDB is not written yet
        self.finished = False

    # -- the life of a save ------------------------------------------------

    def start(self) -> None:
        """Capture every database and attach the write hook: from here on
        the file is the keyspace as it is now."""
        for index, db in enumerate(self.keyspace.dbs):
            capture = _DbCapture(index, db, self.owns_slot)
            self.captures[db] = capture
            self.order.append(capture)
        self.keyspace.write_listeners.append(self.on_write)
        self.writer.write_header(used_mem=self.used_mem, aux=self.aux)
        for code in self.functions:
            self.writer.write_function(code)

    def close(self) -> None:
        """Detach the hook (done, failed or cancelled) and drop what waits."""
        listeners = self.keyspace.write_listeners
        if self.on_write in listeners:
            listeners.remove(self.on_write)
        self.early.clear()
        self.early_bytes = 0

    def step(self, budget_s: float = 0.002, min_keys: int = 64) -> bool:
        """Write buckets for about ``budget_s`` seconds (at least one
        bucket); True once the whole file, trailer included, is written."""
        if self.finished:
            return True
        deadline = perf_counter() + budget_s
        written = 0
        order = self.order
        while self._db_pos < len(order):
            capture = order[self._db_pos]
            if self._slot_pos < 0:
                self._slot_pos = 0
                if capture.keys:
                    self.writer.select_db(capture.index, capture.keys, capture.ttls)
            slots = capture.order
            while self._slot_pos < len(slots):
                slot = slots[self._slot_pos]
                self._slot_pos += 1
                written += self._write_bucket(capture, slot)
                if written >= min_keys and perf_counter() >= deadline:
                    return False
            self._db_pos += 1
            self._slot_pos = -1
        self.writer.finish()
        self.finished = True
        self.close()
        return True

    def run_to_end(self) -> None:
        """The whole save in one go (SAVE, SHUTDOWN SAVE)."""
        while not self.step(budget_s=3600.0):
            pass

    # -- buckets -------------------------------------------------------------

    def _write_bucket(self, capture, slot) -> int:
        """Put bucket ``slot`` at its place in the file; keys written."""
        if capture.done[slot]:
            data, count = self.early.pop((capture, slot), (b"", 0))
            if not count:
                return 0
            self.early_bytes -= len(data)
            out = self.writer
            out.out.write_raw(data)
            out.keys_written += count
            if len(out.out.buffer) >= 1 << 16:
                out.flush()
            self.keys_saved += count
            return count
        capture.done[slot] = 1
        bucket = capture.slots.get(slot)
        if not bucket:
            return 0
        self.writer.write_bucket(bucket, capture.expires)
        self.keys_saved += len(bucket)
        return len(bucket)

    def on_write(self, db, key, slot) -> None:
        """The write hook: serialise the bucket ``key`` lives in if it is
        not saved yet, before the write changes it."""
        capture = self.captures.get(db)
        if capture is None or capture.done[slot] or db.slots is not capture.slots:
            return  # not captured, saved already, or flushed since the start
        if not self.owns_slot(slot):
            return
        capture.done[slot] = 1
        bucket = capture.slots.get(slot)
        if not bucket:
            return  # a bucket born after the start: not in the snapshot
        data = self._serialise(bucket, capture.expires)
        self.early[(capture, slot)] = (data, len(bucket))
        self.keys_ahead += len(bucket)
        self.early_bytes += len(data)
        if self.early_bytes > self.peak_early_bytes:
            self.peak_early_bytes = self.early_bytes

    def _serialise(self, bucket, expires) -> bytes:
        chunks = _Chunks()
        scratch = RdbFileWriter(chunks, self.compress)
        scratch.write_bucket(bucket, expires)
        chunks.append(scratch.out.take())
        return b"".join(chunks)

    # -- progress ------------------------------------------------------------

    @property
    def bytes_written(self) -> int:
        return self.writer.bytes_written
