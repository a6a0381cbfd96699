"""``regsosek kafka start --brokers 3``: a real KRaft cluster of three on this machine.

What the census relies on: topics get three replicas and ``min.insync.replicas``
2 without being told, a broker SIGKILLed mid-run loses no acknowledged record
and stops no producer, and ``start`` brings back only the node that is down.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import ConfigResource, ConfigResourceType

from streams import local_kafka
from streams.cli import cli
from streams.sdk import ProducerOptions
from streams.settings import Settings
from streams.topics import SUBMISSIONS, desired_topics, ensure_topics, named, resolve_replication
from tests.backends import free_port_run

pytestmark = pytest.mark.integration

PREFIX = "cluster"
RECORDS = 60


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[local_kafka.BrokerSpec]:
    base = free_port_run(2 * 3, 1)  # clients on base, +2, +4; controllers on base+1, +3, +5
    spec = local_kafka.BrokerSpec(
        host="127.0.0.1",
        port=base,
        controller_port=base + 1,
        state_dir=tmp_path_factory.mktemp("cluster"),
        cache_dir=Settings().cache_dir,
        heap="384m",
        partitions=3,
        brokers=3,
    )
    local_kafka.start(spec, echo=lambda _line: None)
    try:
        yield spec
    finally:
        local_kafka.stop(spec)


def _admin(bootstrap: str) -> KafkaAdminClient:
    return KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)


def _partitions(bootstrap: str, topic: str) -> list[dict[str, Any]]:
    """The topic's partitions once every broker's metadata has them (creation propagates)."""
    deadline = time.monotonic() + 30
    while True:
        admin = _admin(bootstrap)
        try:
            (described,) = admin.describe_topics([topic])
        finally:
            admin.close()
        partitions: list[dict[str, Any]] = described["partitions"]
        if partitions or time.monotonic() > deadline:
            return partitions
        time.sleep(0.5)


def _topic_config(bootstrap: str, topic: str, name: str) -> str | None:
    """One config of a new topic, asked until the answering broker knows the topic."""
    deadline = time.monotonic() + 30
    while True:
        admin = _admin(bootstrap)
        try:
            answer = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
        finally:
            admin.close()
        entry = (answer.get("topic", {}).get(topic) or {}).get(name)
        if entry is not None or time.monotonic() > deadline:
            return None if entry is None else str(entry["value"])
        time.sleep(0.5)


def _in_sync(bootstrap: str, topic: str) -> list[int]:
    """Size of each partition's in-sync replica set."""
    return sorted(len(partition["isr_nodes"]) for partition in _partitions(bootstrap, topic))


def _send(bootstrap: str, topic: str, keys: range) -> None:
    """As the SDK sends: acks=all, idempotent; every record acknowledged or this raises."""
    producer = KafkaProducer(**ProducerOptions().producer_config(bootstrap))
    try:
        futures = [producer.send(topic, key=f"{i}".encode(), value=b"x") for i in keys]
        for future in futures:
            future.get(timeout=60)
    finally:
        producer.close()


def test_three_nodes_three_replicas_and_a_broker_killed_loses_nothing(
    cluster: local_kafka.BrokerSpec,
) -> None:
    bootstrap = cluster.bootstrap
    assert bootstrap.count(",") == 2
    settings = resolve_replication(
        Settings(kafka_bootstrap=bootstrap, topic_prefix=PREFIX, topic_partitions=3)
    )
    assert settings.topic_replication == 3, "three brokers: three replicas without being told"
    ensure_topics(bootstrap, desired_topics(settings))
    topic = named(SUBMISSIONS, PREFIX)
    assert {len(p["replica_nodes"]) for p in _partitions(bootstrap, topic)} == {3}
    assert _topic_config(bootstrap, topic, "min.insync.replicas") == "2"

    _send(bootstrap, topic, range(RECORDS))
    second = local_kafka.nodes(cluster)[1]
    killed = local_kafka.read_pid(second.layout)
    assert killed is not None
    others = {
        node.node_id: local_kafka.read_pid(node.layout) for node in local_kafka.nodes(cluster)
    }
    os.kill(killed, signal.SIGKILL)
    # acks=all with min.insync 2: the two survivors take every write
    _send(bootstrap, topic, range(RECORDS, 2 * RECORDS))

    local_kafka.start(cluster, echo=lambda _line: None)
    after = {node.node_id: local_kafka.read_pid(node.layout) for node in local_kafka.nodes(cluster)}
    assert after[1] == others[1] and after[3] == others[3], "only the node that was down"
    assert after[2] not in (None, killed)
    deadline = time.monotonic() + 90
    while _in_sync(bootstrap, topic) != [3, 3, 3]:
        assert time.monotonic() < deadline, f"ISR still {_in_sync(bootstrap, topic)}"
        time.sleep(1)

    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=10_000,
    )
    try:
        keys = [message.key for message in consumer]
    finally:
        consumer.close()
    assert sorted(keys) == sorted(f"{i}".encode() for i in range(2 * RECORDS)), (
        "every acknowledged record once"
    )


def test_status_and_stop_find_every_node_without_being_told(
    cluster: local_kafka.BrokerSpec, tmp_path: Path
) -> None:
    env = {
        "REGSOSEK_STATE_DIR": str(cluster.state_dir),
        "REGSOSEK_KAFKA_BOOTSTRAP": cluster.bootstrap,
        "REGSOSEK_KAFKA_CONTROLLER_PORT": str(cluster.controller_port),
    }
    result = CliRunner().invoke(cli, ["kafka", "status"], env=env)
    assert result.exit_code == 0, result.output
    for node in local_kafka.nodes(cluster):
        assert f"node {node.node_id} at {node.address}: pid" in result.output
        assert "not running" not in result.output
    stopped = CliRunner().invoke(cli, ["kafka", "stop"], env=env)
    assert stopped.exit_code == 0, stopped.output
    assert all(local_kafka.read_pid(node.layout) is None for node in local_kafka.nodes(cluster))
    assert stopped.output.count(",") == 2, stopped.output  # three pids
