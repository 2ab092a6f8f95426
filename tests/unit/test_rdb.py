"""The RDB primitives and DUMP payloads, on in-memory buffers.

Pinned payloads were taken from redis-server 7.0 (``SET k v`` then ``DUMP k``);
the differential tests compare live DUMPs as well.
"""

import random

import lzf
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cluster import errors
from cluster.errors import CommandError
from shardnode.rdb.checksum import crc64
from shardnode.rdb.constants import OBJECT_TYPES, RDB_VERSION, TYPE_STRING
from shardnode.rdb.encoding import (
    RdbFormatError,
    RdbReader,
    RdbWriter,
    encode_length,
    encode_string,
)
from shardnode.rdb.objects import CODECS, frame_dump, register_codec
from shardnode.values import dump_payload, load_payload, read_value, type_name, write_value

# -- CRC-64 ------------------------------------------------------------------


def test_crc64_check_value():
    """CRC-64/Jones as Redis's crc64.c tests it: "123456789" -> e9c6d914c4b8d9ca."""
    assert crc64(b"123456789") == 0xE9C6D914C4B8D9CA
    assert crc64(b"") == 0


def test_crc64_continues_a_running_value():
    data = bytes(range(256)) * 7
    assert crc64(data[700:], crc64(data[:700])) == crc64(data)


def test_crc64_matches_a_redis_dump_footer():
    payload = b"\x00\x05hello\n\x00cr\xdfve4 \n"  # DUMP of "hello" from redis-server 7.0
    assert crc64(payload[:-8]).to_bytes(8, "little") == payload[-8:]


# -- lengths -------------------------------------------------------------------

LENGTHS = [
    (0, b"\x00"), (63, b"\x3f"),  # 6 bits
    (64, b"\x40\x40"), (16383, b"\x7f\xff"),  # 14 bits, big endian
    (16384, b"\x80\x00\x00\x40\x00"), (2**32 - 1, b"\x80\xff\xff\xff\xff"),  # 32 bits
    (2**32, b"\x81\x00\x00\x00\x01\x00\x00\x00\x00"),  # 64 bits
]


@pytest.mark.parametrize("length,encoded", LENGTHS)
def test_length_encoding(length, encoded):
    assert encode_length(length) == encoded
    reader = RdbReader(encoded)
    assert reader.read_length() == length
    assert reader.pos == len(encoded)


def test_unknown_length_encoding_is_refused():
    with pytest.raises(RdbFormatError):
        RdbReader(b"\x82" + bytes(8)).read_length()


def test_plain_length_reads_an_encoded_marker_as_its_low_bits():
    """Redis's rdbLoadLen(rdb, NULL) does not refuse 11xxxxxx: neither do we."""
    assert RdbReader(b"\xc5").read_length() == 5


# -- strings -------------------------------------------------------------------

STRINGS = [
    (b"0", b"\xc0\x00"), (b"-1", b"\xc0\xff"), (b"127", b"\xc0\x7f"), (b"-128", b"\xc0\x80"),
    (b"128", b"\xc1\x80\x00"), (b"-32768", b"\xc1\x00\x80"), (b"12345", b"\xc1\x39\x30"),
    (b"32768", b"\xc2\x00\x80\x00\x00"), (b"2147483647", b"\xc2\xff\xff\xff\x7f"),
    (b"-2147483648", b"\xc2\x00\x00\x00\x80"),
    # Not canonical or too big for int32: written as they are.
    (b"2147483648", b"\x0a2147483648"), (b"007", b"\x03007"), (b"-0", b"\x02-0"),
    (b"+5", b"\x02+5"), (b" 5", b"\x02 5"), (b"", b"\x00"), (b"hello", b"\x05hello"),
    (b"1_0", b"\x031_0"),
    # 21+ bytes: LZF when it saves 4 bytes or more, as Redis's rdbSaveLzfStringObject.
    (b"a" * 100, b"\xc3\x09\x40\x64\x01aa\xe0W\x00\x01aa"),
    (b"a" * 20, b"\x14" + b"a" * 20),  # 20 bytes: never compressed
]


@pytest.mark.parametrize("value,encoded", STRINGS, ids=lambda v: repr(v)[:20])
def test_string_encoding_as_redis_writes_it(value, encoded):
    assert encode_string(value) == encoded
    reader = RdbReader(encoded)
    assert reader.read_string() == value
    assert reader.pos == len(encoded)


