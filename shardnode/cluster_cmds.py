"""CLUSTER, READONLY, READWRITE, ASKING as a shard answers them."""
