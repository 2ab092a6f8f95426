"""Sans-IO pieces of client tracking and MONITOR: option parsing, the
invalidation messages, the shard's tracking table, monitor lines."""

from __future__ import annotations

import pytest

from cluster.errors import CommandError
from cluster.tracking import Tracking, invalidation, parse_tracking, trackinginfo
from shardnode.monitor import monitor_line, quote
from shardnode.sessions import ClientSession
from shardnode.tracking import TrackingTable


def _parse(*args, current=None, exists=lambda cid: cid == 7):
    return parse_tracking([b"CLIENT", b"TRACKING", *[a.encode() for a in args]], current, exists)


def test_parse_options_and_errors():
    t = _parse("on", "bcast", "prefix", "a", "noloop", "redirect", "7")
    assert (t.bcast, t.noloop, t.redirect, t.prefixes) == (True, True, 7, [b"a"])
    assert t.flags_arg() == b"tbn"
    assert Tracking.from_flags(b"tbn", 7, [b"a"]).prefixes == [b"a"]
    assert _parse("off") is None
    with pytest.raises(CommandError, match="does not exist"):
        _parse("on", "redirect", "8")
    with pytest.raises(CommandError, match="single other client"):
        _parse("on", "redirect", "7", "redirect", "7")
    with pytest.raises(CommandError, match="overlaps with an existing prefix 'ab'"):
        _parse("on", "bcast", "prefix", "abc", current=_parse("on", "bcast", "prefix", "ab"))
    merged = _parse("on", "bcast", "prefix", "b", current=_parse("on", "bcast", "prefix", "a"))
    assert trackinginfo(merged)[b"prefixes"] == [b"a", b"b"]


def test_remembers_follows_optin_optout_and_caching():
    assert _parse("on").remembers()
    optin, optout = _parse("on", "optin"), _parse("on", "optout")
    assert not optin.remembers() and optout.remembers()
    optin.caching = optout.caching = True
    assert optin.remembers() and not optout.remembers()
    assert not _parse("on", "bcast").remembers()


def test_invalidation_messages():
    assert invalidation([b"k"], 3, False) == b">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n"
    assert invalidation(None, 3, False) == b">2\r\n$10\r\ninvalidate\r\n_\r\n"
    assert invalidation([b"k"], 2, True) == (
        b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*1\r\n$1\r\nk\r\n")
    assert invalidation([b"k"], 2, False) is None  # RESP2 without REDIRECT: nothing


class _Conn:
    internal = False
    proto = 3

    def __init__(self):
        self.sent = []

    def emit(self, data):
        self.sent.append(data)


class _Keyspace:
    def __init__(self):
        self.write_listeners, self.flush_listeners = [], []


class _Server:
    index = 0
    running = None
    clients: dict = {}
    links_by_worker: dict = {}

    def __init__(self):
        self.keyspace = _Keyspace()
        self.observed = False

    def observers_changed(self):
        self.observed = True


class _Spec:
    flags = frozenset(("readonly",))
    has_keys = True
    name = "mget"

    @staticmethod
    def keys(args):
        return args[1:]


def test_table_remembers_invalidates_once_and_detaches():
    server = _Server()
    table = TrackingTable(server)
    conn, session = _Conn(), ClientSession(1)
    conn.session, conn.multi = session, None
    table.enable(conn, session, None, _parse("on"), 3)
    assert table.attached and server.keyspace.write_listeners == [table.key_changed]
    table.remember(conn, _Spec, [b"MGET", b"a", b"b"])
    assert table.info_fields()[:2] == [("tracking_total_keys", 2), ("tracking_total_items", 2)]
    table.key_changed(None, b"a", 0)
    table.key_changed(None, b"a", 0)  # forgotten after the first
    assert conn.sent == [invalidation([b"a"], 3, False)]
    table.disable(session)
    assert not table.attached and table.keys == {} and server.keyspace.write_listeners == []


def test_monitor_line_escapes_and_redacts_as_redis():
    assert quote(b'a "b"\\\n\r\t\x07\x08\x00\xff') == \
        b'"a \\"b\\"\\\\\\n\\r\\t\\a\\b\\x00\\xff"'
    line = monitor_line(1700000000.25, 3, "127.0.0.1:5", [b"AUTH", b"u", b"p"])
    assert line == b'+1700000000.250000 [3 127.0.0.1:5] "AUTH" "(redacted)" "(redacted)"\r\n'
    hello = monitor_line(1.0, 0, "lua", [b"hello", b"3", b"AUTH", b"u", b"p", b"SETNAME", b"n"])
    assert hello.endswith(b'"hello" "3" "AUTH" "(redacted)" "(redacted)" "SETNAME" "n"\r\n')
