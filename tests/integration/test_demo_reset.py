"""The demo's reset against the real broker and engine: its data goes, its neighbours stay."""

from __future__ import annotations

from pathlib import Path
from uuid import uuid4

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.structs import OffsetAndMetadata

from simulator import demo_reset
from sinks.clickhouse import client_from_dsn
from streams.kafka_security import PLAINTEXT
from streams.settings import Settings
from streams.topics import TopicSpec, desired_topics, ensure_topics, list_topic_names
from tests.backends import ClickHouseBackend, KafkaBackend

pytestmark = pytest.mark.integration


def test_reset_clears_a_previous_run_and_nothing_else(
    kafka: KafkaBackend, clickhouse: ClickHouseBackend, tmp_path: Path
) -> None:
    tag = uuid4().hex[:10]
    prefix, neighbour = f"reset{tag}", f"reset{tag}.staging"
    database = f"reset_{tag}"
    settings = Settings(
        state_dir=tmp_path,
        topic_replication=1,
        topic_prefix=prefix,
        topic_partitions=1,
        clickhouse_dsn=clickhouse.dsn,
        clickhouse_database=database,
    )
    changelog = f"{prefix}-worker-household-dedup-changelog"
    kept = [
        spec.name for spec in desired_topics(Settings(topic_prefix=neighbour, topic_replication=1))
    ]
    platform = desired_topics(settings)
    specs = [
        *platform,
        TopicSpec(changelog, 1, 1),
        *(TopicSpec(name, 1, 1) for name in kept),
    ]
    ensure_topics(kafka.bootstrap, specs)
    # the worker's group with a committed offset, no member left (the worker stopped)
    consumer = KafkaConsumer(bootstrap_servers=kafka.bootstrap, group_id=f"{prefix}-worker")
    submissions = TopicPartition(f"{prefix}.submissions", 0)
    consumer.assign([submissions])
    consumer.commit({submissions: OffsetAndMetadata(0, "", -1)})
    consumer.close()
    client = client_from_dsn(clickhouse.dsn)
    client.command(f"CREATE DATABASE {database}")
    client.command(f"CREATE TABLE {database}.t (a Int32) ENGINE = MergeTree ORDER BY a")
    client.close()
    tables = tmp_path / "faust" / "v1" / "tables"
    tables.mkdir(parents=True)
    run_dir = tmp_path / "demo"
    run_dir.mkdir()
    (run_dir / "ground-truth.json").write_text("{}")
    (tmp_path / "frame").mkdir()

    reset = demo_reset.plan(settings, run_dir)
    cleared = demo_reset.clear(settings, reset, kafka.bootstrap, PLAINTEXT)

    assert sorted(cleared.topics) == sorted([spec.name for spec in platform] + [changelog])
    assert (cleared.group, cleared.database) == (f"{prefix}-worker", database)
    assert cleared.folders == (tmp_path.resolve() / "faust", run_dir)
    left = set(list_topic_names(kafka.bootstrap))
    assert not left & set(cleared.topics)
    assert set(kept) <= left
    admin = KafkaAdminClient(bootstrap_servers=kafka.bootstrap)
    try:
        groups = {entry.get("group_id") for entry in admin.list_groups()}
    finally:
        admin.close()
    assert f"{prefix}-worker" not in groups
    client = client_from_dsn(clickhouse.dsn)
    try:
        assert client.command(f"EXISTS DATABASE {database}") == 0
    finally:
        client.close()
    assert not (tmp_path / "faust").exists() and not run_dir.exists()
    assert (tmp_path / "frame").is_dir()

    # the topics come back fresh; a second reset finds only them
    ensure_topics(kafka.bootstrap, desired_topics(settings))
    again = demo_reset.clear(settings, reset, kafka.bootstrap, PLAINTEXT)
    assert sorted(again.topics) == sorted(spec.name for spec in desired_topics(settings))
    assert (again.group, again.database, again.folders) == (None, None, ())
