"""Key positions of commands whose keys cannot be told by first/last/step.

Each hook is a pure function of the request's arguments and comes with a
``*_positions`` twin giving argument indexes; both the proxy (routing,
splitting) and the shard (CROSSSLOT checks) call them through the spec
(``keys_hook=`` names the hook).  A hooked command is reported with the
``movablekeys`` flag, so only commands Redis flags that way belong here
(EVAL's numkeys, XREAD's STREAMS, SORT's BY/GET ...).  BITOP and LCS are
plain ranges: ``keys=(2, -1, 1)`` and ``keys=(1, 2, 1)``.
"""

from cluster.args import parse_int
from cluster.errors import CommandError

# Key flags that depend on the arguments (key specs flagged
# ``variable_flags``): COMMAND GETKEYSANDFLAGS reports these, as Redis's
# setGetKeys / bitfieldGetKeys do.


def _set_key_flags(args) -> tuple:
    """SET reads the key only with GET."""
    if any(arg.lower() == b"get" for arg in args[3:]):
        return ("RW", "access", "update")
    return ("OW", "update")


def _bitfield_key_flags(args) -> tuple:
    """BITFIELD writes with SET/INCRBY (or a request it cannot parse)."""
    i = 2
    while i < len(args):
        remaining = len(args) - i - 1
        name = args[i].lower()
        if name == b"get" and remaining >= 2:
            i += 3
        elif name == b"overflow" and remaining >= 1:
            i += 2
        else:
            return ("RW", "access", "update")
    return ("RO", "access")


VARIABLE_KEY_FLAGS = {"set": _set_key_flags, "bitfield": _bitfield_key_flags}


# -- numkeys: ``CMD numkeys key [key ...] [options]`` ----------------------


def _numkeys(args, at: int):
    """The count at ``args[at]`` if it is a usable key count, else None (the
    command's own handler then reports the error)."""
    if at >= len(args):
        return None
    try:
        n = parse_int(args[at])
    except CommandError:
        return None
    if n < 1 or at + 1 + n > len(args):
        return None
    return n


def numkeys_at_1_positions(args) -> list:
    """SINTERCARD, ZINTERCARD, LMPOP ...: ``numkeys`` at 1, keys after it."""
    n = _numkeys(args, 1)
    return [] if n is None else list(range(2, 2 + n))


def numkeys_at_1(args) -> list:
    return [args[i] for i in numkeys_at_1_positions(args)]


# Hooks that Redis describes with a ``keynum`` key spec (COMMAND INFO):
# hook name -> (begin_search index, keynumidx, firstkey, keystep).
KEYNUM_SPECS = {"numkeys_at_1": (1, 0, 1, 1)}
