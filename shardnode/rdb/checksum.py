"""CRC-64 as Redis computes it (``src/crc64.c``): the DUMP payload footer and
the RDB file trailer.

Jones' polynomial 0xad93d23594c935a9, reflected input and output, initial
value 0, no final xor (catalogued as CRC-64/REDIS; check value of
``b"123456789"`` is 0xe9c6d914c4b8d9ca).  ``crcmod`` (crcmod-plus) builds it
in C from those parameters; its predefined "crc-64-jones" uses another
initial value, so the parameters are spelled out here.
"""

import crcmod

_POLY_WITH_TOP_BIT = 0x1AD93D23594C935A9

# crc64(data, crc=0) -> int; pass the previous result to continue a running CRC.
crc64 = crcmod.mkCrcFun(_POLY_WITH_TOP_BIT, initCrc=0, rev=True, xorOut=0)
