"""A client session and its connection-level commands, for proxy and shard.

The proxy answers PING, HELLO, AUTH, SELECT, CLIENT ... for its clients; a
shard answers the same commands for clients that reach it directly (sharded
cluster mode).  Both connection classes subclass :class:`Session`, so these
commands exist once.  Methods named ``cmd_<name>`` take the argument list and
return a reply value, like every handler; :data:`SESSION_HANDLERS` maps spec
names to them.

The owning server must provide ``config`` (a Config), ``clients`` (id ->
Session), ``next_client_id()``, ``started`` (time.time() at start) and
``ping_refusal()`` (the error PING answers now, or None).
"""

from __future__ import annotations

import time

from cluster import errors
from cluster.args import parse_choice, parse_db_number, parse_int
from cluster.errors import CommandError
from cluster.resp import NO_REPLY, Verbatim

SERVER_NAME = "redis"
SERVER_VERSION = "7.2.0"  # the Redis version whose behaviour we follow

_BAD_NAME_CHARS = set(range(0, 33)) | {127}

# What a monitor may not run: to Redis it is a replica, refused commands that
# read, write or may replicate (PUBLISH and SPUBLISH are of the last kind).
_KEYSPACE_FLAGS = frozenset(("readonly", "write", "may_replicate"))
_MAY_REPLICATE = frozenset(("publish", "spublish"))


def refused_to_monitors(spec) -> bool:
    return not _KEYSPACE_FLAGS.isdisjoint(spec.flags) or spec.name in _MAY_REPLICATE


