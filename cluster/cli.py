"""``damselfly``: load the configuration (YAML, then flags) and supervise."""

from __future__ import annotations

import logging
import sys

from cluster.config import ConfigError, load_config


def main(argv=None) -> int:
    try:
        config = load_config(argv)
    except ConfigError as exc:
        print("damselfly: %s" % exc, file=sys.stderr)
        return 2
    logging.basicConfig(
        level=logging.DEBUG if config.loglevel == "debug" else logging.INFO,
        format="%(asctime)s supervisor %(levelname)s %(message)s",
        filename=config.logfile or None,
    )
    from cluster.supervisor import run

    return run(config)


if __name__ == "__main__":
    sys.exit(main())
