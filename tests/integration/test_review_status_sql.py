"""The review lifecycle in SQL (migration 0008) on the real engine, against a hand-made story.

Seven households of one team (supervisor S1: E1, E2) and one of another (S2:
E3). Decisions and revisions are written in an order that differs from the
order they were made (a decision before the revision that follows it, a later
decision inserted first), replayed under the same token and resent under a new
one, so the status must come from the data, not from arrival order.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any
from uuid import uuid4

import pytest
from clickhouse_connect.driver.client import Client

from sinks.clickhouse import client_from_dsn
from sinks.migrations import migrate
from sinks.reviews import review_block
from sinks.rows import household_blocks
from sinks.writer import ClickHouseWriter
from tests import builders
from tests.backends import ClickHouseBackend

pytestmark = pytest.mark.integration

T0 = dt.datetime(2022, 10, 20, 3, 0, tzinfo=dt.UTC)
WRITTEN = dt.datetime(2022, 10, 22, tzinfo=dt.UTC)


def interview(household: str, enumerator: str, supervisor: str, revision: int = 1) -> Any:
    enumeration = builders.enumeration(enumerator_id=enumerator, supervisor_id=supervisor)
    submission = builders.household_submission(
        household_id=household, revision=revision, enumeration=enumeration
    )
    record = builders.validated_submission(submission=submission)
    record["enrichment"]["supervisor_id"] = supervisor  # the frame's, as the worker sets it
    return record


def decision(
    household: str, revision: int, outcome: str, minutes: int, *, review_id: str | None = None
) -> tuple[dict[str, Any], tuple[str, int, int, dt.datetime]]:
    review = {
        "review_id": review_id or str(uuid4()),
        "household_id": household,
        "submission_id": f"sub-{household}-{revision}",
        "revision": revision,
        "enumerator_id": "E3" if household == "h8" else "E1",
        "supervisor_id": "S2" if household == "h8" else "S1",
        "decision": outcome,
        "comment": None if outcome == "APPROVED" else "Nama kepala keluarga salah ketik",
        "decided_at": T0 + dt.timedelta(minutes=minutes),
    }
    return review, ("t.reviews", 0, minutes, T0 + dt.timedelta(minutes=minutes))


REVISION_1 = [
    interview("h1", "E1", "S1"),
    interview("h2", "E1", "S1"),
    interview("h3", "E1", "S1"),
    interview("h4", "E2", "S1"),
    interview("h5", "E2", "S1"),
    interview("h6", "E2", "S1"),
    interview("h7", "E2", "S1"),
    interview("h8", "E3", "S2"),
]
REVISION_2 = [interview("h2", "E1", "S1", 2), interview("h5", "E2", "S1", 2)]
RESENT = decision("h3", 1, "RETURNED", 40)
# written before the households' revision 2, though h2's and h5's revision 2 came after them
EARLY = [
    decision("h1", 1, "APPROVED", 10),
    decision("h2", 1, "RETURNED", 11),
    RESENT,
    decision("h5", 1, "REJECTED_FINAL", 12),
    decision("h6", 1, "RETURNED", 30),  # decided later than the approval below
    decision("h8", 1, "APPROVED", 13),
]
LATE = [decision("h6", 1, "APPROVED", 20), decision("h7", 1, "APPROVED", 21)]


@pytest.fixture(scope="module")
def loaded(clickhouse: ClickHouseBackend) -> Iterator[tuple[Client, str]]:
    client = client_from_dsn(clickhouse.dsn)
    database = f"t_reviews_{uuid4().hex[:10]}"
    migrate(client, database=database)
    writer = ClickHouseWriter(client, database)
    writer.write(household_blocks(REVISION_1, nik_key=b"k", written_at=WRITTEN), "v:0:0-7")
    for token in ("rv:0:10-40", "rv:0:10-40"):  # a replayed batch: one set of rows
        writer.write([review_block(EARLY, WRITTEN)], token)
    writer.write(household_blocks(REVISION_2, nik_key=b"k", written_at=WRITTEN), "v:0:8-9")
    writer.write([review_block(LATE, WRITTEN)], "rv:0:41-42")
    writer.write([review_block([RESENT], WRITTEN)], "rv:0:43-43")  # a resent decision
    yield client, database
    client.command(f"DROP DATABASE IF EXISTS {database}")
    client.close()


def rows(client: Client, sql: str) -> list[dict[str, Any]]:
    result = client.query(sql)
    return [dict(zip(result.column_names, row, strict=True)) for row in result.result_rows]


def test_each_household_has_the_status_of_its_latest_revision(loaded: tuple[Client, str]) -> None:
    client, database = loaded
    found = {
        row["household_id"]: (row["revision"], row["status"], row["revised"], row["decisions"])
        for row in rows(client, f"SELECT * FROM {database}.interview_status")
    }
    assert found == {
        "h1": (1, "APPROVED", 0, 1),
        "h2": (2, "AWAITING_REVIEW", 1, 1),  # returned, came back revised
        "h3": (1, "RETURNED", 0, 1),  # the resent decision counts once
        "h4": (1, "AWAITING_REVIEW", 0, 0),
        "h5": (2, "REJECTED_FINAL", 0, 1),  # terminal, whatever was sent after it
        "h6": (1, "RETURNED", 0, 2),  # the latest decision wins, not the last written
        "h7": (1, "APPROVED", 0, 1),
        "h8": (1, "APPROVED", 0, 1),
    }


def test_review_progress_counts_each_status_beside_enumerated(loaded: tuple[Client, str]) -> None:
    client, database = loaded
    columns = "households, enumerated, awaiting_review, approved, returned, rejected_final"
    teams = {
        row.pop("supervisor_id"): tuple(row.values())
        for row in rows(
            client, f"SELECT supervisor_id, {columns} FROM {database}.review_progress_by_team"
        )
    }
    assert teams == {"S1": (7, 7, 2, 2, 2, 1), "S2": (1, 1, 0, 1, 0, 0)}
    enumerators = {
        row.pop("enumerator_id"): tuple(row.values())
        for row in rows(
            client, f"SELECT enumerator_id, {columns} FROM {database}.review_progress_by_enumerator"
        )
    }
    assert enumerators["E1"] == (3, 3, 1, 1, 1, 0)
    assert enumerators["E2"] == (4, 4, 1, 1, 1, 1)
    districts = rows(client, f"SELECT {columns} FROM {database}.review_progress_by_district")
    assert [tuple(row.values()) for row in districts] == [(8, 8, 2, 3, 2, 1)]


def test_analysts_table_has_no_comment_and_one_row_per_review(loaded: tuple[Client, str]) -> None:
    client, database = loaded
    columns = [r["name"] for r in rows(client, f"DESCRIBE TABLE {database}.review_decisions")]
    assert "comment" not in columns and "has_comment" in columns
    counted = rows(
        client,
        f"SELECT count() AS n, countIf(has_comment) AS commented"
        f" FROM {database}.review_decisions FINAL",
    )
    assert counted == [{"n": 8, "commented": 4}]
    stored = rows(client, f"SELECT count() AS n FROM {database}.reviews FINAL")
    assert stored == [{"n": 8}]
