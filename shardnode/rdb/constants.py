"""RDB format constants, frozen: they live in files on disk and in DUMP payloads.

Every number here is Redis 7.0's (``src/rdb.h``), which writes RDB format
version 10.  Never renumber one: a file written by any Redis of version <= 10
must keep loading, and what we write must load in a real redis-server.
"""

# The format version Redis 7.0 writes in an RDB file header ("REDIS0010") and
# in the footer of a DUMP payload.  RESTORE accepts payloads of any version up
# to this one (verifyDumpPayload refuses only newer ones).
RDB_VERSION = 10

# -- length encoding: the two top bits of the first byte (RDB_6BITLEN ...) ---
LEN_6BIT = 0  # 00xxxxxx: the length is the low 6 bits
LEN_14BIT = 1  # 01xxxxxx xxxxxxxx: 14 bits, big endian
LEN_32BIT = 0x80  # 10000000 then 4 bytes, big endian (whole first byte)
LEN_64BIT = 0x81  # 10000001 then 8 bytes, big endian (whole first byte)
LEN_ENCVAL = 3  # 11xxxxxx: a specially encoded string follows, see ENC_*

# -- special string encodings: the low 6 bits after LEN_ENCVAL (RDB_ENC_*) ---
ENC_INT8 = 0  # 1 byte, signed
ENC_INT16 = 1  # 2 bytes, signed, little endian
ENC_INT32 = 2  # 4 bytes, signed, little endian
ENC_LZF = 3  # compressed length, plain length, then LZF data

# -- object type ids (RDB_TYPE_*), the byte before each value ---------------
TYPE_STRING = 0
TYPE_LIST = 1  # linked list of strings (before 3.2)
TYPE_SET = 2
TYPE_ZSET = 3  # scores as strings (before 3.2)
TYPE_HASH = 4
TYPE_ZSET_2 = 5  # scores as binary doubles
TYPE_MODULE_PRE_GA = 6  # 4.0 release candidates only
TYPE_MODULE_2 = 7
# 8 was never used (an old module type); Redis treats it as no object type.
TYPE_HASH_ZIPMAP = 9
TYPE_LIST_ZIPLIST = 10
TYPE_SET_INTSET = 11
TYPE_ZSET_ZIPLIST = 12
TYPE_HASH_ZIPLIST = 13
TYPE_LIST_QUICKLIST = 14
TYPE_STREAM_LISTPACKS = 15
TYPE_HASH_LISTPACK = 16  # new in version 10 (7.0)
TYPE_ZSET_LISTPACK = 17  # new in version 10 (7.0)
TYPE_LIST_QUICKLIST_2 = 18  # new in version 10 (7.0)
TYPE_STREAM_LISTPACKS_2 = 19  # new in version 10 (7.0)

# rdbIsObjectType in 7.0: the bytes that may start a value.
OBJECT_TYPES = frozenset(range(TYPE_STRING, TYPE_MODULE_2 + 1)) | \
    frozenset(range(TYPE_HASH_ZIPMAP, TYPE_STREAM_LISTPACKS_2 + 1))

# -- opcodes of an RDB file (RDB_OPCODE_*), between values ------------------
OPCODE_FUNCTION2 = 245  # a function library (7.0)
OPCODE_FUNCTION_PRE_GA = 246  # 7.0 release candidates' function format
OPCODE_MODULE_AUX = 247
OPCODE_IDLE = 248  # LRU idle seconds of the next key
OPCODE_FREQ = 249  # LFU counter of the next key
OPCODE_AUX = 250  # a field of the file header (redis-ver, ctime ...)
OPCODE_RESIZEDB = 251  # hash table sizes of the selected database
OPCODE_EXPIRETIME_MS = 252  # absolute deadline of the next key, ms, little endian
OPCODE_EXPIRETIME = 253  # absolute deadline in seconds (old files)
OPCODE_SELECTDB = 254
OPCODE_EOF = 255

MAGIC = b"REDIS"  # an RDB file starts with MAGIC + the version as 4 digits
