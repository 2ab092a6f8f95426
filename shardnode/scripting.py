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
  ``SCRIPT_ALL_SHARDS_WRITTEN``, sent inside the internal ``DFWROTE`` with
  the body) and the proxy sends the script's later calls to proxy mode.  Writes are counted by the command's
  ``write`` flag (a DEL of a missing key counts: cheap and on the safe side).
  Scripts that build key names (job queues: ``sadd queues q`` then ``lpush
  queue:q``) write before they go astray, so from its first undeclared key
  on a script keeps an *undo log* -- each key a write command is about to
  change, saved once in the DUMP format -- and a script whose every write
  was logged is rolled back (values, TTLs, its journal entries) and handed
  back all the same.  Scripts that keep to their declared keys never pay
  for it; only writes made before the first undeclared key, or by commands
  that change keys beyond their specs (MOVE, COPY ... DB, SWAPDB, FLUSH*),
  cannot be rolled back.  Side effects a rolled-back write already had
  (keyspace events, WATCHes marked dirty, a blocked client woken to find
  nothing) stay: none of them shows a value the script wrote;
- a key another session holds locked: handed back the same way (proxy mode
  waits for locks; a script on a shard cannot);
- a client of a shard port (not sharded mode: the port is the proxy's
  back end, not a server of its own) gets ``SCRIPT_CROSS_SHARD`` /
  ``SCRIPT_ALL_SHARDS`` / ``SCRIPT_KEY_LOCKED``: nothing reruns it.  (EXEC of
  a queue with scripts never sends them in a DF.EXEC: proxy/script_proxy.py
  runs them one by one with every shard locked.)

On a shard port in ``sharded`` mode, Redis
Cluster's rules apply: keys not owned here are "non local"; a script with a
shebang must keep to one slot (the declared keys', else its first key's)
unless it says ``allow-cross-slot-keys``.

The journal gets the script's effects -- the writes its commands made, each
as its own journal form -- wrapped in MULTI/EXEC when there are several
(:meth:`Journal.grouped`), so the AOF and replicas never run Lua.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time

from cluster import errors
from cluster.args import parse_int
from cluster.commands import ALL
from cluster.errors import CommandError
from cluster.resp import RawReply, encode, encode_error
from cluster.scripting import get_runtime
from cluster.scripting.runtime import ScriptAbort
from cluster.scripting.shebang import (ALLOW_CROSS_SLOT, ALLOW_OOM, NO_CLUSTER, NO_WRITES,
                                       denies_oom, parse_shebang)
from shardnode.db import slot_of
from shardnode.rdb.encoding import KEEP_ENCODING
from shardnode.values import dump_payload, load_payload
from shardnode.monitor import feed_script
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
    if conn.server.observed:  # MONITOR shows EVAL as it starts (skip_monitor after)
        feed_script(conn, args)
    name = args[0].lower()
    runtime = get_runtime()
    if conn.server.memory.limit:
        refuse_for_memory(conn, declared_flags(runtime, name, args[1]))
    numkeys = parse_int(args[2])
    if numkeys > len(args) - 3:
        raise CommandError(errors.NUMKEYS_TOO_MANY)
    if numkeys < 0:
        raise CommandError(errors.NUMKEYS_NEGATIVE)
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
    return run_script(conn, runtime, script, args[3:3 + numkeys], args[3 + numkeys:], readonly)


# -- the memory limit (noeviction's -OOM) -------------------------------------------


def declared_flags(runtime, name: bytes, target: bytes):
    """The flags an EVAL/EVALSHA(_RO) (``target`` its body or SHA) or FCALL
    (``target`` the function's name) runs with, read as Redis's processCommand
    reads them before the command runs (evalGetCommandFlags,
    fcallGetCommandFlags): the cached script's, a new body's shebang, the
    function's (a body's shebang is its cached script's flags).  None: no shebang, or nothing known by that name (a bad
    shebang, an unknown SHA or function) -- the command's own table flags
    apply, and its handler answers the error."""
    if name.startswith(b"fcall"):
        from shardnode.functions import get_registry

        function = get_registry().functions.get(target)
        return function.flags if function is not None else None
    if name.startswith(b"evalsha"):
        script = runtime.get(target)
        return script.flags if script is not None else None
    try:
        return parse_shebang(target)[0]
    except CommandError:
        return None


