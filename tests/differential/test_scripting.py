"""EVAL / EVALSHA / EVAL_RO / SCRIPT compared with a real redis-server 7.0.

Replies, error texts (with their ``script: <sha>, on @user_script:1.``
tails), the conversion rules both ways in RESP2 and RESP3, the bundled
libraries (cjson, cmsgpack, bit, struct), the sandbox and the shebang flags.
Keys ``A*`` live on shard 0 and ``B*`` on shard 1 of damselfly, so scripts run
on both shards.  RESP3 cases compare the exact reply bytes.
"""

from __future__ import annotations

import pytest

from tests.helpers import Err, RawClient, encode, names_on_shard

A, A2 = names_on_shard(0, 2, "a")
B, B2 = names_on_shard(1, 2, "b")


def raw_both(diff, *args):
    """The exact reply bytes of ``args`` on both servers (read up to a PING's
    PONG sent after it: a RESP3 false would stop hiredis's count)."""
    out = []
    for client in (diff.ref, diff.ours):
        client.sock.sendall(encode(args) + encode(("PING",)))
        data = b""
        while not data.endswith(b"+PONG\r\n"):
            chunk = client.sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed")
            data += chunk
        out.append(data[:-len(b"+PONG\r\n")])
    return out


def run_raw(diff, *args):
    expected, actual = raw_both(diff, *args)
    assert actual == expected, "%r: redis %r, damselfly %r" % (args, expected, actual)
    return actual


def hello3(diff):
    for client in (diff.ref, diff.ours):
        client.call("HELLO", "3")


def ev(diff, script, *keys_and_args, keys=0):
    return diff.run("EVAL", script, str(keys), *keys_and_args)


# --- Lua -> Redis conversions --------------------------------------------------------

RETURNS = [
    "return 1",
    "return -7",
    "return 3.99",
    "return -3.99",
    "return 1.9e10",
    "return -1.9e19",
    "return 0/0",
    "return 1/0",
    "return 'hello'",
    "return ''",
    "return true",
    "return false",
    "return nil",
    "return",
    "return {}",
    "return {1, 'a', true, false, 3.7}",
    "return {1, 2, nil, 4}",
    "return {1, {2, {3, nil, 4}}, nil, 5}",
    "return {a=1, 2}",
    "return {ok='fine'}",
    "return {ok='multi\\r\\nline'}",
    "return {err='My Error'}",
    "return {err='-ERR x'}",
    "return {err=''}",
    "return {1, {err='nested'}, {ok='st'}}",
    "return redis.status_reply('STATUS')",
    "return redis.error_reply('My Error')",
    "return redis.error_reply('x')",
    "return redis.error_reply('-x')",
    "return redis.error_reply('')",
    "return {redis.error_reply('x').err, redis.error_reply('-x y').err}",
    "return 'x', 'y'",
    "return {double=3.5}",
    "return {big_number='123456789012345678901234567890'}",
    "return {map={a=1}}",
    "return {set={a=true}}",
    "return {verbatim_string={format='txt', string='abc'}}",
    "return {err=5}",
    "return {ok=5}",
    "return function() end",
]


@pytest.mark.parametrize("script", RETURNS)
def test_lua_to_redis_conversions_resp2(diff, script):
    run_raw(diff, "EVAL", script, "0")


SETRESP3 = [
    "redis.setresp(3); return {true, false}",
    "redis.setresp(3); return {map={a=1}}",
    "redis.setresp(3); return {set={a=true}}",
    "redis.setresp(3); return {double=3.5}",
    "redis.setresp(3); return {double=1/0}",
    "redis.setresp(3); return {big_number='123'}",
    "redis.setresp(3); return {verbatim_string={format='txt', string='abc'}}",
    "redis.setresp(3); return false",
    "redis.setresp(3); return nil",
]


@pytest.mark.parametrize("script", RETURNS + SETRESP3)
def test_lua_to_redis_conversions_resp3(diff, script):
    hello3(diff)
    run_raw(diff, "EVAL", script, "0")


@pytest.mark.parametrize("script", SETRESP3)
def test_setresp3_replies_to_a_resp2_client(diff, script):
    run_raw(diff, "EVAL", script, "0")


