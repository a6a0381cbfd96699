"""Test data builders: valid, realistic records for every schema, overridable per test.

A Jember family in Kencong district (BPS 35 09 010, village 001): a head, his
wife and two children, interviewed on 20 October 2022 (fieldwork ran mid
October to mid November 2022). NIKs follow the real layout: digits 1-6 the
Kemendagri district of issue (35.09.02 = Kencong), 7-12 the birth date DDMMYY
with 40 added to the day for women, 13-16 a serial. Every builder returns a
fresh dict, so a test can mutate it freely; keyword overrides replace
top-level fields (build nested parts with the smaller builders).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

WIB = dt.timezone(dt.timedelta(hours=7), "WIB")
INTERVIEW_START = dt.datetime(2022, 10, 20, 9, 5, tzinfo=WIB)
INTERVIEW_END = dt.datetime(2022, 10, 20, 9, 47, tzinfo=WIB)
NIK_DISTRICT = "350902"  # Kemendagri 35.09.02, Kencong


def nik(birth: dt.date, female: bool, serial: int) -> str:
    """A NIK with the right layout for a birth date and sex (day + 40 for women)."""
    day = birth.day + 40 if female else birth.day
    return f"{NIK_DISTRICT}{day:02d}{birth.month:02d}{birth.year % 100:02d}{serial:04d}"


def age_on(birth: dt.date, day: dt.date) -> int:
    """Completed years on ``day`` (item 407)."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def disability(**overrides: Any) -> dict[str, Any]:
    """Items 428a-i for someone with no difficulty (age 5+: all nine asked)."""
    domains = (
        "seeing",
        "hearing",
        "walking",
        "hands_fingers",
        "learning",
        "behaviour",
        "communicating",
        "self_care",
        "remembering",
    )
    return {domain: "NO_DIFFICULTY" for domain in domains} | overrides


def member(
    number: int, name: str, birth: dt.date, female: bool, **overrides: Any
) -> dict[str, Any]:
    """A living-in adult member with every item of Blok IV answered."""
    record: dict[str, Any] = {
        "member_number": number,
        "name": name,
        "nik": nik(birth, female, number),
        "presence": "LIVES_WITH_FAMILY",
        "sex": "FEMALE" if female else "MALE",
        "birth_date": birth,
        "age": age_on(birth, INTERVIEW_START.date()),
        "marital_status": "MARRIED",
        "relationship": "HEAD",
        "school_participation": "NO_LONGER_IN_SCHOOL",
        "education_level": "SMP",
        "worked_last_week": True,
        "main_industry": "FOOD_CROPS",
        "employment_status": "OWN_ACCOUNT",
        "disability": disability(),
        "chronic_illness": "NONE",
        "health_insurance": 1,
    }
    return record | overrides


def family_members() -> list[dict[str, Any]]:
    """Head, spouse, a son at school and a daughter at primary school."""
    school = {
        "marital_status": "NEVER_MARRIED",
        "relationship": "CHILD",
        "school_participation": "STILL_IN_SCHOOL",
        "worked_last_week": False,
        "main_industry": None,
        "employment_status": None,
    }
    return [
        member(1, "Slamet Riyadi", dt.date(1980, 5, 12), female=False),
        member(
            2,
            "Siti Aminah",
            dt.date(1984, 8, 23),
            female=True,
            relationship="SPOUSE",
            education_level="SD",
            main_industry="TRADE_VEHICLE_REPAIR",
            employment_status="UNPAID_FAMILY_WORKER",
        ),
        member(
            3, "Ahmad Fauzi", dt.date(2010, 1, 15), female=False, education_level="SMP", **school
        ),
        member(4, "Dewi Lestari", dt.date(2015, 7, 4), female=True, education_level="SD", **school),
    ]


def location(**overrides: Any) -> dict[str, Any]:
    """Blok I for a house in Kencong (3509010), village 001, SLS 0003."""
    return {
        "code_system": "BPS",
        "province_code": "35",
        "regency_code": "09",
        "district_code": "010",
        "village_code": "001",
        "sls_code": "0003",
        "sub_sls_code": "00",
        "sls_name": "RT 003 RW 001",
        "building_number": 12,
        "family_number": 1,
        "address": "Jl. Kenanga No. 7",
        "latitude": -8.2836,
        "longitude": 113.3719,
        "gps_accuracy_m": 4.5,
    } | overrides


