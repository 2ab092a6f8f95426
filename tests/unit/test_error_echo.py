"""Client bytes echoed in error texts leave as they came (cluster.errors.echo
with cluster.resp.encode_error), as Redis prints them with %.128s."""

from cluster import errors
from cluster.resp import encode_error


def test_echo_round_trips_any_bytes():
    raw = bytes(range(1, 256))
    assert encode_error(errors.echo(raw)) == b"-" + raw.replace(b"\r", b" ").replace(
        b"\n", b" ") + b"\r\n"


def test_echo_stops_at_nul_and_limit():
    assert errors.echo(b"ab\x00cd") == "ab"
    assert encode_error(errors.echo(b"\xff" * 300, 128)) == b"-" + b"\xff" * 128 + b"\r\n"


def test_unknown_command_counts_bytes_not_characters():
    text = errors.unknown_command(b"\xff", [b"caf\xc3\xa9", b"\xfe" * 200, b"never"])
    line = encode_error(text)
    shown = line.split(b"with args beginning with: ", 1)[1]
    assert shown == b"'caf\xc3\xa9' '" + b"\xfe" * (128 - 8) + b"' \r\n"
    assert line.startswith(b"-ERR unknown command '\xff',")


def test_unknown_node_and_subcommand():
    assert encode_error(errors.UNKNOWN_NODE.format(errors.echo(b"\xff\x80"))) == (
        b"-ERR Unknown node \xff\x80\r\n")
    assert encode_error(errors.unknown_subcommand(b"\xfe", "debug")) == (
        b"-ERR unknown subcommand '\xfe'. Try DEBUG HELP.\r\n")
