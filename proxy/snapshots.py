"""Server-wide snapshots from the proxy: SAVE, BGSAVE, LASTSAVE, SHUTDOWN's
save, and the save schedule.

A snapshot of the whole server is one save on every shard with one snapshot
id (cluster/snapshot_id.py), started at the same moment: this worker sends
``DF.SAVE <id> <count>`` or ``DF.BGSAVE <id> <count> [SCHEDULE]`` to every
shard in the same event-loop turn (a client's BGSAVE in two rounds: HOLD,
then DF.SAVEGO, see :func:`bgsave`).  The shards write and commit the files
themselves -- the shard that completes the set writes the summary
(shardnode/snapshots.py) -- so nothing here waits for a BGSAVE to end.

LASTSAVE is the oldest of the shards' last saves: it changes once every
shard's file of the next snapshot is written, i.e. once it is committed.

The schedule (``save`` rules and ``snapshot_cron``) runs in worker 0 only,
once a second, from the shards' INFO persistence: changes summed, the last
save the oldest of theirs (cluster/save_schedule.py).  The same tick makes
MISCONF server-wide (it only applies while a schedule is set, as in Redis):
when any shard's last save failed, DF.MISCONF 1 tells every shard to refuse
writes, DF.MISCONF 0 lifts it once every shard's save succeeded.
"""

from __future__ import annotations

import asyncio
import logging
import time

from cluster import errors
from cluster import info_sections as fmt
from cluster.errors import CommandError
from cluster.resp import encode_error
from cluster.save_schedule import Cron, ScheduleError, parse_save, save_due
from cluster.slots import key_slot
from cluster.snapshot_id import new_snapshot_id
from proxy.fanout import FANOUTS, MERGES, _first_error, decode_reply, merge_ok, to_all
from proxy.links import DEFAULT_CONTEXT

log = logging.getLogger("damselfly.proxy")


def _count(worker) -> bytes:
    return b"%d" % len(worker.links)


def save(worker, client, spec, args) -> None:
    send = [b"DF.SAVE", new_snapshot_id().encode(), _count(worker)]
    to_all(worker, client, spec, args, merge_ok, send=send)


def bgsave(worker, client, spec, args) -> None:
    if len(args) > 2 or (len(args) == 2 and args[1].lower() != b"schedule"):
        client.error_reply(errors.SYNTAX)
        return
    send = [b"DF.BGSAVE", new_snapshot_id().encode(), _count(worker)] + args[1:]
    if getattr(client, "in_exec", False):  # each shard starts it once the transaction is done
        send.append(b"LATER")
        to_all(worker, client, spec, args, merge_bgsave, send=send)
        return
    # Two rounds: every shard agrees first (HOLD), then all start together.  A
    # shard still writing the last snapshot refuses, and then no other shard
    # starts a part of a snapshot that could never be complete.
    send.append(b"HOLD")
    to_all(worker, client, spec, args, merge_held_bgsave, extra=send[1], send=send)


def merge_bgsave(gather, replies):
    _first_error(replies)
    return replies[0]  # the same from every shard: started, or scheduled


def merge_held_bgsave(gather, replies):
    """Every shard's answer to HOLD is in: DF.SAVEGO tells them all, in one
    event-loop turn, to start (all agreed) or to drop their hold."""
    agreed = not any(isinstance(r, CommandError) for r in replies)
    worker = gather.client.worker
    go = [b"DF.SAVEGO", gather.extra, b"1" if agreed else b"0"]
    for link in worker.links:
        link.send_forget(DEFAULT_CONTEXT, go)
    worker.flush_links()
    return merge_bgsave(gather, replies)


def lastsave(worker, client, spec, args) -> None:
    to_all(worker, client, spec, args, merge_lastsave)


def merge_lastsave(gather, replies):
    _first_error(replies)
    return min(replies)


async def save_all(worker) -> str | None:
    """One foreground server-wide save (SHUTDOWN); None, or the first error."""
    send = [b"DF.SAVE", new_snapshot_id().encode(), _count(worker)]
    replies = await asyncio.gather(*(link.request(DEFAULT_CONTEXT, send)
                                     for link in worker.links))
    for reply in map(decode_reply, replies):
        if isinstance(reply, CommandError) or isinstance(reply, bytes) and reply[:1] == b"-":
            return str(reply.args[0] if isinstance(reply, CommandError) else reply)
    return None


