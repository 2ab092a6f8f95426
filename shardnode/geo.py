"""Geo commands (Redis's geo.c) over sorted sets.

A geo index is a plain :class:`shardnode.zsets.SortedSet` whose scores are
52-bit geohashes (:mod:`shardnode.geohash`), so every sorted-set command
works on it and DUMP/RESTORE need nothing more.  GEOADD is ZADD with scores
computed from the coordinates, and is journalled as the ZADD it runs, as
Redis propagates it.

Searches (GEOSEARCH, GEORADIUS and their variants, one parser for all as in
Redis's georadiusGeneric) scan the score ranges of up to nine cells in
Redis's order, keep the points inside the circle or box, and sort them by
distance when asked (or when COUNT is given without ANY).  A full sort is
stable, as glibc's qsort (a merge sort) is; when COUNT keeps fewer points
than matched, Redis sorts only the kept positions with its partial
quicksort (pqsort.c, Bentley and McIlroy's), and :func:`partial_sort` makes
the same moves, so points at exactly the same distance come out in Redis's
order too.

Replies print as Redis does: distances with four decimals (a bulk string in
both protocols), coordinates as ``%.17Lf`` with trailing zeros cut in RESP2
in RESP2 and as RESP3 doubles printed the same way.
"""

from __future__ import annotations

import math

from cluster import errors
from cluster.args import parse_double, parse_int
from cluster.errors import CommandError
from cluster.resp import NULL_ARRAY, RawReply
from shardnode import geohash
from shardnode.journal import journal_as
from shardnode.registry import handler
from shardnode.zsets import SortedSet, store_result, zadd

_UNITS = {b"m": 1.0, b"km": 1000.0, b"ft": 0.3048, b"mi": 1609.34}


def _word(arg: bytes) -> bytes:
    """An option as C's strcasecmp sees it: up to a NUL byte, any case."""
    return arg.split(b"\x00", 1)[0].lower()


def _lonlat(lon_raw: bytes, lat_raw: bytes) -> tuple:
    """extractLongLatOrReply: two doubles inside the indexable ranges."""
    lon, lat = parse_double(lon_raw), parse_double(lat_raw)
    if lon < geohash.LON_MIN or lon > geohash.LON_MAX or \
            lat < geohash.LAT_MIN or lat > geohash.LAT_MAX:
        raise CommandError(errors.GEO_INVALID_PAIR % (lon, lat))
    return lon, lat


def _unit(raw: bytes) -> float:
    """Metres per unit."""
    conversion = _UNITS.get(_word(raw))
    if conversion is None:
        raise CommandError(errors.GEO_BAD_UNIT)
    return conversion


def _radius(raw: bytes, unit_raw: bytes) -> tuple:
    """(radius, metres per unit) from ``<radius> <unit>``."""
    radius = parse_double(raw, errors.GEO_NEED_RADIUS)
    if radius < 0:
        raise CommandError(errors.GEO_NEGATIVE_RADIUS)
    return radius, _unit(unit_raw)


def _box(width_raw: bytes, height_raw: bytes, unit_raw: bytes) -> tuple:
    """(width, height, metres per unit) from ``<width> <height> <unit>``."""
    width = parse_double(width_raw, errors.GEO_NEED_WIDTH)
    height = parse_double(height_raw, errors.GEO_NEED_HEIGHT)
    if height < 0 or width < 0:
        raise CommandError(errors.GEO_NEGATIVE_BOX)
    return width, height, _unit(unit_raw)


def _member_position(zset: SortedSet, member: bytes) -> tuple:
    score = zset.scores.get(member)
    if score is None:
        raise CommandError(errors.GEO_NO_MEMBER)
    return geohash.position(score)


def _get(conn, key):
    return conn.db.get_typed(key, SortedSet)


def human_coordinate(value: float) -> bytes:
    """A coordinate as RESP2 prints it (ld2string's human form)."""
    text = b"%.17f" % value
    if b"." in text:
        text = text.rstrip(b"0").rstrip(b".")
    return b"0" if text == b"-0" else text


def _coordinate(conn, value: float):
    """RESP2: a bulk string; RESP3: a double, printed in the same human form."""
    text = human_coordinate(value)
    return RawReply(b",%b\r\n" % text) if conn.proto >= 3 else text


