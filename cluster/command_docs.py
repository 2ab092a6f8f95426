"""COMMAND and its subcommands, answered from the one command table.

The proxy and every shard answer COMMAND the same way, so the replies are
built here from :mod:`cluster.commands` alone (pure functions of the request).
Shapes follow Redis 7: a COMMAND INFO entry is ``[name, arity, flags, first,
last, step, acl categories, tips, key specs, subcommands]`` where flags and
categories are status strings, and in RESP3 flags, categories, tips, key specs
and subcommands are sets.  Internal commands (group ``internal``) never show.

Key specs are derived from the spec's first/last/step (one ``range`` spec)
with the spec's ``key_flags``; ``key_flags`` may also be a tuple of flag
tuples, one per key position (RENAME's source and destination differ).
Commands whose keys follow a count (``numkeys key ...``) get Redis's
``keynum`` spec (``keyspecs.KEYNUM_SPECS``); other commands whose keys a hook
finds get an ``unknown`` key spec, as Redis gives
commands whose keys no spec can describe; clients then ask COMMAND GETKEYS.
"""

from __future__ import annotations


from cluster.commands import COMMANDS, lookup, resolve
from cluster.commands.keyspecs import HOOK_KEY_SPECS, KEYNUM_SPECS, VARIABLE_KEY_FLAGS
from cluster.errors import CommandError, SYNTAX, unknown_subcommand, wrong_arity
from cluster.glob import compile_glob
from cluster.resp import SetReply

# Redis prints command flags, ACL categories and key-spec flags in the order
# of its own tables (server.c addReplyCommandFlags, acl.c ACLCommandCategories,
# addReplyFlagsForKeyArgs), whatever order a declaration used.
_FLAG_ORDER = (
    "write", "readonly", "denyoom", "module", "admin", "pubsub", "noscript",
    "blocking", "loading", "stale", "skip_monitor", "skip_slowlog", "asking",
    "fast", "no_auth", "no_mandatory_keys", "no_async_loading", "no_multi",
    "movablekeys", "allow_busy",
)
_ACL_ORDER = (
    "@keyspace", "@read", "@write", "@set", "@sortedset", "@list", "@hash",
    "@string", "@bitmap", "@hyperloglog", "@geo", "@stream", "@pubsub",
    "@admin", "@fast", "@slow", "@blocking", "@dangerous", "@connection",
    "@transaction", "@scripting",
)
_KEY_FLAG_ORDER = (
    "RO", "RW", "OW", "RM", "access", "update", "insert", "delete", "not_key",
    "incomplete", "variable_flags",
)
ACL_CATEGORIES = frozenset(c[1:] for c in _ACL_ORDER)


def _ordered(items, order) -> SetReply:
    rank = {name: i for i, name in enumerate(order)}
    # Flags Redis hides (may_replicate ...) are not in the order: not shown.
    return SetReply(sorted((i for i in items if i in rank), key=rank.__getitem__))


def visible(spec) -> bool:
    return spec.group != "internal"


def _default_key_flags(spec) -> tuple:
    if "write" in spec.flags:
        return ("RW", "update")
    if "readonly" in spec.flags:
        return ("RO", "access")
    return ("RO",)


def key_specs(spec) -> list:
    """The spec's key specs as Redis shows them (maps, in RESP3 a set)."""
    if spec.keys_hook in KEYNUM_SPECS:
        return _keynum_specs(spec, *KEYNUM_SPECS[spec.keys_hook])
    if spec.keys_hook in HOOK_KEY_SPECS:
        return [_hook_spec(*entry) for entry in HOOK_KEY_SPECS[spec.keys_hook]]
    if spec.keys_hook is not None:
        flags = spec.key_flags if spec.key_flags and isinstance(spec.key_flags[0], str) \
            else _default_key_flags(spec)
        return [{
            b"flags": _ordered(flags + ("incomplete",), _KEY_FLAG_ORDER),
            b"begin_search": {b"type": b"unknown", b"spec": {}},
            b"find_keys": {b"type": b"unknown", b"spec": {}},
        }]
    if not spec.first_key:
        return []
    first, last, step = spec.first_key, spec.last_key, spec.key_step or 1
    per_key = spec.key_flags and not isinstance(spec.key_flags[0], str)
    if per_key and last >= first:
        return [_range_spec(pos, 0, 1, flags)
                for pos, flags in zip(range(first, last + 1, step), spec.key_flags)]
    if per_key:  # BITOP: one spec per leading key, the last one covers the rest
        *leading, rest = spec.key_flags
        return [_range_spec(first + i, 0, 1, flags) for i, flags in enumerate(leading)] \
            + [_range_spec(first + len(leading), last, step, rest)]
    flags = spec.key_flags or _default_key_flags(spec)
    ks = _range_spec(first, last - first if last >= 0 else last, step, flags)
    if spec.key_notes:
        ks = {b"notes": spec.key_notes.encode(), **ks}
    return [ks]


