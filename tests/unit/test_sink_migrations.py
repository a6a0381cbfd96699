"""The versioned DDL as text: ordering, placeholders, deduplication windows, cluster form."""

from __future__ import annotations

import re

import pytest

from schemas.errors import ConfigurationError
from sinks.migrations import (
    SHARDING_KEYS,
    created_objects,
    load_migrations,
    plan,
    render,
    split_statements,
)

MERGE_TREE_TABLE = re.compile(r"^CREATE TABLE .*ENGINE = \w*MergeTree", re.DOTALL)


def test_migrations_are_ordered_and_named() -> None:
    migrations = load_migrations()
    versions = [m.version for m in migrations]
    assert versions == sorted(versions) == list(range(1, len(versions) + 1))
    assert all(re.fullmatch(r"\d{4}_[a-z0-9_]+", m.name) for m in migrations)
    assert len({m.checksum for m in migrations}) == len(migrations)


def test_single_node_plan_has_no_placeholder_and_no_cluster() -> None:
    statements = plan("regsosek")
    assert statements[0] == "CREATE DATABASE IF NOT EXISTS regsosek"
    for statement in statements:
        assert "${" not in statement and "ON CLUSTER" not in statement
        assert "_local" not in statement and "Replicated" not in statement
        assert re.match(
            r"CREATE (OR REPLACE VIEW|(DATABASE|TABLE|MATERIALIZED VIEW) IF NOT EXISTS) "
            r"|ALTER TABLE \S+ +ADD COLUMN IF NOT EXISTS "
            r"|DROP VIEW IF EXISTS ",  # a view replaced under a new name (0011), never a table
            " ".join(statement.split()),
        ), f"not idempotent: {statement.splitlines()[0]}"


def test_every_merge_tree_table_has_a_deduplication_window() -> None:
    """Without it insert tokens are silently ignored (DESIGN: measured 3,000 rows, not 1,000)."""
    tables = [s for s in plan("regsosek") if MERGE_TREE_TABLE.match(s)]
    assert len(tables) >= 10
    for statement in tables:
        window = re.search(r"non_replicated_deduplication_window = (\d+)", statement)
        assert window and int(window.group(1)) > 0, statement.splitlines()[0]


def test_expected_objects_exist() -> None:
    names = set(created_objects(plan("regsosek")))
    assert {
        "households",
        "members",
        "members_current",
        "rejections",
        "rejection_payloads",
        "regions",
        "enumerators",
        "targets",
        "progress_by_district",
        "progress_by_village",
        "progress_by_enumerator",
        "schema_migrations",
    } <= names


def test_cluster_plan_runs_everything_on_the_cluster() -> None:
    statements = plan("regsosek", "bps_jatim")
    for statement in statements:
        assert "ON CLUSTER 'bps_jatim'" in statement, statement.splitlines()[0]


def test_per_node_plan_is_the_cluster_plan_without_on_cluster() -> None:
    """For an engine without distributed DDL: the same tables, applied node by node."""
    clustered = plan("regsosek", "bps_jatim")
    per_node = plan("regsosek", "bps_jatim", per_node=True)
    assert len(per_node) == len(clustered)
    for on_cluster, local in zip(clustered, per_node, strict=True):
        assert "ON CLUSTER" not in local
        assert " ".join(local.split()) == " ".join(
            on_cluster.replace(" ON CLUSTER 'bps_jatim'", "").split()
        )
    assert per_node[0] == "CREATE DATABASE IF NOT EXISTS regsosek"
    assert any("ENGINE = ReplicatedReplacingMergeTree(" in s for s in per_node)
    assert any(
        s.startswith("CREATE TABLE IF NOT EXISTS regsosek.households AS regsosek.households_local")
        for s in per_node
    )


def test_per_node_means_nothing_without_a_cluster() -> None:
    assert plan("regsosek", per_node=True) == plan("regsosek")


def test_cluster_engines_are_replicated() -> None:
    for statement in plan("regsosek", "c1"):
        engine = re.search(r"ENGINE = (\w+)", statement)
        if engine and statement.startswith("CREATE TABLE") and " AS " not in statement:
            assert engine.group(1).startswith("Replicated"), statement.splitlines()[0]
            assert "'{replica}'" in statement


def test_cluster_puts_distributed_tables_in_front_of_local_ones() -> None:
    statements = plan("regsosek", "c1")
    local = {
        m.group(1)
        for s in statements
        if (m := re.match(r"CREATE TABLE IF NOT EXISTS regsosek\.(\w+)_local ", s))
    }
    assert {"households", "members", "rejection_payloads", "progress_village_daily"} <= local
    for name in local:
        front = [
            s for s in statements if s.startswith(f"CREATE TABLE IF NOT EXISTS regsosek.{name} ")
        ]
        assert len(front) == 1, name
        assert (
            f"AS regsosek.{name}_local ENGINE = Distributed('c1', 'regsosek', '{name}_local'"
            in (front[0])
        )
        key = SHARDING_KEYS.get(name)
        assert (key in front[0]) if key else front[0].endswith(f"'{name}_local')")
    sharded_path = next(s for s in statements if "regsosek.households_local " in s)
    assert "'/clickhouse/tables/{shard}/regsosek/households_local'" in sharded_path


def test_cluster_reference_tables_are_replicated_everywhere_not_sharded() -> None:
    statements = plan("regsosek", "c1")
    targets = next(
        s for s in statements if s.startswith("CREATE TABLE IF NOT EXISTS regsosek.targets")
    )
    assert "ReplicatedReplacingMergeTree('/clickhouse/tables/all/regsosek/targets'" in targets
    assert not any("targets_local" in s for s in statements)


def test_cluster_views_read_distributed_and_materialized_views_stay_local() -> None:
    statements = plan("regsosek", "c1")
    mv = next(s for s in statements if "progress_village_daily_mv" in s)
    assert "TO regsosek.progress_village_daily_local" in mv
    assert "FROM regsosek.households_local" in mv
    view = next(s for s in statements if "VIEW regsosek.progress_by_district" in s)
    assert "_local" not in view


def test_replacing_version_column_survives_the_cluster_rewrite() -> None:
    households = next(s for s in plan("x", "c") if "x.households_local " in s)
    assert "'{replica}', revision)" in households


def test_semicolons_inside_comments_do_not_split() -> None:
    text = "-- a; b\nCREATE TABLE t (a String COMMENT 'x; y');\nCREATE VIEW v AS SELECT 1;\n"
    assert split_statements(text) == [
        "CREATE TABLE t (a String COMMENT 'x; y')",
        "CREATE VIEW v AS SELECT 1",
    ]


@pytest.mark.parametrize(("database", "cluster"), [("bad-name", None), ("ok", "c; DROP")])
def test_unsafe_names_are_refused(database: str, cluster: str | None) -> None:
    with pytest.raises(ConfigurationError):
        render("SELECT 1", database=database, cluster=cluster)
