"""Resolving the location block against the region master, in both code systems."""

from __future__ import annotations

import subprocess
import sys

import pytest

from processors.location import resolve_location
from processors.rules import Severity
from schemas.regions import Level, Region, RegionMaster
from tests import builders as b


def bps_master() -> RegionMaster:
    """An operation's own BPS master: BPS codes down to village."""
    return RegionMaster.from_regions(
        [
            Region(Level.PROVINCE, "35", None, "JAWA TIMUR", "35"),
            Region(Level.REGENCY, "3509", "35", "JEMBER", "3509"),
            Region(Level.DISTRICT, "3509010", "3509", "KENCONG", "3509010"),
            Region(Level.VILLAGE, "3509010001", "3509010", "CAKRU", "3509010001", "rural"),
            Region(Level.VILLAGE, "3509010002", "3509010", "PASEBAN", "3509010002"),
        ]
    )


def test_bps_codes_resolve_down_to_district(regions: RegionMaster) -> None:
    resolved = resolve_location(b.location(), regions)
    assert resolved.province and resolved.province.name == "Jawa Timur"
    assert resolved.regency and resolved.regency.code == "35.09"
    assert resolved.district and resolved.district.name == "Kencong"
    assert resolved.district.code == "35.09.02"
    assert resolved.village is None and resolved.village_code is None
    assert resolved.district_bps_code == "3509010"
    assert [(p.code, p.severity, p.field_path) for p in resolved.problems] == [
        ("REGION_VILLAGE_UNVERIFIED", Severity.WARNING, "location.village_code")
    ]
    assert resolved.ok


def test_kemendagri_codes_resolve_every_level(regions: RegionMaster) -> None:
    resolved = resolve_location(b.kemendagri_location(), regions)
    assert resolved.village and resolved.village.name == "Cakru"
    assert resolved.village_code == b.CAKRU
    assert resolved.district_bps_code == "3509010"  # from the master's bridge
    assert resolved.problems == []


def test_resolution_stops_at_the_first_unknown_level(regions: RegionMaster) -> None:
    resolved = resolve_location(b.kemendagri_location(regency_code="99"), regions)
    assert resolved.province is not None and resolved.regency is None
    assert resolved.district is None and resolved.district_bps_code is None
    (problem,) = resolved.problems
    assert (problem.code, problem.field_path) == ("REGION_UNKNOWN", "location.regency_code")
    assert problem.message_en == "regency code '35.99' (Kemendagri) is not in the region master."
    assert problem.message_id == (
        "Kode kabupaten/kota '35.99' (Kemendagri) tidak terdapat dalam master wilayah."
    )
    assert not resolved.ok


def test_unknown_bps_district(regions: RegionMaster) -> None:
    resolved = resolve_location(b.location(district_code="999"), regions)
    (problem,) = resolved.problems
    assert (problem.code, problem.field_path) == ("REGION_UNKNOWN", "location.district_code")
    assert "'3509999' (BPS)" in problem.message_en


def test_kemendagri_village_of_another_district_is_unknown(regions: RegionMaster) -> None:
    # 2001 exists in Kencong; 9001 does not, so the code is unknown, not unverifiable.
    resolved = resolve_location(b.kemendagri_location(village_code="9001"), regions)
    assert [p.code for p in resolved.problems] == ["REGION_UNKNOWN"]


def test_an_operations_bps_master_verifies_villages() -> None:
    master = bps_master()
    resolved = resolve_location(b.location(), master)
    assert resolved.problems == []
    assert resolved.village and resolved.village.name == "CAKRU"
    assert resolved.village_code == "3509010001"
    unknown = resolve_location(b.location(village_code="003"), master)
    assert [p.code for p in unknown.problems] == ["REGION_UNKNOWN"]
    assert unknown.district is not None and unknown.village is None


def test_codes_that_do_not_nest() -> None:
    master = RegionMaster.from_regions(
        [
            Region(Level.PROVINCE, "35", None, "Jawa Timur", "35"),
            Region(Level.PROVINCE, "36", None, "Banten", "36"),
            Region(Level.REGENCY, "35.09", "36", "Kabupaten Jember", "3509"),
        ]
    )
    resolved = resolve_location(b.kemendagri_location(), master)
    (problem,) = resolved.problems
    assert (problem.code, problem.severity) == ("REGION_NESTING", Severity.ERROR)
    assert problem.field_path == "location.regency_code"
    assert problem.message_en == "regency '35.09' does not lie within province '35'."
    assert resolved.regency is None


def test_a_code_of_the_wrong_level_is_unknown(regions: RegionMaster) -> None:
    # A BPS regency code in the province field finds nothing at province level.
    resolved = resolve_location(b.location(province_code="3509"), regions)
    assert [p.field_path for p in resolved.problems] == ["location.province_code"]


@pytest.mark.parametrize("first", ["processors.location", "processors.rules"])
def test_either_module_can_be_imported_first(first: str) -> None:
    """processors.location and processors.rules.region import each other's module."""
    code = (
        f"import {first}\n"
        "from processors.location import resolve_location\n"
        "from processors.rules import CATALOGUE\n"
        "assert resolve_location and CATALOGUE\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
