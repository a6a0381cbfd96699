"""The console's regency map: schematic district cells and village markers, as JSON-ready data.

No openly licensed kecamatan polygons are reachable (``docs/map-data.md``),
so the map is schematic and says so: each district of the regency gets the
Voronoi cell of its centroid (``schemas/districts.py``), clipped to the
regency's extent box (``schemas/extents.py``). The cells tile the box without
gaps or overlaps, so coverage coloured per district reads as a map; a box
clip is crude at coasts but honest. Villages are markers at their points
(``schemas/villages.py``) for the zoomed-in district view.

Everything here is pure and computed in the gateway from shipped package data;
a regency has a few dozen districts, so the cells are computed by clipping the
box with every other centroid's perpendicular bisector (Sutherland-Hodgman,
O(n²) with an early stop) rather than with a Delaunay library.

Coordinates are screen units of an SVG ``viewBox``: an equirectangular
projection with longitude scaled by the cosine of the box's mean latitude (so
a kilometre east is as long as a kilometre north), north up, fitted into a
width of 1000 with a small margin, rounded to one decimal.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TypedDict

from schemas.districts import Centroid, load_districts
from schemas.extents import Extent, load_extents
from schemas.regions import Level, RegionMaster, load_regions
from schemas.villages import VillagePoint, regency_village_points

WIDTH = 1000.0
MARGIN = 10.0
#: Padding when a regency has no extent and its box comes from its own points (as extents.PAD_KM).
FALLBACK_PAD_KM = 15.0
NOTE = (
    "district areas approximate: Voronoi cells of village-point centroids, clipped to the "
    "regency's extent (source: geografis 1.3.2, MIT)"
)

Point = tuple[float, float]
Polygon = list[Point]


class UnknownRegencyError(LookupError):
    """A code that is no regency of the region master (the gateway answers 404)."""


class DistrictCell(TypedDict):
    """A placed district: its cell as an SVG path, its label point, its village points."""

    code: str
    name: str
    bps_code: str | None
    path: str
    label: list[float]
    villages: int


class UnplacedDistrict(TypedDict):
    """A district of the master without a centroid, listed beside the map."""

    code: str
    name: str


class VillageMarker(TypedDict):
    """A village's point, in view-box units (no PII: a public place name and code)."""

    code: str
    name: str
    x: float
    y: float


class RegencyMap(TypedDict):
    """The whole answer of ``GET /console/api/map`` (JSON-ready)."""

    regency: str
    regency_name: str
    view_box: list[float]
    districts: list[DistrictCell]
    unplaced: list[UnplacedDistrict]
    villages: dict[str, list[VillageMarker]]
    note: str


@dataclass(frozen=True, slots=True)
class Projection:
    """Latitude/longitude → view-box units: x east, y south (north up), equal km per unit."""

    west: float
    north: float
    x_scale: float  # units per degree of longitude (already times cos(mean latitude))
    y_scale: float  # units per degree of latitude
    margin: float
    width: float
    height: float

    def point(self, lat: float, lon: float) -> Point:
        return (
            self.margin + (lon - self.west) * self.x_scale,
            self.margin + (self.north - lat) * self.y_scale,
        )

    def box(self, extent: Extent) -> Polygon:
        """The extent as a clockwise-on-screen rectangle."""
        (x0, y0), (x1, y1) = (
            self.point(extent.north, extent.west),
            self.point(extent.south, extent.east),
        )
        return [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]


def fit_projection(extent: Extent, width: float = WIDTH, margin: float = MARGIN) -> Projection:
    """Fit ``extent`` into ``width`` units (plus margins); the height follows the aspect."""
    squeeze = math.cos(math.radians((extent.south + extent.north) / 2))
    span_x = max((extent.east - extent.west) * squeeze, 1e-9)
    scale = (width - 2 * margin) / span_x
    height = 2 * margin + (extent.north - extent.south) * scale
    return Projection(extent.west, extent.north, scale * squeeze, scale, margin, width, height)


def clip_half_plane(polygon: Sequence[Point], a: float, b: float, c: float) -> Polygon:
    """The part of a convex polygon where ``a*x + b*y <= c`` (one Sutherland-Hodgman pass)."""
    out: Polygon = []
    if not polygon:
        return out
    prev = polygon[-1]
    prev_side = a * prev[0] + b * prev[1] - c
    for cur in polygon:
        side = a * cur[0] + b * cur[1] - c
        if (side <= 0) != (prev_side <= 0):
            t = prev_side / (prev_side - side)
            out.append((prev[0] + t * (cur[0] - prev[0]), prev[1] + t * (cur[1] - prev[1])))
        if side <= 0:
            out.append(cur)
        prev, prev_side = cur, side
    return out


def polygon_area(polygon: Sequence[Point]) -> float:
    """Unsigned shoelace area."""
    twice = 0.0
    for i, (x0, y0) in enumerate(polygon):
        x1, y1 = polygon[(i + 1) % len(polygon)]
        twice += x0 * y1 - x1 * y0
    return abs(twice) / 2


def _separate(sites: Sequence[Point]) -> list[Point]:
    """Coincident sites nudged apart (a hundredth of a unit east each) so each gets a cell."""
    seen: dict[Point, int] = {}
    out: list[Point] = []
    for site in sites:
        repeats = seen.get(site, 0)
        seen[site] = repeats + 1
        out.append((site[0] + 0.01 * repeats, site[1]) if repeats else site)
    return out