def enumeration(**overrides: Any) -> dict[str, Any]:
    """Blok II: a complete interview by enumerator 0412 under supervisor 041."""
    return {
        "enumerator_id": "0412",
        "supervisor_id": "041",
        "started_at": INTERVIEW_START,
        "finished_at": INTERVIEW_END,
        "result": "COMPLETE",
        "notes": None,
        "app_version": "2.3.1",
        "device_id": "tab-3509-0412",
    } | overrides


def housing(**overrides: Any) -> dict[str, Any]:
    """Blok III: an owned, metered brick house with its own gooseneck toilet."""
    return {
        "tenure": "OWNED",
        "ownership_proof": "SHM_FAMILY",
        "floor_area_m2": 72,
        "floor_material": "CERAMIC",
        "wall_material": "MASONRY",
        "roof_material": "CLAY_TILE",
        "drinking_water": "REFILL",
        "water_waste_distance": None,
        "lighting": "PLN_METERED",
        "installed_power": ["WATT_900"],
        "cooking_fuel": "LPG_3_KG",
        "toilet": "OWN_FAMILY_ONLY",
        "toilet_type": "GOOSENECK",
        "faeces_disposal": "SEPTIC_TANK",
    } | overrides


def assets(**overrides: Any) -> dict[str, Any]:
    """Blok V: a fridge, a TV, a motorcycle, a smartphone and two goats."""
    owned = {"refrigerator", "flat_tv", "motorcycle", "bicycle", "smartphone"}
    flags = [
        "gas_cylinder_5_5kg",
        "refrigerator",
        "air_conditioner",
        "water_heater",
        "landline_phone",
        "flat_tv",
        "gold_10g",
        "computer",
        "motorcycle",
        "bicycle",
        "car",
        "boat",
        "motor_boat",
        "smartphone",
        "land",
        "house_elsewhere",
    ]
    record: dict[str, Any] = {flag: flag in owned for flag in flags}
    record |= {"cows": 0, "buffaloes": 0, "horses": 0, "pigs": 0, "goats_sheep": 2}
    return record | overrides


def social_assistance(**overrides: Any) -> dict[str, Any]:
    """Item 501: BPNT/Sembako and PKH recipients, PBI JKN covered."""
    programmes = [
        "bpnt_sembako",
        "pkh",
        "blt_dana_desa",
        "electricity_subsidy",
        "regional_aid",
        "fertiliser_subsidy",
        "lpg_subsidy",
    ]
    record: dict[str, Any] = {name: name in {"bpnt_sembako", "pkh"} for name in programmes}
    record["pbi_jkn"] = True
    return record | overrides


def household_submission(**overrides: Any) -> dict[str, Any]:
    """A valid HouseholdSubmission (current schema) for the Kencong family.

    ``submission_id`` is a fresh UUID on every call, as a field app makes a new
    one for every send of new content; pass it to build a retry.
    """
    return {
        "submission_id": str(uuid.uuid4()),
        "household_id": "3509010001-0003-012-01",
        "revision": 1,
        "location": location(),
        "enumeration": enumeration(),
        "housing": housing(),
        "member_count": len(family_members()),
        "members": family_members(),
        "assets": assets(),
        "social_assistance": social_assistance(),
    } | overrides


def household_submission_v1(**overrides: Any) -> dict[str, Any]:
    """The same family as an app on schema v1 sent it.

    Schema v1 had no code system, member count (item 112), GPS accuracy, device id,
    motor boat or smartphone.
    """
    record = household_submission(**overrides)
    record.pop("member_count", None)
    record["location"].pop("code_system", None)
    record["location"].pop("gps_accuracy_m", None)
    record["enumeration"].pop("device_id", None)
    for added in ("motor_boat", "smartphone"):
        record["assets"].pop(added, None)
    return record


def enumerator_event(**overrides: Any) -> dict[str, Any]:
    """A SYNC event of enumerator 0412 in Kencong with three interviews still pending."""
    return {
        "event_id": str(uuid.uuid4()),
        "enumerator_id": "0412",
        "event_type": "SYNC",
        "at": dt.datetime(2022, 10, 20, 12, 0, tzinfo=WIB),
        "latitude": -8.2836,
        "longitude": 113.3719,
        "gps_accuracy_m": 8.0,
        "village_code": "3509010001",
        "sls_code": "0003",
        "app_version": "2.3.1",
        "device_id": "tab-3509-0412",
        "pending_count": 3,
        "household_id": None,
    } | overrides


