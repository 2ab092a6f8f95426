"""Redis's geohash arithmetic (geohash.c, geohash_helper.c), sans-IO.

A geo point is stored as a sorted-set score: its longitude and latitude,
each scaled to a 26-bit cell index (GEO_STEP_MAX) over the Web-Mercator
ranges (longitude -180..180, latitude -85.05112878..85.05112878), with the
latitude's bits in the even positions and the longitude's in the odd ones:
a 52-bit integer, exact in a double.  Decoding gives the centre of the cell,
which is what Redis returns for GEOPOS and uses for distances.

A search covers the cell holding the centre and its eight neighbours at a
step (cell size) estimated from the radius, exactly as Redis picks it, then
filters the candidates by exact distance or box, so the same members come
out in the same order as from redis-server.  Every floating-point step
follows Redis's C expressions in the same order, since glibc's libm (which
Python's math module calls) gives the same results for the same operations.
Python raises where C returns NaN (``cos(inf)``, ``asin(1.0000001)``); the
``_c_*`` wrappers return NaN instead.
"""

from __future__ import annotations

import math

STEP_MAX = 26
LON_MIN, LON_MAX = -180.0, 180.0
LAT_MIN, LAT_MAX = -85.05112878, 85.05112878
EARTH_RADIUS_IN_METERS = 6372797.560856
MERCATOR_MAX = 20037726.37
DEG_TO_RAD = math.pi / 180.0
_NAN = float("nan")
_U64 = (1 << 64) - 1
_EVEN = 0x5555555555555555
_ODD = 0xAAAAAAAAAAAAAAAA
_BASE32 = b"0123456789bcdefghjkmnpqrstuvwxyz"

# The cells of a search in the order Redis visits them.
CENTRE, NORTH, SOUTH, EAST, WEST, NORTH_EAST, NORTH_WEST, SOUTH_EAST, SOUTH_WEST = range(9)


def _c_sin(x: float) -> float:
    return math.sin(x) if math.isfinite(x) else _NAN


def _c_cos(x: float) -> float:
    return math.cos(x) if math.isfinite(x) else _NAN


def c_asin(x: float) -> float:
    return math.asin(x) if -1.0 <= x <= 1.0 else _NAN


def c_sqrt(x: float) -> float:
    return math.sqrt(x) if x >= 0.0 else _NAN


def _spread(value: int) -> int:
    """The low 32 bits of ``value`` moved to the even bit positions."""
    value &= 0xFFFFFFFF
    value = (value | (value << 16)) & 0x0000FFFF0000FFFF
    value = (value | (value << 8)) & 0x00FF00FF00FF00FF
    value = (value | (value << 4)) & 0x0F0F0F0F0F0F0F0F
    value = (value | (value << 2)) & 0x3333333333333333
    return (value | (value << 1)) & _EVEN


def _squash(value: int) -> int:
    """The even bits of ``value`` gathered into a 32-bit integer."""
    value &= _EVEN
    value = (value | (value >> 1)) & 0x3333333333333333
    value = (value | (value >> 2)) & 0x0F0F0F0F0F0F0F0F
    value = (value | (value >> 4)) & 0x00FF00FF00FF00FF
    value = (value | (value >> 8)) & 0x0000FFFF0000FFFF
    return (value | (value >> 16)) & 0xFFFFFFFF


def encode(lon: float, lat: float, step: int, lat_min: float = LAT_MIN,
           lat_max: float = LAT_MAX):
    """The ``2*step``-bit cell holding (lon, lat), or None outside the ranges.

    Each coordinate's offset in its range is scaled to ``2**step`` and
    truncated to an integer (C's double-to-uint32); a coordinate at the top
    of its range gives ``2**step``, one past the last cell, as in Redis.
    """
    if not 0 < step <= 32:
        return None
    if lon > LON_MAX or lon < LON_MIN or lat > LAT_MAX or lat < LAT_MIN:
        return None
    if lat < lat_min or lat > lat_max:
        return None
    lat_offset = (lat - lat_min) / (lat_max - lat_min) * float(1 << step)
    lon_offset = (lon - LON_MIN) / (LON_MAX - LON_MIN) * float(1 << step)
    return _spread(int(lat_offset)) | (_spread(int(lon_offset)) << 1)


def score_of(lon: float, lat: float) -> int:
    """The sorted-set score GEOADD stores for a valid point (52 bits)."""
    return encode(lon, lat, STEP_MAX)