def _distance_text(value: float) -> bytes:
    return b"%.4f" % value


# -- GEOADD -----------------------------------------------------------------------


@handler("geoadd")
def geoadd(conn, args):
    """Parse GEOADD's options, turn each point into a score and run ZADD."""
    first = 2
    nx = xx = False
    while first < len(args):
        option = args[first].lower()
        if option == b"nx":
            nx = True
        elif option == b"xx":
            xx = True
        elif option != b"ch":
            break
        first += 1
    if (len(args) - first) % 3 or (nx and xx):
        raise CommandError(errors.SYNTAX)
    zadd_args = [b"zadd", *args[1:first]]
    for i in range(first, len(args), 3):
        lon, lat = _lonlat(args[i], args[i + 1])
        zadd_args.append(b"%d" % geohash.score_of(lon, lat))
        zadd_args.append(args[i + 2])
    keyspace = conn.server.keyspace
    reply = zadd(conn, zadd_args)
    if keyspace.dirty != keyspace.journal.mark:
        journal_as(conn, zadd_args)
    return reply


# -- GEOPOS / GEODIST / GEOHASH --------------------------------------------------


@handler("geopos")
def geopos(conn, args):
    zset = _get(conn, args[1])
    reply = []
    for member in args[2:]:
        score = None if zset is None else zset.scores.get(member)
        if score is None:
            reply.append(NULL_ARRAY)
        else:
            lon, lat = geohash.position(score)
            reply.append([_coordinate(conn, lon), _coordinate(conn, lat)])
    return reply


@handler("geodist")
def geodist(conn, args):
    conversion = 1.0
    if len(args) == 5:
        conversion = _unit(args[4])
    elif len(args) > 5:
        raise CommandError(errors.SYNTAX)
    zset = _get(conn, args[1])
    if zset is None:
        return None
    first, second = zset.scores.get(args[2]), zset.scores.get(args[3])
    if first is None or second is None:
        return None
    lon1, lat1 = geohash.position(first)
    lon2, lat2 = geohash.position(second)
    return _distance_text(geohash.distance(lon1, lat1, lon2, lat2) / conversion)


@handler("geohash")
def geohash_command(conn, args):
    zset = _get(conn, args[1])
    reply = []
    for member in args[2:]:
        score = None if zset is None else zset.scores.get(member)
        reply.append(None if score is None else geohash.geohash_string(score))
    return reply


# -- the searches ---------------------------------------------------------------

# What distinguishes the search commands (Redis's georadiusGeneric flags):
# (where the source key is, what the centre is, STORE/STOREDIST accepted).
_BY_COORDS, _BY_MEMBER, _SEARCH = "coords", "member", "search"
_SEARCHES = {
    "georadius": (_BY_COORDS, True),
    "georadius_ro": (_BY_COORDS, False),
    "georadiusbymember": (_BY_MEMBER, True),
    "georadiusbymember_ro": (_BY_MEMBER, False),
    "geosearch": (_SEARCH, False),
    "geosearchstore": (_SEARCH, False),
}


class _Search:
    """One parsed search request."""

    __slots__ = ("centre", "radius", "width", "height", "conversion", "with_dist",
                 "with_hash", "with_coord", "order", "count", "any", "store", "store_dist")

    def __init__(self):
        self.centre = None
        self.radius = None  # a circle's radius, or None for a box
        self.width = self.height = 0.0
        self.conversion = 1.0
        self.with_dist = self.with_hash = self.with_coord = False
        self.order = None  # None, "asc" or "desc"
        self.count = 0  # 0: unlimited
        self.any = False
        self.store = None
        self.store_dist = False


