"""RequestParser.trust(): a shard's proxy link parses with hiredis alone.

The link's requests come from encode_command; whatever way the stream is cut
into reads, the trusted parser must return exactly what the checking parser
returns, and switching mid-stream must lose nothing.
"""

from cluster.resp import RequestParser, encode_command

COMMANDS = [[b"DF.LINK", b"secret", b"0"], [b"GET", b"k"], [b"SET", b"k", b"v" * 300],
            [b"MGET", b"a", b"b", b"c"], [b"SET", b"e", b""], [b"INCR", b"n"]] * 20
STREAM = b"".join(encode_command(c) for c in COMMANDS)


def _parse(parser, stream, step):
    out = []
    for i in range(0, len(stream), step):
        out.extend(parser.feed(stream[i:i + step]))
    return out


def test_trusted_parser_matches_the_checking_parser_for_any_cut():
    for step in (1, 2, 7, 64, 1000, len(STREAM)):
        trusted = RequestParser()
        trusted.trust()
        assert _parse(trusted, STREAM, step) == COMMANDS, step


def test_trust_mid_stream_keeps_a_partial_frame():
    parser = RequestParser()
    cut = len(encode_command(COMMANDS[0])) + 5  # inside the second command
    first = parser.feed(STREAM[:cut])
    assert first == COMMANDS[:1]
    parser.trust()
    assert first + parser.feed(STREAM[cut:]) == COMMANDS
