"""Erasure's pure parts: the plan from a catalogue, the SQL, the audit hash, the request, Kafka."""

from __future__ import annotations

import hashlib
import json

import pytest

from sinks.erasure import (
    CatalogTable,
    ErasureError,
    ErasureReport,
    TableOutcome,
    household_hash,
    plan_from_catalog,
    rebuild_sqls,
    replace_source,
)
from sinks.retention import payload_ttl_statements
from streams.cli.erase import kafka_remains
from streams.settings import Settings
from streams.worker.erasure import BadErasure, parse_request

HOUSEHOLD = "35.09.02.2001-0003-0301-01"


def merge_tree(
    name: str, *columns: str, feeds: tuple[str, ...] = (), key: str = ""
) -> CatalogTable:
    return CatalogTable(
        name, "ReplacingMergeTree", key or columns[0], dependencies=feeds, columns=columns
    )


def view(name: str, source: str, target: str) -> CatalogTable:
    return CatalogTable(
        name,
        "MaterializedView",
        as_select=f"SELECT village_code, uniqExactState(household_id) AS n FROM db.{source}"
        " GROUP BY village_code",
        create_table_query=f"CREATE MATERIALIZED VIEW db.{name} TO db.{target} (...) AS SELECT",
    )


def catalog() -> list[CatalogTable]:
    return [
        merge_tree("households", "household_id", "village_code", feeds=("agg_mv", "copy_mv")),
        merge_tree("copy", "household_id", "village_code"),
        CatalogTable("agg", "AggregatingMergeTree", "village_code", columns=("village_code", "n")),
        merge_tree("regions", "code", "name"),
        view("agg_mv", "households", "agg"),
        view("copy_mv", "households", "copy"),
        CatalogTable("progress", "View"),
    ]


def test_the_plan_deletes_from_holders_and_rebuilds_aggregates() -> None:
    plan = plan_from_catalog("db", catalog())
    assert plan.tables == ("copy", "households")  # not regions: it holds no household
    (rebuild,) = plan.rebuilds  # copy_mv's target holds the id: deleted, not rebuilt
    assert (rebuild.target, rebuild.source, rebuild.keys) == (
        "agg",
        "households",
        ("village_code",),
    )
    assert rebuild.columns == ("village_code", "n")


def test_an_aggregate_of_payloads_is_rebuilt_from_their_copy_that_does_not_expire() -> None:
    tables = [
        merge_tree("rejection_payloads", "household_id", feeds=("daily_mv",)),
        merge_tree("rejections", "household_id"),
        CatalogTable("daily", "AggregatingMergeTree", "village_code", columns=("village_code",)),
        view("daily_mv", "rejection_payloads", "daily"),
    ]
    (rebuild,) = plan_from_catalog("db", tables).rebuilds
    assert rebuild.source == "rejections" and "FROM db.rejections " in rebuild.select


def test_a_view_it_cannot_erase_from_is_an_error_not_a_silent_gap() -> None:
    tables = [
        merge_tree("events", "event_id", feeds=("mv",)),  # no household_id in the source
        CatalogTable("counts", "AggregatingMergeTree", "day", columns=("day",)),
        view("mv", "events", "counts"),
    ]
    with pytest.raises(ErasureError, match="does not know how"):
        plan_from_catalog("db", tables)


def test_an_aggregate_sorted_by_an_expression_is_refused() -> None:
    tables = catalog()
    tables[2] = CatalogTable("agg", "AggregatingMergeTree", "cityHash64(village_code)")
    with pytest.raises(ErasureError, match="expression"):
        plan_from_catalog("db", tables)


def test_replace_source_wants_exactly_one_from() -> None:
    select = "SELECT a FROM db.households GROUP BY a"
    assert replace_source(select, "db", "households", "x") == "SELECT a FROM db.x GROUP BY a"
    with pytest.raises(ErasureError):
        replace_source("SELECT a FROM db.households_local", "db", "households", "x")


