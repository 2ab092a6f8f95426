"""Keyspace commands on a shard (Redis's db.c, expire.c, object.c).

Commands that read a key's metadata (TYPE, TTL, EXISTS, OBJECT) look it up
with ``db.peek`` so they do not count as an access, as Redis's
LOOKUP_NOTOUCH.  RENAME/RENAMENX/COPY see both keys as local: when they live
on different shards the proxy's coordinator runs them here through DF.RUN.
"""

from cluster import errors
from cluster.args import parse_db_number, parse_int
from cluster.cursor import parse_cursor, parse_scan_options
from cluster.errors import CommandError
from cluster.glob import matcher
from shardnode.eviction import LRU_CLOCK_MAX, lru_idle_seconds
from shardnode.journal import journal_as
from shardnode.notify import GENERIC, notify
from shardnode.registry import handler
from shardnode.values import (
    TYPE_NAMES,
    copy_value,
    dump_payload,
    encoding_of,
    load_payload,
    string_encoding,
    type_name,
)

_LLONG_MAX = 2**63 - 1
_LLONG_MIN = -(2**63)


def in_cluster(conn) -> bool:
    """A client on a shard port in sharded mode: Redis Cluster's db rules apply.

    Proxy links are exempt: through the proxy, damselfly is a single Redis.
    """
    return conn.server.sharded and not conn.internal


def _db_index(conn, raw: bytes) -> int:
    """A database number as Redis's getIntFromObject + selectDb check it."""
    index = parse_db_number(raw)
    if not 0 <= index < conn.server.config.dbnum:
        raise CommandError(errors.DB_INDEX_OUT_OF_RANGE)
    return index


# -- existence and deletion ------------------------------------------------


@handler("del", "unlink")
def del_(conn, args):
    db = conn.db
    return sum(1 for key in args[1:] if db.delete(key))


@handler("exists")
def exists(conn, args):
    db = conn.db
    return sum(1 for key in args[1:] if db.peek(key) is not None)


@handler("touch")
def touch(conn, args):
    """Counts existing keys and records the access even under NO-TOUCH."""
    db = conn.db
    count = 0
    for key in args[1:]:
        if db.peek(key) is not None:
            db.record_access(key)
            count += 1
    return count


@handler("type")
def type_(conn, args):
    value = conn.db.peek(args[1])
    return "none" if value is None else type_name(value)


# -- renaming, copying, moving ---------------------------------------------


def _rename(conn, args, nx: bool):
    db = conn.db
    src, dst = args[1], args[2]
    value = db.get(src)
    if value is None:
        raise CommandError(errors.NO_SUCH_KEY)
    if src == dst:
        return 0 if nx else "OK"
    deadline = db.deadline(src)
    if db.get(dst) is not None:
        if nx:
            return 0
        db.delete(dst)
    db.delete(src)
    db.set(dst, value)
    if deadline is not None:
        db.set_deadline(dst, deadline)
    notify(conn, GENERIC, b"rename_from", src)
    notify(conn, GENERIC, b"rename_to", dst)
    return 1 if nx else "OK"


@handler("rename")
def rename(conn, args):
    return _rename(conn, args, False)


@handler("renamenx")
def renamenx(conn, args):
    return _rename(conn, args, True)


@handler("copy")
def copy(conn, args):
    db = conn.db
    src, dst = args[1], args[2]
    target_index = None
    replace = False
    i = 3
    while i < len(args):
        opt = args[i].lower()
        if opt == b"replace":
            replace = True
        elif opt == b"db" and i + 1 < len(args):
            target_index = _db_index(conn, args[i + 1])
            i += 1
        else:
            raise CommandError(errors.SYNTAX)
        i += 1
    if in_cluster(conn) and (conn.db_index != 0 or target_index not in (None, 0)):
        raise CommandError(errors.COPY_DB_IN_CLUSTER)
    target = db if target_index is None else conn.server.keyspace.dbs[target_index]
    if target is db and src == dst:
        raise CommandError(errors.SAME_OBJECT)
    value = db.get(src)
    if value is None:
        return 0
    deadline = db.deadline(src)
    if target.get(dst) is not None:
        if not replace:
            return 0
        target.delete(dst)
    target.set(dst, copy_value(value))
    if deadline is not None:
        target.set_deadline(dst, deadline)
    return 1


