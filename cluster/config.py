"""Configuration: one list of options serves YAML keys, flags, --help and CONFIG.

Each :class:`Option` is declared once below.  A YAML key, a command-line flag
(``--name=value``, ``--name value``, Dragonfly's underscore spelling or Redis's
hyphens) and a ``CONFIG GET/SET`` parameter are the same option.  Values are
checked at load time; a bad one stops start-up with a single line naming the
key and what it expects (:class:`ConfigError`).
"""

from __future__ import annotations

import argparse
import logging
import os
import re

import yaml


class ConfigError(Exception):
    """One line: which key, what was given, what is expected.

    ``problem`` is Redis's own wording when the option has one (CONFIG SET
    quotes it after "CONFIG SET failed ... - ").
    """

    def __init__(self, text: str, problem: str | None = None):
        super().__init__(text)
        self.problem = problem


_SIZE = re.compile(r"^\s*(-?\d+)\s*([kmg]b?|b)?\s*$", re.I)
_UNITS = {
    None: 1, "b": 1,
    "k": 1000, "kb": 1024,
    "m": 1000**2, "mb": 1024**2,
    "g": 1000**3, "gb": 1024**3,
}


def parse_size(text) -> int:
    """Redis's memory units: 1k = 1000, 1kb = 1024, likewise m/mb and g/gb."""
    if isinstance(text, bool):
        raise ValueError(text)
    if isinstance(text, int):
        return text
    m = _SIZE.match(str(text))
    if not m:
        raise ValueError(text)
    unit = m.group(2).lower() if m.group(2) else None
    return int(m.group(1)) * _UNITS[unit]


def parse_bool(text) -> bool:
    if isinstance(text, bool):
        return text
    t = str(text).strip().lower()
    if t in ("yes", "true", "1", "on"):
        return True
    if t in ("no", "false", "0", "off"):
        return False
    raise ValueError(text)


def format_value(kind: str, value) -> str:
    if kind == "bool":
        return "yes" if value else "no"
    if kind == "events":
        return format_keyspace_events(value)
    return str(value)


# notify_keyspace_events: Redis's event classes (server.h NOTIFY_*), one bit
# each, by the letter CONFIG SET takes.  "A" is every class but n and m.
KEYSPACE_EVENT_BITS = {
    "K": 1 << 0, "E": 1 << 1, "g": 1 << 2, "$": 1 << 3, "l": 1 << 4, "s": 1 << 5,
    "h": 1 << 6, "z": 1 << 7, "x": 1 << 8, "e": 1 << 9, "t": 1 << 10, "m": 1 << 11,
    "d": 1 << 13, "n": 1 << 14,
}
NOTIFY_ALL = sum(KEYSPACE_EVENT_BITS[c] for c in "g$lshzxetd")
# CONFIG GET's order: the classes (or "A" when all are set, which then hides
# n, as Redis's keyspaceEventsFlagsToString does), then K, E and m.
_EVENT_CLASS_ORDER = "g$lshzxetdn"
_EVENT_TAIL_ORDER = "KEm"


class KeyspaceEventsError(ValueError):
    """A notify_keyspace_events value with a letter Redis does not know."""


def parse_keyspace_events(text: str) -> int:
    """Redis's keyspaceEventsStringToFlags: the letters' bits, "A" for all classes."""
    flags = 0
    for c in text:
        if c == "A":
            flags |= NOTIFY_ALL
        else:
            bit = KEYSPACE_EVENT_BITS.get(c)
            if bit is None:
                raise KeyspaceEventsError(
                    "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")
            flags |= bit
    return flags


def format_keyspace_events(flags: int) -> str:
    """The letters CONFIG GET answers for ``flags`` (Redis's normal form)."""
    if flags & NOTIFY_ALL == NOTIFY_ALL:
        out = "A"
    else:
        out = "".join(c for c in _EVENT_CLASS_ORDER if flags & KEYSPACE_EVENT_BITS[c])
    return out + "".join(c for c in _EVENT_TAIL_ORDER if flags & KEYSPACE_EVENT_BITS[c])


