"""The one command table: what every command is, as data.

Each family module in this package declares its commands with
:func:`command` (and :func:`subcommand` for container commands such as
CLIENT or OBJECT).  The specs carry no handler: the shardnode binds its
handlers to them by name, the proxy routes from them, and COMMAND answers from
them.  Metadata (arity, flags, key positions, ACL categories) follows Redis's
published command reference.

Routing (how the proxy treats a command):

- ``LOCAL``: the proxy answers itself (connection state, COMMAND, CLUSTER).
- ``KEYED``: sent to the shard that owns the keys; keys on several shards are
  run as one coordinated command (shards locked in id order).
- ``SPLIT``: the keys are split by shard, each part sent on, the replies merged
  with ``merge`` (``sum``, ``ok``, ``mget``).
- ``ALL``: sent to every shard, replies merged with ``merge`` (``sum``,
  ``ok``, ``concat`` or a named merge the proxy implements).
"""

from __future__ import annotations

from dataclasses import dataclass, field

LOCAL = "local"
KEYED = "keyed"
SPLIT = "split"
ALL = "all"

# Command flags, as COMMAND INFO shows them (src/commands.def).
FLAGS = {
    "write": "may modify the keyspace",
    "readonly": "only reads the keyspace",
    "denyoom": "refused when over maxmemory",
    "admin": "administrative, may be dangerous",
    "pubsub": "pub/sub related",
    "noscript": "not allowed in scripts",
    "blocking": "may block the client",
    "loading": "allowed while loading the dataset",
    "stale": "allowed on a stale replica",
    "skip_monitor": "not shown by MONITOR",
    "skip_slowlog": "not logged in SLOWLOG",
    "fast": "O(1) or O(log N), never slow",
    "no_auth": "allowed before AUTH",
    "may_replicate": "may be replicated",
    "no_mandatory_keys": "keys are optional",
    "no_multi": "not allowed inside MULTI",
    "no_async_loading": "refused while a replica loads its data in the background",
    "allow_busy": "allowed while a script is busy",
    "movablekeys": "key positions depend on the arguments",
}


@dataclass(eq=False)
class CommandSpec:
    name: str  # lower case; "container|sub" for subcommands
    arity: int  # > 0 exact count, < 0 at least -arity (name included)
    flags: frozenset
    first_key: int = 0
    last_key: int = 0
    key_step: int = 0
    acl: tuple = ()
    route: str = KEYED
    merge: str | None = None
    group: str = "generic"
    summary: str = ""
    since: str = "1.0.0"
    complexity: str = ""
    keys_hook: str | None = None  # name in cluster.commands.keyspecs
    # Name in cluster.commands.keyspecs of the keys a request reads beyond its
    # key specs (SORT's BY/GET patterns), see CommandSpec.reach.
    reach_hook: str | None = None
    key_flags: tuple = ()
    key_notes: str = ""  # COMMAND INFO key-spec "notes" (SET's GET option)
    tips: tuple = ()
    subcommands: dict = field(default_factory=dict)
    container: str | None = None
    # Derived once, for the hot path.
    single_key: bool = False
    has_keys: bool = False
    is_write: bool = False
    name_bytes: bytes = b""

    def keys(self, args: list) -> list:
        """The key arguments of a request (args[0] is the command name)."""
        if self.keys_hook is not None:
            from cluster.commands import keyspecs

            return getattr(keyspecs, self.keys_hook)(args)
        if not self.first_key:
            return []
        last = self.last_key
        if last < 0:
            last = len(args) + last
        return args[self.first_key : last + 1 : self.key_step]

    def reach(self, args: list):
        """Keys standing for the slots a request reads beyond :meth:`keys`
        (any key of a slot stands for all), or None when those cannot be
        known before it runs; ``[]`` for a command without a reach hook."""
        if self.reach_hook is None:
            return []
        from cluster.commands import keyspecs

        return getattr(keyspecs, self.reach_hook)(args)

    def key_positions(self, args: list) -> list:
        """Indexes of the key arguments (for splitting by shard)."""
        if self.keys_hook is not None:
            from cluster.commands import keyspecs

            return getattr(keyspecs, self.keys_hook + "_positions")(args)
        if not self.first_key:
            return []
        last = self.last_key
        if last < 0:
            last = len(args) + last
        return list(range(self.first_key, last + 1, self.key_step))

    def arity_ok(self, argc: int) -> bool:
        a = self.arity
        return argc == a if a > 0 else argc >= -a


COMMANDS: dict = {}  # lower-case name -> CommandSpec (top level only)
_current_group = ["generic"]


