"""Scripts that need more than their declared keys: run by the proxy itself.

Which case costs what (see also the README, "Scripts"):

1. Declared keys on one shard: the EVAL goes to that shard as any keyed
   command (shardnode/scripting.py) -- one round trip, no lock.  The reply
   comes back through a small :class:`_Watch` target instead of straight to
   the client's slot, so the proxy can see the one internal error below.
2. Declared keys on several shards: the coordinator locks them and lends
   them to one shard (``DF.RUN``), as for MSET.
3. A script that touches a key it did not declare on another shard, or runs
   a command that needs every shard (KEYS, SCAN, DBSIZE, FLUSHALL ...):
   *proxy mode*.  The shard stops it at that call; if the script had not
   written yet nothing happened, the shard answers ``-DFPROXY <body hex>``
   and the proxy runs the script again itself, transparently.  Its SHA is
   remembered (per proxy process), so its later calls go to proxy mode at
   once.  A script that had already written gets an error (its writes
   stand: a shard cannot undo them) and is remembered the same way.

Proxy mode: the proxy locks every shard whole (``DF.LOCK <id> a``, shard
after shard in shard order, as the coordinator does: no deadlock), runs the
Lua in the same runtime the shards use, each ``redis.call`` going to the
shard(s) owning its keys in the client's session (``DF.EXEC``, which passes
the locks; multi-shard commands as the coordinator's plans), and unlocks
every shard at the end.  The script is atomic: no other client's command
runs on any shard meanwhile.  Cost: two round trips per shard for the locks,
one round trip per ``redis.call`` and the whole server held while it runs.
Each shard journals the commands it ran, each ``DF.EXEC`` as its own unit
(the script's commands on one shard are not one MULTI/EXEC: that would need
the shards to buffer a script's journal until its end).

The runtime is synchronous (``redis.call`` must return the reply) and Lua
5.1 cannot yield across ``pcall``/``xpcall`` (the runtime runs every script
under ``xpcall``), so a Lua coroutine cannot hand the calls to asyncio.  The
script runs in a worker thread instead: each call is posted to the event
loop (``run_coroutine_threadsafe``) and the thread waits for the reply.  One
proxy-mode script at a time per process (the runtime has one current run;
whole-shard locks serialise them across processes anyway).

FCALL goes the same way, but a shard hands a function back with its
library's code, which the proxy compiles once (per version of the code) in
a Lua state of its own; nothing about a function is remembered, since its
library may be replaced.  Scripts inside MULTI: see "scripts inside MULTI"
below.  Past ``busy_reply_threshold`` a proxy-mode script tells the shards
(``DF.BUSY``), which answer BUSY to every other client as for a script of
their own, and report SCRIPT KILL / FUNCTION KILL, which the proxy asks
them about every 50 ms (:func:`_busy_after`).

Order: a client's commands pipelined after a one-shard EVAL wait in the
proxy (:meth:`ProxyClient.hold`) until its reply is back, so when the shard
hands the script back, its rerun in proxy mode still runs before them -- a
pipelined ``EVAL`` then ``GET`` sees the script's effects, as on one Redis.
The price: one client's pipelined scripts go one round trip at a time
(other clients are not held; a client that does not pipeline pays nothing).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from concurrent.futures import ThreadPoolExecutor
from functools import partial

from cluster import errors
from cluster.args import parse_db_number, parse_int
from cluster.commands import COMMANDS, LOCAL
from cluster.commands.scripting import SCRIPT_CALLS
from cluster.errors import CommandError
from cluster.resp import NULL_ARRAY, RawReply, encode, encode_command, encode_error
from cluster.scripting import Script, ScriptRuntime, get_runtime
from cluster.scripting.shebang import ALLOW_OOM, denies_oom
from cluster.slots import key_slot
from proxy.coordinator import Plan, _exec_args, lock_args
from proxy.fanout import MERGES, decode_reply
from proxy.links import context
from proxy.scripting import KEYED_HOOKS, share_script

log = logging.getLogger("damselfly.proxy")

TO_PROXY = errors.SCRIPT_TO_PROXY.split(" ", 1)[0].encode()  # b"DFPROXY"
HANDED_BACK = b"-" + TO_PROXY + b" "
WROTE = b"-" + errors.SCRIPT_WROTE_TO_PROXY.split(" ", 1)[0].encode() + b" "
NOSCRIPT = b"-" + errors.NOSCRIPT.encode() + b"\r\n"

# SHA1 hex digest -> body of the scripts that run in proxy mode (compiled in
# this process's runtime only under the lock: the script thread may be in it).
_needs_proxy: dict = {}
_executor = []  # the one thread proxy-mode scripts run in (made on first use)
_lock = []  # asyncio.Lock: one proxy-mode script at a time in this process
_flushed: list = []  # non-empty after a SCRIPT FLUSH, until the runtime follows
_running: list = []  # the ProxyHost of the proxy-mode script running now


def _merge_script_flush(gather, replies):
    """SCRIPT FLUSH: forget which scripts run here; the compiled copies go at
    the next proxy-mode run (the runtime is touched only under the lock)."""
    _needs_proxy.clear()
    _flushed.append(True)
    return _flush_merge(gather, replies)


def _script_sha(client, spec, args):
    """The SHA1 hex an EVAL/EVALSHA(_RO) runs (an EVAL's body shared with
    every shard first); None for FCALL(_RO): a function's library may be
    replaced, so the proxy remembers nothing of it."""
    if spec.name in ("eval", "eval_ro"):
        share_script(client, spec, args)
        return hashlib.sha1(args[1]).hexdigest()
    if spec.name in ("evalsha", "evalsha_ro"):
        return args[1].decode("latin-1").lower()
    return None


def eval_hook(client, spec, args) -> bool:
    """Route one EVAL/EVALSHA/FCALL(_RO) (see module doc); True: taken over."""
    sha = _script_sha(client, spec, args)
    try:
        numkeys = parse_int(args[2])
    except CommandError:
        return False  # the shard answers the error
    if not 0 <= numkeys <= len(args) - 3:
        return False
    keys = args[3:3 + numkeys]
    if sha is not None and sha in _needs_proxy:
        body = args[1] if spec.name in ("eval", "eval_ro") else _needs_proxy[sha]
        slot = client.new_slot()
        _start(client, _proxy_mode(client, spec, args, body, slot))
        return True
    worker = client.worker
    owner = worker.slot_owner
    shards = {owner[key_slot(k)] for k in keys}
    slot = client.new_slot()
    if len(shards) <= 1:
        shard = shards.pop() if shards else 0
        watch = _Watch(client, spec, args, sha, slot, shard)
        worker.links[shard].send(client.ctx, encode_command(args), [watch, None])
        client.hold(watch)  # its rerun, if handed back, must come before what follows
        return True
    _start(client, _declared_across(client, spec, args, sha, slot))
    return True


def _start(client, coroutine, holder=None) -> None:
    """Run coordinated work for ``client``, holding its later commands (those
    ``holder`` held so far too)."""
    if holder is not None and client.hold_owner is holder:
        client.hold_owner = coroutine  # the same backlog, released when it ends
    else:
        client.hold(coroutine)
    client.coordinating += 1
    asyncio.ensure_future(_finish(client, coroutine))


async def _finish(client, coroutine):
    try:
        await coroutine
    finally:
        client.coordinating -= 1
        client.worker.flush_soon()
        client.release_hold(coroutine)
        if client.transport is None and not client.coordinating:
            client.end_sessions()


def _outcome(sha, data):
    """(the client's reply, None) from a shard's reply to a script, or
    (None, the body to run in proxy mode) when the shard handed it back."""
    if data[:1] == b"-":
        if data[:len(HANDED_BACK)] == HANDED_BACK:
            body = bytes.fromhex(data[len(HANDED_BACK):].strip().decode())
            if sha is not None:
                _needs_proxy[sha] = body
            return None, body
        if data[:len(WROTE)] == WROTE:
            hex_body, text = data[len(WROTE):].split(b" ", 1)
            if sha is not None:
                _needs_proxy[sha] = bytes.fromhex(hex_body.decode())
            data = b"-" + text
    return data, None


def _answered(client, sha, slot, data):
    """Fill ``slot`` with a shard's reply unless it hands the script back;
    the body to run in proxy mode if it does."""
    data, body = _outcome(sha, data)
    if body is None:
        slot[1] = data
        client.deliver(slot)
    return body


class _Watch:
    """The link's reply target for a one-shard EVAL: passes the reply on, or
    starts proxy mode when the shard handed the script back."""

    __slots__ = ("client", "spec", "args", "sha", "slot", "shard")

    def __init__(self, client, spec, args, sha, slot, shard):
        self.client, self.spec, self.args, self.sha, self.slot = client, spec, args, sha, slot
        self.shard = shard

    def deliver(self, link_slot) -> None:
        client = self.client
        if link_slot[1] == NOSCRIPT and self.sha is not None:  # cached elsewhere only?
            _start(client, _after_noscript(client, self.spec, self.args, self.sha, self.slot,
                                           self.shard), self)
            return
        body = _answered(client, self.sha, self.slot, link_slot[1])
        if body is None:
            client.release_hold(self)
        else:
            _start(client, _proxy_mode(client, self.spec, self.args, body, self.slot), self)


async def _find_script(client, sha) -> bytes | None:
    """The body of ``sha`` from any shard that caches it, loaded then on
    every shard (ahead of anything sent after on the same links); None when
    no shard has it."""
    links = client.worker.links
    replies = await asyncio.gather(*(link.request(client.ctx, [b"DF.SCRIPT", sha.encode()])
                                     for link in links))
    for data in replies:
        body = decode_reply(data)
        if type(body) is bytes:
            for link in links:
                link.send_forget(None, [b"SCRIPT", b"LOAD", body])
            return body
    return None


async def _after_noscript(client, spec, args, sha, slot, shard):
    """A one-shard EVALSHA got NOSCRIPT: again once the script is loaded
    everywhere, if any shard has it; else NOSCRIPT (proxy/scripting.py)."""
    data = NOSCRIPT
    if await _find_script(client, sha) is not None:
        data = await client.worker.links[shard].request(client.ctx, list(args))
    body = _answered(client, sha, slot, data)
    if body is not None:
        await _proxy_mode(client, spec, args, body, slot)


async def _declared_across(client, spec, args, sha, slot):
    """Declared keys on several shards: the coordinator's way (module doc, 2)."""
    for attempt in range(2):
        plan = Plan(client.worker)
        plan.add(spec, args, client.db_index)
        data = await client.worker.coordinator.execute(client, plan, False, False)
        if type(data) is list:
            data = data[0]
        if data != NOSCRIPT or attempt or sha is None or await _find_script(client, sha) is None:
            break
    body = _answered(client, sha, slot, data)
    if body is not None:
        await _proxy_mode(client, spec, args, body, slot)


def _process_lock() -> asyncio.Lock:
    """One proxy-mode script (or EXEC with scripts) at a time in this
    process, always taken before any shard lock."""
    if not _lock:
        _lock.append(asyncio.Lock())
        _executor.append(ThreadPoolExecutor(1, thread_name_prefix="script"))
    return _lock[0]


async def _proxy_mode(client, spec, args, body, slot):
    """Run the script here with every shard locked (module doc); fills ``slot``."""
    async with _process_lock():
        try:
            data = await _run_locked(client, spec, args, body)
        except CommandError as exc:
            data = encode_error(exc.args[0])
        except Exception:  # the client must get a reply all the same
            log.exception("proxy-mode script failed")
            data = encode_error("ERR internal error while running a script")
    slot[1] = data
    client.deliver(slot)


_WHOLE = ((), True, True)  # a lock of the whole shard (coordinator.lock_args)


async def _lock_every_shard(client, locked, memory_checks=None) -> bool:
    """Lock every shard whole for the client's session, in shard order (as
    the coordinator does: no deadlock), appending each to ``locked``; True
    if a key the client WATCHes changed.  ``memory_checks``: shard -> what
    its DF.LOCK adds to refuse with -OOM first (EXEC's check,
    proxy/transactions.exec_memory_checks)."""
    links = client.worker.links
    cid = b"%d" % client.id
    client.note_sessions(range(len(links)))
    dirty = False
    for shard in range(len(links)):
        check = memory_checks.get(shard) if memory_checks else None
        reply = decode_reply(await links[shard].request(
            client.ctx, lock_args(cid, _WHOLE, check)))
        if isinstance(reply, CommandError):
            raise reply
        locked.append(shard)
        dirty = dirty or reply == 1
    return dirty


def _unlock(client, locked) -> None:
    cid = b"%d" % client.id
    for shard in locked:
        client.worker.links[shard].send_forget(client.ctx, [b"DF.UNLOCK", cid])
    client.worker.flush_soon()


async def _run_locked(client, spec, args, body) -> bytes:
    locked = []
    try:
        await _lock_every_shard(client, locked)
        return await _run_here(client, spec, args, body, client.db_index)
    finally:
        _unlock(client, locked)


async def _run_here(client, spec, args, body, db) -> bytes:
    """Run the script in this process's runtime, every shard locked by the
    caller (and the process lock held); its reply, or raises CommandError."""
    readonly = spec.name.endswith("_ro")
    as_function = spec.name.startswith("fcall")
    if as_function:
        runtime, script = _function(body, args[1])
    else:
        runtime = get_runtime()
        if _flushed:
            _flushed.clear()
            runtime.flush()
        script = runtime.load(body)
    # Declared flags without allow-oom or no-writes: refused whole while a
    # shard is out of memory (any shard: a script here may reach every one).
    # Every shard is locked by now, each after any change of its state was
    # told on its link: the links' record is current.
    if denies_oom(script.flags) and client.worker.full_shards:
        raise CommandError(errors.OOM)
    if not as_function and script.flags is not None and readonly and not script.no_writes:
        raise CommandError(errors.SCRIPT_RO_WITH_WRITE_FLAG)
    numkeys = parse_int(args[2])
    keys, argv = args[3:3 + numkeys], args[3 + numkeys:]
    loop = asyncio.get_running_loop()
    host = ProxyHost(client, loop)
    host.db = db
    host.as_function = as_function
    host.oom_exempt = script.flags is not None and ALLOW_OOM in script.flags
    _running.append(host)
    threshold = client.worker.config.busy_reply_threshold
    watch = asyncio.ensure_future(_busy_after(host, threshold, as_function, args)) \
        if threshold > 0 else None
    try:
        return await loop.run_in_executor(_executor[0], partial(
            runtime.run, script, keys, argv, host, client.proto, readonly, as_function,
            host.watchdog))
    finally:
        _running.clear()
        if watch is not None:
            watch.cancel()
        if host.busy:  # before the caller's DF.UNLOCKs, on the same links
            host.tell_shards(b"0")


async def _busy_after(host, threshold, as_function, args) -> None:
    """Past busy_reply_threshold the locked shards answer BUSY to everyone
    else (``DF.BUSY``), as a script of their own makes them; then, until the
    script ends, ask them whether SCRIPT KILL / FUNCTION KILL reached one of
    them through any proxy worker."""
    await asyncio.sleep(threshold / 1000)
    host.busy = True
    host.tell_shards(b"1", b"1" if as_function else b"0", b"1" if host.wrote else b"0", *args)
    links = host.client.worker.links
    while not host.killed:
        await asyncio.sleep(0.05)
        asked = await asyncio.gather(*(link.request(None, [b"DF.BUSY", host.cid, b"?"])
                                       for link in links))
        if any(decode_reply(data) == 1 for data in asked):
            host.killed = True


_libraries: dict = {}  # SHA1 of a library's code -> {function name: Script}
_function_runtime: list = []  # the Lua state of the libraries run here (as a shard's)


def _function(code: bytes, name: bytes):
    """(runtime, script) of function ``name`` from the library ``code`` a
    shard handed back (checked there already), compiled once here."""
    if not _function_runtime:
        _function_runtime.append(ScriptRuntime())
    runtime = _function_runtime[0]
    digest = hashlib.sha1(code).digest()
    functions = _libraries.get(digest)
    if functions is None:
        if len(_libraries) > 64:  # replaced libraries: start afresh
            _libraries.clear()
            runtime = _function_runtime[0] = ScriptRuntime()
        functions = _libraries[digest] = {
            fname: Script(fname.decode("utf-8", "surrogateescape"), code, frozenset(flags),
                          callback)
            for fname, callback, _, flags in runtime.load_library(code[code.find(b"\n"):])}
    return runtime, functions[name]


# -- scripts inside MULTI ------------------------------------------------------------
#
# A script's keys are not known before it runs, so EXEC of a queue holding
# EVAL/EVALSHA/FCALL cannot lock just the keys: it takes the process lock,
# locks every shard whole (WATCH is checked there), then runs the queued
# commands one after the other in the client's session -- each script as
# it would run outside MULTI (on its shard; across shards through the
# coordinator; handed back and run here), each other command as a one-
# command plan -- and unlocks.  Atomic: nothing else runs on any shard
# meanwhile.  Cost: the whole server held for one round trip per command
# (plus the locks), and each command journalled on its own, not as one
# MULTI/EXEC unit (as proxy-mode scripts are).


def run_exec_with_scripts(client, steps, watching: bool) -> None:
    """EXEC of a queue with scripts (proxy/transactions.py): ``steps`` are
    ("local", reply bytes) or ("command", spec, args, db)."""
    slot = client.new_slot()
    _start(client, _exec_with_scripts(client, steps, watching, slot))


async def _exec_with_scripts(client, steps, watching, slot):
    locked = []
    async with _process_lock():
        try:
            from proxy.transactions import exec_memory_checks  # (it imports this module)

            if await _lock_every_shard(client, locked, exec_memory_checks(client.worker, steps)) \
                    and watching:
                data = encode(NULL_ARRAY, client.proto)
            else:
                out = []
                for step in steps:
                    out.append(step[1] if step[0] == "local" else
                               await _command_in_exec(client, *step[1:]))
                data = b"*%d\r\n%b" % (len(out), b"".join(out))
        except CommandError as exc:  # a shard out of memory refused the EXEC (DF.LOCK)
            data = encode_error(errors.EXECABORT_OOM if exc.args[0] == errors.OOM else exc.args[0])
        except Exception:
            log.exception("EXEC with scripts failed")
            data = encode_error("ERR internal error while running EXEC")
        finally:
            _unlock(client, locked)
            if watching:
                client.unwatch()
    slot[1] = data
    client.deliver(slot)


async def _command_in_exec(client, spec, args, db) -> bytes:
    """One queued command, every shard locked: its encoded reply."""
    host = ProxyHost(client, asyncio.get_running_loop())
    host.db = db
    if spec.name not in SCRIPT_CALLS:
        return await host.command(spec, args, client.proto, b"m")  # checked at EXEC
    sha = _script_sha(client, spec, args)
    try:
        numkeys = parse_int(args[2])
    except CommandError:
        numkeys = -1
    body = _needs_proxy.get(sha) if sha is not None else None
    if body is None:
        keys = args[3:3 + numkeys] if 0 <= numkeys <= len(args) - 3 else []
        owner = client.worker.slot_owner
        shards = {owner[key_slot(k)] for k in keys}
        if len(shards) > 1:  # the coordinator's way, under the locks held
            data = await host.command(spec, args, client.proto)
        else:  # as outside MULTI, in the session that holds the locks
            shard = shards.pop() if shards else 0
            ctx = context(db, client.proto, client.notouch) + (client.id,)
            link = client.worker.links[shard]
            data = await link.request(ctx, list(args))
            if data == NOSCRIPT and sha is not None and await _find_script(client, sha):
                data = await link.request(ctx, list(args))
        data, body = _outcome(sha, data)
        if body is None:
            return data
    try:
        return await _run_here(client, spec, args, body, db)
    except CommandError as exc:
        return encode_error(exc.args[0])


class _Session:
    """The client as a plan's steps see it, with the script's protocol."""

    def __init__(self, client, proto):
        self.client = client
        self.worker = client.worker
        self.id = client.id
        self.proto = proto
        self.ctx = context(client.db_index, proto, client.notouch)

    def session_ctx(self):
        return self.ctx + (self.id,)


_OOM_REPLY = encode_error(errors.OOM)


class ProxyHost:
    """The runtime's ``host`` in proxy mode: called in the script thread,
    runs each command on the event loop and waits for its reply."""

    def __init__(self, client, loop):
        self.client = client
        self.loop = loop
        self.db = client.db_index
        self.cid = b"%d" % client.id
        self.wrote = False  # SCRIPT KILL answers UNKILLABLE once it has
        self.killed = False
        self.busy = False  # the shards were told it is past busy_reply_threshold
        self.as_function = False  # FUNCTION KILL stops it, not SCRIPT KILL
        self.told_wrote = False
        # Redis's scriptVerifyOOM: a denyoom call is refused while out of
        # memory until the script has written (or if it says allow-oom).
        self.oom_exempt = False

    def tell_shards(self, *args) -> None:
        """``DF.BUSY <client id> args`` to every shard (see _busy_after)."""
        for link in self.client.worker.links:
            link.send_forget(None, [b"DF.BUSY", self.cid, *args])
        self.client.worker.flush_soon()

    def watchdog(self):
        """The runtime's watchdog (in the script thread): SCRIPT KILL's answer."""
        return errors.SCRIPT_KILLED if self.killed else None

    def __call__(self, spec, args, resp, propagate=True) -> bytes:
        if spec.is_write:
            self.wrote = True
        flags = b"" if propagate else b"n"
        if self.oom_exempt:
            flags += b"m"
        data = asyncio.run_coroutine_threadsafe(
            self.command(spec, args, resp, flags), self.loop).result()
        if spec.is_write and not self.oom_exempt and not data.startswith(_OOM_REPLY):
            self.oom_exempt = True
        return data

    async def command(self, spec, args, resp, flags=b"") -> bytes:
        client = self.client
        worker = client.worker
        if self.busy and spec.is_write and not self.told_wrote:
            self.told_wrote = True
            self.tell_shards(b"w")  # SCRIPT KILL answers UNKILLABLE now
        cid = b"%d" % client.id
        if spec.name == "select":
            db = parse_db_number(args[1])
            if not 0 <= db < worker.config.dbnum:
                raise CommandError(errors.DB_INDEX_OUT_OF_RANGE)
            self.db = db
            return b"+OK\r\n"
        session = _Session(client, resp)
        ctx = context(self.db, resp, client.notouch)
        if spec.route is LOCAL:
            reply = decode_reply(await worker.links[0].request(
                ctx, _exec_args(cid, flags, [(self.db, args)])))
            if isinstance(reply, CommandError):
                return encode_error(reply.args[0])
            return reply[0]
        plan = Plan(worker)
        plan.add(spec, args, self.db)
        if b"m" not in flags and worker.full_shards:
            # Every shard is locked: the links' record of which are out of
            # memory is current, and a command is refused whole, not per shard.
            if not plan.memory.denied.isdisjoint(worker.full_shards):
                return encode_error(errors.OOM)
            flags += b"m"
        part_replies: dict = {}
        specials: dict = {}
        await worker.coordinator.run_segments(session, ctx, cid, plan, part_replies, specials,
                                              flags)
        for reply in part_replies.values():
            if isinstance(reply, CommandError):
                return encode_error(reply.args[0])
        return worker.coordinator._assemble(session, plan, part_replies, specials, False)[0]


def _kill_refused(replies) -> None:
    """SCRIPT KILL / FUNCTION KILL refused everywhere: the error that says
    most -- UNKILLABLE, then BUSY (the other kind of script runs), then NOTBUSY."""
    for prefix in ("UNKILLABLE", "BUSY"):
        for r in replies:
            if isinstance(r, CommandError) and r.args[0].startswith(prefix):
                raise r
    for r in replies:
        if isinstance(r, CommandError):
            raise r


def _merge_kill(replies, functions: bool):
    """SCRIPT KILL (FUNCTION KILL: ``functions``) went to every shard: OK
    where one stopped a script, else a shard's UNKILLABLE; else this
    process's proxy-mode script, if one runs and the shards were not told
    yet (killed unless it wrote or is of the other kind, as a shard
    answers); else BUSY or NOTBUSY (Redis's one-succeeded)."""
    if any(r == b"OK" for r in replies):
        return "OK"
    if _running and not any(isinstance(r, CommandError) and r.args[0].startswith("UNKILLABLE")
                            for r in replies):
        host = _running[0]
        if host.wrote:
            raise CommandError(errors.UNKILLABLE)
        if host.as_function != functions:
            raise CommandError(errors.BUSY_FUNCTION if host.as_function else errors.BUSY_SCRIPT)
        host.killed = True
        return "OK"
    _kill_refused(replies)
    return "OK"


def _merge_script_kill(gather, replies):
    return _merge_kill(replies, False)


def _merge_function_kill(gather, replies):
    return _merge_kill(replies, True)


def _merge_function_stats(gather, replies):
    """FUNCTION STATS went to every shard: the one running a function, if
    any, else the first (every shard holds the same libraries)."""
    for part, reply in zip(gather.parts, replies):
        if isinstance(reply, CommandError):
            raise reply
        running = reply.get(b"running_script") if isinstance(reply, dict) else (
            reply[1] if isinstance(reply, list) and len(reply) > 1 else None)
        if running is not None:
            return RawReply(part[1])
    return RawReply(gather.parts[0][1])


MERGES["script_kill"] = _merge_script_kill
MERGES["function_kill"] = _merge_function_kill
MERGES["function_stats"] = _merge_function_stats
_flush_merge = MERGES["script_flush"]
MERGES["script_flush"] = _merge_script_flush
for _name in SCRIPT_CALLS:
    KEYED_HOOKS[COMMANDS[_name]] = eval_hook