class Session:
    """Connection state shared by the proxy's and the shard's connections."""

    server = None  # set by subclasses
    multi = None  # the queued commands while in MULTI
    multi_failed = False  # a queue-time error: EXEC answers EXECABORT
    tracking = None  # CLIENT TRACKING's options while on (cluster/tracking.py)
    monitoring = False  # sent MONITOR (shardnode/monitor.py, proxy/monitor.py)

    def init_session(self, server, addr: str, laddr: str) -> None:
        self.server = server
        self.id = server.next_client_id()
        self.addr = addr
        self.laddr = laddr
        self.name = b""
        self.lib_name = b""
        self.lib_ver = b""
        self.proto = 2
        self.db_index = 0
        self.authenticated = not server.config.requirepass
        self.created = time.time()
        self.last_active = self.created
        self.last_command = "NULL"
        self.notouch = False
        self.noevict = False
        self.reply_mode = 0  # 0 on, 1 off, 2 skip next
        self.closing = False
        server.clients[self.id] = self

    def end_session(self) -> None:
        self.server.clients.pop(self.id, None)

    # Hooks a subclass overrides.
    def on_select(self, index: int) -> None:
        self.db_index = index

    def on_close_requested(self) -> None:
        self.closing = True

    def unwatch(self) -> None:
        """Forget this client's WATCHes (where they live is the subclass's)."""

    def client_exists(self, client_id: int) -> bool:
        """Is ``client_id`` a connected client (a REDIRECT target)?"""
        raise NotImplementedError

    def set_tracking(self, tracking) -> None:
        """Turn tracking on with these options, or off (None), where keys live."""
        raise NotImplementedError

    def set_caching(self) -> None:
        """CLIENT CACHING was given: it covers the next command."""
        self.tracking.caching = True

    def stop_monitoring(self) -> None:
        """RESET: no more MONITOR lines for this client."""

    def subscription_counts(self) -> tuple:
        """(channels, patterns, shard channels) this client subscribes to."""
        return (0, 0, 0)

    def drop_subscriptions(self) -> None:
        """RESET: every subscription goes, without replies."""

    # -- commands -------------------------------------------------------

    def cmd_ping(self, args):
        if len(args) > 2:
            raise CommandError(errors.wrong_arity("ping"))
        refusal = self.server.ping_refusal()  # -LOADING / -MISCONF, as Redis's PING
        if refusal is not None:
            raise CommandError(refusal)
        if self.proto == 2 and any(self.subscription_counts()):
            return [b"pong", args[1] if len(args) == 2 else b""]  # subscribed mode's form
        if len(args) == 2:
            return args[1]
        return "PONG"

    def cmd_echo(self, args):
        return args[1]

    def cmd_select(self, args):
        index = parse_db_number(args[1])
        if not 0 <= index < self.server.config.dbnum:
            raise CommandError(errors.DB_INDEX_OUT_OF_RANGE)
        self.on_select(index)
        return "OK"

    def cmd_auth(self, args):
        if len(args) > 3:
            raise CommandError(errors.SYNTAX)
        self._check_password(args[1:])
        return "OK"

    def _check_password(self, creds) -> None:
        password = self.server.config.requirepass
        if len(creds) == 1:
            user, given = b"default", creds[0]
            if not password:
                raise CommandError(errors.AUTH_NOT_SET)
        else:
            user, given = creds
        if user != b"default" or (password and given != password.encode()):
            raise CommandError(errors.WRONGPASS)
        self.authenticated = True

    def cmd_hello(self, args):
        proto = self.proto
        i = 1
        if len(args) > 1:
            try:
                proto = parse_int(args[1])
            except CommandError:
                raise CommandError(
                    "ERR Protocol version is not an integer or out of range"
                ) from None
            if proto not in (2, 3):
                raise CommandError(errors.NOPROTO)
            i = 2
        new_name = None
        while i < len(args):
            opt = args[i].lower()
            if opt == b"auth" and i + 2 < len(args):
                self._check_password(args[i + 1 : i + 3])
                i += 3
            elif opt == b"setname" and i + 1 < len(args):
                new_name = args[i + 1]
                self._check_name(new_name)
                i += 2
            else:
                raise CommandError("ERR Syntax error in HELLO option '%s'"
                                   % errors.echo(args[i]))
        if not self.authenticated:
            raise CommandError(
                "NOAUTH HELLO must be called with the client already authenticated, "
                "otherwise the HELLO <proto> AUTH <user> <pass> option can be used to "
                "authenticate the client and select the RESP protocol version at the "
                "same time"
            )
        if new_name is not None:
            self.name = new_name
        self.proto = proto
        return {
            b"server": SERVER_NAME.encode(),
            b"version": SERVER_VERSION.encode(),
            b"proto": proto,
            b"id": self.id,
            b"mode": b"cluster" if self.server.config.cluster_mode != "off" else b"standalone",
            b"role": b"master",
            b"modules": [],
        }

    def cmd_quit(self, args):
        self.on_close_requested()
        return "OK"

    def cmd_reset(self, args):
        if self.tracking is not None:
            self.set_tracking(None)
        self.stop_monitoring()
        self.multi = None
        self.multi_failed = False
        self.unwatch()
        self.drop_subscriptions()
        self.on_select(0)
        self.proto = 2
        self.name = b""
        self.reply_mode = 0
        self.notouch = False
        self.noevict = False
        self.authenticated = not self.server.config.requirepass
        return "RESET"

    # MULTI/DISCARD: EXEC and WATCH run where the keys are (proxy/transactions.py,
    # shardnode/transactions.py); queueing is the generic check of each connection.

    def cmd_multi(self, args):
        if self.multi is not None:
            raise CommandError(errors.MULTI_NESTED)
        self.multi = []
        self.multi_failed = False
        return "OK"

    def cmd_discard(self, args):
        if self.multi is None:
            raise CommandError(errors.DISCARD_WITHOUT_MULTI)
        self.multi = None
        self.multi_failed = False
        self.unwatch()
        return "OK"

    def cmd_time(self, args):
        now = time.time()
        secs = int(now)
        return [b"%d" % secs, b"%d" % int((now - secs) * 1_000_000)]

    # CLIENT ---------------------------------------------------------------

    def _check_name(self, name: bytes) -> None:
        if any(c in _BAD_NAME_CHARS for c in name):
            raise CommandError(
                "ERR Client names cannot contain spaces, newlines or special characters."
            )

    def cmd_client_setname(self, args):
        self._check_name(args[2])
        self.name = args[2]
        return "OK"

    def cmd_client_getname(self, args):
        return self.name or None

    def cmd_client_id(self, args):
        return self.id

    def cmd_client_info(self, args):
        return Verbatim(self.client_line() + b"\n")

    def cmd_client_list(self, args):
        sessions = self._user_sessions()
        if len(args) > 2:
            opt = args[2].lower()
            if opt == b"id" and len(args) > 3:
                wanted = {parse_int(a, "ERR Invalid client ID") for a in args[3:]}
                sessions = [s for s in sessions if s.id in wanted]
            elif opt == b"type" and len(args) == 4:
                kind = args[3].lower()
                if kind not in (b"normal", b"master", b"replica", b"slave", b"pubsub"):
                    raise CommandError("ERR Unknown client type '%s'"
                                       % errors.echo(args[3]))
                sessions = [s for s in sessions if s.client_type() == kind]
            else:
                raise CommandError(errors.SYNTAX)
        return Verbatim(b"".join(s.client_line() + b"\n" for s in sessions))

    def client_line(self) -> bytes:
        now = time.time()
        multi = self.multi
        # O: monitor; P: subscribed; x: inside MULTI; b: waiting in a blocking
        # command; t: tracking, R: its REDIRECT target is gone, B: BCAST
        sub, psub, ssub = self.subscription_counts()
        tracking = self.tracking
        flags = (b"O" if self.monitoring else b"") + (
            b"P" if sub or psub or ssub else b"") + (
            b"x" if multi is not None else b"b" if self.is_blocked() else b"")
        if tracking is not None:
            flags += b"t" + (b"R" if tracking.broken else b"") + (b"B" if tracking.bcast else b"")
        omem = self.output_bytes()
        return (
            b"id=%d addr=%s laddr=%s fd=%d name=%s age=%d idle=%d flags=%s db=%d "
            b"sub=%d psub=%d ssub=%d multi=%d qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 "
            b"rbs=1024 rbp=0 obl=0 oll=0 omem=%d tot-mem=%d events=r cmd=%s "
            b"user=default redir=%d resp=%d lib-name=%s lib-ver=%s"
            % (
                self.id, self.addr.encode(), self.laddr.encode(), 8 + self.id % 1000,
                self.name, int(now - self.created), int(now - self.last_active),
                flags or b"N", self.db_index, sub, psub, ssub,
                -1 if multi is None else len(multi), omem, omem,
                self.last_command.encode(), -1 if tracking is None else tracking.redirect,
                self.proto, self.lib_name, self.lib_ver,
            )
        )

    def output_bytes(self) -> int:
        """Reply bytes buffered for this client (CLIENT LIST omem); 0 where none are kept."""
        return 0

    def client_type(self) -> bytes:
        """CLIENT LIST/KILL TYPE: ``pubsub`` while subscribed, else ``normal``."""
        return b"pubsub" if any(self.subscription_counts()) else b"normal"

    def cmd_client_kill(self, args):
        if len(args) == 3:  # old form: CLIENT KILL addr
            for s in self._user_sessions():
                if s.addr.encode() == args[2]:
                    s.kill()
                    return "OK"
            raise CommandError("ERR No such client")
        if len(args) % 2 != 0:
            raise CommandError(errors.SYNTAX)
        filters = []
        skipme = True
        for i in range(2, len(args), 2):
            opt, val = args[i].lower(), args[i + 1]
            if opt == b"id":
                cid = parse_int(val, "ERR client-id should be greater than 0")
                if cid <= 0:
                    raise CommandError("ERR client-id should be greater than 0")
                filters.append(lambda s, cid=cid: s.id == cid)
            elif opt == b"addr":
                filters.append(lambda s, v=val: s.addr.encode() == v)
            elif opt == b"laddr":
                filters.append(lambda s, v=val: s.laddr.encode() == v)
            elif opt == b"user":
                filters.append(lambda s, v=val: v == b"default")
            elif opt == b"type":
                kind = val.lower()
                if kind not in (b"normal", b"master", b"replica", b"slave", b"pubsub"):
                    raise CommandError("ERR Unknown client type '%s'"
                                       % errors.echo(val))
                filters.append(lambda s, k=kind: s.client_type() == k)
            elif opt == b"skipme":
                if val.lower() not in (b"yes", b"no"):
                    raise CommandError(errors.SYNTAX)
                skipme = val.lower() == b"yes"
            elif opt == b"maxage":
                age = parse_int(val)
                filters.append(lambda s, a=age: time.time() - s.created >= a)
            else:
                raise CommandError(errors.SYNTAX)
        killed = 0
        for s in self._user_sessions():
            if skipme and s is self:
                continue
            if all(f(s) for f in filters):
                s.kill()
                killed += 1
        return killed

    def _user_sessions(self) -> list:
        """Client connections, without the proxy's links to a shard: those are
        the cluster's plumbing, not clients to list or kill."""
        return [s for s in self.server.clients.values() if not getattr(s, "internal", False)]

    def kill(self) -> None:
        raise NotImplementedError

    def cmd_client_unblock(self, args):
        """CLIENT UNBLOCK id [TIMEOUT|ERROR]: 1 if that client was blocked."""
        cid = parse_int(args[2])
        as_error = False
        if len(args) > 4:
            raise CommandError(errors.subcommand_arguments(args[1], "client"))
        if len(args) == 4:
            reason = args[3].lower()
            if reason not in (b"timeout", b"error"):
                raise CommandError(errors.UNBLOCK_REASON)
            as_error = reason == b"error"
        for s in self._user_sessions():
            if s.id == cid:
                return int(s.unblock(as_error))
        return 0

    def unblock(self, as_error: bool) -> bool:
        """End this client's blocking command (CLIENT UNBLOCK); True if it had one."""
        raise NotImplementedError

    def is_blocked(self) -> bool:
        return False

    def cmd_client_setinfo(self, args):
        attr = args[2].lower()
        value = args[3]
        if attr not in (b"lib-name", b"lib-ver"):
            raise CommandError("ERR Unrecognized option '%s'"
                               % errors.echo(args[2]))
        if any(c in _BAD_NAME_CHARS for c in value):
            raise CommandError(
                "ERR %s cannot contain spaces, newlines or special characters."
                % attr.decode()
            )
        if attr == b"lib-name":
            self.lib_name = value
        else:
            self.lib_ver = value
        return "OK"

    def _on_off(self, raw: bytes) -> bool:
        return parse_choice(raw, b"on", b"off")

    def cmd_client_no_evict(self, args):
        self.noevict = self._on_off(args[2])
        return "OK"

    def cmd_client_no_touch(self, args):
        self.notouch = self._on_off(args[2])
        return "OK"

    def cmd_client_reply(self, args):
        mode = args[2].lower()
        if mode == b"on":
            self.reply_mode = 0
            return "OK"
        if mode == b"off":
            self.reply_mode = 1
        elif mode == b"skip":
            self.reply_mode = 2
        else:
            raise CommandError(errors.SYNTAX)
        return NO_REPLY

    def cmd_client_tracking(self, args):
        from cluster.tracking import parse_tracking

        self.set_tracking(parse_tracking(args, self.tracking, self.client_exists))
        return "OK"

    def cmd_client_caching(self, args):
        from cluster.tracking import parse_caching

        parse_caching(args, self.tracking)
        self.set_caching()
        return "OK"

    def cmd_client_trackinginfo(self, args):
        from cluster.tracking import trackinginfo

        return trackinginfo(self.tracking)

    def cmd_client_getredir(self, args):
        from cluster.tracking import getredir

        return getredir(self.tracking)

    def cmd_client_help(self, args):
        return _status([
            b"CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            b"ID", b"    Return the ID of the current connection.",
            b"INFO", b"    Return information about the current client connection.",
            b"LIST [TYPE normal|master|replica|pubsub] [ID id ...]",
            b"    Return information about client connections.",
            b"KILL <ip:port> | <option> <value> [<option> <value> ...]",
            b"    Kill connections.",
            b"GETNAME", b"    Return the name of the current connection.",
            b"SETNAME <name>", b"    Assign the name <name> to the current connection.",
            b"SETINFO <LIB-NAME|LIB-VER> <value>",
            b"    Set client library name or version.",
            b"NO-EVICT (ON|OFF)", b"    Protect the client from eviction.",
            b"NO-TOUCH (ON|OFF)", b"    Do not change the LRU/LFU of keys read.",
            b"REPLY (ON|OFF|SKIP)", b"    Control the replies sent to the current connection.",
            b"HELP", b"    Print this help.",
        ])

    # CONFIG GET (the proxy and every shard hold the same values) ----------

    def cmd_config_get(self, args):
        from cluster.config import format_value, option

        config = self.server.config
        out = {}
        for pattern in args[2:]:
            text = pattern.decode("utf-8", "surrogateescape")  # the glob sees the raw bytes
            if not any(c in text for c in "*?["):
                # An exact name comes back as the client spelled it (Redis 7).
                opt = option(text)
                if opt is not None:
                    out[text] = format_value(opt.kind, config.values[opt.name])
                continue
            out.update(config.get_matching(text))
        return {k.encode(): v.encode() for k, v in out.items()}

    def cmd_config_help(self, args):
        return _status([
            b"CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            b"GET <pattern>",
            b"    Return parameters matching the glob-like <pattern> and their values.",
            b"SET <directive> <value>", b"    Set the configuration <directive> to <value>.",
            b"RESETSTAT", b"    Reset statistics reported by the INFO command.",
            b"REWRITE", b"    Rewrite the configuration file.",
            b"HELP", b"    Prints this help.",
        ])


