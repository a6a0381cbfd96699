"""Village points: file format, deterministic build, Papua renumbering, the shipped file."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from schemas.extents import Extent, load_extents
from schemas.regions import Level, Region, RegionMaster
from schemas.villages import (
    DEFAULT_VILLAGES_FILE,
    VillageFileError,
    VillagePoint,
    load_village_points,
    parse_village_points,
    points_inside_extents,
    regency_village_points,
    write_village_points,
)
from streams.district_build import villages_for_master

JEMBER = Extent(south=-8.7, west=113.1, north=-7.8, east=114.2)


def test_points_outside_their_regency_or_without_an_extent_are_left_out() -> None:
    kept = points_inside_extents(
        [
            ("35.09.02.2001", -8.30, 113.40),
            ("35.09.02.2002", 4.00, 116.00),  # a geocoding error far outside Jember
            ("35.10.01.2001", -8.20, 114.30),  # a regency without an extent
        ],
        {"35.09": JEMBER},
    )
    assert kept == {"35.09.02.2001": (-8.30, 113.40)}


def test_write_is_sorted_rounded_and_byte_identical_on_rebuild(tmp_path: Path) -> None:
    points = [
        VillagePoint("35.09.19.2004", "35.09.19", -8.0, 113.9),
        VillagePoint("35.09.02.2001", "35.09.02", -8.123456, 113.654321),
    ]
    first, second = tmp_path / "a.csv.gz", tmp_path / "b.csv.gz"
    assert write_village_points(points, first) == 2
    write_village_points(reversed(points), second)
    assert first.read_bytes() == second.read_bytes()
    assert first.read_bytes()[4:8] == b"\0\0\0\0"  # gzip mtime 0
    lines = gzip.decompress(first.read_bytes()).decode().splitlines()
    assert lines == [
        "village_code,district_code,lat,lon",
        "35.09.02.2001,35.09.02,-8.1235,113.6543",
        "35.09.19.2004,35.09.19,-8.0000,113.9000",
    ]
    loaded = load_village_points(first)
    assert list(loaded) == ["35.09"]
    assert loaded["35.09"][0] == VillagePoint("35.09.02.2001", "35.09.02", -8.1235, 113.6543)


@pytest.mark.parametrize(
    "text",
    [
        "code,district_code,lat,lon\n35.09.02.2001,35.09.02,-8.1,113.6\n",
        "village_code,district_code,lat,lon\n35.09.02.2001,35.09.03,-8.1,113.6\n",
        "village_code,district_code,lat,lon\n35.09.02.2001,35.09.02,south,113.6\n",
        "village_code,district_code,lat,lon\n35.09.02.2001,35.09.02,-8.1,213.6\n",
    ],
)
def test_a_malformed_file_is_refused(text: str) -> None:
    with pytest.raises(VillageFileError):
        list(parse_village_points(text.splitlines(keepends=True)))


def test_villages_of_a_renamed_regency_take_the_point_of_their_name() -> None:
    master = RegionMaster.from_regions(
        [
            Region(Level.PROVINCE, "95", None, "Papua Pegunungan"),
            Region(Level.REGENCY, "95.01", "95", "Kabupaten Jayawijaya"),
            Region(Level.DISTRICT, "95.01.01", "95.01", "Wamena"),
            Region(Level.VILLAGE, "95.01.01.1001", "95.01.01", "Wamena Kota"),
            Region(Level.VILLAGE, "95.01.01.2002", "95.01.01", "Sinakma"),
            Region(Level.VILLAGE, "95.01.01.2003", "95.01.01", "Kampung Baru"),
            Region(Level.PROVINCE, "35", None, "Jawa Timur"),
            Region(Level.REGENCY, "35.09", "35", "Kabupaten Jember"),
            Region(Level.DISTRICT, "35.09.02", "35.09", "Kencong"),
            Region(Level.VILLAGE, "35.09.02.2001", "35.09.02", "Cakru"),
            Region(Level.VILLAGE, "35.09.02.2002", "35.09.02", "Paseban"),
        ]
    )
    names = {
        "91.02": "Kabupaten Jayawijaya",
        "91.02.01": "Wamena",
        "91.02.01.1001": "Wamena Kota",
        "91.02.01.2009": "Sinakma",
        "91.03": "Kabupaten Jayapura",
        "91.03.01": "Wamena",
        "91.03.01.2003": "Kampung Baru",  # the same name in another regency must not be taken
        "35.09": "Kabupaten Jember",
        "35.09.02": "Kencong",
        "35.09.02.2001": "Cakru",
        "35.09.02.2002": "Paseban",  # in the package, but its point was filtered out
    }
    points = {
        "91.02.01.1001": (-4.10, 138.95),
        "91.02.01.2009": (-4.08, 138.93),
        "91.03.01.2003": (-2.50, 140.50),
        "35.09.02.2001": (-8.29, 113.36),
    }
    assert sorted(villages_for_master(points, names, master), key=lambda p: p.code) == [
        VillagePoint("35.09.02.2001", "35.09.02", -8.29, 113.36),
        VillagePoint("95.01.01.1001", "95.01.01", -4.10, 138.95),
        VillagePoint("95.01.01.2002", "95.01.01", -4.08, 138.93),
    ]


def test_the_shipped_file_is_small_and_places_villages_of_the_master_in_their_regency(
    regions: RegionMaster,
) -> None:
    assert DEFAULT_VILLAGES_FILE.stat().st_size < 1_000_000  # 755 KB; the brief's bound is 2 MB
    by_regency = load_village_points()
    extents = load_extents()
    total = 0
    for regency, points in by_regency.items():
        for point in points:
            village = regions.get(point.code)
            assert village is not None and village.level is Level.VILLAGE, point.code
            assert village.parent_code == point.district_code
            assert extents[regency].contains(point.lat, point.lon), point.code
        total += len(points)
    villages = regions.count(Level.VILLAGE)
    assert 0.98 * villages <= total <= villages
    assert sum(len(p) for r, p in by_regency.items() if r[:2] in {"93", "94", "95", "96"}) > 5000


def test_one_regency_is_read_from_the_shipped_file() -> None:
    jember = regency_village_points("35.09")
    assert len(jember) == 248
    assert {p.district_code for p in jember} == {f"35.09.{n:02d}" for n in range(1, 32)}
    assert regency_village_points("35.09") is jember
    assert regency_village_points("35.99") == ()
