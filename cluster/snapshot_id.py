"""Snapshot ids: what ties one server-wide snapshot's shard files together
(their ``df-snapshot`` AUX field and the summary's ``snapshot_id``).

Whoever starts a snapshot makes the id (the proxy for SAVE/BGSAVE and the
schedule, the supervisor for a save on shutdown) and every shard writes it.
"""

from __future__ import annotations

import secrets
import time


def new_snapshot_id(now_ms: int | None = None) -> str:
    """``<ms since the epoch>-<8 hex digits>``: when it started, and unique."""
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    return "%d-%s" % (now_ms, secrets.token_hex(4))


def created_ms(snapshot_id: str) -> int:
    """The start time an id carries (now, for an id of another shape)."""
    head = snapshot_id.split("-", 1)[0]
    return int(head) if head.isdigit() else int(time.time() * 1000)
