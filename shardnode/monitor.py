"""MONITOR on a shard: every command it executes, as Redis's monitor lines.

A monitor is a client of this shard's port that sent MONITOR, or a proxy
client that did (the proxy registers it on every shard with ``DF.MONITOR``;
its lines travel as push frames ``P <client-id>`` on its worker's link).
Each command is fed after it ran, as Redis 7.0 feeds ``call()``: admin and
``skip_monitor`` commands are not shown; EVAL/EVALSHA/FCALL are shown when
they start (:func:`feed_script`), the commands their script runs with
``lua`` as the address; AUTH's, HELLO's and MIGRATE's secrets are redacted.

The address of a proxy client is the client's own, not the link's: while a
monitor exists anywhere, the shards say so to every link (frame ``O 1``),
each worker sends its clients' requests in their sessions and tells each
shard the client's address once (``DF.ADDR``).  Commands a worker answers
itself reach the monitors through shard 0 (``DF.MONLOG``).  Nothing of this
costs anything while nobody monitors: the shard checks one flag per command
(``ShardServer.observed``), the proxy none on its fast path.
"""

from __future__ import annotations

import time

from cluster.config import buffer_limits

# Commands whose arguments Redis 7.0 replaces with "(redacted)": name ->
# function(args) giving the positions to redact.


def _auth_positions(args):
    return range(1, len(args))


def _hello_positions(args):
    for i in range(2, len(args)):
        if args[i].lower() == b"auth" and i + 2 < len(args):
            return (i + 1, i + 2)
    return ()


def _migrate_positions(args):
    out = []
    for i in range(6, len(args)):
        opt = args[i].lower()
        if opt == b"auth" and i + 1 < len(args):
            out.append(i + 1)
        elif opt == b"auth2" and i + 2 < len(args):
            out.extend((i + 1, i + 2))
        elif opt == b"keys":
            break
    return out


REDACTED = {b"auth": _auth_positions, b"hello": _hello_positions,
            b"migrate": _migrate_positions}

_PRINTABLE = {c: bytes([c]) for c in range(0x20, 0x7F)}
_PRINTABLE.update({ord("\\"): b"\\\\", ord('"'): b'\\"', ord("\n"): b"\\n",
                   ord("\r"): b"\\r", ord("\t"): b"\\t", 7: b"\\a", 8: b"\\b"})
_ESCAPES = [_PRINTABLE.get(c, b"\\x%02x" % c) for c in range(256)]


def quote(arg: bytes) -> bytes:
    """Redis's sdscatrepr: the argument in double quotes, escaped."""
    return b'"' + b"".join([_ESCAPES[c] for c in arg]) + b'"'


def monitor_line(now: float, db: int, addr: str, args) -> bytes:
    """``+<secs>.<micros> [<db> <addr>] "arg" ...`` with CRLF (Redis's format)."""
    redact = REDACTED.get(args[0].lower())
    if redact is not None:
        args = list(args)
        for i in redact(args):
            args[i] = b"(redacted)"
    secs = int(now)
    return b"+%d.%06d [%d %s] %b\r\n" % (secs, int((now - secs) * 1_000_000), db,
                                         addr.encode(), b" ".join([quote(a) for a in args]))


class Monitors:
    """The monitors of this shard: session -> (connection, proxy client id or None)."""

    def __init__(self, server):
        self.server = server
        self.targets: dict = {}
        self.due: list = []  # lines for a monitor whose own command is running
        self._limit_text = None
        self._limit = (0, 0, 0)

    def add(self, session, conn, client_id) -> None:
        first = not self.targets
        self.targets[session] = (conn, client_id)
        if first:
            self.server.observers_changed()
            self._announce(True)

    def remove(self, session) -> None:
        if self.targets.pop(session, None) is not None and not self.targets:
            self.server.observers_changed()
            self._announce(False)

    def _announce(self, on: bool) -> None:
        """Tell every proxy worker whether a monitor exists (frame ``O``)."""
        for link in self.server.links_by_worker.values():
            announce(link, on)

    def feed(self, conn, spec, args) -> None:
        """A command ran on ``conn``: show it (see the module doc)."""
        if "admin" in spec.flags or "skip_monitor" in spec.flags or spec.group == "internal":
            return
        if conn.internal and spec.route == "all" and self.server.index != 0:
            return  # the proxy sends it to every shard: shard 0 shows it, once
        self.send(conn.db_index, self.address(conn), args, links_only=False)

    def address(self, conn) -> str:
        if conn.in_script:
            return "lua"
        if conn.internal:
            session = conn.session
            if session is not None and session.monitor_addr is not None:
                return session.monitor_addr
        return conn.addr

    def send(self, db: int, addr: str, args, links_only: bool) -> None:
        line = monitor_line(time.time(), db, addr, args)
        running = self.server.running
        for conn, client_id in list(self.targets.values()):
            if client_id is not None:
                conn.push(client_id, line)
            elif links_only:
                continue
            elif conn is running:  # its own command: the line follows the reply
                self.due.append((conn, line))
            else:
                conn.emit(line)
                self._check_limit(conn)

    def send_due(self) -> None:
        due, self.due = self.due, []
        for conn, line in due:
            conn.emit(line)

    def _check_limit(self, conn) -> None:
        """A monitor of this shard's port that does not read is closed by
        client_output_buffer_limit's normal class, as in Redis 7.0."""
        text = self.server.config.values["client_output_buffer_limit"]
        if text is not self._limit_text:
            self._limit = buffer_limits(text)["normal"]
            self._limit_text = text
        hard, soft, seconds = self._limit
        if (hard or soft) and conn.transport is not None:
            self.server.pubsub.check_output_limit(conn, hard, soft, seconds)


def announce(link, on: bool) -> None:
    link.emit(b"*3\r\n$1\r\nO\r\n:%d\r\n$0\r\n\r\n" % (1 if on else 0))


def feed_script(conn, args) -> None:
    """EVAL, EVALSHA, FCALL are shown as they start, before their commands."""
    monitors = conn.server.monitors
    if monitors.targets:
        monitors.send(conn.db_index, monitors.address(conn), args, links_only=False)