def test_the_rebuild_reads_everyone_else_for_the_households_keys_only() -> None:
    (rebuild,) = plan_from_catalog("db", catalog()).rebuilds
    count_keys, _count_rows, delete, insert = rebuild_sqls("db", rebuild)
    household_rows = "WHERE household_id = {household:String}"
    assert household_rows in count_keys and "SELECT DISTINCT village_code" in count_keys
    assert delete.startswith("ALTER TABLE db.agg DELETE WHERE (village_code) IN (")
    assert "WHERE household_id != {household:String}" in insert  # the others' rows
    assert household_rows in insert  # restricted to the keys the household touched
    assert HOUSEHOLD not in insert  # the id is always a bound parameter


def test_the_audit_hash_is_keyed_and_hides_the_id() -> None:
    key = b"k" * 32
    digest = household_hash(key, HOUSEHOLD)
    assert digest == household_hash(key, HOUSEHOLD)
    assert digest != household_hash(b"j" * 32, HOUSEHOLD)
    assert digest != hashlib.sha256(HOUSEHOLD.encode()).hexdigest()
    assert len(digest) == 64 and HOUSEHOLD not in digest


def test_the_report_round_trips_and_knows_when_there_was_nothing() -> None:
    report = ErasureReport(
        "ab" * 32,
        False,
        (TableOutcome("agg", 3, rebuilt_keys=1), TableOutcome("households", 1)),
    )
    again = ErasureReport.from_json(json.loads(json.dumps(report.to_json())))
    assert again == report and report.rows == 1 and not report.nothing
    empty = ErasureReport("ab" * 32, False, (TableOutcome("households", 0),))
    assert empty.nothing and empty.to_json()["nothing"] is True


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"[]", "JSON object"),
        (b"not json", "JSON"),
        (b'{"household_id": "x", "request": "r"}', "by is required"),
        (b'{"household_id": " ", "request": "r", "by": "b"}', "household_id is required"),
        (b'{"household_id": "x\\n", "request": "r", "by": "b\\u0000"}', "printable"),
        (b'{"household_id": "x", "request": "r", "by": "b", "dry_run": "yes"}', "dry_run"),
        (b'{"household_id": "x", "request": "r", "by": "b", "all": true}', "unknown"),
    ],
)
def test_bad_requests_are_refused(body: bytes, problem: str) -> None:
    with pytest.raises(BadErasure, match=problem):
        parse_request(body)


def test_a_good_request() -> None:
    asked = parse_request(
        json.dumps(
            {"household_id": HOUSEHOLD, "request": "REF-1", "by": "Sri", "dry_run": True}
        ).encode()
    )
    assert (asked.household_id, asked.request, asked.by, asked.dry_run) == (
        HOUSEHOLD,
        "REF-1",
        "Sri",
        True,
    )


def test_kafka_remains_names_every_topic_that_carries_households() -> None:
    lines = kafka_remains(Settings(topic_prefix="jember", topic_retention_ms=30 * 86_400_000))
    text = "\n".join(lines)
    for topic in ("submissions", "submissions.valid", "submissions.rejected", "reviews"):
        assert f"jember.{topic}:" in text
    assert "jember.enumerator-events:" in text
    assert "jember-worker-household-dedup-changelog" in text and "compacted" in text
    assert text.count("30 days") == 5


def test_payload_ttl_statements() -> None:
    (one,) = payload_ttl_statements(180, database="regsosek")
    assert one.startswith("ALTER TABLE regsosek.rejection_payloads")
    assert one.endswith("MODIFY TTL toDateTime(written_at) + INTERVAL 180 DAY")
    (off,) = payload_ttl_statements(0, database="regsosek", cluster="c1")
    assert "rejection_payloads_local ON CLUSTER 'c1' REMOVE TTL" in off
    with pytest.raises(ValueError, match="negative"):
        payload_ttl_statements(-1, database="regsosek")