def _status(lines) -> list:
    """HELP replies are status lines, as Redis's addReplyHelp sends them."""
    return [line.decode() for line in lines]


def apply_config_set(config, args) -> list:
    """CONFIG SET name value [name value ...]: validate all, then apply all.

    Returns the (option, value) pairs applied.  Raises Redis's errors.
    """
    from cluster.config import ConfigError, option

    if len(args) % 2 != 0:
        raise CommandError(errors.SYNTAX)
    pending = []
    seen = set()
    for i in range(2, len(args), 2):
        name = args[i].decode("utf-8", "replace")
        opt = option(name)
        if opt is None:
            raise CommandError(
                "ERR Unknown option or number of arguments for CONFIG SET - '%s'"
                % errors.echo(args[i]))
        problem = None
        if opt.name in seen:
            problem = "duplicate parameter"
        elif not opt.mutable:
            problem = "can't set immutable config"
        else:
            try:
                value = opt.parse(args[i + 1].decode("utf-8", "replace"),
                                  config.values[opt.name])
                check = _VALUE_CHECKS.get(opt.name)
                problem = check(value) if check is not None else None
                pending.append((opt, value))
            except ConfigError as exc:
                problem = exc.problem or _config_value_problem(opt, args[i + 1])
        if problem:
            raise CommandError(
                "ERR CONFIG SET failed (possibly related to argument '%s') - %s"
                % (name, problem))
        seen.add(opt.name)
    for opt, value in pending:
        config.values[opt.name] = value
    return pending