# client_output_buffer_limit: Redis's client classes, in its CONFIG GET order
# ("replica" is read as "slave", the name Redis 7.0 still prints).
BUFFER_LIMIT_CLASSES = ("normal", "slave", "pubsub")
DEFAULT_BUFFER_LIMITS = "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"
_MEMTOULL = re.compile(r"([0-9]*)(b|k|kb|m|mb|g|gb)?\Z", re.I)
_STRTOLL = re.compile(r"[ \t\n\v\f\r]*([+-]?[0-9]+)\Z")


class BufferLimitError(ValueError):
    """A client_output_buffer_limit value Redis refuses; args[0] is its wording."""


def _limit_bytes(text: str) -> int:
    """Redis's memtoull: digits and an optional unit, saturating, modulo 2**64."""
    m = _MEMTOULL.match(text)
    if m is None or len(m.group(1)) >= 128:
        raise BufferLimitError
    unit = m.group(2).lower() if m.group(2) else None
    return min(int(m.group(1) or 0), 2**64 - 1) * _UNITS[unit] % 2**64


def _limit_seconds(text: str) -> int:
    """Redis's strtoll (saturating) stored in a C int: negative is refused.
    An empty field is 0 (strtoll stops at once, on the terminating NUL)."""
    if not text:
        return 0
    m = _STRTOLL.match(text)
    if m is None:
        raise BufferLimitError
    value = max(min(int(m.group(1)), 2**63 - 1), -(2**63)) & 0xFFFFFFFF
    if value >= 2**31:
        raise BufferLimitError
    return value


def parse_buffer_limits(text: str, current: str = DEFAULT_BUFFER_LIMITS) -> str:
    """``<class> <hard> <soft> <soft seconds> ...`` merged into ``current``.

    Classes not named keep their values, as CONFIG SET does in Redis; the
    result is the full canonical form CONFIG GET prints.  Redis splits on
    single spaces, so doubled or trailing spaces count as (empty) fields.
    """
    fields = text.split(" ") if text else []
    if len(fields) % 4:
        raise BufferLimitError("Wrong number of arguments in buffer limit configuration.")
    limits = buffer_limits(current)
    for i in range(0, len(fields), 4):
        name = fields[i].lower()
        if name == "replica":
            name = "slave"
        if name not in limits:
            raise BufferLimitError(
                "Invalid client class specified in buffer limit configuration.")
        try:
            limits[name] = (_limit_bytes(fields[i + 1]), _limit_bytes(fields[i + 2]),
                            _limit_seconds(fields[i + 3]))
        except BufferLimitError:
            raise BufferLimitError("Error in hard, soft or soft_seconds setting in "
                                   "buffer limit configuration.") from None
    return " ".join("%s %d %d %d" % ((name,) + limits[name]) for name in BUFFER_LIMIT_CLASSES)


def buffer_limits(canonical: str) -> dict:
    """Class -> (hard bytes, soft bytes, soft seconds) of a canonical value."""
    f = canonical.split()
    return {f[i]: (int(f[i + 1]), int(f[i + 2]), int(f[i + 3])) for i in range(0, len(f), 4)}


MAXMEMORY_POLICIES = (
    "noeviction", "allkeys-lru", "allkeys-lfu", "allkeys-random",
    "volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl",
)


