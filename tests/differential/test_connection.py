"""Connection commands against a real redis-server: same replies and errors.

Both servers run without requirepass here; AUTH with a password is tested
end to end in tests/e2e/test_introspection.py.
"""

from tests.helpers import Err, RawClient, encode


def test_ping_echo(diff):
    diff.run("PING")
    diff.run("PING", "hello")
    diff.run("PING", "a", "b")
    diff.run("ECHO", "x y")
    diff.run("ECHO")
    diff.run("ECHO", "a", "b")


def test_select(diff):
    for index in ("99", "16", "-1", "abc", "1.5", ""):
        diff.run("SELECT", index)
    diff.run("SELECT", "3")
    diff.run("SET", "k", "in db 3")
    diff.run("SELECT", "0")
    diff.run("GET", "k")
    diff.run("SELECT", "3")
    diff.run("GET", "k")
    diff.run("SELECT")


def test_hello_errors_and_fields(diff):
    diff.run("HELLO", "4")
    diff.run("HELLO", "1")
    diff.run("HELLO", "abc")
    diff.run("HELLO", "3", "SETNAME", "a b")
    diff.run("HELLO", "2", "AUTH", "default")
    diff.run("HELLO", "2", "FOO")
    diff.run("HELLO", "2", "AUTH", "bob", "pw")
    ref, ours = diff.both("HELLO", "2")
    ref, ours = dict(zip(ref[::2], ref[1::2])), dict(zip(ours[::2], ours[1::2]))
    assert list(ours) == list(ref)
    for field in (b"server", b"proto", b"role", b"modules"):
        assert ours[field] == ref[field]


def test_hello_3_switches_protocol(diff):
    ref, ours = diff.both("HELLO", "3", "SETNAME", "conn3")
    assert type(ours) is dict and set(ours) == set(ref)
    diff.run("CLIENT", "GETNAME")
    diff.run("SET", "k", "v")
    diff.run("GET", "k")
    diff.run("CONFIG", "GET", "maxmemory")  # a map in RESP3


def test_auth_without_requirepass(diff):
    diff.run("AUTH", "x")
    diff.run("AUTH", "default", "x")  # the default user has no password: OK
    diff.run("AUTH", "bob", "x")
    diff.run("AUTH", "a", "b", "c")
    diff.run("AUTH")


def test_client_name_and_errors(diff):
    diff.run("CLIENT", "GETNAME")
    diff.run("CLIENT", "SETNAME", "a b")
    diff.run("CLIENT", "SETNAME", "a\nb")
    diff.run("CLIENT", "SETNAME", "ok-name")
    diff.run("CLIENT", "GETNAME")
    diff.run("CLIENT", "SETNAME", "")
    diff.run("CLIENT", "GETNAME")
    diff.run("CLIENT", "SETNAME")
    diff.run("CLIENT")
    diff.run("CLIENT", "FOO")
    diff.run("CLIENT", "help", "x")
    diff.run("CLIENT", "REPLY", "maybe")
    diff.run("CLIENT", "NO-EVICT", "maybe")
    diff.run("CLIENT", "NO-EVICT", "on")
    diff.run("CLIENT", "NO-EVICT", "off")


def test_client_kill_and_list_errors(diff):
    diff.run("CLIENT", "KILL", "1.2.3.4:5")
    diff.run("CLIENT", "KILL", "ID", "abc")
    diff.run("CLIENT", "KILL", "ID", "0")
    diff.run("CLIENT", "KILL", "ID", "99999")
    diff.run("CLIENT", "KILL", "ID", "99999", "SKIPME", "maybe")
    diff.run("CLIENT", "KILL", "FOO", "bar")
    diff.run("CLIENT", "KILL", "TYPE", "bogus")
    diff.run("CLIENT", "KILL", "ID")
    diff.run("CLIENT", "LIST", "TYPE", "foo")
    diff.run("CLIENT", "LIST", "ID", "abc")
    diff.run("CLIENT", "LIST", "ID", "99999")
    diff.run("CLIENT", "LIST", "FOO")
    diff.run("CLIENT", "LIST", "TYPE", "pubsub")


def test_client_id_info_list_shapes(diff):
    ref, ours = diff.both("CLIENT", "ID")
    assert type(ours) is int and ours > 0
    ref, ours = diff.both("CLIENT", "INFO")
    keys = lambda line: [f.split(b"=")[0] for f in line.split()]  # noqa: E731
    # Redis 7.2 adds lib-name/lib-ver; the fields 7.0 has come in its order.
    assert keys(ours)[: len(keys(ref))] == keys(ref)
    ref, ours = diff.both("CLIENT", "LIST", "ID", str(ours_id(diff)))
    assert ours.count(b"\n") == 1 and ours.startswith(b"id=")


def ours_id(diff):
    return diff.ours.call("CLIENT", "ID")


def _replies_to(client, commands, n):
    client.send_raw(b"".join(encode(c) for c in commands))
    return [client.read() for _ in range(n)]


def test_client_reply_off_skip_on(diff):
    """OFF drops every reply (errors too) until ON; SKIP drops the next one."""
    off = [("CLIENT", "REPLY", "OFF"), ("SET", "a", "1"), ("GET", "a"), ("NOSUCH",),
           ("CLIENT", "REPLY", "SKIP"), ("CLIENT", "REPLY", "ON"), ("GET", "a")]
    skip = [("CLIENT", "REPLY", "SKIP"), ("SET", "b", "2"), ("GET", "b"),
            ("CLIENT", "REPLY", "SKIP"), ("MGET", "a", "b"), ("PING",)]
    for client in (diff.ref, diff.ours):
        assert _replies_to(client, off, 2) == [b"OK", b"1"]
        assert _replies_to(client, skip, 2) == [b"2", b"PONG"]
        assert client.call("PING") == b"PONG"


def test_time_shape(diff):
    ref, ours = diff.both("TIME")
    assert len(ours) == 2 and all(part.isdigit() for part in ours)
    assert abs(int(ours[0]) - int(ref[0])) < 5
    diff.run("TIME", "x")


def test_quit_and_reset(diff, server, redis_ref):
    diff.run("RESET", "x")
    diff.run("SELECT", "2")
    diff.run("CLIENT", "SETNAME", "before-reset")
    diff.run("RESET")
    diff.run("CLIENT", "GETNAME")
    diff.run("SET", "k", "db0")  # RESET went back to db 0
    diff.run("SELECT", "0")
    diff.run("GET", "k")
    for port, host in ((redis_ref.port, redis_ref.host), (server.port, "127.0.0.1")):
        with RawClient(port, host) as c:
            assert c.call("QUIT") == b"OK"
            try:
                closed = c.sock.recv(10) == b""
            except ConnectionError:
                closed = True
            assert closed


def test_unknown_command_texts(diff):
    diff.run("NOSUCH")
    diff.run("NOSUCH", "a", "b c")
    diff.run("nosuch", *["x"] * 25)
    assert isinstance(diff.run("DF.LINK", "secret", "0"), Err)  # internal: unknown
    assert isinstance(diff.run("df.ctx", "0", "2", "-"), Err)
