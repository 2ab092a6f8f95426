"""The AOF's sans-IO pieces: file names, the manifest, the record parser,
and the journal's MULTI/EXEC wrapping of transactions."""

import pytest

from cluster.resp import encode_command
from shardnode.aof import (
    AofCorrupt,
    AofTruncated,
    Manifest,
    base_file_name,
    incr_file_name,
    parse_commands,
    parse_manifest,
    shard_prefix,
)
from shardnode.db import Keyspace

# -- names and manifest ----------------------------------------------------------


def test_names_carry_shard_and_count_and_follow_redis_suffixes():
    prefix = shard_prefix("appendonly.aof", 0, 2)
    assert prefix == "appendonly-0001-of-0002.aof"
    assert shard_prefix("my.aof", 3, 4) == "my-0004-of-0004.aof"
    assert base_file_name(prefix, 3) == "appendonly-0001-of-0002.aof.3.base.rdb"
    assert incr_file_name(prefix, 5) == "appendonly-0001-of-0002.aof.5.incr.aof"


def test_manifest_round_trip_in_redis_format():
    m = Manifest(("a.aof.1.base.rdb", 1), [("a.aof.1.incr.aof", 1), ("a.aof.2.incr.aof", 2)])
    text = m.encode()
    # The lines redis-server 7.0 writes (checked against its appendonlydir).
    assert text == (b"file a.aof.1.base.rdb seq 1 type b\n"
                    b"file a.aof.1.incr.aof seq 1 type i\n"
                    b"file a.aof.2.incr.aof seq 2 type i\n")
    assert parse_manifest(text) == m
    assert m.next_incr_seq() == 3 and m.next_base_seq() == 2


def test_manifest_parser_takes_any_key_order_comments_and_history_lines():
    text = (b"# written by hand\n"
            b"seq 1 type b file x.1.base.rdb\n"
            b"file x.0.base.rdb seq 0 type h\n"
            b"file x.1.incr.aof seq 1 type i\n")
    m = parse_manifest(text)
    assert m.base == ("x.1.base.rdb", 1) and m.incrs == [("x.1.incr.aof", 1)]


@pytest.mark.parametrize("text", [
    b"", b"file x seq 1\n", b"file x seq one type i\n", b"file x seq 1 type z\n",
    b"file x seq 1 type b\nfile y seq 2 type b\n", b"file ../x seq 1 type i\n",
    b"file x seq 1 type\n",
])
def test_manifest_parser_rejects_what_is_not_a_manifest(text):
    with pytest.raises(ValueError):
        parse_manifest(text)


# -- records ------------------------------------------------------------------------

COMMANDS = [[b"SELECT", b"0"], [b"SET", b"k", b"v\r\nwith crlf"], [b"RPUSH", b"l", b"", b"x"],
            [b"DEL", b"k"]]
STREAM = b"".join(encode_command(c) for c in COMMANDS)
SECOND = len(encode_command(COMMANDS[0]))  # where the second record starts


def test_parser_reads_every_command_and_its_end_offset():
    got = list(parse_commands(STREAM))
    assert [args for args, _ in got] == COMMANDS
    ends = [end for _, end in got]
    assert ends[-1] == len(STREAM)
    assert ends[0] == len(encode_command(COMMANDS[0]))


def test_parser_with_trailing_data_and_from_an_offset():
    first = len(encode_command(COMMANDS[0]))
    assert [a for a, _ in parse_commands(STREAM, first)] == COMMANDS[1:]
    with pytest.raises(AofCorrupt):
        list(parse_commands(STREAM + b"garbage\r\n"))


def test_every_cut_of_the_stream_is_a_truncated_last_record_never_corrupt():
    """A crash mid-write leaves a prefix: each one parses up to the last whole
    record, then reports the cut at that record's start."""
    ends = [0] + [end for _, end in parse_commands(STREAM)]
    for cut in range(1, len(STREAM)):
        if cut in ends:
            assert len(list(parse_commands(STREAM[:cut]))) == ends.index(cut)
            continue
        with pytest.raises(AofTruncated) as info:
            list(parse_commands(STREAM[:cut]))
        assert info.value.offset == max(e for e in ends if e < cut)


@pytest.mark.parametrize("bad, offset", [
    (STREAM.replace(b"$3\r\nSET", b"#3\r\nSET"), SECOND),  # a type byte that is not '$'
    (STREAM.replace(b"$1\r\nk\r\n$12", b"$2\r\nk\r\n$12"), SECOND),  # a length that overruns
    (STREAM.replace(b"*4\r\n$5\r\nRPUSH", b"*x\r\n$5\r\nRPUSH"), None),  # a bad count
    (b"*0\r\n", 0),  # an empty command
])
def test_a_damaged_record_in_the_middle_is_corrupt(bad, offset):
    with pytest.raises(AofCorrupt) as info:
        list(parse_commands(bad))
    if offset is not None:
        assert info.value.offset == offset


# -- the journal wraps a transaction's entries in MULTI/EXEC ------------------------------


def _journal_stream():
    keyspace = Keyspace(4)
    chunks = []
    keyspace.journal.attach(chunks.append)
    return keyspace.journal, chunks


def _commands(chunks):
    return [args for args, _ in parse_commands(b"".join(chunks))]