class Option:
    """One setting.  ``implemented=False`` marks an option that is accepted
    (configs and clients set it) but has no effect yet: setting it to
    anything but its default logs :func:`not_implemented_warning`, and INFO
    reports its default (:meth:`Config.effective`).  The issue that
    implements the feature flips the flag."""

    __slots__ = ("name", "kind", "default", "doc", "mutable", "redis_name",
                 "choices", "minimum", "maximum", "implemented")

    def __init__(self, name, kind, default, doc, mutable=False, redis=True,
                 choices=None, minimum=None, maximum=None, implemented=True):
        self.name = name
        self.implemented = implemented
        self.kind = kind  # int, size, str, bool, enum, limits
        self.default = default
        self.doc = doc
        self.mutable = mutable
        # CONFIG GET shows Redis's hyphenated names for options Redis has.
        self.redis_name = name.replace("_", "-") if redis else name
        self.choices = choices
        self.minimum = minimum
        self.maximum = maximum

    def parse(self, raw, current=None):
        """The value of ``raw``; ``current`` is the running value, for kinds
        (``limits``) where a new value only changes the parts it names."""
        kind = self.kind
        try:
            if kind == "int":
                if isinstance(raw, bool) or isinstance(raw, float) and not raw.is_integer():
                    raise ValueError(raw)
                value = int(raw)
            elif kind == "size":
                value = parse_size(raw)
            elif kind == "bool":
                value = parse_bool(raw)
            elif kind == "enum":
                value = str(raw).strip().lower()
                if value not in self.choices:
                    raise ValueError(raw)
            elif kind == "events":  # kept as the bits (JSON to the shards, int)
                if isinstance(raw, bool) or not isinstance(raw, (str, type(None))):
                    raise ValueError(raw)
                value = parse_keyspace_events(raw or "")
            elif kind == "limits":
                if not isinstance(raw, str):
                    raise ValueError(raw)
                value = parse_buffer_limits(raw, self.default if current is None else current)
            else:
                value = "" if raw is None else str(raw)
        except (TypeError, ValueError) as exc:
            problem = exc.args[0] if isinstance(exc, (BufferLimitError, KeyspaceEventsError)) \
                and exc.args else None
            raise ConfigError(
                "invalid value %r for '%s': expected %s" % (raw, self.name, self.expects()),
                problem) from None
        if self.minimum is not None and value < self.minimum or (
            self.maximum is not None and value > self.maximum
        ):
            raise ConfigError(
                "invalid value %r for '%s': expected %s" % (raw, self.name, self.expects())
            )
        return value

    def expects(self) -> str:
        if self.kind == "enum":
            return "one of " + ", ".join(self.choices)
        if self.kind == "size":
            what = "a size in bytes or with a unit (512mb, 4gb)"
        elif self.kind == "int":
            what = "an integer"
        elif self.kind == "bool":
            return "yes or no"
        elif self.kind == "events":
            return "letters of Ag$lshzxeKEtmdn (Redis's event classes), empty: none"
        elif self.kind == "limits":
            return ("<class> <hard> <soft> <soft seconds> per class (normal, replica, "
                    "pubsub), sizes with Redis units, 0: no limit")
        else:
            return "a string"
        if self.minimum is not None and self.maximum is not None:
            what += " from %d to %d" % (self.minimum, self.maximum)
        elif self.minimum is not None:
            what += " >= %d" % self.minimum
        return what