# --- Redis -> Lua conversions ---------------------------------------------------------

CALLS = [
    # integer, bulk, null, status, array, error (pcall), empty array
    "return {type(redis.call('incr', KEYS[1])), redis.call('incr', KEYS[1])}",
    "redis.call('set', KEYS[1], 'v'); return {type(redis.call('get', KEYS[1])), redis.call('get', KEYS[1])}",
    "local v = redis.call('get', KEYS[1]); return {type(v), tostring(v)}",
    "local v = redis.call('set', KEYS[1], 'x'); return {type(v), v.ok}",
    "redis.call('rpush', KEYS[1], 'a', 'b', 'c'); local v = redis.call('lrange', KEYS[1], 0, -1); "
    "return {type(v), #v, v[1], v[3]}",
    "redis.call('set', KEYS[1], 'x'); local v = redis.pcall('incr', KEYS[1]); return {type(v), v.err}",
    "local v = redis.call('lrange', KEYS[1], 0, -1); return {type(v), #v}",
    "redis.call('hset', KEYS[1], 'f', 'v'); return redis.call('hgetall', KEYS[1])",
    "redis.call('sadd', KEYS[1], 'm'); return redis.call('smembers', KEYS[1])",
    "redis.call('zadd', KEYS[1], 1.5, 'm'); return redis.call('zrange', KEYS[1], 0, -1, 'withscores')",
    "return redis.call('ping')",
    "return redis.call('exists', KEYS[1])",
    "redis.call('set', KEYS[1], 'x'); return redis.call('type', KEYS[1])",
    # RESP3 replies under setresp(3)
    "redis.setresp(3); redis.call('hset', KEYS[1], 'f', 'v'); local t = redis.call('hgetall', KEYS[1]); "
    "return {type(t), type(t.map), t.map.f}",
    "redis.setresp(3); redis.call('sadd', KEYS[1], 'm'); local t = redis.call('smembers', KEYS[1]); "
    "return {type(t.set), tostring(t.set.m)}",
    "redis.setresp(3); redis.call('zadd', KEYS[1], 1.5, 'm'); local t = redis.call('zscore', KEYS[1], 'm'); "
    "return {type(t), tostring(t.double)}",
    "redis.setresp(3); return {redis.call('get', KEYS[1]) == nil, redis.call('exists', KEYS[1])}",
    "redis.setresp(3); redis.call('hset', KEYS[1], 'f', 'v'); return redis.call('hgetall', KEYS[1])",
    "redis.setresp(3); redis.call('sadd', KEYS[1], 'm'); return redis.call('smembers', KEYS[1])",
    "return {redis.call('get', KEYS[1]) == false}",
    # arguments: numbers as %.17g
    "redis.call('set', KEYS[1], 0.1); return redis.call('get', KEYS[1])",
    "redis.call('set', KEYS[1], 3.0); return redis.call('get', KEYS[1])",
    "redis.call('set', KEYS[1], 1e20); return redis.call('get', KEYS[1])",
    "redis.call('set', KEYS[1], 1/0); return redis.call('get', KEYS[1])",
    "redis.call('set', KEYS[1], 123456789); return redis.call('get', KEYS[1])",
]


@pytest.mark.parametrize("key", [A, B])
@pytest.mark.parametrize("script", CALLS)
def test_redis_to_lua_conversions(diff, script, key):
    run_raw(diff, "EVAL", script, "1", key)


@pytest.mark.parametrize("script", CALLS[-8:-5])
def test_redis_to_lua_conversions_for_a_resp3_client(diff, script):
    hello3(diff)
    run_raw(diff, "EVAL", script, "1", A)


# --- errors -------------------------------------------------------------------------