def test_incompressible_long_string_is_raw():
    value = random.Random(7).randbytes(300)
    assert encode_string(value) == encode_length(300) + value


def test_compression_can_be_turned_off():
    assert encode_string(b"a" * 100, compress=False) == b"\x40\x64" + b"a" * 100


def test_lzf_output_limit_is_redis_s():
    """Compressed only when it saves at least 4 bytes (out_len = len - 4)."""
    for size in range(21, 200):
        value = (b"abcdefgh" * 40)[:size]
        packed = lzf.compress(value)
        encoded = encode_string(value)
        if packed is not None and len(packed) <= size - 4:
            assert encoded[0] == 0xC3
            assert RdbReader(encoded).read_string() == value
        else:
            assert encoded == encode_length(size) + value


def test_lzf_of_zero_bytes_is_the_empty_string():
    """lzf_decompress into 0 bytes returns 0, which Redis takes as success."""
    assert RdbReader(b"\xc3\x00\x00").read_string() == b""
    assert RdbReader(b"\xc3\x01\x00\x00").read_string() == b""


def test_every_integer_width_reads_back():
    for value in (-(2**31), -40000, -300, -5, 0, 5, 300, 40000, 2**31 - 1):
        data = b"%d" % value
        assert RdbReader(encode_string(data)).read_string() == data


BAD_STRINGS = [
    b"",  # nothing
    b"\x05hel",  # shorter than its length
    b"\x80\xff\xff\xff",  # truncated 32-bit length
    b"\xc1\x01",  # truncated int16
    b"\xc2\x01\x02\x03",  # truncated int32
    b"\xc4",  # unknown string encoding
    b"\xc3\x03\x40\x01aa",  # LZF data shorter than declared
    b"\xc3\x02\x10\x20\x05",  # LZF back-reference before the start
    b"\xc3\x04\x14\x01aa\xe0",  # LZF back-reference cut short
    b"\xc3\x03\x14\x01aa",  # LZF decompresses to fewer bytes than declared
    b"\xc3\x02\x7f\xff\xff\xff",  # LZF length no input could produce
    b"\xc3\x01\x01a",  # LZF literal longer than its input
]


@pytest.mark.parametrize("data", BAD_STRINGS)
def test_malformed_strings_raise_the_format_error(data):
    with pytest.raises(RdbFormatError):
        RdbReader(data).read_string()


# -- the writer and reader as buffers ------------------------------------------


def test_writer_take_drains_into_the_running_crc():
    writer = RdbWriter()
    writer.write_string(b"hello")
    first = writer.take()
    writer.write_length(300)
    writer.write_byte(7)
    second = writer.take()
    assert first == b"\x05hello" and second == b"\x41\x2c\x07"
    assert writer.buffer == bytearray()
    assert writer.crc == crc64(first + second)


def test_reader_works_on_any_buffer_and_window():
    data = bytearray(b"xx\x05hello\x03abc")
    reader = RdbReader(memoryview(data), pos=2)
    assert reader.read_string() == b"hello"
    assert RdbReader(data, pos=2, end=6).pos == 2
    with pytest.raises(RdbFormatError):
        RdbReader(data, pos=2, end=6).read_string()  # the window ends inside "hello"


# -- objects and DUMP payloads ------------------------------------------------

REDIS_DUMPS = [
    (b"hello", b"\x00\x05hello\n\x00cr\xdfve4 \n"),
    (b"12345", b"\x00\xc190\n\x00\x9d\x94\xea'\x93\xfc\x08\xb9"),
    (b"-1", b"\x00\xc0\xff\n\x00\x0c\x93~$\x85\x08\x9d\xc5"),
    (b"100000", b"\x00\xc2\xa0\x86\x01\x00\n\x00\xf1$\x03Po/\xa6t"),
    (b"a" * 100, b"\x00\xc3\t@d\x01aa\xe0W\x00\x01aa\n\x00\xe8\xa3\xb5\x07\xb0m\xf2q"),
    (b"", b"\x00\x00\n\x00]\x9b\\@\x0f\x7f\xa2\xda"),
    (b"2147483648", b"\x00\n2147483648\n\x00\xe7\xb1)\xa3L\x1dv\xee"),
]


