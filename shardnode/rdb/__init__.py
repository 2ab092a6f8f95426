"""Redis's RDB format (version 10, as Redis 7.0 writes it): the one serialiser.

What lives where:

- ``constants``: type ids, opcodes and length/string encodings, frozen;
- ``checksum``: Redis's CRC-64 (DUMP footer, RDB file trailer);
- ``encoding``: lengths and strings (int, LZF, raw), :class:`RdbWriter` and
  :class:`RdbReader` over in-memory buffers (sans-IO);
- ``objects``: one codec per object type id, registered by the value layer
  (``shardnode/values.py``), and the DUMP payload framing.

DUMP/RESTORE, cross-shard moves and (later) the snapshot file and AOF rewrite
all go through these modules; nothing else encodes a value.
"""

from shardnode.rdb.encoding import RdbFormatError, RdbReader, RdbWriter  # noqa: F401
