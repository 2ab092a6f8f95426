"""Redis's error replies, with their exact texts, in one place.

Clients and users match on these strings, so every module raises or returns
them from here rather than spelling them out again.  Texts are those of
Redis 7.0 (``src/server.c`` shared objects and the per-command messages).
"""

from __future__ import annotations


class CommandError(Exception):
    """An error reply.  ``str(err)`` is the text after the leading ``-``.

    Handlers raise it; the dispatcher encodes it.  An instance may also be
    placed inside an array reply (EXEC results), where it is encoded in place.
    """

    __slots__ = ()

    @property
    def text(self) -> str:
        return self.args[0]


class ProtocolError(Exception):
    """Malformed request bytes.  Final for the connection, as in Redis."""


# Generic argument errors (src/server.c createSharedObjects).
SYNTAX = "ERR syntax error"
# A monitor (a replica, to Redis) running a command that reads or writes keys.
MONITOR_KEYSPACE = "ERR Replica can't interact with the keyspace"
MUST_BE_POSITIVE = "ERR value is out of range, must be positive"
LONG_OUT_OF_RANGE = ("ERR value is out of range, value must between -9223372036854775807 and "
                     "9223372036854775807")
NUMKEYS_POSITIVE = "ERR numkeys should be greater than 0"
NUMKEYS_TOO_MANY = "ERR Number of keys can't be greater than number of args"
LIMIT_NEGATIVE = "ERR LIMIT can't be negative"
NOT_INTEGER = "ERR value is not an integer or out of range"
NOT_FLOAT = "ERR value is not a valid float"
MIN_MAX_NOT_FLOAT = "ERR min or max is not a float"  # score ranges (zslParseRange)
MIN_MAX_NOT_LEX = "ERR min or max not valid string range item"  # lex ranges
SHUTDOWN_FAILED = "ERR Errors trying to SHUTDOWN. Check logs."
NO_SHUTDOWN_IN_PROGRESS = "ERR No shutdown in progress."
WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
NO_SUCH_KEY = "ERR no such key"
OUT_OF_RANGE = "ERR index out of range"

# SORT (src/sort.c): a weight that is no double; BY patterns and GET refused
# with cluster mode enabled (Redis 7.0: whatever the pattern's hash tag).
SORT_NOT_DOUBLE = "ERR One or more scores can't be converted into double"
SORT_BY_IN_CLUSTER = "ERR BY option of SORT denied in Cluster mode."
SORT_GET_IN_CLUSTER = "ERR GET option of SORT denied in Cluster mode."
INCR_OVERFLOW = "ERR increment or decrement would overflow"
DB_INDEX_OUT_OF_RANGE = "ERR DB index is out of range"
INT_OUT_OF_RANGE = "ERR value is out of range, value must between -2147483648 and 2147483647"
INVALID_EXPIRE = "ERR invalid expire time in '{}' command"
BIT_OFFSET = "ERR bit offset is not an integer or out of range"
BIT_VALUE = "ERR bit is not an integer or out of range"
STRING_TOO_LONG = "ERR string exceeds maximum allowed size (proto-max-bulk-len)"
SAME_OBJECT = "ERR source and destination objects are the same"
NAN_OR_INF = "ERR increment would produce NaN or Infinity"
CROSSSLOT = "CROSSSLOT Keys in request don't hash to the same slot"
NOAUTH = "NOAUTH Authentication required."
# A shard still loading its snapshot refuses what lacks the "loading" flag.
LOADING = "LOADING Redis is loading the dataset in memory"
BGSAVE_IN_PROGRESS = "ERR Background save already in progress"
MISCONF = ("MISCONF Redis is configured to save RDB snapshots, but it's currently unable to "
           "persist to disk. Commands that may modify the data set are disabled, because this "
           "instance is configured to report errors during writes if RDB snapshotting fails "
           "(stop-writes-on-bgsave-error option). Please check the Redis logs for details "
           "about the RDB error.")