def refuse_for_memory(conn, flags) -> None:
    """A script or function declaring flags without ``allow-oom`` or
    ``no-writes`` is a denyoom command: refused whole, before it starts (and
    before its other errors), while the shard is out of memory."""
    if denies_oom(flags) and conn.server.memory.out_of_memory():
        raise CommandError(errors.OOM)


def script_denies_oom(args) -> bool:
    """Whether a queued EVAL/EVALSHA/FCALL (``args``) counts as denyoom by
    its declared flags: EXEC of a queue holding one is refused while out of
    memory, as for any denyoom command (shardnode/memory.any_denyoom)."""
    if len(args) < 2:
        return False
    return denies_oom(declared_flags(get_runtime(), args[0].lower(), args[1]))


def run_script(conn, runtime, script, keys, argv, readonly, as_function=False, command=()):
    """Run a script (EVAL) or a function (FCALL, ``command`` its arguments
    for FUNCTION STATS) here, its effects journalled as one unit; the
    client's reply.  Either may run in the script thread (busy scripts,
    below), and either is handed back to the proxy when it needs another
    shard (a function with its library's code as the body)."""
    host = ScriptHost(conn, script, keys)
    # undo only where this call's journal group is its own (not in MULTI/DF.EXEC)
    host.undo_ok = conn.internal and not conn.in_exec and \
        not conn.server.keyspace.journal.grouping
    for key in keys:
        host.check_key(key)
    db_index = conn.db_index
    threshold = conn.server.config.busy_reply_threshold
    watchdog = None
    if threshold > 0 and not conn.in_exec and _on_event_loop():
        if script.sha not in _quick:
            return ScriptRun(conn, host, as_function, command).start(
                runtime, script, keys, argv, readonly, threshold)
        watchdog = _InlineWatch(script.sha, host, threshold)
    try:
        with conn.server.keyspace.journal.grouped():
            return RawReply(runtime.run(script, keys, argv, host, conn.proto, readonly,
                                        as_function, watchdog))
    except CommandError:
        if watchdog is None or not watchdog.stopped:
            raise
        # Too slow for the event loop, and nothing written: again, in the thread.
    finally:
        if conn.db_index != db_index:  # SELECT inside a script ends with it, as in Redis
            conn.on_select(db_index)
    host = ScriptHost(conn, script, keys)
    host.undo_ok = watchdog.host.undo_ok
    host.handback_ok = watchdog.host.handback_ok
    return ScriptRun(conn, host, as_function, command).start(
        runtime, script, keys, argv, readonly, threshold)


# -- busy scripts ------------------------------------------------------------------
#
# Where a plain EVAL runs on a shard:
# - a script this shard has not seen finish quickly: in the script thread
#   (ScriptRun): BUSY and SCRIPT KILL work from its first run, at the cost of
#   a thread hand-off (pipelined one-key EVALSHAs measured ~70-90 us a call
#   instead of ~30-45 us on a busy 2-core machine);
# - a script whose threaded run ended within QUICK_MS: inline on the event
#   loop, as cheap as before, with the runtime's watchdog timing it.  If it
#   runs past QUICK_MS without having written, it is stopped (its only effect
#   was reading) and run again in the thread; if it has written it runs on
#   inline -- that one run cannot answer BUSY or be killed -- and the script
#   goes back to the thread for its later runs.  The watchdog costs ~2 us a
#   run (setting and clearing a Lua count hook).

QUICK_MS = 20