def decode(bits: int, step: int) -> tuple:
    """The area of a cell: (lon_min, lon_max, lat_min, lat_max)."""
    lat_cell = _squash(bits)
    lon_cell = _squash(bits >> 1)
    cells = float(1 << step)
    lat_scale = LAT_MAX - LAT_MIN
    lon_scale = LON_MAX - LON_MIN
    return (LON_MIN + (lon_cell * 1.0 / cells) * lon_scale,
            LON_MIN + (((lon_cell + 1) & 0xFFFFFFFF) * 1.0 / cells) * lon_scale,
            LAT_MIN + (lat_cell * 1.0 / cells) * lat_scale,
            LAT_MIN + (((lat_cell + 1) & 0xFFFFFFFF) * 1.0 / cells) * lat_scale)


def score_bits(score: float) -> int:
    """C's ``(uint64_t)score`` as gcc compiles it on x86-64 (out-of-range
    values give the 'integer indefinite'), so any score decodes as in Redis."""
    if score < 9223372036854775808.0:
        whole = int(score) if score >= -9223372036854775808.0 else -(1 << 63)
        return whole & _U64
    rest = score - 9223372036854775808.0
    whole = int(rest) if rest < 9223372036854775808.0 else -(1 << 63)
    return (whole & _U64) ^ (1 << 63)


def score_as_long_long(score: float) -> int:
    """C's ``(long long)score`` (WITHHASH's integer)."""
    if -9223372036854775808.0 <= score < 9223372036854775808.0:
        return int(score)
    return -(1 << 63)


_CELLS = float(1 << STEP_MAX)
_LAT_SCALE = LAT_MAX - LAT_MIN
_LON_SCALE = LON_MAX - LON_MIN


def latitude_of(bits: int) -> float:
    """The latitude of a 52-bit cell's centre (decode's arithmetic, one axis)."""
    cell = _squash(bits)
    low = LAT_MIN + (cell * 1.0 / _CELLS) * _LAT_SCALE
    high = LAT_MIN + (((cell + 1) & 0xFFFFFFFF) * 1.0 / _CELLS) * _LAT_SCALE
    return min(max((low + high) / 2, LAT_MIN), LAT_MAX)


def longitude_of(bits: int) -> float:
    """The longitude of a 52-bit cell's centre."""
    cell = _squash(bits >> 1)
    low = LON_MIN + (cell * 1.0 / _CELLS) * _LON_SCALE
    high = LON_MIN + (((cell + 1) & 0xFFFFFFFF) * 1.0 / _CELLS) * _LON_SCALE
    return min(max((low + high) / 2, LON_MIN), LON_MAX)


def position(score: float) -> tuple:
    """(lon, lat) of a stored score: its cell's centre, kept inside the ranges."""
    bits = score_bits(score)
    return longitude_of(bits), latitude_of(bits)


def reach(lat: float, half_height_m: float, half_width_m: float, circle: bool) -> tuple:
    """Bounds on how far (in degrees) a match can lie from the centre:
    ``(latitude, longitude or None)``, each a little wider than the truth
    (1e-7 relative and absolute), so a search can skip points beyond them
    before the exact test and still find exactly what Redis finds.

    A point at great-circle angle d from the centre has its latitude within
    d of the centre's, and ``hav d = hav dlat + cos lat1 cos lat2 hav dlon``
    bounds its longitude while the shape stays clear of the pole; a box's
    east-west test (``cos lat2 * sin(dlon/2) <= sin(w/2)``) likewise.
    """
    slack = 1.0 + 1e-7
    height = half_height_m / EARTH_RADIUS_IN_METERS
    width = half_width_m / EARTH_RADIUS_IN_METERS
    lat_reach = height / DEG_TO_RAD * slack + 1e-7
    polemost = (abs(lat) + lat_reach) * DEG_TO_RAD
    if not math.isfinite(width) or width >= math.pi or polemost >= math.pi / 2 - 1e-6:
        return lat_reach, None
    if circle:
        bound = math.sin(width / 2) ** 2 / (math.cos(lat * DEG_TO_RAD) * math.cos(polemost))
        half_sine = math.sqrt(bound) if bound < 1 else None
    else:
        bound = math.sin(width / 2) / math.cos(polemost)
        half_sine = bound if bound < 1 else None
    if half_sine is None:
        return lat_reach, None
    return lat_reach, 2 * math.asin(half_sine) / DEG_TO_RAD * slack + 1e-7


def geohash_string(score: float) -> bytes:
    """GEOHASH's 11 characters: the decoded point re-encoded over the
    standard latitude range -90..90, 5 bits a character, the 11th always '0'."""
    lon, lat = position(score)
    bits = encode(lon, lat, STEP_MAX, -90.0, 90.0)
    chars = bytearray()
    for i in range(10):
        chars.append(_BASE32[(bits >> (52 - (i + 1) * 5)) & 0x1F])
    chars.append(_BASE32[0])
    return bytes(chars)