WRONGPASS = "WRONGPASS invalid username-password pair or user is disabled."
AUTH_NOT_SET = (
    "ERR AUTH <password> called without any password configured for the "
    "default user. Are you sure your configuration is correct?"
)
OOM = "OOM command not allowed when used memory > 'maxmemory'."
# EXEC refused because a queued command would write over maxmemory: Redis
# keeps the whole OOM text, its prefix included.
EXECABORT_OOM = "EXECABORT Transaction discarded because of: " + OOM
CLUSTER_DISABLED = "ERR This instance has cluster support disabled"
INVALID_SLOT = "ERR Invalid slot"
INVALID_SLOT_OR_COUNT = "ERR Invalid slot or number of keys"
UNKNOWN_NODE = "ERR Unknown node {}"
SELECT_IN_CLUSTER = "ERR SELECT is not allowed in cluster mode"
MOVE_IN_CLUSTER = "ERR MOVE is not allowed in cluster mode"
SWAPDB_IN_CLUSTER = "ERR SWAPDB is not allowed in cluster mode"
COPY_DB_IN_CLUSTER = "ERR Copying to another database is not allowed in cluster mode"
CLUSTER_LAYOUT_FIXED = ("ERR CLUSTER {} is not supported: damselfly's slot layout follows "
                        "its configuration (proactor_threads, cluster_mode)")
SHARD_UNAVAILABLE = "CLUSTERDOWN The cluster is down: shard {} is unavailable"
INVALID_CURSOR = "ERR invalid cursor"
NOPROTO = "NOPROTO unsupported protocol version"
TIMEOUT_NEGATIVE = "ERR timeout is negative"
TIMEOUT_NOT_FLOAT = "ERR timeout is not a float or out of range"
TIMEOUT_OUT_OF_RANGE = "ERR timeout is out of range"
UNBLOCKED = "UNBLOCKED client unblocked via CLIENT UNBLOCK"
UNBLOCK_REASON = "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR"
OUT_OF_RANGE_VALUE = "ERR value is out of range"


def range_error(low: int, high: int) -> str:
    """getRangeLongFromObjectOrReply's text for a number outside [low, high]."""
    return "ERR value is out of range, value must between %d and %d" % (low, high)


# String and bitmap commands (t_string.c, bitops.c).
DECREMENT_OVERFLOW = "ERR decrement would overflow"
OFFSET_OUT_OF_RANGE = "ERR offset is out of range"
LCS_NOT_STRINGS = "ERR The specified keys must contain string values"
LCS_LEN_AND_IDX = "ERR If you want both the length and indexes, please just use IDX."
LCS_TOO_BIG = "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len"
BIT_ARGUMENT = "ERR The bit argument must be 1 or 0."
BITOP_NOT_ONE_KEY = "ERR BITOP NOT must be called with a single source key."
BITFIELD_TYPE = ("ERR Invalid bitfield type. Use something like i16 u8. "
                 "Note that u64 is not supported but i64 is.")
BITFIELD_OVERFLOW = "ERR Invalid OVERFLOW type specified"
BITFIELD_RO_WRITE = "ERR BITFIELD_RO only supports the GET subcommand"


# DUMP / RESTORE (cluster.c, object.c).
BUSYKEY = "BUSYKEY Target key name already exists."
DUMP_PAYLOAD_INVALID = "ERR DUMP payload version or checksum are wrong"
BAD_DATA_FORMAT = "ERR Bad data format"
INVALID_TTL = "ERR Invalid TTL value, must be >= 0"
INVALID_IDLETIME = "ERR Invalid IDLETIME value, must be >= 0"
INVALID_FREQ = "ERR Invalid FREQ value, must be >= 0 and <= 255"

def unknown_command(name: bytes, args) -> str:
    """Redis 7.0's text: the name and the first arguments, each quoted,
    until the arguments shown reach 128 bytes (the last one cut to fit)."""
    shown = b""
    for a in args:
        if len(shown) >= 128:
            break
        shown += b"'%s' " % _c_string(a, 128 - len(shown))
    return "ERR unknown command '%s', with args beginning with: %s" % (
        echo(name, 128), shown.decode("utf-8", "surrogateescape"))


def subcommand_arguments(sub: bytes, container: str) -> str:
    """addReplySubcommandSyntaxError: a subcommand whose arguments its own
    parser refused (the arity allowed them)."""
    return ("ERR unknown subcommand or wrong number of arguments for '%s'. Try %s HELP."
            % (echo(sub, 128), container.upper()))


def unknown_subcommand(sub: bytes, container: str) -> str:
    return "ERR unknown subcommand '%s'. Try %s HELP." % (echo(sub, 128), container.upper())


def subcommand_syntax(sub: bytes, container: str) -> str:
    """addReplySubcommandSyntaxError: a known subcommand given a bad option."""
    return "ERR unknown subcommand or wrong number of arguments for '%s'. Try %s HELP." % (
        echo(sub, 128), container.upper())