OPTIONS = [
    Option("port", "int", 6379, "TCP port of the proxy (plain clients connect here).",
           minimum=0, maximum=65535),
    Option("bind", "str", "127.0.0.1", "Address the proxy and shards listen on."),
    Option("proactor_threads", "int", 0,
           "Number of shardnode processes; 0 means one per CPU core.",
           redis=False, minimum=0, maximum=1024),
    Option("proxy_workers", "int", 1,
           "Number of proxy processes sharing the client port (SO_REUSEPORT).",
           redis=False, minimum=1, maximum=64),
    Option("shard_port", "int", 0,
           "First shardnode port; shard i listens on shard_port+i. 0 means port+1.",
           redis=False, minimum=0, maximum=65535),
    Option("requirepass", "str", "", "Password clients must give with AUTH; empty: none.",
           mutable=True),
    Option("dbnum", "int", 16, "Number of databases (SELECT 0..dbnum-1).",
           redis=False, minimum=1, maximum=1024),
    # Each shard enforces maxmemory / shards against its accounted used_memory
    # (shardnode/memory.py).
    Option("maxmemory", "size", 0, "Memory limit for the data, split among shards; 0: none.",
           mutable=True, minimum=0),
    Option("maxmemory_policy", "enum", "noeviction",
           "What to do at maxmemory.", mutable=True, choices=MAXMEMORY_POLICIES),
    # Eviction (shardnode/eviction.py), with Redis's defaults and ranges.
    Option("maxmemory_samples", "int", 5,
           "Keys sampled per eviction by the LRU, LFU and TTL policies.",
           mutable=True, minimum=1, maximum=64),
    Option("lfu_log_factor", "int", 10,
           "How slowly the LFU counter grows: hits to reach 255 grow with it.",
           mutable=True, minimum=0, maximum=2**31 - 1),
    Option("lfu_decay_time", "int", 1,
           "Minutes after which an idle key's LFU counter drops by one; 0: never.",
           mutable=True, minimum=0, maximum=2**31 - 1),
    Option("cache_mode", "bool", False,
           "Evict at maxmemory with damselfly's cache policy (frequency-admitted "
           "probation, scan resistant) whatever maxmemory_policy says.",
           redis=False, mutable=True),
    # Each shard loads the snapshot found here on start (shardnode/rdb/snapshot.py).
    Option("dir", "str", ".", "Directory for snapshots, loaded on start.", mutable=True),
    Option("dbfilename", "str", "dump.rdb",
           "Snapshot file name: shard files are named dump-0001-of-0004.rdb ..., tied "
           "together by dump.snapshot.json; a dump.rdb of redis-server is imported when "
           "there are none.", mutable=True),
    Option("proto_max_bulk_len", "size", 512 * 1024 * 1024,
           "Largest bulk string a client may send.", mutable=True, minimum=1),
    Option("set_max_intset_entries", "int", 512,
           "Sets of integers up to this many members are kept as an intset.",
           mutable=True, minimum=0),
    Option("zset_max_listpack_entries", "int", 128,
           "Most members a sorted set keeps in the compact listpack encoding.",
           mutable=True, minimum=0, maximum=2**63 - 1),
    Option("zset_max_listpack_value", "size", 64,
           "Longest member (bytes) a sorted set keeps in the listpack encoding.",
           mutable=True, minimum=0, maximum=2**63 - 1),
    Option("cluster_mode", "enum", "emulated",
           "off: no CLUSTER commands; emulated: the proxy is a one-node cluster; "
           "sharded: each shard is announced as a master with its slots.",
           redis=False, choices=("off", "emulated", "sharded")),
    Option("cluster_announce_ip", "str", "",
           "Address announced in CLUSTER replies and MOVED; empty: the address "
           "the client connected to.", redis=True),
    Option("announce_port", "int", 0,
           "Port announced for the proxy, the one node of emulated mode; 0: the port "
           "the client connected to.",
           redis=False, minimum=0, maximum=65535),
    Option("hz", "int", 10, "Background task frequency (active expiry cycles per second).",
           mutable=True, minimum=1, maximum=500),
    Option("loglevel", "enum", "notice", "Log verbosity.", mutable=True,
           choices=("debug", "verbose", "notice", "warning")),
    Option("logfile", "str", "", "Log file; empty: standard error."),
    Option("client_output_buffer_limit", "limits", DEFAULT_BUFFER_LIMITS,
           "Replies buffered for a client that does not read them: at the hard limit, "
           "or over the soft limit for its seconds, the client is disconnected. "
           "The proxy enforces the normal class.", mutable=True),
    Option("busy_reply_threshold", "int", 5000,
           "Milliseconds a script runs before other clients of its shard get BUSY and "
           "SCRIPT KILL may stop it (Redis's lua-time-limit); 0: never.",
           mutable=True, minimum=0),
    Option("maxclients", "int", 10000, "Most client connections per proxy worker.",
           mutable=True, minimum=1, maximum=2**32 - 1),
    Option("tcp_backlog", "int", 511,
           "Listen backlog of the proxy and shard sockets (the kernel caps it at "
           "net.core.somaxconn).", minimum=0, maximum=2**31 - 1),
    # Snapshots (shardnode/snapshots.py): when to save, and what a failed save does.
    Option("save", "str", "",
           "Snapshot schedule as Redis writes it (\"3600 1 300 100\": after 3600 s if 1 "
           "key changed, after 300 s if 100 did); empty: none.", mutable=True),
    Option("snapshot_cron", "str", "",
           "Snapshot schedule as a cron expression (Dragonfly's option: \"*/30 * * * *\", "
           "minute hour day-of-month month day-of-week, UTC); empty: none.",
           redis=False, mutable=True),
    Option("stop_writes_on_bgsave_error", "bool", True,
           "After a failed save, write commands answer -MISCONF until a save succeeds.",
           mutable=True),
    Option("rdbcompression", "bool", True, "LZF-compress long strings in snapshot files.",
           mutable=True),
    Option("rdbchecksum", "bool", True,
           "End snapshot files with a CRC-64 (no: 0, and loading skips the check).",
           mutable=True),
    # The append-only file (shardnode/aof.py): one set of files per shard in
    # Redis 7's multi-part layout, replayed on start in place of the snapshot.
    Option("appendonly", "bool", False,
           "Log every write to an append-only file per shard (turning it on at run "
           "time writes a base file first); on start the AOF wins over the snapshot.",
           mutable=True),
    Option("appendfsync", "enum", "everysec",
           "When the append-only file is fsynced: always (before the reply), everysec, "
           "or no (the OS decides).", mutable=True, choices=("always", "everysec", "no")),
    Option("appenddirname", "str", "appendonlydir",
           "Directory (inside dir) of the append-only files."),
    Option("appendfilename", "str", "appendonly.aof",
           "Name the per-shard append-only files derive from: appendonly-0001-of-0004.aof"
           ".1.base.rdb, ....1.incr.aof, ....manifest."),
    Option("aof_load_truncated", "bool", True,
           "On start, drop a record cut short at the end of the AOF (a crash while "
           "writing) with a warning; no: refuse to start.", mutable=True),
    Option("auto_aof_rewrite_percentage", "int", 100,
           "Rewrite the AOF when it has grown by this percentage since the last "
           "rewrite; 0: never automatically.", mutable=True, minimum=0,
           maximum=2**31 - 1),
    Option("auto_aof_rewrite_min_size", "size", 64 * 1024 * 1024,
           "No automatic rewrite while the AOF is smaller than this.", mutable=True,
           minimum=0, maximum=2**63 - 1),
    # Lists: how a list is cut into quicklist nodes (DUMP's node layout).
    Option("list_max_listpack_size", "int", -2,
           "Quicklist node limit of lists created from now on: negative -1..-5 for "
           "4/8/16/32/64 KB per node, positive for that many elements per node.",
           mutable=True, minimum=-(2**31), maximum=2**31 - 1),
    Option("list_compress_depth", "int", 0,
           "Quicklist nodes kept uncompressed at each end of lists created from now on; "
           "0: none compressed.", mutable=True, minimum=0, maximum=2**31 - 1),
    # Streams: how a stream is cut into listpack nodes (DUMP's layout, ~ trimming).
    Option("stream_node_max_bytes", "int", 4096,
           "A stream starts a new listpack node when the last one would reach this many "
           "bytes; 0: no byte limit.", mutable=True, minimum=0, maximum=2**63 - 1),
    Option("stream_node_max_entries", "int", 100,
           "A stream starts a new listpack node when the last one holds this many entries "
           "(deleted ones included); 0: no count limit.", mutable=True, minimum=0,
           maximum=2**63 - 1),
    # Container encodings (OBJECT ENCODING): when a small hash leaves its listpack.
    Option("hash_max_listpack_entries", "int", 512,
           "A hash with more fields than this is converted from listpack to hashtable.",
           mutable=True, minimum=0, maximum=2**63 - 1),
    Option("hash_max_listpack_value", "int", 64,
           "A hash given a field or value longer than this (bytes) is converted from "
           "listpack to hashtable.", mutable=True, minimum=0, maximum=2**63 - 1),
    # Keyspace notifications (shardnode/notify.py): which events each shard
    # publishes on __keyspace@<db>__:<key> / __keyevent@<db>__:<event>.
    Option("notify_keyspace_events", "events", 0,
           "Keyspace notifications to publish, as Redis's letters (\"KEA\": every class on "
           "both channels; K keyspace, E keyevent, g generic, $ string, l list, s set, "
           "h hash, z zset, t stream, x expired, e evicted, n new, m key miss, d module, "
           "A all but n and m); empty: none.", mutable=True),
    # HyperLogLog: when a sketch leaves its sparse representation (hyperloglog.py).
    Option("hll_sparse_max_bytes", "size", 3000,
           "A sparse HyperLogLog that would grow past this many bytes (header "
           "included) becomes dense.", mutable=True, minimum=0, maximum=2**63 - 1),
]
OPTION_BY_NAME = {o.name: o for o in OPTIONS}
for _o in OPTIONS:
    OPTION_BY_NAME.setdefault(_o.redis_name, _o)