def _keynum_specs(spec, numkeys_index: int, fixed_key: int) -> list:
    """Keys counted by a ``numkeys`` argument, after an optional fixed key
    (ZUNIONSTORE's destination); per-key flags as in ``key_flags``."""
    flags = spec.key_flags
    fixed_flags, counted_flags = flags if not isinstance(flags[0], str) else (None, flags)
    specs = [_range_spec(fixed_key, 0, 1, fixed_flags)] if fixed_key else []
    counted = {
        b"flags": _ordered(counted_flags, _KEY_FLAG_ORDER),
        b"begin_search": {b"type": b"index", b"spec": {b"index": numkeys_index}},
        b"find_keys": {b"type": b"keynum",
                       b"spec": {b"keynumidx": 0, b"firstkey": 1, b"keystep": 1}},
    }
    if spec.key_notes:  # EVAL's
        counted = {b"notes": spec.key_notes.encode(), **counted}
    specs.append(counted)
    return specs


def _hook_spec(index, flags, notes) -> dict:
    """One of ``keyspecs.HOOK_KEY_SPECS``: a single key at ``index``, an
    ``unknown`` spec (index None), or the key after a keyword searched from
    a position (index ``(keyword, start)``), with Redis's notes."""
    if type(index) is tuple:
        keyword, start, lastkey, limit = index if len(index) == 4 else index + (0, 0)
        ks = _range_spec(0, lastkey, 1, flags)
        ks[b"find_keys"][b"spec"][b"limit"] = limit
        ks[b"begin_search"] = {b"type": b"keyword",
                               b"spec": {b"keyword": keyword, b"startfrom": start}}
    elif index is None:
        ks = {
            b"flags": _ordered(flags, _KEY_FLAG_ORDER),
            b"begin_search": {b"type": b"unknown", b"spec": {}},
            b"find_keys": {b"type": b"unknown", b"spec": {}},
        }
    else:
        ks = _range_spec(index, 0, 1, flags)
    return {b"notes": notes.encode(), **ks} if notes else ks


def _range_spec(index, lastkey, step, flags) -> dict:
    return {
        b"flags": _ordered(flags, _KEY_FLAG_ORDER),
        b"begin_search": {b"type": b"index", b"spec": {b"index": index}},
        b"find_keys": {b"type": b"range",
                       b"spec": {b"lastkey": lastkey, b"keystep": step, b"limit": 0}},
    }


def info_entry(spec) -> list:
    """One COMMAND INFO entry (10 elements, Redis 7)."""
    return [
        spec.name.encode(),
        spec.arity,
        _ordered(spec.flags, _FLAG_ORDER),
        spec.first_key,
        spec.last_key,
        spec.key_step,
        _ordered(spec.acl, _ACL_ORDER),
        SetReply(t.encode() for t in spec.tips),
        SetReply(key_specs(spec)),
        SetReply(info_entry(s) for s in spec.subcommands.values()),
    ]


def docs_entry(spec) -> dict:
    """COMMAND DOCS for one command: the brief form (no argument tree)."""
    doc = {
        b"summary": spec.summary.encode(),
        b"since": spec.since.encode(),
        b"group": spec.group.encode(),
    }
    if spec.complexity:
        doc[b"complexity"] = spec.complexity.encode()
    if spec.subcommands:
        doc[b"subcommands"] = {s.name.encode(): docs_entry(s)
                               for s in spec.subcommands.values()}
    return doc


def find(name: bytes):
    """A visible spec by name; ``container|sub`` names a subcommand."""
    text = name.decode("utf-8", "replace").lower()
    container, _, sub = text.partition("|")
    spec = COMMANDS.get(container)
    if spec is None or not visible(spec):
        return None
    if sub:
        return spec.subcommands.get(sub)
    return spec


def _all_visible():
    return [s for s in COMMANDS.values() if visible(s)]


