"""Geo commands against a real redis-server 7.0: scores (the 52-bit
geohashes), positions, distances, geohash strings, searches (members, order,
distances, hashes, coordinates), stores, errors and their order, RESP3
shapes, points near the poles and across the antimeridian, keys on both
shards, and a random walk comparing replies and final DUMPs.  Points at
the same place (ties in distance) come out in Redis's order, also when
COUNT keeps only some of them (Redis's partial quicksort).
"""

import random

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from tests.differential.test_keyspace import _raw_reply  # one reply's exact bytes
from tests.helpers import names_on_shard

A0, B0, C0 = names_on_shard(0, 3, "g")
A1, B1 = names_on_shard(1, 2, "g")

SICILY = ["13.361389", "38.115556", "Palermo", "15.087269", "37.502669", "Catania",
          "13.583333", "37.316667", "Agrigento", "12.758489", "38.788135", "edge1",
          "17.241510", "38.788135", "edge2"]


def _sicily(diff, key=A0):
    diff.run("GEOADD", key, *SICILY)


# -- GEOADD ----------------------------------------------------------------------


def test_geoadd_scores_and_options(diff):
    assert diff.run("GEOADD", A0, *SICILY) == 5
    diff.run("ZRANGE", A0, "0", "-1", "WITHSCORES")
    diff.run("GEOADD", A0, "NX", "1", "1", "Palermo", "2", "2", "new")
    diff.run("GEOADD", A0, "XX", "3", "3", "Palermo", "4", "4", "absent")
    diff.run("GEOADD", A0, "XX", "CH", "5", "5", "Palermo", "4", "4", "absent")
    diff.run("GEOADD", A0, "CH", "5", "5", "Palermo", "6", "6", "other")
    diff.run("GEOADD", A0, "ch", "nx", "7", "7", "more")
    diff.run("GEOADD", A0, "CH", "XX", "CH", "7", "7", "more")
    diff.run("ZRANGE", A0, "0", "-1", "WITHSCORES")
    diff.run("GEOADD", B1, "XX", "1", "1", "a")
    diff.run("EXISTS", B1)


@pytest.mark.parametrize("args", [
    ["NX", "XX", "1", "1", "a"], ["1", "1"], ["1", "1", "a", "2"], ["NX", "1", "1"],
    ["181", "1", "a"], ["-180.0001", "1", "a"], ["1", "85.06", "a"], ["1", "-85.0512", "a"],
    ["x", "1", "a"], ["1", "nan", "a"], ["inf", "1", "a"], ["1", "1", "a", "200", "1", "b"],
    ["GT", "1", "1", "a"], ["NX", "XX", "CH"], ["ch", "ch", "ch"], ["1e400", "1", "a"],
    ["1", "-inf", "a"], ["1e300", "1", "a"], ["-0.0000001", "-1e-7", "a"],
])
def test_geoadd_errors(diff, args):
    diff.run("GEOADD", A0, *args)
    diff.run("EXISTS", A0)


def test_limits_of_the_ranges(diff):
    """The corners of the indexable area, the antimeridian and the poles."""
    points = ["180", "85.05112878", "ne", "-180", "-85.05112878", "sw",
              "180", "-85.05112878", "se", "-180", "85.05112878", "nw",
              "179.99999", "0", "east", "-179.99999", "0", "west", "0", "0", "zero",
              "-0", "-0", "negzero", "0.0000001", "85.05112877", "pole"]
    diff.run("GEOADD", A1, *points)
    diff.run("ZRANGE", A1, "0", "-1", "WITHSCORES")
    members = points[2::3]
    diff.run("GEOPOS", A1, *members, "missing")
    diff.run("GEOHASH", A1, *members, "missing")
    for a, b in (("ne", "sw"), ("east", "west"), ("nw", "ne"), ("zero", "negzero"),
                 ("pole", "nw")):
        for unit in ("m", "km", "ft", "mi"):
            diff.run("GEODIST", A1, a, b, unit)


# -- GEOPOS / GEODIST / GEOHASH ------------------------------------------------------