@handler("move")
def move(conn, args):
    if in_cluster(conn):
        raise CommandError(errors.MOVE_IN_CLUSTER)
    db = conn.db
    key = args[1]
    target = conn.server.keyspace.dbs[_db_index(conn, args[2])]
    if target is db:
        raise CommandError(errors.SAME_OBJECT)
    value = db.get(key)
    if value is None:
        return 0
    if target.get(key) is not None:
        return 0
    deadline = db.deadline(key)
    target.set(key, value)
    if deadline is not None:
        target.set_deadline(key, deadline)
    db.delete(key)
    notify(conn, GENERIC, b"move_from", key)
    notify(conn, GENERIC, b"move_to", key, target.index)
    return 1


# -- serialisation ---------------------------------------------------------


@handler("dump")
def dump(conn, args):
    value = conn.db.get(args[1])
    return None if value is None else dump_payload(value)


def _lru_stamp_as_redis_keeps_it(clock: int, idle: int) -> int:
    """The LRU clock word Redis stores for RESTORE ... IDLETIME ``idle``.

    Redis stores the access time in a 24-bit clock, so an idle time past
    2**24 - 1 seconds (194 days) wraps, and one above LLONG_MAX / 1000
    overflows its ms scaling first (objectSetLRUOrLFU); OBJECT IDLETIME then
    reads what is left.  Reproduced so both servers report the same idle time.
    """
    scaled = (idle * 1000 + 2**63) % 2**64 - 2**63  # int64 overflow of idle * 1000
    idle = abs(scaled) // 1000 * (1 if scaled >= 0 else -1)  # C division truncates
    lru = clock - idle
    if lru < 0:
        lru += LRU_CLOCK_MAX
    return lru & LRU_CLOCK_MAX


@handler("restore")
def restore(conn, args):
    """RESTORE key ttl payload [REPLACE] [ABSTTL] [IDLETIME s] [FREQ f].

    Checks run in Redis's order (restoreCommand): the options, BUSYKEY, the
    TTL, then the payload (version and CRC-64, then its contents).  A TTL that
    is already due (ABSTTL in the past, or a relative TTL that overflows)
    creates nothing and still replies OK; with REPLACE the old key is gone.
    IDLETIME sets the access time OBJECT IDLETIME reads, FREQ the LFU counter
    OBJECT FREQ reads; each only under the policies that keep it (IDLETIME
    under LRU-keeping ones, FREQ under LFU ones), as in Redis.
    """
    replace = absttl = False
    idle = freq = None
    i, argc = 4, len(args)
    while i < argc:
        option = args[i].lower()
        has_value = i + 1 < argc
        if option == b"replace":
            replace = True
        elif option == b"absttl":
            absttl = True
        elif option == b"idletime" and has_value and freq is None:
            idle = parse_int(args[i + 1])
            if idle < 0:
                raise CommandError(errors.INVALID_IDLETIME)
            i += 1
        elif option == b"freq" and has_value and idle is None:
            freq = parse_int(args[i + 1])
            if not 0 <= freq <= 255:
                raise CommandError(errors.INVALID_FREQ)
            i += 1
        else:
            raise CommandError(errors.SYNTAX)
        i += 1
    db = conn.db
    key = args[1]
    if not replace and db.get(key) is not None:
        raise CommandError(errors.BUSYKEY)
    ttl = parse_int(args[2])
    if ttl < 0:
        raise CommandError(errors.INVALID_TTL)
    value = load_payload(args[3], conn.server.config)
    if replace:
        db.delete(key)
    keyspace = conn.server.keyspace
    now = keyspace.now_ms
    if ttl and not absttl:
        ttl += now
    if ttl and (ttl <= now or ttl > _LLONG_MAX):  # past, or wrapped negative in C
        journal_as(conn, [b"DEL", key])  # only REPLACE changed anything
        return "OK"
    db.set(key, value)
    if ttl:
        db.set_deadline(key, ttl)
        if not absttl:  # journalled with the absolute deadline, as Redis propagates it
            journal_as(conn, [args[0], key, b"%d" % ttl] + list(args[3:]) + [b"ABSTTL"])
    if idle is not None and not keyspace.lfu:
        db.set_stamp(key, _lru_stamp_as_redis_keeps_it(keyspace.lru_clock, idle))
    elif freq is not None and keyspace.lfu:
        keyspace.evictor.set_frequency(db, key, freq)
    return "OK"


