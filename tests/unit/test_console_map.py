"""The console's regency map: projection, Voronoi cells, shipped data for every regency."""

from __future__ import annotations

import itertools
import math
import re
import time

import pytest

from schemas.console_map import (
    MARGIN,
    NOTE,
    WIDTH,
    Point,
    Polygon,
    RegencyMap,
    UnknownRegencyError,
    clip_half_plane,
    fit_projection,
    polygon_area,
    regency_map,
    regency_map_shipped,
    svg_path,
    voronoi_cells,
)
from schemas.districts import Centroid, load_districts
from schemas.extents import Extent, load_extents
from schemas.regions import Level, Region, RegionMaster
from schemas.villages import VillagePoint, load_village_points

JEMBER = "35.09"
NUMBER = r"-?\d+(?:\.\d)?"


def parse_path(path: str) -> Polygon:
    """The polygon of an ``M x,y L x,y ... Z`` path, checking its exact form on the way."""
    assert re.fullmatch(rf"M {NUMBER},{NUMBER}( L {NUMBER},{NUMBER})+ Z", path), path
    return [(float(x), float(y)) for x, y in re.findall(rf"({NUMBER}),({NUMBER})", path)]


def intersection_area(a: Polygon, b: Polygon) -> float:
    """Area of convex ``a`` ∩ convex ``b``: ``a`` clipped by every edge of ``b``."""
    orientation = 1.0 if _signed_area(b) > 0 else -1.0
    clipped = list(a)
    for (x0, y0), (x1, y1) in zip(b, b[1:] + b[:1], strict=True):
        # inside = left of the edge for counter-clockwise b: cross((p1-p0),(p-p0)) >= 0
        nx, ny = (y1 - y0) * orientation, -(x1 - x0) * orientation
        clipped = clip_half_plane(clipped, nx, ny, nx * x0 + ny * y0)
    return polygon_area(clipped) if len(clipped) >= 3 else 0.0


def _signed_area(polygon: Polygon) -> float:
    return sum(
        x0 * y1 - x1 * y0
        for (x0, y0), (x1, y1) in zip(polygon, polygon[1:] + polygon[:1], strict=True)
    )


def inside(point: Point, polygon: Polygon, tolerance: float = 1e-9) -> bool:
    """Whether ``point`` lies in convex ``polygon`` or within ``tolerance`` units of it.

    A negative tolerance asks for a point at least that deep inside.
    """
    orientation = 1.0 if _signed_area(polygon) > 0 else -1.0
    for (x0, y0), (x1, y1) in zip(polygon, polygon[1:] + polygon[:1], strict=True):
        length = math.hypot(x1 - x0, y1 - y0)
        if length == 0:
            continue
        cross = (x1 - x0) * (point[1] - y0) - (y1 - y0) * (point[0] - x0)
        if orientation * cross / length < -tolerance:
            return False
    return True


@pytest.fixture(scope="module")
def centroids() -> dict[str, Centroid]:
    return load_districts()


@pytest.fixture(scope="module")
def extents() -> dict[str, Extent]:
    return load_extents()


@pytest.fixture(scope="module")
def villages() -> dict[str, tuple[VillagePoint, ...]]:
    return load_village_points()


@pytest.fixture(scope="module")
def jember(
    regions: RegionMaster,
    centroids: dict[str, Centroid],
    extents: dict[str, Extent],
    villages: dict[str, tuple[VillagePoint, ...]],
) -> RegencyMap:
    return regency_map(
        JEMBER, regions=regions, centroids=centroids, extents=extents, villages=villages[JEMBER]
    )


def box_area(view_box: list[float]) -> float:
    return (view_box[2] - 2 * MARGIN) * (view_box[3] - 2 * MARGIN)


def test_every_jember_district_gets_a_cell_and_its_label_lies_in_it(jember: RegencyMap) -> None:
    assert jember["regency_name"] == "Kabupaten Jember"
    assert [d["code"] for d in jember["districts"]] == [f"35.09.{n:02d}" for n in range(1, 32)]
    assert jember["unplaced"] == []
    assert jember["note"] == NOTE
    kencong = next(d for d in jember["districts"] if d["code"] == "35.09.02")
    assert (kencong["name"], kencong["bps_code"]) == ("Kencong", "3509010")
    assert sum(d["villages"] for d in jember["districts"]) == 248
    for district in jember["districts"]:
        cell = parse_path(district["path"])
        label = (district["label"][0], district["label"][1])
        assert inside(label, cell, tolerance=0.2), district["code"]