ERRORS = [
    "return foo",
    "foo = 1",
    "x.y = 1",
    "error('boom')",
    "error('x', 0)",
    "error(123)",
    "error()",
    "error({err='x'})",
    "error({err='-x y'})",
    "local function f() error('deep') end f()",
    "\nerror('line two')",
    "return redis.call()",
    "return redis.pcall()",
    "return redis.call(1)",
    "return redis.call('nosuch')",
    "return redis.call('get')",
    "return redis.call('get', {})",
    "return redis.call('get', nil)",
    "return redis.call('get', true)",
    "return redis.call('lpush', KEYS[1], 1)",
    "return redis.call('eval', 'return 1', '0')",
    "return redis.call('multi')",
    "return redis.call('blpop', KEYS[1], 0)",
    "return redis.call('client', 'list')",
    "return redis.call('client')",
    "return redis.call('object', 'nosuch')",
    "return {pcall(redis.call, 'nosuch')}",
    "local ok, e = pcall(error, 'zz'); return e",
    "local ok, e = pcall(error, {err='t'}); return e.err",
    "return {pcall(redis.call, 'lpush', KEYS[1], 1)}",
    "return redis.pcall('lpush', KEYS[1], 1)",
    "return redis.sha1hex()",
    "return redis.log(99, 'hi')",
    "return redis.log(1)",
    "return redis.setresp(4)",
    "return redis.setresp()",
    "return redis.set_repl(99)",
    "return redis.error_reply()",
    "return redis.status_reply(1)",
    "return 'x' ..",
    "return math.random(0)",
    "return math.random(5, 1)",
    "return math.random('x')",
    "return cjson.encode(function() end)",
    "return {pcall(cjson.encode, function() end)}",
]


@pytest.mark.parametrize("script", ERRORS)
def test_errors(diff, script):
    diff.run("SET", A, "string")
    diff.run("EVAL", script, "1", A)


def test_numkeys_errors(diff):
    diff.run("EVAL", "return 1", "2", A)
    diff.run("EVAL", "return 1", "-1")
    diff.run("EVAL", "return 1", "x")
    diff.run("EVAL", "return 1")
    diff.run("EVALSHA", "0" * 40, "0")
    diff.run("EVALSHA", "short", "0")


def test_wrongtype_inside_the_script_on_both_shards(diff):
    for key in (A, B):
        diff.run("SET", key, "v")
        diff.run("EVAL", "return redis.call('lpush', KEYS[1], 'x')", "1", key)
        diff.run("EVAL", "return redis.pcall('lpush', KEYS[1], 'x')", "1", key)


# --- sandbox -----------------------------------------------------------------------------

SANDBOX = [
    "return os.execute('true')",
    "return io.open('/etc/passwd')",
    "return loadfile('/etc/passwd')",
    "return dofile('/etc/passwd')",
    "return require('os')",
    "return debug.getinfo(1)",
    "return package.loaded",
    "return print('x')",
    "return setfenv(1, {})",
    "return getfenv(1)",
    "return newproxy(true)",
    "return module('x')",
    "string.format = nil",
    "string.foo = 1",
    "redis.call = nil",
    "cjson.encode = nil",
    "math.random = nil",
    "_G.x = 1",
    "rawset(_G, 'x', 1)",
    "setmetatable(_G, nil)",
    "return loadstring('x = 1')()",
    "return {pcall(loadstring('x = 1'))}",
    "return loadstring('return 1 + 1')()",
    "local f = loadstring('return KEYS'); return type(f())",
    "return tostring(loadstring('syntax('))",
    "return getmetatable(_G) == nil",
    "return {loadstring(string.dump(function() return 1 end))}",
    "return select(2, loadstring(string.dump(function() return 1 end)))",
    "return select(2, loadstring(string.dump(function() return 1 end), '=named'))",
    "return select(2, loadstring(string.dump(function() return 1 end), 'a chunk name'))",
    "return select(2, loadstring(string.dump(function() return 1 end), '@file.lua'))",
    "return type(string.dump(function() return 1 end))",
    "return {pcall(load, function() return nil end)}",
    "local out = {} for k, v in pairs(_G) do if k ~= '_G' then out[#out + 1] = k .. ':' .. type(v) end end "
    "table.sort(out) return out",
    "local out = {} for k in pairs(string) do out[#out + 1] = k end table.sort(out) return out",
    "local out = {} for k in pairs(math) do out[#out + 1] = k end table.sort(out) return out",
    "local out = {} for k in pairs(table) do out[#out + 1] = k end table.sort(out) return out",
    "local out = {} for k in pairs(bit) do out[#out + 1] = k end table.sort(out) return out",
    "local out = {} for k in pairs(struct) do out[#out + 1] = k end table.sort(out) return out",
    "local out = {} for k, v in pairs(redis) do out[#out + 1] = k .. ':' .. type(v) end "
    "table.sort(out) return out",
    "local out = {} for k, v in pairs(cjson) do out[#out + 1] = k .. ':' .. type(v) end "
    "table.sort(out) return out",
    "local out = {} for k, v in pairs(cmsgpack) do out[#out + 1] = k .. ':' .. type(v) end "
    "table.sort(out) return out",
    "return ('abc'):upper()",
    "local t = {} t.x = 1 return t.x",
    "local s = 0 for i, v in ipairs({1, 2, 3}) do s = s + v end return s",
    "return {type(KEYS), type(ARGV), #KEYS}",
]


