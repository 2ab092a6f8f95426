"""FUNCTION and FCALL on a shard: the library registry and its commands.

A library is Lua code whose first line names it (``#!lua name=mylib``); its
code runs once, at FUNCTION LOAD, in a sandbox that sees only ``redis``
(``register_function``, ``log``, the log levels and the version), and each
``redis.register_function`` call makes a function FCALL can call by name.
The functions run in their own :class:`ScriptRuntime` -- a Lua state apart
from EVAL's, as Redis keeps one for its function engine -- so SCRIPT FLUSH
(which starts EVAL's state afresh) leaves them alone.

FCALL runs like EVAL (:mod:`shardnode.scripting`): the declared keys must be
this shard's (or lent by the coordinator), each ``redis.call`` goes through
:class:`ScriptHost`, and the journal gets the function's effects; a call
that touches another shard's key is handed back to the proxy with its
library's code, and runs there (proxy/script_proxy.py).  A
function always has flags (maybe none), so it never runs in the scripts'
compatibility mode: without ``no-writes`` FCALL_RO refuses it, without
``allow-cross-slot-keys`` a cluster node keeps it to one slot.

Libraries are per server: the proxy sends LOAD / DELETE / FLUSH / RESTORE to
every shard; on a shard port they apply to that shard only.  They persist in
the snapshot as Redis keeps them in the RDB (the FUNCTION2 opcode, one per
library): :func:`library_codes` is what the snapshot writer saves and
:func:`load_saved_libraries` what a starting shard loads back.  The journal
gets LOAD / DELETE / FLUSH / RESTORE as sent, as Redis 7.0 propagates them.
"""

from __future__ import annotations

import time

from cluster import errors
from cluster.args import parse_int
from cluster.errors import CommandError
from cluster.glob import stringmatch
from cluster.resp import SetReply
from cluster.scripting import Script, ScriptRuntime
from cluster.scripting.runtime import valid_name
from cluster.scripting.shebang import KNOWN_FLAGS, NO_CLUSTER, NO_WRITES
from shardnode.journal import journal_as
from shardnode.rdb.constants import OPCODE_FUNCTION2, OPCODE_FUNCTION_PRE_GA
from shardnode.rdb.encoding import RdbFormatError, RdbReader, encode_string
from shardnode.rdb.objects import dump_version_and_checksum_ok, frame_dump
from shardnode.registry import handler
from shardnode.scripting import declared_flags, kill_script, refuse_for_memory, run_script

# The flags in the order Redis lists them (script.c's flag table).
FLAG_ORDER = ("no-writes", "allow-oom", "allow-stale", "no-cluster", "allow-cross-slot-keys")
assert set(FLAG_ORDER) == KNOWN_FLAGS

FUNCTION_HELP = [
    "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "LOAD [REPLACE] <FUNCTION CODE>",
    "    Create a new library with the given library name and code.",
    "DELETE <LIBRARY NAME>",
    "    Delete the given library.",
    "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
    "    Return general information on all the libraries:",
    "    * Library name",
    "    * The engine used to run the Library",
    "    * Library description",
    "    * Functions list",
    "    * Library code (if WITHCODE is given)",
    "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
    "STATS",
    "    Return information about the current function running:",
    "    * Function name",
    "    * Command used to run the function",
    "    * Duration in MS that the function is running",
    "    If no function is running, return nil",
    "    In addition, returns a list of available engines.",
    "KILL",
    "    Kill the current running function.",
    "FLUSH [ASYNC|SYNC]",
    "    Delete all the libraries.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the libraries.",
    "    * SYNC: Synchronously flush the libraries.",
    "DUMP",
    "    Return a serialized payload representing the current libraries, can be restored using "
    "FUNCTION RESTORE command",
    "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
    "    Restore the libraries represented by the given payload, it is possible to give a restore "
    "policy to",
    "    control how to handle existing libraries (default APPEND):",
    "    * FLUSH: delete all existing libraries.",
    "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
    "    * REPLACE: appends the restored libraries to the existing libraries, On collision, "
    "replace the old",
    "      libraries with the new libraries (notice that even on this option there is a chance "
    "of failure",
    "      in case of functions name collision with another library).",
    "HELP",
    "    Prints this help.",
]


class Library:
    """A loaded library: its name, its code and its functions by name."""

    __slots__ = ("name", "code", "functions")

    def __init__(self, name: bytes, code: bytes, functions: dict):
        self.name = name
        self.code = code
        self.functions = functions


class Function:
    """A registered function; ``script`` is what the runtime runs (the
    callback, the flags; its ``sha`` is the name, for error messages; its
    ``body`` the library's code, which a shard hands back to the proxy with
    a call that needs other shards)."""

    __slots__ = ("name", "library", "description", "flags", "script")

    def __init__(self, name, library, description, flags, callback):
        self.name = name
        self.library = library
        self.description = description
        self.flags = frozenset(flags)
        self.script = Script(name.decode("utf-8", "surrogateescape"), library.code, self.flags,
                             callback)


