"""The Lua runtime without a server (cluster/scripting): a fake host answers
``redis.call`` with encoded replies, so conversions, errors, the sandbox and
the generator can be checked byte for byte."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cluster.errors import CommandError
from cluster.resp import encode
from cluster.scripting import ScriptRuntime
from cluster.scripting.runtime import Rand48, lua_error_text
from cluster.scripting.shebang import parse_shebang


@pytest.fixture(scope="module")
def runtime():
    return ScriptRuntime()


class Host:
    """Answers every command with one fixed encoded reply; records the calls."""

    def __init__(self, reply=b"+OK\r\n"):
        self.reply = reply
        self.calls = []

    def __call__(self, spec, args, resp):
        self.calls.append((spec.name, args, resp))
        return self.reply


def run(runtime, body, host=None, keys=(), argv=(), proto=2, readonly=False):
    script = runtime.load(body.encode())
    return runtime.run(script, list(keys), list(argv), host or Host(), proto, readonly)


def test_redis_call_passes_arguments_as_redis_formats_them(runtime):
    host = Host()
    run(runtime, "return redis.call('set', KEYS[1], 0.1, 3, 1e20, -0.5)", host, keys=[b"k"])
    assert host.calls == [("set", [b"set", b"k", b"0.10000000000000001", b"3", b"1e+20",
                                   b"-0.5"], 2)]


def test_setresp_reaches_the_host(runtime):
    host = Host(b"_\r\n")
    assert run(runtime, "redis.setresp(3); return redis.call('get', 'k') == nil", host,
               proto=3) == b"#t\r\n"
    assert host.calls[0][2] == 3


def test_checks_before_the_host_runs_anything(runtime):
    host = Host()
    for body, text in [
        ("return redis.call('nosuch')", "ERR Unknown Redis command called from script"),
        ("return redis.call('get')", "ERR Wrong number of args calling Redis command from script"),
        ("return redis.call('multi')", "ERR This Redis command is not allowed from script"),
        ("return redis.call('df.exec')", "ERR Unknown Redis command called from script"),
    ]:
        with pytest.raises(CommandError) as failure:
            run(runtime, body, host)
        assert failure.value.args[0].startswith(text + " script: ")
    with pytest.raises(CommandError) as failure:
        run(runtime, "return redis.call('set', 'k', 'v')", host, readonly=True)
    assert failure.value.args[0].startswith(
        "ERR Write commands are not allowed from read-only scripts. script: ")
    assert host.calls == []


def test_python_objects_are_not_reachable(runtime):
    for body in ("return redis.call.__class__", "return cjson.encode.__globals__",
                 "return bit.band.__self__"):
        with pytest.raises(CommandError) as failure:
            run(runtime, body)
        assert "not accessible" in failure.value.args[0] or "attempt to index" in \
            failure.value.args[0], failure.value.args[0]


def test_binary_chunks_are_refused(runtime):
    assert run(runtime, "return {loadstring(string.dump(function() return 1 end))}") == \
        b"*0\r\n"


def test_rand48_is_redis_s():
    rand = Rand48()
    rand.seed(0)
    # math.random(1000000) twice after math.randomseed(0), as redis-server 7.0 answers
    assert [int(rand.random() * 1000000) + 1 for _ in range(2)] == [170829, 749902]


def test_lua_error_text():
    assert lua_error_text(b"-WRONGTYPE Operation") == b"WRONGTYPE Operation"
    assert lua_error_text(b"-x") == b"ERR x"
    assert lua_error_text(b"-") == b"ERR "
    assert lua_error_text(b"plain") == b"ERR plain"


def test_shebang():
    assert parse_shebang(b"return 1") == (None, 0)
    assert parse_shebang(b"#!lua flags=no-writes\nreturn 1") == (frozenset({"no-writes"}), 21)
    for body in (b"#!lua", b"#!py\n", b"#!lua x=1\n", b"#!lua flags=nope\n"):
        with pytest.raises(CommandError):
            parse_shebang(body)


# A RESP2 reply that survives the trip reply -> Lua -> reply unchanged: Redis's
# rules are a bijection on these (integers within a double's precision).
_leaf = st.one_of(
    st.integers(min_value=-(2**53), max_value=2**53).map(lambda n: n),
    st.binary(max_size=20),
    st.just(None),
    st.text(alphabet="abcXYZ 019", min_size=0, max_size=8).map(lambda s: ("status", s)),
)
_reply = st.recursive(_leaf, lambda inner: st.lists(inner, max_size=5), max_leaves=20)


def _encode(value):
    if type(value) is tuple:
        return b"+%s\r\n" % value[1].encode()
    if type(value) is list:
        return b"*%d\r\n" % len(value) + b"".join(_encode(v) for v in value)
    return encode(value, 2)


@settings(max_examples=200, deadline=None)
@given(_reply)
def test_resp2_replies_round_trip_through_lua(value):
    runtime = _shared_runtime()
    data = _encode(value)
    assert run(runtime, "return redis.call('get', 'k')", Host(data)) == data


@settings(max_examples=100, deadline=None)
@given(_reply)
def test_resp3_client_sees_nulls_as_resp3(value):
    runtime = _shared_runtime()
    expected = _encode(value).replace(b"$-1\r\n", b"_\r\n")
    assert run(runtime, "return redis.call('get', 'k')", Host(_encode(value)), proto=3) == expected


_RUNTIME = []


def _shared_runtime():
    if not _RUNTIME:
        _RUNTIME.append(ScriptRuntime())
    return _RUNTIME[0]
