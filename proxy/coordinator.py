"""Atomic work across shards: MULTI/EXEC, and single commands whose keys span shards.

Everything here runs as the client's *session* on the shards (``DF.CTX`` with
the client id, see shardnode/internal.py), on the worker's shared links: a
request that must wait for a lock is parked by its shard, and the link's
pipeline moves on for every other client.

A :class:`Plan` turns a list of commands (a transaction, or one MGET/MSET/
RENAME/... spanning shards) into *segments*: per-shard parts that run as
``DF.EXEC`` on their own shard, and the occasional step that needs a value to
travel (RENAME across shards: export, run, import, in Redis's DUMP format) or
a custom fan-out (INFO, SCAN, CONFIG SET inside MULTI).  Execution:

1. lock, shard after shard in shard-id order (so two coordinators never
   deadlock), the keys the commands touch there (``DF.LOCK``; the whole shard
   for FLUSHALL and the like).  When the plan is one segment and nothing is
   WATCHed, the last shard is not locked first: its part waits for its keys
   when it arrives, which is already atomic since every other shard involved
   is held -- so a two-shard MGET costs two round trips;
2. if a WATCHed key changed (``DF.LOCK`` says so), unlock and answer null;
3. run the segments in order; 4. unlock.

No client ever sees part of the work: every key it touches is locked on every
shard before the first part runs, and other keys keep being served.
Operations whose keys live on one shard take no lock at all: ``DF.EXEC`` on
that shard runs them back to back.

Out of memory: a plan remembers the shards that own a denyoom command's keys
(every shard for one without keys; a script counts by its declared flags,
:class:`MemoryChecks`).  When such a shard has a memory limit (its link's
``F`` frames, ``ShardServer.note_memory``), it is locked in the lock round
even when it is the last one -- ``DF.LOCK`` with ``o`` refuses with -OOM
while the shard is out of memory -- so the decision is made on every shard
before any part runs: a cross-shard EXEC (or MSET, LMOVE, EVAL ...) is
refused whole or runs whole.  The parts then run with ``m`` (memory
checked: a shard filling up meanwhile does not refuse its part).  Without a
limit the plan costs what it did.

A command that reads keys beyond its key specs (SORT's BY/GET patterns: the
spec's ``reach``) cannot name them before it runs, so it locks *whole*
shards: every shard when a pattern may name a key anywhere, or the shards of
the patterns' hash tags.  Then (:meth:`Coordinator._reach`) the source's
elements are read, the keys the patterns name for them exported from their
shards, and the command runs on one shard with all of them lent to it
(``DF.RUN``), the sort itself being the shard's own.  The cost: while it
runs -- four round trips plus one per locked shard, and the values of every
pattern key (a whole hash for ``key->field``) carried to the running shard
-- every other client's commands on the locked shards wait.
"""

from __future__ import annotations

import asyncio
import logging

from cluster import errors
from cluster.commands import ALL, KEYED, SPLIT, lookup
from cluster.commands.scripting import SCRIPT_CALLS
from cluster.errors import CommandError
from cluster.resp import NULL_ARRAY, encode, encode_command, encode_error
from cluster.scripting.shebang import denies_oom, parse_shebang
from cluster.slots import key_slot
from cluster.sorting import parse_sort, pattern_keys
from proxy.fanout import FANOUTS, MERGES, Gather, decode_reply

log = logging.getLogger("damselfly.proxy")

# Commands executed on the shard of their last key (they write their last key
# with a database option).
RUN_ON_LAST_KEY = {"copy", "sort"}


def reach_shards(worker, spec, args) -> set:
    """The shards a command reads beyond its key specs (``spec.reach``):
    every shard when they cannot be known before it runs."""
    reach = spec.reach(args)
    if reach is None:
        return set(range(len(worker.links)))
    owner = worker.slot_owner
    return {owner[key_slot(key)] for key in reach}



