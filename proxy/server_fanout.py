"""Custom fan-outs for server commands (INFO, CONFIG SET/RESETSTAT): register in FANOUTS."""

from proxy.fanout import FANOUTS  # noqa: F401

from proxy.fanout import MERGES

MERGES.setdefault("config_set", MERGES["ok"])
MERGES.setdefault("resetstat", MERGES["ok"])