@pytest.mark.parametrize("script", SANDBOX)
def test_sandbox(diff, script):
    diff.run("EVAL", script, "0")


def test_globals_do_not_leak_between_scripts(diff):
    ev(diff, "local ok = pcall(function() x = 1 end) return ok")
    ev(diff, "return x")


# --- redis.* ------------------------------------------------------------------------

def test_redis_api(diff):
    ev(diff, "return redis.sha1hex('')")
    ev(diff, "return redis.sha1hex('abc')")
    ev(diff, "return redis.sha1hex(123)")
    ev(diff, "return redis.log(redis.LOG_WARNING, 'hi', 2)")
    ev(diff, "return {redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING}")
    ev(diff, "return {redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, "
             "redis.REPL_ALL}")
    ev(diff, "return {redis.set_repl(redis.REPL_ALL), redis.replicate_commands(), "
             "redis.breakpoint(), redis.debug('x')}")
    ev(diff, "return redis.replicate_commands()")
    ev(diff, "return redis.breakpoint()")
    ev(diff, "return redis.setresp(3)")
    ev(diff, "return redis.acl_check_cmd('get')")
    ev(diff, "return redis.acl_check_cmd('nosuch')")


def test_redis_version_matches_info(diff):
    info = diff.ours.call("INFO", "server").decode()
    version = [line.split(":")[1].strip() for line in info.splitlines()
               if line.startswith("redis_version:")][0]
    major, minor, patch = (int(p) for p in version.split("."))
    assert diff.ours.call("EVAL", "return redis.REDIS_VERSION", "0") == version.encode()
    assert diff.ours.call("EVAL", "return redis.REDIS_VERSION_NUM", "0") == (
        major << 16 | minor << 8 | patch)
    ref = diff.ref.call("EVAL", "return {redis.REDIS_VERSION, redis.REDIS_VERSION_NUM}", "0")
    assert type(ref[0]) is bytes and type(ref[1]) is int  # the same shapes as Redis


# --- math.random ---------------------------------------------------------------------

@pytest.mark.parametrize("seed", [0, 1, 42, -7, 2**31 - 1])
def test_math_random_sequences_equal_redis(diff, seed):
    ev(diff, "math.randomseed(%d) local out = {} for i = 1, 20 do out[i] = math.random(1000000) end "
             "for i = 21, 30 do out[i] = math.random(-5, 5) end "
             "for i = 31, 35 do out[i] = tostring(math.random()) end return out" % seed)


def test_math_random_goes_on_across_calls_as_in_redis_7(diff):
    script = "return math.random(1000000000)"
    for client in (diff.ref, diff.ours):
        assert client.call("EVAL", script, "0") != client.call("EVAL", script, "0")


# --- cjson -----------------------------------------------------------------------------