def command_shards(worker, spec, args):
    """The shards that own a command's keys; None for a command without keys
    (or whose keys cannot be told before it runs: any shard may be concerned)."""
    if spec.route is not KEYED and spec.route is not SPLIT:
        return None
    try:
        keys = spec.keys(args)
    except (CommandError, ValueError, IndexError):  # EVAL with a bad numkeys: its shard errs
        return None
    if not keys:
        return None
    owner = worker.slot_owner
    return {owner[key_slot(key)] for key in keys}


class MemoryChecks:
    """Where a plan's memory must be checked before any of it runs (Redis
    refuses a denyoom command, and EXEC of a queue holding one, while out of
    memory): the shards that own a denyoom command's keys, every shard for
    one without keys.  A script or function counts by its declared flags --
    an EVAL's shebang is read here; an EVALSHA's script or an FCALL's
    function is known to the shards only, so those go along in the check
    (``DF.LOCK`` ``s``, shardnode/internal.py)."""

    __slots__ = ("denied", "refs")

    def __init__(self):
        self.denied: set = set()
        self.refs: dict = {}  # shard -> [command, sha or function name, ...]

    def note(self, worker, spec, args) -> None:
        """Note one command of the plan (any command: most leave no mark)."""
        if spec.name in SCRIPT_CALLS:
            if spec.name.startswith("eval") and not spec.name.startswith("evalsha"):
                try:
                    if not denies_oom(parse_shebang(args[1])[0]):
                        return
                except CommandError:
                    return  # the shard answers the bad shebang
            else:
                for shard in command_shards(worker, spec, args) or range(len(worker.links)):
                    self.refs.setdefault(shard, []).extend(args[:2])
                return
        elif "denyoom" not in spec.flags:
            return
        self.denied.update(command_shards(worker, spec, args) or range(len(worker.links)))

    def lock_modes(self, worker) -> dict:
        """Shard -> what its ``DF.LOCK`` adds: (mode suffix, trailing
        arguments), for the shards concerned that have a memory limit."""
        if not self.denied and not self.refs:
            return {}
        state = worker.shard_memory
        out = {shard: (b"o", ()) for shard in self.denied if state[shard]}
        for shard, refs in self.refs.items():
            if state[shard] and shard not in out:
                out[shard] = (b"s", refs)
        return out


class Plan:
    """How a list of commands runs across shards (see module doc)."""

    def __init__(self, worker):
        self.worker = worker
        self.steps = []  # one per command: how its reply is made
        self.segments = []  # dict shard -> [(db, args)], or a special step
        self.current = None
        self.locks: dict = {}  # shard -> [set of (db, key), exclusive, whole]
        self.memory = MemoryChecks()  # where memory decides before it runs

    # -- building ----------------------------------------------------------------

    def _segment(self) -> dict:
        if self.current is None:
            self.current = {}
            self.segments.append(self.current)
        return self.current

    def _lock(self, shard, entries, exclusive, whole=False):
        lock = self.locks.get(shard)
        if lock is None:
            lock = self.locks[shard] = [set(), False, False]
        lock[0].update(entries)
        lock[1] = lock[1] or exclusive
        lock[2] = lock[2] or whole

    def _part(self, shard, db, args, spec, keys):
        part = self._segment().setdefault(shard, [])
        part.append((db, args))
        self._lock(shard, [(db, k) for k in keys], spec.is_write)
        return (len(self.segments) - 1, shard, len(part) - 1)

    def add(self, spec, args, db) -> None:
        """Plan one command, already checked (lookup, arity, auth)."""
        owner = self.worker.slot_owner
        route = spec.route
        self.memory.note(self.worker, spec, args)
        if route is KEYED:
            keys = spec.keys(args)
            shards = {owner[key_slot(k)] for k in keys}
            reach = reach_shards(self.worker, spec, args) if spec.reach_hook else None
            if reach:
                shards |= reach
            if len(shards) <= 1:
                shard = shards.pop() if shards else 0
                self.steps.append(("part", self._part(shard, db, args, spec, keys)))
                if reach:  # it reads keys we cannot name: hold them all
                    self._lock(shard, (), True, whole=True)
                return
            if reach:
                for shard in shards:
                    self._lock(shard, (), True, whole=True)
                self._special(("reach", spec, args, db))
                return
            for key in keys:
                self._lock(owner[key_slot(key)], [(db, key)], True)
            self._special(("move", spec, args, db))
            return
        if route is SPLIT:
            self._split(spec, args, db)
            return
        if route is ALL and spec.merge in MERGES and spec.merge not in FANOUTS:
            refs = [self._part(shard, db, args, spec, ()) for shard in range(len(self.worker.links))]
            if spec.is_write:
                for shard in range(len(refs)):
                    self._lock(shard, (), True, whole=True)
            self.steps.append(("merge", MERGES[spec.merge], refs, None, spec, args))
            return
        self._special(("fanout", spec, args, db))

    def _special(self, step) -> None:
        self.segments.append(step)
        self.current = None
        self.steps.append(("special", len(self.segments) - 1))

    def _split(self, spec, args, db) -> None:
        step = spec.key_step or 1
        positions = spec.key_positions(args)
        owner = self.worker.slot_owner
        groups: dict = {}
        for index, pos in enumerate(positions):
            shard = owner[key_slot(args[pos])]
            group = groups.get(shard)
            if group is None:
                group = groups[shard] = ([args[0]], [], [])
            group[0].extend(args[pos : pos + step])
            group[1].append(index)
            group[2].append(args[pos])
        order = sorted(groups)
        refs = [self._part(shard, db, groups[shard][0], spec, groups[shard][2]) for shard in order]
        extra = (len(positions), [groups[s][1] for s in order])
        self.steps.append(("merge", MERGES[spec.merge], refs, extra, spec, args))

    # -- shape ---------------------------------------------------------------------

    def shards(self) -> list:
        return sorted(self.locks)

    def one_segment(self) -> bool:
        return len(self.segments) <= 1 and all(type(s) is dict for s in self.segments)


