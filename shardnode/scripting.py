"""EVAL/EVALSHA/EVAL_RO/EVALSHA_RO and SCRIPT on a shard.

The shard runs a script whose declared keys it owns.  The runtime
(:mod:`cluster.scripting`) is given a *host* callback that runs each
``redis.call`` through :meth:`ShardConnection.execute` -- the generic
checks, the handlers, the key-level hook and the journal, as for any
command -- with ``conn.in_exec`` set, as inside EXEC: nothing queues,
nothing waits for a lock, nothing blocks.  The shard is single-threaded, so
no other client runs while the script does: the script is atomic.

Where a key may be touched:

- a key this shard owns;
- a declared key another shard owns, only while the command runs under the
  coordinator's ``DF.RUN`` (the proxy sends a script whose declared keys
  span shards there: those keys are locked on their shards and lent here);
- any other key, or a command that needs every shard (KEYS, SCAN, DBSIZE,
  FLUSHALL ...), sent by the proxy: if the script has not written yet, the
  shard stops it (:class:`ScriptAbort`, which ``pcall`` cannot swallow) with
  the internal ``DFPROXY`` error, and the proxy runs it again itself with
  every shard locked (proxy/script_proxy.py) -- nothing happened here, so
  the rerun is invisible.  If it has written, it cannot be undone: the
  script fails with ``SCRIPT_CROSS_SHARD_WRITTEN`` (or
  ``SCRIPT_ALL_SHARDS_WRITTEN``) and the proxy sends the script's later
  calls to proxy mode at once.  Writes are counted by the command's
  ``write`` flag (a DEL of a missing key counts: cheap and on the safe side);
- a client of a shard port (not sharded mode) gets ``SCRIPT_CROSS_SHARD`` /
  ``SCRIPT_ALL_SHARDS``: there is no proxy to hand the script to.

A key another client's cross-shard operation holds fails too (the script
cannot wait in the middle).  On a shard port in ``sharded`` mode, Redis
Cluster's rules apply: keys not owned here are "non local"; a script with a
shebang must keep to one slot (the declared keys', else its first key's)
unless it says ``allow-cross-slot-keys``.

The journal gets the script's effects -- the writes its commands made, each
as its own journal form -- wrapped in MULTI/EXEC when there are several
(:meth:`Journal.grouped`), so the AOF and replicas never run Lua.
"""

from __future__ import annotations

from cluster import errors
from cluster.args import parse_int
from cluster.commands import ALL
from cluster.errors import CommandError
from cluster.resp import RawReply
from cluster.scripting import get_runtime
from cluster.scripting.runtime import ScriptAbort
from cluster.scripting.shebang import ALLOW_CROSS_SLOT, NO_CLUSTER
from shardnode.db import slot_of
from shardnode.registry import handler

SCRIPT_HELP = [
    "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DEBUG (YES|SYNC|NO)",
    "    Set the debug mode for subsequent scripts executed.",
    "EXISTS <sha1> [<sha1> ...]",
    "    Return information about the existence of the scripts in the script cache.",
    "FLUSH [ASYNC|SYNC]",
    "    Flush the Lua scripts cache. Very dangerous on replicas.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the scripts cache.",
    "    * SYNC: Synchronously flush the scripts cache.",
    "KILL",
    "    Kill the currently executing Lua script.",
    "LOAD <script>",
    "    Load a script into the scripts cache without executing it.",
    "HELP",
    "    Prints this help.",
]


@handler("eval", "evalsha", "eval_ro", "evalsha_ro")
def eval_command(conn, args):
    name = args[0].lower()
    numkeys = parse_int(args[2])
    if numkeys > len(args) - 3:
        raise CommandError(errors.NUMKEYS_TOO_MANY)
    if numkeys < 0:
        raise CommandError(errors.NUMKEYS_NEGATIVE)
    runtime = get_runtime()
    if name.startswith(b"evalsha"):
        script = runtime.get(args[1])
        if script is None:
            raise CommandError(errors.NOSCRIPT)
    else:
        script = runtime.load(args[1])
    readonly = name.endswith(b"_ro")
    if script.flags is not None:
        if readonly and not script.no_writes:
            raise CommandError(errors.SCRIPT_RO_WITH_WRITE_FLAG)
        if NO_CLUSTER in script.flags and conn.server.sharded:
            raise CommandError(errors.SCRIPT_NO_CLUSTER)
    keys = args[3:3 + numkeys]
    host = ScriptHost(conn, script, keys)
    for key in keys:
        host.check_key(key)
    db_index = conn.db_index
    try:
        with conn.server.keyspace.journal.grouped():
            return RawReply(runtime.run(script, keys, args[3 + numkeys:], host, conn.proto,
                                        readonly))
    finally:
        if conn.db_index != db_index:  # SELECT inside a script ends with it, as in Redis
            conn.on_select(db_index)


