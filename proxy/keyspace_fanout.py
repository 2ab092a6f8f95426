"""Custom fan-outs for keyspace commands (SCAN, RANDOMKEY): register in FANOUTS."""

from proxy.fanout import FANOUTS  # noqa: F401