def _on_event_loop() -> bool:
    """Whether a loop could answer others meanwhile (not so in unit tests
    that call handlers directly): else scripts run inline, no BUSY."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True

_quick: set = set()  # SHA1s of scripts that ran quickly in the thread


class _InlineWatch:
    """The watchdog of an inline run (see above)."""

    __slots__ = ("sha", "host", "deadline", "stopped", "done")

    def __init__(self, sha, host, threshold):
        self.sha = sha
        self.host = host
        self.deadline = time.perf_counter() + min(threshold, QUICK_MS) / 1000
        self.stopped = False
        self.done = False

    def __call__(self):
        if self.done or time.perf_counter() < self.deadline:
            return None
        _quick.discard(self.sha)
        if self.host.wrote:
            self.done = True
            return None
        self.stopped = True
        return "ERR damselfly: slow script moved off the event loop"

_script_jobs: list = []  # the queue of the thread scripts run in (made on first use)


def _script_worker(jobs) -> None:
    """The script thread: a daemon, so SHUTDOWN NOSAVE ends the process even
    while a script loops."""
    while True:
        job, *args = jobs.get()
        job(*args)


class ScriptDetached(Exception):
    """Raised by EVAL when its script outlived ``busy_reply_threshold``: the
    reply comes later (:meth:`ScriptRun.finish`); ``ShardConnection.execute``
    answers with what :meth:`deferred` gives."""

    def __init__(self, run):
        super().__init__()
        self.run = run

    def deferred(self, conn):
        return self.run.deferred(conn)


class ScriptRun:
    """One plain EVAL or FCALL, run in the script thread so the shard can
    answer other clients (BUSY) and SCRIPT KILL / FUNCTION KILL while a long
    script runs.

    Lua 5.1 cannot yield across the ``xpcall`` the runtime runs scripts in
    (nor out of a Python callback such as ``redis.call``), so a script cannot
    be sliced on the event loop.  Instead it runs in a thread while the event
    loop's thread *waits* for it, up to ``busy_reply_threshold``: meanwhile
    the script's commands run directly (the loop's thread is parked, so they
    are alone, as on the loop).  Almost every script ends within that wait:
    its cost is the thread hand-off (~30-40 us measured on a busy 2-core
    machine; scripts that finish quickly then run inline, see above).  Past it the EVAL's reply is deferred (a link gets ``:<tag>``
    then ``D <tag> <reply>``, as for a parked request; a direct client stops
    reading, as when blocked), the shard marks itself busy (every command
    but ``allow_busy`` ones gets BUSY, active expiry pauses), and each of the
    script's commands is posted to the loop and waited for.  SCRIPT KILL
    sets ``killed``: the runtime's watchdog stops the script within 100000
    Lua instructions with Redis 7.0's error.
    """

    def __init__(self, conn, host, as_function=False, command=()):
        self.conn = conn
        self.host = host
        self.as_function = as_function  # FUNCTION KILL stops it, not SCRIPT KILL
        self.command = command  # FCALL's arguments, for FUNCTION STATS
        self.started = time.monotonic()
        self.server = conn.server
        self.loop = asyncio.get_running_loop()
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.detached = False
        self.killed = False
        self.outcome = None  # encoded reply or CommandError
        self.tag = None
        self.context = (conn.session, conn.db_index, conn.proto, conn.notouch)

    def start(self, runtime, script, keys, argv, readonly, threshold):
        if not _script_jobs:
            _script_jobs.append(queue.SimpleQueue())
            threading.Thread(target=_script_worker, args=(_script_jobs[0],), name="script",
                             daemon=True).start()
        conn = self.conn
        _script_jobs[0].put((self._thread, runtime, script, keys, argv, readonly))
        started = time.perf_counter()
        self.done.wait(threshold / 1000)
        with self.lock:
            if not self.done.is_set():
                self.detached = True
        if not self.detached:
            if time.perf_counter() - started < min(threshold, QUICK_MS) / 4000:
                _quick.add(script.sha)
            if conn.db_index != self.context[1]:  # SELECT inside a script ends with it
                conn.on_select(self.context[1])
            if isinstance(self.outcome, BaseException):
                raise self.outcome
            return RawReply(self.outcome)
        self.server.busy = self
        self.server.locks.held += 1  # commands take the lock-check path: BUSY there
        raise ScriptDetached(self)

    def _thread(self, runtime, script, keys, argv, readonly):
        try:
            with self.server.keyspace.journal.grouped():
                self.outcome = runtime.run(script, keys, argv, self._call, self.context[2],
                                           readonly, self.as_function, self._watchdog)
        except CommandError as exc:
            self.outcome = exc
        except BaseException as exc:  # pragma: no cover - a bug must not hang the shard
            self.outcome = CommandError("ERR internal error while running script: %r" % exc)
        with self.lock:
            self.done.set()
            detached = self.detached
        if detached:
            self.loop.call_soon_threadsafe(self.finish)

    def _watchdog(self):
        return errors.SCRIPT_KILLED if self.killed else None

    @property
    def wrote(self) -> bool:
        return self.host.wrote

    @staticmethod
    def lets(spec, args, session) -> bool:
        """Whether a command runs although this shard is busy: none does
        but the ``allow_busy`` ones (its commands run from the thread)."""
        return False

    def _call(self, spec, args, resp, propagate=True):
        """The runtime's host, in the script thread (see class doc)."""
        with self.lock:
            if not self.detached:
                return self.host(spec, args, resp, propagate)
        box = []
        ready = threading.Event()

        def on_loop():
            conn = self.conn
            saved = (conn.session, conn.db_index, conn.proto, conn.notouch)
            conn.session, db_index, conn.proto, conn.notouch = self.context
            conn.on_select(db_index)
            try:
                box.append(self.host(spec, args, resp, propagate))
            except BaseException as exc:
                box.append(exc)
            finally:
                self.context = (conn.session, conn.db_index) + self.context[2:]
                conn.session, db_index, conn.proto, conn.notouch = saved
                conn.on_select(db_index)
                ready.set()

        self.loop.call_soon_threadsafe(on_loop)
        ready.wait()
        if isinstance(box[0], BaseException):
            raise box[0]
        return box[0]

    def deferred(self, conn):
        """What the EVAL answers now (see class doc)."""
        if conn.internal:
            self.tag = self.server.next_park_tag()
            return b":%d\r\n" % self.tag
        from shardnode.blocking import BLOCKED
        return BLOCKED

    def finish(self) -> None:
        """On the loop, once the script ended: the shard serves again."""
        server = self.server
        server.busy = None
        server.locks.held -= 1
        conn = self.conn
        outcome = self.outcome
        proto = self.context[2]
        if isinstance(outcome, CommandError):
            server.count_error(outcome.args[0])
            data = encode_error(outcome.args[0])
        else:
            data = encode(RawReply(outcome), proto)
        if conn.transport is None:
            return
        if self.tag is not None:
            conn.emit(b"*3\r\n$1\r\nD\r\n:%d\r\n$%d\r\n%b\r\n" % (self.tag, len(data), data))
        else:
            conn.transport.write(data)
            conn.resume()
        server.run_parked()


