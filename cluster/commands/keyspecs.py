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


# -- keys counted by a ``numkeys`` argument (Redis's "keynum" key specs) ------
#
# KEYNUM_SPECS says, per hook, where the count is: ``(index of numkeys,
# index of a fixed key before it or 0)``; COMMAND INFO derives Redis's key
# specs from it (cluster.command_docs).


def _numkeys_positions(args, at: int) -> list:
    """Positions of the ``numkeys`` keys after ``args[at]``; none when the
    count does not parse or overruns the request (the command then fails
    with its own error on whichever shard runs it)."""
    if len(args) <= at:
        return []
    try:
        count = parse_int(args[at])  # strictly, as the handler reads it (string2ll)
    except CommandError:
        return []
    if count < 1 or at + count >= len(args):
        return []
    return list(range(at + 1, at + 1 + count))


def numkeys_at_1_positions(args) -> list:
    """ZUNION, ZINTER, ZDIFF, ZINTERCARD, ZMPOP: ``numkeys key ...`` from args[1]."""
    return _numkeys_positions(args, 1)


def numkeys_at_1(args) -> list:
    return [args[i] for i in numkeys_at_1_positions(args)]


def numkeys_at_2_positions(args) -> list:
    """BLMPOP, BZMPOP: a timeout, then ``numkeys key ...`` from args[2]."""
    return _numkeys_positions(args, 2)


def numkeys_at_2(args) -> list:
    return [args[i] for i in numkeys_at_2_positions(args)]


def dest_and_numkeys_at_2_positions(args) -> list:
    """ZUNIONSTORE, ZINTERSTORE, ZDIFFSTORE: a destination, then ``numkeys key ...``."""
    return ([1] if len(args) > 1 else []) + _numkeys_positions(args, 2)


def dest_and_numkeys_at_2(args) -> list:
    return [args[i] for i in dest_and_numkeys_at_2_positions(args)]


KEYNUM_SPECS = {"numkeys_at_1": (1, 0), "numkeys_at_2": (2, 0), "dest_and_numkeys_at_2": (2, 1)}


# -- SORT / SORT_RO ------------------------------------------------------------


def sort_keys_positions(args) -> list:
    """The source and the last STORE's destination, found as Redis's
    sortGetKeys finds them: LIMIT skips two arguments, BY and GET one."""
    store = None
    i = 2
    while i < len(args):
        option = args[i].lower()
        if option == b"limit":
            i += 2
        elif option in (b"get", b"by"):
            i += 1
        elif option == b"store" and i + 1 < len(args):
            store = i + 1
        i += 1
    return [1] if store is None else [1, store]


def sort_keys(args) -> list:
    return [args[i] for i in sort_keys_positions(args)]


def sort_ro_keys_positions(args) -> list:
    """SORT_RO: the source alone."""
    return [1]


def sort_ro_keys(args) -> list:
    return [args[1]]


def sort_reach(args):
    """The slots SORT's BY/GET patterns read (see ``CommandSpec.reach``): a
    pattern whose part before ``*`` holds a whole ``{hash tag}`` names keys
    of that tag's slot only, and the part itself stands for them; any other
    pattern may name a key of any slot (None).  A request that does not
    parse reads nothing: the shard answers its error."""
    from cluster.sorting import parse_sort

    try:
        request = parse_sort(args, readonly=args[0].lower() == b"sort_ro")
    except CommandError:
        return []
    out = []
    for pattern in request.key_patterns():
        prefix = pattern[: pattern.find(b"*")]
        opening = prefix.find(b"{")
        if opening < 0:
            return None
        closing = prefix.find(b"}", opening + 1)
        if closing <= opening + 1:
            return None  # no tag, or "{}": the whole key is hashed
        out.append(prefix)
    return out


# -- GEORADIUS / GEORADIUSBYMEMBER: STORE and STOREDIST found by keyword ------


def _keyword_key(args, keyword: bytes, start: int):
    """Redis's "keyword" begin-search: the argument after the first
    ``keyword`` at ``start`` or later (never the last argument), or None."""
    for i in range(start, len(args) - 1):
        if args[i].lower() == keyword:
            return i + 1
    return None