def family(group: str):
    """Set the COMMAND DOCS group for the declarations that follow."""
    _current_group[0] = group


def _make(name, arity, flags, keys, acl, route, merge, **extra):
    flagset = frozenset(flags.split()) if isinstance(flags, str) else frozenset(flags)
    first, last, step = keys if keys else (0, 0, 0)
    if extra.get("keys_hook"):
        flagset = flagset | {"movablekeys"}
    cats = list(acl.split()) if isinstance(acl, str) else list(acl)
    derived = []
    if "write" in flagset:
        derived.append("@write")
    if "readonly" in flagset and "@write" not in cats and "@scripting" not in cats:
        derived.append("@read")  # not for scripts (EVAL_RO), as Redis's setImplicitACLCategories
    if "admin" in flagset:
        derived += ["@admin", "@dangerous"]
    if "pubsub" in flagset:
        derived.append("@pubsub")
    if "blocking" in flagset:
        derived.append("@blocking")
    derived.append("@fast" if "fast" in flagset else "@slow")
    for c in derived:
        if c not in cats:
            cats.append(c)
    spec = CommandSpec(
        name=name,
        arity=arity,
        flags=flagset,
        first_key=first,
        last_key=last,
        key_step=step,
        acl=tuple(cats),
        route=route,
        merge=merge,
        group=extra.pop("group", None) or _current_group[0],
        **extra,
    )
    spec.has_keys = bool(first) or spec.keys_hook is not None
    spec.single_key = first == 1 and last == 1 and spec.keys_hook is None
    spec.is_write = "write" in flagset
    spec.name_bytes = name.encode()
    return spec


def command(name, arity, flags="", keys=None, acl="", route=KEYED, merge=None, **extra):
    """Declare a top-level command.  Returns the spec (for subcommands)."""
    if name in COMMANDS:
        raise ValueError("command %r declared twice" % name)
    spec = _make(name, arity, flags, keys, acl, route, merge, **extra)
    COMMANDS[name] = spec
    return spec


def subcommand(parent: CommandSpec, sub, arity, flags="", keys=None, acl="",
               route=None, merge=None, **extra):
    """Declare ``parent|sub``; routing defaults to the parent's."""
    full = "%s|%s" % (parent.name, sub)
    spec = _make(full, arity, flags, keys, acl, route or parent.route, merge,
                 container=parent.name, group=parent.group, **extra)
    parent.subcommands[sub] = spec
    return spec


# The command families, each named once, in COMMAND's listing order.  Family
# ``name`` declares its specs in ``cluster.commands.<name>``; the shardnode
# binds their handlers from ``shardnode.<name>`` (shardnode.registry).
FAMILIES = ("connection", "server", "strings", "bitmaps", "keyspace", "transactions", "cluster_cmds",
            "sets", "hashes", "zsets", "lists", "blocking", "sort", "hyperloglog", "geo", "streams",
            "scripting", "functions", "pubsub",
            "internal")


def _load():
    # Each module registers its specs on import.
    from importlib import import_module

    for name in FAMILIES:
        import_module("cluster.commands." + name)


_load()

# Lookup by the bytes a client sends, in both common cases, so the hot path
# pays for .lower() only on mixed-case names.
LOOKUP: dict = {}
for _spec in COMMANDS.values():
    LOOKUP[_spec.name_bytes] = _spec
    LOOKUP[_spec.name_bytes.upper()] = _spec


def lookup(name: bytes):
    spec = LOOKUP.get(name)
    if spec is None:
        spec = LOOKUP.get(name.lower())
    return spec


def spec_of(args: list):
    """The spec that runs ``args`` (its subcommand's for containers), or None
    for an unknown command or subcommand."""
    spec = lookup(args[0])
    if spec is None or not spec.subcommands:
        return spec
    spec = resolve(spec, args)
    return None if type(spec) is str else spec


def resolve(spec: CommandSpec, args: list):
    """The spec that applies to ``args``: the subcommand's for containers.

    Returns the spec, or an error text for an unknown subcommand.
    """
    if not spec.subcommands:
        return spec
    if len(args) < 2:
        if spec.arity_ok(1):  # COMMAND alone is a command of its own
            return spec
        from cluster.errors import wrong_arity

        return wrong_arity(spec.name)
    sub = spec.subcommands.get(args[1].lower().decode("utf-8", "replace"))
    if sub is None:
        from cluster.errors import unknown_subcommand

        return unknown_subcommand(args[1], spec.name)
    return sub


def all_specs():
    """Every spec, subcommands included."""
    for spec in COMMANDS.values():
        yield spec
        yield from spec.subcommands.values()