# Write commands that change keys their key specs do not name.
UNDO_BEYOND_KEYS = frozenset({"move", "swapdb", "flushdb", "flushall"})


class ScriptHost:
    """Runs a script's commands on this shard (the runtime's ``host``)."""

    __slots__ = ("conn", "server", "declared", "lent_ok", "cluster_rules", "whole_server",
                 "slot", "cross_slot_ok", "wrote", "script", "undo_ok", "undo", "final", "handback_ok")

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
        self.undo_ok = False  # may keep an undo log (set by eval_command)
        # The proxy reruns a script handed back from a plain EVAL or from
        # DF.RUN (which runs with the journal suspended), not from MULTI's DF.EXEC.
        self.handback_ok = conn.internal and (
            not conn.in_exec or self.server.keyspace.journal.suspended_depth > 0)
        self.undo = None  # (db, key) -> (payload or None, deadline), once keeping one
        self.final = False  # a write that the undo log does not cover ran

    def _elsewhere(self, fresh: str, written: str, what) -> CommandError:
        """The error for a script that needs another shard (see module doc)."""
        if not self.handback_ok:
            return CommandError(fresh % what)
        if self.wrote and self.final:
            return ScriptAbort(errors.SCRIPT_WROTE_TO_PROXY % (self.script.body.hex(),
                                                              written % what))
        if self.wrote:
            self._roll_back()
        return ScriptAbort(errors.SCRIPT_TO_PROXY % self.script.body.hex())

    def _save(self, keys) -> None:
        """Log the keys a write command is about to change (see module doc)."""
        db_index = self.conn.db_index
        db = self.server.keyspace.dbs[db_index]
        undo = self.undo
        for key in keys:
            if (db_index, key) not in undo:
                value = db.get(key)
                undo[(db_index, key)] = (None, None) if value is None else (
                    dump_payload(value), db.deadline(key))

    def _roll_back(self) -> None:
        """Put every logged key back and drop the script's journal entries
        (the EVAL's own group, see :meth:`Journal.grouped`)."""
        keyspace = self.server.keyspace
        with keyspace.journal.suspended():
            for (db_index, key), (payload, deadline) in self.undo.items():
                db = keyspace.dbs[db_index]
                if payload is None:
                    db.delete(key)
                    continue
                db.set(key, load_payload(payload, KEEP_ENCODING))
                if deadline is not None:
                    db.set_deadline(key, deadline)
        keyspace.journal.entries.clear()
        self.wrote = False

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
                raise self._elsewhere(errors.SCRIPT_KEY_LOCKED, errors.SCRIPT_KEY_LOCKED,
                                      errors.echo(key, 128))

    def __call__(self, spec, args, resp, propagate=True) -> bytes:
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
            if self.undo is None and self.undo_ok and not self.declared.issuperset(keys):
                self.undo = {}
        if not self.wrote and "denyoom" in spec.flags and self.server.memory.limit and (
                self.script.flags is None or ALLOW_OOM not in self.script.flags) \
                and (conn.oom_elsewhere or self.server.memory.out_of_memory()):
            raise CommandError(errors.OOM)  # Redis's scriptVerifyOOM: until the script wrote
        if spec.is_write and not self.final:
            if self.undo is None or spec.name in UNDO_BEYOND_KEYS or (
                    spec.name == "copy" and len(args) > 3):
                self.final = True
            else:
                self._save(spec.keys(args) if spec.has_keys else ())
        saved = (conn.proto, conn.wrap, conn.in_exec, conn.reply_mode, conn.in_script)
        conn.proto, conn.wrap, conn.in_exec, conn.reply_mode = resp, False, True, 0
        conn.in_script = True  # MONITOR shows the script's commands as "lua"'s
        try:
            if propagate:
                data = conn.execute(args)
            else:  # redis.set_repl(redis.REPL_NONE): effects kept out of the journal
                with self.server.keyspace.journal.suspended():
                    data = conn.execute(args)
        finally:
            conn.proto, conn.wrap, conn.in_exec, conn.reply_mode, conn.in_script = saved
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


