"""Effectively-once on the real engine: retries, replays, revisions, injected faults.

The tables and every progress view must show each household once however
often a batch arrives: the same token (a retry), a new token (a replay after a
crash), or a newer revision. Faults are injected by a thin proxy around the
real client; ClickHouse itself does the deduplication being tested.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import OperationalError

from sinks.migrations import migrate
from sinks.queries import progress_json
from sinks.rows import Block, household_blocks, rejection_block
from sinks.writer import ClickHouseWriter, RetryPolicy, SinkUnavailable, dedup_token
from tests import builders

pytestmark = pytest.mark.integration

WRITTEN = dt.datetime(2022, 10, 20, 3, tzinfo=dt.UTC)
FAST = RetryPolicy(max_attempts=4, base_delay_s=0.001, max_delay_s=0.002)


@pytest.fixture
def database(clickhouse_client: Client, scratch_database: str) -> str:
    migrate(clickhouse_client, database=scratch_database)
    return scratch_database


def household(
    household_id: str = "3509010001-0003-012-01",
    revision: int = 1,
    members: int = 4,
    result: str = "COMPLETE",
) -> dict[str, Any]:
    submission = builders.household_submission(
        household_id=household_id,
        revision=revision,
        members=builders.family_members()[:members],
        member_count=members,
        enumeration=builders.enumeration(result=result),
    )
    return builders.validated_submission(submission=submission)


def blocks(*records: dict[str, Any]) -> list[Block]:
    return household_blocks(list(records), nik_key=b"k", written_at=WRITTEN)


def scalar(client: Client, sql: str) -> Any:
    return client.query(sql).result_rows[0][0]


def progress(client: Client, database: str) -> dict[str, list[dict[str, Any]]]:
    return {by: progress_json(client, by, database=database) for by in ("district", "enumerator")}


def test_same_token_three_times_is_one_copy_everywhere(
    clickhouse_client: Client, database: str
) -> None:
    writer = ClickHouseWriter(clickhouse_client, database)
    token = dedup_token("regsosek.submissions.valid", 0, 10, 19)
    writer.write(blocks(household()), token)
    after_first = progress(clickhouse_client, database)
    writer.write(blocks(household()), token)
    writer.write(blocks(household()), token)
    assert scalar(clickhouse_client, f"SELECT count() FROM {database}.households") == 1
    assert scalar(clickhouse_client, f"SELECT count() FROM {database}.members") == 4
    # The view targets were deduplicated too: one state row, not three.
    for table in ("progress_village_daily", "progress_enumerator_daily"):
        assert scalar(clickhouse_client, f"SELECT count() FROM {database}.{table}") == 1
    assert progress(clickhouse_client, database) == after_first
    assert after_first["district"][0]["enumerated"] == 1


def test_replay_under_a_new_token_changes_no_count(
    clickhouse_client: Client, database: str
) -> None:
    writer = ClickHouseWriter(clickhouse_client, database)
    writer.write(blocks(household(), household("3509010001-0003-013-01")), "t:0:0-1")
    before = progress(clickhouse_client, database)
    writer.write(blocks(household()), "t:0:0-0")  # a replay with other batch boundaries
    assert scalar(clickhouse_client, f"SELECT count() FROM {database}.households") == 3
    assert scalar(clickhouse_client, f"SELECT count() FROM {database}.households FINAL") == 2
    assert progress(clickhouse_client, database) == before
    assert before["district"][0]["enumerated"] == 2
    assert before["enumerator"][0]["duration_p50_s"] == 42 * 60
    assert scalar(clickhouse_client, f"SELECT count() FROM {database}.members_current") == 8


def test_rejections_count_once_whatever_the_token(clickhouse_client: Client, database: str) -> None:
    writer = ClickHouseWriter(clickhouse_client, database)
    block = rejection_block([builders.rejection(district_code="3509010")], written_at=WRITTEN)
    for token in ("r:3:1234-1234", "r:3:1234-1234", "r:3:1234-1234"):
        writer.write([block], token)
    for table in ("rejection_payloads", "rejections", "rejections_daily"):
        assert scalar(clickhouse_client, f"SELECT count() FROM {database}.{table}") == 1, table
    writer.write([block], "r:3:1200-1300")  # replayed inside a wider batch
    assert scalar(clickhouse_client, f"SELECT count() FROM {database}.rejections FINAL") == 1
    rejected = scalar(
        clickhouse_client, f"SELECT uniqExactMerge(rejections) FROM {database}.rejections_daily"
    )
    assert rejected == 1


def test_a_newer_revision_with_fewer_members_supersedes(
    clickhouse_client: Client, database: str
) -> None:
    writer = ClickHouseWriter(clickhouse_client, database)
    writer.write(blocks(household(revision=1, members=4, result="INCOMPLETE")), "t:0:0-0")
    writer.write(blocks(household(revision=2, members=2)), "t:0:1-1")
    writer.write(blocks(household(revision=1, members=4, result="INCOMPLETE")), "t:1:0-0")  # late
    final = clickhouse_client.query(
        f"SELECT revision, result, members_listed FROM {database}.households FINAL"
    ).result_rows
    assert final == [(2, "COMPLETE", 2)]
    current = clickhouse_client.query(
        f"SELECT member_number, revision FROM {database}.members_current ORDER BY member_number"
    ).result_rows
    assert current == [(1, 2), (2, 2)]
    # Why the view exists: members FINAL alone still holds the old members 3 and 4.
    assert scalar(clickhouse_client, f"SELECT count() FROM {database}.members FINAL") == 4
    district = progress_json(clickhouse_client, "district", database=database)[0]
    assert (district["visited"], district["enumerated"], district["incomplete"]) == (1, 1, 1)


def test_a_revision_without_members_leaves_no_current_member(
    clickhouse_client: Client, database: str
) -> None:
    writer = ClickHouseWriter(clickhouse_client, database)
    writer.write(blocks(household(revision=1)), "t:0:0-0")
    writer.write(blocks(household(revision=2, members=0, result="REFUSED")), "t:0:1-1")
    assert scalar(clickhouse_client, f"SELECT count() FROM {database}.members_current") == 0


class FlakyClient:
    """The real client, except that inserts into ``tables`` fail ``failures`` times."""

    def __init__(self, client: Client, failures: int, tables: tuple[str, ...] = ()) -> None:
        self._client = client
        self.failures = failures
        self.tables = tables
        self.inserts = 0

    def insert(self, table: str, *args: Any, **kwargs: Any) -> Any:
        self.inserts += 1
        if self.failures and (not self.tables or table in self.tables):
            self.failures -= 1
            raise OperationalError(f"injected failure inserting into {table}")
        return self._client.insert(table, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def test_failed_inserts_are_retried_and_land_once(clickhouse_client: Client, database: str) -> None:
    flaky, pauses = FlakyClient(clickhouse_client, failures=2), list[float]()
    retries: list[tuple[int, str]] = []
    writer = ClickHouseWriter(
        flaky,
        database,
        retry=FAST,
        sleep=pauses.append,
        on_retry=lambda attempt, table, exc, pause: retries.append((attempt, table)),
    )
    result = writer.write(blocks(household()), "t:0:0-0")
    assert result.attempts == 3 and result.rows == {"households": 1, "members": 4}
    assert retries == [(1, "households"), (2, "households")] and len(pauses) == 2
    assert scalar(clickhouse_client, f"SELECT count() FROM {database}.households") == 1
    assert scalar(clickhouse_client, f"SELECT count() FROM {database}.members") == 4


def test_spent_retries_raise_and_nothing_is_half_written(
    clickhouse_client: Client, database: str
) -> None:
    flaky = FlakyClient(clickhouse_client, failures=100)
    with pytest.raises(SinkUnavailable) as caught:
        ClickHouseWriter(flaky, database, retry=FAST, sleep=lambda _s: None).write(
            blocks(household()), "t:0:0-0"
        )
    assert caught.value.attempts == FAST.max_attempts and not caught.value.permanent
    assert scalar(clickhouse_client, f"SELECT count() FROM {database}.households") == 0


def test_households_in_members_failed_then_retry_and_replay_count_once(
    clickhouse_client: Client, database: str
) -> None:
    """The worst split: the first block is stored, the second is not, the worker gives up.

    Kafka offsets were not committed, so the batch comes back: first under the
    same token (same offsets), then once more under another (new boundaries).
    """
    flaky = FlakyClient(clickhouse_client, failures=100, tables=("members",))
    with pytest.raises(SinkUnavailable) as caught:
        ClickHouseWriter(flaky, database, retry=FAST, sleep=lambda _s: None).write(
            blocks(household()), "t:0:0-0"
        )
    assert caught.value.table == "members"
    assert scalar(clickhouse_client, f"SELECT count() FROM {database}.households") == 1
    assert scalar(clickhouse_client, f"SELECT count() FROM {database}.members") == 0

    writer = ClickHouseWriter(clickhouse_client, database)
    writer.write(blocks(household()), "t:0:0-0")
    assert scalar(clickhouse_client, f"SELECT count() FROM {database}.households") == 1
    assert scalar(clickhouse_client, f"SELECT count() FROM {database}.members") == 4
    before = progress(clickhouse_client, database)
    writer.write(blocks(household()), "t:0:0-5")
    assert progress(clickhouse_client, database) == before
    assert before["district"][0]["enumerated"] == 1
    assert scalar(clickhouse_client, f"SELECT count() FROM {database}.members_current") == 4


def test_a_table_level_error_is_held_not_blamed_on_the_rows(
    clickhouse_client: Client, database: str
) -> None:
    """A column the table lacks fails every row alike: retried (an operator can fix it)."""
    broken = Block("households", ["household_id", "no_such_column"], [["h", 1]])
    pauses: list[float] = []
    policy = RetryPolicy(max_attempts=2, base_delay_s=0.01)
    with pytest.raises(SinkUnavailable) as caught:
        ClickHouseWriter(clickhouse_client, database, retry=policy, sleep=pauses.append).write(
            [broken], "t"
        )
    assert not caught.value.permanent and caught.value.attempts == 2 and len(pauses) == 1


def test_a_value_the_engine_refuses_is_a_row_error(
    clickhouse_client: Client, database: str
) -> None:
    """Out of range for its column: the same rows fail again, so no retry; the caller narrows."""
    rows = blocks(household())[0]
    bad = Block(rows.table, rows.columns, [list(rows.rows[0])])
    bad.rows[0][rows.columns.index("revision")] = -5  # UInt32
    pauses: list[float] = []
    with pytest.raises(SinkUnavailable) as caught:
        ClickHouseWriter(clickhouse_client, database, sleep=pauses.append).write([bad], "t")
    assert caught.value.permanent and caught.value.attempts == 1 and pauses == []
