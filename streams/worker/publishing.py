"""Publish a batch's output records as whole Kafka record batches, one per partition.

Why not ``topic.send`` per record: each Faust send builds futures, pending
messages and sensor calls around aiokafka's own per-record accumulator, for
two or three records per household (its output record and its changelog
entry); the worker's profile showed that path among its busiest. aiokafka's
``create_batch``/``send_batch`` append records to a record batch directly and
give one future per batch. The partition of a key
is aiokafka's default partitioner (murmur2, as Kafka's Java clients), so a
household's records land where any other producer would put them.

The producer is Faust's own (acks, linger and size limits as the app sets
them), reached through its driver: the worker pins faust-streaming and checks
the release at start (:mod:`streams.worker.faust_fixes`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

from aiokafka.partitioner import DefaultPartitioner

Record = tuple[bytes | None, bytes]


class RecordTooLargeForBatch(ValueError):
    """A record that does not fit an empty record batch: the size contract was broken."""


class BatchPublisher:
    """Sends records to a topic in per-partition record batches and waits for the acks."""

    def __init__(self, producer: Callable[[], Any]) -> None:
        self._producer = producer
        self._partitioner = DefaultPartitioner()

    async def publish(self, topic: str, records: Sequence[Record]) -> None:
        """Every record acknowledged by the broker, or the first error raised."""
        if not records:
            return
        producer = self._producer()
        partitions = sorted(await producer.partitions_for(topic))
        by_partition: dict[int, list[Record]] = {}
        for key, value in records:
            partition = self._partitioner(key, partitions, partitions)
            by_partition.setdefault(partition, []).append((key, value))
        sent = []
        for partition, items in sorted(by_partition.items()):
            sent += await self._send(producer, topic, partition, items)
        await asyncio.gather(*sent)

    async def _send(
        self, producer: Any, topic: str, partition: int, items: list[Record]
    ) -> list[Any]:
        futures = []
        batch = producer.create_batch()
        for key, value in items:
            if batch.append(key=key, value=value, timestamp=None) is not None:
                continue
            futures.append(await producer.send_batch(batch, topic, partition=partition))
            batch = producer.create_batch()
            if batch.append(key=key, value=value, timestamp=None) is None:
                raise RecordTooLargeForBatch(f"a {len(value)}-byte record does not fit a batch")
        if batch.record_count():
            futures.append(await producer.send_batch(batch, topic, partition=partition))
        return futures