CJSON = [
    "return cjson.encode({1, 2.5, 0.1, 1e20, 123456789012345, 3.14159265358979, 'a\"\\n/', "
    "true, false, cjson.null, {}, {a={}}})",
    "return cjson.encode({[1]=1, [3]=3})",
    "return cjson.encode({[1]=1, [12]=3})",
    "return cjson.encode({[2]=1})",
    "return cjson.encode({a=1})",
    "return cjson.encode({[1.5]=1})",
    "return cjson.encode({[true]=1})",
    "return cjson.encode(1/0)",
    "return cjson.encode(0/0)",
    "return cjson.encode(function() end)",
    "return cjson.encode('\\1\\127\\128\\255\\t\\b\\f\\r')",
    "return cjson.encode(12345678901234567)",
    "return cjson.encode(-1e-300)",
    "return cjson.encode()",
    "return cjson.encode({{{{{{'deep'}}}}}})",
    "local t = {} t[1] = t return cjson.encode(t)",
    "local t = {} t.a = t return cjson.encode(t)",
    "local t = cjson.decode('[1,2.5,\"x\",null,true,{\"a\":[]},1e400, 12345678901234567890]') "
    "return {t[1], t[2], t[3], t[4] == cjson.null, tostring(t[5]), type(t[6]), #t, "
    "t[7] == math.huge, tostring(t[8])}",
    "return cjson.decode('{\"a\":')",
    "return cjson.decode('[1,]')",
    "return cjson.decode('')",
    "return cjson.decode('x')",
    "return cjson.decode('[1 2]')",
    "return cjson.decode('{1:2}')",
    "return cjson.decode('{\"a\" 2}')",
    "return cjson.decode('\"abc')",
    "return cjson.decode('\"\\\\q\"')",
    "return cjson.decode('\"\\\\u00e9\\\\ud83d\\\\ude00\"')",
    "return cjson.decode('\"\\\\t\\\\n\\\\/\"')",
    "return cjson.decode('[1] x')",
    "return cjson.decode('-5')",
    "return tostring(cjson.decode('0.1'))",
    "return cjson.decode('{\"k\":\"v\"}').k",
    "return cjson.encode(cjson.decode('{\"a\":[1,2,{\"b\":null}],\"c\":\"d\"}')).a",
    "local s = cjson.encode({x={1,2,3}}) return cjson.decode(s).x[3]",
]



# --- cmsgpack ---------------------------------------------------------------------------

CMSGPACK = [
    "return cmsgpack.pack(1, -1, 127, 128, 255, 256, 65536, 2^32, -33, -129, -40000, -2^31-1, "
    "1.5, 0.1, 'abc', {1,2}, {a=1}, true, false, nil)",
    "return cmsgpack.pack(string.rep('x', 40), string.rep('y', 300), string.rep('z', 70000))",
    "local t = {} for i = 1, 20 do t[i] = i end return cmsgpack.pack(t)",
    "return cmsgpack.pack({})",
    "return cmsgpack.pack()",
    "return {cmsgpack.unpack(cmsgpack.pack({1,2,{a='b'}}, 3.25, 'x'))}",
    "local t = cmsgpack.unpack(cmsgpack.pack({a=1, b={1, 2}})) return {t.a, t.b[2]}",
    "return {cmsgpack.unpack('\\147\\1\\2\\3')}",
    "return cmsgpack.unpack('\\205\\1')",
    "return {cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3))}",
    "return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 2)}",
    "return tostring(cmsgpack.unpack(cmsgpack.pack(0.1)))",
]



# --- bit ---------------------------------------------------------------------------------

BIT = [
    "return {bit.tobit(2^32+5), bit.tobit(-1), bit.tobit(2^31), bit.tobit(1.5), bit.tobit(2.5), "
    "bit.tobit(-1.5)}",
    "return {bit.tohex(255), bit.tohex(-1, -4), bit.tohex(0x1234, 2), bit.tohex(1, 10), "
    "bit.tohex(-1)}",
    "return {bit.band(0xffffffff, 7), bit.bor(1, 2, 4), bit.bxor(3, 1), bit.bnot(0), bit.band(5)}",
    "return {bit.lshift(1, 31), bit.lshift(1, 32), bit.rshift(-1, 28), bit.arshift(-16, 2), "
    "bit.arshift(-1, 31)}",
    "return {bit.rol(0x12345678, 8), bit.ror(0x12345678, 8), bit.bswap(0x12345678), "
    "bit.rol(1, 0)}",
    "return bit.band()",
    "return bit.band('x')",
    "return bit.tobit('12')",
]



# --- struct --------------------------------------------------------------------------------