def wrong_arity(full_name: str) -> str:
    return "ERR wrong number of arguments for '%s' command" % full_name


def echo(raw: bytes, limit: int | None = None) -> str:
    """Client bytes inside an error text, as Redis prints them with ``%.<limit>s``.

    The bytes go out as the client sent them, never re-coded: error texts are
    str, so bytes that are not UTF-8 ride along as surrogate escapes, which
    :func:`cluster.resp.encode_error` turns back into the same bytes.  A NUL
    ends the text, as it ends a C string.
    """
    return _c_string(raw, limit).decode("utf-8", "surrogateescape")


def _c_string(raw: bytes, limit: int | None) -> bytes:
    nul = raw.find(b"\0")
    if nul >= 0:
        raw = raw[:nul]
    return raw if limit is None else raw[:limit]


# Transactions (multi.c).
NO_MULTI = "ERR Command not allowed inside a transaction"
MULTI_NESTED = "ERR MULTI calls can not be nested"
EXEC_WITHOUT_MULTI = "ERR EXEC without MULTI"
DISCARD_WITHOUT_MULTI = "ERR DISCARD without MULTI"
WATCH_IN_MULTI = "ERR WATCH inside MULTI is not allowed"
EXECABORT = "EXECABORT Transaction discarded because of previous errors."


def subscribed_context(name: str) -> str:
    """A RESP2 client with subscriptions sent another command (processCommand);
    EXEC, in MULTI or not, is refused as an aborted transaction, as Redis does."""
    text = ("ERR Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / "
            "RESET are allowed in this context" % name)
    return exec_abort(text) if name == "exec" else text


def exec_abort(reason: str) -> str:
    """EXEC itself failed a generic check (its arity): the transaction ends with this."""
    return "EXECABORT Transaction discarded because of: " + reason.split(" ", 1)[1]


# Hash commands (t_hash.c).
HASH_NOT_INTEGER = "ERR hash value is not an integer"
HASH_NOT_FLOAT = "ERR hash value is not a float"
HASH_INCREMENT_NAN_OR_INF = "ERR value is NaN or Infinity"

# Sorted sets (t_zset.c).
ZADD_NX_XX = "ERR XX and NX options at the same time are not compatible"
ZADD_GT_LT_NX = "ERR GT, LT, and/or NX options at the same time are not compatible"
ZADD_INCR_PAIR = "ERR INCR option supports a single increment-element pair"
SCORE_NAN = "ERR resulting score is not a number (NaN)"
ZRANGE_LIMIT_NEEDS_BY = ("ERR syntax error, LIMIT is only supported in combination with "
                         "either BYSCORE or BYLEX")
ZRANGE_WITHSCORES_BYLEX = "ERR syntax error, WITHSCORES not supported in combination with BYLEX"
ZSET_NEEDS_KEY = "ERR at least 1 input key is needed for '%s' command"
WEIGHT_NOT_FLOAT = "ERR weight value is not a float"
LIMIT_NEGATIVE = "ERR LIMIT can't be negative"
OUT_OF_RANGE_PLAIN = OUT_OF_RANGE_VALUE

# Lists (t_list.c).
COUNT_POSITIVE = "ERR count should be greater than 0"
LPOS_RANK_ZERO = ("ERR RANK can't be zero: use 1 to start from the first match, 2 from the "
                  "second ... or use negative to start from the end of the list")
LPOS_COUNT_NEGATIVE = "ERR COUNT can't be negative"
LPOS_MAXLEN_NEGATIVE = "ERR MAXLEN can't be negative"

# Streams (t_stream.c).
STREAM_ID_INVALID = "ERR Invalid stream ID specified as stream command argument"
XADD_ID_ZERO = "ERR The ID specified in XADD must be greater than 0-0"
XADD_ID_TOO_SMALL = ("ERR The ID specified in XADD is equal or smaller than the target "
                     "stream top item")
STREAM_EXHAUSTED = ("ERR The stream has exhausted the last possible ID, unable to add more "
                    "items")
TRIM_BOTH = "ERR syntax error, MAXLEN and MINID options at the same time are not compatible"
TRIM_MAXLEN_NEGATIVE = "ERR The MAXLEN argument must be >= 0."
TRIM_LIMIT_NEGATIVE = "ERR The LIMIT argument must be >= 0."
TRIM_LIMIT_NO_STRATEGY = ("ERR syntax error, LIMIT cannot be used without specifying a "
                          "trimming strategy")
