"""The region master: the shipped file's completeness, the bridge, and the file format."""

from __future__ import annotations

from pathlib import Path

import pytest

from schemas.regions import (
    Level,
    Region,
    RegionFileError,
    RegionMaster,
    kemendagri_regions,
    load_regions,
    parse_regions,
    write_regions,
)


@pytest.fixture(scope="module")
def master() -> RegionMaster:
    return load_regions()


def test_shipped_master_is_all_of_indonesia(master: RegionMaster) -> None:
    counts = {level: master.count(level) for level in Level}
    assert counts == {
        Level.PROVINCE: 38,
        Level.REGENCY: 514,
        Level.DISTRICT: 7285,
        Level.VILLAGE: 83762,
    }


def test_jember_frame(master: RegionMaster) -> None:
    assert master.get("35.09") is not None
    assert len(master.under("35.09", Level.DISTRICT)) == 31
    assert len(master.under("35.09", Level.VILLAGE)) == 248


def test_bps_code_bridges_to_kemendagri(master: RegionMaster) -> None:
    kencong = master.from_bps("3509010")
    assert kencong is not None
    assert (kencong.code, kencong.name) == ("35.09.02", "Kencong")
    names = [r.name for r in master.ancestors("35.09.02.2001")]
    assert names[1:] == ["Kencong", "Kabupaten Jember", "Jawa Timur"]


def test_every_parent_exists(master: RegionMaster) -> None:
    orphans = [
        r.code
        for r in master.by_code.values()
        if r.parent_code and r.parent_code not in master.by_code
    ]
    assert orphans == []


def test_round_trip_through_the_file_format(tmp_path: Path) -> None:
    regions = [
        Region(Level.PROVINCE, "35", None, "Jawa Timur", "35"),
        Region(Level.VILLAGE, "35.09.02.2001", "35.09.02", "Cakru, Desa", None, "rural"),
    ]
    for name in ("m.csv", "m.csv.gz"):
        path = tmp_path / name
        assert write_regions(regions, path) == 2
        assert list(load_regions(path).by_code.values()) == regions


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("code,name\n35,Jawa Timur\n", "header must start with"),
        (
            "level,code,parent_code,name,bps_code,urban_rural\ncity,35,,X,,\n",
            "line 2: unknown level",
        ),
        (
            "level,code,parent_code,name,bps_code,urban_rural\nprovince,,,X,,\n",
            "line 2: code and name",
        ),
    ],
)
def test_malformed_files_name_the_problem(text: str, problem: str) -> None:
    with pytest.raises(RegionFileError, match=problem):
        list(parse_regions(text.splitlines(keepends=True)))


def test_kemendagri_tables_join_the_bridge() -> None:
    tables = {
        "provinces": [{"code": "35", "name": "Jawa Timur"}],
        "regencies": [{"code": "35.09", "province_code": "35", "name": "Kabupaten Jember"}],
        "districts": [{"code": "35.09.02", "regency_code": "35.09", "name": "Kencong"}],
        "villages": [{"code": "35.09.02.2001", "district_code": "35.09.02", "name": "Cakru"}],
    }
    bridge = {"35": "35", "3509": "3509", "350902": "3509010", "3509022001": "never-used"}
    regions = list(kemendagri_regions(tables, bridge))
    assert [r.bps_code for r in regions] == ["35", "3509", "3509010", None]
