"""Binds shard handlers to the command table, by name.

A family module decorates each handler with ``@handler("get")``; the name must
be a spec in ``cluster.commands`` or import fails.  A handler takes the
connection and the request's arguments and returns a reply value (see
``cluster.resp``) or raises ``CommandError``; it never writes to a transport.
"""

from cluster.commands import FAMILIES, all_specs

HANDLERS: dict = {}  # spec name ("get", "client|list") -> function
_SPEC_NAMES = {spec.name for spec in all_specs()}


def handler(*names):
    def register(fn):
        for name in names:
            if name not in _SPEC_NAMES:
                raise LookupError("handler for %r, which the command table lacks" % name)
            if name in HANDLERS:
                raise LookupError("two handlers for %r" % name)
            HANDLERS[name] = fn
        return fn

    return register


def load_families():
    """Import ``shardnode.<name>`` for every family of the command table, so
    its handlers register.  A family without a shard module fails here."""
    from importlib import import_module

    for name in FAMILIES:
        import_module("shardnode." + name)
    return HANDLERS
