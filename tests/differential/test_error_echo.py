"""Errors that echo the client's bytes echo them as sent, not as UTF-8 with
U+FFFD replacements, as redis-server does.  Compared as raw reply lines: a
decoding client would hide the difference."""

import pytest

from tests.helpers import encode

RAW = [b"\xff\xfe", b"caf\xc3\xa9", b"\xc3", b"a\xffb" * 60, b"\x80", b"a\x00\xffb"]


def _line(client, args) -> bytes:
    """The raw reply line (an error is one line)."""
    client.send_raw(encode(args))
    data = b""
    while not data.endswith(b"\r\n"):
        chunk = client.sock.recv(65536)
        assert chunk, "connection closed"
        data += chunk
    return data


def _same(diff, *args):
    expected, actual = _line(diff.ref, args), _line(diff.ours, args)
    assert actual == expected, "%r: redis %r, damselfly %r" % (args, expected, actual)
    return actual


@pytest.mark.parametrize("raw", RAW)
def test_unknown_command_echoes_raw_bytes(diff, raw):
    assert raw[:1] in _same(diff, raw)
    _same(diff, b"no" + raw, raw, b"x")
    _same(diff, b"nosuch", raw, b"\xfe" * 200)


@pytest.mark.parametrize("raw", RAW)
def test_unknown_subcommand_echoes_raw_bytes(diff, raw):
    for container in (b"CONFIG", b"CLIENT", b"OBJECT", b"COMMAND", b"CLUSTER"):
        _same(diff, container, raw, b"key")


def test_newlines_in_echoed_bytes(diff):
    _same(diff, b"x\r\ny", b"a\nb\rc")
    _same(diff, b"CONFIG", b"x\n\xff")


def test_raw_bytes_survive_on_a_shard_port(server, redis_ref):
    """A shard answers clients directly in sharded mode: same text there."""
    from tests.helpers import RawClient

    with RawClient(redis_ref.port, redis_ref.host) as ref, \
            RawClient(server.shard_ports[0]) as shard:
        for args in ((b"\xff\xfe", b"\x80"), (b"CONFIG", b"\xff")):
            assert _line(shard, args) == _line(ref, args)


@pytest.mark.parametrize("raw", [b"\xff\xfe", b"a\x00\xff"])
def test_option_errors_echo_raw_bytes(diff, raw):
    _same(diff, b"HELLO", b"3", raw)
    _same(diff, b"CLIENT", b"KILL", b"TYPE", raw)
    _same(diff, b"CLIENT", b"LIST", b"TYPE", raw)
    _same(diff, b"SET", b"k", b"v")
    _same(diff, b"EXPIRE", b"k", b"10", raw)
    _same(diff, b"CONFIG", b"SET", raw, b"1")