# Redis's other names for options: CONFIG GET shows them under the name asked.
ALIASES = {"lua-time-limit": "busy_reply_threshold"}
for _alias, _name in ALIASES.items():
    OPTION_BY_NAME[_alias] = OPTION_BY_NAME[_alias.replace("-", "_")] = OPTION_BY_NAME[_name]


def option(name: str):
    return OPTION_BY_NAME.get(name.lower().replace("-", "_")) or OPTION_BY_NAME.get(name.lower())


# Redis's log levels as Python's: Python has no level between INFO and
# WARNING for "notice", so verbose and notice both show INFO.
LOG_LEVELS = {"debug": logging.DEBUG, "verbose": logging.INFO, "notice": logging.INFO,
              "warning": logging.WARNING}


def not_implemented_warning(opt: Option, value) -> str | None:
    """The warning for setting ``opt`` to ``value``, or None: only an option
    not implemented yet, set to something other than its default, asks for a
    feature that is not there."""
    if opt.implemented or value == opt.default:
        return None
    return "%s is accepted but not implemented yet" % opt.name


class Config:
    """The running values, by option name (underscore spelling)."""

    def __init__(self, values=None):
        self.values = {o.name: o.default for o in OPTIONS}
        if values:
            self.values.update(values)

    def __getattr__(self, name):
        try:
            return self.__dict__["values"][name]
        except KeyError:
            raise AttributeError(name) from None

    def set(self, name: str, raw) -> None:
        opt = option(name)
        if opt is None:
            raise ConfigError("unknown configuration key '%s'" % name)
        self.values[opt.name] = opt.parse(raw)

    def effective(self, name: str):
        """The value in force: an option not implemented yet acts as its default."""
        opt = OPTION_BY_NAME[name]
        return self.values[name] if opt.implemented else opt.default

    def not_implemented_warnings(self) -> list:
        """One warning per option set to a value whose feature is missing."""
        warnings = (not_implemented_warning(o, self.values[o.name]) for o in OPTIONS)
        return [w for w in warnings if w]

    def get_matching(self, pattern: str) -> dict:
        """CONFIG GET: Redis names (and our own) matching a glob pattern."""
        from cluster.glob import compile_glob

        out = {}
        match = compile_glob(pattern.encode("utf-8", "surrogateescape"), nocase=True)
        for o in OPTIONS:
            for alias in {o.redis_name, o.name}:
                if match(alias.encode()):
                    out[o.redis_name] = format_value(o.kind, self.values[o.name])
        for alias, name in ALIASES.items():
            if match(alias.encode()):
                out[alias] = format_value(OPTION_BY_NAME[name].kind, self.values[name])
        return out

    def to_dict(self) -> dict:
        return dict(self.values)


