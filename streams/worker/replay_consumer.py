"""The replay's consumer side: positions, the dedup store, and what it must not publish.

Split from :mod:`streams.worker.replay` (the run and its phases) so each stays
readable. :class:`Cursor` gives the live stage's code (:class:`ProcessingStage`)
aiokafka records in the shape of Faust events, one batch written while the
next one computes, and offsets committed only after a batch's rows are in:
the live agent's order of effects, for a consumer that is not Faust's.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from aiokafka import AIOKafkaConsumer, TopicPartition

from streams.worker.processing import Batch, ProcessingStage
from streams.worker.publishing import BatchPublisher

#: How long one fetch waits for records before the loop looks at the phase again.
FETCH_TIMEOUT_MS = 1000


class DedupStore:
    """The replay's dedup state: what :class:`ProcessingStage` asks of a Faust table."""

    def __init__(self) -> None:
        self.data: dict[bytes, Any] = {}

    def get(self, key: bytes, default: Any = None) -> Any:
        return self.data.get(key, default)


class ChangelogOnly(BatchPublisher):
    """Publishes the replay's dedup changelog and nothing else: no second .valid/.rejected."""

    def __init__(self, producer: Callable[[], Any], changelog: str) -> None:
        super().__init__(producer)
        self._changelog = changelog

    async def publish(self, topic: str, records: Any) -> None:
        if topic == self._changelog:
            await super().publish(topic, records)


class _Message(NamedTuple):
    """A consumer record as :func:`streams.worker.processing.to_raw` reads a Faust message."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    timestamp: float  # seconds, as Faust gives it


class _Event(NamedTuple):
    message: _Message


def as_event(record: Any) -> _Event:
    """An aiokafka ConsumerRecord in the shape of a Faust event (timestamp ms -> s)."""
    return _Event(
        _Message(
            record.topic,
            record.partition,
            record.offset,
            record.key,
            record.value or b"",
            (record.timestamp or 0) / 1000.0,
        )
    )


def caught_up(replay: dict[int, int], live: dict[int, int], partitions: list[int]) -> bool:
    """The replay's committed offsets reach the live group's on every partition."""
    return all(replay.get(p, 0) >= live.get(p, 0) for p in partitions)


@dataclass
class Progress:
    """What ``GET /replay/status`` says: messages done of total, rate, phase."""

    run_id: str = ""
    phase: str = "idle"
    rules_version: str = ""
    started_at: str = ""
    done: int = 0
    total: int = 0
    rate: float = 0.0
    processed: int = 0
    swapped_at: str = ""
    error: str = ""
    resumed: bool = False
    old_tables: list[str] = field(default_factory=list)

    def json(self) -> dict[str, Any]:
        eta = (self.total - self.done) / self.rate if self.rate > 0 else None
        body = dict(self.__dict__)
        body["eta_seconds"] = round(eta, 1) if eta is not None else None
        return body


class Cursor:
    """The replay consumer's positions: one batch written while the next one computes.

    ``committed`` moves only after a batch's rows are in and its offsets are
    committed; ``fetched`` runs ahead by the batch in flight.
    """

    def __init__(
        self, consumer: AIOKafkaConsumer, stage: ProcessingStage, tps: list[TopicPartition]
    ) -> None:
        self.consumer = consumer
        self.stage = stage
        self.tps = tps
        self.partitions = [tp.partition for tp in tps]
        self.first: dict[int, int] = {}
        self.committed: dict[int, int] = {}
        self.fetched: dict[int, int] = {}
        self._in_flight: asyncio.Future[None] | None = None
        self._started = time.monotonic()
        self._started_done = 0

    async def open(self) -> None:
        """Assigned every partition; positions from the group's commits (else the earliest)."""
        self.consumer.assign(self.tps)
        beginning = await self.consumer.beginning_offsets(self.tps)
        self.first = {tp.partition: offset for tp, offset in beginning.items()}
        for tp in self.tps:
            offset = await self.consumer.committed(tp)
            self.committed[tp.partition] = (
                offset if offset is not None else self.first[tp.partition]
            )
        self.fetched = dict(self.committed)
        self._started_done = self.done

    @property
    def done(self) -> int:
        return sum(self.committed[p] - self.first[p] for p in self.partitions)

    async def step(self, max_records: int) -> bool:
        """Fetch and compute a batch, then hand it to the writer; False when nothing came."""
        fetched = await self._fetch(max_records)
        records = [r for batch in fetched.values() for r in batch]
        if not records:
            await self.drained()
            return False
        batch = await self.stage.compute([as_event(r) for r in records])
        offsets = {tp: rs[-1].offset + 1 for tp, rs in fetched.items() if rs}
        self.fetched |= {tp.partition: offset for tp, offset in offsets.items()}
        await self.drained()
        self._in_flight = asyncio.ensure_future(self._write(batch, offsets))
        return True

    async def _fetch(self, max_records: int) -> dict[TopicPartition, list[Any]]:
        """Up to ``max_records``, gathered over several fetches for at most a second.

        One ``getmany`` returns what one fetch brought (a partition's worth, often
        a few hundred records); batches that small cost an insert per table each.
        """
        gathered: dict[TopicPartition, list[Any]] = {}
        count, deadline = 0, time.monotonic() + FETCH_TIMEOUT_MS / 1000
        while count < max_records:
            wait_ms = max(int((deadline - time.monotonic()) * 1000), 0)
            fetched = await self.consumer.getmany(
                timeout_ms=wait_ms, max_records=max_records - count
            )
            for tp, records in fetched.items():
                gathered.setdefault(tp, []).extend(records)
                count += len(records)
            if not fetched or wait_ms == 0:
                break
        return gathered

    async def _write(self, batch: Batch, offsets: dict[TopicPartition, int]) -> None:
        await self.stage.finish(batch)
        await self.consumer.commit(offsets)
        for tp, offset in offsets.items():
            self.committed[tp.partition] = offset

    async def drained(self) -> None:
        """The batch in flight written and committed."""
        if self._in_flight is not None:
            in_flight, self._in_flight = self._in_flight, None
            await in_flight

    async def ends(self) -> dict[int, int]:
        return {tp.partition: o for tp, o in (await self.consumer.end_offsets(self.tps)).items()}

    def fetched_past(self, ends: dict[int, int]) -> bool:
        return all(self.fetched[p] >= ends.get(p, 0) for p in self.partitions)

    async def report(self, progress: Progress) -> None:
        """Done of total and the rate since this process took the run up."""
        ends = await self.ends()
        elapsed = max(time.monotonic() - self._started, 1e-3)
        progress.done = self.done
        progress.total = sum(ends[p] - self.first[p] for p in self.partitions)
        progress.rate = round((self.done - self._started_done) / elapsed, 1)

    def cancel(self) -> None:
        if self._in_flight is not None:
            self._in_flight.cancel()


async def topic_partitions(producer: Any, topic: str) -> list[int]:
    """The topic's partitions, asked of the broker through the worker's producer.

    Not the consumer's: a fresh aiokafka consumer knows no topic until it is
    assigned one (``partitions_for_topic`` says ``None``), and ``getmany`` with
    nothing assigned waits for an assignment forever.
    """
    return sorted(await producer.partitions_for(topic))


def no_encoding(record: dict[str, Any]) -> bytes:
    """A replay publishes no Rejection record; its quarantine rows still go to the tables."""
    del record
    return b""
