"""Row building: what reaches analytics tables, and where a household is."""

from __future__ import annotations

import datetime as dt
import gc
import hashlib
import hmac
from typing import Any

from schemas.frame import Assignment, Enumerator, Frame, Target
from schemas.regions import Level, Region, RegionMaster
from sinks.rows import Block, Locator, household_blocks, reference_blocks, rejection_block
from tests import builders

WRITTEN = dt.datetime(2022, 10, 20, 3, 0, tzinfo=dt.UTC)
KEY = b"test-key"


def master() -> RegionMaster:
    """Jawa Timur > Jember > Kencong (BPS 3509010) > Cakru, plus Jombang and Bondowoso."""
    return RegionMaster.from_regions(
        [
            Region(Level.PROVINCE, "35", None, "JAWA TIMUR", "35"),
            Region(Level.REGENCY, "35.09", "35", "KAB. JEMBER", "3509"),
            Region(Level.REGENCY, "35.11", "35", "KAB. BONDOWOSO", "3511"),
            Region(Level.DISTRICT, "35.09.02", "35.09", "Kencong", "3509010"),
            Region(Level.DISTRICT, "35.09.03", "35.09", "Jombang", "3509020"),
            Region(Level.DISTRICT, "35.11.01", "35.11", "Maesan", "3511010"),
            Region(Level.VILLAGE, "35.09.02.2001", "35.09.02", "Cakru", None, "rural"),
            Region(Level.VILLAGE, "35.09.03.2001", "35.09.03", "Ngampelrejo"),
            Region(Level.VILLAGE, "35.11.01.2001", "35.11.01", "Gambangan"),
        ]
    )


def blocks(*records: dict[str, Any], regions: RegionMaster | None = None) -> dict[str, Block]:
    built = household_blocks(list(records), nik_key=KEY, written_at=WRITTEN, regions=regions)
    return {block.table: block for block in built}


def as_dicts(block: Block) -> list[dict[str, Any]]:
    return [dict(zip(block.columns, row, strict=True)) for row in block.rows]


def test_one_household_gives_one_household_row_and_a_row_per_member() -> None:
    record = builders.validated_submission()
    built = blocks(record)
    assert list(built) == ["households", "members"]
    assert len(built["households"]) == 1
    assert built["members"].row_count == 4
    household = as_dicts(built["households"])[0]
    assert household["household_id"] == "3509010001-0003-012-01"
    assert household["result"] == "COMPLETE"
    assert household["duration_seconds"] == 42 * 60
    assert household["warning_codes"] == [w["code"] for w in record["warnings"]]
    assert household["written_at"] == WRITTEN
    assert household["bpnt_sembako"] is True and household["blt_dana_desa"] is False
    assert "motorcycle" in household["assets_owned"] and "car" not in household["assets_owned"]


def test_no_name_no_nik_no_address_no_notes_anywhere() -> None:
    record = builders.validated_submission()
    record["submission"]["enumeration"]["notes"] = "Pak Slamet minta datang sore"
    members = record["submission"]["members"]
    secrets = [m["name"] for m in members] + [m["nik"] for m in members]
    secrets += [record["submission"]["location"]["address"], "Pak Slamet"]
    for block in blocks(record).values():
        dates = [v for row in block.rows for v in row if type(v) is dt.date]
        assert not dates, f"a full date (birth date?) in {block.table}"
        text = repr(block.rows)
        for secret in secrets:
            assert secret not in text, f"{secret!r} leaked into {block.table}"
        assert not {"name", "nik", "address", "notes", "birth_date"} & set(block.columns)


def test_nik_hash_is_an_hmac_of_the_nik() -> None:
    record = builders.validated_submission()
    head = record["submission"]["members"][0]
    row = as_dicts(blocks(record)["members"])[0]
    expected = hmac.new(KEY, head["nik"].encode(), hashlib.sha256).hexdigest()
    assert row["nik_hash"] == expected
    assert row["nik_hash"] != hashlib.sha256(head["nik"].encode()).hexdigest()


def test_birth_date_shrinks_to_year_and_month_and_gps_to_100_m() -> None:
    built = blocks(builders.validated_submission())
    head = as_dicts(built["members"])[0]
    assert (head["birth_year"], head["birth_month"]) == (1980, 5)
    household = as_dicts(built["households"])[0]
    assert (household["latitude"], household["longitude"]) == (-8.284, 113.372)


def test_severe_difficulties_mark_a_member_disabled() -> None:
    record = builders.validated_submission()
    record["submission"]["members"][0]["disability"] = builders.disability(
        seeing="A_LOT_OF_DIFFICULTY", walking="SOME_DIFFICULTY"
    )
    record["submission"]["members"][1]["disability"] = None
    rows = as_dicts(blocks(record)["members"])
    assert (rows[0]["difficulty_domains"], rows[0]["disabled"]) == (["seeing"], True)
    assert (rows[1]["difficulty_domains"], rows[1]["disabled"]) == ([], False)


