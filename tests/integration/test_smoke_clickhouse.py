"""Smoke: a row written and read back through the real ClickHouse engine."""

from __future__ import annotations

from datetime import UTC, datetime

from clickhouse_connect.driver.client import Client

from tests.backends import ClickHouseBackend


def test_engine_is_real_clickhouse(
    clickhouse: ClickHouseBackend, clickhouse_client: Client
) -> None:
    version = clickhouse_client.query("SELECT version()").result_rows[0][0]
    assert version.split(".")[0].isdigit()
    assert version in clickhouse.description


def test_write_and_read_a_row(clickhouse_client: Client, scratch_database: str) -> None:
    table = f"{scratch_database}.households"
    clickhouse_client.command(
        f"CREATE TABLE {table} (household_id String, revision UInt32, finished_at DateTime64(3))"
        " ENGINE = ReplacingMergeTree(revision) ORDER BY household_id"
    )
    finished = datetime(2022, 10, 20, 9, 30, tzinfo=UTC)
    clickhouse_client.insert(
        table,
        [["3509010001-0001-001", 1, finished], ["3509010001-0001-001", 2, finished]],
        column_names=["household_id", "revision", "finished_at"],
    )
    rows = clickhouse_client.query(
        f"SELECT household_id, revision FROM {table} FINAL ORDER BY household_id"
    ).result_rows
    assert rows == [("3509010001-0001-001", 2)], "ReplacingMergeTree keeps the newest revision"


def test_insert_deduplication_token_needs_window(
    clickhouse_client: Client, scratch_database: str
) -> None:
    """The fact our effectively-once sink rests on, checked on this engine version."""
    with_window = f"{scratch_database}.with_window"
    without = f"{scratch_database}.without_window"
    for table, window in ((with_window, 100), (without, 0)):
        clickhouse_client.command(
            f"CREATE TABLE {table} (x UInt32) ENGINE = MergeTree ORDER BY x"
            f" SETTINGS non_replicated_deduplication_window = {window}"
        )
        for _ in range(3):
            clickhouse_client.insert(
                table,
                [[i] for i in range(100)],
                column_names=["x"],
                settings={"insert_deduplication_token": "topic-0-0-99"},
            )
    count = "SELECT count() FROM {}"
    assert clickhouse_client.query(count.format(with_window)).result_rows[0][0] == 100
    assert clickhouse_client.query(count.format(without)).result_rows[0][0] == 300