def _refusal(error: CommandError, is_exec: bool) -> bytes:
    """A shard's refusal of a plan, encoded for the client.  A shard over
    maxmemory refuses an EXEC part that would write (DF.EXEC's -OOM): the
    client sees EXEC refused as Redis refuses it."""
    text = error.args[0]
    return encode_error(errors.EXECABORT_OOM if is_exec and text == errors.OOM else text)


def _exec_args(client_id: bytes, flags: bytes, part) -> list:
    out = [b"DF.EXEC", client_id, flags, b"%d" % len(part)]
    for db, args in part:
        out.append(b"%d" % db)
        out.append(b"%d" % len(args))
        out.extend(args)
    return out


def lock_args(client_id: bytes, lock, memory_check=None) -> list:
    """``DF.LOCK``; ``memory_check``: (mode suffix, script refs) from
    :meth:`MemoryChecks.lock_modes`, to refuse with -OOM first."""
    entries, exclusive, whole = lock
    mode = b"a" if whole else b"w" if exclusive else b"r"
    out = [b"DF.LOCK", client_id, mode, b"%d" % (0 if whole else len(entries))]
    if not whole:
        for db, key in entries:
            out.append(b"%d" % db)
            out.append(key)
    if memory_check is not None:
        out[2] += memory_check[0]
        out.extend(memory_check[1])
    return out


class _Capture:
    """Stands in for the client when a custom fan-out runs inside EXEC."""

    in_exec = True  # (BGSAVE inside EXEC is only scheduled, as in Redis)

    def __init__(self, client, ctx):
        self.client = client
        self.worker = client.worker
        self.ctx = ctx
        self.proto = client.proto
        self.queue = []
        self.future = asyncio.get_running_loop().create_future()

    def new_slot(self):
        return [self, None]

    def deliver(self, slot):
        if not self.future.done():
            self.future.set_result(slot[1])

    def error_reply(self, text):
        if not self.future.done():
            self.future.set_result(encode_error(text))

    def forward(self, shard, args):
        self.worker.links[shard].send(self.ctx, encode_command(args), [self, None])


# Pipelined commands one coordinated command takes along (see Coordinator._absorb).
MAX_ABSORBED = 64


