"""Reading a whole topic back in a test: every record now, from each partition's start."""

from __future__ import annotations

import time
from typing import Any

from kafka import KafkaConsumer, TopicPartition

from streams.kafka_security import PLAINTEXT, KafkaSecurity


def read_topic(
    bootstrap: str, topic: str, timeout_s: float = 60.0, *, security: KafkaSecurity = PLAINTEXT
) -> list[Any]:
    """Every record on ``topic`` right now (a plain consumer, no group, no commits)."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, **security.kafka_python()
    )
    try:
        deadline = time.monotonic() + timeout_s
        partitions = consumer.partitions_for_topic(topic)
        while not partitions and time.monotonic() < deadline:  # metadata may lag creation
            time.sleep(0.2)
            partitions = consumer.partitions_for_topic(topic)
        assigned = [TopicPartition(topic, p) for p in sorted(partitions or [])]
        consumer.assign(assigned)
        consumer.seek_to_beginning(*assigned)
        end = consumer.end_offsets(assigned)
        records: list[Any] = []
        while any(consumer.position(tp) < end[tp] for tp in assigned):
            assert time.monotonic() < deadline, f"{topic} not read back in time"
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend(batch)
        return records
    finally:
        consumer.close()