TRIM_LIMIT_NOT_APPROX = "ERR syntax error, LIMIT cannot be used without the special ~ option"
XTRIM_NO_STRATEGY = "ERR syntax error, XTRIM must be called with a trimming strategy"
STREAM_START_INVALID = "ERR invalid start ID for the interval"
STREAM_END_INVALID = "ERR invalid end ID for the interval"
XSETID_TOO_SMALL = "ERR The ID specified in XSETID is smaller than the target stream top item"
XSETID_ADDED_TOO_SMALL = ("ERR The entries_added specified in XSETID is smaller than the "
                          "target stream length")
XSETID_BELOW_MAX_DELETED = ("ERR The ID specified in XSETID is smaller than the provided "
                            "max_deleted_entry_id")
ENTRIES_ADDED_NEGATIVE = "ERR entries_added must be positive"
MAX_DELETED_ZERO = "ERR max_deleted_entry_id must be greater than 0-0"
XREAD_UNBALANCED = ("ERR Unbalanced %s list of streams: for each stream key an ID or '%s' "
                    "must be specified.")
XREADGROUP_DOLLAR = ("ERR The $ ID is meaningless in the context of XREADGROUP: you want to "
                     "read the history of this consumer by specifying a proper ID, or use "
                     "the > ID to get new messages. The $ ID would just return an empty "
                     "result set.")
XREAD_GROUP_OPTION = ("ERR The GROUP option is only supported by XREADGROUP. You called XREAD "
                      "instead.")
XREAD_NOACK_OPTION = ("ERR The NOACK option is only supported by XREADGROUP. You called XREAD "
                      "instead.")
XREADGROUP_KEY_GONE = "UNBLOCKED the stream key no longer exists"
XREADGROUP_GROUP_GONE = "NOGROUP the consumer group this client was blocked on no longer exists"
XREADGROUP_MISSING_GROUP = "ERR Missing GROUP option for XREADGROUP"
TIMEOUT_NOT_INTEGER = "ERR timeout is not an integer or out of range"
XREAD_GT_WITHOUT_GROUP = ("ERR The > ID can be specified only when calling XREADGROUP using "
                          "the GROUP <group> <consumer> option.")
XREADGROUP_NOGROUP = "NOGROUP No such key '%s' or consumer group '%s' in XREADGROUP with GROUP option"
NOGROUP_KEY_OR_GROUP = "NOGROUP No such key '%s' or consumer group '%s'"
NOGROUP_FOR_KEY = "NOGROUP No such consumer group '%s' for key name '%s'"
BUSYGROUP = "BUSYGROUP Consumer Group name already exists"
XGROUP_NEEDS_KEY = ("ERR The XGROUP subcommand requires the key to exist. Note that for "
                    "CREATE you may want to use the MKSTREAM option to create an empty "
                    "stream automatically.")
ENTRIES_READ_INVALID = "ERR value for ENTRIESREAD must be positive or -1"
XCLAIM_BAD = "ERR Invalid %s argument for XCLAIM"
XCLAIM_BAD_OPTION = "ERR Invalid %s option argument for XCLAIM"
XCLAIM_UNKNOWN_OPTION = "ERR Unrecognized XCLAIM option '%s'"
XAUTOCLAIM_MIN_IDLE = "ERR Invalid min-idle-time argument for XAUTOCLAIM"
XAUTOCLAIM_COUNT = "ERR COUNT must be > 0"
# HyperLogLog (hyperloglog.c).
HLL_WRONGTYPE = "WRONGTYPE Key is not a valid HyperLogLog string value."
HLL_CORRUPTED = "INVALIDOBJ Corrupted HLL object detected"
HLL_NO_KEY = "ERR The specified key does not exist"
HLL_NOT_SPARSE = "ERR HLL encoding is not sparse"


def hll_unknown_debug(sub: bytes) -> str:
    return "ERR Unknown PFDEBUG subcommand '%s'" % echo(sub)


