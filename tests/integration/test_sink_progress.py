"""Progress views against a hand-computed ground truth on the real engine.

Two districts of Jember, four villages, three enumerators. Households come in
three batches (one of them replayed under a new token), with every interview
result, a revisit (INCOMPLETE then COMPLETE), warnings and rejections; one
village has a target and nothing yet. The expected numbers below are counted
by hand from that story.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any
from uuid import uuid4

import pytest
from clickhouse_connect.driver.client import Client

from schemas.frame import Assignment, Enumerator, Frame, Target
from schemas.regions import Level, Region, RegionMaster
from sinks.clickhouse import client_from_dsn
from sinks.migrations import migrate
from sinks.queries import progress, progress_json
from sinks.rows import household_blocks, rejection_block
from sinks.writer import ClickHouseWriter, load_reference
from tests import builders
from tests.backends import ClickHouseBackend

pytestmark = pytest.mark.integration

WIB = builders.WIB
DAY1 = dt.datetime(2022, 10, 20, 8, 0, tzinfo=WIB)
DAY2 = dt.datetime(2022, 10, 21, 6, 0, tzinfo=WIB)  # 23:00 UTC on the 20th: still day 2 in WIB
KENCONG, JOMBANG = "35.09.02", "35.09.03"
V1, V2, V3, V4 = "35.09.02.2001", "35.09.02.2002", "35.09.03.2001", "35.09.03.2002"


def regions() -> RegionMaster:
    return RegionMaster.from_regions(
        [
            Region(Level.PROVINCE, "35", None, "JAWA TIMUR", "35"),
            Region(Level.REGENCY, "35.09", "35", "KAB. JEMBER", "3509"),
            Region(Level.DISTRICT, KENCONG, "35.09", "Kencong", "3509010"),
            Region(Level.DISTRICT, JOMBANG, "35.09", "Jombang", "3509020"),
            Region(Level.VILLAGE, V1, KENCONG, "Cakru"),
            Region(Level.VILLAGE, V2, KENCONG, "Kraton"),
            Region(Level.VILLAGE, V3, JOMBANG, "Ngampelrejo"),
            Region(Level.VILLAGE, V4, JOMBANG, "Padomasan"),
        ]
    )


def frame() -> Frame:
    return Frame.build(
        [
            Enumerator("E1", "S1", "35.09"),
            Enumerator("E2", "S1", "35.09"),
            Enumerator("E3", "S2", "35.09"),
        ],
        [
            Assignment("E1", V1, "0001"),
            Assignment("E1", V1, "0002"),
            Assignment("E2", V2, "0001"),
            Assignment("E3", V3, "0001"),
            Assignment("E3", V4, "0001"),
        ],
        [
            Target(V1, "0001", 3),
            Target(V1, "0002", 2),
            Target(V2, "0001", 4),
            Target(V3, "0001", 6),
            Target(V4, "0001", 2),
        ],
    )


def interview(
    household_id: str,
    village: str,
    enumerator: str,
    result: str,
    *,
    finished: dt.datetime,
    minutes: int,
    revision: int = 1,
    warned: bool = False,
) -> dict[str, Any]:
    district, village_part = village.rsplit(".", 1)
    location = builders.location(
        code_system="KEMENDAGRI", district_code=district[-2:], village_code=village_part
    )
    enumeration = builders.enumeration(
        enumerator_id=enumerator,
        result=result,
        started_at=finished - dt.timedelta(minutes=minutes),
        finished_at=finished,
    )
    submission = builders.household_submission(
        household_id=household_id, revision=revision, location=location, enumeration=enumeration
    )
    record = builders.validated_submission(submission=submission)
    if not warned:
        record["warnings"] = []
    return record


BATCH_1 = [
    interview("h1", V1, "E1", "COMPLETE", finished=DAY1, minutes=30, warned=True),
    interview("h2", V1, "E1", "COMPLETE", finished=DAY1, minutes=40),
    interview("h4", V1, "E1", "INCOMPLETE", finished=DAY1, minutes=10),
    interview("h5", V2, "E2", "COMPLETE", finished=DAY1, minutes=45),
    interview("h6", V2, "E2", "NO_RESPONDENT", finished=DAY1, minutes=5, warned=True),
]
BATCH_2 = [
    interview("h3", V1, "E1", "REFUSED", finished=DAY2, minutes=3),
    interview("h4", V1, "E1", "COMPLETE", finished=DAY2, minutes=50, revision=2),
    interview("h7", V3, "E3", "COMPLETE", finished=DAY2, minutes=35),
    interview("h8", V3, "E3", "MOVED_OR_BUILDING_GONE", finished=DAY2, minutes=2),
]
REJECTIONS = [
    builders.rejection(source_offset=1, district_code="3509010", enumerator_id="E1"),
    builders.rejection(
        source_offset=2,
        district_code="3509010",
        reasons=[
            {"code": "NIK_INVALID", "message": "NIK has 15 digits", "field_path": "members[0].nik"},
            {"code": "AGE_OUT_OF_RANGE", "message": "age 130", "field_path": "members[1].age"},
        ],
    ),
    builders.rejection(source_offset=3, district_code="3509020", enumerator_id="E3"),
    builders.rejection(source_offset=4),  # undecodable: no district, no enumerator
]


@pytest.fixture(scope="module")
def loaded(clickhouse: ClickHouseBackend) -> Iterator[tuple[Client, str]]:
    """One database with the whole story written, shared by the tests of this module."""
    client = client_from_dsn(clickhouse.dsn)
    database = f"t_truth_{uuid4().hex[:10]}"
    client.command(f"DROP DATABASE IF EXISTS {database}")
    migrate(client, database=database)
    writer = ClickHouseWriter(client, database)
    master = regions()
    load_reference(writer, master, frame())
    written = dt.datetime(2022, 10, 21, 1, tzinfo=dt.UTC)
    for token, batch in (("v:0:0-4", BATCH_1), ("v:0:5-8", BATCH_2), ("v:0:3-8", BATCH_2[1:])):
        writer.write(
            household_blocks(batch, nik_key=b"k", written_at=written, regions=master), token
        )
    for token in ("r:0:1-4", "r:0:1-4", "r:0:2-2"):  # a retry and a replay of rejections
        chosen = REJECTIONS if token != "r:0:2-2" else REJECTIONS[1:2]
        writer.write([rejection_block(chosen, regions=master)], token)
    yield client, database
    client.command(f"DROP DATABASE IF EXISTS {database}")
    client.close()


def by_key(rows: list[dict[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    return {row[key]: row for row in rows}


def test_villages(loaded: tuple[Any, str]) -> None:
    client, database = loaded
    rows = by_key(progress(client, "village", database=database), "village_code")
    assert set(rows) == {V1, V2, V3, V4}
    keys: tuple[str, ...] = ("target", "enumerated", "percent", "visited", "incomplete")
    keys += ("refused", "no_respondent", "moved", "warnings")
    expected = {
        V1: (5, 3, 60.0, 4, 1, 1, 0, 0, 1),
        V2: (4, 1, 25.0, 2, 0, 0, 1, 0, 1),
        V3: (6, 1, 16.7, 2, 0, 0, 0, 1, 0),
        V4: (2, 0, 0.0, 0, 0, 0, 0, 0, 0),
    }
    for village, numbers in expected.items():
        assert tuple(rows[village][k] for k in keys) == numbers, village
    assert rows[V1]["village_name"] == "Cakru" and rows[V1]["district_code"] == KENCONG
    assert rows[V4]["last_submission_at"] is None and rows[V1]["rejected"] is None
    assert rows[V1]["last_submission_at"] == DAY2.astimezone(dt.UTC).replace(tzinfo=None)


def test_districts(loaded: tuple[Any, str]) -> None:
    client, database = loaded
    rows = by_key(progress(client, "district", database=database), "district_code")
    assert set(rows) == {KENCONG, JOMBANG}
    kencong, jombang = rows[KENCONG], rows[JOMBANG]
    assert (kencong["target"], kencong["enumerated"], kencong["percent"]) == (9, 4, 44.4)
    assert (kencong["visited"], kencong["rejected"], kencong["warnings"]) == (6, 2, 2)
    assert (kencong["bps_district_code"], kencong["district_name"]) == ("3509010", "Kencong")
    assert (jombang["target"], jombang["enumerated"], jombang["percent"]) == (8, 1, 12.5)
    assert (jombang["visited"], jombang["rejected"], jombang["warnings"]) == (2, 1, 0)


def test_enumerators(loaded: tuple[Any, str]) -> None:
    client, database = loaded
    rows = by_key(progress(client, "enumerator", database=database), "enumerator_id")
    e1, e2, e3 = rows["E1"], rows["E2"], rows["E3"]
    assert (e1["target"], e1["enumerated"], e1["percent"], e1["visited"]) == (5, 3, 60.0, 4)
    assert (e1["days_worked"], e1["households_per_day"], e1["rejected"]) == (2, 1.5, 1)
    # COMPLETE interviews of E1: h1 30 min, h2 40, h4 revision 2 50 (its 10-minute
    # INCOMPLETE revision 1 is not an interview duration).
    assert (e1["duration_p50_s"], e1["duration_p90_s"]) == (2400, 3000)
    assert (e1["supervisor_id"], e1["district_codes"]) == ("S1", [KENCONG])
    assert (e2["target"], e2["enumerated"], e2["days_worked"], e2["rejected"]) == (4, 1, 1, 0)
    assert (e3["target"], e3["enumerated"], e3["percent"], e3["rejected"]) == (8, 1, 12.5, 1)
    assert e3["district_codes"] == [JOMBANG]


def test_fieldwork_days_are_wib(loaded: tuple[Any, str]) -> None:
    client, database = loaded
    days = client.query(
        f"SELECT DISTINCT day FROM {database}.progress_village_daily WHERE village_code = '{V3}'"
    ).result_rows
    assert days == [(dt.date(2022, 10, 21),)]


def test_rejections_by_reason(loaded: tuple[Any, str]) -> None:
    client, database = loaded
    magic = builders.rejection()["reasons"][0]["code"]
    rows = client.query(
        f"SELECT district_code, reason, uniqExactMerge(rejections) FROM {database}.rejections_daily"
        " GROUP BY district_code, reason"
    ).result_rows
    assert sorted(rows) == sorted(
        [
            ("", magic, 1),
            (KENCONG, "AGE_OUT_OF_RANGE", 1),
            (KENCONG, magic, 1),
            (KENCONG, "NIK_INVALID", 1),
            (JOMBANG, magic, 1),
        ]
    )
    assert client.query(f"SELECT count() FROM {database}.rejections FINAL").result_rows == [(4,)]


def test_district_filter_takes_either_code(loaded: tuple[Any, str]) -> None:
    client, database = loaded
    for code in (KENCONG, "3509010"):
        assert [
            r["district_code"] for r in progress_json(client, "district", code, database=database)
        ] == [KENCONG]
        villages = progress_json(client, "village", code, database=database)
        assert [r["village_code"] for r in villages] == [V1, V2]
        enumerators = progress_json(client, "enumerator", code, database=database)
        assert [r["enumerator_id"] for r in enumerators] == ["E1", "E2"]
