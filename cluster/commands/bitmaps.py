"""Bitmap commands (Redis's bitops.c)."""

from cluster.commands import family

family("bitmap")
