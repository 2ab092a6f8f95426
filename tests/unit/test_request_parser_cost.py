"""RequestParser's cost stays linear in the bytes received, however a frame is
split: a multibulk announced huge and trickled in small pieces used to be
parsed again from its start with every piece (seconds for one MB)."""

import random
import time

import pytest

from cluster.errors import ProtocolError
from cluster.resp import RequestParser, encode_command

ELEMENT = b"$1\r\na\r\n"


def _pieces(data: bytes, seed: int = 1):
    rng = random.Random(seed)
    i = 0
    while i < len(data):
        n = rng.randint(1024, 4096)
        yield data[i:i + n]
        i += n


@pytest.mark.exclusive
@pytest.mark.parametrize("header", [b"*2147483647\r\n", b"*9999999\r\n"])
def test_trickled_huge_multibulk_costs_linear_time(header):
    """4 MB of one-byte elements in 1-4 KB pieces: about a second at worst,
    where re-parsing from the frame start took 24 s for 1 MB."""
    body = ELEMENT * (4 * 1024 * 1024 // len(ELEMENT))
    parser = RequestParser()
    started = time.perf_counter()
    assert parser.feed(header) == []
    worst = 0.0
    for piece in _pieces(body):
        t = time.perf_counter()
        assert parser.feed(piece) == []
        worst = max(worst, time.perf_counter() - t)
    assert time.perf_counter() - started < 5.0
    assert worst < 0.05


def test_exact_parser_keeps_only_the_unparsed_tail():
    """Inside a multibulk the exact parser holds the arguments read so far
    and at most one partial element, not the frame's bytes."""
    parser = RequestParser()
    parser.feed(b"*2147483647\r\n")
    for piece in _pieces(ELEMENT * 20000):
        parser.feed(piece)
        assert len(parser._slow.buf) < len(ELEMENT)
    assert len(parser._slow.args) == 20000


@pytest.mark.parametrize("count", [100000, 2147483647])
def test_trickled_multibulk_completes_with_the_right_arguments(count):
    args = [b"%d" % i for i in range(100000)]
    frame = encode_command(args)
    if count != len(args):  # announced larger: the frame stays open
        frame = b"*%d\r\n" % count + frame[frame.index(b"\r\n") + 2:]
    more = encode_command([b"PING"]) if count == len(args) else b"$4\r\nPING\r\n"
    parser = RequestParser()
    out = []
    for piece in _pieces(frame + more, seed=count):
        out += parser.feed(piece)
    if count == len(args):
        assert out == [args, [b"PING"]]
    else:
        assert out == []
        assert parser._slow.args == args + [b"PING"]


@pytest.mark.parametrize("header,bad,error", [
    (b"*2147483647\r\n", b"$-3\r\n", "invalid bulk length"),
    (b"*9999999\r\n", b":1\r\n", "expected '\\$', got ':'"),
])
def test_errors_still_found_after_a_long_trickle(header, bad, error):
    parser = RequestParser()
    parser.feed(header)
    for piece in _pieces(ELEMENT * 5000):
        parser.feed(piece)
    with pytest.raises(ProtocolError, match=error):
        parser.feed(bad)


@pytest.mark.exclusive
def test_a_header_line_trickled_byte_by_byte_is_scanned_once():
    """An incomplete line is not searched again from its start."""
    parser = RequestParser()
    parser.feed(b"*1\r\n$")
    started = time.perf_counter()
    for _ in range(60000):
        parser.feed(b"1")
    assert time.perf_counter() - started < 2.0
    with pytest.raises(ProtocolError, match="too big bulk count string"):
        parser.feed(b"1" * 6000)


def test_expected_dollar_echoes_the_raw_byte():
    with pytest.raises(ProtocolError) as exc:
        RequestParser().feed(b"*1\r\n\xff\r\n")
    assert exc.value.args[0].encode("utf-8", "surrogateescape") == (
        b"ERR Protocol error: expected '$', got '\xff'")
