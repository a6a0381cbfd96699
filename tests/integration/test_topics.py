"""``regsosek topics`` and the topic I/O against the real broker."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from click.testing import CliRunner
from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType

from schemas.errors import BrokerError
from streams.cli import cli
from streams.settings import Settings
from streams.topics import (
    ALL_TOPICS,
    TopicSpec,
    TopicState,
    describe_topics,
    desired_topics,
    ensure_topics,
)
from tests.backends import KafkaBackend, free_port

pytestmark = pytest.mark.integration

LINE = re.compile(
    r"^(?P<name>regsosek\.\S+): (?P<state>[a-z ,]+) \((?P<partitions>\d+) partitions\)$"
)


def _env(kafka: KafkaBackend, partitions: int = 3) -> dict[str, str]:
    return {
        "REGSOSEK_KAFKA_BOOTSTRAP": kafka.bootstrap,
        "REGSOSEK_TOPIC_PARTITIONS": str(partitions),
    }


def _states(output: str) -> dict[str, tuple[str, int]]:
    found = {}
    for line in output.splitlines():
        match = LINE.match(line)
        if match:
            found[match["name"]] = (match["state"], int(match["partitions"]))
    return found


def test_create_twice_second_run_reports_exists(kafka: KafkaBackend) -> None:
    runner = CliRunner()
    first = runner.invoke(cli, ["topics", "create"], env=_env(kafka))
    assert first.exit_code == 0, first.output
    created = _states(first.output)
    assert set(created) == set(ALL_TOPICS)
    assert {state for state, _ in created.values()} <= {"created", "exists"}

    second = runner.invoke(cli, ["topics", "create"], env=_env(kafka))
    assert second.exit_code == 0, second.output
    again = _states(second.output)
    assert {state for state, _ in again.values()} == {"exists"}

    on_broker = {info.name: info.partitions for info in describe_topics(kafka.bootstrap)}
    for name, (state, partitions) in created.items():
        assert on_broker[name] == partitions == again[name][1]
        if state == "created":
            assert partitions == 3, "the count from REGSOSEK_TOPIC_PARTITIONS"

    listed = runner.invoke(cli, ["topics", "list"], env=_env(kafka))
    assert listed.exit_code == 0, listed.output
    assert all(name in listed.output for name in ALL_TOPICS)
    assert "missing" not in listed.output


def test_ensure_creates_with_configs_and_reports_too_few_partitions(
    kafka: KafkaBackend, unique_topic: Callable[[str], str]
) -> None:
    name = unique_topic("topics")
    configs = {
        "retention.ms": "3600000",
        "min.insync.replicas": "1",
        "compression.type": "producer",
    }
    (first,) = ensure_topics(kafka.bootstrap, [TopicSpec(name, 2, 1, configs)])
    assert (first.state, first.partitions) == (TopicState.CREATED, 2)

    (again,) = ensure_topics(kafka.bootstrap, [TopicSpec(name, 4, 1, configs)])
    assert again.state is TopicState.TOO_FEW_PARTITIONS
    assert (again.partitions, again.desired_partitions) == (2, 4)
    (info,) = describe_topics(kafka.bootstrap, [name])
    assert (info.partitions, info.replication) == (2, 1), "an existing topic is never altered"

    admin = KafkaAdminClient(bootstrap_servers=kafka.bootstrap)
    try:
        answer = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name)])
    finally:
        admin.close()
    stored = {key: entry["value"] for key, entry in answer["topic"][name].items()}
    assert stored["retention.ms"] == "3600000"
    assert stored["compression.type"] == "producer"


def test_desired_retention_reaches_the_broker(
    kafka: KafkaBackend, unique_topic: Callable[[str], str]
) -> None:
    settings = Settings(topic_partitions=2, topic_retention_ms=7_200_000, topic_replication=1)
    spec = desired_topics(settings)[0]
    name = unique_topic("retention")
    (report,) = ensure_topics(
        kafka.bootstrap, [TopicSpec(name, spec.partitions, spec.replication, spec.configs)]
    )
    assert report.state is TopicState.CREATED
    admin = KafkaAdminClient(bootstrap_servers=kafka.bootstrap)
    try:
        answer = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name)])
    finally:
        admin.close()
    assert answer["topic"][name]["retention.ms"]["value"] == "7200000"


def test_unreachable_broker_is_one_line_and_exit_6() -> None:
    env = {"REGSOSEK_KAFKA_BOOTSTRAP": f"127.0.0.1:{free_port()}"}
    result = CliRunner().invoke(cli, ["topics", "create", "--timeout", "1"], env=env)
    assert result.exit_code == BrokerError.exit_code == 6
    (line,) = result.output.strip().splitlines()
    assert line.startswith("error: Kafka at 127.0.0.1:")
    assert "unreachable" in line