STRUCT = [
    "return struct.pack('>i4<hBbc3s', 1, -2, 255, -1, 'abc', 'zz')",
    "return {struct.unpack('>i4<hBb', struct.pack('>i4<hBb', 1, -2, 255, -1))}",
    "return {struct.size('i4hbBlLd'), struct.size('!4bi'), struct.size('!bd'), struct.size('bxh')}",
    "return struct.pack('!4bi', 1, 2)",
    "return struct.pack('<d>f', 1.5, -2.25)",
    "return {struct.unpack('<d>f', struct.pack('<d>f', 1.5, -2.25))}",
    "return {struct.unpack('s', 'abc\\0def')}",
    "return {struct.unpack('bc0', struct.pack('bc0', 3, 'xyz'))}",
    "return {struct.unpack('>I2', 'ab', 1)}",
    "return {struct.unpack('>i2', '\\255\\254')}",
    "return struct.unpack('>i4', 'ab')",
    "return struct.size('s')",
    "return struct.pack('q', 1)",
    "return struct.pack('i17', 1)",
]



# Number formatting and reading at the edges: negative zero inside tables
# (lupa hands Python -0 as 0; a -0 passed straight to cjson.encode or
# struct.pack still comes out as 0, see the runtime's prelude), Lua's %.14g,
# and the numbers C's strtod reads that JSON does not (Redis's cjson decodes
# hex, inf, nan, a leading '+').
NUMBERS = [
    "return cjson.encode({-0.0, 0, 1})",
    "return cjson.encode({{-1e-400}})",
    "return cjson.encode({cjson.decode('-1e-400')})",
    "return cjson.encode({a = -0.0})",
    "return cjson.encode({[-0.0] = 1})",
    "return cjson.encode(cjson.decode('[-0, 0, -0.0]'))",
    "return cjson.encode(1e15)",
    "return cjson.encode(2^53)",
    "return cjson.encode(123456789012345678)",
    "return cjson.encode(1/3)",
    "return cjson.encode(1e-7)",
    "return cjson.encode(5e-324)",
    "return cjson.encode(1.7976931348623157e308)",
    "return cjson.encode(-1234567.125)",
    "return cjson.encode({[1.5] = 1})",
    "return cjson.encode(1/0)",
    "return cjson.encode({0/0})",
    "return tostring(cjson.decode('-0'))",
    "return tostring(cjson.decode('1e400'))",
    "return tostring(cjson.decode('0x10'))",
    "return tostring(cjson.decode('-0x10'))",
    "return tostring(cjson.decode('0x1.8p1'))",
    "return tostring(cjson.decode('+1'))",
    "return tostring(cjson.decode('+.5'))",
    "return tostring(cjson.decode('Infinity'))",
    "return tostring(cjson.decode('-inf'))",
    "return tostring(cjson.decode('nan'))",
    "return tostring(cjson.decode('-nan'))",
    "return tostring(cjson.decode('00'))",
    "return cjson.encode(cjson.decode('[+1, 0X1f]'))",
    "return cjson.decode('.5')",
    "return cjson.decode('+')",
    "return cjson.decode('-')",
    "return cjson.decode('1e')",
    "return cjson.decode('0x')",
    "return cjson.decode('infinit')",
    "return cjson.decode('nanx')",
    "return cjson.decode('i')",
    "return cjson.decode('[-]')",
    "return struct.pack('>i', -0.0)",
    "return cmsgpack.pack(-0.0)",
    "return cmsgpack.pack({-0.0, 2^64, -0.5})",
    "return tostring(-0.0)",
    "return {-0.0, 3.9, -3.9}",
    "return redis.call('set', 'x', -0.0)",
    "return cjson.encode(cjson.encode)",
    "return cjson.encode()",
]


@pytest.mark.parametrize("script", NUMBERS)
def test_number_edges(diff, script):
    ev(diff, script)


@pytest.mark.parametrize("script", CJSON + CMSGPACK + BIT + STRUCT)
def test_libraries(diff, script):
    """cjson, cmsgpack, bit and struct: results, number formats, error texts."""
    diff.run("EVAL", script, "0")


# --- shebang flags, EVAL_RO -------------------------------------------------------------