def warn_not_implemented(applied, log) -> None:
    """Log, for the (option, value) pairs CONFIG SET applied, those that ask
    for a feature not implemented yet (see cluster.config.Option)."""
    from cluster.config import not_implemented_warning

    for opt, value in applied:
        warning = not_implemented_warning(opt, value)
        if warning:
            log.warning(warning)


def _check_schedule(parse):
    """A check that says what ``parse`` (cluster/save_schedule.py) finds wrong."""
    def check(value: str):
        from cluster.save_schedule import ScheduleError

        try:
            parse(value)
        except ScheduleError as exc:
            return str(exc)
        return None
    return check


def _parse_cron(value: str):
    from cluster.save_schedule import Cron

    if value.strip():
        Cron(value).next_after(0)  # also refuses one that never matches ("0 0 31 2 *")


def _parse_save(value: str):
    from cluster.save_schedule import parse_save

    parse_save(value)


def _check_dir(value: str):
    """``dir`` must be a directory that exists (Redis chdirs into it)."""
    import errno
    import os

    if not os.path.isdir(value):
        return os.strerror(errno.ENOENT if not os.path.exists(value) else errno.ENOTDIR)
    return None


# Checks beyond the option's kind, as Redis makes them: name -> problem or None.
_VALUE_CHECKS = {"dir": _check_dir, "save": _check_schedule(_parse_save),
                 "snapshot_cron": _check_schedule(_parse_cron)}

