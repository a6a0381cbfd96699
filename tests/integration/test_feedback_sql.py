"""Feedback to the field in SQL (sinks/feedback.py) on the real engine, against a hand-made story.

Enumerator E1 (team S1) has: h1 accepted clean, h2 accepted with a warning,
h3 returned with a comment, h4 approved, h5 rejected for good, h6 accepted
then its revision 2 rejected, and a submission rejected before it ever became
a household (no household id). E2 (same team) has h7; E3 (team S2) has h8,
returned with a comment. Rejections of other topics (reviews, paradata) never
count. Times are written_at values set per step, so the cursor's order is known.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any
from uuid import uuid4

import pytest
from clickhouse_connect.driver.client import Client

from sinks.clickhouse import client_from_dsn
from sinks.feedback import START, BadCursor, Position, decode_cursor, encode_cursor, feedback_rows
from sinks.feedback import next_position as after_rows
from sinks.migrations import migrate
from sinks.reviews import review_block
from sinks.rows import household_blocks, rejection_block
from sinks.writer import ClickHouseWriter
from tests import builders
from tests.backends import ClickHouseBackend

pytestmark = pytest.mark.integration

TOPIC = "t.submissions"
T0 = dt.datetime(2022, 10, 22, tzinfo=dt.UTC)
COMMENT = "Nama kepala keluarga salah ketik"


def at(minutes: int) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def interview(household: str, enumerator: str, supervisor: str, *, warned: bool) -> Any:
    enumeration = builders.enumeration(enumerator_id=enumerator, supervisor_id=supervisor)
    submission = builders.household_submission(
        household_id=household, revision=1, enumeration=enumeration, submission_id=f"s-{household}"
    )
    record = builders.validated_submission(submission=submission)
    record["enrichment"]["supervisor_id"] = supervisor
    if not warned:
        record["warnings"] = []
    return record


def decision(household: str, outcome: str, minute: int, enumerator: str = "E1") -> Any:
    review = {
        "review_id": str(uuid4()),
        "household_id": household,
        "submission_id": f"s-{household}",
        "revision": 1,
        "enumerator_id": enumerator,
        "supervisor_id": "S2" if enumerator == "E3" else "S1",
        "decision": outcome,
        "comment": None if outcome == "APPROVED" else COMMENT,
        "decided_at": at(minute),
    }
    return review, ("t.reviews", 0, minute, at(minute))


def refused(offset: int, household: str | None, topic: str = TOPIC, who: str = "E1") -> Any:
    return builders.rejection(
        source_topic=topic,
        source_offset=offset,
        submission_id=f"bad-{offset}",
        household_id=household,
        enumerator_id=who,
        reasons=[
            {
                "code": "MEMBER_COUNT_MISMATCH",
                "message": "x",
                "message_id": "x",
                "field_path": "member_count",
            }
        ],
    )


@pytest.fixture(scope="module")
def loaded(clickhouse: ClickHouseBackend) -> Iterator[tuple[Client, str]]:
    client = client_from_dsn(clickhouse.dsn)
    database = f"t_feedback_{uuid4().hex[:10]}"
    migrate(client, database=database)
    writer = ClickHouseWriter(client, database)
    first = [
        interview("h1", "E1", "S1", warned=False),
        interview("h2", "E1", "S1", warned=True),
        interview("h3", "E1", "S1", warned=False),
        interview("h4", "E1", "S1", warned=False),
        interview("h5", "E1", "S1", warned=False),
        interview("h6", "E1", "S1", warned=False),
        interview("h7", "E2", "S1", warned=False),
        interview("h8", "E3", "S2", warned=False),
    ]
    writer.write(household_blocks(first, nik_key=b"k", written_at=at(1)), "v:0:0-7")
    reviews = [
        decision("h3", "RETURNED", 2),
        decision("h4", "APPROVED", 3),
        decision("h5", "REJECTED_FINAL", 4),
        decision("h8", "RETURNED", 5, "E3"),
    ]
    writer.write([review_block(reviews, at(6))], "rv:0:2-5")
    rejections = [
        refused(1, "h6"),  # h6's revision 2, after its accepted revision 1
        refused(2, None),  # never became a household
        refused(3, "h1", topic="t.reviews", who=""),  # a supervisor's refused review
        refused(4, "h1", topic="t.enumerator-events"),  # paradata: not a submission
    ]
    writer.write([rejection_block(rejections, written_at=at(7))], "r:0:1-4")
    yield client, database
    client.command(f"DROP DATABASE IF EXISTS {database}")
    client.close()


def feedback(
    loaded: tuple[Client, str], enumerators: list[str], after: Position = START, limit: int = 100
) -> list[dict[str, Any]]:
    client, database = loaded
    return feedback_rows(client, enumerators, after, topic=TOPIC, limit=limit, database=database)


def test_each_household_of_the_enumerator_once_with_what_became_of_it(
    loaded: tuple[Client, str],
) -> None:
    rows = {row["household_id"]: row for row in feedback(loaded, ["E1"])}
    assert set(rows) == {"h1", "h2", "h3", "h4", "h5", "h6", "bad-2"}
    summary = {
        key: (row["rejected"], row["review_status"], row["revision"], row["submission_id"])
        for key, row in rows.items()
    }
    assert summary == {
        "h1": (False, "AWAITING_REVIEW", 1, "s-h1"),
        "h2": (False, "AWAITING_REVIEW", 1, "s-h2"),
        "h3": (False, "RETURNED", 1, "s-h3"),
        "h4": (False, "APPROVED", 1, "s-h4"),
        "h5": (False, "REJECTED_FINAL", 1, "s-h5"),
        "h6": (True, "AWAITING_REVIEW", 1, "bad-1"),  # the later rejection is the news
        "bad-2": (True, None, None, "bad-2"),
    }
    assert rows["h2"]["warning_codes"] == ["AGE_BIRTHDATE_MISMATCH"]
    assert rows["h1"]["warning_codes"] == []
    assert rows["h6"]["reason_codes"] == ["MEMBER_COUNT_MISMATCH"]
    assert rows["h6"]["reason_fields"] == ["member_count"]
    assert rows["h1"]["reason_codes"] == []  # its refused review and paradata are not its news
    assert (rows["h3"]["comment"], rows["h5"]["comment"]) == (COMMENT, COMMENT)
    assert rows["h1"]["comment"] is None and rows["h4"]["comment"] is None


def test_ordered_by_change_time_then_key_and_paged_by_the_cursor(
    loaded: tuple[Client, str],
) -> None:
    everything = feedback(loaded, ["E1"])
    order = [row["household_id"] for row in everything]
    assert order == ["h1", "h2", "h3", "h4", "h5", "bad-2", "h6"]
    assert everything[0]["updated_ms"] == int(at(1).timestamp() * 1000)
    assert everything[2]["updated_ms"] == int(at(6).timestamp() * 1000)  # its review's write
    paged: list[str] = []
    position = START
    for _ in range(10):
        page = feedback(loaded, ["E1"], decode_cursor(encode_cursor(position)), limit=3)
        if not page:
            break
        paged += [row["household_id"] for row in page]
        position = after_rows(page, position)
    assert paged == order
    assert feedback(loaded, ["E1"], position) == []


def test_a_team_sees_its_enumerators_and_nobody_else(loaded: tuple[Client, str]) -> None:
    team = {row["household_id"] for row in feedback(loaded, ["E1", "E2"])}
    assert "h7" in team and "h8" not in team
    other = {row["household_id"]: row for row in feedback(loaded, ["E3"])}
    assert set(other) == {"h8"}
    assert other["h8"]["comment"] == COMMENT
    assert feedback(loaded, []) == []
    assert feedback(loaded, ["nobody"]) == []


def test_user_input_is_bound_not_spliced(loaded: tuple[Client, str]) -> None:
    sneaky = ["E1') OR 1=1 --", "E1' OR '1'='1"]
    assert feedback(loaded, sneaky) == []
    assert feedback(loaded, ["E1"], Position(0, "' OR 1=1 --")) != []
    with pytest.raises(BadCursor):
        decode_cursor(encode_cursor(Position(5, "h1"))[:-1] + "0")