def shutdown_after_save(client, force: bool, stop) -> None:
    """SHUTDOWN that must save first: save every shard, then ``stop()``; a
    failed save answers Redis's error and keeps the server up, unless FORCE."""
    slot = client.new_slot()

    async def run():
        problem = await save_all(client.worker)
        if problem is not None:
            if not force:
                log.warning("Error trying to save the DB, can't exit: %s", problem)
                client.worker.count_error(errors.SHUTDOWN_FAILED)
                slot[1] = encode_error(errors.SHUTDOWN_FAILED)
                client.deliver(slot)
                return
            log.warning("Error trying to save the DB (%s). Exit anyway.", problem)
        log.warning("User requested shutdown...")
        slot[1] = b""
        client.deliver(slot)
        stop()

    asyncio.ensure_future(run())


# -- the schedule -------------------------------------------------------------

SCHEDULE_TICK_S = 1.0
_INFO_PERSISTENCE = [b"INFO", b"persistence"]


async def run_schedule(worker) -> None:
    """Worker 0's loop: start a server-wide BGSAVE when a rule is due."""
    config = worker.config
    last_try = 0.0
    told_ok = None  # what DF.MISCONF last told the shards
    cron_text, cron, next_cron = None, None, None
    while True:
        await asyncio.sleep(SCHEDULE_TICK_S)
        try:
            rules_text = config.save
            if config.snapshot_cron != cron_text:
                cron_text = config.snapshot_cron
                try:
                    cron = Cron(cron_text) if cron_text.strip() else None
                except ScheduleError as exc:
                    log.warning("%s", exc)
                    cron = None
                next_cron = cron.next_after(time.time()) if cron else None
            if not rules_text.strip() and cron is None:
                continue
            try:
                rules = parse_save(rules_text)
            except ScheduleError:
                rules = []
            replies = await asyncio.gather(*(link.request(DEFAULT_CONTEXT, _INFO_PERSISTENCE)
                                             for link in worker.links))
            states = []
            for reply in map(decode_reply, replies):
                if not isinstance(reply, bytes) or reply[:1] == b"-":
                    break  # an error (a shard down or loading)
                states.append(fmt.parse_info(reply).get("persistence", {}))
            if len(states) != len(worker.links):
                continue  # a shard is down or loading: try again next tick
            now = time.time()
            last_ok = all(s.get("rdb_last_bgsave_status") == "ok" for s in states)
            if last_ok is not told_ok:  # MISCONF is server-wide: tell every shard
                told_ok = last_ok
                for link in worker.links:
                    link.send_forget(DEFAULT_CONTEXT, [b"DF.MISCONF", b"0" if last_ok else b"1"])
                worker.flush_links()
            if any(int(s.get("rdb_bgsave_in_progress", 0)) for s in states):
                continue
            changes = sum(int(s.get("rdb_changes_since_last_save", 0)) for s in states)
            lastsave = min(int(s.get("rdb_last_save_time", 0)) for s in states)
            due = save_due(rules, now, changes, lastsave, last_ok, last_try)
            reason = "%d changes since the last save" % changes
            if next_cron is not None and now >= next_cron:
                due, reason = True, "snapshot_cron %r" % cron_text
                next_cron = cron.next_after(now)
            if not due:
                continue
            last_try = now
            log.info("%s: saving", reason)
            send = [b"DF.BGSAVE", new_snapshot_id().encode(), _count(worker)]
            for link in worker.links:
                link.send_forget(DEFAULT_CONTEXT, send)
            worker.flush_links()
        except asyncio.CancelledError:
            raise
        except Exception:  # a bug must not end the schedule for good
            log.exception("save schedule")


def debug(worker, client, spec, args) -> None:
    """DEBUG OBJECT goes to the key's shard; the rest (RELOAD, SLEEP ...) to
    every shard, the first reply answering."""
    if len(args) == 3 and args[1].lower() == b"object":
        client.forward(worker.slot_owner[key_slot(args[2])], args)
        return
    to_all(worker, client, spec, args, MERGES["first"])


FANOUTS["debug"] = debug
FANOUTS["save"] = save
FANOUTS["bgsave"] = bgsave
FANOUTS["lastsave"] = lastsave
MERGES.setdefault("debug", MERGES["first"])
MERGES.setdefault("save", merge_ok)
MERGES.setdefault("bgsave", merge_bgsave)
MERGES.setdefault("lastsave", merge_lastsave)