def parse_metadata(code: bytes):
    """(library name, where the code after the shebang line starts), as
    functionExtractLibMetaData reads the ``#!<engine> name=<name>`` line."""
    if not code.startswith(b"#!"):
        raise CommandError("ERR Missing library metadata")
    end = code.find(b"\n")
    if end < 0:
        raise CommandError("ERR Invalid library metadata")
    parts = code[:end].split()
    if not parts:
        raise CommandError("ERR Invalid library metadata")
    engine = parts[0][2:]
    name = None
    for part in parts[1:]:
        if part[:5].lower() == b"name=":
            if name is not None:
                raise CommandError("ERR Invalid metadata value, name argument was given "
                                   "multiple times")
            name = part[5:]
            continue
        raise CommandError("ERR Invalid metadata value given: %s"
                           % part.decode("utf-8", "surrogateescape"))
    if name is None:
        raise CommandError("ERR Library name was not given")
    if engine.lower() != b"lua":
        raise CommandError("ERR Engine '%s' not found" % engine.decode("utf-8", "surrogateescape"))
    return name, end


class FunctionRegistry:
    """The server's libraries (one registry per shard process)."""

    def __init__(self):
        self.runtime = ScriptRuntime()
        self.libraries: dict = {}  # name -> Library, in load order
        self.functions: dict = {}  # function name -> Function

    def compile(self, code: bytes, replace: bool, libraries=None) -> Library:
        """A new library from ``code``, checked against ``libraries``
        (default: the loaded ones) but not installed."""
        libraries = self.libraries if libraries is None else libraries
        name, end = parse_metadata(code)
        if not valid_name(name):
            raise CommandError("ERR Library names can only contain letters, numbers, or "
                               "underscores(_) and must be at least one character long")
        if name in libraries and not replace:
            raise CommandError("ERR Library '%s' already exists"
                               % name.decode("utf-8", "surrogateescape"))
        registered = self.runtime.load_library(code[end:])
        if not registered:
            raise CommandError("ERR No functions registered")
        library = Library(name, code, {})
        for fname, callback, description, flags in registered:
            library.functions[fname] = Function(fname, library, description, flags, callback)
        return library

    def install(self, library: Library) -> None:
        """Add ``library`` (over one of its name), unless one of its
        functions belongs to another library."""
        old = self.libraries.get(library.name)
        for fname in library.functions:
            owner = self.functions.get(fname)
            if owner is not None and owner.library is not old:
                raise CommandError("ERR Function %s already exists"
                                   % fname.decode("utf-8", "surrogateescape"))
        if old is not None:
            self.remove(old.name)
        self.libraries[library.name] = library
        self.functions.update(library.functions)

    def remove(self, name: bytes) -> None:
        library = self.libraries.pop(name)
        for fname in library.functions:
            del self.functions[fname]

    def flush(self) -> None:
        self.libraries = {}
        self.functions = {}
        self.runtime = ScriptRuntime()  # a fresh Lua state, as Redis's FUNCTION FLUSH

    def load(self, code: bytes, replace: bool = False) -> bytes:
        library = self.compile(code, replace)
        self.install(library)
        return library.name

    def dump(self) -> bytes:
        """FUNCTION DUMP's payload: FUNCTION2 + code per library, the RDB
        version and the CRC-64 (a DUMP payload's footer)."""
        body = b"".join(bytes((OPCODE_FUNCTION2,)) + encode_string(lib.code, True)
                        for lib in self.libraries.values())
        return frame_dump(body)

    def restore(self, payload: bytes, policy: bytes) -> None:
        if not dump_version_and_checksum_ok(payload):
            raise CommandError("ERR DUMP payload version or checksum are wrong")
        reader = RdbReader(payload)
        new: dict = {}
        try:
            while reader.pos < len(payload) - 10:
                opcode = reader.read_byte()
                if opcode == OPCODE_FUNCTION_PRE_GA:
                    raise CommandError("ERR Pre-GA function format not supported")
                if opcode != OPCODE_FUNCTION2:
                    raise CommandError("ERR given type is not a function")
                library = self.compile(reader.read_string(), False, new)
                for fname in library.functions:
                    if any(fname in other.functions for other in new.values()):
                        raise CommandError("ERR Function %s already exists"
                                           % fname.decode("utf-8", "surrogateescape"))
                new[library.name] = library
        except RdbFormatError:
            raise CommandError("ERR failed loading the given functions payload")
        if policy == b"flush":
            self.libraries, self.functions = {}, {}
        elif policy == b"append":
            for name in new:
                if name in self.libraries:
                    raise CommandError("ERR Library %s already exists"
                                       % name.decode("utf-8", "surrogateescape"))
        saved = (dict(self.libraries), dict(self.functions))
        try:
            for library in new.values():
                self.install(library)
        except CommandError:
            self.libraries, self.functions = saved
            raise


_REGISTRY = []


def get_registry() -> FunctionRegistry:
    """The process's registry (made on first use)."""
    if not _REGISTRY:
        _REGISTRY.append(FunctionRegistry())
    return _REGISTRY[0]


def library_codes() -> list:
    """The libraries' code, for the snapshot writer (FUNCTION2 records)."""
    if not _REGISTRY:
        return []
    return [lib.code for lib in _REGISTRY[0].libraries.values()]


