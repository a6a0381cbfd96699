"""Every ClickHouse panel of the dashboards runs on the real engine and returns rows.

Issue #7: the *Census progress* dashboard's raw SQL is run as Grafana's
ClickHouse plugin would send it, against the session engine, on a small
fieldwork written the way the worker writes it (``sinks.rows`` blocks through
``ClickHouseWriter``): two districts of Jember, three villages, two
enumerators, every interview result, a revisit, and rejections. The panels
name the ``regsosek`` database; the test points them at a scratch database.
The panels use no Grafana macros (fieldwork is a month: they show all of it),
so a ``$`` left in the SQL fails the test rather than being guessed at.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client

from schemas.frame import Assignment, Enumerator, Frame, Target
from schemas.regions import Level, Region, RegionMaster
from sinks.migrations import migrate
from sinks.rows import household_blocks, rejection_block
from sinks.writer import ClickHouseWriter, load_reference
from tests import builders
from tests.prometheus_harness import dashboard_targets

pytestmark = pytest.mark.integration

WIB = builders.WIB
KENCONG, JOMBANG = "35.09.02", "35.09.03"
V1, V2, V3 = "35.09.02.2001", "35.09.02.2002", "35.09.03.2001"
DAY1 = dt.datetime(2022, 10, 20, 9, 0, tzinfo=WIB)
DAY2 = dt.datetime(2022, 10, 21, 10, 0, tzinfo=WIB)
DATABASE = re.compile(r"\bregsosek\.")


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
        ]
    )


def frame() -> Frame:
    return Frame.build(
        [Enumerator("E1", "S1", "35.09"), Enumerator("E2", "S1", "35.09")],
        [Assignment("E1", V1, "0001"), Assignment("E1", V2, "0001"), Assignment("E2", V3, "0001")],
        [Target(V1, "0001", 4), Target(V2, "0001", 3), Target(V3, "0001", 5)],
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
    return builders.validated_submission(submission=submission)


HOUSEHOLDS = [
    interview("h1", V1, "E1", "COMPLETE", finished=DAY1, minutes=35),
    interview("h2", V1, "E1", "COMPLETE", finished=DAY1, minutes=50),
    interview("h3", V1, "E1", "INCOMPLETE", finished=DAY1, minutes=10),
    interview("h3", V1, "E1", "COMPLETE", finished=DAY2, minutes=45, revision=2),
    interview("h4", V2, "E1", "REFUSED", finished=DAY2, minutes=4),
    interview("h5", V3, "E2", "COMPLETE", finished=DAY1, minutes=40),
    interview("h6", V3, "E2", "NO_RESPONDENT", finished=DAY2, minutes=3),
    interview("h7", V3, "E2", "MOVED_OR_BUILDING_GONE", finished=DAY2, minutes=2),
]
REJECTIONS = [
    builders.rejection(source_offset=1, district_code="3509010", enumerator_id="E1"),
    builders.rejection(
        source_offset=2,
        district_code="3509020",
        enumerator_id="E2",
        reasons=[{"code": "AGE_RANGE", "message": "age 130", "field_path": "members[0].age"}],
    ),
    builders.rejection(source_offset=3),  # undecodable: no district, no enumerator
]


def clickhouse_panels() -> list[tuple[str, str]]:
    """(where, SQL) of every ClickHouse panel target."""
    return [
        (f"{board} / {title}", str(target["rawSql"]))
        for board, title, target in dashboard_targets("mysql")
    ]


def test_dashboards_have_clickhouse_panels() -> None:
    panels = clickhouse_panels()
    assert len(panels) >= 10
    for where, sql in panels:
        assert DATABASE.search(sql), f"{where}: name the regsosek database"
        assert "$" not in sql, f"{where}: a Grafana macro the test does not substitute"


def test_every_clickhouse_panel_returns_rows(
    clickhouse_client: Client, scratch_database: str
) -> None:
    client, database = clickhouse_client, scratch_database
    migrate(client, database=database)
    writer = ClickHouseWriter(client, database)
    master = regions()
    load_reference(writer, master, frame())
    written = dt.datetime(2022, 10, 21, 12, tzinfo=dt.UTC)
    writer.write(
        household_blocks(HOUSEHOLDS, nik_key=b"k", written_at=written, regions=master), "h"
    )
    writer.write([rejection_block(REJECTIONS, written_at=written, regions=master)], "r")

    empty, answers = [], {}
    for where, sql in clickhouse_panels():
        rows = client.query(DATABASE.sub(f"{database}.", sql)).named_results()
        answers[where] = list(rows)
        if not answers[where]:
            empty.append(where)
    assert not empty, "panels without rows:\n" + "\n".join(empty)

    total = answers["census-progress.json / Households enumerated"][0]
    assert tuple(total.values()) == (4, 12, 33.3)
    results = answers["census-progress.json / Interview results"][0]
    assert tuple(results.values()) == (4, 1, 1, 1, 1)  # h3 was INCOMPLETE in revision 1
    reasons = {
        row["reason"]: row["rejections"]
        for row in answers["census-progress.json / Rejections by reason"]
    }
    assert reasons == {"DECODE_BAD_MAGIC_BYTE": 2, "AGE_RANGE": 1}
    durations = answers["census-progress.json / Complete interview duration"]
    assert sum(row["interviews"] for row in durations) == 4  # h3 counts its newest revision
