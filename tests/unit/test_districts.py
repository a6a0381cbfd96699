"""District centroids: derivation from village points, the file, and the shipped file."""

from __future__ import annotations

from pathlib import Path

import pytest

from schemas.districts import (
    Centroid,
    DistrictFileError,
    district_centroids,
    load_districts,
    parse_districts,
    write_districts,
)
from schemas.extents import Extent, load_extents
from schemas.regions import Level, Region, RegionMaster, load_regions
from streams.district_build import for_master

JEMBER = Extent(south=-8.7, west=113.1, north=-7.8, east=114.2)


def test_a_centroid_is_the_mean_of_its_villages_points() -> None:
    villages = [
        ("35.09.02.2001", -8.30, 113.40),
        ("35.09.02.2002", -8.20, 113.50),
        ("35.09.02.2003", -8.10, 113.60),
        ("35.09.19.2004", -8.00, 113.90),
    ]
    found = district_centroids(villages, {"35.09": JEMBER})
    assert set(found) == {"35.09.02", "35.09.19"}
    kencong = found["35.09.02"]
    assert kencong.villages == 3
    assert kencong.lat == pytest.approx(-8.2) and kencong.lon == pytest.approx(113.5)
    assert found["35.09.19"] == Centroid(-8.0, 113.9, 1)


def test_points_outside_the_regency_or_without_an_extent_are_left_out() -> None:
    villages = [
        ("35.09.02.2001", -8.30, 113.40),
        ("35.09.02.2002", 4.00, 116.00),  # a geocoding error far outside Jember
        ("35.09.03.2001", 0.00, 0.00),  # the only point of its district, and wrong
        ("35.10.01.2001", -8.20, 114.30),  # a regency without an extent
    ]
    found = district_centroids(villages, {"35.09": JEMBER})
    assert found == {"35.09.02": Centroid(-8.3, 113.4, 1)}


def test_write_and_load_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "districts.csv"
    written = {"35.09.02": Centroid(-8.123456, 113.654321, 12), "11.01.01": Centroid(2.9, 97.5, 7)}
    assert write_districts(written, path) == 2
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[1] == "11.01.01,2.9000,97.5000,7"
    assert load_districts(path)["35.09.02"] == Centroid(-8.1235, 113.6543, 12)


@pytest.mark.parametrize(
    "text",
    [
        "code,lat,lon,villages\n35.09.02,-8.1,113.6,3\n",
        "district_code,lat,lon,villages\n35.09.02,south,113.6,3\n",
        "district_code,lat,lon,villages\n35.09.02,-98.1,113.6,3\n",
        "district_code,lat,lon,villages\n35.09.02,-8.1,113.6,0\n",
    ],
)
def test_a_malformed_file_is_refused(text: str) -> None:
    with pytest.raises(DistrictFileError):
        list(parse_districts(text.splitlines(keepends=True)))


def test_districts_of_a_renamed_regency_take_the_centroid_of_their_name() -> None:
    master = RegionMaster.from_regions(
        [
            Region(Level.PROVINCE, "95", None, "Papua Pegunungan"),
            Region(Level.REGENCY, "95.01", "95", "Kabupaten Jayawijaya"),
            Region(Level.DISTRICT, "95.01.01", "95.01", "Wamena"),
            Region(Level.DISTRICT, "95.01.02", "95.01", "Asologaima"),
            Region(Level.DISTRICT, "95.01.03", "95.01", "Distrik Baru"),
        ]
    )
    names = {
        "91.02": "Kabupaten Jayawijaya",
        "91.02.01": "Wamena",
        "91.02.07": "Asologaima",
        "91.03": "Kabupaten Jayapura",
        "91.03.01": "Wamena",  # the same name elsewhere must not be taken
    }
    centroids = {
        "91.02.01": Centroid(-4.1, 138.9, 9),
        "91.02.07": Centroid(-4.0, 138.8, 5),
        "91.03.01": Centroid(-2.5, 140.5, 3),
    }
    assert for_master(centroids, names, master) == {
        "95.01.01": Centroid(-4.1, 138.9, 9),
        "95.01.02": Centroid(-4.0, 138.8, 5),
    }


def test_the_shipped_file_places_every_jember_district_inside_jember() -> None:
    master = load_regions()
    centroids = load_districts()
    jember = load_extents()["35.09"]
    districts = [region.code for region in master.under("35.09", Level.DISTRICT)]
    assert len(districts) == 31
    for code in districts:
        point = centroids[code]
        assert jember.contains(point.lat, point.lon), code
    assert sum(centroids[code].villages for code in districts) == 248


def test_the_shipped_file_covers_nearly_every_district_and_only_master_districts() -> None:
    master = load_regions()
    centroids = load_districts()
    extents = load_extents()
    districts = {code for code, r in master.by_code.items() if r.level is Level.DISTRICT}
    assert set(centroids) <= districts
    assert len(centroids) >= 0.99 * len(districts)
    for code, point in centroids.items():
        assert extents[code[:5]].contains(point.lat, point.lon), code