class ProxyScriptBusy:
    """``server.busy`` while a proxy-mode script (proxy/script_proxy.py)
    that holds this shard outlived busy_reply_threshold (``DF.BUSY``): every
    other client gets BUSY, as for a script of this shard; its own
    commands (``DF.EXEC`` of its client id) run; SCRIPT KILL / FUNCTION
    KILL mark it killed, which the proxy asks about (``DF.BUSY <id> ?``)."""

    def __init__(self, client_id: int, as_function, wrote, command):
        self.client_id = client_id
        self.as_function = as_function
        self.wrote = wrote
        self.command = command
        self.killed = False
        self.started = time.monotonic()

    def lets(self, spec, args, session) -> bool:
        if session is not None and session.client_id == self.client_id:
            return True  # the script's fan-outs (KEYS, DBSIZE ...) in its session
        if spec.name in ("df.exec", "df.lock"):
            return int(args[1]) == self.client_id
        # values the script's cross-shard commands move: only it holds locks now
        return spec.name in ("df.export", "df.run", "df.import")


def end_proxy_busy(server, client_id: int) -> None:
    """The proxy-mode script of ``client_id`` ended (or its client went):
    the shard serves again."""
    busy = server.busy
    if isinstance(busy, ProxyScriptBusy) and busy.client_id == client_id:
        server.busy = None
        server.locks.held -= 1
        server.run_parked()


@handler("df.busy")
def df_busy(conn, args):
    server = conn.server
    busy = server.busy
    client_id = int(args[1])
    what = args[2]
    if what == b"1":
        if busy is None and len(args) >= 5:
            server.busy = ProxyScriptBusy(client_id, args[3] == b"1", args[4] == b"1", args[5:])
            server.locks.held += 1  # commands take the lock-check path: BUSY there
            server.run_parked()  # those waiting for the script's locks: BUSY now
        return "OK"
    mine = isinstance(busy, ProxyScriptBusy) and busy.client_id == client_id
    if what == b"0":
        end_proxy_busy(server, client_id)
        return "OK"
    if what == b"w":
        if mine:
            busy.wrote = True
        return "OK"
    return int(mine and busy.killed)  # "?"


def busy_refusal(server, spec):
    """The BUSY error for an ``allow_busy`` command that the kind of script
    running still refuses, as Redis 7.0 does: FUNCTION STATS while an EVAL
    runs; else None."""
    run = server.busy
    if run is not None and not run.as_function and spec.name == "function|stats":
        return errors.BUSY_SCRIPT
    return None


def kill_script(conn, functions: bool):
    """SCRIPT KILL (``functions`` False) or FUNCTION KILL: stop the running
    script unless it wrote; the other kind running gets BUSY, as in Redis
    7.0 (in that order: UNKILLABLE first)."""
    run = conn.server.busy
    if run is None:
        raise CommandError(errors.NOTBUSY)
    if run.wrote:
        raise CommandError(errors.UNKILLABLE)
    if run.as_function != functions:
        raise CommandError(errors.BUSY_FUNCTION if run.as_function else errors.BUSY_SCRIPT)
    run.killed = True
    return "OK"


@handler("script|kill")
def script_kill(conn, args):
    return kill_script(conn, False)


@handler("df.script")
def df_script(conn, args):
    script = get_runtime().get(args[1])
    return None if script is None else script.body


@handler("script|help")
def script_help(conn, args):
    return list(SCRIPT_HELP)
