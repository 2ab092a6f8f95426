"""shardnode.geohash, sans-IO: values checked against redis-server 7.0."""

from shardnode import geohash
from shardnode.geo import human_coordinate

PALERMO = (13.361389, 38.115556)
CATANIA = (15.087269, 37.502669)


def test_scores_are_redis_52_bit_geohashes():
    assert geohash.score_of(*PALERMO) == 3479099956230698
    assert geohash.score_of(*CATANIA) == 3479447370796909
    # The top of both ranges is one past the last cell, as in Redis.
    assert geohash.score_of(180.0, geohash.LAT_MAX) == 3 << 52
    assert geohash.score_of(-180.0, geohash.LAT_MIN) == 0
    assert geohash.encode(180.1, 0.0, 26) is None


def test_positions_are_cell_centres_printed_as_redis():
    lon, lat = geohash.position(3479447370796909.0)
    assert human_coordinate(lon) == b"15.08726745843887329"
    assert human_coordinate(lat) == b"37.50266842333162032"
    assert human_coordinate(0.0) == b"0"
    assert human_coordinate(-180.0) == b"-180"


def test_geohash_strings_and_distance():
    assert geohash.geohash_string(3479099956230698.0) == b"sqc8b49rny0"
    assert geohash.geohash_string(3479447370796909.0) == b"sqdtr74hyu0"
    a = geohash.position(3479099956230698.0)
    b = geohash.position(3479447370796909.0)
    assert b"%.4f" % geohash.distance(*a, *b) == b"166274.1516"


def test_scores_that_no_geoadd_made_decode_like_c_casts():
    assert geohash.score_bits(-1.0) == 2**64 - 1
    assert geohash.score_bits(1.9) == 1
    assert geohash.score_bits(float("inf")) == 0
    assert geohash.score_bits(float("-inf")) == 1 << 63
    assert geohash.score_as_long_long(1e30) == -(1 << 63)


def test_step_estimate_widens_towards_the_poles():
    assert geohash.estimate_step(0, 0) == 26
    assert geohash.estimate_step(1000, 0) == 14
    assert geohash.estimate_step(1000, 70) == 13
    assert geohash.estimate_step(1000, -81) == 12
    assert geohash.estimate_step(1e9, 0) == 1


def test_search_cells_wrap_around_the_antimeridian():
    lon, lat, radius = 179.99, 0.0, 50000.0
    box = geohash.bounding_box(lon, lat, radius, radius)
    cells = geohash.search_cells(lon, lat, radius, box)
    assert len(cells) == 9 and cells[geohash.CENTRE] is not None
    east = cells[geohash.EAST]
    assert east is not None
    west_edge = geohash.decode(*east)[0]
    assert west_edge == -180.0  # the eastern neighbour is across the antimeridian