def test_a_transaction_with_several_entries_is_wrapped():
    journal, chunks = _journal_stream()
    with journal.grouped():
        journal.record(0, [b"SET", b"a", b"1"])
        journal.record(1, [b"SET", b"b", b"2"])
        assert chunks == []  # held until the group ends
    assert _commands(chunks) == [[b"SELECT", b"0"], [b"MULTI"], [b"SET", b"a", b"1"],
                                 [b"SELECT", b"1"], [b"SET", b"b", b"2"], [b"EXEC"]]


def test_one_entry_alone_is_not_wrapped_and_none_records_nothing():
    journal, chunks = _journal_stream()
    with journal.grouped():
        journal.record(0, [b"INCR", b"a"])
    with journal.grouped():
        pass
    assert _commands(chunks) == [[b"SELECT", b"0"], [b"INCR", b"a"]]


def test_a_handlers_own_multi_exec_is_not_nested():
    """SPOP with a count journals MULTI, SREM.., EXEC; inside EXEC it joins
    the transaction's one block."""
    journal, chunks = _journal_stream()
    with journal.grouped():
        journal.record(0, [b"SET", b"a", b"1"])
        journal.record_effect(0, [[b"MULTI"], [b"SREM", b"s", b"x"], [b"SREM", b"s", b"y"],
                                  [b"EXEC"]])
    assert _commands(chunks) == [[b"SELECT", b"0"], [b"MULTI"], [b"SET", b"a", b"1"],
                                 [b"SREM", b"s", b"x"], [b"SREM", b"s", b"y"], [b"EXEC"]]


def test_the_buffer_without_listeners_sees_the_wrapping_too():
    keyspace = Keyspace(2)
    journal = keyspace.journal
    with journal.grouped():
        journal.record(0, [b"SET", b"a", b"1"])
        journal.record(0, [b"SET", b"b", b"1"])
    journal.record(0, [b"SET", b"c", b"1"])
    assert journal.tail() == [[b"SELECT", b"0"], [b"MULTI"], [b"SET", b"a", b"1"],
                              [b"SET", b"b", b"1"], [b"EXEC"], [b"SET", b"c", b"1"]]


# -- appendfsync always: the reply leaves after the fsync ------------------------------


class _Transport:
    def __init__(self, events):
        self.events = events

    def write(self, data):
        self.events.append(("reply", data))

    def get_extra_info(self, name):
        return None


@pytest.mark.parametrize("fsync", ["always", "everysec"])
def test_a_batchs_records_reach_the_file_before_its_replies(tmp_path, monkeypatch, fsync):
    """One batch of three commands on a shard in-process.  always: each write
    reaches the file as it is journalled, one fsync follows, then the
    replies.  everysec: one write of both records, then the replies (the
    fsync comes from the once-a-second timer)."""
    import asyncio
    import os

    from cluster.config import Config
    from cluster.topology import Topology
    from shardnode import aof
    from shardnode.node import ShardConnection, ShardServer

    events = []
    real_write, real_fdatasync = os.write, os.fdatasync

    def write(fd, data):
        events.append(("file", bytes(data)))
        return real_write(fd, data)

    def fdatasync(fd):
        events.append(("fsync",))
        return real_fdatasync(fd)

    async def scenario():
        config = Config({"dir": str(tmp_path), "appendonly": True, "appendfsync": fsync})
        server = ShardServer(config, 0, Topology(config), "secret")
        server.aof.start(None)  # as load_data does with nothing to load
        while server.aof.rewrite is not None:  # the first base
            await asyncio.sleep(0)
        conn = ShardConnection(server)
        conn.init_session(server, "test:1", "test:2")
        conn.refresh_plain()
        conn.transport = _Transport(events)
        monkeypatch.setattr(aof.os, "write", write)
        monkeypatch.setattr(aof.os, "fdatasync", fdatasync)
        conn.run([[b"SET", b"a", b"1"], [b"GET", b"a"], [b"INCR", b"n"]], 0)
        server.aof.close()

    asyncio.run(scenario())
    kinds = [e[0] for e in events]
    replies = ("reply", b"+OK\r\n$1\r\n1\r\n:1\r\n")
    if fsync == "always":
        assert kinds[:4] == ["file", "file", "fsync", "reply"], events
        assert b"SET" in events[0][1] and b"INCR" in events[1][1]
        assert events[3] == replies
    else:
        assert kinds[:2] == ["file", "reply"], events
        assert b"SET" in events[0][1] and b"INCR" in events[0][1]
        assert events[1] == replies


def test_the_proxy_reports_a_shards_aof_failure_and_sums_the_sizes():
    from proxy.server_fanout import _merge_numbers

    shards = [{"aof_enabled": "1", "aof_last_write_status": "ok", "aof_current_size": "100",
               "aof_last_bgrewrite_status": "ok", "aof_rewrite_in_progress": "0"},
              {"aof_enabled": "1", "aof_last_write_status": "err", "aof_current_size": "50",
               "aof_last_bgrewrite_status": "ok", "aof_rewrite_in_progress": "1"}]
    merged = _merge_numbers(shards)
    assert merged["aof_last_write_status"] == "err"
    assert merged["aof_last_bgrewrite_status"] == "ok"
    assert merged["aof_current_size"] == 150 and merged["aof_rewrite_in_progress"] == 1
