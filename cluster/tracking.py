"""Client-side caching (CLIENT TRACKING): the options and messages proxy and shard share.

Sans-IO.  :func:`parse_tracking` turns CLIENT TRACKING's arguments into a
:class:`Tracking` (or raises Redis 7.0's error), checked against the
client's current tracking state as Redis checks it; :func:`trackinginfo`
builds CLIENT TRACKINGINFO's reply; the ``invalidation`` encoders give the
exact bytes a tracking client (or its REDIRECT target) receives.

Where the state lives: a shard remembers which tracking client read which of
its keys and sends the invalidations (``shardnode/tracking.py``); the proxy
keeps a client's options and tells every shard about them
(``proxy/tracking.py``).  The link carries the options in this module's
compact form (:meth:`Tracking.flags_arg`).
"""

from __future__ import annotations

from cluster import errors
from cluster.args import parse_int
from cluster.errors import CommandError
from cluster.resp import SetReply

BCAST, OPTIN, OPTOUT, NOLOOP = "bcast", "optin", "optout", "noloop"

# The channel a RESP2 REDIRECT target receives invalidations on.
INVALIDATE_CHANNEL = b"__redis__:invalidate"


class Tracking:
    """One client's CLIENT TRACKING options (tracking is on while it exists)."""

    __slots__ = ("bcast", "optin", "optout", "noloop", "redirect", "prefixes", "caching",
                 "broken")

    def __init__(self, bcast=False, optin=False, optout=False, noloop=False, redirect=0,
                 prefixes=()):
        self.bcast = bcast
        self.optin = optin
        self.optout = optout
        self.noloop = noloop
        self.redirect = redirect  # 0: none
        self.prefixes = list(prefixes)
        self.caching = False  # CLIENT CACHING given for the next command
        self.broken = False  # the REDIRECT target went away

    def flags_arg(self) -> bytes:
        """The options as DF.TRACK's flags argument: ``t`` (on), then letters
        b, i, o, n for BCAST, OPTIN, OPTOUT, NOLOOP."""
        return b"t" + (b"b" if self.bcast else b"") + (b"i" if self.optin else b"") + \
            (b"o" if self.optout else b"") + (b"n" if self.noloop else b"")

    @classmethod
    def from_flags(cls, flags: bytes, redirect: int, prefixes) -> "Tracking":
        return cls(b"b" in flags, b"i" in flags, b"o" in flags, b"n" in flags, redirect,
                   prefixes)

    def remembers(self) -> bool:
        """Does a read now remember its keys (default mode, OPTIN/OPTOUT with CACHING)?"""
        if self.bcast:
            return False
        if self.optin:
            return self.caching
        if self.optout:
            return not self.caching
        return True


def _overlap(a: bytes, b: bytes) -> bool:
    n = min(len(a), len(b))
    return a[:n] == b[:n]


def parse_tracking(args, current: Tracking | None, client_exists):
    """CLIENT TRACKING ON|OFF [REDIRECT id] [PREFIX p]... [BCAST] [OPTIN] [OPTOUT] [NOLOOP].

    Returns the new :class:`Tracking` (None: OFF).  ``current`` is the
    client's tracking now; ``client_exists(id)`` says whether a REDIRECT
    target is connected.  The checks and their order are Redis 7.0's.
    """
    redirect = 0
    bcast = optin = optout = noloop = False
    prefixes = []
    i = 3
    n = len(args)
    while i < n:
        opt = args[i].lower()
        more = i + 1 < n
        if opt == b"redirect" and more:
            i += 1
            if redirect:
                raise CommandError("ERR A client can only redirect to a single other client")
            redirect = parse_int(args[i])
            if not client_exists(redirect):
                raise CommandError("ERR The client ID you want redirect to does not exist")
        elif opt == b"bcast":
            bcast = True
        elif opt == b"optin":
            optin = True
        elif opt == b"optout":
            optout = True
        elif opt == b"noloop":
            noloop = True
        elif opt == b"prefix" and more:
            i += 1
            prefixes.append(args[i])
        else:
            raise CommandError(errors.SYNTAX)
        i += 1
    mode = args[2].lower()
    if mode == b"off":
        return None
    if mode != b"on":
        raise CommandError(errors.SYNTAX)
    if prefixes and not bcast:
        raise CommandError("ERR PREFIX option requires BCAST mode to be enabled")
    if current is not None and current.bcast != bcast:
        raise CommandError(
            "ERR You can't switch BCAST mode on/off before disabling tracking for this "
            "client, and then re-enabling it with a different mode.")
    if bcast and (optin or optout):
        raise CommandError("ERR OPTIN and OPTOUT are not compatible with BCAST")
    if optin and optout:
        raise CommandError("ERR You can't specify both OPTIN mode and OPTOUT mode")
    if current is not None and ((optin and current.optout) or (optout and current.optin)):
        raise CommandError(
            "ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this "
            "client, and then re-enabling it with a different mode.")
    if bcast:
        existing = current.prefixes if current is not None else []
        for k, prefix in enumerate(prefixes):
            for old in existing:
                if _overlap(prefix, old):
                    raise CommandError(
                        "ERR Prefix '%s' overlaps with an existing prefix '%s'. Prefixes for "
                        "a single client must not overlap." % (errors.echo(prefix),
                                                                errors.echo(old)))
            for other in prefixes[k + 1:]:
                if _overlap(prefix, other):
                    raise CommandError(
                        "ERR Prefix '%s' overlaps with another provided prefix '%s'. Prefixes "
                        "for a single client must not overlap." % (errors.echo(prefix),
                                                                    errors.echo(other)))
    new = Tracking(bcast, optin, optout, noloop, redirect)
    if bcast:  # prefixes add up while tracking stays on, as in Redis
        merged = list(current.prefixes) if current is not None else []
        for prefix in prefixes or [b""]:
            if prefix not in merged:
                merged.append(prefix)
        new.prefixes = merged
    return new