@pytest.mark.parametrize("value,payload", REDIS_DUMPS, ids=lambda v: repr(v)[:12])
def test_dump_payload_is_redis_s(value, payload):
    assert dump_payload(value) == payload
    assert load_payload(payload) == value


def test_write_and_read_value_as_rdb_objects():
    writer = RdbWriter()
    for value in (b"one", b"2", b"x" * 1000):
        write_value(writer, value)
    reader = RdbReader(writer.take())
    assert [read_value(reader) for _ in range(3)] == [b"one", b"2", b"x" * 1000]


def test_payload_version_and_checksum():
    good = dump_payload(b"hello")

    def refused(payload):
        with pytest.raises(CommandError) as err:
            load_payload(payload)
        return str(err.value) == errors.DUMP_PAYLOAD_INVALID

    assert refused(good[:-1] + bytes([good[-1] ^ 1]))  # CRC
    assert refused(b"\x01" + good[1:])  # body changed under the CRC
    assert refused(b"x" * 9)  # shorter than a footer
    assert refused(b"")
    newer = b"\x00\x05hello" + (RDB_VERSION + 1).to_bytes(2, "little")
    assert refused(newer + crc64(newer).to_bytes(8, "little"))
    for version in (0, 1, 9, RDB_VERSION):  # older versions are read
        body = b"\x00\x05hello" + version.to_bytes(2, "little")
        assert load_payload(body + crc64(body).to_bytes(8, "little")) == b"hello"


def _framed(body: bytes) -> bytes:
    return frame_dump(body)


@pytest.mark.parametrize("body", [
    b"",  # no type byte: the footer's version byte is read as the type
    b"\x00",  # a string with no length: the length comes from the footer
    b"\x08\x05hello",  # type 8 is no object type
    b"\x06\x05hello",  # a module type: no reader
    b"\x00\xc4",  # bad string encoding
    b"\x00\xc3\x02\x10\x20\x05",  # corrupt LZF
    b"\x00\x80\xff\xff\xff\xff",  # a 4 GB string in a 20-byte payload
    b"\x00\x81" + b"\xff" * 8,  # a 2**64 - 1 byte string
])
def test_malformed_objects_are_bad_data_format(body):
    with pytest.raises(CommandError) as err:
        load_payload(_framed(body))
    assert str(err.value) == errors.BAD_DATA_FORMAT


def test_object_may_read_into_the_footer_and_trailing_bytes_are_ignored():
    """As Redis: the object is read from the whole payload."""
    assert load_payload(_framed(b"\x00\x05hello" + b"junk")) == b"hello"
    footer_reader = _framed(b"\x00\x0a")  # 10 bytes: the footer is the string
    assert load_payload(footer_reader) == footer_reader[2:]


def test_codecs_are_registered_once_per_object_type():
    assert TYPE_STRING in CODECS
    with pytest.raises(ValueError):
        register_codec(TYPE_STRING, None, None)
    with pytest.raises(ValueError):
        register_codec(8, None, None)  # not an object type
    assert 8 not in OBJECT_TYPES and {0, 7, 9, 19} <= OBJECT_TYPES


# -- properties -----------------------------------------------------------------


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=3000) | st.integers(-(2**64), 2**64).map(lambda n: b"%d" % n)
       | st.binary(min_size=1, max_size=8).flatmap(
           lambda unit: st.integers(3, 400).map(lambda n: unit * n)))
def test_any_string_round_trips(value):
    assert load_payload(dump_payload(value)) == value
    reader = RdbReader(encode_string(value))
    assert reader.read_string() == value and reader.pos == reader.end


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=200))
def test_garbage_payloads_give_an_error_never_a_crash(data):
    for payload in (data, _framed(data), _framed(b"\x00" + data)):
        try:
            value = load_payload(payload)
        except CommandError as err:
            assert str(err) in (errors.DUMP_PAYLOAD_INVALID, errors.BAD_DATA_FORMAT)
        else:  # a string, or a stream: a few zero bytes make a valid empty one
            assert type(value) is bytes or type_name(value) == "stream"


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=1, max_size=300), st.integers(0, 400))
def test_truncated_payloads_are_refused(value, cut):
    payload = dump_payload(value)
    cut = min(cut, len(payload) - 1)
    with pytest.raises(CommandError):
        load_payload(payload[:cut])
