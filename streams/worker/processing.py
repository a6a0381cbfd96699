"""The worker's one pass: ``regsosek.submissions`` → ClickHouse and the output topics.

A batch is computed (:mod:`streams.worker.compute`, in the compute process),
inserted (:mod:`streams.worker.inserting`, in the ClickHouse thread), its
ValidatedSubmission and Rejection records published for downstream consumers,
its dedup states stored, and only then acknowledged. Two batches overlap: the
next one is computed on the other core while this one is written.

The order of effects is what makes a crash harmless. Offsets are acknowledged
last, so a batch cut short anywhere is read again; the insert token names the
submissions' offsets, so the rows of a batch read again are dropped by the
engine; the dedup state is stored only after the batch's effects, so a replay
is never mistaken for a duplicate of itself. States computed but not yet
stored wait in :attr:`ProcessingStage.pending`, where the next batch's
computation looks first.

Failures are sorted. A record's own failure is a rejection (the compute and
insert modules). A transient one (ClickHouse or the broker away) holds the
batch: retried with backoff while ``/readyz`` says not ready, never
acknowledged, never a crash loop. Only a bug leaves this module as an
exception, and the agent then ends the process unacknowledged.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import zlib
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from monitoring.hooks import SINK_CLICKHOUSE, SINK_PUBLISH, WorkerObserver
from processors.pipeline import RawSubmission
from sinks.writer import SinkUnavailable, dedup_token
from streams.worker.compute import Computed
from streams.worker.holding import hold, hold_async
from streams.worker.inserting import BatchInserter, Inserted
from streams.worker.nik_index import Durable
from streams.worker.nik_lookup import NikLookup
from streams.worker.pool import ComputePool
from streams.worker.publishing import BatchPublisher, Record, RecordTooLargeForBatch
from streams.worker.redrive import Marks, RedriveSetup, audit_block, mark

log = logging.getLogger(__name__)


def to_raw(event: Any) -> RawSubmission:
    """A Faust event as the pipeline's input record."""
    message = event.message
    value = message.value
    return RawSubmission(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        key=message.key,
        value=value if isinstance(value, bytes) else bytes(value or b""),
        timestamp=datetime.fromtimestamp(message.timestamp or 0, tz=UTC),
    )


def batch_token(positions: Iterable[tuple[str, int, int]]) -> str:
    """Deterministic for the same batch: topic and every partition's offset range.

    A range names its offsets only when the batch holds all of them. A batch
    with a hole (a consumer bug, a redelivery) gets a digest of its offsets
    added, so ClickHouse cannot mistake it for the complete batch of the same
    range and drop the complete one as its duplicate.
    """
    offsets: dict[tuple[str, int], set[int]] = {}
    for topic, partition, offset in positions:
        offsets.setdefault((topic, partition), set()).add(offset)
    parts = []
    for (topic, partition), seen in sorted(offsets.items()):
        low, high = min(seen), max(seen)
        token = dedup_token(topic, partition, low, high)
        if len(seen) != high - low + 1:
            digest = zlib.crc32(",".join(map(str, sorted(seen))).encode())
            token = f"{token}~{len(seen)}:{digest:08x}"
        parts.append(token)
    return "|".join(parts)


@dataclass
class Batch:
    """A computed batch on its way to ClickHouse and the topics."""

    messages: list[RawSubmission]
    computed: Computed
    started: float
    #: The batch's verified re-drives by (partition, offset) (streams/worker/redrive.py).
    redrives: Marks = field(default_factory=dict)