def test_positions_distances_hashes(diff):
    _sicily(diff)
    diff.run("GEOPOS", A0, "Palermo", "nope", "Catania")
    diff.run("GEOPOS", "missing", "a", "b")
    diff.run("GEOHASH", A0, "Palermo", "Catania", "nope")
    diff.run("GEOHASH", "missing", "a")
    diff.run("GEODIST", A0, "Palermo", "Catania")
    for unit in ("m", "KM", "Ft", "mi"):
        diff.run("GEODIST", A0, "Palermo", "Agrigento", unit)
    diff.run("GEODIST", A0, "Palermo", "Palermo")
    diff.run("GEODIST", A0, "Palermo", "nope")
    diff.run("GEODIST", "missing", "a", "b")
    diff.run("GEODIST", "missing", "a", "b", "parsec")
    diff.run("GEODIST", A0, "Palermo", "Catania", "yd")
    diff.run("GEODIST", A0, "Palermo", "Catania", "km", "extra")


def test_sorted_set_scores_that_are_no_geohash(diff):
    """Any score decodes somehow, as in Redis (C's double to uint64)."""
    diff.run("ZADD", A0, "0", "zero", "-1", "neg", "1.5", "frac", "1e20", "huge",
             "4503599627370496", "bit52", "inf", "inf", "-inf", "minf", "-1e30", "negbig")
    members = ["zero", "neg", "frac", "huge", "bit52", "inf", "minf", "negbig"]
    diff.run("GEOPOS", A0, *members)
    diff.run("GEOHASH", A0, *members)
    diff.run("GEODIST", A0, "zero", "huge")
    diff.run("GEOSEARCH", A0, "FROMLONLAT", "0", "0", "BYRADIUS", "20000", "km", "WITHHASH",
             "WITHCOORD", "WITHDIST")
    diff.run("GEORADIUSBYMEMBER", A0, "neg", "100", "km", "WITHHASH")


def test_wrongtype_everywhere(diff):
    diff.run("SET", A0, "x")
    for args in (["GEOADD", A0, "1", "1", "a"], ["GEOADD", A0, "500", "1", "a"],
                 ["GEOPOS", A0, "a"], ["GEODIST", A0, "a", "b"],
                 ["GEODIST", A0, "a", "b", "parsec"], ["GEOHASH", A0, "a"],
                 ["GEOSEARCH", A0, "FROMLONLAT", "0", "0", "BYRADIUS", "1", "m"],
                 ["GEOSEARCH", A0, "FROMLONLAT", "500", "0", "BYRADIUS", "1", "m"],
                 ["GEOSEARCHSTORE", B0, A0, "FROMLONLAT", "0", "0", "BYRADIUS", "1", "m"],
                 ["GEORADIUS", A0, "0", "0", "1", "km"],
                 ["GEORADIUS", A0, "500", "0", "1", "km"],
                 ["GEORADIUSBYMEMBER", A0, "a", "1", "km"],
                 ["GEORADIUS_RO", A0, "0", "0", "1", "km"],
                 ["GEORADIUSBYMEMBER_RO", A0, "a", "1", "km"]):
        diff.run(*args)
    diff.run("GEOADD", B0, "1", "1", "a")
    diff.run("GEOSEARCHSTORE", A0, B0, "FROMLONLAT", "1", "1", "BYRADIUS", "1", "km")
    diff.run("TYPE", A0)


# -- searches ---------------------------------------------------------------------------

SEARCH_OPTIONS = [
    [], ["ASC"], ["DESC"], ["WITHDIST"], ["WITHCOORD", "WITHHASH", "WITHDIST"],
    ["COUNT", "2"], ["COUNT", "2", "DESC"], ["COUNT", "2", "ANY"], ["COUNT", "1", "ANY", "ASC"],
    ["COUNT", "100"], ["withdist", "desc", "count", "3", "withcoord"], ["ANY", "COUNT", "3"],
]


