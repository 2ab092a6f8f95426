"""``damselfly``: load the configuration (YAML, then flags) and supervise;
``damselfly rdb check|merge`` runs the RDB tools (shardnode/rdb/tool.py)."""

from __future__ import annotations

import logging
import sys

from cluster.config import LOG_LEVELS, ConfigError, load_config


def run_rdb_tool(args) -> int:
    """``damselfly rdb check|merge ...``: the RDB tools live with the
    serialiser in shardnode/ (shardnode/rdb/tool.py), which cluster/ does not
    import, so they run as that module in this process's place."""
    import os

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ)
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    argv = [sys.executable, "-m", "shardnode.rdb.tool", *args]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, argv, env)
    return 1  # not reached


def main(argv=None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["rdb"]:
        return run_rdb_tool(args[1:])
    try:
        config = load_config(argv)
    except ConfigError as exc:
        print("damselfly: %s" % exc, file=sys.stderr)
        return 2
    logging.basicConfig(
        level=LOG_LEVELS[config.loglevel],
        format="%(asctime)s supervisor %(levelname)s %(message)s",
        filename=config.logfile or None,
    )
    from cluster.supervisor import run

    return run(config)


if __name__ == "__main__":
    sys.exit(main())