def load_saved_libraries(codes) -> None:
    """Load the libraries a snapshot (or a redis-server dump.rdb) held."""
    registry = get_registry()
    for code in codes:
        registry.load(code, replace=True)


# -- FCALL ---------------------------------------------------------------------------


@handler("fcall", "fcall_ro")
def fcall_command(conn, args):
    if conn.server.observed:  # MONITOR shows FCALL as it starts (skip_monitor after)
        from shardnode.monitor import feed_script

        feed_script(conn, args)
    if conn.server.memory.limit:  # the function's flags decide, before its other errors
        refuse_for_memory(conn, declared_flags(None, b"fcall", args[1]))
    try:
        numkeys = parse_int(args[2])
    except CommandError:
        raise CommandError("ERR Bad number of keys provided")
    if numkeys > len(args) - 3:
        raise CommandError(errors.NUMKEYS_TOO_MANY)
    if numkeys < 0:
        raise CommandError(errors.NUMKEYS_NEGATIVE)
    registry = get_registry()
    function = registry.functions.get(args[1])
    if function is None:
        raise CommandError("ERR Function not found")
    readonly = args[0].lower() == b"fcall_ro"
    if readonly and NO_WRITES not in function.flags:
        raise CommandError(errors.SCRIPT_RO_WITH_WRITE_FLAG)
    if NO_CLUSTER in function.flags and conn.server.sharded:
        raise CommandError(errors.SCRIPT_NO_CLUSTER)
    return run_script(conn, registry.runtime, function.script, args[3:3 + numkeys],
                      args[3 + numkeys:], readonly, as_function=True, command=args)


# -- FUNCTION ------------------------------------------------------------------------


@handler("function|load")
def function_load(conn, args):
    if len(args) > 4 or (len(args) == 4 and args[2].lower() != b"replace"):
        raise CommandError("ERR Unknown option given: %s"
                           % args[2].decode("utf-8", "surrogateescape"))
    name = get_registry().load(args[-1], replace=len(args) == 4)
    journal_as(conn, list(args))
    return name


@handler("function|delete")
def function_delete(conn, args):
    registry = get_registry()
    if args[2] not in registry.libraries:
        raise CommandError("ERR Library not found")
    registry.remove(args[2])
    journal_as(conn, list(args))
    return "OK"


@handler("function|flush")
def function_flush(conn, args):
    if len(args) > 3:
        raise CommandError(errors.subcommand_syntax(args[1], "function"))
    if len(args) == 3 and args[2].lower() not in (b"sync", b"async"):
        raise CommandError("ERR FUNCTION FLUSH only supports SYNC|ASYNC option")
    get_registry().flush()
    journal_as(conn, list(args))
    return "OK"


@handler("function|restore")
def function_restore(conn, args):
    if len(args) > 4:
        raise CommandError(errors.subcommand_syntax(args[1], "function"))
    policy = b"append"
    if len(args) == 4:
        policy = args[3].lower()
        if policy not in (b"flush", b"append", b"replace"):
            raise CommandError("ERR Wrong restore policy given, value should be either FLUSH, "
                               "APPEND or REPLACE.")
    get_registry().restore(args[2], policy)
    journal_as(conn, list(args))
    return "OK"


@handler("function|dump")
def function_dump(conn, args):
    return get_registry().dump()


@handler("function|list")
def function_list(conn, args):
    with_code = False
    pattern = None
    i = 2
    while i < len(args):
        word = args[i].lower()
        if not with_code and word == b"withcode":
            with_code = True
        elif pattern is None and word == b"libraryname":
            if i >= len(args) - 1:
                raise CommandError("ERR library name argument was not given")
            i += 1
            pattern = args[i]
        else:
            raise CommandError("ERR Unknown argument %s"
                               % args[i].decode("utf-8", "surrogateescape"))
        i += 1
    out = []
    for library in get_registry().libraries.values():
        if pattern is not None and not stringmatch(pattern, library.name, True):
            continue
        entry = {b"library_name": library.name, b"engine": b"LUA",
                 b"functions": [
                     {b"name": f.name, b"description": f.description,
                      b"flags": SetReply(flag for flag in FLAG_ORDER
                                         if flag in f.flags)}
                     for f in library.functions.values()]}
        if with_code:
            entry[b"library_code"] = library.code
        out.append(entry)
    return out


@handler("function|stats")
def function_stats(conn, args):
    registry = get_registry()
    run = conn.server.busy  # an EVAL's run answered BUSY already (check_locks)
    running = None
    if run is not None and run.as_function:
        running = {b"name": run.command[1], b"command": list(run.command),
                   b"duration_ms": int((time.monotonic() - run.started) * 1000)}
    return {b"running_script": running,
            b"engines": {b"LUA": {b"libraries_count": len(registry.libraries),
                                  b"functions_count": len(registry.functions)}}}


@handler("function|kill")
def function_kill(conn, args):
    return kill_script(conn, True)


@handler("function|help")
def function_help(conn, args):
    return list(FUNCTION_HELP)