@pytest.mark.parametrize("options", SEARCH_OPTIONS)
def test_search_forms(diff, options):
    _sicily(diff)
    diff.run("GEOSEARCH", A0, "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", *options)
    diff.run("GEOSEARCH", A0, "FROMMEMBER", "Palermo", "BYBOX", "400", "300", "km", *options)
    diff.run("GEOSEARCH", A0, "BYRADIUS", "100", "mi", "FROMLONLAT", "13", "38", *options)
    diff.run("GEORADIUS", A0, "15", "37", "200", "km", *options)
    diff.run("GEORADIUS_RO", A0, "15", "37", "300000", "ft", *options)
    diff.run("GEORADIUSBYMEMBER", A0, "Agrigento", "100", "km", *options)
    diff.run("GEORADIUSBYMEMBER_RO", A0, "Agrigento", "1000000", "m", *options)


@pytest.mark.parametrize("args", [
    ["FROMLONLAT", "15", "37"], ["BYRADIUS", "1", "km"],
    ["FROMLONLAT", "15", "37", "FROMMEMBER", "Palermo", "BYRADIUS", "1", "km"],
    ["FROMMEMBER", "Palermo", "FROMLONLAT", "15", "37", "BYRADIUS", "1", "km"],
    ["FROMMEMBER", "nope", "BYRADIUS", "1", "km"],
    ["FROMMEMBER", "nope", "BYRADIUS", "x", "km"],
    ["FROMLONLAT", "15", "37", "BYRADIUS", "1", "km", "BYBOX", "1", "1", "km"],
    ["FROMLONLAT", "15", "37", "BYBOX", "1", "1", "km", "BYRADIUS", "1", "km"],
    ["FROMLONLAT", "15", "37", "BYBOX", "1", "km"], ["FROMLONLAT", "15", "37", "BYBOX", "1"],
    ["FROMLONLAT", "15", "37", "BYBOX", "x", "1", "km"],
    ["FROMLONLAT", "15", "37", "BYBOX", "1", "y", "km"],
    ["FROMLONLAT", "15", "37", "BYBOX", "-1", "1", "km"],
    ["FROMLONLAT", "15", "37", "BYBOX", "1", "-1", "parsec"],
    ["FROMLONLAT", "15", "37", "BYBOX", "1", "1", "parsec"],
    ["FROMLONLAT", "15", "37", "BYRADIUS", "-1", "km"],
    ["FROMLONLAT", "15", "37", "BYRADIUS", "x", "km"],
    ["FROMLONLAT", "15", "37", "BYRADIUS", "1", "au"],
    ["FROMLONLAT", "15", "91", "BYRADIUS", "1", "km"],
    ["FROMLONLAT", "x", "37", "BYRADIUS", "1", "km"],
    ["FROMLONLAT", "15", "37", "BYRADIUS", "1", "km", "COUNT", "0"],
    ["FROMLONLAT", "15", "37", "BYRADIUS", "1", "km", "COUNT", "-3"],
    ["FROMLONLAT", "15", "37", "BYRADIUS", "1", "km", "COUNT", "x"],
    ["FROMLONLAT", "15", "37", "BYRADIUS", "1", "km", "COUNT"],
    ["FROMLONLAT", "15", "37", "BYRADIUS", "1", "km", "ANY"],
    ["FROMLONLAT", "15", "37", "BYRADIUS", "1", "km", "STORE", "x"],
    ["FROMLONLAT", "15", "37", "BYRADIUS", "1", "km", "STOREDIST"],
    ["FROMLONLAT", "15", "37", "BYRADIUS", "1", "km", "bogus"],
    ["BYRADIUS", "1", "km", "ANY", "WITHDIST"],
    ["FROMMEMBER", "Palermo", "FROMMEMBER", "Catania", "BYRADIUS", "100", "km"],
    ["FROMLONLAT", "1", "1", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km"],
    ["BYRADIUS", "1", "km", "BYRADIUS", "200", "km", "FROMLONLAT", "15", "37"],
    ["BYBOX", "1", "1", "m", "BYBOX", "400", "400", "km", "FROMLONLAT", "15", "37"],
    ["FROMLONLAT", "0x10", "0x1.2ap5", "BYRADIUS", "1e3", "km", "COUNT",
     "9223372036854775807"],
    ["FROMLONLAT", "15", "37", "BYRADIUS", "200", "km\x00junk", "withdist\x00junk"],
    ["FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "COUNT", "99999999999999999999"],
    ["FROMLONLAT", " 15", "37", "BYRADIUS", "200", "km"],
    ["FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "COUNT", "2", "ANY", "COUNT", "1"],
])
def test_geosearch_errors(diff, args):
    _sicily(diff)
    diff.run("GEOSEARCH", A0, *args)
    diff.run("GEOSEARCH", "missing", *args)
    diff.run("geosearch", "missing", *args)


@pytest.mark.parametrize("args", [
    ["15", "37", "200", "km", "STORE"], ["15", "37", "200", "km", "STORE", B0, "WITHDIST"],
    ["15", "37", "200", "km", "STOREDIST", B0, "WITHCOORD"],
    ["15", "37", "200", "km", "WITHHASH", "STORE", B0],
    ["15", "37", "200", "km", "FROMMEMBER", "x"], ["15", "37", "200"],
    ["15", "37", "x", "km"], ["15", "37", "-2", "km"], ["15", "37", "2", "yd"],
    ["190", "37", "2", "km"], ["15", "37", "2", "km", "ANY"], ["15", "37", "2", "km", "COUNT", "0"],
])
def test_georadius_errors(diff, args):
    _sicily(diff)
    diff.run("GEORADIUS", A0, *args)
    diff.run("GEORADIUS", "missing", *args)
    diff.run("GEORADIUS_RO", A0, *args)
    diff.run("GEORADIUSBYMEMBER", A0, "Palermo", *args[2:])
    diff.run("GEORADIUSBYMEMBER", "missing", "Palermo", *args[2:])
    diff.run("GEORADIUSBYMEMBER_RO", A0, "Palermo", *args[2:])
    diff.run("EXISTS", B0)


def test_geosearchstore_options(diff):
    _sicily(diff)
    for args in (["STOREDIST", "STOREDIST"], ["STORE", B1], ["WITHDIST"], ["ANY"],
                 ["COUNT", "2", "ANY", "STOREDIST"], ["DESC", "COUNT", "1"]):
        diff.run("GEOSEARCHSTORE", B0, A0, "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km",
                 *args)
        diff.run("ZRANGE", B0, "0", "-1", "WITHSCORES")


def test_georadiusbymember_member_errors(diff):
    _sicily(diff)
    diff.run("GEORADIUSBYMEMBER", A0, "nope", "1", "km")
    diff.run("GEORADIUSBYMEMBER", A0, "nope", "x", "km")
    diff.run("GEORADIUSBYMEMBER", "missing", "nope", "x", "km")
    diff.run("GEORADIUSBYMEMBER", "missing", "nope", "x", "km", "STORE", B0)
    diff.run("GEORADIUSBYMEMBER_RO", A0, "Palermo", "1", "km", "STORE", B0)


# -- stores -----------------------------------------------------------------------------


@pytest.mark.parametrize("source,destination", [(A0, B0), (A0, A1), (A1, B0)])
def test_stores(diff, source, destination):
    """Destination on the source's shard and on the other one (the
    coordinator moves the values)."""
    _sicily(diff, source)
    diff.run("GEOSEARCHSTORE", destination, source, "FROMLONLAT", "15", "37", "BYRADIUS",
             "200", "km")
    diff.run("ZRANGE", destination, "0", "-1", "WITHSCORES")
    diff.run("OBJECT", "ENCODING", destination)
    diff.run("GEOSEARCHSTORE", destination, source, "FROMLONLAT", "15", "37", "BYRADIUS",
             "200", "km", "STOREDIST", "COUNT", "2", "DESC")
    diff.run("ZRANGE", destination, "0", "-1", "WITHSCORES")
    diff.run("GEORADIUS", source, "15", "37", "200", "km", "STORE", destination)
    diff.run("ZRANGE", destination, "0", "-1", "WITHSCORES")
    diff.run("GEORADIUS", source, "15", "37", "200", "mi", "STOREDIST", destination, "ASC")
    diff.run("ZRANGE", destination, "0", "-1", "WITHSCORES")
    diff.run("GEORADIUSBYMEMBER", source, "Palermo", "100", "km", "STOREDIST", destination)
    diff.run("ZRANGE", destination, "0", "-1", "WITHSCORES")
    diff.run("GEORADIUSBYMEMBER", source, "Palermo", "100", "km", "STORE", destination,
             "COUNT", "1")
    diff.run("ZRANGE", destination, "0", "-1", "WITHSCORES")
    # Nothing found: the destination goes away.
    diff.run("GEORADIUS", source, "0", "0", "1", "m", "STORE", destination)
    diff.run("EXISTS", destination)
    diff.run("SET", destination, "string")
    diff.run("GEOSEARCHSTORE", destination, source, "FROMLONLAT", "0", "0", "BYRADIUS", "1", "m")
    diff.run("EXISTS", destination)
    diff.run("SET", destination, "string")
    diff.run("GEOSEARCHSTORE", destination, "missing", "FROMMEMBER", "x", "BYRADIUS", "1", "m")
    diff.run("EXISTS", destination)
    diff.run("GEORADIUS", source, "15", "37", "200", "km", "STORE", source)
    diff.run("ZRANGE", source, "0", "-1", "WITHSCORES")


def test_the_last_store_option_wins_across_shards(diff):
    """``STORE a STORE b`` writes b only; b is routed with the other keys
    although Redis's key specs (and COMMAND GETKEYS) name a alone."""
    _sicily(diff, A0)
    diff.run("GEORADIUS", A0, "15", "37", "200", "km", "STORE", B0, "STORE", A1)
    diff.run("EXISTS", B0)
    diff.run("ZRANGE", A1, "0", "-1", "WITHSCORES")
    diff.run("GEORADIUSBYMEMBER", A0, "Palermo", "200", "km", "STOREDIST", B0, "STORE", B1,
             "COUNT", "2")
    diff.run("ZRANGE", B1, "0", "-1", "WITHSCORES")
    diff.run("ZRANGE", B0, "0", "-1", "WITHSCORES")


def test_store_encodings_follow_the_listpack_limits(diff):
    args = []
    for i in range(200):
        args += ["%.6f" % (10 + i / 100), "%.6f" % (40 + (i * 7 % 13) / 100), "p%03d" % i]
    diff.run("GEOADD", A0, *args)
    diff.run("GEOSEARCHSTORE", B0, A0, "FROMLONLAT", "11", "40", "BYRADIUS", "500", "km")
    diff.run("OBJECT", "ENCODING", B0)
    diff.run("DUMP", B0)
    diff.run("GEOSEARCHSTORE", B0, A0, "FROMLONLAT", "11", "40", "BYRADIUS", "500", "km",
             "COUNT", "100", "STOREDIST")
    diff.run("OBJECT", "ENCODING", B0)
    diff.run("ZRANGE", B0, "0", "-1", "WITHSCORES")
    diff.run("GEOSEARCH", A0, "FROMLONLAT", "11", "40", "BYBOX", "100", "100", "km")
    diff.run("GEOSEARCH", A0, "FROMLONLAT", "11", "40", "BYBOX", "100", "100", "km", "ASC",
             "WITHDIST", "WITHCOORD")
    diff.run("GEOSEARCH", A0, "FROMLONLAT", "11", "40", "BYRADIUS", "30", "km", "COUNT", "5",
             "ANY")


# -- the poles and the antimeridian -------------------------------------------------------


def _ring(lon0, lat0, n=24, spread=3.0):
    out = []
    for i in range(n):
        lon = lon0 + spread * ((i * 37) % 23 - 11) / 11
        lon = (lon + 180) % 360 - 180
        lat = max(-85.05, min(85.05, lat0 + spread * ((i * 11) % 17 - 8) / 8))
        out += ["%.7f" % lon, "%.7f" % lat, "r%d" % i]
    return out


@pytest.mark.parametrize("lon,lat", [(179.5, 0), (-179.9, 10), (180, -30), (0, 84.9),
                                     (170, -84.5), (-45, 70), (60, -81), (0, 0)])
def test_near_the_poles_and_the_antimeridian(diff, lon, lat):
    diff.run("GEOADD", A0, *_ring(lon, lat))
    diff.run("GEOADD", A0, *_ring(-lon, lat, 12, 20.0))
    for radius in ("1", "50", "300", "1000", "5000", "20000"):
        diff.run("GEOSEARCH", A0, "FROMLONLAT", str(lon), str(lat), "BYRADIUS", radius, "km",
                 "WITHDIST", "ASC")
        diff.run("GEOSEARCH", A0, "FROMLONLAT", str(lon), str(lat), "BYBOX", radius,
                 str(float(radius) / 2), "km", "WITHDIST", "WITHHASH")
        diff.run("GEORADIUSBYMEMBER", A0, "r3", radius, "km", "WITHCOORD")
    diff.run("GEOSEARCH", A0, "FROMLONLAT", str(lon), str(lat), "BYRADIUS", "inf", "km")
    diff.run("GEOSEARCH", A0, "FROMLONLAT", str(lon), str(lat), "BYRADIUS", "0", "km",
             "WITHDIST")
    diff.run("GEOSEARCH", A0, "FROMLONLAT", str(lon), str(lat), "BYBOX", "0", "1e9", "m")


def test_huge_radius_neighbours_are_not_scanned_twice(diff):
    diff.run("GEOADD", A0, *_ring(0, 0, 30, 60.0))
    for radius in ("6000", "10000", "15000", "20000", "40000"):
        diff.run("GEORADIUS", A0, "0", "0", radius, "km")
        diff.run("GEORADIUS", A0, "100", "50", radius, "km", "COUNT", "5", "ANY")


@pytest.mark.parametrize("seed", range(12))
def test_ties_in_distance_keep_redis_order(diff, seed):
    """Many members on a few points: full sorts are stable, partial ones
    (COUNT below the matches) follow Redis's pqsort, over 7 and 40 points too."""
    rnd = random.Random(seed)
    places = [("%.4f" % rnd.uniform(-1, 1), "%.4f" % rnd.uniform(-1, 1))
              for _ in range(rnd.randint(1, 4))]
    args = []
    for i in range(rnd.choice([5, 12, 60])):
        args += [*rnd.choice(places), "m%d" % i]
    diff.run("GEOADD", A0, *args)
    for count in ("1", "3", "6", "8", "41", "100"):
        for order in ("ASC", "DESC"):
            diff.run("GEOSEARCH", A0, "FROMLONLAT", "0", "0", "BYRADIUS", "500", "km",
                     "COUNT", count, order, "WITHDIST")
        diff.run("GEORADIUS", A0, "0.1", "0.1", "500", "km", "COUNT", count)
        diff.run("GEOSEARCHSTORE", B0, A0, "FROMLONLAT", "0", "0", "BYBOX", "500", "500", "km",
                 "COUNT", count, "STOREDIST")
        diff.run("ZRANGE", B0, "0", "-1", "WITHSCORES")
    diff.run("GEOSEARCH", A0, "FROMLONLAT", "0", "0", "BYRADIUS", "500", "km", "DESC")


@pytest.mark.parametrize("seed", range(4))
def test_dense_index_searches(diff, seed):
    """Thousands of points, crowded cells: searches of every size return the
    same members in the same order (unsorted: Redis's scan order), with
    ANY stopping at the same point."""
    rnd = random.Random(seed)
    args = []
    for i in range(3000):
        if i % 3:
            lon, lat = rnd.uniform(-180, 180), rnd.uniform(-85.05, 85.05)
        else:  # crowds near the poles, the antimeridian and Greenwich
            lon = rnd.choice([-179.5, 179.5, 0.0, 45.0]) + rnd.uniform(-0.5, 0.5)
            lat = rnd.choice([-84.0, -70.0, 0.0, 50.0, 84.5]) + rnd.uniform(-0.5, 0.5)
        args += ["%.7f" % lon, "%.7f" % lat, "p%d" % i]
    diff.run("GEOADD", A1, *args)
    for _ in range(50):
        crowd = rnd.random() < 0.6
        lon = rnd.choice([-179.5, 179.5, 0.0, 45.0]) + rnd.uniform(-1, 1) if crowd else \
            rnd.uniform(-180, 180)
        lat = rnd.choice([-84.0, -70.0, 0.0, 50.0, 84.5]) + rnd.uniform(-1, 1) if crowd else \
            rnd.uniform(-85, 85)
        lon = (lon + 180) % 360 - 180
        lat = max(-85.05, min(85.05, lat))
        size = "%.3f" % (10 ** rnd.uniform(0, 3.5))
        by = ["BYRADIUS", size, "km"] if rnd.random() < 0.5 else \
            ["BYBOX", size, "%.3f" % (float(size) * rnd.uniform(0.1, 5)), "km"]
        options = rnd.choice([[], ["WITHDIST"], ["COUNT", "7", "ANY"], ["COUNT", "5"],
                              ["DESC", "WITHCOORD"], ["COUNT", "30", "ANY", "ASC"]])
        diff.run("GEOSEARCH", A1, "FROMLONLAT", "%.6f" % lon, "%.6f" % lat, *by, *options)


# -- RESP3 and exact bytes --------------------------------------------------------------


@pytest.mark.parametrize("proto", ["2", "3"])
def test_reply_bytes(diff, proto):
    diff.both("HELLO", proto)
    _sicily(diff)
    for args in (["GEOPOS", A0, "Palermo", "nope"], ["GEODIST", A0, "Palermo", "Catania"],
                 ["GEODIST", A0, "Palermo", "nope"], ["GEODIST", "missing", "a", "b"],
                 ["GEOHASH", A0, "Palermo", "nope"],
                 ["GEOSEARCH", A0, "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km",
                  "WITHDIST", "WITHHASH", "WITHCOORD", "ASC"],
                 ["GEOSEARCH", A0, "FROMLONLAT", "15", "37", "BYRADIUS", "1", "m"],
                 ["GEOSEARCH", "missing", "FROMLONLAT", "15", "37", "BYRADIUS", "1", "m"],
                 ["GEORADIUS", A0, "15", "37", "200", "km", "WITHCOORD"],
                 ["GEOSEARCHSTORE", B0, A0, "FROMMEMBER", "Palermo", "BYRADIUS", "1", "km"]):
        expected, actual = _raw_reply(diff.ref, *args), _raw_reply(diff.ours, *args)
        assert actual == expected, "%r: redis %r, damselfly %r" % (args, expected, actual)


# -- metadata, expiry --------------------------------------------------------------------


@pytest.mark.parametrize("name", ["geoadd", "geopos", "geodist", "geohash", "geosearch",
                                  "geosearchstore", "georadius", "georadiusbymember",
                                  "georadius_ro", "georadiusbymember_ro"])
def test_command_info_matches_redis(diff, name):
    diff.run("COMMAND", "INFO", name)


def test_command_getkeys(diff):
    diff.run("COMMAND", "GETKEYS", "GEORADIUS", "k", "0", "0", "1", "km")
    diff.run("COMMAND", "GETKEYSANDFLAGS", "GEORADIUS", "k", "0", "0", "1", "km", "STORE", "d",
             "STOREDIST", "e")
    diff.run("COMMAND", "GETKEYS", "GEORADIUS", "k", "0", "0", "1", "km", "STORE")
    diff.run("COMMAND", "GETKEYS", "GEORADIUSBYMEMBER", "k", "m", "1", "km", "storedist", "d")
    diff.run("COMMAND", "GETKEYSANDFLAGS", "GEOSEARCHSTORE", "d", "k", "FROMMEMBER", "m",
             "BYRADIUS", "1", "km")


def test_expiry_is_honoured(diff):
    import time

    for key in (A0, A1):
        _sicily(diff, key)
        diff.run("PEXPIRE", key, 100)
    time.sleep(0.15)
    for key in (A0, A1):
        diff.run("GEOPOS", key, "Palermo")
        diff.run("GEOSEARCH", key, "FROMMEMBER", "Palermo", "BYRADIUS", "1", "km")
        diff.run("GEOADD", key, "XX", "1", "1", "Palermo")
        diff.run("EXISTS", key)


# -- random walk ----------------------------------------------------------------------------

_KEYS = [A0, B0, A1]
_UNIT_NAMES = ["m", "km", "ft", "mi"]


_SHARED_PLACES = [["12.5", "41.9"], ["-179.99", "84.9"], ["179.99", "-80.5"]]


def _point(rnd: random.Random) -> list:
    """Somewhere, with a bias to the poles and the antimeridian, now and
    then a place other points share (ties in distance)."""
    region = rnd.randrange(5)
    if region == 4:
        return list(rnd.choice(_SHARED_PLACES))
    lon = rnd.uniform(-180, 180) if region == 0 else rnd.choice([-1, 1]) * rnd.uniform(170, 180)
    lat = rnd.uniform(-85.05, 85.05) if region != 2 else rnd.choice([-1, 1]) * rnd.uniform(
        75, 85.05112878)
    if region == 3:
        lon, lat = rnd.uniform(-20, 20), rnd.uniform(-20, 20)
    return ["%.6f" % lon, "%.6f" % lat]


def _command(rnd: random.Random, members: list):
    key = rnd.choice(_KEYS)
    shape = rnd.randrange(9)
    member = rnd.choice(members)
    if shape <= 1:
        options = rnd.sample(["NX", "XX", "CH"], rnd.randrange(3))
        return ["GEOADD", key, *options, *_point(rnd), member, *_point(rnd), rnd.choice(members)]
    if shape == 2:
        return [rnd.choice(["GEOPOS", "GEOHASH"]), key, member, rnd.choice(members)]
    if shape == 3:
        return ["GEODIST", key, member, rnd.choice(members), rnd.choice(_UNIT_NAMES)]
    unit = rnd.choice(_UNIT_NAMES)
    size = "%.3f" % (10 ** rnd.uniform(0, 4) * (1000 if unit == "m" else 1))
    by = ["BYRADIUS", size, unit] if rnd.random() < 0.6 else \
        ["BYBOX", size, "%.3f" % (float(size) * rnd.uniform(0.2, 3)), unit]
    origin = ["FROMMEMBER", member] if rnd.random() < 0.4 else ["FROMLONLAT", *_point(rnd)]
    options = rnd.sample(["WITHDIST", "WITHCOORD", "WITHHASH", "ASC", "DESC"],
                         rnd.randrange(3))
    if rnd.random() < 0.3:
        options += ["COUNT", str(rnd.randint(1, 4))] + (["ANY"] if rnd.random() < 0.3 else [])
    if shape == 4:
        return ["GEOSEARCH", key, *origin, *by, *options]
    stored = [o for o in options if not o.startswith("WITH")]
    if shape == 5:
        return ["GEOSEARCHSTORE", rnd.choice(_KEYS), key, *origin, *by, *stored,
                *(["STOREDIST"] if rnd.random() < 0.5 else [])]
    if shape == 6:
        return ["GEORADIUS", key, *_point(rnd), *by[-2:], *options]
    if shape == 7:
        return ["GEORADIUS", key, *_point(rnd), *by[-2:], *stored,
                rnd.choice(["STORE", "STOREDIST"]), rnd.choice(_KEYS)]
    return ["GEORADIUSBYMEMBER", key, member, *by[-2:], *options]


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(seed=st.integers(0, 2**32 - 1))
def test_random_walk_matches_redis(diff, seed):
    diff.both("FLUSHALL")
    rnd = random.Random(seed)
    members = ["m%d" % i for i in range(12)]
    for key in _KEYS:  # a populated start
        args = []
        for name in members:
            args += _point(rnd) + [name]
        diff.run("GEOADD", key, *args)
    for _ in range(40):
        diff.run(*_command(rnd, members))
    for key in _KEYS:
        diff.run("ZRANGE", key, "0", "-1", "WITHSCORES")
        diff.run("DUMP", key)