class ScriptHost:
    """Runs a script's commands on this shard (the runtime's ``host``)."""

    __slots__ = ("conn", "server", "declared", "lent_ok", "cluster_rules", "whole_server",
                 "slot", "cross_slot_ok", "wrote", "script")

    def __init__(self, conn, script, keys):
        self.conn = conn
        self.server = conn.server
        self.declared = set(keys)
        # Under DF.RUN (the coordinator, inside run_transaction) the declared
        # keys of other shards are lent to this one for the call.
        self.lent_ok = conn.in_exec and conn.internal
        self.cluster_rules = self.server.sharded and not conn.internal
        # KEYS, DBSIZE, FLUSHALL ... mean the whole server, except on a
        # cluster node (a sharded shard port) or a server of one shard.
        self.whole_server = not self.cluster_rules and len(self.server.topology.shards) > 1
        self.slot = slot_of(keys[0]) if keys else None
        # Scripts without a shebang may cross slots (Redis's compatibility mode).
        self.cross_slot_ok = script.flags is None or ALLOW_CROSS_SLOT in script.flags
        self.wrote = False  # whether a write command ran (see module doc)
        self.script = script

    def _elsewhere(self, fresh: str, written: str, what) -> CommandError:
        """The error for a script that needs another shard (see module doc)."""
        if not self.conn.internal:
            return CommandError(fresh % what)
        if not self.wrote:
            return ScriptAbort(errors.SCRIPT_TO_PROXY % self.script.body.hex())
        return CommandError(written % what)

    def check_key(self, key) -> None:
        """Refuse a key this script may not touch here (see module doc)."""
        server = self.server
        slot = slot_of(key)
        owned = server.slot_owner[slot] == server.index
        if self.cluster_rules:
            if not owned:
                raise CommandError(errors.SCRIPT_NON_LOCAL_KEY)
            if self.slot is None:
                self.slot = slot  # no declared keys: the first key sets the slot
            elif slot != self.slot and not self.cross_slot_ok:
                raise CommandError(errors.SCRIPT_CROSS_SLOT)
        elif not owned and not (self.lent_ok and key in self.declared):
            raise self._elsewhere(errors.SCRIPT_CROSS_SHARD, errors.SCRIPT_CROSS_SHARD_WRITTEN,
                                  errors.echo(key, 128))

    def _check_locks(self, keys, exclusive: bool) -> None:
        """Undeclared keys must be free of other clients' locks (the declared
        ones passed the generic lock check before EVAL ran, or are held by
        the coordinator that sent DF.RUN)."""
        db = self.conn.db_index
        for key in keys:
            if key not in self.declared and self.server.locks.conflict(
                    self.conn.session, [(db, key)], exclusive):
                raise CommandError(errors.SCRIPT_KEY_LOCKED % errors.echo(key, 128))

    def __call__(self, spec, args, resp) -> bytes:
        conn = self.conn
        if spec.route == ALL and self.whole_server:
            raise self._elsewhere(errors.SCRIPT_ALL_SHARDS, errors.SCRIPT_ALL_SHARDS_WRITTEN,
                                  spec.name)
        if spec.has_keys:
            keys = spec.keys(args)
            for key in keys:
                self.check_key(key)
            if self.server.locks.held:
                self._check_locks(keys, spec.is_write)
        saved = (conn.proto, conn.wrap, conn.in_exec, conn.reply_mode)
        conn.proto, conn.wrap, conn.in_exec, conn.reply_mode = resp, False, True, 0
        try:
            data = conn.execute(args)
        finally:
            conn.proto, conn.wrap, conn.in_exec, conn.reply_mode = saved
        if spec.is_write:
            self.wrote = True
        if data is None:
            return b"_\r\n" if resp == 3 else b"$-1\r\n"
        return data


# -- SCRIPT ------------------------------------------------------------------------


@handler("script|load")
def script_load(conn, args):
    return get_runtime().load(args[2]).sha.encode()


@handler("script|exists")
def script_exists(conn, args):
    runtime = get_runtime()
    return [int(runtime.get(sha) is not None) for sha in args[2:]]


@handler("script|flush")
def script_flush(conn, args):
    if len(args) > 3 or (len(args) == 3 and args[2].lower() not in (b"sync", b"async")):
        raise CommandError(errors.SCRIPT_FLUSH_OPTION)
    get_runtime().flush()
    return "OK"


@handler("script|kill")
def script_kill(conn, args):
    raise CommandError(errors.NOTBUSY)


@handler("script|help")
def script_help(conn, args):
    return list(SCRIPT_HELP)