def test_jember_cells_tile_the_box_without_overlap(jember: RegencyMap) -> None:
    cells = [parse_path(d["path"]) for d in jember["districts"]]
    total = box_area(jember["view_box"])
    assert sum(polygon_area(cell) for cell in cells) == pytest.approx(total, rel=2e-3)
    for a, b in itertools.combinations(cells, 2):
        assert intersection_area(a, b) < 1.0  # rounding to 0.1 units only: a sliver at most
    # and a grid of sample points each falls in exactly one cell (points near an edge skipped)
    view_w, view_h = jember["view_box"][2], jember["view_box"][3]
    for gx in range(1, 40):
        for gy in range(1, 40):
            p = (MARGIN + (view_w - 2 * MARGIN) * gx / 40, MARGIN + (view_h - 2 * MARGIN) * gy / 40)
            hits = [i for i, cell in enumerate(cells) if inside(p, cell, tolerance=-0.3)]
            near = [i for i, cell in enumerate(cells) if inside(p, cell, tolerance=0.3)]
            assert len(hits) <= 1 and len(near) >= 1, p


def test_exact_cells_partition_the_box() -> None:
    """The unrounded geometry: areas add up exactly and no two cells share area."""
    sites = [(10.0 + (i * 37) % 80, 5.0 + (i * 53) % 60) for i in range(40)]
    box = [(0.0, 0.0), (100.0, 0.0), (100.0, 70.0), (0.0, 70.0)]
    cells = voronoi_cells(sites, box)
    assert sum(polygon_area(c) for c in cells) == pytest.approx(7000.0, rel=1e-9)
    for a, b in itertools.combinations(cells, 2):
        assert intersection_area(a, b) == pytest.approx(0.0, abs=1e-6)
    for site, cell in zip(sites, cells, strict=True):
        assert inside(site, cell)
        nearest = min(sites, key=lambda s: math.dist(s, cell[0]))
        assert math.dist(nearest, cell[0]) == pytest.approx(math.dist(site, cell[0]))


def test_village_points_fall_inside_the_view_box(jember: RegencyMap) -> None:
    markers = [m for found in jember["villages"].values() for m in found]
    assert len(markers) == 248
    assert set(jember["villages"]) == {d["code"] for d in jember["districts"]}
    _, _, width, height = jember["view_box"]
    for marker in markers:
        assert MARGIN <= marker["x"] <= width - MARGIN and MARGIN <= marker["y"] <= height - MARGIN
    cakru = next(m for m in jember["villages"]["35.09.02"] if m["code"] == "35.09.02.2001")
    assert cakru["name"] == "Cakru"


def test_every_regency_of_the_master_has_a_map_quickly(
    regions: RegionMaster,
    centroids: dict[str, Centroid],
    extents: dict[str, Extent],
    villages: dict[str, tuple[VillagePoint, ...]],
) -> None:
    codes = sorted(c for c, r in regions.by_code.items() if r.level is Level.REGENCY)
    assert len(codes) == 514
    started = time.perf_counter()
    maps = [
        regency_map(
            c, regions=regions, centroids=centroids, extents=extents, villages=villages.get(c, ())
        )
        for c in codes
    ]
    elapsed = time.perf_counter() - started
    assert elapsed < 10, f"{elapsed:.1f} s for every regency"
    unplaced = 0
    for code, found in zip(codes, maps, strict=True):
        expected = [d.code for d in regions.under(code, Level.DISTRICT)]
        listed = [d["code"] for d in found["districts"]] + [d["code"] for d in found["unplaced"]]
        assert sorted(listed) == expected, code  # never a district dropped or doubled
        assert found["districts"], code  # every regency places at least one district
        assert all(d["path"].startswith("M ") for d in found["districts"]), code
        total = sum(polygon_area(parse_path(d["path"])) for d in found["districts"])
        assert total == pytest.approx(box_area(found["view_box"]), rel=1e-2), code
        _, _, width, height = found["view_box"]
        for marker in (m for ms in found["villages"].values() for m in ms):
            assert 0 <= marker["x"] <= width and 0 <= marker["y"] <= height, (code, marker)
        unplaced += len(found["unplaced"])
    assert unplaced == 60  # the districts created after the source's codes (docs/map-data.md)