SHEBANGS = [
    "#!lua flags=no-writes\nreturn redis.call('set', KEYS[1], 'v')",
    "#!lua flags=no-writes\nreturn redis.call('get', KEYS[1])",
    "#!lua flags=bogus\nreturn 1",
    "#!lua flags=no-writes,allow-oom,allow-stale,no-cluster,allow-cross-slot-keys\nreturn 1",
    "#!lua\nerror('line')",
    "#!lua\nreturn redis.call('set', KEYS[1], 'v')",
    "#!luax\nreturn 1",
    "#!lua name=foo\nreturn 1",
    "#!lua flags=\nreturn 1",
    "#!lua  flags=no-writes \nreturn 1",
    "#!lua",
]


@pytest.mark.parametrize("script", SHEBANGS)
def test_shebang_flags(diff, script):
    for command in ("EVAL", "EVAL_RO"):
        diff.run(command, script, "1", A)


def test_eval_ro(diff):
    diff.run("SET", A, "v")
    diff.run("EVAL_RO", "return redis.call('get', KEYS[1])", "1", A)
    diff.run("EVAL_RO", "return redis.call('set', KEYS[1], 'x')", "1", A)
    diff.run("EVAL_RO", "return redis.pcall('del', KEYS[1])", "1", A)
    diff.run("GET", A)
    sha = diff.run("SCRIPT", "LOAD", "return redis.call('get', KEYS[1])")
    diff.run("EVALSHA_RO", sha, "1", A)
    sha = diff.run("SCRIPT", "LOAD", "return redis.call('del', KEYS[1])")
    diff.run("EVALSHA_RO", sha, "1", A)
    diff.run("EVALSHA_RO", "f" * 40, "1", A)


# --- SCRIPT --------------------------------------------------------------------------------

def test_script_commands(diff):
    sha = diff.run("SCRIPT", "LOAD", "return 'hi'")
    diff.run("SCRIPT", "EXISTS", sha, "0" * 40, sha.upper())
    diff.run("EVALSHA", sha, "0")
    diff.run("EVALSHA", sha.upper(), "0")
    for key in (A, B):  # the cache is per server: any keys, any shard
        diff.run("EVALSHA", sha, "1", key)
    diff.run("SCRIPT", "LOAD", "return 'x' ..")
    diff.run("SCRIPT", "LOAD")
    diff.run("SCRIPT", "FLUSH")
    diff.run("SCRIPT", "EXISTS", sha)
    diff.run("EVALSHA", sha, "0")
    diff.run("SCRIPT", "FLUSH", "ASYNC")
    diff.run("SCRIPT", "FLUSH", "SYNC")
    diff.run("SCRIPT", "FLUSH", "BOGUS")
    diff.run("SCRIPT", "FLUSH", "SYNC", "ASYNC")
    diff.run("SCRIPT", "KILL")
    diff.run("SCRIPT", "HELP")
    diff.run("SCRIPT", "NOSUCH")
    diff.run("SCRIPT")


def test_eval_caches_the_script_for_evalsha_everywhere(diff):
    script = "return {KEYS[1], ARGV[1]}"
    diff.run("EVAL", script, "1", A, "x")
    sha = diff.run("SCRIPT", "LOAD", script)
    diff.run("SCRIPT", "FLUSH")
    diff.run("EVAL", script, "1", A, "x")
    diff.run("SCRIPT", "EXISTS", sha)
    diff.run("EVALSHA", sha, "1", B, "y")
    diff.run("EVALSHA", sha, "0")


# --- keys on both shards --------------------------------------------------------------------

@pytest.mark.parametrize("keys", [(A, A2), (B, B2)])
def test_script_on_each_shard(diff, keys):
    script = ("redis.call('set', KEYS[1], ARGV[1]); redis.call('rpush', KEYS[2], ARGV[1], ARGV[2]); "
              "return {redis.call('get', KEYS[1]), redis.call('lrange', KEYS[2], 0, -1), "
              "redis.call('exists', KEYS[1], KEYS[2])}")
    diff.run("EVAL", script, "2", keys[0], keys[1], "v1", "v2")
    diff.run("GET", keys[0])
    diff.run("LRANGE", keys[1], "0", "-1")


