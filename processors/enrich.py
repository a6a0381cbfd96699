"""Derived facts for an accepted submission: the ``enrichment`` of ValidatedSubmission.

Pure: the record, its resolved location, the rule context and the processing
instant in; a dict matching the ``Enrichment`` Avro record out.

Definitions
-----------
* **Region names** at every level the location resolved to; the village name
  only when the village itself resolved (a BPS village code cannot be, against
  the shipped Kemendagri master).
* **urban_rural** from the village's ``urban_rural`` column of the master
  (``urban``/``rural``); null when the master lacks it, as the shipped
  Kemendagri master does. *Kelurahan*/*desa* is an administrative type, not
  BPS's urban/rural classification, so it is never used as a guess.
* **supervisor_id**: the enumerator's supervisor in the frame, else the one
  the app sent.
* Counts use **present members** (item 404 = 1 or 5, comparable to item 112)
  with a known age: **children** 0-14, **elderly** 60+ (the Indonesian legal
  definition of *lanjut usia*, UU 13/1998).
* **disabled_count**: members with at least one item 428 answer
  CANNOT_DO_AT_ALL or A_LOT_OF_DIFFICULTY: the Washington Group's
  recommended cut-off ("a lot of difficulty" or worse) for disability status.
* **dependency_ratio** = (members 0-14 + members 65+) / members 15-64, null
  when nobody is 15-64. The 65+ bound (not 60+) is the international age
  dependency ratio BPS itself publishes (*rasio ketergantungan*), so family
  ratios can be compared with official figures. A plain ratio, not x100.
* **housing_score** 0-100: the weighted mean of the component scores below,
  each component scored 0-1 per answer (tables ``FLOOR``, ``WALL``, ...).
  Water from a well or spring closer than 10 m to a waste pit scores half
  (BPS's *air minum layak* excludes it). Floor area per person scores 1 at
  7.2 m² or more (the per-capita floor area of BPS's adequate-housing
  indicator), linearly less below.

  ==================  ======  ===========================================
  component           weight  items
  ==================  ======  ===========================================
  floor               15      303
  wall                15      304
  roof                10      305
  drinking water      20      306a, 306b
  sanitation          20      309a (50 %), 309b (25 %), 310 (25 %)
  lighting            10      307a
  floor area/person   10      302 / household size
  ==================  ======  ===========================================

* **asset_score** 0-100: points of the assets owned (``ASSET_POINTS``, 90 in
  all) plus up to 10 for livestock (tropical livestock units, FAO: cattle and
  buffalo 0.7, horse 0.8, pig 0.2, goat/sheep 0.1; 2 TLU or more = 10). Items
  an app did not ask (``motor_boat``, ``smartphone`` from schema v1, null)
  are left out of both the points and the maximum, so old apps are not scored
  lower. Weights follow the value and rarity of the asset; they are a
  transparent ranking aid, not an official BPS index.

Both scores are rounded to one decimal.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from processors.location import ResolvedLocation
from processors.rules.base import PRESENT, Record, RuleContext

CHILD_MAX_AGE = 14
ELDERLY_MIN_AGE = 60
WORKING_AGES = range(15, 65)
DISABLED_LEVELS = frozenset({"CANNOT_DO_AT_ALL", "A_LOT_OF_DIFFICULTY"})

HOUSING_WEIGHTS: Mapping[str, float] = {
    "floor": 15,
    "wall": 15,
    "roof": 10,
    "water": 20,
    "sanitation": 20,
    "lighting": 10,
    "area": 10,
}
FLOOR: Mapping[str, float] = {
    "MARBLE_GRANITE": 1.0,
    "CERAMIC": 1.0,
    "PARQUET_VINYL_CARPET": 1.0,
    "TILE_TERRAZZO": 0.9,
    "WOOD_PLANK": 0.6,
    "CEMENT_RED_BRICK": 0.6,
    "BAMBOO": 0.3,
    "EARTH": 0.0,
    "OTHER": 0.3,
}
WALL: Mapping[str, float] = {
    "MASONRY": 1.0,
    "PLASTERED_BAMBOO_WIRE": 0.6,
    "WOOD_BOARD_GYPSUM": 0.7,
    "WOVEN_BAMBOO": 0.2,
    "LOGS": 0.4,
    "BAMBOO": 0.2,
    "OTHER": 0.3,
}
ROOF: Mapping[str, float] = {
    "CONCRETE": 1.0,
    "CLAY_TILE": 1.0,
    "ZINC": 0.7,
    "ASBESTOS": 0.6,
    "BAMBOO": 0.2,
    "WOOD_SHINGLE": 0.5,
    "THATCH_LEAVES": 0.0,
    "OTHER": 0.3,
}
WATER: Mapping[str, float] = {
    "BOTTLED": 1.0,
    "REFILL": 1.0,
    "PIPED": 1.0,
    "BOREHOLE_PUMP": 0.8,
    "PROTECTED_WELL": 0.8,
    "UNPROTECTED_WELL": 0.2,
    "PROTECTED_SPRING": 0.8,
    "UNPROTECTED_SPRING": 0.2,
    "SURFACE_WATER": 0.0,
    "RAINWATER": 0.5,
    "OTHER": 0.2,
}
TOILET: Mapping[str, float] = {
    "OWN_FAMILY_ONLY": 1.0,
    "SHARED_WITH_SPECIFIC_HOUSEHOLDS": 0.8,
    "COMMUNAL_MCK": 0.7,
    "PUBLIC_MCK": 0.4,
    "EXISTS_NOT_USED": 0.1,
    "NONE": 0.0,
}
TOILET_TYPE: Mapping[str, float] = {
    "GOOSENECK": 1.0,
    "SLOPED_PAN_WITH_LID": 0.7,
    "SLOPED_PAN_WITHOUT_LID": 0.3,
    "PIT_LATRINE": 0.2,
}
FAECES_DISPOSAL: Mapping[str, float] = {
    "SEPTIC_TANK": 1.0,
    "IPAL": 1.0,
    "PIT": 0.5,
    "POND_FIELD_RIVER_SEA": 0.0,
    "BEACH_OPEN_FIELD_GARDEN": 0.0,
    "OTHER": 0.2,
}
LIGHTING: Mapping[str, float] = {
    "PLN_METERED": 1.0,
    "PLN_UNMETERED": 0.7,
    "NON_PLN_ELECTRICITY": 0.5,
    "NOT_ELECTRIC": 0.0,
}
#: Floor area per person (m²) that scores full marks.
ADEQUATE_AREA_PER_PERSON = 7.2

ASSET_POINTS: Mapping[str, float] = {
    "gas_cylinder_5_5kg": 3,
    "refrigerator": 6,
    "air_conditioner": 6,
    "water_heater": 4,
    "landline_phone": 2,
    "flat_tv": 5,
    "gold_10g": 7,
    "computer": 6,
    "motorcycle": 6,
    "bicycle": 1,
    "car": 10,
    "boat": 1,
    "motor_boat": 2,
    "smartphone": 1,
    "land": 15,
    "house_elsewhere": 15,
}
LIVESTOCK_UNITS: Mapping[str, float] = {
    "cows": 0.7,
    "buffaloes": 0.7,
    "horses": 0.8,
    "pigs": 0.2,
    "goats_sheep": 0.1,
}
LIVESTOCK_POINTS = 10.0
FULL_LIVESTOCK_UNITS = 2.0


def enrich(
    record: Record, resolved: ResolvedLocation, ctx: RuleContext, processed_at: dt.datetime
) -> dict[str, Any]:
    """The ``enrichment`` dict of a ValidatedSubmission for this record."""
    present = [m for m in record.get("members") or () if m.get("presence") in PRESENT]
    ages = [m["age"] for m in present if m.get("age") is not None]
    finished: dt.datetime = record["enumeration"]["finished_at"]
    return {
        **region_codes(resolved),
        **region_names(resolved),
        "urban_rural": urban_rural(resolved),
        "supervisor_id": supervisor(record, ctx),
        "household_size": len(present),
        "children_count": sum(1 for age in ages if age <= CHILD_MAX_AGE),
        "elderly_count": sum(1 for age in ages if age >= ELDERLY_MIN_AGE),
        "disabled_count": sum(1 for member in present if is_disabled(member)),
        "dependency_ratio": dependency_ratio(ages),
        "housing_score": housing_score(record.get("housing"), len(present)),
        "asset_score": asset_score(record.get("assets")),
        "processed_at": processed_at,
        "ingest_lag_ms": (processed_at - finished) // dt.timedelta(milliseconds=1),
    }


def region_codes(resolved: ResolvedLocation) -> dict[str, str | None]:
    """Master codes at every level that resolved: what targets and progress join on."""
    levels = ("province", "regency", "district", "village")
    areas = (resolved.province, resolved.regency, resolved.district, resolved.village)
    codes: dict[str, str | None] = {
        f"{level}_code": area.code if area else None
        for level, area in zip(levels, areas, strict=True)
    }
    codes["district_bps_code"] = resolved.district_bps_code
    return codes


def region_names(resolved: ResolvedLocation) -> dict[str, str | None]:
    """Names at every level that resolved."""
    levels = ("province", "regency", "district", "village")
    areas = (resolved.province, resolved.regency, resolved.district, resolved.village)
    return {
        f"{level}_name": area.name if area else None
        for level, area in zip(levels, areas, strict=True)
    }


def urban_rural(resolved: ResolvedLocation) -> str | None:
    """URBAN/RURAL from the master's village column; never guessed."""
    value = (resolved.village.urban_rural or "") if resolved.village else ""
    return {"urban": "URBAN", "rural": "RURAL"}.get(value.lower())