# -- expiry ----------------------------------------------------------------

_EXPIRE_FLAGS = {b"nx": 1, b"xx": 2, b"gt": 4, b"lt": 8}


def _expire(conn, args, name: str, unit_ms: int, absolute: bool):
    """EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT with NX/XX/GT/LT (Redis 7).

    Journalled with the absolute deadline, ``PEXPIREAT k <ms>`` and the
    options as sent (as Redis 7.0 propagates it), or ``DEL k`` when the
    deadline has passed already.
    """
    flags = 0
    for opt in args[3:]:
        flag = _EXPIRE_FLAGS.get(opt.lower())
        if flag is None:
            raise CommandError("ERR Unsupported option %s" % errors.echo(opt))
        flags |= flag
    if flags & 1 and flags & 14:
        raise CommandError("ERR NX and XX, GT or LT options at the same time are not compatible")
    if flags & 12 == 12:
        raise CommandError("ERR GT and LT options at the same time are not compatible")
    when = parse_int(args[2])
    if unit_ms == 1000:
        # C division truncates: LLONG_MIN / 1000 is -9223372036854775.
        if when > _LLONG_MAX // 1000 or when < -(-_LLONG_MIN // 1000):
            raise CommandError(errors.INVALID_EXPIRE.format(name))
        when *= 1000
    now = conn.server.keyspace.now_ms
    if not absolute:
        if when > _LLONG_MAX - now:
            raise CommandError(errors.INVALID_EXPIRE.format(name))
        when += now
    db = conn.db
    key = args[1]
    if db.get(key) is None:
        return 0
    if flags:
        current = db.deadline(key)
        if flags & 1 and current is not None:
            return 0
        if flags & 2 and current is None:
            return 0
        if flags & 4 and (current is None or when <= current):
            return 0
        if flags & 8 and current is not None and when >= current:
            return 0
    if when <= now:
        db.delete(key)
        journal_as(conn, [b"DEL", key])
    else:
        db.set_deadline(key, when)
        journal_as(conn, [b"PEXPIREAT", key, b"%d" % when, *args[3:]])
    return 1


# Name as sent (lower case) -> (name for errors, ms per unit, absolute).
_EXPIRE_KINDS = {
    b"expire": ("expire", 1000, False),
    b"pexpire": ("pexpire", 1, False),
    b"expireat": ("expireat", 1000, True),
    b"pexpireat": ("pexpireat", 1, True),
}


@handler("expire", "pexpire", "expireat", "pexpireat")
def expire(conn, args):
    return _expire(conn, args, *_EXPIRE_KINDS[args[0].lower()])


def _ttl(conn, key, in_ms: bool, absolute: bool) -> int:
    db = conn.db
    if db.peek(key) is None:
        return -2
    deadline = db.deadline(key)
    if deadline is None:
        return -1
    ttl = deadline if absolute else max(0, deadline - conn.server.keyspace.now_ms)
    return ttl if in_ms else (ttl + 500) // 1000


# Name as sent (lower case) -> (reply in ms, absolute deadline).
_TTL_KINDS = {
    b"ttl": (False, False),
    b"pttl": (True, False),
    b"expiretime": (False, True),
    b"pexpiretime": (True, True),
}


@handler("ttl", "pttl", "expiretime", "pexpiretime")
def ttl(conn, args):
    return _ttl(conn, args[1], *_TTL_KINDS[args[0].lower()])


@handler("persist")
def persist(conn, args):
    db = conn.db
    if db.get(args[1]) is None:
        return 0
    return 1 if db.persist(args[1]) else 0


# -- the whole keyspace ----------------------------------------------------


def _live_keys(db, keys, match, kind=None):
    """The keys of one bucket that are live, match and have the type."""
    out = []
    for key in keys:
        if match is not None and not match(key):
            continue
        value = db.peek(key)
        if value is None:
            continue
        if kind is not None and TYPE_NAMES.get(type(value)) != kind:
            continue
        out.append(key)
    return out