# Redis lists an enum's values in its own table order.
_ENUM_ORDER = {
    "maxmemory_policy": ("volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl",
                         "allkeys-lru", "allkeys-lfu", "allkeys-random", "noeviction"),
}


def _config_value_problem(opt, raw: bytes) -> str:
    """Redis's wording of what a CONFIG SET value should have been."""
    if opt.kind == "size":
        return "argument must be a memory value"
    if opt.kind == "bool":
        return "argument must be 'yes' or 'no'"
    if opt.kind == "enum":
        return "argument(s) must be one of the following: " + ", ".join(
            _ENUM_ORDER.get(opt.name, opt.choices))
    if opt.kind == "int" and opt.minimum is not None and raw.lstrip(b"-").isdigit():
        return "argument must be between %d and %d inclusive" % (
            opt.minimum, opt.maximum if opt.maximum is not None else 2**63 - 1)
    return "argument couldn't be parsed into an integer"


def rewrite_config(config) -> None:
    """CONFIG REWRITE: put the running values back into the YAML file.

    Lines of options whose value changed are rewritten in place, comments
    and order kept; changed options the file lacks are appended.
    """
    import os

    import yaml

    from cluster.config import OPTIONS, format_value, option

    path = config.values.get("config_file")
    if not path:
        raise CommandError("ERR The server is running without a config file")

    def render(opt) -> str:
        value = config.values[opt.name]
        if opt.kind == "bool":
            value = format_value(opt.kind, value)  # yes/no, as Redis writes
        return yaml.safe_dump({opt.name: value}, default_flow_style=False,
                              width=1 << 16).strip()

    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except OSError as exc:
        raise CommandError("ERR Rewriting config file: %s" % exc.strerror) from None
    written = set()
    for n, line in enumerate(lines):
        if not line or line[0] in " \t#":
            continue
        key = line.split(":", 1)[0].strip()
        opt = option(key)
        if opt is None:
            continue
        written.add(opt.name)
        if config.values[opt.name] != _file_value(opt, line):
            lines[n] = render(opt)
    for opt in OPTIONS:
        if opt.name not in written and config.values[opt.name] != opt.default:
            lines.append(render(opt))
    tmp = path + ".tmp"
    try:
        with open(tmp, "w") as f:
            f.write("\n".join(lines) + "\n")
        os.replace(tmp, path)
    except OSError as exc:
        raise CommandError("ERR Rewriting config file: %s" % exc.strerror) from None


