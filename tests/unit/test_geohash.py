"""shardnode.geohash, sans-IO: values checked against redis-server 7.0."""

import math

from hypothesis import given, settings, strategies as st

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


def _inside_reach(lon, lat, point, lat_reach, lon_reach) -> bool:
    apart = abs(point[0] - lon)
    return abs(point[1] - lat) <= lat_reach and (
        lon_reach is None or min(apart, 360.0 - apart) <= lon_reach)


@settings(max_examples=3000, deadline=None)
@given(lon=st.floats(-180, 180), lat=st.floats(-85.05112878, 85.05112878),
       size=st.floats(0, 2e7), ratio=st.floats(0.01, 100), angle=st.floats(0, 6.3),
       scale=st.floats(0.9, 1.0), circle=st.booleans())
def test_reach_never_excludes_a_match(lon, lat, size, ratio, angle, scale, circle):
    """The pre-filter of searches (geohash.reach) is sound: any point the
    exact test of Redis accepts lies within the reach bounds.  Points are
    placed near the edge of the shape, around the centre."""
    from shardnode.geo import _in_box, _in_circle

    height = size if circle else size
    width = size if circle else size * ratio
    lat_reach, lon_reach = geohash.reach(lat, height, width, circle)
    inside = _in_circle(lon, lat, size) if circle else _in_box(lon, lat, 2 * width, 2 * height)
    # A point at about the shape's extent in some direction, on the sphere.
    extent = (size if circle else max(width, height)) * scale / geohash.EARTH_RADIUS_IN_METERS
    lat1, lon1 = math.radians(lat), math.radians(lon)
    lat2 = math.asin(max(-1.0, min(1.0, math.sin(lat1) * math.cos(extent) +
                                   math.cos(lat1) * math.sin(extent) * math.cos(angle))))
    lon2 = lon1 + math.atan2(math.sin(angle) * math.sin(extent) * math.cos(lat1),
                             math.cos(extent) - math.sin(lat1) * math.sin(lat2))
    point = ((math.degrees(lon2) + 180) % 360 - 180, math.degrees(lat2))
    if not -85.05112878 <= point[1] <= 85.05112878:
        return
    if inside(*point) is not None:
        assert _inside_reach(lon, lat, point, lat_reach, lon_reach)
