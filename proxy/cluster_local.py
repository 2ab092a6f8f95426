"""CLUSTER, READONLY, READWRITE, ASKING as the proxy answers them."""

CLUSTER_HANDLERS: dict = {}
