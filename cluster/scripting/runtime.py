"""The Lua runtime: one sandboxed Lua 5.1 state per process and its script cache.

Sans-IO: :meth:`ScriptRuntime.run` runs one script call and returns the
client's reply bytes; every ``redis.call`` goes to a *host* callback
``host(spec, args, resp) -> bytes`` (the command's encoded reply in protocol
``resp``), so the runtime does not know whether a shard runs the commands
itself or a proxy sends them on.  The checks Redis makes inside
``redis.call`` before a command runs (unknown command, arity, ``noscript``,
writes from a read-only script) happen here, once, from the command table.

The sandbox follows Redis 7.0.15: ``os``, ``io``, ``debug``, ``package``,
``require``, ``module``, ``loadfile``, ``dofile``, ``print``, ``setfenv``,
``getfenv`` and ``newproxy`` are gone; the globals and the libraries are
read-only ("Attempt to modify a readonly table"); reading a global that does
not exist fails ("Script attempted to access nonexistent global variable").
Lua 5.1 as bundled with lupa has no read-only tables, so scripts run with a
proxy environment (``setfenv``) whose metatable refuses writes, and the
library tables are proxies the same way; ``pairs``/``next``/``ipairs``/
``rawget`` see through them and ``rawset``/``setmetatable`` refuse them.
Scripts are compiled once per SHA1 (``f_<sha>`` in the state's script table)
with the chunk name ``@user_script``, so errors read ``user_script:1: ...``.

``math.random`` is Redis 7.0's: its own ``rand48`` (src/rand.c), one
sequence per process that starts from rand48's initial state and goes on
across script calls (7.0 no longer reseeds before each call, as the script
is replicated by its effects); ``math.randomseed(n)`` restarts it as
``srand48(n)``, so a seeded script draws the same numbers as Redis's.
"""

from __future__ import annotations

import hashlib
import logging
import math
import sys

from lupa import lua51

from cluster import errors
from cluster.commands import lookup, resolve
from cluster.errors import CommandError
from cluster.scripting import libs
from cluster.scripting.convert import RespToLua, lua_to_resp, top_level_error
from cluster.scripting.shebang import KNOWN_FLAGS, NO_WRITES, parse_shebang
from cluster.session import SERVER_VERSION

log = logging.getLogger("damselfly.script")

# Redis's log levels (server.h LL_*), as redis.LOG_* gives them.
LOG_LEVELS = {0: logging.DEBUG, 1: logging.DEBUG, 2: logging.INFO, 3: logging.WARNING}
REPL_NONE, REPL_AOF, REPL_REPLICA, REPL_ALL = 0, 1, 2, 3

INT32_MAX = 2**31 - 1


