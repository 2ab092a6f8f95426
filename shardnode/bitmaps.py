"""Bitmap commands (Redis's bitops.c) on string values."""
