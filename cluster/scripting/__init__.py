"""Lua scripting as Redis 7.0 runs it, independent of where a script runs.

What lives where:

- :mod:`cluster.scripting.runtime`: the process's one Lua 5.1 state (lupa),
  sandboxed as Redis sandboxes it (readonly globals and libraries, no
  ``os``/``io``/``loadfile``/``dofile``/``require``/``debug``), the script
  cache (``f_<sha>`` compiled once per SHA1), the ``redis`` table and
  :meth:`ScriptRuntime.run`, which runs one script call with a ``call``
  callback: the runtime never sees a connection, so a shard (part 1) and the
  proxy (part 2, scripts spanning shards) run scripts the same way;
- :mod:`cluster.scripting.convert`: Redis's conversion rules both ways (RESP
  bytes to Lua values, Lua values to RESP bytes for the client's protocol);
- :mod:`cluster.scripting.libs`: ``cjson``, ``cmsgpack``, ``bit`` and
  ``struct`` written in Python with the behaviour of the C libraries Redis
  bundles;
- :mod:`cluster.scripting.shebang`: ``#!lua flags=...`` parsing and the flags.
"""

from cluster.scripting.runtime import Script, ScriptError, ScriptRuntime, get_runtime, sha1hex

__all__ = ["Script", "ScriptError", "ScriptRuntime", "get_runtime", "sha1hex"]