class ProcessingStage:
    """Computes, writes and publishes batches; one instance per worker."""

    def __init__(
        self,
        *,
        pool: ComputePool,
        inserter: BatchInserter,
        executor: ThreadPoolExecutor,
        table: Any,
        publisher: BatchPublisher,
        valid_topic: str,
        rejected_topic: str,
        changelog_topic: str,
        observer: WorkerObserver,
        should_stop: Callable[[], bool] = lambda: False,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        nik_lookup: NikLookup | None = None,
        redrive: RedriveSetup | None = None,
    ) -> None:
        self._pool = pool
        self._redrive = redrive
        self._nik_lookup = nik_lookup
        self._inserter = inserter
        self._executor = executor
        self._table = table
        self._publisher = publisher
        self._valid_topic = valid_topic
        self._rejected_topic = rejected_topic
        self._changelog_topic = changelog_topic
        self._observer = observer
        self._should_stop = should_stop
        self._clock = clock
        #: Dedup states of batches computed but not yet stored (household -> state).
        self.pending: dict[str, list[Any]] = {}
        #: By partition, the offset after the last submission computed since the start:
        #: a review waits for it (streams.worker.review_wait).
        self.computed_through: dict[int, int] = {}

    def _state(self, household: str) -> list[Any] | None:
        if household in self.pending:
            return self.pending[household]
        value = self._table.get(household.encode())
        return list(value) if value else None

    async def compute(self, events: Sequence[Any]) -> Batch:
        """The pure half, in the compute process; its states are pending from here on."""
        started = time.monotonic()
        messages = [to_raw(event) for event in events]
        marks: Marks = {}
        if self._redrive is not None:
            messages, marks = mark(events, messages, self._redrive.key)
        keys = {m.key.decode("utf-8", "replace") for m in messages if m.key}
        states = {key: self._state(key) for key in keys}
        now = self._clock()
        known = await self._known_niks(messages)
        computed = await self._pool.compute(messages, states, now, known)
        if computed.missing:  # keys that are not household ids: look those up too
            states |= {household: self._state(household) for household in computed.missing}
            computed = await self._pool.compute(messages, states, now, known)
        self.pending.update(computed.states)
        for message in messages:
            if message.offset >= self.computed_through.get(message.partition, 0):
                self.computed_through[message.partition] = message.offset + 1
        return Batch(messages, computed, started, marks)

    async def _known_niks(self, messages: Sequence[RawSubmission]) -> Durable | None:
        """ClickHouse's households of the batch's NIKs (time-boxed; None: memory only)."""
        if self._nik_lookup is None:
            return None
        keys = await self._pool.nik_keys(messages)
        return await self._nik_lookup.known(keys)

    async def finish(self, batch: Batch) -> None:
        """Insert, publish, store the states; the caller acknowledges afterwards."""
        loop = asyncio.get_running_loop()
        token = batch_token((m.topic, m.partition, m.offset) for m in batch.messages)
        insert_started = loop.time()
        inserted = await loop.run_in_executor(self._executor, self._insert_until_done, batch, token)
        self._report_insert(inserted, loop.time() - insert_started)
        if batch.redrives:
            await loop.run_in_executor(
                self._executor, self._judge_until_done, batch, inserted, token
            )
        refused = {h.household_id for h, _ in inserted.refused}
        valid: list[Record] = [
            (h.household_id.encode(), h.valid_value)
            for h in batch.computed.households
            if h.household_id not in refused
        ]
        changelog: list[Record] = [
            (household.encode(), json.dumps(state).encode())
            for household, state in batch.computed.states.items()
        ]
        await self._publish(
            {
                self._valid_topic: valid,
                self._rejected_topic: [*batch.computed.rejected, *inserted.quarantined],
                self._changelog_topic: changelog,
            }
        )
        self._store_states(batch.computed.states)
        self._report_processed(batch, inserted, time.monotonic() - batch.started)

    def _insert_until_done(self, batch: Batch, token: str) -> Inserted:
        """Retry the same batch under the same token until ClickHouse takes it."""
        by_offset = {(m.partition, m.offset): (m.topic, m.value) for m in batch.messages}
        return hold(
            lambda: self._inserter.insert(
                batch.computed, token, datetime.now(UTC), by_offset.__getitem__
            ),
            retry_on=lambda exc: isinstance(exc, SinkUnavailable),
            sink=SINK_CLICKHOUSE,
            observer=self._observer,
            should_stop=self._should_stop,
        )

    def _judge_until_done(self, batch: Batch, inserted: Inserted, token: str) -> None:
        """The re-drives' outcomes into ``reprocess_audit`` under the batch's token (redrive.py)."""
        block = audit_block(
            batch.redrives, batch.messages, batch.computed, inserted.refused, datetime.now(UTC)
        )
        if block is None or self._redrive is None:
            return
        write = self._redrive.write
        hold(
            lambda: write([block], f"{token}/redrive"),
            retry_on=lambda exc: isinstance(exc, SinkUnavailable),
            sink=SINK_CLICKHOUSE,
            observer=self._observer,
            should_stop=self._should_stop,
        )

    async def _publish(self, records: dict[str, list[Record]]) -> None:
        """Every topic's records acknowledged by the broker; held and retried while it is away.

        The output topics and the dedup table's changelog go together. A retry
        may publish a record twice: the output topics are at-least-once and
        their consumers deduplicate by submission id, as the tables do; the
        changelog keeps the last value of a key.
        """
        await hold_async(
            lambda: asyncio.gather(
                *(self._publisher.publish(topic, items) for topic, items in records.items())
            ),
            # a record too large is a bug (the compute stage cuts every record to fit)
            retry_on=lambda exc: (
                isinstance(exc, Exception) and not isinstance(exc, RecordTooLargeForBatch)
            ),
            sink=SINK_PUBLISH,
            observer=self._observer,
            should_stop=self._should_stop,
        )

    def _store_states(self, states: dict[str, list[Any]]) -> None:
        """The table's in-memory view; its changelog records went out with the outputs.

        Written to the store directly: a Faust ``table[key] = value`` sends one
        changelog message per household through Faust's per-message producer
        path; batched with the outputs they cost a record-batch append each.
        """
        store = self._table.data
        for household, state in states.items():
            store[household.encode()] = state
            if self.pending.get(household) is state:  # a later batch may have moved it on
                del self.pending[household]

    def _report_insert(self, inserted: Inserted, seconds: float) -> None:
        for table, rows in inserted.rows.items():
            self._observer.on_sink_batch(table, rows, seconds, 1)

    def _report_processed(self, batch: Batch, inserted: Inserted, seconds: float) -> None:
        refused = {h.household_id for h, _ in inserted.refused}
        self._observer.on_processed(len(batch.messages), batch.computed.outcome(refused), seconds)
