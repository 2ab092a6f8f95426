"""String commands (Redis's t_string.c): values are ``bytes``."""

from cluster import errors
from cluster.errors import CommandError
from cluster.session import parse_int
from shardnode.registry import handler


@handler("get")
def get(conn, args):
    return conn.db.get_typed(args[1], bytes)


@handler("set")
def set_(conn, args):
    if len(args) != 3:
        raise CommandError(errors.SYNTAX)  # options: completed by the family
    conn.db.set(args[1], args[2])
    return "OK"


@handler("mget")
def mget(conn, args):
    db = conn.db
    out = []
    for key in args[1:]:
        value = db.get(key)
        out.append(value if type(value) is bytes else None)
    return out


@handler("mset")
def mset(conn, args):
    if len(args) % 2 == 0:
        raise CommandError(errors.wrong_arity("mset"))
    db = conn.db
    for i in range(1, len(args), 2):
        db.set(args[i], args[i + 1])
    return "OK"


@handler("incr")
def incr(conn, args):
    db = conn.db
    value = db.get_typed(args[1], bytes)
    current = 0 if value is None else parse_int(value)
    new = current + 1
    if new >= 2**63:
        raise CommandError(errors.INCR_OVERFLOW)
    db.set(args[1], b"%d" % new, keep_ttl=True)
    return new
