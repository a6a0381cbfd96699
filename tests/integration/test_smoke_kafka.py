"""Smoke: records go through the real broker with both clients the platform uses.

kafka-python is the SDK's client; aiokafka is what Faust consumes with. If
either cannot talk to the broker version we run, everything later fails.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer
from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic

from streams.kafka_admin import metadata_answered
from tests.backends import KafkaBackend


def _create_topic(bootstrap: str, topic: str, partitions: int = 3) -> None:
    from kafka import KafkaAdminClient  # noqa: PLC0415

    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])
    finally:
        admin.close()


def _produce(bootstrap: str, topic: str, count: int) -> list[tuple[int, int]]:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    futures = [
        producer.send(topic, key=f"hh-{i % 7}".encode(), value=f"payload-{i}".encode())
        for i in range(count)
    ]
    producer.flush()
    acks = [(f.get(timeout=30).partition, f.get(timeout=30).offset) for f in futures]
    producer.close()
    return acks


def test_broker_answers_metadata(kafka: KafkaBackend) -> None:
    assert metadata_answered(kafka.bootstrap)
    assert kafka.version  # printed in the run's "backends used" section


def test_kafka_python_round_trip(kafka: KafkaBackend, unique_topic: Callable[[str], str]) -> None:
    topic = unique_topic("smoke")
    _create_topic(kafka.bootstrap, topic)
    acks = _produce(kafka.bootstrap, topic, 50)
    assert len(set(acks)) == 50, "every record gets its own (partition, offset)"

    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=kafka.bootstrap,
        auto_offset_reset="earliest",
        consumer_timeout_ms=10_000,
        group_id=f"{topic}-reader",
    )
    values = sorted(record.value.decode() for record in consumer)
    consumer.close()
    assert values == sorted(f"payload-{i}" for i in range(50))


def test_same_key_same_partition(kafka: KafkaBackend, unique_topic: Callable[[str], str]) -> None:
    """Keying by household id keeps a household's revisions in order on one partition."""
    topic = unique_topic("keyed")
    _create_topic(kafka.bootstrap, topic, partitions=3)
    acks = _produce(kafka.bootstrap, topic, 21)
    by_key: dict[int, set[int]] = {}
    for i, (partition, _offset) in enumerate(acks):
        by_key.setdefault(i % 7, set()).add(partition)
    assert all(len(parts) == 1 for parts in by_key.values())


def test_aiokafka_reads_what_kafka_python_wrote(
    kafka: KafkaBackend, unique_topic: Callable[[str], str]
) -> None:
    topic = unique_topic("aio")
    _create_topic(kafka.bootstrap, topic)
    _produce(kafka.bootstrap, topic, 30)

    async def consume() -> list[bytes]:
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=kafka.bootstrap,
            auto_offset_reset="earliest",
            group_id=f"{topic}-aio",
        )
        await consumer.start()
        seen: list[bytes] = []
        try:
            while len(seen) < 30:
                batch = await asyncio.wait_for(consumer.getmany(timeout_ms=1000), timeout=30)
                seen.extend(rec.value for recs in batch.values() for rec in recs)
        finally:
            await consumer.stop()
        return seen

    values = asyncio.run(consume())
    assert sorted(v.decode() for v in values) == sorted(f"payload-{i}" for i in range(30))