def _parse_search(conn, args, name: str, zset) -> _Search:
    """georadiusGeneric's parsing, checks in its order (the source key is
    already read, so FROMMEMBER and GEORADIUSBYMEMBER look the member up
    where Redis does)."""
    kind, store_allowed = _SEARCHES[name]
    request = _Search()
    if kind == _BY_COORDS:
        first = 6
        request.centre = _lonlat(args[2], args[3])
        request.radius, request.conversion = _radius(args[4], args[5])
    elif kind == _BY_MEMBER:
        first = 5
        if zset is not None:
            request.centre = _member_position(zset, args[2])
            request.radius, request.conversion = _radius(args[3], args[4])
    else:
        first = 2
        if name == "geosearchstore":
            first = 3
            request.store = args[1]
    from_member = from_lonlat = by_radius = by_box = False
    i = first
    while i < len(args):
        option = _word(args[i])
        left = len(args) - i - 1
        if option == b"withdist":
            request.with_dist = True
        elif option == b"withhash":
            request.with_hash = True
        elif option == b"withcoord":
            request.with_coord = True
        elif option == b"any":
            request.any = True
        elif option in (b"asc", b"desc"):
            request.order = option.decode()
        elif option == b"count" and left >= 1:
            request.count = parse_int(args[i + 1])
            if request.count <= 0:
                raise CommandError(errors.GEO_COUNT_POSITIVE)
            i += 1
        elif option in (b"store", b"storedist") and left >= 1 and store_allowed:
            request.store = args[i + 1]
            request.store_dist = option == b"storedist"
            i += 1
        elif option == b"storedist" and name == "geosearchstore":
            request.store_dist = True
        elif option == b"frommember" and left >= 1 and kind == _SEARCH and not from_lonlat:
            if zset is not None:
                request.centre = _member_position(zset, args[i + 1])
            from_member = True
            i += 1
        elif option == b"fromlonlat" and left >= 2 and kind == _SEARCH and not from_member:
            request.centre = _lonlat(args[i + 1], args[i + 2])
            from_lonlat = True
            i += 2
        elif option == b"byradius" and left >= 2 and kind == _SEARCH and not by_box:
            request.radius, request.conversion = _radius(args[i + 1], args[i + 2])
            by_radius = True
            i += 2
        elif option == b"bybox" and left >= 3 and kind == _SEARCH and not by_radius:
            request.width, request.height, request.conversion = _box(
                args[i + 1], args[i + 2], args[i + 3])
            request.radius = None
            by_box = True
            i += 3
        else:
            raise CommandError(errors.SYNTAX)
        i += 1
    if request.store is not None and (request.with_dist or request.with_hash or
                                      request.with_coord):
        raise CommandError(errors.GEO_STORE_WITH % (
            "GEOSEARCHSTORE" if name == "geosearchstore" else "STORE option in GEORADIUS"))
    command_name = args[0].decode("utf-8", "replace")
    if kind == _SEARCH and not (from_member or from_lonlat):
        raise CommandError(errors.GEO_ONE_FROM % command_name)
    if kind == _SEARCH and not (by_radius or by_box):
        raise CommandError(errors.GEO_ONE_BY % command_name)
    if request.any and not request.count:
        raise CommandError(errors.GEO_ANY_NEEDS_COUNT)
    return request


def find_points(zset: SortedSet, request: _Search) -> list:
    """The points inside the shape, as ``(distance in metres, member, score,
    lon, lat)``, in the order Redis finds them: cell by cell, by score
    within a cell; with ANY, stopping once COUNT points are found."""
    lon, lat = request.centre
    conversion = request.conversion
    if request.radius is not None:
        radius_m = request.radius * conversion
        box = geohash.bounding_box(lon, lat, radius_m, radius_m)
        cover = request.radius * conversion
        inside = _in_circle(lon, lat, radius_m)
        lat_reach, lon_reach = geohash.reach(lat, radius_m, radius_m, True)
    else:
        width_m, height_m = request.width * conversion, request.height * conversion
        box = geohash.bounding_box(lon, lat, conversion * (request.width / 2),
                                   conversion * (request.height / 2))
        half_w, half_h = request.width / 2, request.height / 2
        cover = geohash.c_sqrt(half_w * half_w + half_h * half_h) * conversion
        inside = _in_box(lon, lat, width_m, height_m)
        lat_reach, lon_reach = geohash.reach(lat, height_m / 2, width_m / 2, False)
    latitude_of, longitude_of = geohash.latitude_of, geohash.longitude_of
    limit = request.count if request.any else 0
    found = []
    previous = None  # the last cell scanned after the centre's
    order = zset.order
    for index, cell in enumerate(geohash.search_cells(lon, lat, cover, box)):
        if cell is None:
            continue
        if cell == previous:
            continue  # a huge radius: neighbours can be the same cell
        if found and limit and len(found) >= limit:
            break
        spans = []
        _reachable_spans(order, *cell, lon, lat, lat_reach, lon_reach, spans)
        for score, member in (pair for start, stop in spans for pair in order[start:stop]):
            bits = int(score)  # a cell's scores are small and positive: C's cast
            point_lat = latitude_of(bits)
            if abs(point_lat - lat) > lat_reach:
                continue  # surely outside (geohash.reach), the exact test would say so
            point_lon = longitude_of(bits)
            if lon_reach is not None and _lon_apart(point_lon, lon) > lon_reach:
                continue
            dist = inside(point_lon, point_lat)
            if dist is not None:
                found.append((dist, member, score, point_lon, point_lat))
            if found and limit and len(found) >= limit:
                break
        if index:
            previous = cell
    return found


