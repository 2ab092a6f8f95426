"""Cluster commands (issue: emulated Redis Cluster)."""

from cluster.commands import family

family("cluster")
