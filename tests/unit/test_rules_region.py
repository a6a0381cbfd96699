"""Blok I-II rules against the master data: region codes, assignments, GPS."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest

from processors.rules import RuleContext, Severity, validate
from processors.rules.region import haversine_km
from schemas.extents import Extent, load_extents
from schemas.frame import Frame
from schemas.regions import Level, Region, RegionMaster
from tests import builders as b
from tests.rule_helpers import found

Trigger = Callable[[dict[str, Any], RuleContext], RuleContext]


def misfiled_master() -> RegionMaster:
    """Kencong with Cakru filed under another district: codes that do not nest."""
    return RegionMaster.from_regions(
        [
            Region(Level.PROVINCE, "35", None, "Jawa Timur", "35"),
            Region(Level.REGENCY, "35.09", "35", "Kabupaten Jember", "3509"),
            Region(Level.DISTRICT, "35.09.02", "35.09", "Kencong", "3509010"),
            Region(Level.DISTRICT, "35.09.03", "35.09", "Sumberbaru", "3509170"),
            Region(Level.VILLAGE, "35.09.02.2001", "35.09.03", "Cakru"),
        ]
    )


def _set(part: str, **values: Any) -> Trigger:
    def mutate(record: dict[str, Any], ctx: RuleContext) -> RuleContext:
        record[part].update(values)
        return ctx

    return mutate


def _nesting(record: dict[str, Any], ctx: RuleContext) -> RuleContext:
    return dataclasses.replace(ctx, regions=misfiled_master())


def _bps(record: dict[str, Any], ctx: RuleContext) -> RuleContext:
    record["location"] = b.location()
    return ctx


#: code -> (severity, field_path, how to trigger it on the KEMENDAGRI-coded family)
TRIGGERS: dict[str, tuple[Severity, str, Trigger]] = {
    "REGION_UNKNOWN": (
        Severity.ERROR,
        "location.district_code",
        _set("location", district_code="99"),
    ),
    "REGION_NESTING": (Severity.ERROR, "location.village_code", _nesting),
    "REGION_VILLAGE_UNVERIFIED": (Severity.WARNING, "location.village_code", _bps),
    "UNKNOWN_ENUMERATOR": (
        Severity.ERROR,
        "enumeration.enumerator_id",
        _set("enumeration", enumerator_id="9999"),
    ),
    "OUTSIDE_ASSIGNMENT": (Severity.ERROR, "location.sls_code", _set("location", sls_code="0009")),
    "SUPERVISOR_MISMATCH": (
        Severity.WARNING,
        "enumeration.supervisor_id",
        _set("enumeration", supervisor_id="042"),
    ),
    "GPS_INVALID": (Severity.ERROR, "location.latitude", _set("location", latitude=None)),
    "GPS_OUTSIDE_REGENCY": (
        Severity.WARNING,
        "location.latitude",
        _set("location", latitude=-7.2575, longitude=112.7521),  # Surabaya
    ),
    "GPS_NULL_ISLAND": (
        Severity.WARNING,
        "location.latitude",
        _set("location", latitude=0.0, longitude=0.0),
    ),
    "GPS_OUTSIDE_INDONESIA": (
        Severity.WARNING,
        "location.latitude",
        _set("location", latitude=8.2836, longitude=113.3719),  # the sign dropped
    ),
}


@pytest.mark.parametrize("code", sorted(TRIGGERS))
def test_each_rule_triggers(code: str, ctx: RuleContext) -> None:
    severity, path, trigger = TRIGGERS[code]
    record = b.kemendagri_submission()
    hits = found(code, record, trigger(record, ctx))
    assert hits, f"{code} did not trigger"
    assert {(f.severity, f.field_path) for f in hits} == {(severity, path)}


def test_unknown_region_names_the_level_and_code(ctx: RuleContext) -> None:
    record = b.kemendagri_submission(location=b.kemendagri_location(district_code="99"))
    (finding,) = found("REGION_UNKNOWN", record, ctx)
    assert "kecamatan '35.09.99'" in finding.message_id
    assert finding.message_en.startswith("district code '35.09.99' (Kemendagri)")


def test_bps_codes_resolve_to_district_and_only_warn_about_the_village(ctx: RuleContext) -> None:
    findings = validate(b.household_submission(), ctx)
    assert [f.code for f in findings] == ["REGION_VILLAGE_UNVERIFIED"]
    assert "'3509010001'" in findings[0].message_en


def test_empty_frame_switches_assignment_rules_off(ctx: RuleContext) -> None:
    record = b.kemendagri_submission()
    record["enumeration"] |= {"enumerator_id": "9999", "supervisor_id": "999"}
    record["location"]["sls_code"] = "0009"
    quiet = dataclasses.replace(ctx, frame=Frame())
    assert validate(record, quiet) == []


def test_unknown_enumerator_is_not_also_outside_assignment(ctx: RuleContext) -> None:
    record = b.kemendagri_submission()
    record["enumeration"]["enumerator_id"] = "9999"
    assert [f.code for f in validate(record, ctx)] == ["UNKNOWN_ENUMERATOR"]


def test_assignment_is_not_checked_when_the_village_is_unverifiable(ctx: RuleContext) -> None:
    record = b.household_submission(location=b.location(sls_code="0009"))
    assert found("OUTSIDE_ASSIGNMENT", record, ctx) == []


def test_another_enumerators_sls_is_outside_the_assignment(ctx: RuleContext) -> None:
    record = b.kemendagri_submission(location=b.kemendagri_location(sls_code="0004"))
    (finding,) = found("OUTSIDE_ASSIGNMENT", record, ctx)
    assert finding.message_en == (
        "SLS 0004 in village 35.09.02.2001 is not among the assignments of enumerator '0412'."
    )


@pytest.mark.parametrize(
    ("latitude", "longitude", "path"),
    [
        (-8.28, None, "location.longitude"),
        (-95.0, 113.37, "location.latitude"),
        (-8.28, 181.0, "location.longitude"),
        (float("nan"), 113.37, "location.latitude"),
    ],
)
def test_impossible_coordinates_are_invalid(
    ctx: RuleContext, latitude: float | None, longitude: float | None, path: str
) -> None:
    record = b.kemendagri_submission(
        location=b.kemendagri_location(latitude=latitude, longitude=longitude)
    )
    assert [f.field_path for f in found("GPS_INVALID", record, ctx)] == [path]
    assert found("GPS_OUTSIDE_REGENCY", record, ctx) == []


def test_no_fix_at_all_is_allowed(ctx: RuleContext) -> None:
    record = b.kemendagri_submission(
        location=b.kemendagri_location(latitude=None, longitude=None, gps_accuracy_m=None)
    )
    assert validate(record, ctx) == []


def test_gps_distance_needs_a_centroid(ctx: RuleContext) -> None:
    record = b.kemendagri_submission(
        location=b.kemendagri_location(latitude=-7.2575, longitude=112.7521)
    )
    assert found("GPS_OUTSIDE_REGENCY", record, ctx)[0].message_en == (
        "GPS point (latitude -7.25750, longitude 112.75210) lies 96 km outside the 50 km circle "
        "of Kabupaten Jember."
    )
    assert (
        found("GPS_OUTSIDE_REGENCY", record, dataclasses.replace(ctx, regency_centroids={})) == []
    )
    other = dataclasses.replace(ctx, regency_centroids={"35.78": (-7.25, 112.75)})
    assert found("GPS_OUTSIDE_REGENCY", record, other) == []


def test_gps_distance_limit_is_configurable(ctx: RuleContext) -> None:
    record = b.kemendagri_submission()  # about 38 km from the centre
    assert found("GPS_OUTSIDE_REGENCY", record, ctx) == []
    strict = dataclasses.replace(ctx, max_gps_distance_km=20.0)
    assert len(found("GPS_OUTSIDE_REGENCY", record, strict)) == 1


def test_haversine_matches_a_known_distance() -> None:
    jember_to_surabaya = haversine_km(b.JEMBER_CENTROID, (-7.2575, 112.7521))
    assert 140 < jember_to_surabaya < 150  # straight line, not by road
    assert haversine_km((0.0, 0.0), (0.0, 1.0)) == pytest.approx(111.2, abs=0.1)


# --- GPS against the regencies' extents (schemas/data/regency_extents.csv) -------------


@pytest.fixture(scope="module")
def extents() -> dict[str, Extent]:
    return load_extents()


def gps(ctx: RuleContext, latitude: float, longitude: float) -> set[str]:
    record = b.kemendagri_submission(
        location=b.kemendagri_location(latitude=latitude, longitude=longitude)
    )
    return {f.code for f in validate(record, ctx) if f.code.startswith("GPS_")}


@pytest.mark.parametrize(
    ("latitude", "longitude", "expected"),
    [
        (-8.2836, 113.3719, set()),  # Kencong, in Jember
        (-8.17, 113.70, set()),  # Jember town
        (-8.60, 113.25, set()),  # the south-west coast, inside the 15 km pad
        (-7.2575, 112.7521, {"GPS_OUTSIDE_REGENCY"}),  # Surabaya
        (-8.65, 115.22, {"GPS_OUTSIDE_REGENCY"}),  # Denpasar, Bali
        (-6.2, 106.8, {"GPS_OUTSIDE_REGENCY"}),  # Jakarta
        (0.0, 0.0, {"GPS_NULL_ISLAND"}),
        (0.000001, -0.000001, {"GPS_NULL_ISLAND"}),
        (8.2836, 113.3719, {"GPS_OUTSIDE_INDONESIA"}),  # sign dropped
        (113.3719 - 180, -8.2836, {"GPS_OUTSIDE_INDONESIA"}),
        (51.5, -0.12, {"GPS_OUTSIDE_INDONESIA"}),  # London
    ],
)
def test_gps_plausibility_with_the_shipped_extents(
    ctx: RuleContext,
    extents: dict[str, Extent],
    latitude: float,
    longitude: float,
    expected: set[str],
) -> None:
    """One finding per mistake: null island and abroad are not also outside the regency."""
    with_extents = dataclasses.replace(ctx, regency_extents=extents, regency_centroids={})
    assert gps(with_extents, latitude, longitude) == expected


def test_the_extent_wins_over_the_centroid(ctx: RuleContext, extents: dict[str, Extent]) -> None:
    """Jember's south-east corner is 57 km from its centre: inside the box, beyond the circle."""
    corner = (-8.55, 114.05)
    assert gps(ctx, *corner) == {"GPS_OUTSIDE_REGENCY"}
    assert gps(dataclasses.replace(ctx, regency_extents=extents), *corner) == set()


def test_outside_the_box_message(ctx: RuleContext, extents: dict[str, Extent]) -> None:
    with_extents = dataclasses.replace(ctx, regency_extents=extents)
    record = b.kemendagri_submission(
        location=b.kemendagri_location(latitude=-7.2575, longitude=112.7521)
    )
    (finding,) = found("GPS_OUTSIDE_REGENCY", record, with_extents)
    assert finding.message_en == (
        "GPS point (latitude -7.25750, longitude 112.75210) lies 85 km outside the box of "
        "Kabupaten Jember."
    )
    assert "di luar kotak wilayah Kabupaten Jember" in finding.message_id


def test_without_an_extent_or_centroid_the_regency_rule_is_off(ctx: RuleContext) -> None:
    off = dataclasses.replace(ctx, regency_extents={}, regency_centroids={})
    assert gps(off, -6.2, 106.8) == set()
    assert gps(off, 0.0, 0.0) == {"GPS_NULL_ISLAND"}  # needs no context
    assert gps(off, 51.5, -0.12) == {"GPS_OUTSIDE_INDONESIA"}