_SMALL_SPAN = 24  # points a cell may hold before it is worth splitting
_EDGE = 1e-9  # degrees added around a cell: its points' centres lie inside


def _reachable_spans(order, bits, step, lon, lat, lat_reach, lon_reach, spans) -> None:
    """Append to ``spans`` the ``[start, stop)`` positions in ``order`` of
    the cell's points that may lie within reach (geohash.reach), in score
    order: a crowded cell that straddles the reach is split into its four
    quarters (consecutive score ranges), and quarters out of reach are
    skipped, so the points come in the order a scan of the whole cell
    meets them, minus some that the exact test would reject anyway."""
    lon_min, lon_max, lat_min, lat_max = geohash.decode(bits, step)
    if lat_max + _EDGE < lat - lat_reach or lat_min - _EDGE > lat + lat_reach:
        return
    lon_inside = True
    if lon_reach is not None:
        if not lon_min <= lon <= lon_max:
            near = min(_lon_apart(lon, lon_min), _lon_apart(lon, lon_max)) - _EDGE
            if near > lon_reach:
                return
        lon_inside = max(_lon_apart(lon, lon_min), _lon_apart(lon, lon_max)) <= lon_reach
    shift = 52 - step * 2
    start = order.bisect_left((float(bits << shift),))
    stop = order.bisect_left((float((bits + 1) << shift),))
    if start == stop:
        return
    if stop - start <= _SMALL_SPAN or step >= geohash.STEP_MAX or (
            lon_inside and lat - lat_reach <= lat_min and lat_max <= lat + lat_reach):
        spans.append((start, stop))
        return
    for quarter in range(4):
        _reachable_spans(order, (bits << 2) | quarter, step + 1, lon, lat, lat_reach, lon_reach,
                         spans)


def _lon_apart(a: float, b: float) -> float:
    """Degrees between two longitudes, the short way round."""
    apart = abs(a - b)
    return min(apart, 360.0 - apart)


def _distance_of(point) -> float:
    return point[0]


def _in_circle(lon: float, lat: float, radius_m: float):
    """The distance of a point within the circle, else None: geohash.distance
    with the centre's terms computed once (the same operations, so the
    same doubles)."""
    to_rad = geohash.DEG_TO_RAD
    lat1r, lon1r = lat * to_rad, lon * to_rad
    cos_lat1 = math.cos(lat1r)
    sin, cos, sqrt, asin = math.sin, math.cos, math.sqrt, geohash.c_asin
    diameter = 2.0 * geohash.EARTH_RADIUS_IN_METERS

    def inside(point_lon, point_lat):
        lat2r = point_lat * to_rad
        u = sin((lat2r - lat1r) / 2)
        v = sin((point_lon * to_rad - lon1r) / 2)
        dist = diameter * asin(sqrt(u * u + cos_lat1 * cos(lat2r) * v * v))
        return None if dist > radius_m else dist
    return inside


def _in_box(lon: float, lat: float, width_m: float, height_m: float):
    def inside(point_lon, point_lat):
        if geohash.distance(point_lon, point_lat, lon, point_lat) > width_m / 2 or \
                geohash.distance(point_lon, point_lat, point_lon, lat) > height_m / 2:
            return None
        return geohash.distance(lon, lat, point_lon, point_lat)
    return inside