def _plannable(client, args):
    """The spec of a pipelined command a plan can run as it is, else None."""
    if type(args) is str or client.multi is not None or client.reply_mode \
            or not client.authenticated:
        return None
    spec = lookup(args[0])
    if spec is None or spec.subcommands or spec.group in ("internal", "scripting") \
            or "blocking" in spec.flags or not spec.arity_ok(len(args)):
        return None  # scripts: their keys are known as they run (proxy/script_proxy.py)
    if spec.route is SPLIT:
        if (len(args) - spec.first_key) % (spec.key_step or 1):
            return None  # MSET missing a value: dispatch answers it
        return spec
    return spec if spec.route is KEYED else None


class Coordinator:
    def __init__(self, worker):
        self.worker = worker

    # -- entry points ------------------------------------------------------------

    def run_command(self, client, spec, args) -> None:
        """One command whose keys span shards (MGET, MSET, RENAME ...)."""
        plan = Plan(self.worker)
        plan.add(spec, args, client.db_index)
        slot = client.new_slot()
        client.hold(plan)
        client.coordinating += 1  # until _run ends (see ProxyClient.end_sessions)
        asyncio.ensure_future(self._run(client, plan, slot, False, False))

    def run_exec(self, client, plan) -> None:
        """EXEC of a client's queued commands (planned by proxy/transactions.py)."""
        slot = client.new_slot()
        client.hold(plan)
        client.coordinating += 1
        asyncio.ensure_future(self._run(client, plan, slot, True, bool(client.watch_shards)))

    # -- execution -----------------------------------------------------------------

    async def _run(self, client, plan, slot, is_exec, watching):
        slots = [slot]
        if not is_exec:
            self._absorb(client, plan, slots)
        try:
            data = await self.execute(client, plan, is_exec, watching)
        except Exception:
            log.exception("coordinated work failed")
            data = encode_error("ERR internal error while coordinating a command")
        finally:
            client.coordinating -= 1
        if is_exec or type(data) is bytes:  # EXEC's array, or one error for all
            data = [data] * len(slots)
        for slot, reply in zip(slots, data):
            slot[1] = reply
            client.deliver(slot)
        client.release_hold(plan)
        if client.transport is None and not client.coordinating:
            client.end_sessions()  # it disconnected meanwhile

    def _absorb(self, client, plan, slots) -> None:
        """Fold the client's next pipelined keyed commands into ``plan``.

        They wait behind this command anyway (:meth:`ProxyClient.hold`);
        joining it, they share its lock round instead of taking one each, so
        a pipeline of cross-shard MSETs costs two round trips, not two per
        MSET.  Only commands that need nothing but the plan qualify; the first
        other one stops the fold, and everything after it keeps its order.
        """
        backlog = client.backlog
        if not backlog or client.hold_owner is not plan:
            return
        worker = self.worker
        # Under a memory limit a plan refused for memory is refused whole:
        # it takes along no command that could be refused, nor any behind one.
        limited = any(worker.shard_memory)
        if limited and plan.memory.lock_modes(worker):
            return
        taken = 0
        for args in backlog:
            spec = _plannable(client, args)
            if spec is None or taken == MAX_ABSORBED or (limited and "denyoom" in spec.flags):
                break
            plan.add(spec, args, client.db_index)
            slots.append(client.new_slot())
            worker.stat_commands += 1
            client.last_command = spec.name
            taken += 1
        del backlog[:taken]

    def _request(self, shard, ctx, args) -> asyncio.Future:
        return self.worker.links[shard].request(ctx, args)

    async def execute(self, client, plan, is_exec, watching) -> bytes:
        """Run ``plan`` (see module doc); the client's reply bytes.

        The client's later commands are released (``release_hold``) only once
        everything this plan sends -- parts, unlocks, unwatches -- is queued on
        the links, so they reach every shard after it.
        """
        ctx = client.ctx  # the session is named in each request (see shardnode/internal.py)
        cid = b"%d" % client.id
        client.note_sessions(plan.locks)
        if watching:
            for shard in client.watch_shards:
                plan._lock(shard, (), False)
        checks = plan.memory.lock_modes(self.worker)
        for shard in checks:  # a keyless denyoom command: its check takes a lock round too
            if shard not in plan.locks:
                plan._lock(shard, (), False)
        shards = plan.shards()
        simple = plan.one_segment()
        part_replies: dict = {}  # (segment index, shard) -> that part's replies
        specials: dict = {}  # segment index -> reply of a move or fan-out step
        if simple and len(shards) == 1 and not plan.locks[shards[0]][2]:
            shard = shards[0]
            part = plan.segments[0].get(shard, []) if plan.segments else []
            pending = self._request(shard, ctx, _exec_args(cid, b"w" if watching else b"", part))
            if watching:
                client.unwatch(skip=shard)
            client.release_hold(plan)
            reply = decode_reply(await pending)
            if isinstance(reply, CommandError):
                return _refusal(reply, is_exec)
            if reply is None:
                return encode(NULL_ARRAY, client.proto)
            part_replies[(0, shard)] = reply
            return self._assemble(client, plan, part_replies, specials, is_exec)
        # Lock in shard order; the last shard too unless the plan is simple
        # (or its memory must be checked before the others' parts run).
        to_lock = shards if (watching or not simple or shards and shards[-1] in checks) \
            else shards[:-1]
        ran = b"m" if checks else b""  # the parts' flag: memory checked in the lock round
        locked = []

        def finish():
            for shard in locked:
                self.worker.links[shard].send_forget(ctx, [b"DF.UNLOCK", cid])
            locked.clear()
            if watching:
                client.unwatch()
            client.release_hold(plan)

        try:
            dirty = False
            for shard in to_lock:
                reply = decode_reply(await self._request(
                    shard, ctx, lock_args(cid, plan.locks[shard], checks.get(shard))))
                if isinstance(reply, CommandError):
                    return _refusal(reply, is_exec)
                locked.append(shard)
                if reply == 1 and watching:  # a watched key changed
                    dirty = True
            if dirty:
                finish()
                return encode(NULL_ARRAY, client.proto)
            if simple:
                segment = plan.segments[0] if plan.segments else {}
                futures = {shard: self._request(shard, ctx, _exec_args(cid, b"u" + ran,
                                                                       segment.get(shard, [])))
                           for shard in shards}
                locked.clear()  # every part unlocks its shard
                finish()
                results = await asyncio.gather(*futures.values())
                for shard, data in zip(futures, results):
                    part_replies[(0, shard)] = decode_reply(data)
            else:
                await self.run_segments(client, ctx, cid, plan, part_replies, specials, ran)
        finally:
            finish()
            self.worker.flush_soon()
        for reply in part_replies.values():
            if isinstance(reply, CommandError):
                return _refusal(reply, is_exec)
        return self._assemble(client, plan, part_replies, specials, is_exec)

    async def run_segments(self, client, ctx, cid, plan, part_replies, specials,
                           flags=b"") -> None:
        """Run ``plan``'s segments in order under locks the caller holds
        (also proxy-mode scripts, proxy/script_proxy.py, one command a plan;
        ``flags`` b"n" after their ``redis.set_repl(redis.REPL_NONE)``)."""
        for index, segment in enumerate(plan.segments):
            if type(segment) is dict:
                futures = {shard: self._request(shard, ctx, _exec_args(cid, flags, part))
                           for shard, part in segment.items()}
                results = await asyncio.gather(*futures.values())
                for shard, data in zip(futures, results):
                    part_replies[(index, shard)] = decode_reply(data)
            elif segment[0] == "move":
                specials[index] = await self._move(client, ctx, *segment[1:])
            elif segment[0] == "reach":
                specials[index] = await self._reach(client, ctx, *segment[1:])
            else:
                specials[index] = await self._fanout(client, ctx, *segment[1:])

    def _assemble(self, client, plan, part_replies, specials, is_exec):
        """EXEC's array, or (one command and those folded in) a reply each."""
        out = []
        for step in plan.steps:
            kind = step[0]
            if kind == "local":
                out.append(step[1])
            elif kind == "part":
                index, shard, pos = step[1]
                out.append(part_replies[(index, shard)][pos])
            elif kind == "special":
                out.append(specials[step[1]])
            else:
                _, merge, refs, extra, spec, args = step
                gather = Gather(client, None, merge, spec, args, extra)
                gather.parts = [[gather, part_replies[(i, s)][p]] for i, s, p in refs]
                out.append(gather.merged())
        if not is_exec:
            return out  # one reply per command, for its own slot
        return b"*%d\r\n%b" % (len(out), b"".join(out))

    async def _move(self, client, ctx, spec, args, db, reached=()) -> bytes:
        """A command needing keys of several shards, under locks the caller
        holds; ``reached``: keys it reads beyond its key specs."""
        owner = self.worker.slot_owner
        keys = spec.keys(args)
        anchor = keys[-1] if spec.name in RUN_ON_LAST_KEY else keys[0]
        executor = owner[key_slot(anchor)]
        foreign: dict = {}
        for key in dict.fromkeys([*keys, *reached]):
            shard = owner[key_slot(key)]
            if shard != executor:
                foreign.setdefault(shard, []).append(key)
        exported = await asyncio.gather(*(
            self._request(shard, ctx, [b"DF.EXPORT", b"%d" % db] + ks)
            for shard, ks in foreign.items()))
        # A script lent keys of a full shard meets the limit at its first
        # denyoom call (Redis's scriptVerifyOOM), as if it ran there.
        full = spec.name in SCRIPT_CALLS and not self.worker.full_shards.isdisjoint(foreign)
        run = [b"DF.RUN", b"%do" % db if full else b"%d" % db, b"0"]
        count = 0
        for (shard, ks), data in zip(foreign.items(), exported):
            values = decode_reply(data)
            if isinstance(values, CommandError):
                return data
            for i, key in enumerate(ks):
                run += [key, values[2 * i] or b"", b"%d" % values[2 * i + 1]]
                count += 1
        run[2] = b"%d" % count
        run.extend(args)
        result = decode_reply(await self._request(executor, ctx, run))
        if isinstance(result, CommandError):
            return encode_error(result.args[0])
        reply, writes = result[0], result[1:]
        back: dict = {}
        for i in range(0, len(writes), 4):  # key, payload, deadline, notifications
            back.setdefault(owner[key_slot(writes[i])], []).extend(
                [writes[i], writes[i + 1] or b"", b"%d" % writes[i + 2], writes[i + 3]])
        if back:
            await asyncio.gather(*(
                self._request(shard, ctx, [b"DF.IMPORT", b"%d" % db] + kv)
                for shard, kv in back.items()))
        return reply

    async def _reach(self, client, ctx, spec, args, db) -> bytes:
        """SORT with BY/GET patterns over shards, under whole-shard locks the
        caller holds (see module doc): the source's elements (``SORT key BY
        nosort`` in the client's session, which also answers WRONGTYPE), the
        keys the patterns name for them, then :meth:`_move` with those keys
        lent to the shard that runs it."""
        request = parse_sort(args, readonly=not spec.is_write)  # parsed by spec.reach already
        source = args[1]
        shard = self.worker.slot_owner[key_slot(source)]
        part = [(db, [b"SORT", source, b"BY", b"nosort"])]
        replies = decode_reply(await self._request(
            shard, ctx, _exec_args(b"%d" % client.id, b"", part)))
        if isinstance(replies, CommandError):
            return encode_error(replies.args[0])
        elements = decode_reply(replies[0])
        if isinstance(elements, CommandError):
            return replies[0]
        return await self._move(client, ctx, spec, args, db, pattern_keys(request, elements))

    async def _fanout(self, client, ctx, spec, args, db) -> bytes:
        capture = _Capture(client, client.session_ctx())  # runs in the session holding the locks
        try:
            self.worker.fanout(capture, spec, args)
        except Exception:  # pragma: no cover - fanout reports its own errors
            log.exception("fan-out inside EXEC failed")
            return encode_error("ERR internal error while running '%s'" % spec.name)
        self.worker.flush_soon()
        return await capture.future