def test_missing_blocks_and_enrichment_become_nulls() -> None:
    submission = builders.household_submission(housing=None, assets=None, social_assistance=None)
    record = builders.validated_submission(submission=submission, enrichment={}, warnings=[])
    household = as_dicts(blocks(record)["households"])[0]
    assert household["tenure"] is None and household["pkh"] is None
    assert household["assets_owned"] == [] and household["cows"] is None
    assert household["household_size"] is None and household["processed_at"] is None
    assert household["supervisor_id"] == "041"  # from the form when the frame has none


def test_bps_location_resolves_district_through_the_bridge() -> None:
    household = as_dicts(blocks(builders.validated_submission(), regions=master())["households"])[0]
    assert household["district_code"] == "35.09.02"
    assert household["regency_code"] == "35.09"
    assert household["bps_district_code"] == "3509010"
    # The shipped master has no BPS village codes: the form's code is kept.
    assert household["village_code"] == household["form_village_code"] == "3509010001"


def test_kemendagri_location_gives_master_codes_directly() -> None:
    location = builders.location(code_system="KEMENDAGRI", district_code="02", village_code="2001")
    submission = builders.household_submission(location=location)
    record = builders.validated_submission(submission=submission)
    household = as_dicts(blocks(record, regions=master())["households"])[0]
    assert household["village_code"] == "35.09.02.2001"
    assert household["district_code"] == "35.09.02"
    assert household["bps_district_code"] == "3509010"
    member = as_dicts(blocks(record, regions=master())["members"])[0]
    assert (member["district_code"], member["village_code"]) == ("35.09.02", "35.09.02.2001")


def test_without_a_master_codes_stay_as_sent() -> None:
    household = as_dicts(blocks(builders.validated_submission())["households"])[0]
    assert (household["district_code"], household["bps_district_code"]) == ("3509010", "3509010")


def test_locator_maps_a_rejection_district_in_either_system() -> None:
    locator = Locator(master())
    assert locator.district("3509010") == ("35.09.02", "3509010")
    assert locator.district("35.09.02") == ("35.09.02", "3509010")
    assert locator.district(None) == ("", "")
    assert Locator().district("3509010") == ("3509010", "3509010")


def test_rejection_block_keeps_original_and_hashes_it() -> None:
    rejection = builders.rejection(district_code="3509010", enumerator_id="0412")
    block = rejection_block([rejection], written_at=WRITTEN, regions=master())
    assert block.table == "rejection_payloads"
    row = as_dicts(block)[0]
    assert row["original"] == b"\x07not avro"
    assert row["original_sha256"] == hashlib.sha256(b"\x07not avro").hexdigest()
    assert row["original_size"] == 9
    assert row["reason_codes"] == [r["code"] for r in rejection["reasons"]]
    assert row["reason_fields"] == [""] and row["reason_messages"] == ["first byte is 7"]
    assert (row["district_code"], row["enumerator_id"]) == ("35.09.02", "0412")


def test_rejection_block_of_nothing_is_empty() -> None:
    assert rejection_block([]).rows == []


def frame() -> Frame:
    return Frame.build(
        [Enumerator("0412", "041", "35.09"), Enumerator("0413", "041", "35.09")],
        [
            Assignment("0412", "35.09.02.2001", "0001"),
            Assignment("0412", "35.09.02.2001", "0002"),
            Assignment("0413", "35.09.03.2001", "0001"),
        ],
        [
            Target("35.09.02.2001", "0001", 30),
            Target("35.09.02.2001", "0002", 20),
            Target("35.09.03.2001", "0001", 25),
        ],
    )


def test_reference_blocks_cover_the_frame_regencies_only() -> None:
    built = {block.table: block for block in reference_blocks(master(), frame())}
    codes = {row["code"] for row in as_dicts(built["regions"])}
    assert {"35", "35.09", "35.11", "35.09.02", "35.09.02.2001"} <= codes
    assert "35.11.01" not in codes and "35.11.01.2001" not in codes
    cakru = next(r for r in as_dicts(built["regions"]) if r["code"] == "35.09.02.2001")
    assert (cakru["district_code"], cakru["regency_code"]) == ("35.09.02", "35.09")
    enumerators = {row["enumerator_id"]: row for row in as_dicts(built["enumerators"])}
    assert enumerators["0412"]["expected_households"] == 50
    assert enumerators["0412"]["sls_units"] == 2
    assert enumerators["0412"]["district_codes"] == ["35.09.02"]
    targets = as_dicts(built["targets"])
    assert sum(t["expected_households"] for t in targets) == 75
    assert {t["district_code"] for t in targets} == {"35.09.02", "35.09.03"}


def test_reference_blocks_without_a_frame_load_every_region() -> None:
    built = {block.table: block for block in reference_blocks(master(), Frame())}
    assert len(built["regions"]) == 9
    assert built["enumerators"].rows == [] and built["targets"].rows == []


def test_building_leaves_the_garbage_collector_as_it_was() -> None:
    assert gc.isenabled()
    blocks(builders.validated_submission())
    assert gc.isenabled()
    gc.disable()
    try:
        blocks(builders.validated_submission())
        assert not gc.isenabled()
    finally:
        gc.enable()
