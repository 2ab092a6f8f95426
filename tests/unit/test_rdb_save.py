"""PointInTimeSave (shardnode/rdb/save.py): the file is the keyspace as it
was at start(), whatever writes, deletes, expiries, FLUSHDB and SWAPDB
happen between its steps."""

import io
import random

from shardnode.db import Keyspace
from shardnode.rdb.file import RdbKey, read_rdb
from shardnode.rdb.save import PointInTimeSave


def _image(keyspace):
    out = {}
    for db in keyspace.dbs:
        for bucket in db.slots.values():
            for key, value in bucket.entries():
                out[(db.index, key)] = (value, db.expires.get(key))
    return out


def _read(data):
    return {(r.db, r.key): (r.value, r.expire_ms) for r in read_rdb(data) if type(r) is RdbKey}


def _filled(n=3000):
    ks = Keyspace(4, clock=lambda: 1_000_000)
    for i in range(n):
        db = ks.dbs[i % 3]
        db.set(b"k%d" % i, b"v%d" % i)
        if i % 7 == 0:
            db.set_deadline(b"k%d" % i, 2_000_000 + i)
    return ks


def test_untouched_keyspace_saves_every_key():
    ks = _filled()
    before = _image(ks)
    out = io.BytesIO()
    save = PointInTimeSave(ks, out, lambda slot: True)
    save.start()
    while not save.step(budget_s=0, min_keys=10):
        pass
    assert _read(out.getvalue()) == before
    assert not ks.write_listeners


def test_writes_during_the_save_do_not_reach_the_file():
    ks = _filled()
    before = _image(ks)
    out = io.BytesIO()
    save = PointInTimeSave(ks, out, lambda slot: True)
    save.start()
    rng = random.Random(7)
    steps = 0
    while not save.step(budget_s=0, min_keys=20):
        steps += 1
        for _ in range(30):
            i = rng.randrange(4000)
            db = ks.dbs[rng.randrange(3)]
            action = rng.randrange(4)
            if action == 0:
                db.set(b"k%d" % i, b"new")
            elif action == 1:
                db.delete(b"k%d" % i)
            elif action == 2 and db.exists(b"k%d" % i):
                db.set_deadline(b"k%d" % i, 5)
            else:
                db.persist(b"k%d" % i)
        if steps == 5:
            ks.dbs[2].clear()  # FLUSHDB of a database not reached yet
        if steps == 8:
            ks.swap(0, 1)
    assert steps > 10
    assert save.peak_early_bytes > 0
    assert _read(out.getvalue()) == before


def test_only_owned_slots_are_saved():
    ks = _filled(500)
    out = io.BytesIO()
    save = PointInTimeSave(ks, out, lambda slot: slot < 8192)
    save.start()
    save.run_to_end()
    from cluster.slots import key_slot

    expected = {k: v for k, v in _image(ks).items() if key_slot(k[1]) < 8192}
    assert _read(out.getvalue()) == expected
