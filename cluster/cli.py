"""``damselfly``: load the configuration (YAML, then flags) and supervise."""

from __future__ import annotations

import logging
import sys

from cluster.config import LOG_LEVELS, ConfigError, load_config


def main(argv=None) -> int:
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
