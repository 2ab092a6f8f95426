"""Geo commands (Redis's geo.c): points kept in a sorted set whose scores
are 52-bit geohashes of (longitude, latitude).

Routing: every command reads one source key.  GEOSEARCHSTORE also writes a
destination (keys 1 and 2), and GEORADIUS / GEORADIUSBYMEMBER write one when
given STORE or STOREDIST: their key specs find it by keyword, as Redis's do
(``keyspecs.store_keyword_keys``).  Keys on several shards go to the
coordinator, which runs the command atomically.  GEORADIUS and
GEORADIUSBYMEMBER are write commands because of that option; their ``_RO``
forms refuse it and are reads.
"""

from cluster.commands import command, family

family("geo")

_G = "@geo"
_RO = ("RO", "access")
_SEARCH_COMPLEXITY = ("O(N+log(M)) where N is the number of elements in the grid-aligned "
                      "bounding box area around the shape provided as the filter and M is "
                      "the number of items inside the shape")
_RADIUS_COMPLEXITY = ("O(N+log(M)) where N is the number of elements inside the bounding box "
                      "of the circular area delimited by center and radius and M is the "
                      "number of items inside the index.")

command("geoadd", -5, "write denyoom", keys=(1, 1, 1), acl=_G, key_flags=("RW", "update"),
        since="3.2.0",
        summary="Adds points (longitude, latitude, name) to a geo index kept as a sorted set, "
                "or moves existing ones; NX, XX and CH as in ZADD.",
        complexity="O(log(N)) for each item added, where N is the number of elements in the "
                   "sorted set.")
command("geopos", -2, "readonly", keys=(1, 1, 1), acl=_G, key_flags=_RO, since="3.2.0",
        summary="Reads back the longitude and latitude stored for members of a geo index.",
        complexity="O(N) where N is the number of members requested.")
command("geodist", -4, "readonly", keys=(1, 1, 1), acl=_G, key_flags=_RO, since="3.2.0",
        summary="Measures the great-circle distance between two members of a geo index, "
                "in metres or a given unit.",
        complexity="O(log(N))")
command("geohash", -2, "readonly", keys=(1, 1, 1), acl=_G, key_flags=_RO, since="3.2.0",
        summary="Gives the standard 11-character geohash string of members of a geo index.",
        complexity="O(log(N)) for each member requested, where N is the number of elements "
                   "in the sorted set.")
command("geosearch", -7, "readonly", keys=(1, 1, 1), acl=_G, key_flags=_RO, since="6.2.0",
        summary="Finds the members of a geo index inside a circle or a box around a member "
                "or a point, optionally sorted, counted and with distances, hashes and "
                "coordinates.",
        complexity=_SEARCH_COMPLEXITY)
command("geosearchstore", -8, "write denyoom", keys=(1, 2, 1), acl=_G,
        key_flags=(("OW", "update"), _RO), since="6.2.0",
        summary="Finds members of a geo index like GEOSEARCH and stores them, with their "
                "geohashes or distances as scores, at a destination key.",
        complexity=_SEARCH_COMPLEXITY)
command("georadius", -6, "write denyoom", keys=(1, 1, 1), acl=_G,
        keys_hook="georadius_keys", since="3.2.0",
        summary="Finds the members of a geo index within a radius of a point (the older "
                "form of GEOSEARCH), optionally storing them.",
        complexity=_RADIUS_COMPLEXITY)
command("georadiusbymember", -5, "write denyoom", keys=(1, 1, 1), acl=_G,
        keys_hook="georadiusbymember_keys", since="3.2.0",
        summary="Finds the members of a geo index within a radius of one of its members "
                "(the older form of GEOSEARCH), optionally storing them.",
        complexity=_RADIUS_COMPLEXITY)
command("georadius_ro", -6, "readonly", keys=(1, 1, 1), acl=_G, key_flags=_RO,
        since="3.2.10",
        summary="GEORADIUS without its STORE options, so it only reads.",
        complexity=_RADIUS_COMPLEXITY)
command("georadiusbymember_ro", -5, "readonly", keys=(1, 1, 1), acl=_G, key_flags=_RO,
        since="3.2.10",
        summary="GEORADIUSBYMEMBER without its STORE options, so it only reads.",
        complexity=_RADIUS_COMPLEXITY)