def test_projection_keeps_north_up_and_the_aspect() -> None:
    box = Extent(south=-8.6, west=113.2, north=-7.9, east=114.1)
    projection = fit_projection(box)
    north = projection.point(-7.9, 113.5)
    south = projection.point(-8.6, 113.5)
    assert north[1] < south[1] and north[0] == south[0]
    west, east = projection.point(-8.2, 113.2), projection.point(-8.2, 114.1)
    assert west[0] == pytest.approx(MARGIN) and east[0] == pytest.approx(WIDTH - MARGIN)
    # a kilometre is as long east as north: 0.1° of latitude vs 0.1°/cos(lat) of longitude
    squeeze = math.cos(math.radians(-8.25))
    step_north = projection.point(-8.2, 113.5)[1] - projection.point(-8.1, 113.5)[1]
    step_east = projection.point(-8.2, 113.5 + 0.1 / squeeze)[0] - projection.point(-8.2, 113.5)[0]
    assert step_north == pytest.approx(step_east)
    expected_height = 2 * MARGIN + (WIDTH - 2 * MARGIN) * 0.7 / (0.9 * squeeze)
    assert projection.height == pytest.approx(expected_height)


def synthetic(points: dict[str, tuple[float, float]], names: list[str]) -> RegencyMap:
    regions = RegionMaster.from_regions(
        [
            Region(Level.PROVINCE, "99", None, "Test"),
            Region(Level.REGENCY, "99.01", "99", "Kabupaten Uji"),
            *(Region(Level.DISTRICT, f"99.01.{n}", "99.01", f"Distrik {n}") for n in names),
        ]
    )
    centroids = {code: Centroid(lat, lon, 1) for code, (lat, lon) in points.items()}
    extents = {"99.01": Extent(south=-1.0, west=100.0, north=1.0, east=102.0)}
    return regency_map("99.01", regions=regions, centroids=centroids, extents=extents, villages=())


def test_one_district_gets_the_whole_box_and_one_without_a_centroid_is_unplaced() -> None:
    found = synthetic({"99.01.01": (0.2, 100.5)}, ["01", "02"])
    assert [d["code"] for d in found["districts"]] == ["99.01.01"]
    assert found["unplaced"] == [{"code": "99.01.02", "name": "Distrik 02"}]
    _, _, width, height = found["view_box"]
    assert width == WIDTH and height == pytest.approx(2 * MARGIN + (WIDTH - 2 * MARGIN), abs=0.1)
    assert (
        found["districts"][0]["path"]
        == f"M 10,10 L 990,10 L 990,{height - 10:g} L 10,{height - 10:g} Z"
    )


def test_two_districts_split_the_box_at_their_bisector() -> None:
    found = synthetic({"99.01.01": (0.0, 100.5), "99.01.02": (0.0, 101.5)}, ["01", "02"])
    west, east = (parse_path(d["path"]) for d in found["districts"])
    assert {x for x, _ in west} == {10.0, 500.0} and {x for x, _ in east} == {500.0, 990.0}
    assert polygon_area(west) == pytest.approx(polygon_area(east))
    assert found["districts"][0]["label"][0] < 500 < found["districts"][1]["label"][0]


def test_coincident_centroids_still_get_a_cell_each() -> None:
    found = synthetic({"99.01.01": (0.0, 101.0), "99.01.02": (0.0, 101.0)}, ["01", "02"])
    areas = [polygon_area(parse_path(d["path"])) for d in found["districts"]]
    assert all(area > 0 for area in areas)
    assert sum(areas) == pytest.approx(box_area(found["view_box"]), rel=1e-3)


def test_a_point_outside_the_extent_widens_the_box_instead_of_falling_off() -> None:
    found = synthetic({"99.01.01": (0.0, 101.0), "99.01.02": (1.5, 101.0)}, ["01", "02"])
    _, _, width, height = found["view_box"]
    for district in found["districts"]:
        x, y = district["label"]
        assert MARGIN <= x <= width - MARGIN and MARGIN <= y <= height - MARGIN


@pytest.mark.parametrize("code", ["35.99", "35.09.02", "35", "", "../etc"])
def test_an_unknown_regency_is_a_clear_error(code: str) -> None:
    with pytest.raises(UnknownRegencyError, match="not a regency"):
        regency_map_shipped(code)


def test_the_shipped_map_is_built_once_per_regency() -> None:
    first = regency_map_shipped(JEMBER)
    assert regency_map_shipped(JEMBER) is first
    assert len(first["districts"]) == 31


def test_svg_path_rounds_to_one_decimal_and_merges_repeated_vertices() -> None:
    assert svg_path([(0.04, 1.0), (0.01, 1.04), (2.25, -0.04), (3.0, 4.96)]) == (
        "M 0,1 L 2.2,0 L 3,5 Z"
    )
    assert svg_path([]) == ""