def _compare(a: float, b: float) -> int:
    """Redis's comparator on distances (NaN compares as smaller)."""
    if a > b:
        return 1
    return 0 if a == b else -1


def partial_sort(items: list, key, descending: bool, last: int) -> None:
    """Sort ``items`` in place so that positions 0..``last`` hold what a full
    sort would put there, moving elements exactly as Redis's pqsort does:
    a three-way-partitioning quicksort (median of three, or of three
    medians beyond 40 elements; insertion sort below 7) that only descends
    into partitions overlapping the wanted positions."""
    sign = -1 if descending else 1

    def cmp(i, j):
        return sign * _compare(key(items[i]), key(items[j]))

    def swap(i, j):
        items[i], items[j] = items[j], items[i]

    def median(i, j, k):
        if cmp(i, j) < 0:
            return j if cmp(j, k) < 0 else (k if cmp(i, k) < 0 else i)
        return j if cmp(j, k) > 0 else (i if cmp(i, k) < 0 else k)

    def wanted(start, count):
        return not (last < start or start + count - 1 < 0)

    def sort(base, count):
        while True:
            if count < 7:
                for m in range(base + 1, base + count):
                    i = m
                    while i > base and cmp(i - 1, i) > 0:
                        swap(i, i - 1)
                        i -= 1
                return
            pivot = base + count // 2
            if count > 7:
                low, high = base, base + count - 1
                if count > 40:
                    step = count // 8
                    low = median(low, low + step, low + 2 * step)
                    pivot = median(pivot - step, pivot, pivot + step)
                    high = median(high - 2 * step, high - step, high)
                pivot = median(low, pivot, high)
            swap(base, pivot)
            equal_low = below = base + 1
            above = equal_high = base + count - 1
            while True:
                while below <= above:
                    order = cmp(below, base)
                    if order > 0:
                        break
                    if order == 0:
                        swap(equal_low, below)
                        equal_low += 1
                    below += 1
                while below <= above:
                    order = cmp(above, base)
                    if order < 0:
                        break
                    if order == 0:
                        swap(above, equal_high)
                        equal_high -= 1
                    above -= 1
                if below > above:
                    break
                swap(below, above)
                below += 1
                above -= 1
            end = base + count
            span = min(equal_low - base, below - equal_low)
            for i in range(span):
                swap(base + i, below - span + i)
            span = min(equal_high - above, end - equal_high - 1)
            for i in range(span):
                swap(below + i, end - span + i)
            smaller = below - equal_low
            if smaller > 1 and wanted(base, smaller):
                sort(base, smaller)
            larger = equal_high - above
            if larger > 1 and wanted(end - larger, larger):
                base, count = end - larger, larger
                continue
            return

    sort(0, len(items))


@handler(*_SEARCHES)
def search(conn, args):
    name = args[0].lower().decode()
    zset = _get(conn, args[2] if name == "geosearchstore" else args[1])
    request = _parse_search(conn, args, name, zset)
    if zset is None:
        if request.store is not None:
            conn.db.delete(request.store)
            return 0
        return []
    order = request.order
    if request.count and order is None and not request.any:
        order = "asc"
    points = find_points(zset, request)
    if not points and request.store is None:
        return []
    kept = min(request.count, len(points)) if request.count else len(points)
    if order is not None:
        if kept == len(points):
            points.sort(key=_distance_of, reverse=order == "desc")
        else:
            partial_sort(points, _distance_of, order == "desc", kept - 1)
    del points[kept:]
    conversion = request.conversion
    if request.store is not None:
        if request.store_dist:
            pairs = [(member, dist / conversion) for dist, member, _s, _x, _y in points]
        else:
            pairs = [(member, score) for _d, member, score, _x, _y in points]
        return store_result(conn, request.store, pairs)
    if not (request.with_dist or request.with_hash or request.with_coord):
        return [point[1] for point in points]
    reply = []
    for dist, member, score, point_lon, point_lat in points:
        item = [member]
        if request.with_dist:
            item.append(_distance_text(dist / conversion))
        if request.with_hash:
            item.append(geohash.score_as_long_long(score))
        if request.with_coord:
            item.append([_coordinate(conn, point_lon), _coordinate(conn, point_lat)])
        reply.append(item)
    return reply
