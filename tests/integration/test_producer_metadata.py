"""A batch queued for a topic is delivered when another topic joins the producer's metadata.

The worker's first commit stayed in flight on a fresh broker: Faust flushes its
producer before committing, and two batches for the valid topic never left it,
their partitions without a leader in the producer's metadata. The chain, step
by step below on the real broker with aiokafka's producer as Faust drives it:
Faust refreshes the metadata of *all* topics after declaring one, so the valid
topic is known but not tracked; a send to a topic created after that refresh
(the dedup changelog) makes the tracked set that topic alone; the next refresh
drops the valid topic, and its queued batch waits for the producer's request
timeout. ``streams/worker/faust_fixes.py`` has the producer track every topic
it sends to. The same steps without that fix are run first, to show the test
can fail.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from streams.topics import TopicSpec, ensure_topics
from streams.worker import faust_fixes
from tests.backends import KafkaBackend

pytestmark = pytest.mark.integration

TRACKING = faust_fixes._TOPIC_ARGUMENT


@pytest.fixture
def unfixed_producer(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The producer methods as aiokafka ships them (no ``faust_fixes``), for this test only."""
    faust_fixes.apply()
    for name in TRACKING:
        monkeypatch.setattr(AIOKafkaProducer, name, getattr(AIOKafkaProducer, name).__wrapped__)
    yield


async def _queue_then_add_a_topic(bootstrap: str, name: Callable[[str], str]) -> dict[str, object]:
    """Faust's order of events; what became of the batch queued for the first topic.

    The producer's request timeout (the life of a queued batch) is 8 s here, not
    Faust's 20 minutes, so a batch that never learns its leader fails in time.
    """
    valid, changelog = name("valid"), name("changelog")
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks=-1, linger_ms=200, request_timeout_ms=8_000
    )
    await producer.start()
    try:
        ensure_topics(bootstrap, [TopicSpec(valid, 3, 1)])
        await producer.client.force_metadata_update()  # as Faust after declaring a topic
        ensure_topics(bootstrap, [TopicSpec(changelog, 3, 1)])  # after that refresh
        assert 0 in await producer.partitions_for(valid)
        batch = producer.create_batch()
        batch.append(key=b"household", value=b"validated", timestamp=None)
        delivered = await producer.send_batch(batch, valid, partition=0)
        await producer.send(changelog, b"owner", key=b"household", partition=0)
        try:
            offset = (await asyncio.wait_for(delivered, timeout=30)).offset
        except KafkaError as exc:
            return {"delivered": False, "error": type(exc).__name__}
        return {"delivered": True, "offset": offset}
    finally:
        await producer.stop()


def test_without_the_fix_the_batch_loses_its_leader(
    kafka: KafkaBackend, unique_topic: Callable[[str], str], unfixed_producer: None
) -> None:
    outcome = asyncio.run(_queue_then_add_a_topic(kafka.bootstrap, unique_topic))
    # expired in the accumulator, never sent: its partition had no leader the whole time
    assert outcome == {"delivered": False, "error": "NotLeaderForPartitionError"}


def test_with_the_fix_the_batch_is_delivered(
    kafka: KafkaBackend, unique_topic: Callable[[str], str]
) -> None:
    faust_fixes.apply()
    outcome = asyncio.run(_queue_then_add_a_topic(kafka.bootstrap, unique_topic))
    assert outcome == {"delivered": True, "offset": 0}