def command_list(args) -> list:
    names = []
    for spec in _all_visible():
        names.append(spec)
        names.extend(spec.subcommands.values())
    if len(args) == 2:
        return [s.name.encode() for s in names]
    if len(args) != 5 or args[2].lower() != b"filterby":
        raise CommandError(SYNTAX)
    kind, value = args[3].lower(), args[4].decode("utf-8", "replace")
    if kind == b"module":
        return []  # no modules
    if kind == b"aclcat":
        wanted = "@" + value.lower()
        return [s.name.encode() for s in names if wanted in s.acl]
    if kind == b"pattern":  # Redis's glob, without case (cluster/glob.py)
        match = compile_glob(args[4], nocase=True)
        return [s.name.encode() for s in names if match(s.name.encode())]
    raise CommandError(SYNTAX)


def _getkeys_target(args):
    """The spec and request that COMMAND GETKEYS[ANDFLAGS] asks about."""
    request = args[2:]
    spec = lookup(request[0])
    if spec is None or not visible(spec):
        raise CommandError("ERR Invalid command specified")
    if spec.subcommands:
        spec = resolve(spec, request)
        if type(spec) is str:
            raise CommandError("ERR Invalid command specified")
    if not spec.has_keys or spec.key_flags == ("not_key",):  # shard channels name no key
        raise CommandError("ERR The command has no key arguments")
    if not spec.arity_ok(len(request)):
        raise CommandError("ERR Invalid number of arguments specified for command")
    return spec, request


def getkeys(args, with_flags: bool) -> list:
    spec, request = _getkeys_target(args)
    try:
        positions = spec.key_positions(request)
    except (IndexError, ValueError, CommandError):
        positions = []
    positions = [p for p in positions if 0 < p < len(request)]
    if not positions:
        if "no_mandatory_keys" in spec.flags:
            return []
        raise CommandError("ERR Invalid arguments specified for command")
    if not with_flags:
        return [request[p] for p in positions]
    specs = key_specs(spec)
    out = []
    for p in positions:
        flags = specs[0][b"flags"]
        for ks in specs:  # the last spec that starts at or before the key
            begin = ks[b"begin_search"][b"spec"].get(b"index")
            if begin is not None and begin <= p:
                flags = ks[b"flags"]
        if spec.keys_hook in HOOK_KEY_SPECS:  # a key no index spec names: the last spec's
            flags = next((ks[b"flags"] for ks in specs
                          if ks[b"begin_search"][b"spec"].get(b"index") == p),
                         specs[-1][b"flags"])  # (SORT's STORE)
        if "variable_flags" in flags:  # SET ... GET, BITFIELD ... SET
            flags = _ordered(VARIABLE_KEY_FLAGS[spec.name](request), _KEY_FLAG_ORDER)
        out.append([request[p], flags])
    return out


HELP = [
    "COMMAND [<subcommand> [<arg> ...]], where <subcommand> is one of:",
    "(none)",
    "    Describe every command.",
    "COUNT",
    "    Count the commands.",
    "LIST [FILTERBY (MODULE <name> | ACLCAT <category> | PATTERN <glob>)]",
    "    List command names: all of them, or those that pass the filter.",
    "INFO [<command-name> ...]",
    "    Describe the named commands (every command when none is named).",
    "DOCS [<command-name> ...]",
    "    Give the documentation of the named commands (of every command when",
    "    none is named).",
    "GETKEYS <full-command>",
    "    Tell which arguments of the full command are keys.",
    "GETKEYSANDFLAGS <full-command>",
    "    Tell which arguments of the full command are keys, with how each is",
    "    accessed.",
    "HELP",
    "    Show this text.",
]


def command_reply(args):
    """COMMAND [subcommand ...]: the reply value (arity already checked)."""
    if len(args) == 1:
        return [info_entry(s) for s in _all_visible()]
    sub = args[1].lower()
    if sub == b"count":
        return len(_all_visible())
    if sub == b"info":
        if len(args) == 2:
            return [info_entry(s) for s in _all_visible()]
        out = []
        for name in args[2:]:
            spec = find(name)
            out.append(None if spec is None else info_entry(spec))
        return out
    if sub == b"docs":
        if len(args) == 2:
            specs = _all_visible()
        else:
            specs = [s for s in (find(n) for n in args[2:]) if s is not None]
        return {s.name.encode(): docs_entry(s) for s in specs}
    if sub == b"list":
        return command_list(args)
    if sub == b"getkeys":
        return getkeys(args, with_flags=False)
    if sub == b"getkeysandflags":
        return getkeys(args, with_flags=True)
    if sub == b"help":
        return HELP
    if len(args) < 2:
        raise CommandError(wrong_arity("command"))
    raise CommandError(unknown_subcommand(args[1], "command"))