def supervisor(record: Record, ctx: RuleContext) -> str | None:
    """The roster's supervisor (PML) of the enumerator; the app's when the roster lacks one."""
    enumeration = record["enumeration"]
    from_frame = ctx.frame.supervisor_of(enumeration["enumerator_id"])
    return from_frame or enumeration.get("supervisor_id")


def is_disabled(member: Record) -> bool:
    """Washington Group cut-off: any domain with a lot of difficulty or worse."""
    domains = member.get("disability") or {}
    return any(level in DISABLED_LEVELS for level in domains.values())


def dependency_ratio(ages: Iterable[int]) -> float | None:
    """(0-14 + 65+) / 15-64; ``None`` without anyone of working age."""
    ages = list(ages)
    working = sum(1 for age in ages if age in WORKING_AGES)
    if working == 0:
        return None
    return (len(ages) - working) / working


def housing_score(housing: Record | None, household_size: int) -> float | None:
    """Weighted housing quality, 0-100 (see the module docstring)."""
    if housing is None:
        return None
    components: dict[str, float] = {
        "floor": FLOOR.get(housing["floor_material"], 0.0),
        "wall": WALL.get(housing["wall_material"], 0.0),
        "roof": ROOF.get(housing["roof_material"], 0.0),
        "water": _water(housing),
        "sanitation": _sanitation(housing),
        "lighting": LIGHTING.get(housing["lighting"], 0.0),
        "area": _area(housing["floor_area_m2"], household_size),
    }
    total = sum(HOUSING_WEIGHTS[name] * score for name, score in components.items())
    return round(total * 100 / sum(HOUSING_WEIGHTS.values()), 1)