def validated_submission(**overrides: Any) -> dict[str, Any]:
    """A ValidatedSubmission wrapping :func:`household_submission`, lightly enriched."""
    return {
        "submission": household_submission(),
        "enrichment": {
            "province_code": "35",
            "regency_code": "35.09",
            "district_code": "35.09.02",
            "village_code": None,
            "district_bps_code": "3509010",
            "province_name": "JAWA TIMUR",
            "regency_name": "JEMBER",
            "district_name": "KENCONG",
            "village_name": "KENCONG",
            "urban_rural": "RURAL",
            "supervisor_id": "041",
            "household_size": 4,
            "children_count": 2,
            "elderly_count": 0,
            "disabled_count": 0,
            "dependency_ratio": 1.0,
            "housing_score": None,
            "asset_score": None,
            "received_at": dt.datetime(2022, 10, 20, 2, 47, 0, 500000, tzinfo=dt.UTC),
            "processed_at": dt.datetime(2022, 10, 20, 2, 47, 1, tzinfo=dt.UTC),
            "ingest_lag_ms": 1000,
        },
        "warnings": [
            {
                "code": "AGE_BIRTHDATE_MISMATCH",
                "severity": "WARNING",
                "message_id": "Umur tidak sesuai dengan tanggal lahir",
                "message_en": "Age does not match the birth date",
                "field_path": "members[2].age",
            }
        ],
    } | overrides


def rejection(**overrides: Any) -> dict[str, Any]:
    """A Rejection of a message whose first byte was not the magic byte."""
    return {
        "original": b"\x07not avro",
        "source_topic": "regsosek.submissions",
        "source_partition": 3,
        "source_offset": 1234,
        "submission_id": None,
        "household_id": "3509010001-0003-012-01",
        "enumerator_id": None,
        "district_code": None,
        "reasons": [
            {
                "code": "DECODE_BAD_MAGIC_BYTE",
                "message": "first byte is 7",
                "message_id": "byte pertama 7",
                "field_path": None,
            }
        ],
        "received_at": dt.datetime(2022, 10, 20, 2, 47, tzinfo=dt.UTC),
        "schema_id": None,
        "original_size": None,
        "original_sha256": None,
    } | overrides


# --- validation rules and enrichment (issue #4) -------------------------------------------
# Imports here, not at the top, so this section is a pure append to the builders above.
from processors.rules import NikIndex, RuleContext  # noqa: E402
from schemas.frame import Assignment, Enumerator, Frame  # noqa: E402
from schemas.regions import RegionMaster  # noqa: E402

#: Fieldwork of the initial data collection, as the rules' context bounds it.
FIELDWORK_START = dt.datetime(2022, 10, 15, tzinfo=WIB)
FIELDWORK_END = dt.datetime(2022, 11, 14, 23, 59, 59, tzinfo=WIB)
#: "Now" for the rules: the day after the builder's interview.
RULES_NOW = dt.datetime(2022, 10, 21, 8, 0, tzinfo=WIB)
#: Rough centre of Kabupaten Jember (master code 35.09).
JEMBER_CENTROID = (-8.17, 113.70)
#: Kemendagri code of Cakru, the village the KEMENDAGRI-coded family lives in.
CAKRU = "35.09.02.2001"


def kemendagri_location(**overrides: Any) -> dict[str, Any]:
    """Blok I for the same house coded in Kemendagri codes: 35 09 02 2001 (Cakru, Kencong)."""
    return location(code_system="KEMENDAGRI", district_code="02", village_code="2001") | overrides


def kemendagri_submission(**overrides: Any) -> dict[str, Any]:
    """The Kencong family with a KEMENDAGRI-coded location: every level resolves."""
    return household_submission(location=kemendagri_location()) | overrides


def rules_frame() -> Frame:
    """Enumerator 0412 under supervisor 041, assigned SLS 0003 of Cakru."""
    return Frame.build(
        [Enumerator("0412", "041", "35.09"), Enumerator("0413", "041", "35.09")],
        [Assignment("0412", CAKRU, "0003"), Assignment("0413", CAKRU, "0004")],
        [],
    )


def rule_context(
    regions: RegionMaster, seen_niks: NikIndex | None = None, **overrides: Any
) -> RuleContext:
    """The rules' context: fieldwork 15 Oct-14 Nov 2022, the frame above, Jember's centre."""
    fields: dict[str, Any] = {
        "regions": regions,
        "frame": rules_frame(),
        "fieldwork_start": FIELDWORK_START,
        "fieldwork_end": FIELDWORK_END,
        "now": RULES_NOW,
        "regency_centroids": {"35.09": JEMBER_CENTROID},
        "seen_niks": seen_niks,
    }
    return RuleContext(**(fields | overrides))