def parse_caching(args, current: Tracking | None) -> None:
    """CLIENT CACHING YES|NO: check it applies to ``current`` (Redis's errors)."""
    if current is None:
        raise CommandError(
            "ERR CLIENT CACHING can be called only when the client is in tracking mode "
            "with OPTIN or OPTOUT mode enabled")
    opt = args[2].lower()
    if opt == b"yes":
        if not current.optin:
            raise CommandError(
                "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.")
    elif opt == b"no":
        if not current.optout:
            raise CommandError(
                "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.")
    else:
        raise CommandError(errors.SYNTAX)


def trackinginfo(tracking: Tracking | None) -> dict:
    """CLIENT TRACKINGINFO's reply: flags (a set in RESP3), redirect, prefixes."""
    if tracking is None:
        return {b"flags": SetReply([b"off"]), b"redirect": -1, b"prefixes": []}
    flags = [b"on"]
    if tracking.bcast:
        flags.append(b"bcast")
    if tracking.optin:
        flags.append(b"optin")
    if tracking.optout:
        flags.append(b"optout")
    if tracking.caching:
        flags.append(b"caching-yes" if tracking.optin else b"caching-no")
    if tracking.noloop:
        flags.append(b"noloop")
    if tracking.broken:
        flags.append(b"broken_redirect")
    return {b"flags": SetReply(flags), b"redirect": tracking.redirect,
            b"prefixes": sorted(tracking.prefixes)}  # Redis walks its radix tree


def getredir(tracking: Tracking | None) -> int:
    return -1 if tracking is None else tracking.redirect


def _bulk(b: bytes) -> bytes:
    return b"$%d\r\n%b\r\n" % (len(b), b)


def invalidation(keys, proto: int, redirected: bool) -> bytes | None:
    """The message invalidating ``keys`` (None: all of them, a flush).

    RESP3: the push ``>2 invalidate [keys]``; RESP2 only through REDIRECT, as
    a pub/sub message on ``__redis__:invalidate``; a RESP2 client without
    REDIRECT gets nothing (None), as in Redis.
    """
    if keys is None:
        body = b"_\r\n" if proto == 3 else b"*-1\r\n"
    else:
        body = b"*%d\r\n%b" % (len(keys), b"".join(_bulk(k) for k in keys))
    if proto == 3:
        return RESP3_INVALIDATE + body
    if redirected:
        return RESP2_INVALIDATE + body
    return None


RESP3_INVALIDATE = b">2\r\n$10\r\ninvalidate\r\n"
RESP2_INVALIDATE = b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n"


def as_resp3(message: bytes) -> bytes:
    """A RESP2 ``__redis__:invalidate`` message as the push a RESP3 client
    gets: a REDIRECT target on another proxy worker, whose protocol the
    shard cannot know, is sent the RESP2 form and its worker converts it."""
    body = message[len(RESP2_INVALIDATE):]
    return RESP3_INVALIDATE + (b"_\r\n" if body == b"*-1\r\n" else body)


REDIR_BROKEN = b">2\r\n$21\r\ntracking-redir-broken\r\n"


def redirect_broken(client_id: int) -> bytes:
    """The push a RESP3 tracking client gets when its REDIRECT target is gone."""
    return REDIR_BROKEN + b":%d\r\n" % client_id