def _file_value(opt, line: str):
    import yaml

    from cluster.config import ConfigError

    try:
        raw = yaml.safe_load(line)
        return opt.parse(next(iter(raw.values())))
    except (yaml.YAMLError, ConfigError, AttributeError, StopIteration):
        return None


SESSION_HANDLERS = {
    "ping": Session.cmd_ping,
    "echo": Session.cmd_echo,
    "select": Session.cmd_select,
    "auth": Session.cmd_auth,
    "hello": Session.cmd_hello,
    "quit": Session.cmd_quit,
    "reset": Session.cmd_reset,
    "multi": Session.cmd_multi,
    "discard": Session.cmd_discard,
    "time": Session.cmd_time,
    "client|setname": Session.cmd_client_setname,
    "client|getname": Session.cmd_client_getname,
    "client|id": Session.cmd_client_id,
    "client|info": Session.cmd_client_info,
    "client|list": Session.cmd_client_list,
    "client|kill": Session.cmd_client_kill,
    "client|unblock": Session.cmd_client_unblock,
    "client|setinfo": Session.cmd_client_setinfo,
    "client|no-evict": Session.cmd_client_no_evict,
    "client|no-touch": Session.cmd_client_no_touch,
    "client|reply": Session.cmd_client_reply,
    "client|help": Session.cmd_client_help,
    "client|tracking": Session.cmd_client_tracking,
    "client|caching": Session.cmd_client_caching,
    "client|trackinginfo": Session.cmd_client_trackinginfo,
    "client|getredir": Session.cmd_client_getredir,
    "config|get": Session.cmd_config_get,
    "config|help": Session.cmd_config_help,
}
