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


class _Link(_Conn):
    """A proxy worker's link: pushes for its clients, output of a read in ``out``."""

    internal = True
    transport = True
    retrying = serving = None
    held = None
    out = None

    def push(self, client_id, payload):
        self.sent.append((client_id, payload))

    def emit(self, data):
        (self.out if self.out is not None else self.sent).append(data)


class _Transport:
    def __init__(self):
        self.written = []

    def write(self, data):
        self.written.append(data)


def _tracked_on(table, server, link, worker, client_id, key):
    server.links_by_worker = {worker: link}
    session = ClientSession(client_id)
    link.session, link.multi = session, None
    table.enable(link, session, client_id, _parse("on"), 3)
    server.running = link
    table.remember(link, _Spec, [b"MGET", key])
    server.running = None


def _write_on_a_tracked_on_b(tag, out, b_dropped=False):
    """Key k tracked by a client behind link B; link A's running command
    writes it (up to hold_point, before its reply joins ``out``)."""
    server = _Server()
    server.aof_barrier = False
    server.next_park_tag = lambda: tag
    table = TrackingTable(server)
    link_a, link_b = _Link(), _Link()
    _tracked_on(table, server, link_b, 1, (1 << 40) + 5, b"k")
    if b_dropped:
        link_b.transport = None
    link_a.session = None
    server.running, link_a.out = link_a, out
    table.key_changed(None, b"k", 0)
    table.hold_point(link_a)
    return server, table, link_a, link_b


def test_a_write_invalidating_another_worker_s_client_waits_for_its_ack():
    """Writer on link A, tracker behind link B: A gets ``:tag`` for the
    reply, B the push then ``K <token>``; B's DF.ACK releases ``D tag reply``."""
    server, table, link_a, link_b = _write_on_a_tracked_on_b(41, [b"$2\r\n+x\r\n"])
    link_a.out.append(b"*3\r\n$1\r\nM\r\n...")  # a frame emitted after the handler
    link_a.out.append(b"$5\r\n+OK\r\n")  # the writer's reply
    out = table.settle(link_a, link_a.out)
    server.running, link_a.out = None, None
    assert out == [b"$2\r\n+x\r\n", b"*3\r\n$1\r\nM\r\n...", b":41\r\n"]
    assert link_b.sent == [((1 << 40) + 5, invalidation([b"k"], 3, False)),
                           b"*3\r\n$1\r\nK\r\n:1\r\n$0\r\n\r\n"]
    table.ack(link_a, 1)  # not the link asked: nothing
    assert link_a.sent == []
    table.ack(link_b, 1)
    assert link_a.sent == [b"*3\r\n$1\r\nD\r\n:41\r\n$5\r\n+OK\r\n"]
    assert table.holds == {}


def test_nothing_waits_for_a_link_that_dropped():
    server, table, link_a, link_b = _write_on_a_tracked_on_b(9, [], b_dropped=True)
    link_a.out.append(b"$5\r\n+OK\r\n")
    out = table.settle(link_a, link_a.out)
    assert out == [b":9\r\n", b"*3\r\n$1\r\nD\r\n:9\r\n$5\r\n+OK\r\n"]
    assert table.holds == {}


def test_a_direct_writer_s_output_waits_whole_and_in_order():
    server = _Server()
    server.aof_barrier = False
    table = TrackingTable(server)
    link_b = _Link()
    _tracked_on(table, server, link_b, 1, (1 << 40) + 5, b"k")
    writer = _Link()
    writer.internal, writer.transport, writer.session = False, _Transport(), None
    writer.closing = False
    server.running, writer.out = writer, []
    table.key_changed(None, b"k", 0)
    table.hold_point(writer)
    writer.out.append(b"+OK\r\n")
    assert table.settle(writer, writer.out) == []
    writer.out = None
    assert table.settle(writer, [b"$1\r\nv\r\n"]) == []  # a later read waits behind it
    assert writer.transport.written == []
    table.link_gone(link_b)  # (or its DF.ACK)
    assert writer.transport.written == [b"+OK\r\n$1\r\nv\r\n"] and writer.held is None
    assert table.settle(writer, [b"+later\r\n"]) == [b"+later\r\n"]


def test_an_own_write_redirected_to_another_worker_waits_for_it_too():
    """The tracker wrote the key itself: its invalidation follows the command
    (send_due), but its REDIRECT target is behind link B, so the reply waits."""
    server = _Server()
    table = server.tracking = TrackingTable(server)
    link_a, link_b = _Link(), _Link()
    session = ClientSession(7)
    link_a.session, link_a.multi = session, None
    table.enable(link_a, session, 7, _parse("on", "redirect", str((1 << 40) + 5),
                                            exists=lambda cid: True), 2)
    server.links_by_worker = {0: link_a, 1: link_b}
    server.running = link_a
    table.remember(link_a, _Spec, [b"MGET", b"k"])
    link_a.out = []
    table.key_changed(None, b"k", 0)
    assert table.acks == {link_b: None} and table.due
    table.hold_point(link_a)
    assert table.new_holds == [(0, {link_b: None})]


def test_a_write_seen_only_by_the_writer_s_own_link_holds_nothing():
    server = _Server()
    table = TrackingTable(server)
    link = _Link()
    _tracked_on(table, server, link, 0, 7, b"k")
    server.running, link.out = link, []
    table.key_changed(None, b"k", 0)
    assert table.acks == {} and table.new_holds == []


def test_monitor_line_escapes_and_redacts_as_redis():
    assert quote(b'a "b"\\\n\r\t\x07\x08\x00\xff') == \
        b'"a \\"b\\"\\\\\\n\\r\\t\\a\\b\\x00\\xff"'
    line = monitor_line(1700000000.25, 3, "127.0.0.1:5", [b"AUTH", b"u", b"p"])
    assert line == b'+1700000000.250000 [3 127.0.0.1:5] "AUTH" "(redacted)" "(redacted)"\r\n'
    hello = monitor_line(1.0, 0, "lua", [b"hello", b"3", b"AUTH", b"u", b"p", b"SETNAME", b"n"])
    assert hello.endswith(b'"hello" "3" "AUTH" "(redacted)" "(redacted)" "SETNAME" "n"\r\n')