@handler("keys")
def keys(conn, args):
    db = conn.db
    match = matcher(args[1])
    out = []
    for bucket in list(db.slots.values()):
        out.extend(_live_keys(db, list(bucket), match))
    return out


@handler("scan")
def scan(conn, args):
    """One page of this shard's slots: the cursor is the next slot to visit.

    Cursor 0 is the start of the shard's range; whole slots are returned
    until COUNT keys were examined, so a key present for the whole scan is
    returned once at least.  A cursor outside the range is a finished scan.
    """
    cursor = parse_cursor(args[1])
    count, pattern, kind = parse_scan_options(args, 2, allow_type=True)
    first, last = conn.server.info.slots
    if cursor == 0:
        slot = first
    elif first <= cursor <= last:
        slot = cursor
    else:
        return [b"0", []]
    db = conn.db
    buckets = db.slots
    match = matcher(pattern) if pattern is not None else None
    out = []
    examined = 0
    while slot <= last:
        bucket = buckets.get(slot)
        slot += 1
        if bucket:
            examined += len(bucket)
            out.extend(_live_keys(db, list(bucket), match, kind))
            if examined >= count:
                break
    return [b"%d" % slot if slot <= last else b"0", out]


@handler("randomkey")
def randomkey(conn, args):
    return conn.db.random_key()


# -- OBJECT ----------------------------------------------------------------

_NO_LFU = ("ERR An LFU maxmemory policy is not selected, access frequency not tracked. "
           "Please note that when switching between policies at runtime LRU and LFU "
           "data will take some time to adjust.")
_LFU_SELECTED = ("ERR An LFU maxmemory policy is selected, idle time not tracked. "
                 "Please note that when switching between policies at runtime LRU and "
                 "LFU data will take some time to adjust.")
_SHARED_REFCOUNT = 2**31 - 1  # Redis's OBJ_SHARED_REFCOUNT (shared integers)


def _lfu(conn) -> bool:
    """The access words are LFU counters (an LFU policy, or cache mode)."""
    return conn.server.keyspace.lfu


@handler("object|encoding")
def object_encoding(conn, args):
    value = conn.db.peek(args[2])
    if value is None:
        return None
    return encoding_of(value).encode()


@handler("object|freq")
def object_freq(conn, args):
    """The key's LFU counter after decay (shardnode/eviction.py)."""
    db = conn.db
    value = db.peek(args[2])
    if value is None:
        return None
    if not _lfu(conn):
        raise CommandError(_NO_LFU)
    return conn.server.keyspace.evictor.frequency(db, args[2])


@handler("object|idletime")
def object_idletime(conn, args):
    db = conn.db
    key = args[2]
    if db.peek(key) is None:
        return None
    if _lfu(conn):
        raise CommandError(_LFU_SELECTED)
    return lru_idle_seconds(conn.server.keyspace.lru_clock, db.stamp(key))


@handler("object|refcount")
def object_refcount(conn, args):
    """Redis shares the integers 0..9999 unless an LRU/LFU policy forbids it."""
    value = conn.db.peek(args[2])
    if value is None:
        return None
    config = conn.server.config
    if type(value) is bytes and string_encoding(value) == "int" \
            and 0 <= int(value) < 10000 \
            and (not config.maxmemory or not config.maxmemory_policy.endswith(("lru", "lfu"))):
        return _SHARED_REFCOUNT
    return 1


@handler("object|help")
def object_help(conn, args):
    return [
        "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "ENCODING <key>",
        "    Return the kind of internal representation used in order to store the value",
        "    associated with a <key>.",
        "FREQ <key>",
        "    Return the access frequency index of the <key>. The returned integer is",
        "    proportional to the logarithm of the recent access frequency of the key.",
        "IDLETIME <key>",
        "    Return the idle time of the <key>, that is the approximated number of",
        "    seconds elapsed since the last access to the key.",
        "REFCOUNT <key>",
        "    Return the number of references of the value associated with the specified",
        "    <key>.",
        "HELP",
        "    Prints this help.",
    ]