def _area(floor_area_m2: int, household_size: int) -> float:
    per_person = floor_area_m2 / max(household_size, 1)
    return min(1.0, per_person / ADEQUATE_AREA_PER_PERSON)


def _water(housing: Record) -> float:
    score = WATER.get(housing["drinking_water"], 0.0)
    return score / 2 if housing.get("water_waste_distance") == "UNDER_10_M" else score


def _sanitation(housing: Record) -> float:
    return (
        0.5 * TOILET.get(housing["toilet"], 0.0)
        + 0.25 * TOILET_TYPE.get(housing.get("toilet_type") or "", 0.0)
        + 0.25 * FAECES_DISPOSAL.get(housing.get("faeces_disposal") or "", 0.0)
    )


def asset_score(assets: Record | None) -> float | None:
    """Asset ownership, 0-100 (see the module docstring); items not asked are left out."""
    if assets is None:
        return None
    asked = {name: points for name, points in ASSET_POINTS.items() if assets.get(name) is not None}
    earned = float(sum(points for name, points in asked.items() if assets[name]))
    units = sum(weight * (assets.get(name) or 0) for name, weight in LIVESTOCK_UNITS.items())
    earned += LIVESTOCK_POINTS * min(1.0, units / FULL_LIVESTOCK_UNITS)
    return round(earned * 100 / (sum(asked.values()) + LIVESTOCK_POINTS), 1)