def voronoi_cells(sites: Sequence[Point], box: Sequence[Point]) -> list[Polygon]:
    """Each site's Voronoi cell clipped to the convex ``box`` (which should contain the sites).

    A cell is the box cut by the bisector with every other site, nearest
    first; once the nearest remaining site is farther than twice the cell's
    radius, no bisector can cut the cell any more, so the loop stops early.
    """
    points = _separate(sites)
    cells: list[Polygon] = []
    for i, (sx, sy) in enumerate(points):
        others = sorted(
            (math.hypot(ox - sx, oy - sy), ox, oy) for j, (ox, oy) in enumerate(points) if j != i
        )
        cell = list(box)
        for distance, ox, oy in others:
            radius = max((math.hypot(x - sx, y - sy) for x, y in cell), default=0.0)
            if distance > 2 * radius:
                break
            a, b = ox - sx, oy - sy
            cell = clip_half_plane(cell, a, b, (ox * ox + oy * oy - sx * sx - sy * sy) / 2)
        cells.append(cell)
    return cells


def _round(value: float) -> float:
    rounded = round(value, 1)
    return rounded + 0.0  # -0.0 → 0.0


def _number(value: float) -> str:
    text = f"{_round(value):.1f}"
    return text[:-2] if text.endswith(".0") else text


def svg_path(polygon: Sequence[Point]) -> str:
    """``M x,y L x,y ... Z`` at one decimal, vertices that round together merged."""
    vertices: list[str] = []
    for x, y in polygon:
        vertex = f"{_number(x)},{_number(y)}"
        if not vertices or vertices[-1] != vertex:
            vertices.append(vertex)
    if len(vertices) > 1 and vertices[0] == vertices[-1]:
        vertices.pop()
    if not vertices:
        return ""
    return "M " + " L ".join(vertices) + " Z"


def _bounds(points: Iterable[tuple[float, float]], extent: Extent | None) -> Extent | None:
    """The extent widened to hold every point (so every cell and marker is on the map)."""
    lats_lons = list(points)
    if extent is None:
        if not lats_lons:
            return None
        lats, lons = [p[0] for p in lats_lons], [p[1] for p in lats_lons]
        return Extent(min(lats), min(lons), max(lats), max(lons)).padded(FALLBACK_PAD_KM)
    if not lats_lons:
        return extent
    lats, lons = [p[0] for p in lats_lons], [p[1] for p in lats_lons]
    return Extent(
        min(extent.south, *lats),
        min(extent.west, *lons),
        max(extent.north, *lats),
        max(extent.east, *lons),
    )


def regency_map(
    regency_code: str,
    *,
    regions: RegionMaster,
    centroids: Mapping[str, Centroid],
    extents: Mapping[str, Extent],
    villages: Iterable[VillagePoint],
) -> RegencyMap:
    """The regency's map: a cell per placed district, the unplaced listed, villages as markers.

    Every district of the master appears once, in ``districts`` (it has a
    centroid) or in ``unplaced`` (it has none: created after the source's
    codes), so the console's totals never lose a district. ``villages`` may
    hold other regencies' points; only this regency's are drawn.
    """
    regency = regions.get(regency_code)
    if regency is None or regency.level is not Level.REGENCY:
        raise UnknownRegencyError(f"{regency_code!r} is not a regency of the region master")
    districts = regions.under(regency_code, Level.DISTRICT)
    placed = [d for d in districts if d.code in centroids]
    own = {d.code for d in districts}
    points = [v for v in villages if v.district_code in own]
    box = _bounds(
        [(centroids[d.code].lat, centroids[d.code].lon) for d in placed]
        + [(v.lat, v.lon) for v in points],
        extents.get(regency_code),
    )
    result = RegencyMap(
        regency=regency_code,
        regency_name=regency.name,
        view_box=[0, 0, WIDTH, WIDTH],
        districts=[],
        unplaced=[
            UnplacedDistrict(code=d.code, name=d.name) for d in districts if d.code not in centroids
        ],
        villages={},
        note=NOTE,
    )
    if box is None:  # nothing to place at all: every district is listed beside the map
        return result
    projection = fit_projection(box)
    result["view_box"] = [0, 0, WIDTH, _round(projection.height)]
    sites = [projection.point(centroids[d.code].lat, centroids[d.code].lon) for d in placed]
    for district, site, cell in zip(
        placed, sites, voronoi_cells(sites, projection.box(box)), strict=True
    ):
        result["districts"].append(
            DistrictCell(
                code=district.code,
                name=district.name,
                bps_code=district.bps_code,
                path=svg_path(cell),
                label=[_round(site[0]), _round(site[1])],
                villages=centroids[district.code].villages,
            )
        )
    for village in sorted(points, key=lambda v: v.code):
        x, y = projection.point(village.lat, village.lon)
        known = regions.get(village.code)
        result["villages"].setdefault(village.district_code, []).append(
            VillageMarker(
                code=village.code,
                name=known.name if known else village.code,
                x=_round(x),
                y=_round(y),
            )
        )
    return result


@lru_cache(maxsize=1)
def _shipped_sources() -> tuple[RegionMaster, dict[str, Centroid], dict[str, Extent]]:
    return load_regions(), load_districts(), load_extents()


@lru_cache(maxsize=64)
def regency_map_shipped(regency_code: str) -> RegencyMap:
    """The regency's map from the shipped files, built once per regency and process.

    The result is shared between callers: read it, serialise it, never mutate it.
    Raises :class:`UnknownRegencyError` (not cached) for a code the master lacks.
    """
    regions, centroids, extents = _shipped_sources()
    return regency_map(
        regency_code,
        regions=regions,
        centroids=centroids,
        extents=extents,
        villages=regency_village_points(regency_code),
    )
