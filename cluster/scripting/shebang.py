"""``#!lua flags=...``: the first line of a script that declares its flags.

A script without a shebang runs in Redis's compatibility mode (it may write,
whatever its caller).  With one, its flags say what it may do; EVAL_RO
refuses a script that does not declare ``no-writes``.
"""

from __future__ import annotations

from cluster.errors import CommandError

NO_WRITES = "no-writes"
ALLOW_OOM = "allow-oom"
ALLOW_STALE = "allow-stale"
NO_CLUSTER = "no-cluster"
ALLOW_CROSS_SLOT = "allow-cross-slot-keys"
KNOWN_FLAGS = frozenset((NO_WRITES, ALLOW_OOM, ALLOW_STALE, NO_CLUSTER, ALLOW_CROSS_SLOT))


def parse_shebang(body: bytes):
    """(flags or None when there is no shebang, length of the shebang line).

    The shebang line itself is not compiled, but its newline is, so line
    numbers in error messages count it, as in Redis.
    """
    if not body.startswith(b"#!"):
        return None, 0
    end = body.find(b"\n")
    if end < 0:
        raise CommandError("ERR Invalid script shebang")
    parts = body[:end].split(b" ")
    words = [p for p in parts if p]
    if words[0] != b"#!lua":
        raise CommandError("ERR Unexpected engine in script shebang: %s"
                           % words[0].decode("utf-8", "surrogateescape"))
    flags = set()
    for word in words[1:]:
        if not word.startswith(b"flags="):
            raise CommandError("ERR Unknown lua shebang option: %s"
                               % word.decode("utf-8", "surrogateescape"))
        for flag in word[6:].split(b","):
            if not flag:
                continue
            name = flag.decode("utf-8", "surrogateescape")
            if name not in KNOWN_FLAGS:
                raise CommandError("ERR Unexpected flag in script shebang: %s" % name)
            flags.add(name)
    return frozenset(flags), end


def denies_oom(flags) -> bool:
    """Whether a script or function with these declared flags counts as a
    denyoom command (Redis 7.0's scriptFlagsToCmdFlags: ``no-writes`` implies
    ``allow-oom``).  ``None`` -- no shebang -- keeps the command's own flags:
    such a script meets the limit only at its first denyoom ``redis.call``."""
    return flags is not None and ALLOW_OOM not in flags and NO_WRITES not in flags