def _store_keyword_positions(args, start: int) -> list:
    """The source key, then what the STORE and STOREDIST key specs find;
    then the destination the command really writes (the last STORE or
    STOREDIST) when the specs miss it (``STORE a STORE b``), so that the
    key is routed and locked with the others (Redis's GETKEYS omits it)."""
    out = [1]
    for keyword in (b"store", b"storedist"):
        found = _keyword_key(args, keyword, start)
        if found is not None:
            out.append(found)
    written = None
    i = start
    while i < len(args) - 1:
        option = args[i].lower()
        if option in (b"store", b"storedist"):
            written = i + 1
            i += 1
        elif option == b"count":
            i += 1
        i += 1
    if written is not None and written not in out:
        out.append(written)
    return out


def georadius_keys_positions(args) -> list:
    """GEORADIUS key lon lat radius unit [... STORE k] [STOREDIST k]."""
    return _store_keyword_positions(args, 6)


def georadius_keys(args) -> list:
    return [args[i] for i in georadius_keys_positions(args)]


def georadiusbymember_keys_positions(args) -> list:
    """GEORADIUSBYMEMBER key member radius unit [... STORE k] [STOREDIST k]."""
    return _store_keyword_positions(args, 5)


def georadiusbymember_keys(args) -> list:
    return [args[i] for i in georadiusbymember_keys_positions(args)]


# Key specs of commands whose keys a hook finds, as COMMAND INFO shows them:
# (begin, flags, notes) where begin is an index, None for "unknown", or
# (keyword, start) for a keyword search -- (keyword, start, lastkey, limit)
# when the keys after it are a range (XREAD's STREAMS: half of the rest).
HOOK_KEY_SPECS = {
    "sort_keys": (
        (1, ("RO", "access"), None),
        (None, ("RO", "access"), "For the optional BY/GET keyword. It is marked 'unknown' "
         "because the key names derive from the content of the key we sort"),
        (None, ("OW", "update"), "For the optional STORE keyword. It is marked 'unknown' "
         "because the keyword can appear anywhere in the argument array"),
    ),
    "sort_ro_keys": (
        (1, ("RO", "access"), None),
        (None, ("RO", "access"), "For the optional BY/GET keyword. It is marked 'unknown' "
         "because the key names derive from the content of the key we sort"),
    ),
    "georadius_keys": (
        (1, ("RO", "access"), None),
        ((b"STORE", 6), ("OW", "update"), None),
        ((b"STOREDIST", 6), ("OW", "update"), None),
    ),
    "georadiusbymember_keys": (
        (1, ("RO", "access"), None),
        ((b"STORE", 5), ("OW", "update"), None),
        ((b"STOREDIST", 5), ("OW", "update"), None),
    ),
    "streams_keys": (((b"STREAMS", 1, -1, 2), ("RO", "access"), None),),
    "group_streams_keys": (((b"STREAMS", 4, -1, 2), ("RO", "access"), None),),
}


# -- XREAD / XREADGROUP: the keys after STREAMS ------------------------------------
#
# KEYWORD_SPECS says, per hook, the keyword and where its search starts; COMMAND
# INFO shows Redis's "keyword" begin_search with a range of half the rest.


def _streams_positions(args) -> list:
    """Redis's xreadGetKeys: options are skipped (BLOCK/COUNT take a value,
    GROUP two), then STREAMS; the keys are the first half of what follows it.
    None for a request it cannot read (the handler then says why)."""
    i = 1
    while i < len(args):
        word = args[i].lower()
        if word in (b"block", b"count"):
            i += 2
        elif word == b"group":
            i += 3
        elif word == b"noack":
            i += 1
        elif word == b"streams":
            rest = len(args) - i - 1
            if rest == 0 or rest % 2:
                return []
            return list(range(i + 1, i + 1 + rest // 2))
        else:
            return []
    return []


def streams_keys_positions(args) -> list:
    """XREAD's keys (see _streams_positions)."""
    return _streams_positions(args)


def streams_keys(args) -> list:
    return [args[i] for i in _streams_positions(args)]


group_streams_keys_positions = streams_keys_positions
group_streams_keys = streams_keys
