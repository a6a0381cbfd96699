"""Regency extents: derivation from village points, the file, and the shipped file."""

from __future__ import annotations

from pathlib import Path

import pytest

from schemas.extents import (
    DEFAULT_EXTENTS_FILE,
    INDONESIA,
    Extent,
    ExtentFileError,
    load_extents,
    parse_extents,
    regency_extents,
    write_extents,
)
from schemas.regions import Level, Region, RegionMaster, load_regions
from streams.extent_build import for_master


def test_a_box_of_village_points_is_padded_on_every_side() -> None:
    villages = [("35.09.02.2001", -8.3, 113.4), ("35.09.19.2004", -8.0, 113.9)]
    ((code, (box, used)),) = regency_extents(villages, pad_km=11.0574).items()
    assert (code, used) == ("35.09", 2)
    assert box.south == pytest.approx(-8.4) and box.north == pytest.approx(-7.9)
    assert 113.28 < box.west < 113.3 and 113.9 + 0.1 < box.east < 113.9 + 0.102


def test_gross_geocoding_errors_and_points_abroad_are_left_out() -> None:
    villages = [
        ("91.25.01.2001", -3.8, 137.5),
        ("91.25.01.2002", -3.9, 137.6),
        ("91.25.01.2003", -3.7, 137.4),
        ("91.25.16.2003", 4.0, 116.0),  # 2,300 km away: a geocoding error
        ("91.25.16.2004", 0.0, 0.0),  # abroad
    ]
    ((_code, (box, used)),) = regency_extents(villages, pad_km=0).items()
    assert used == 3
    assert box == Extent(-3.9, 137.4, -3.7, 137.6)


def test_distance_outside_a_box() -> None:
    box = Extent(-8.6, 113.2, -7.9, 114.1)
    assert box.distance_km(-8.2, 113.5) == 0
    assert box.distance_km(-7.8, 113.5) == pytest.approx(11.06, abs=0.01)
    assert box.contains(-8.6, 114.1) and not box.contains(-8.61, 114.1)


def test_write_and_load_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "extents.csv"
    extents = {"35.09": (Extent(-8.64302, 113.1964, -7.88635, 114.09738), 248)}
    assert write_extents(extents, path) == 1
    assert load_extents(path) == {"35.09": extents["35.09"][0]}


@pytest.mark.parametrize(
    "text",
    [
        "code,south,west,north,east\n35.09,1,2,3,4\n",
        "regency_code,south,west,north,east,villages\n35.09,x,2,3,4,1\n",
        "regency_code,south,west,north,east,villages\n35.09,3,2,1,4,1\n",
    ],
)
def test_a_malformed_file_is_refused(text: str) -> None:
    with pytest.raises(ExtentFileError):
        list(parse_extents(text.splitlines(keepends=True)))


def test_renamed_regencies_take_the_extent_of_their_name() -> None:
    master = RegionMaster.from_regions(
        [
            Region(Level.PROVINCE, "93", None, "Papua Selatan"),
            Region(Level.REGENCY, "93.01", "93", "Kabupaten Merauke"),
            Region(Level.REGENCY, "93.02", "93", "Kabupaten Nowhere"),
        ]
    )
    box = (Extent(-9.0, 138.0, -7.0, 141.0), 190)
    names = {"91.01": "Kabupaten Merauke", "91.03": "Kabupaten Jayapura"}
    assert for_master({"91.01": box, "91.03": box}, names, master) == {"93.01": box}


def test_the_shipped_file_covers_every_regency_of_the_master_inside_indonesia() -> None:
    extents = load_extents(DEFAULT_EXTENTS_FILE)
    master = load_regions()
    regencies = {r.code for r in master.by_code.values() if r.level is Level.REGENCY}
    assert set(extents) == regencies
    for box in extents.values():
        assert INDONESIA.contains(box.south, box.west) and INDONESIA.contains(box.north, box.east)
    jember = extents["35.09"]
    assert jember.contains(-8.17, 113.70) and not jember.contains(-7.2575, 112.7521)
