"""Shelters grouped for a map view by the server: the outreach map's first markers at any
number of shelters.

The page (map/static/markers.js) groups its markers itself once it has the whole list, but at
10,000 shelters that list is 540 KB gzipped: 11 s on a weak phone signal (docs/benchmarks.md,
section 7). Until it has come, the page shows the groups made here for its view: the same
greedy grouping in the same screen pixels (Leaflet's Web Mercator), in the same order (the
list's), so the picture barely moves when the page takes over.

A group says how many shelters it holds and how many places they have free by a fresh or
aging count (None when none has one), and how many have no such count: never 0 for unknown.
Only public places are grouped: a confidential shelter is never on a map, whatever the key.
"""

import itertools
import math
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from server.queries import CURRENT
from server.shapes import SitePublic

TILE_PX = 256  # Leaflet's CRS.EPSG3857: the world is 256 * 2**zoom pixels wide
MAX_LATITUDE = 85.0511287798  # Leaflet's SphericalMercator clamps latitudes to this
# As markers.js: markers nearer than this (screen pixels) would overlap; from SPREAD_ZOOM in,
# every shelter has its own marker.
APART_X = 60
APART_Y = 52
SPREAD_ZOOM = 16
# As live.js and markers.js fit the first view: 32 px of padding each side, not closer than
# zoom 15, in the map's half steps (map/page.py zoomSnap).
FIT_PADDING_PX = 64
FIT_MAX_ZOOM = 15
ZOOM_SNAP = 0.5


class Place(NamedTuple):
    """A shelter as a group sees it."""

    id: int
    lat: float
    lon: float
    free: int | None  # free places by a fresh or aging count; None without one


class Group(NamedTuple):
    places: list[Place]  # the first is where its marker stands

    @property
    def free(self) -> int | None:
        known = [p.free for p in self.places if p.free is not None]
        return sum(known) if known else None

    @property
    def unknown(self) -> int:
        return sum(p.free is None for p in self.places)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """Where its shelters are (a tap zooms to them), as bounds() says it."""
        return bounds(self.places)


def bounds(found: Sequence[Place]) -> tuple[float, float, float, float]:
    """min_lon, min_lat, max_lon, max_lat of some places (at least one)."""
    lons = [p.lon for p in found]
    lats = [p.lat for p in found]
    return min(lons), min(lats), max(lons), max(lats)


def places(items: Iterable[SitePublic]) -> tuple[Place, ...]:
    """The shelters a map may place, in the order given: located and not confidential."""
    return tuple(
        Place(
            s.id,
            s.lat,
            s.lon,
            s.available if s.freshness in CURRENT and s.available is not None else None,
        )
        for s in items
        if not s.confidential and s.lat is not None and s.lon is not None
    )


def project(lat: float, lon: float, zoom: float) -> tuple[float, float]:
    """Screen pixels of a place at `zoom`, as Leaflet's map.project gives them."""
    scale = TILE_PX * 2**zoom
    sin = math.sin(math.radians(max(-MAX_LATITUDE, min(MAX_LATITUDE, lat))))
    return (
        scale * (lon / 360 + 0.5),
        scale * (0.5 - math.log((1 + sin) / (1 - sin)) / (4 * math.pi)),
    )


def fit(found: Sequence[Place], width: int, height: int) -> float:
    """The zoom at which a map `width` x `height` px shows every place, as Leaflet's
    fitBounds gives it with the page's padding, half steps and closest zoom."""
    if not found:
        return 0.0
    points = [project(p.lat, p.lon, 0) for p in found]
    xs, ys = [x for x, _ in points], [y for _, y in points]
    spans = (
        (width - FIT_PADDING_PX, max(xs) - min(xs)),
        (height - FIT_PADDING_PX, max(ys) - min(ys)),
    )
    scales = [max(room, 1) / span for room, span in spans if span > 0]
    zoom = math.log2(min(scales)) if scales else FIT_MAX_ZOOM
    # Leaflet's snapping: to within 1 % of a half step, then down to one
    zoom = round(zoom / (ZOOM_SNAP / 100)) * (ZOOM_SNAP / 100)
    return max(0.0, min(FIT_MAX_ZOOM, math.floor(zoom / ZOOM_SNAP) * ZOOM_SNAP))


def inside(found: Iterable[Place], box: tuple[float, float, float, float]) -> list[Place]:
    """The places in `box` (min_lon, min_lat, max_lon, max_lat)."""
    min_lon, min_lat, max_lon, max_lat = box
    return [p for p in found if min_lon <= p.lon <= max_lon and min_lat <= p.lat <= max_lat]


def group(found: Sequence[Place], zoom: float) -> list[Group]:
    """markers.js's grouping at `zoom`: in the order given, each place not yet in a group
    starts one and takes in every ungrouped place whose marker would overlap its own (closer
    than APART_X by APART_Y pixels); a grid of APART-sized buckets finds those neighbours
    without comparing every pair. A group of one is a shelter with its own marker."""
    pixels = [project(p.lat, p.lon, zoom) for p in found]
    buckets: dict[tuple[int, int], list[int]] = {}
    for n, (x, y) in enumerate(pixels):
        buckets.setdefault((math.floor(x / APART_X), math.floor(y / APART_Y)), []).append(n)

    def overlapping(n: int) -> Iterable[int]:
        """The places in the buckets around place n's whose markers overlap its own."""
        x, y = pixels[n]
        bx, by = math.floor(x / APART_X), math.floor(y / APART_Y)
        for dx, dy in itertools.product((-1, 0, 1), repeat=2):
            for m in buckets.get((bx + dx, by + dy), ()):
                if abs(pixels[m][0] - x) < APART_X and abs(pixels[m][1] - y) < APART_Y:
                    yield m

    taken: set[int] = set()
    groups = []
    for n, place in enumerate(found):
        if n in taken:
            continue
        taken.add(n)
        members = [place]
        if zoom < SPREAD_ZOOM:
            for m in overlapping(n):
                if m not in taken:
                    taken.add(m)
                    members.append(found[m])
        groups.append(Group(members))
    return groups