def distance(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Metres along a great circle (haversine, Redis 7.0's formula)."""
    lat1r = lat1 * DEG_TO_RAD
    lon1r = lon1 * DEG_TO_RAD
    lat2r = lat2 * DEG_TO_RAD
    lon2r = lon2 * DEG_TO_RAD
    u = _c_sin((lat2r - lat1r) / 2)
    v = _c_sin((lon2r - lon1r) / 2)
    return 2.0 * EARTH_RADIUS_IN_METERS * c_asin(
        c_sqrt(u * u + _c_cos(lat1r) * _c_cos(lat2r) * v * v))


def _move(bits: int, step: int, lon_dir: int, lat_dir: int) -> int:
    """The neighbouring cell, one to the east/west and north/south (wrapping)."""
    if lon_dir:
        lon = bits & _ODD
        lat = bits & _EVEN
        fill = _EVEN >> (64 - step * 2)
        lon = lon + (fill + 1) if lon_dir > 0 else (lon | fill) - (fill + 1)
        bits = (lon & (_ODD >> (64 - step * 2))) | lat
    if lat_dir:
        lon = bits & _ODD
        lat = bits & _EVEN
        fill = _ODD >> (64 - step * 2)
        lat = lat + (fill + 1) if lat_dir > 0 else (lat | fill) - (fill + 1)
        bits = lon | (lat & (_EVEN >> (64 - step * 2)))
    return bits


_DIRECTIONS = ((0, 0), (0, 1), (0, -1), (1, 0), (-1, 0), (1, 1), (-1, 1), (1, -1), (-1, -1))


def _cells(bits: int, step: int) -> list:
    return [_move(bits, step, lon_dir, lat_dir) for lon_dir, lat_dir in _DIRECTIONS]


def estimate_step(radius_m: float, lat: float) -> int:
    """geohashEstimateStepsByRadius: the finest step whose cells still cover
    the radius, one or two coarser towards the poles (beyond 66 and 80 degrees)."""
    if radius_m == 0:
        return STEP_MAX
    step = 1
    while radius_m < MERCATOR_MAX:
        radius_m *= 2
        step += 1
    step -= 2
    if lat > 66 or lat < -66:
        step -= 1
        if lat > 80 or lat < -80:
            step -= 1
    return min(max(step, 1), STEP_MAX)


def bounding_box(lon: float, lat: float, half_width_m: float, half_height_m: float) -> tuple:
    """(min_lon, min_lat, max_lon, max_lat) around the centre; the
    longitude span is taken at the edge nearer the pole."""
    lat_delta = (half_height_m / EARTH_RADIUS_IN_METERS) / DEG_TO_RAD
    lon_delta_top = (half_width_m / EARTH_RADIUS_IN_METERS
                     / _c_cos((lat + lat_delta) * DEG_TO_RAD)) / DEG_TO_RAD
    lon_delta_bottom = (half_width_m / EARTH_RADIUS_IN_METERS
                        / _c_cos((lat - lat_delta) * DEG_TO_RAD)) / DEG_TO_RAD
    lon_delta = lon_delta_bottom if lat < 0 else lon_delta_top
    return lon - lon_delta, lat - lat_delta, lon + lon_delta, lat + lat_delta


def search_cells(lon: float, lat: float, radius_m: float, box: tuple) -> list:
    """geohashCalculateAreasByShapeWGS84: the cells to scan, as ``(bits,
    step)`` in Redis's order (centre, N, S, E, W, NE, NW, SE, SW), None for
    those that cannot hold a match.  ``radius_m`` is the circle's radius or
    the box's half diagonal, ``box`` the bounding box (see bounding_box)."""
    min_lon, min_lat, max_lon, max_lat = box
    step = estimate_step(radius_m, lat)
    centre = encode(lon, lat, step)
    cells = _cells(centre, step)
    north, south = decode(cells[NORTH], step), decode(cells[SOUTH], step)
    east, west = decode(cells[EAST], step), decode(cells[WEST], step)
    if step > 1 and (north[3] < max_lat or south[2] > min_lat or
                     east[1] < max_lon or west[0] > min_lon):
        step -= 1
        centre = encode(lon, lat, step)
        cells = _cells(centre, step)
    found = list(cells)
    if step >= 2:
        area = decode(centre, step)
        if area[2] < min_lat:
            found[SOUTH] = found[SOUTH_WEST] = found[SOUTH_EAST] = None
        if area[3] > max_lat:
            found[NORTH] = found[NORTH_EAST] = found[NORTH_WEST] = None
        if area[0] < min_lon:
            found[WEST] = found[SOUTH_WEST] = found[NORTH_WEST] = None
        if area[1] > max_lon:
            found[EAST] = found[SOUTH_EAST] = found[NORTH_EAST] = None
    return [None if bits is None else (bits, step) for bits in found]


def score_range(cell: tuple) -> tuple:
    """The scores ``[low, high)`` of the points inside a cell."""
    bits, step = cell
    shift = 52 - step * 2
    return float(bits << shift), float((bits + 1) << shift)