# Geo (geo.c).
GEO_INVALID_PAIR = "ERR invalid longitude,latitude pair %f,%f"
GEO_BAD_UNIT = "ERR unsupported unit provided. please use M, KM, FT, MI"
GEO_NEED_RADIUS = "ERR need numeric radius"
GEO_NEED_WIDTH = "ERR need numeric width"
GEO_NEED_HEIGHT = "ERR need numeric height"
GEO_NEGATIVE_RADIUS = "ERR radius cannot be negative"
GEO_NEGATIVE_BOX = "ERR height or width cannot be negative"
GEO_NO_MEMBER = "ERR could not decode requested zset member"
GEO_COUNT_POSITIVE = "ERR COUNT must be > 0"
GEO_STORE_WITH = "ERR %s is not compatible with WITHDIST, WITHHASH and WITHCOORD options"
GEO_ONE_FROM = "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for %s"
GEO_ONE_BY = "ERR exactly one of BYRADIUS and BYBOX can be specified for %s"
GEO_ANY_NEEDS_COUNT = "ERR the ANY argument requires COUNT argument"

# Scripting (eval.c, script_lua.c, script.c of Redis 7.0).
NOSCRIPT = "NOSCRIPT No matching script. Please use EVAL."
NUMKEYS_TOO_MANY = "ERR Number of keys can't be greater than number of args"
NUMKEYS_NEGATIVE = "ERR Number of keys can't be negative"
NOTBUSY = "NOTBUSY No scripts in execution right now."
BUSY_SCRIPT = ("BUSY Redis is busy running a script. You can only call SCRIPT KILL or "
               "SHUTDOWN NOSAVE.")
# The same while a function (FCALL) runs.
BUSY_FUNCTION = ("BUSY Redis is busy running a script. You can only call FUNCTION KILL or "
                 "SHUTDOWN NOSAVE.")
UNKILLABLE = ("UNKILLABLE Sorry the script already executed write commands against the "
              "dataset. You can either wait the script termination or kill the server in a "
              "hard way using the SHUTDOWN NOSAVE command.")
SCRIPT_KILLED = "ERR Script killed by user with SCRIPT KILL..."
SCRIPT_FLUSH_OPTION = "ERR SCRIPT FLUSH only support SYNC|ASYNC option"
SCRIPT_RO_WITH_WRITE_FLAG = "ERR Can not execute a script with write flag using *_ro command."
SCRIPT_NO_CLUSTER = "ERR Can not run script on cluster, 'no-cluster' flag is set."
SCRIPT_UNKNOWN_COMMAND = "ERR Unknown Redis command called from script"
SCRIPT_WRONG_ARITY = "ERR Wrong number of args calling Redis command from script"
SCRIPT_NOT_ALLOWED = "ERR This Redis command is not allowed from script"
SCRIPT_WRITE_IN_READONLY = "ERR Write commands are not allowed from read-only scripts."
SCRIPT_CROSS_SLOT = "ERR Script attempted to access keys that do not hash to the same slot"
SCRIPT_NON_LOCAL_KEY = "ERR Script attempted to access a non local key in a cluster node"
# A script sent to a shard port outside sharded mode (no proxy to hand it to).
SCRIPT_CROSS_SHARD = ("ERR damselfly: the script touched key '%s', which lives on another "
                      "shard; a shard port runs scripts on its own keys only (outside sharded "
                      "mode): send it to the proxy port, which runs it across shards")
SCRIPT_ALL_SHARDS = ("ERR damselfly: the script ran '%s', which needs every shard; a shard "
                     "port runs scripts on its own keys only (outside sharded mode): send it "
                     "to the proxy port, which runs it across shards")
# A shard hands a script back to the proxy (never seen by clients): it touched
# another shard's key or needed every shard before it wrote; with the body in
# hex, for an EVALSHA the proxy has not seen (proxy/script_proxy.py).
SCRIPT_TO_PROXY = "DFPROXY %s"
# ... after it wrote what it cannot undo: the body and the client's error.
SCRIPT_WROTE_TO_PROXY = "DFWROTE %s %s"
SCRIPT_CROSS_SHARD_WRITTEN = ("ERR damselfly: the script touched key '%s', which lives on "
                              "another shard, after it had written on its own shard (those "
                              "writes stand); its next calls run through the proxy, "
                              "atomically across shards")
SCRIPT_ALL_SHARDS_WRITTEN = ("ERR damselfly: the script ran '%s', which needs every shard, "
                             "after it had written on its own shard (those writes stand); its "
                             "next calls run through the proxy, atomically across shards")
SCRIPT_KEY_LOCKED = ("ERR damselfly: the script touched key '%s', which a cross-shard "
                     "operation holds right now; declare it in KEYS or retry")

# The append-only file (shardnode/aof.py)
AOF_REWRITE_IN_PROGRESS = "ERR Background append only file rewriting already in progress"
