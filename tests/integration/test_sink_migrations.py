"""Migrations on the real engine: apply, re-apply, record; blocks fit the tables."""

from __future__ import annotations

import datetime as dt

import pytest
from clickhouse_connect.driver.client import Client

from schemas.frame import Assignment, Enumerator, Frame, Target
from schemas.regions import load_regions
from sinks.migrations import load_migrations, migrate, plan
from sinks.privacy import analyst_role_sql
from sinks.rows import household_blocks, reference_blocks, rejection_block
from tests import builders

pytestmark = pytest.mark.integration


def tables(client: Client, database: str) -> dict[str, str]:
    rows = client.query(
        "SELECT name, engine FROM system.tables WHERE database = {db:String}",
        parameters={"db": database},
    ).result_rows
    return {str(name): str(engine) for name, engine in rows}


def test_migrate_applies_everything_then_nothing(
    clickhouse_client: Client, scratch_database: str
) -> None:
    names = [m.name for m in load_migrations()]
    assert migrate(clickhouse_client, database=scratch_database) == names
    before = tables(clickhouse_client, scratch_database)
    assert migrate(clickhouse_client, database=scratch_database) == []
    assert tables(clickhouse_client, scratch_database) == before
    recorded = clickhouse_client.query(
        f"SELECT version, name FROM {scratch_database}.schema_migrations FINAL ORDER BY version"
    ).result_rows
    assert recorded == [(m.version, m.name) for m in load_migrations()]
    assert before["households"] == "ReplacingMergeTree"
    assert before["progress_village_daily"] == "AggregatingMergeTree"
    assert before["progress_by_district"] == "View"


def test_an_interrupted_migration_is_finished_by_the_next_run(
    clickhouse_client: Client, scratch_database: str
) -> None:
    migrate(clickhouse_client, database=scratch_database)
    clickhouse_client.command(f"DROP VIEW {scratch_database}.progress_by_village")
    last = next(m.name for m in load_migrations() if m.name.endswith("_views"))
    clickhouse_client.command(
        f"ALTER TABLE {scratch_database}.schema_migrations DELETE WHERE name = '{last}'"
        " SETTINGS mutations_sync = 1"
    )
    assert migrate(clickhouse_client, database=scratch_database) == [last]  # only the missing one
    assert "progress_by_village" in tables(clickhouse_client, scratch_database)


def test_every_merge_tree_keeps_a_deduplication_window(
    clickhouse_client: Client, scratch_database: str
) -> None:
    migrate(clickhouse_client, database=scratch_database)
    rows = clickhouse_client.query(
        "SELECT name, create_table_query FROM system.tables"
        " WHERE database = {db:String} AND engine LIKE '%MergeTree'",
        parameters={"db": scratch_database},
    ).result_rows
    assert len(rows) >= 10
    for name, ddl in rows:
        assert "non_replicated_deduplication_window = 10000" in ddl, name


def columns(client: Client, database: str, table: str) -> set[str]:
    result = client.query(f"DESCRIBE TABLE {database}.{table}")
    return {str(row[0]) for row in result.result_rows}


def test_blocks_fill_every_column_of_their_tables(
    clickhouse_client: Client, scratch_database: str
) -> None:
    """Row builders and DDL agree, so no column silently takes its default."""
    migrate(clickhouse_client, database=scratch_database)
    written = dt.datetime(2022, 10, 20, 3, tzinfo=dt.UTC)
    frame = Frame.build(
        [Enumerator("0412", "041", "35.09")],
        [Assignment("0412", "35.09.02.2001", "0001")],
        [Target("35.09.02.2001", "0001", 40)],
    )
    built = [
        *household_blocks([builders.validated_submission()], nik_key=b"k", written_at=written),
        rejection_block([builders.rejection()]),
        *reference_blocks(load_regions(), frame),
    ]
    for block in built:
        assert set(block.columns) == columns(clickhouse_client, scratch_database, block.table), (
            block.table
        )


def test_cluster_ddl_parses_on_this_engine(clickhouse_client: Client) -> None:
    """A cluster cannot run here; the engine's own parser checks every statement."""
    for statement in plan("regsosek", "bps_cluster"):
        clickhouse_client.query(f"EXPLAIN AST {statement}")


def test_analyst_role_ddl_parses_and_names_real_objects(
    clickhouse_client: Client, scratch_database: str
) -> None:
    migrate(clickhouse_client, database=scratch_database)
    existing = tables(clickhouse_client, scratch_database)
    statements = analyst_role_sql(scratch_database, nik_hash=False, area="35.09")
    assert any(s.startswith("CREATE ROW POLICY") for s in statements)
    for statement in statements:
        clickhouse_client.query(f"EXPLAIN AST {statement}")
        if " ON " in statement and statement.startswith(("GRANT", "REVOKE")):
            table = statement.split(f"{scratch_database}.", 1)[1].split(" ", 1)[0]
            assert table in existing, statement
