"""Redis's RDB format (version 10, as Redis 7.0 writes it): the one serialiser.

What lives where:

- ``constants``: type ids, opcodes and length/string encodings, frozen;
- ``checksum``: Redis's CRC-64 (DUMP footer, RDB file trailer);
- ``encoding``: lengths and strings (int, LZF, raw), :class:`RdbWriter` and
  :class:`RdbReader` over in-memory buffers (sans-IO);
- ``objects``: one codec per object type id, registered by the value layer
  (``shardnode/values.py``), and the DUMP payload framing;
- ``file``: a whole RDB file (header, AUX, functions, databases, keys with
  TTLs, CRC-64 trailer): :class:`~shardnode.rdb.file.RdbFileWriter` and
  :func:`~shardnode.rdb.file.read_rdb`, sans-IO;
- ``snapshot``: a snapshot on disk (shard file names, the summary that ties
  them together, which files a starting shard loads) and loading it;
- ``tool``: ``damselfly rdb check`` and ``damselfly rdb merge``.

DUMP/RESTORE, cross-shard moves, the snapshot files and (later) AOF rewrite
all go through these modules; nothing else encodes a value.
"""

from shardnode.rdb.encoding import RdbFormatError, RdbReader, RdbWriter  # noqa: F401
