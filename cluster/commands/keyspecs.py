"""Key positions of commands whose keys cannot be told by first/last/step.

Each hook is a pure function of the request's arguments and comes with a
``*_positions`` twin giving argument indexes; both the proxy (routing,
splitting) and the shard (CROSSSLOT checks) call them through the spec.
"""


def bitop(args):
    return args[2:]


def bitop_positions(args):
    return list(range(2, len(args)))


def lcs(args):
    return args[1:3]


def lcs_positions(args):
    return [1, 2]