def load_yaml(path: str) -> dict:
    try:
        with open(path) as f:
            data = yaml.safe_load(f)
    except OSError as exc:
        raise ConfigError("cannot read config file %s: %s" % (path, exc.strerror)) from None
    except yaml.YAMLError as exc:
        problem, mark = getattr(exc, "problem", None), getattr(exc, "problem_mark", None)
        if problem and mark:
            detail = "%s (line %d, column %d)" % (problem, mark.line + 1, mark.column + 1)
        else:
            detail = str(exc).splitlines()[0]
        raise ConfigError("config file %s is not valid YAML: %s" % (path, detail)) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError("config file %s must be a mapping of key: value" % path)
    return data


def default_config_path() -> str | None:
    """conf/damselfly.yaml of the checkout or installed package, if any."""
    here = os.path.dirname(os.path.abspath(__file__))
    candidate = os.path.join(os.path.dirname(here), "conf", "damselfly.yaml")
    return candidate if os.path.exists(candidate) else None


class _ArgParser(argparse.ArgumentParser):
    """argparse, but a mistake is one ConfigError line, like a bad YAML key."""

    def error(self, message):
        raise ConfigError("%s (see damselfly --help)" % message)


def build_arg_parser() -> argparse.ArgumentParser:
    parser = _ArgParser(
        prog="damselfly",
        allow_abbrev=False,  # "--max 1" must not quietly mean some --max... option
        description="A Redis-compatible in-memory store: a proxy in front of one "
        "shardnode process per core. Every YAML key is also a flag; flags win.",
    )
    parser.add_argument("--config", metavar="FILE",
                        help="YAML configuration file (default: conf/damselfly.yaml)")
    for o in OPTIONS:
        names = ["--" + o.name]
        if "_" in o.name:
            names.append("--" + o.name.replace("_", "-"))
        default = format_value(o.kind, o.default)
        help_text = "%s (default: %s; %s)" % (o.doc, default or '""', o.expects())
        if not o.implemented:
            help_text += " Accepted but not implemented yet."
        parser.add_argument(*names, dest=o.name, metavar=o.kind.upper(),
                            default=None, help=help_text.replace("%", "%%"))
    return parser


def load_config(argv=None) -> Config:
    """YAML file first, then flags.  Raises ConfigError on any bad key/value."""
    args = build_arg_parser().parse_args(argv)
    path = args.config or default_config_path()
    config = Config()
    if args.config:  # CONFIG REWRITE writes back only a file the user named
        config.values["config_file"] = os.path.abspath(args.config)
    if path:
        for key, raw in load_yaml(path).items():
            opt = option(str(key))
            if opt is None:
                raise ConfigError("unknown configuration key '%s' in %s" % (key, path))
            config.values[opt.name] = opt.parse(raw, config.values[opt.name])
    for o in OPTIONS:
        raw = getattr(args, o.name)
        if raw is not None:
            config.values[o.name] = o.parse(raw, config.values[o.name])
    return config


def shard_count(config: Config) -> int:
    """``proactor_threads``, or for 0 one shard per CPU this process may use:
    its affinity, capped by a container's CPU quota (cluster/cgroups.py)."""
    from cluster.cgroups import cpus_for_shards

    if config.proactor_threads:
        return config.proactor_threads
    try:
        available = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        available = os.cpu_count() or 1
    return cpus_for_shards(available)
