"""Enrichment: region names, counts, ratios, scores and lag, as the Enrichment schema wants."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest

from processors.enrich import (
    ASSET_POINTS,
    HOUSING_WEIGHTS,
    LIVESTOCK_POINTS,
    asset_score,
    dependency_ratio,
    enrich,
    housing_score,
)
from processors.location import resolve_location
from processors.rules import RuleContext
from schemas.catalog import load_schema
from schemas.frame import Frame
from schemas.regions import Level, Region, RegionMaster
from schemas.validate import validate_record
from tests import builders as b

PROCESSED = dt.datetime(2022, 10, 20, 2, 47, 1, 500000, tzinfo=dt.UTC)


def enriched(record: dict[str, Any], ctx: RuleContext) -> dict[str, Any]:
    return enrich(record, resolve_location(record["location"], ctx.regions), ctx, PROCESSED)


def test_the_kencong_family(ctx: RuleContext) -> None:
    result = enriched(b.kemendagri_submission(), ctx)
    assert result == {
        "province_code": "35",
        "regency_code": "35.09",
        "district_code": "35.09.02",
        "village_code": "35.09.02.2001",
        "district_bps_code": "3509010",
        "province_name": "Jawa Timur",
        "regency_name": "Kabupaten Jember",
        "district_name": "Kencong",
        "village_name": "Cakru",
        "urban_rural": None,
        "supervisor_id": "041",
        "household_size": 4,
        "children_count": 2,
        "elderly_count": 0,
        "disabled_count": 0,
        "dependency_ratio": 1.0,
        "housing_score": 100.0,
        "asset_score": 20.0,
        "processed_at": PROCESSED,
        "ingest_lag_ms": 1500,  # finished 09:47:00 WIB = 02:47:00 UTC
    }


def test_the_enrichment_matches_its_schema(ctx: RuleContext) -> None:
    schema = load_schema("ValidatedSubmission")
    enrichment_schema = next(f for f in schema["fields"] if f["name"] == "enrichment")["type"]
    assert validate_record(enrichment_schema, enriched(b.household_submission(), ctx)) == []


def test_bps_village_has_no_name(ctx: RuleContext) -> None:
    result = enriched(b.household_submission(), ctx)
    assert result["district_name"] == "Kencong" and result["village_name"] is None


def test_unresolved_levels_have_no_names(ctx: RuleContext) -> None:
    record = b.household_submission(location=b.location(district_code="999"))
    result = enriched(record, ctx)
    assert result["regency_name"] == "Kabupaten Jember"
    assert result["district_name"] is None and result["village_name"] is None


def test_urban_rural_comes_from_the_master_only(ctx: RuleContext) -> None:
    master = RegionMaster.from_regions(
        [
            Region(Level.PROVINCE, "35", None, "JAWA TIMUR", "35"),
            Region(Level.REGENCY, "3509", "35", "JEMBER", "3509"),
            Region(Level.DISTRICT, "3509010", "3509", "KENCONG", "3509010"),
            Region(Level.VILLAGE, "3509010001", "3509010", "CAKRU", "3509010001", "urban"),
        ]
    )
    bps_ctx = dataclasses.replace(ctx, regions=master)
    assert enriched(b.household_submission(), bps_ctx)["urban_rural"] == "URBAN"
    kelurahan = b.kemendagri_submission(location=b.kemendagri_location(village_code="1001"))
    assert enriched(kelurahan, ctx)["urban_rural"] is None  # never guessed from 1xxx


def test_supervisor_from_the_frame_else_the_record(ctx: RuleContext) -> None:
    record = b.kemendagri_submission()
    record["enumeration"]["supervisor_id"] = "099"
    assert enriched(record, ctx)["supervisor_id"] == "041"
    assert enriched(record, dataclasses.replace(ctx, frame=Frame()))["supervisor_id"] == "099"


def test_counts_use_present_members(ctx: RuleContext) -> None:
    record = b.kemendagri_submission()
    grandmother = b.member(
        5,
        "Mbah Sarinah",
        dt.date(1955, 2, 2),
        True,
        relationship="PARENT_OR_PARENT_IN_LAW",
        disability=b.disability(walking="A_LOT_OF_DIFFICULTY", seeing="SOME_DIFFICULTY"),
    )
    moved = {"member_number": 6, "name": "Budi", "nik": None, "presence": "MOVED_ABROAD"}
    record["members"] += [grandmother, moved]
    record["members"][2]["disability"] = b.disability(hearing="SOME_DIFFICULTY")
    result = enriched(record, ctx)
    assert result["household_size"] == 5
    assert result["elderly_count"] == 1  # 67
    assert result["disabled_count"] == 1  # some difficulty is below the cut-off
    assert result["dependency_ratio"] == pytest.approx(1.5)  # (2 children + 1 aged 65+) / 2


def test_dependency_ratio() -> None:
    assert dependency_ratio([40, 38, 12, 7]) == 1.0
    assert dependency_ratio([62, 64]) == 0.0  # 60-64 are of working age in the ratio
    assert dependency_ratio([70, 3]) is None
    assert dependency_ratio([]) is None


def test_housing_score_weights_sum_to_100() -> None:
    assert sum(HOUSING_WEIGHTS.values()) == 100
    assert sum(ASSET_POINTS.values()) + LIVESTOCK_POINTS == 100


def test_a_poor_house_scores_low() -> None:
    hut = b.housing(
        tenure="RENT_FREE",
        ownership_proof=None,
        floor_area_m2=12,
        floor_material="EARTH",
        wall_material="BAMBOO",
        roof_material="THATCH_LEAVES",
        drinking_water="UNPROTECTED_WELL",
        water_waste_distance="UNDER_10_M",
        lighting="NOT_ELECTRIC",
        installed_power=[],
        cooking_fuel="FIREWOOD",
        toilet="NONE",
        toilet_type=None,
        faeces_disposal=None,
    )
    # 15*0 + 15*0.2 + 10*0 + 20*0.1 + 20*0 + 10*0 + 10*(12/4/7.2)
    assert housing_score(hut, 4) == pytest.approx(9.2)
    assert housing_score(None, 4) is None


def test_housing_score_without_members_uses_one_person() -> None:
    assert housing_score(b.housing(floor_area_m2=5), 0) == pytest.approx(96.9)  # 90 + 10 * 5/7.2


def test_asset_score_leaves_out_items_not_asked() -> None:
    assets = b.assets()
    assert asset_score(assets) == 20.0  # fridge 6, TV 5, motorcycle 6, bicycle 1, phone 1, goats 1
    v1 = b.assets(motor_boat=None, smartphone=None)
    assert asset_score(v1) == pytest.approx(round(19 / 97 * 100, 1))
    rich = b.assets(**dict.fromkeys(ASSET_POINTS, True), cows=3)
    assert asset_score(rich) == 100.0
    assert asset_score(None) is None