def test_declared_keys_on_two_shards_run_atomically_through_the_proxy(diff):
    script = ("redis.call('set', KEYS[1], ARGV[1]); redis.call('set', KEYS[2], ARGV[2]); "
              "return {redis.call('get', KEYS[1]), redis.call('get', KEYS[2])}")
    diff.run("EVAL", script, "2", A, B, "one", "two")
    diff.run("MGET", A, B)
    diff.run("EVAL", "return redis.call('del', KEYS[1], KEYS[2])", "2", A, B)
    diff.run("MGET", A, B)


def test_undeclared_key_of_another_shard_runs_in_proxy_mode(diff):
    """Handed back by the shard before it wrote, rerun by the proxy."""
    diff.run("SET", B, "b-value")
    diff.run("EVAL", "return redis.call('get', ARGV[1])", "1", A, B)
    diff.run("EVAL", "redis.call('set', ARGV[1], 'x'); return redis.call('get', ARGV[1])", "0", B)
    diff.run("EVAL", "return {redis.call('get', ARGV[1]), pcall(redis.call, 'get', ARGV[2])}",
             "0", A, B)
    diff.run("MGET", A, B)


@pytest.mark.parametrize("key", [A, B])
def test_select_inside_a_script_ends_with_it(diff, key):
    diff.run("SET", key, "db0")
    diff.run("EVAL", "redis.call('select', 5); redis.call('set', KEYS[1], 'db5'); "
                     "return redis.call('get', KEYS[1])", "1", key)
    diff.run("GET", key)
    diff.run("SELECT", "5")
    diff.run("GET", key)
    diff.run("FLUSHALL")


def test_a_table_that_contains_itself_is_an_error_not_a_crash(server):
    with RawClient(server.port) as client:
        reply = client.call("EVAL", "local t = {} t[1] = t return t", "0")
        assert isinstance(reply, Err) and "reached lua stack limit" in reply
        assert client.call("PING") == b"PONG"


@pytest.mark.parametrize("command", [("keys", "*"), ("dbsize",), ("scan", "0", "count", "1000"),
                                     ("mget", A, B), ("flushall",)])
def test_a_command_for_every_shard_runs_in_proxy_mode(diff, command):
    """The whole keyspace's answer, not one shard's slice."""
    diff.run("SET", A, "1")
    diff.run("SET", B, "1")
    run = diff.run_unordered if command[0] in ("keys", "scan") else diff.run
    if command[0] == "scan":
        diff.run("EVAL", "local c, n = '0', 0 repeat local r = redis.call('scan', c, 'count', "
                         "'1000') c = r[1] n = n + #r[2] until c == '0' return n", "0")
    else:
        run("EVAL", "return redis.call(%s)" % ", ".join("'%s'" % w for w in command), "0")
    diff.run("DBSIZE")


def test_script_inside_multi(diff):
    diff.run("MULTI")
    diff.run("EVAL", "return redis.call('incr', KEYS[1])", "1", A)
    diff.run("EVAL", "return redis.call('incr', KEYS[1])", "1", A)
    diff.run("EXEC")


def test_client_protocol_applies_to_the_reply(diff):
    hello3(diff)
    run_raw(diff, "EVAL", "return {1, 'a', false, {ok='x'}}", "0")
    run_raw(diff, "EVAL", "redis.call('hset', KEYS[1], 'f', 'v'); return redis.call('hgetall', KEYS[1])",
            "1", A)


# --- redis-py register_script -----------------------------------------------------------------

def test_register_script_with_redis_py(server, redis_ref):
    import redis as redis_py

    results = []
    for port in (redis_ref.port, server.port):
        client = redis_py.Redis(port=port)
        client.flushall()
        client.script_flush()
        rate_limit = client.register_script(
            "local n = redis.call('incr', KEYS[1]) "
            "if n == 1 then redis.call('expire', KEYS[1], ARGV[1]) end "
            "if n > tonumber(ARGV[2]) then return 0 end return 1")
        release = client.register_script(
            "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) "
            "else return 0 end")
        out = [rate_limit(keys=[key], args=[60, 3]) for key in (A, A, A, A, B)]
        client.set(B2, "token")
        out += [release(keys=[B2], args=["other"]), release(keys=[B2], args=["token"]),
                client.exists(B2), client.ttl(A) > 0]
        results.append(out)
        client.close()
    assert results[0] == results[1] == [1, 1, 1, 0, 1, 0, 1, 0, True]