def sha1hex(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


def version_number(version: str) -> int:
    major, minor, patch = (int(p) for p in version.split("."))
    return (major << 16) | (minor << 8) | patch


class ScriptError(CommandError):
    """A script failed; ``args[0]`` is the error reply text."""


class ScriptAbort(CommandError):
    """Raised by a host to stop the script for good (``args[0]``: the error
    reply): unlike a command's error, ``pcall`` cannot swallow it -- every
    later ``redis.call`` of the run fails at once, and :meth:`ScriptRuntime.run`
    raises it whatever the script returns.  A shard uses it to hand a script
    that touched another shard's key to the proxy (shardnode/scripting.py)."""


class Rand48:
    """Redis's rand48 (src/rand.c): lrand48 with its own state, seeded by srand48."""

    def __init__(self):
        self.state = 0x1234ABCD330E  # x[] = {X0, X1, X2}, before any srand48

    def seed(self, value: int) -> None:
        value &= 0xFFFFFFFF
        self.state = (value << 16) | 0x330E

    def next(self) -> int:
        self.state = (0x5DEECE66D * self.state + 0xB) & 0xFFFFFFFFFFFF
        return self.state >> 17

    def random(self) -> float:
        """math.random's draw: redisLrand48() % INT32_MAX / INT32_MAX."""
        return (self.next() % INT32_MAX) / INT32_MAX


class Script:
    """A compiled script: its body, flags (None without a shebang) and function."""

    __slots__ = ("sha", "body", "flags", "function")

    def __init__(self, sha, body, flags, function):
        self.sha = sha
        self.body = body
        self.flags = flags
        self.function = function

    @property
    def no_writes(self) -> bool:
        return self.flags is not None and NO_WRITES in self.flags


class _Run:
    """What one script call needs while it runs."""

    __slots__ = ("script", "host", "readonly", "resp", "abort", "watchdog", "repl")

    def __init__(self, script, host, readonly):
        self.script = script
        self.host = host
        self.readonly = readonly
        self.resp = 2
        self.abort = None  # the ScriptAbort that ended it
        self.watchdog = None  # see ScriptRuntime.run
        self.repl = REPL_ALL  # redis.set_repl: REPL_NONE keeps the next commands out of the journal


def _deny_attributes(obj, name, is_setting):
    raise AttributeError("not accessible from scripts")


# The Lua side: called once with the table of Python callbacks, returns the
# compile and run functions.  Chunk name "=damselfly": the error handler skips
# frames of this chunk to find the script's own line.
PRELUDE = r"""
local api = ...
local G = _G
local getinfo = debug.getinfo
local sethook = debug.sethook
local real_loadstring, real_setfenv = loadstring, setfenv
local real_setmetatable, real_getmetatable = setmetatable, getmetatable
local real_rawget, real_rawset, real_next = rawget, rawset, next
local real_pairs, real_ipairs = pairs, ipairs
local real_type, real_tostring, real_tonumber = type, tostring, tonumber
local real_select, real_unpack, real_error = select, unpack, error
local floor = math.floor
local null = newproxy(false)
local PRELUDE_SOURCE = "=damselfly"
local READONLY = "Attempt to modify a readonly table"

for _, name in real_ipairs({"os", "io", "debug", "package", "require", "module", "dofile",
                            "loadfile", "print", "setfenv", "getfenv", "newproxy",
                            "python"}) do
  G[name] = nil
end

-- Everything the scripts call is a Python callable, so a call is a C call as
-- in Redis (a tail call to it keeps the script's frame, and error positions
-- come out right).  Python raises LuaRaise; ``materialize`` turns the error
-- value Lua sees (a userdata) back into the message or error table.
local raised = api.raised
local function materialize(err)
  if real_type(err) ~= "userdata" or err == null then return err end
  return raised(err)
end
-- The position Lua's luaL_where(L, 1) gives a C function's error: its caller's line.
local function where(level)
  local info = getinfo(level, "Sl")
  if info and info.what ~= "C" and info.currentline > 0 then
    return info.short_src .. ":" .. info.currentline .. ": "
  end
  return ""
end

local redis = {}
for _, name in real_ipairs({"call", "pcall", "setresp", "log", "set_repl", "replicate_commands",
                            "breakpoint", "debug", "sha1hex", "error_reply", "status_reply",
                            "acl_check_cmd"}) do
  redis[name] = api.redis[name]
end
redis.REDIS_VERSION = api.version
redis.REDIS_VERSION_NUM = api.version_num
redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING = 0, 1, 2, 3
redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL = 0, 1, 2, 2, 3

math.random = api.random
math.randomseed = api.randomseed

-- libraries ---------------------------------------------------------------------
local function library(names, impl)
  local t = {}
  for _, name in real_ipairs(names) do t[name] = impl[name] end
  return t
end
G.cjson = library({"encode", "decode"}, api.cjson)
-- Negative zero: lupa hands a whole-number Lua number to Python as an int,
-- so a -0 reaches Python as 0.  cjson.encode asks here about a 0 it meets
-- inside a table.  (A -0 passed straight to a Python callable cannot be told
-- apart: a Lua wrapper would see it, but a tail call to a Lua function loses
-- the caller's line that error messages need.)
local function negzero(v) return v == 0 and 1 / v < 0 end
api.negzero_in = function(t, k) return negzero(real_rawget(t, k)) end
api.negzero_key = function(t)
  for k in real_next, t do
    if k == 0 then return 1 / k < 0 end
  end
  return false
end
G.cjson.null = null
G.cjson._NAME, G.cjson._VERSION = "cjson", "2.1.0"
for _, name in real_ipairs({"encode_keep_buffer", "encode_max_depth", "decode_max_depth",
                            "encode_number_precision", "encode_sparse_array",
                            "encode_invalid_numbers", "decode_invalid_numbers"}) do
  G.cjson[name] = function() end
end
G.cjson.new = function() return G.cjson end
G.cmsgpack = library({"pack", "unpack", "unpack_one", "unpack_limit"}, api.cmsgpack)
G.cmsgpack._NAME, G.cmsgpack._VERSION = "lua-cmsgpack", "lua-cmsgpack 0.4.0"
G.cmsgpack._COPYRIGHT = "Copyright (C) 2012, Salvatore Sanfilippo"
G.cmsgpack._DESCRIPTION = "MessagePack C implementation for Lua"
G.bit = library({"tobit", "tohex", "bnot", "band", "bor", "bxor", "lshift", "rshift",
                 "arshift", "rol", "ror", "bswap"}, api.bit)
G.struct = library({"pack", "unpack", "size"}, api.struct)
G.redis = redis

-- The API's functions are Python callables (userdata to Lua): type() says
-- "function" for them, as for Redis's C functions.
local builtin = {}
for _, lib in real_ipairs({redis, G.cjson, G.cmsgpack, G.bit, G.struct, math}) do
  for _, v in real_pairs(lib) do
    if real_type(v) == "userdata" and v ~= null then builtin[v] = true end
  end
end
G.type = function(...)
  if builtin[(...)] then return "function" end
  return real_type(...)
end

-- read-only globals and libraries -------------------------------------------------
local backing = real_setmetatable({}, {__mode = "k"})
local function deny() real_error(READONLY, 2) end
local function readonly(real)
  local proxy = {}
  backing[proxy] = real
  real_setmetatable(proxy, {__index = real, __newindex = deny, __metatable = false})
  return proxy
end
local function unwrap(t) return backing[t] or t end
for _, name in real_ipairs({"string", "math", "table", "coroutine", "redis", "cjson",
                            "cmsgpack", "bit", "struct"}) do
  G[name] = readonly(G[name])
end
local string_meta = real_getmetatable("")
string_meta.__index = G.string
string_meta.__metatable = readonly({__index = G.string})

G.next = function(t, k) return real_next(unwrap(t), k) end
G.pairs = function(t) return real_pairs(unwrap(t)) end
G.ipairs = function(t) return real_ipairs(unwrap(t)) end
G.rawget = function(t, k) return real_rawget(unwrap(t), k) end
G.rawset = function(t, k, v)
  if backing[t] then real_error(READONLY, 0) end
  return real_rawset(t, k, v)
end
G.setmetatable = function(t, mt)
  if backing[t] then real_error(READONLY, 0) end
  return real_setmetatable(t, mt)
end

local real_pcall, real_xpcall = pcall, xpcall
-- Redis's pcall gives the ``err`` field of an error table, not the table.
local function caught(ok, ...)
  if ok then return ok, ... end
  local err = materialize((...))
  if real_type(err) == "table" then err = err.err end
  return false, err
end
G.pcall = function(f, ...) return caught(real_pcall(f, ...)) end
G.xpcall = function(f, h)
  return real_xpcall(f, function(err) return h(materialize(err)) end)
end

-- A read-only view of ``t`` whose missing fields fail as Redis's globals do.
local function strict(t)
  local proxy = {}
  backing[proxy] = t
  real_setmetatable(proxy, {
    __index = function(_, k)
      local v = real_rawget(backing[proxy], k)
      if v == nil then
        real_error("Script attempted to access nonexistent global variable '" ..
                   real_tostring(k) .. "'", 2)
      end
      return v
    end,
    __newindex = deny,
    __metatable = false,
  })
  return proxy
end
local ENV = strict(G)

-- Redis's Lua does not load binary chunks: it parses them as text, which
-- fails on their first byte.  The message names the chunk as luaO_chunkid does.
local function chunk_id(source)
  source = source:match("^[^%z]*")
  local first = source:sub(1, 1)
  if first == "=" then return source:sub(2, 60) end
  if first == "@" then
    if #source - 1 <= 59 then return source:sub(2) end
    return "..." .. source:sub(-56)
  end
  local len = math.min(#source:match("^[^\r\n]*"), 43)
  if len < #source then return '[string "' .. source:sub(1, len) .. '..."]' end
  return '[string "' .. source .. '"]'
end
G.loadstring = function(s, name)
  if real_type(s) == "string" and s:byte(1) == 27 then
    local where = chunk_id(real_type(name) == "string" and name or s)
    return nil, where .. ":1: unexpected symbol near 'char(27)'"
  end
  local f, err = real_loadstring(s, name)
  if f then real_setfenv(f, ENV) end
  return f, err
end
G.load = function(reader, name)
  local parts = {}
  while true do
    local piece = reader()
    if piece == nil or piece == "" then break end
    parts[#parts + 1] = piece
  end
  return G.loadstring(table.concat(parts), name)
end

local function handler(err)
  sethook()  -- a watchdog that stopped the script must not fire in here
  err = materialize(err)
  local level, info = 2, nil
  while true do
    info = getinfo(level, "Sl")
    if not info or (info.what ~= "C" and info.what ~= "tail"
                    and info.source ~= PRELUDE_SOURCE) then break end
    level = level + 1
  end
  if real_type(err) ~= "table" then err = {err = "ERR " .. real_tostring(err)} end
  if info then
    real_rawset(err, "source", info.source)
    real_rawset(err, "line", info.currentline)
  end
  return err
end
G.__redis__err__handler = handler
G._G = ENV

local scripts = {}
local function compile(name, body)
  local f, err = real_loadstring(body, "@user_script")
  if not f then return nil, err end
  real_setfenv(f, ENV)
  scripts[name] = f
  return f, nil
end
local function run(f)
  return xpcall(f, handler)
end
local function forget() scripts = {} end
-- The watchdog (ScriptRuntime.run's ``watchdog``): every 100000 VM
-- instructions it asks Python whether to stop; once it says so, it fires at
-- every instruction, so a pcall in the script cannot keep it running.
local check_watch = api.check_watch
local function watchdog()
  local err = check_watch()
  if err then
    sethook(watchdog, "", 1)
    real_error(err, 0)
  end
end
local function watch(on)
  if on then sethook(watchdog, "", 100000) else sethook() end
end

-- FUNCTION LOAD: a library's code runs once with only ``redis`` (register_function,
-- log, the log levels, the version) in sight; the functions it registers then run
-- with the scripts' globals.  Every library chunk shares LIBENV, a view of
-- ``load_globals`` while a library loads and of the globals otherwise.
local load_globals = {redis = strict({
  register_function = api.register_function, log = redis.log,
  LOG_DEBUG = 0, LOG_VERBOSE = 1, LOG_NOTICE = 2, LOG_WARNING = 3,
  REDIS_VERSION = api.version, REDIS_VERSION_NUM = api.version_num})}
local LIBENV = strict(G)
local function load_library(body)
  local f, err = real_loadstring(body, "@user_function")
  if not f then return false, err, true end
  real_setfenv(f, LIBENV)
  backing[LIBENV] = load_globals
  local ok, failure = xpcall(f, handler)
  backing[LIBENV] = G
  return ok, failure, false
end
local function call_function(f, keys, argv)
  return xpcall(function() return f(keys, argv) end, handler)
end
return compile, run, forget, where, load_library, call_function, watch
"""


# cjson nests up to 1000 levels (its encode_max_depth), each a Python frame
# here: room for that above whatever the caller's stack holds.
_RECURSION_LIMIT = 4000


class ScriptRuntime:
    """One Lua state, its script cache and the ``redis`` API (see module doc)."""

    def __init__(self):
        if sys.getrecursionlimit() < _RECURSION_LIMIT:
            sys.setrecursionlimit(_RECURSION_LIMIT)
        self.scripts: dict = {}  # sha -> Script
        self.rand = Rand48()
        self.current = None  # the _Run in progress
        self.registering = None  # FUNCTION LOAD's registrations while a library loads
        self.calls = 0
        self._new_state()

    def _new_state(self) -> None:
        lua = lua51.LuaRuntime(encoding=None, unpack_returned_tuples=True,
                               register_eval=False, register_builtins=False,
                               attribute_filter=_deny_attributes)
        self.lua = lua
        self.decoder = RespToLua(lua)
        cjson_null = None  # the prelude's sentinel, set below
        table = lua.table_from
        self.cjson = libs.CJson(lua, cjson_null)
        cmsgpack = libs.CMsgpack(lua)
        bit = libs.Bit()
        structs = libs.Struct()

        def adapt(fn):
            def call(*args):
                try:
                    return fn(*args)
                except libs.LibError as exc:
                    raise LuaRaise(self._where(3) + exc.args[0].encode("utf-8", "surrogateescape"))
            return call

        redis_api = {
            b"call": lambda *args: self._redis_call(True, args),
            b"pcall": lambda *args: self._redis_call(False, args),
            b"setresp": self._setresp,
            b"log": self._log,
            b"set_repl": self._set_repl,
            b"replicate_commands": lambda *args: True,
            b"breakpoint": lambda *args: False,
            b"debug": lambda *args: None,
            b"sha1hex": self._sha1hex,
            b"error_reply": self._error_reply,
            b"status_reply": self._status_reply,
            b"acl_check_cmd": self._acl_check_cmd,
        }
        api = table({
            b"raised": _raised,
            b"check_watch": self._check_watch,
            b"redis": table(redis_api),
            b"random": self._random,
            b"register_function": self._register_function,
            b"randomseed": self._randomseed,
            b"version": SERVER_VERSION.encode(),
            b"version_num": version_number(SERVER_VERSION),
            b"cjson": table({b"encode": adapt(self.cjson.encode),
                             b"decode": adapt(self.cjson.decode)}),
            b"cmsgpack": table({name.encode(): adapt(getattr(cmsgpack, name))
                                for name in ("pack", "unpack", "unpack_one", "unpack_limit")}),
            b"bit": table({name.encode(): adapt(getattr(bit, name)) for name in bit.NAMES}),
            b"struct": table({name.encode(): adapt(getattr(structs, name))
                              for name in ("pack", "unpack", "size")}),
        })
        setup = lua.eval("function(code) return assert(loadstring(code, '=damselfly')) end")(
            PRELUDE.encode())
        (self._compile, self._run, self._forget, self._where, self._load_library,
         self._call_function, self._watch) = setup(api)
        self.cjson.null = lua.globals()[b"cjson"][b"null"]
        self.cjson.negzero_in, self.cjson.negzero_key = api[b"negzero_in"], api[b"negzero_key"]
        self.globals = lua.globals()

    # -- the script cache ------------------------------------------------------------

    def load(self, body: bytes) -> Script:
        """The compiled script for ``body`` (compiled now if new); CommandError
        for a bad shebang or a compile error."""
        sha = sha1hex(body)
        script = self.scripts.get(sha)
        if script is not None:
            return script
        flags, shebang_len = parse_shebang(body)
        function, message = self._compile(b"f_" + sha.encode(), body[shebang_len:])
        if function is None:
            raise CommandError("ERR Error compiling script (new function): %s"
                               % message.decode("utf-8", "surrogateescape"))
        script = self.scripts[sha] = Script(sha, body, flags, function)
        return script

    def get(self, sha: bytes):
        """The cached script of a SHA1 given by a client (any case), or None."""
        if len(sha) != 40:
            return None
        return self.scripts.get(sha.decode("latin-1").lower())

    def flush(self) -> None:
        """SCRIPT FLUSH: forget every script, with a fresh Lua state as Redis does."""
        self.scripts = {}
        self._new_state()

    # -- running -----------------------------------------------------------------------

    def run(self, script: Script, keys, argv, host, client_proto: int,
            readonly: bool = False, as_function: bool = False, watchdog=None) -> bytes:
        """Run one call of ``script``; the client's reply bytes.

        ``host(spec, args, resp)`` runs each ``redis.call`` command and
        returns its encoded reply in protocol ``resp``; after
        ``redis.set_repl(redis.REPL_NONE)`` it is called with
        ``propagate=False``: run the command, journal nothing.  Raises
        :class:`ScriptError` when the script fails or returns an error.
        ``watchdog()``, if given, is asked every 100000 Lua instructions
        whether to stop the script: an error text (SCRIPT KILL) stops it
        with that error, None lets it go on.
        """
        if self.current is not None:
            raise CommandError("ERR a script is already running")
        table = self.lua.table_from
        if not as_function:
            g = self.globals
            g[b"KEYS"] = table(keys)
            g[b"ARGV"] = table(argv)
        run = self.current = _Run(script, host, readonly or script.no_writes)
        run.watchdog = watchdog
        self.calls += 1
        try:
            if watchdog is not None:
                self._watch(True)
            if as_function:  # FCALL: the callback gets (keys, args), no KEYS/ARGV
                result = self._call_function(script.function, table(keys), table(argv))
            else:
                result = self._run(script.function)
        except Exception:
            log.exception("script %s failed inside the runtime", script.sha)
            raise ScriptError("ERR internal error while running script %s" % script.sha)
        finally:
            if watchdog is not None:
                self._watch(False)
            self.current = None
        if run.abort is not None:
            raise run.abort
        if type(result) is not tuple:  # the script returned nothing
            result = (result,)
        ok = result[0]
        value = result[1] if len(result) > 1 else None
        if not ok:
            raise ScriptError(self._error_text(value, script.sha))
        error = top_level_error(value)
        if error is not None:
            raise ScriptError(error)
        try:
            return lua_to_resp(value, client_proto, run.resp)
        except RecursionError:  # a table that contains itself
            raise ScriptError("ERR reached lua stack limit")

    @staticmethod
    def _error_text(err, sha: str) -> str:
        if lua51.lua_type(err) != "table":
            return "ERR unknown error running script %s" % sha
        msg = err[b"err"]
        text = (msg.decode("utf-8", "surrogateescape") if type(msg) is bytes
                else "ERR unknown error")
        source, line = err[b"source"], err[b"line"]
        if source is not None and line is not None:
            return "%s script: %s, on %s:%s." % (
                text, sha, source.decode("utf-8", "surrogateescape"), line)
        return text

    # -- FUNCTION LOAD -------------------------------------------------------------------

    def load_library(self, code: bytes) -> list:
        """Run a library's code (after its shebang line) in the load-time
        sandbox; the registrations it made, each ``(name, callback,
        description, flags)``.  CommandError with Redis's text when it fails."""
        self.registering = []
        try:
            ok, failure, compile_error = self._load_library(code)
            if compile_error:
                raise CommandError("ERR Error compiling function: %s"
                                   % failure.decode("utf-8", "surrogateescape"))
            if not ok:
                msg = failure[b"err"] if lua51.lua_type(failure) == "table" else None
                text = (msg.decode("utf-8", "surrogateescape") if type(msg) is bytes
                        else "ERR unknown error")
                raise CommandError("ERR Error registering functions: %s" % text)
            return self.registering
        finally:
            self.registering = None

    def _register_function(self, *args):
        """redis.register_function(name, callback) or ({function_name=, callback=,
        flags=, description=}), checked as Redis 7.0 checks them."""
        registering = getattr(self, "registering", None)
        if registering is None:
            self._raise("ERR redis.register_function can only be called on FUNCTION LOAD "
                        "command")
        ltype = lua51.lua_type
        description, flags = None, []
        if len(args) == 1 and ltype(args[0]) != "table":
            self._raise("ERR calling redis.register_function with a single argument is only "
                        "applicable to Lua table (representing named arguments).")
        if len(args) == 1:
            name = callback = None
            for key, value in args[0].items():
                value = _lua_string(value)
                if key == b"function_name":
                    if type(value) is not bytes:
                        self._raise("ERR function_name argument given to "
                                    "redis.register_function must be a string")
                    name = value
                elif key == b"description":
                    if type(value) is not bytes:
                        self._raise("ERR description argument given to "
                                    "redis.register_function must be a string")
                    description = value
                elif key == b"callback":
                    if ltype(value) != "function":
                        self._raise("ERR callback argument given to redis.register_function "
                                    "must be a function")
                    callback = value
                elif key == b"flags":
                    if ltype(value) != "table":
                        self._raise("ERR flags argument to redis.register_function must be a "
                                    "table representing function flags")
                    for _, flag in value.items():
                        name_of = flag.decode("utf-8", "surrogateescape") \
                            if type(flag) is bytes else None
                        if name_of not in KNOWN_FLAGS:
                            self._raise("ERR unknown flag given")
                        flags.append(name_of)
                else:
                    self._raise("ERR unknown argument given to redis.register_function")
            if name is None:
                self._raise("ERR redis.register_function must get a function name argument")
            if callback is None:
                self._raise("ERR redis.register_function must get a callback argument")
        elif len(args) == 2:
            name, callback = _lua_string(args[0]), args[1]
            if type(name) is not bytes:
                self._raise("ERR first argument to redis.register_function must be a string")
            if ltype(callback) != "function":
                self._raise("ERR second argument to redis.register_function must be a "
                            "function")
        else:
            self._raise("ERR wrong number of arguments to redis.register_function")
        if not valid_name(name):
            self._raise("ERR Library names can only contain letters, numbers, or "
                        "underscores(_) and must be at least one character long")
        if any(entry[0] == name for entry in registering):
            self._raise("ERR Function already exists in the library")
        registering.append((name, callback, description, flags))

    # -- callbacks from Lua (see PRELUDE: each is a C-level call for Lua) ----------------

    def _raise(self, text: str):
        """Fail the way Redis's ``luaPushError`` + ``luaError`` do: an error table."""
        raise LuaRaise(self.lua.table_from({b"err": text.encode()}))

    def _redis_call(self, raise_errors: bool, args):
        """redis.call / redis.pcall."""
        if not args:
            failed, reply = True, self.lua.table_from({b"err": (
                b"ERR Please specify at least one argument for this redis lib call")})
        elif any(type(a) is not bytes and (type(a) is bool or type(a) not in (int, float))
                 for a in args):
            failed, reply = True, self.lua.table_from({b"err": (
                b"ERR Lua redis lib command arguments must be strings or integers")})
        else:
            failed, reply = self._call(args)
        if failed and raise_errors:
            raise LuaRaise(reply)
        return reply

    def _call(self, raw_args):
        """Check and run one command: (failed, reply as a Lua value)."""
        run = self.current
        if run.abort is not None:
            return True, self.lua.table_from({b"err": run.abort.args[0].encode()})
        args = [a if type(a) is bytes else b"%.17g" % float(a) for a in raw_args]
        try:
            spec = lookup(args[0])
            if spec is None or spec.group == "internal":
                raise CommandError(errors.SCRIPT_UNKNOWN_COMMAND)
            if spec.subcommands:
                if len(args) < 2 and not spec.arity_ok(1):
                    raise CommandError(errors.SCRIPT_WRONG_ARITY)
                spec = resolve(spec, args)
                if type(spec) is str:
                    raise CommandError(errors.SCRIPT_UNKNOWN_COMMAND)
            if not spec.arity_ok(len(args)):
                raise CommandError(errors.SCRIPT_WRONG_ARITY)
            if "noscript" in spec.flags:
                raise CommandError(errors.SCRIPT_NOT_ALLOWED)
            if spec.is_write and run.readonly:
                raise CommandError(errors.SCRIPT_WRITE_IN_READONLY)
            if run.repl == REPL_NONE:  # run, not propagated (the host skips the journal)
                data = run.host(spec, args, run.resp, propagate=False)
            else:
                data = run.host(spec, args, run.resp)
        except ScriptAbort as exc:
            run.abort = exc
            return True, self.lua.table_from({b"err": exc.args[0].encode()})
        except CommandError as exc:
            return True, self.lua.table_from(
                {b"err": lua_error_text(b"-" + exc.args[0].encode("utf-8", "surrogateescape"))})
        value, failed = self.decoder.decode(data)
        if failed:
            return True, self.lua.table_from({b"err": lua_error_text(data[:-2])})
        return False, value

    def _check_watch(self):
        """The watchdog's question (see :meth:`run`): an error table to stop with, or None."""
        run = self.current
        text = run.watchdog() if run is not None and run.watchdog is not None else None
        return None if text is None else self.lua.table_from({b"err": text.encode()})

    def _setresp(self, *args):
        if len(args) != 1:
            self._raise("ERR redis.setresp() requires one argument.")
        if args[0] not in (2, 3) or type(args[0]) is bool:
            self._raise("ERR RESP version must be 2 or 3.")
        self.current.resp = int(args[0])

    def _log(self, *args):
        if len(args) < 2:
            self._raise("ERR redis.log() requires two arguments or more.")
        level = _lua_number(args[0])
        if level is None:
            self._raise("ERR First argument must be a number.")
        if not 0 <= level <= 3:
            self._raise("ERR Invalid debug level.")
        parts = []
        for value in args[1:]:
            if type(value) is bytes:
                parts.append(value)
            elif type(value) in (int, float):
                parts.append(libs._lua_fmt14(value))
        log.log(LOG_LEVELS[int(level)], "%s", b" ".join(parts).decode("utf-8", "replace"))

    def _set_repl(self, *args):
        if len(args) != 1:
            self._raise("ERR redis.set_repl() requires one argument.")
        flags = _lua_number(args[0])
        if flags is None or int(flags) != flags or not 0 <= flags <= REPL_ALL:
            self._raise("ERR Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL "
                        "or REPL_NONE.")
        # One journal feeds the AOF and replicas alike: REPL_AOF and
        # REPL_REPLICA keep journalling; only REPL_NONE stops it.
        self.current.repl = int(flags)

    def _sha1hex(self, *args):
        if len(args) != 1:
            self._raise("ERR wrong number of arguments")
        value = args[0]
        if type(value) in (int, float) and type(value) is not bool:
            value = libs._lua_fmt14(value)
        elif type(value) is not bytes:
            value = b""
        return sha1hex(value).encode()

    def _bad_reply_arguments(self):
        """error_reply / status_reply with bad arguments return (not raise) an error."""
        return self.lua.table_from({b"err": b"ERR wrong number or type of arguments"})

    def _error_reply(self, *args):
        if len(args) != 1 or type(args[0]) is not bytes:
            return self._bad_reply_arguments()
        text = args[0]
        return self.lua.table_from({b"err": lua_error_text(
            text if text[:1] == b"-" else b"-" + text)})

    def _status_reply(self, *args):
        if len(args) != 1 or type(args[0]) is not bytes:
            return self._bad_reply_arguments()
        return self.lua.table_from({b"ok": args[0]})

    def _acl_check_cmd(self, *args):
        if not args:
            self._raise("ERR Please specify at least one argument for this redis lib call")
        name = args[0] if type(args[0]) is bytes else b""
        spec = lookup(name)
        if spec is None or spec.group == "internal":
            self._raise("ERR Invalid command passed to redis.acl_check_cmd()")
        return True

    def _random(self, *args):
        """math.random over Redis's rand48 (Lua 5.1's math_random otherwise)."""
        r = self.rand.random()
        if not args:
            return r
        if len(args) == 1:
            upper = self._check_int(args[0], 1, "random")
            if upper < 1:
                raise LuaRaise(self._where(3) + b"bad argument #1 to 'random' (interval is empty)")
            return math.floor(r * upper) + 1
        if len(args) == 2:
            lower = self._check_int(args[0], 1, "random")
            upper = self._check_int(args[1], 2, "random")
            if lower > upper:
                raise LuaRaise(self._where(3) + b"bad argument #2 to 'random' (interval is empty)")
            return math.floor(r * (upper - lower + 1)) + lower
        raise LuaRaise(self._where(3) + b"wrong number of arguments")

    def _randomseed(self, *args):
        self.rand.seed(self._check_int(args[0] if args else None, 1, "randomseed"))

    def _check_int(self, value, position: int, fname: str) -> int:
        """luaL_checkint: a number (or numeric string) cast to a C int."""
        number = _lua_number(value)
        if number is None:
            got = "no value" if value is None else libs._typename(value)
            raise LuaRaise(self._where(3) + b"bad argument #%d to '%s' (number expected, got %s)"
                           % (position, fname.encode(), got.encode()))
        if math.isnan(number) or math.isinf(number):
            return -(2**31)
        return int(number)


def _lua_string(value):
    """lua_isstring's view: a number stands for its ``%.14g`` text."""
    if type(value) in (int, float) and type(value) is not bool:
        return libs._lua_fmt14(value)
    return value


def valid_name(name: bytes) -> bool:
    """Redis's library and function names: letters, digits and underscores."""
    return bool(name) and all(c == 95 or 48 <= c <= 57 or 65 <= c <= 90 or 97 <= c <= 122
                              for c in name)


class LuaRaise(Exception):
    """Raised by a Python function called from Lua: the Lua error it stands
    for (a message, already prefixed with its caller's position as
    ``luaL_error`` would, or an error table)."""

    def __init__(self, value):
        super().__init__(value)
        self.value = value


def _raised(exc):
    """The Lua error value of a Python exception raised inside a Lua call."""
    if isinstance(exc, LuaRaise):
        return exc.value
    log.error("script callback failed: %r", exc)
    return b"internal error: " + str(exc).encode("utf-8", "replace")


def _lua_number(value):
    """lua_tonumber: numbers and numeric strings, else None."""
    if type(value) in (int, float) and type(value) is not bool:
        return value
    if type(value) is bytes:
        try:
            return float(value)
        except ValueError:
            return None
    return None


def lua_error_text(raw: bytes) -> bytes:
    """An error as Redis keeps it in a Lua error table (luaPushErrorBuff):
    ``-CODE msg`` keeps its code, a text without one gets ``ERR``; the
    trailing CR/LF goes."""
    if raw[:1] == b"-":
        space = raw.find(b" ")
        if space < 0:
            code, msg = b"ERR", raw[1:]
        else:
            code, msg = raw[1:space], raw[space + 1:]
    else:
        code, msg = b"ERR", raw
    return code + b" " + msg.strip(b"\r\n")


_RUNTIME = []


def get_runtime() -> ScriptRuntime:
    """The process's one runtime (made on first use: a process that never
    runs a script never pays for a Lua state)."""
    if not _RUNTIME:
        _RUNTIME.append(ScriptRuntime())
    return _RUNTIME[0]
